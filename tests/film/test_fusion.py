"""The fusion decoder's upsample + 2x2 conv, computed per output phase on the coarse map, against
numpy: nearest upsampling by `np.repeat` and a 2x2 `same` conv written out tap by tap."""
import numpy as np
import pytest
import tensorflow as tf

from film.net.conv import Conv2D, leaky_relu
from film.net.fusion import upsample_conv2x2


def _np_upsample_conv2x2(net: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
  up = net.repeat(2, axis=1).repeat(2, axis=2).astype(np.float64)
  b, h, w, _ = up.shape
  # TensorFlow's `same` padding for an even kernel: nothing above/left, one zero row/column below.
  padded = np.pad(up, ((0, 0), (0, 1), (0, 1), (0, 0)))
  out = np.zeros((b, h, w, kernel.shape[-1]))
  for ky in range(2):
    for kx in range(2):
      out += padded[:, ky:ky + h, kx:kx + w] @ kernel[ky, kx].astype(np.float64)
  return out + bias


@pytest.mark.parametrize('h, w', [(1, 1), (1, 3), (4, 6), (5, 2)])
def test_matches_nearest_upsampling_then_conv(h, w):
  rng = np.random.default_rng(h * 10 + w)
  conv = Conv2D(5, 7, 2, activation=None, seed=3)
  conv.bias.assign(rng.normal(size=7).astype(np.float32))
  net = rng.normal(size=(2, h, w, 5)).astype(np.float32)
  got = upsample_conv2x2(tf.constant(net), conv).numpy()
  want = _np_upsample_conv2x2(net, conv.kernel.numpy(), conv.bias.numpy())
  assert got.shape == (2, 2 * h, 2 * w, 7)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bfloat16_input_gives_bfloat16_close_to_float32():
  rng = np.random.default_rng(0)
  conv = Conv2D(8, 4, 2, activation=None, seed=1)
  net = rng.uniform(size=(1, 3, 4, 8)).astype(np.float32)
  got = upsample_conv2x2(tf.cast(tf.constant(net), tf.bfloat16), conv)
  assert got.dtype == tf.bfloat16
  want = _np_upsample_conv2x2(net, conv.kernel.numpy(), conv.bias.numpy())
  np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), want, rtol=0.03, atol=0.03)


def test_refuses_convs_it_does_not_compute():
  with pytest.raises(ValueError, match='2x2 conv without activation'):
    upsample_conv2x2(tf.zeros([1, 2, 2, 3]), Conv2D(3, 4, 2, activation=leaky_relu))
  with pytest.raises(ValueError, match='2x2 conv without activation'):
    upsample_conv2x2(tf.zeros([1, 2, 2, 3]), Conv2D(3, 4, 3, activation=None))
