"""Tests for eval/baselines.py on synthetic frames with known answers."""
import cv2
import numpy as np
import pytest

from film.eval import baselines


def _frames(height=64, width=80, seed=0):
  rng = np.random.default_rng(seed)
  x0 = rng.random((height, width, 3)).astype(np.float32)
  x1 = rng.random((height, width, 3)).astype(np.float32)
  return x0, x1


def _translating_pattern(shift_per_unit_time, t, height=128, width=160, seed=3):
  """Smooth random texture moving right by `shift_per_unit_time` pixels from x0 to x1."""
  rng = np.random.default_rng(seed)
  margin = 32
  texture = cv2.GaussianBlur(rng.random((height, width + 2 * margin, 3)).astype(np.float32),
                             (0, 0), 2.5)
  texture = (texture - texture.min()) / (texture.max() - texture.min())
  crop = lambda offset: texture[:, margin - offset:margin - offset + width]
  shift_t = int(round(shift_per_unit_time * t))
  return crop(0), crop(shift_t), crop(shift_per_unit_time)


def _psnr(a, b, border=16):
  diff = (a - b)[border:-border, border:-border]
  return -10 * np.log10(np.mean(diff ** 2))


def test_average_is_exact_blend():
  x0, x1 = _frames()
  np.testing.assert_allclose(baselines.average(x0, x1, 0.3), 0.7 * x0 + 0.3 * x1, rtol=1e-6)


def test_repeat_returns_nearest_input():
  x0, x1 = _frames()
  np.testing.assert_array_equal(baselines.repeat(x0, x1, 0.3), x0)
  np.testing.assert_array_equal(baselines.repeat(x0, x1, 0.5), x0)
  np.testing.assert_array_equal(baselines.repeat(x0, x1, 0.8), x1)


@pytest.mark.parametrize('t', [0.5, 0.25])
def test_dis_flow_recovers_translation(t):
  x0, y, x1 = _translating_pattern(8, t)
  dis = baselines.dis_flow(x0, x1, t)
  assert dis.shape == y.shape and dis.dtype == np.float32
  assert _psnr(dis, y) > _psnr(baselines.average(x0, x1, t), y) + 15.0


def test_minterpolate_beats_average_on_translation():
  x0, y, x1 = _translating_pattern(8, 0.5)
  out = baselines.ffmpeg_minterpolate(x0, x1, 0.5)
  assert out.shape == y.shape and out.dtype == np.float32
  assert _psnr(out, y) > _psnr(baselines.average(x0, x1, 0.5), y) + 5.0


def test_minterpolate_handles_odd_sizes_and_endpoints():
  x0, y, x1 = _translating_pattern(4, 0.5, height=45, width=67)
  out = baselines.ffmpeg_minterpolate(x0, x1, 0.5)
  assert out.shape == (45, 67, 3)
  assert 0.0 <= out.min() and out.max() <= 1.0
  # A plausible frame: closer to the true middle than either input is.
  assert np.abs(out - y).mean() < min(np.abs(x0 - y).mean(), np.abs(x1 - y).mean())
  np.testing.assert_array_equal(baselines.ffmpeg_minterpolate(x0, x1, 0.0), x0)


def test_registry_and_input_checks():
  assert set(baselines.BASELINES) == {'repeat', 'average', 'dis_flow', 'ffmpeg_minterpolate'}
  with pytest.raises(KeyError, match='unknown baseline'):
    baselines.get_baseline('rife')
  x0, x1 = _frames()
  with pytest.raises(ValueError, match='same shape'):
    baselines.average(x0, x1[:10], 0.5)
  with pytest.raises(ValueError, match=r'in \[0,1\]'):
    baselines.average(x0, x1, 1.5)
