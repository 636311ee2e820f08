"""film.training.backbones: VGG / AlexNet forward passes against independent numpy references."""
import numpy as np
import pytest
import tensorflow as tf

from film.training import backbones
from tests.numpy_reference import np_conv_relu, np_max_pool


# ---- independent numpy reference ops (NHWC, float64) -------------------------------------------
def np_avg_pool_same(x):
  """TF 'SAME' 2x2/2 average pool: odd sizes pad one row/col at the end, excluded from the mean."""
  b, h, w, c = x.shape
  xp = np.full((b, h + h % 2, w + w % 2, c), np.nan)
  xp[:, :h, :w] = x
  return np.nanmean(xp.reshape(b, xp.shape[1] // 2, 2, xp.shape[2] // 2, 2, c), axis=(2, 4))


def random_params(names, in_channels=3, width=4, ksize=3, seed=0):
  rng = np.random.default_rng(seed)
  params, c = {}, in_channels
  for name in names:
    kernel = rng.standard_normal((ksize, ksize, c, width)) * 0.4
    params[f'{name}/kernel'] = kernel.astype(np.float32)
    params[f'{name}/bias'] = (rng.standard_normal(width) * 0.1).astype(np.float32)
    c = width
  return params


# ---- forward passes ----------------------------------------------------------------------------
@pytest.mark.parametrize('pool,layers', [('max', backbones.VGG16_LAYERS),
                                         ('avg_same', backbones.VGG19_LAYERS)])
def test_vgg_features_match_numpy(pool, layers):
  convs = [n for n in layers if n.startswith('conv')]
  params = random_params(convs)
  x = np.random.default_rng(1).standard_normal((2, 37, 26, 3)).astype(np.float32)
  wanted = ('conv1_2', 'conv3_2', 'conv4_2', 'conv5_2')
  got = backbones.vgg_features(tf.constant(x), params, wanted, layers=layers, pool=pool)
  ref, y = {}, x.astype(np.float64)
  for name in layers:
    if name.startswith('pool'):
      y = np_max_pool(y, 2, 2) if pool == 'max' else np_avg_pool_same(y)
    else:
      y = np_conv_relu(y, params[f'{name}/kernel'], params[f'{name}/bias'])
    ref[name] = y
  assert set(got) == set(wanted)
  for name in wanted:
    assert got[name].shape == ref[name].shape
    np.testing.assert_allclose(got[name].numpy(), ref[name], rtol=1e-4, atol=1e-4)


def test_alexnet_features_match_numpy_with_torchvision_geometry():
  rng = np.random.default_rng(2)
  params = {}
  c = 3
  for name, (k, _, _), width in zip(backbones.ALEXNET_LAYERS,
                                    backbones._ALEXNET_CONV_GEOMETRY.values(), (5, 6, 4, 3, 5)):
    params[f'{name}/kernel'] = (rng.standard_normal((k, k, c, width)) * 0.3).astype(np.float32)
    params[f'{name}/bias'] = (rng.standard_normal(width) * 0.1).astype(np.float32)
    c = width
  x = rng.standard_normal((2, 67, 50, 3)).astype(np.float32)
  got = backbones.alexnet_features(tf.constant(x), params)
  p = {k: v.astype(np.float64) for k, v in params.items()}
  r1 = np_conv_relu(x.astype(np.float64), p['conv1/kernel'], p['conv1/bias'], stride=4, pad=2)
  r2 = np_conv_relu(np_max_pool(r1, 3, 2), p['conv2/kernel'], p['conv2/bias'], pad=2)
  r3 = np_conv_relu(np_max_pool(r2, 3, 2), p['conv3/kernel'], p['conv3/bias'])
  r4 = np_conv_relu(r3, p['conv4/kernel'], p['conv4/bias'])
  r5 = np_conv_relu(r4, p['conv5/kernel'], p['conv5/bias'])
  # torchvision shapes for 67x50: conv1 -> 16x11, pool -> 7x5, pool -> 3x2 (floor division).
  assert r1.shape[1:3] == (16, 11) and r3.shape[1:3] == (3, 2)
  for g, r in zip(got, (r1, r2, r3, r4, r5)):
    np.testing.assert_allclose(g.numpy(), r, rtol=1e-4, atol=1e-4)


def test_vgg_features_rejects_unknown_layer():
  with pytest.raises(ValueError, match='unknown VGG layers'):
    backbones.vgg_features(tf.zeros([1, 8, 8, 3]), {}, ['conv9_9'])
