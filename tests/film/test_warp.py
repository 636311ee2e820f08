"""film.net.warp against scipy.ndimage.map_coordinates and finite differences."""
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from film.net.warp import warp


def _scipy_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
  """Independent reference: bilinear sampling at (y+dy, x+dx) with clamped borders."""
  b, h, w, c = image.shape
  yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
  out = np.zeros_like(image, dtype=np.float64)
  for i in range(b):
    # mode='nearest' clamps only within one pixel of the border; clamp coordinates explicitly.
    qy = np.clip(yy + flow[i, ..., 1], 0, h - 1)
    qx = np.clip(xx + flow[i, ..., 0], 0, w - 1)
    for ch in range(c):
      out[i, ..., ch] = ndimage.map_coordinates(image[i, ..., ch].astype(np.float64), [qy, qx],
                                                order=1, mode='nearest')
  return out


@pytest.mark.parametrize('shape,scale', [((2, 9, 13, 3), 2.5), ((1, 16, 7, 5), 8.0),
                                         ((1, 2, 2, 1), 3.0)])
def test_warp_matches_scipy(shape, scale):
  rng = np.random.default_rng(0)
  image = rng.random(shape).astype(np.float32)
  flow = (rng.standard_normal(shape[:3] + (2,)) * scale).astype(np.float32)
  got = warp(tf.constant(image), tf.constant(flow)).numpy()
  np.testing.assert_allclose(got, _scipy_warp(image, flow), atol=2e-6)


def test_warp_channel_order_is_dx_dy():
  image = np.zeros((1, 5, 6, 1), np.float32)
  image[0, 1, 4, 0] = 1.0  # row 1, column 4
  flow = np.zeros((1, 5, 6, 2), np.float32)
  flow[..., 0] = 2.0  # dx: read two columns to the right
  flow[..., 1] = -1.0  # dy: read one row up
  got = warp(tf.constant(image), tf.constant(flow)).numpy()[0, ..., 0]
  assert got[2, 2] == 1.0 and got.sum() == 1.0


def test_zero_flow_is_identity_and_bfloat16_runs():
  rng = np.random.default_rng(1)
  image = rng.random((1, 6, 7, 4)).astype(np.float32)
  flow = np.zeros((1, 6, 7, 2), np.float32)
  np.testing.assert_allclose(warp(tf.constant(image), tf.constant(flow)).numpy(), image, atol=1e-6)
  bf = warp(tf.cast(image, tf.bfloat16), tf.constant(flow))
  assert bf.dtype == tf.bfloat16


def test_warp_gradients_match_finite_differences():
  rng = np.random.default_rng(2)
  image = rng.random((1, 6, 7, 2))
  # Keep sample points away from integer coordinates (bilinear kinks) and inside the image.
  flow = rng.uniform(-1.3, 1.3, (1, 6, 7, 2))
  flow = np.where(np.abs(flow - np.round(flow)) < 0.1, flow + 0.25, flow)
  weights = rng.standard_normal((1, 6, 7, 2))

  def loss(img, flw):
    return tf.reduce_sum(warp(img, flw) * weights)

  img_t = tf.Variable(image, dtype=tf.float64)
  flow_t = tf.Variable(flow, dtype=tf.float64)
  with tf.GradientTape() as tape:
    value = loss(tf.cast(img_t, tf.float32), tf.cast(flow_t, tf.float32))
  g_img, g_flow = tape.gradient(value, [img_t, flow_t])

  def numeric(array, index, fn, eps=1e-3):
    plus, minus = array.copy(), array.copy()
    plus[index] += eps
    minus[index] -= eps
    return (fn(plus) - fn(minus)) / (2 * eps)

  def f_img(a):
    return float(loss(tf.constant(a, tf.float32), tf.constant(flow, tf.float32)))

  def f_flow(a):
    return float(loss(tf.constant(image, tf.float32), tf.constant(a, tf.float32)))

  for index in [(0, 0, 0, 0), (0, 3, 4, 1), (0, 5, 6, 0), (0, 2, 1, 1)]:
    assert g_img.numpy()[index] == pytest.approx(numeric(image, index, f_img), abs=2e-3)
  for index in [(0, 1, 1, 0), (0, 3, 4, 1), (0, 4, 2, 0), (0, 2, 5, 1)]:
    assert g_flow.numpy()[index] == pytest.approx(numeric(flow, index, f_flow), abs=2e-3)
