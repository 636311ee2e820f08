"""Tests for film/inference/interpolator.py: outputs, recursion, streaming, feature reuse, retiming."""
import numpy as np
import pytest
import tensorflow as tf

from film.inference import engine as engine_lib
from film.inference import interpolator as interp_lib
from film.weights import model_io
from film.inference import tiling
from film.inference.interpolator import Interpolator
from film.net.model import FilmNet
from tests.tiny import TINY

@pytest.fixture(scope='module')
def model():
  tf.random.set_seed(0)
  return FilmNet(TINY)


def _frames(n, h=20, w=28, seed=0):
  rng = np.random.default_rng(seed)
  return [rng.random((h, w, 3), dtype=np.float32) for _ in range(n)]


def test_interpolate_matches_model_and_clips(model):
  x0, x1 = _frames(2)
  out = Interpolator(model, precision='float32').interpolate(x0, x1, 0.3)
  expected = model(x0[None], x1[None], tf.constant([[0.3]]))['image'][0].numpy()
  np.testing.assert_allclose(out, np.clip(expected, 0, 1), atol=1e-5)
  assert out.shape == (20, 28, 3) and out.dtype == np.float32


def test_interpolate_batch_and_time_array(model):
  a, b, c, d = _frames(4)
  interp = Interpolator(model, precision='float32')
  out = interp.interpolate(np.stack([a, c]), np.stack([b, d]), [0.25, 0.75])
  assert out.shape == (2, 20, 28, 3)
  np.testing.assert_allclose(out[1], interp.interpolate(c, d, 0.75), atol=1e-5)
  with pytest.raises(ValueError):
    interp.interpolate(a, b[:10], 0.5)


@pytest.mark.parametrize('n,k', [(2, 1), (3, 2), (4, 3)])
def test_recursive_counts_and_inputs_unchanged(model, n, k):
  frames = _frames(n)
  out = list(Interpolator(model, precision='float32').interpolate_recursively(frames, k))
  assert len(out) == (n - 1) * 2 ** k + 1
  for i, frame in enumerate(frames):
    assert out[i * 2 ** k] is frame or np.array_equal(out[i * 2 ** k], frame)
  assert all(o.min() >= 0 and o.max() <= 1 for o in out)


def test_recursion_equals_explicit_midpoints(model):
  x0, x1 = _frames(2)
  interp = Interpolator(model, precision='float32')
  out = list(interp.interpolate_recursively([x0, x1], 2))
  mid = interp.interpolate(x0, x1, 0.5)
  np.testing.assert_allclose(out[2], mid, atol=1e-5)
  np.testing.assert_allclose(out[1], interp.interpolate(x0, mid, 0.5), atol=1e-5)
  np.testing.assert_allclose(out[3], interp.interpolate(mid, x1, 0.5), atol=1e-5)


def test_streaming_consumes_inputs_lazily(model):
  consumed = []

  def source():
    for i, frame in enumerate(_frames(5)):
      consumed.append(i)
      yield frame

  stream = Interpolator(model, precision='float32').interpolate_recursively(source(), 1)
  next(stream)  # the first input frame is emitted before the second is read
  assert consumed == [0]
  next(stream)  # the first mid frame needs frame 1 only
  assert consumed == [0, 1]


def test_pyramid_reuse_extracts_each_frame_once(model):
  n, k = 4, 3
  interp = Interpolator(model, precision='float32')
  list(interp.interpolate_recursively(_frames(n), k))
  evaluations = (n - 1) * (2 ** k - 1)
  # Inputs once each; mid frames that have children (all but the deepest level) once each.
  assert interp.cache_stats['misses'] == n + (n - 1) * (2 ** (k - 1) - 1)
  assert interp.cache_stats['hits'] == 2 * evaluations - interp.cache_stats['misses']
  assert interp.cache_stats['bytes'] == 0  # everything released at the end
  no_reuse = Interpolator(model, precision='float32', reuse_features=False)
  out_a = list(no_reuse.interpolate_recursively(_frames(n), k))
  out_b = list(Interpolator(model, precision='float32').interpolate_recursively(_frames(n), k))
  np.testing.assert_allclose(np.stack(out_a), np.stack(out_b), atol=1e-6)


def test_gap_policy_holds_frames_and_skips_model(model):
  a, b, c = _frames(3)
  interp = Interpolator(model, precision='float32')
  decisions = iter(['duplicate', 'cut'])
  out = list(interp.interpolate_recursively([a, b, c], 2, lambda x, y: next(decisions)))
  assert len(out) == 9 and interp.model_evaluations == 0
  assert all(o is a for o in out[:4]) and all(o is b for o in out[4:8]) and out[8] is c


def test_retime_counts_and_direct_mode(model):
  frames = _frames(5)
  for mode in ('recursive', 'direct'):
    interp = Interpolator(model, precision='float32', time_mode=mode, batch_size=2)
    out = list(interp.retime(frames, 24, 60))
    assert len(out) == Interpolator.num_output_frames(5, input_fps=24, output_fps=60) == 13
    assert out[0] is frames[0] and out[5] is frames[2] and out[10] is frames[4]
  halved = list(Interpolator(model, precision='float32').retime(frames, 30, 15))  # positions 0, 2, 4
  assert len(halved) == 3 and halved[1] is frames[2] and halved[2] is frames[4]


def test_retime_recursive_uses_dyadic_midpoints(model):
  frames = _frames(2)
  interp = Interpolator(model, precision='float32')
  out = list(interp.retime(frames, 1, 2))  # positions 0, 0.5, 1, 1.5 (last frame held)
  assert len(out) == 4 and out[0] is frames[0] and out[2] is frames[1] and out[3] is frames[1]
  np.testing.assert_allclose(out[1], interp.interpolate(*frames, 0.5), atol=1e-5)


def test_dyadic_numerator():
  assert interp_lib.dyadic_numerator(0.5, 5) == 16
  assert interp_lib.dyadic_numerator(0.4, 5, tolerance=0.04) == 12  # 3/8
  assert interp_lib.dyadic_numerator(0.4, 5) == 13  # nearest 1/32


def test_tiled_interpolation_runs_with_reuse(model):
  frames = _frames(3, h=40, w=60)
  interp = Interpolator(model, precision='float32', max_tile_pixels=32 * 32, tile_overlap=8)
  assert len(interp.tiles(40, 60)) > 1
  out = list(interp.interpolate_recursively(frames, 1))
  assert len(out) == 5 and out[1].shape == (40, 60, 3)
  assert interp.cache_stats['hits'] > 0


def test_memory_cap_sets_tile_size(model):
  small = Interpolator(model, precision='float32', max_memory_gb=1.0)
  large = Interpolator(model, precision='float32', max_memory_gb=4.0)
  assert 0 < small.max_tile_pixels < large.max_tile_pixels
  with pytest.raises(ValueError):
    Interpolator(model, precision='float32', max_memory_gb=0.1)


def test_default_memory_cap_too_small_says_why_and_the_fix(model, monkeypatch):
  # A busy host with 0.5 GB available: the default cap (75%) is below the model's overhead. The
  # message names the default cap and what was available, not `max_memory_gb=None`.
  monkeypatch.setattr(engine_lib, 'available_memory_bytes', lambda: 2**29)
  with pytest.raises(ValueError) as error:
    Interpolator(model, precision='float32')
  message = str(error.value)
  assert 'None' not in message
  assert 'default memory cap' in message and '0.50 GB available' in message
  assert 'pass max_memory_gb' in message
  with pytest.raises(ValueError, match=r'max_memory_gb=0\.1 is below'):
    Interpolator(model, precision='float32', max_memory_gb=0.1)


def test_from_path(tmp_path, model, monkeypatch):
  from film.weights import model_io
  path = model_io.save_model(model, str(tmp_path / 'm'))
  interp = Interpolator.from_path(path)
  assert interp.config == TINY
  monkeypatch.setattr(interp_lib, 'DEFAULT_MODEL_DIR', str(tmp_path / 'missing'))
  with pytest.raises(model_io.ModelLoadError, match='--model'):
    Interpolator.from_path(None)


def test_interpolate_at_modes(model):
  x0, x1 = _frames(2)
  recursive = Interpolator(model, precision='float32')
  out = recursive.interpolate_at(x0, x1, [0.0, 0.25, 0.5, 1.0])
  assert out[0] is not None and np.array_equal(out[0], x0) and np.array_equal(out[3], x1)
  mid = recursive.interpolate(x0, x1, 0.5)
  np.testing.assert_allclose(out[2], mid, atol=1e-5)
  np.testing.assert_allclose(out[1], recursive.interpolate(x0, mid, 0.5), atol=1e-5)
  direct = Interpolator(model, precision='float32', time_mode='direct')
  np.testing.assert_allclose(direct.interpolate_at(x0, x1, [0.3])[0],
                             direct.interpolate(x0, x1, 0.3), atol=1e-5)
  assert recursive.cache_stats['bytes'] == 0


def _mirror_average(model, x0, x1, t):
  """Reference for flip_ensemble: direct model calls on the pair and on its mirror image."""
  time = tf.constant([[t]])
  direct = np.clip(model(x0[None], x1[None], time)['image'][0].numpy(), 0, 1)
  mirrored = np.clip(model(x0[None, :, ::-1].copy(), x1[None, :, ::-1].copy(),
                           time)['image'][0].numpy(), 0, 1)
  return 0.5 * (direct + mirrored[:, ::-1])


def test_flip_ensemble_averages_the_mirrored_pair(model):
  x0, x1 = _frames(2)
  plain = Interpolator(model, precision='float32').interpolate(x0, x1, 0.4)
  ensemble = Interpolator(model, precision='float32', flip_ensemble=True)
  out = ensemble.interpolate(x0, x1, 0.4)
  np.testing.assert_allclose(out, _mirror_average(model, x0, x1, 0.4), atol=1e-5)
  assert np.abs(out - plain).max() > 1e-3  # a random model is not mirror-symmetric
  # The ensemble is mirror-equivariant: mirrored inputs give the mirrored frame.
  mirrored = ensemble.interpolate(x0[:, ::-1], x1[:, ::-1], 0.4)
  np.testing.assert_allclose(mirrored[:, ::-1], out, atol=1e-5)
  assert ensemble.model_evaluations == 4  # two pairs, two network runs each


def test_flip_ensemble_in_recursion_and_tiles(model):
  frames = _frames(2, h=40, w=60, seed=3)
  whole = Interpolator(model, precision='float32', flip_ensemble=True)
  mid = list(whole.interpolate_recursively(frames, 1))[1]
  np.testing.assert_allclose(mid, _mirror_average(model, *frames, 0.5), atol=1e-5)
  assert whole.cache_stats['bytes'] == 0  # mirrored features are released too
  tiled = Interpolator(model, precision='float32', flip_ensemble=True, max_tile_pixels=32 * 32, tile_overlap=8)
  assert len(tiled.tiles(40, 60)) > 1
  tiled_mid = list(tiled.interpolate_recursively(frames, 1))[1]
  # Each tile is flip-averaged on its own, then the tiles are blended as usual.
  acc = tiling.TileAccumulator(40, 60)
  for tile in tiled.tiles(40, 60):
    acc.add(tile, _mirror_average(model, frames[0][tile.slices], frames[1][tile.slices], 0.5))
  np.testing.assert_allclose(tiled_mid, np.clip(acc.result(), 0, 1), atol=1e-5)


def test_precision_bfloat16_is_close_and_float32_out(model):
  x0, x1 = _frames(2)
  exact = Interpolator(model, precision='float32').interpolate(x0, x1, 0.5)
  fast = Interpolator(model, precision='bfloat16')
  assert fast.compute_dtype == tf.bfloat16
  out = fast.interpolate(x0, x1, 0.5)
  mid = list(fast.interpolate_recursively([x0, x1], 1))[1]  # cached bfloat16 features
  for frame in (out, mid):
    assert frame.dtype == np.float32
    assert np.abs(frame - exact).mean() < 0.01
  with pytest.raises(ValueError, match='precision must be one of'):
    Interpolator(model, precision='half')


def test_direct_times_of_a_gap_share_one_flow_estimate(model):
  x0, x1 = _frames(2, h=40, w=60, seed=5)
  times = [0.25, 0.5, 0.75]
  expected = [np.clip(model(x0[None], x1[None], tf.constant([[t]]))['image'][0].numpy(), 0, 1)
              for t in times]
  for reuse, estimations in ((True, 1), (False, 3)):
    interp = Interpolator(model, precision='float32', time_mode='direct', reuse_flows=reuse)
    out = interp.interpolate_at(x0, x1, times)
    assert interp.flow_estimations == estimations
    for got, want in zip(out, expected):
      np.testing.assert_allclose(got, want, atol=1e-5)
  tiled = Interpolator(model, precision='float32', time_mode='direct', max_tile_pixels=32 * 32,
                       tile_overlap=8)
  tiled.interpolate_at(x0, x1, times)
  assert tiled.flow_estimations == len(tiled.tiles(40, 60)) > 1  # once per tile, not per time
  recursive = Interpolator(model, precision='float32')
  list(recursive.interpolate_recursively([x0, x1], 2))
  assert recursive.flow_estimations == 3  # every midpoint is a new pair


def test_flow_scale_in_the_interpolator(model):
  x0, x1 = _frames(2, h=40, w=60, seed=6)
  interp = Interpolator(model, precision='float32', flow_scale=0.5)
  expected = model(x0[None], x1[None], tf.constant([[0.5]]), flow_scale=0.5)['image'][0]
  np.testing.assert_allclose(interp.interpolate(x0, x1, 0.5), np.clip(expected, 0, 1),
                             atol=1e-5)
  np.testing.assert_allclose(list(interp.interpolate_recursively([x0, x1], 1))[1],
                             np.clip(expected, 0, 1), atol=1e-5)
  with pytest.raises(ValueError, match='flow_scale must be'):
    Interpolator(model, flow_scale=0.3)
  with pytest.raises(ValueError, match='flow_scale must be'):
    Interpolator(model, flow_scale=0.25 ** 2)  # 2**-4: the tiny model has 3 levels


def test_direct_mode_in_recursion_makes_each_gap_from_its_pair(model):
  frames = _frames(3, seed=7)
  interp = Interpolator(model, precision='float32', time_mode='direct')
  out = list(interp.interpolate_recursively(frames, 2))
  assert len(out) == 9 and out[0] is frames[0] and out[4] is frames[1] and out[8] is frames[2]
  for gap in range(2):
    for j, t in enumerate((0.25, 0.5, 0.75)):
      want = model(frames[gap][None], frames[gap + 1][None], tf.constant([[t]]))['image'][0]
      np.testing.assert_allclose(out[4 * gap + 1 + j], np.clip(want.numpy(), 0, 1), atol=1e-5)
  assert interp.flow_estimations == 2  # one per gap


def test_from_path_takes_the_models_recommended_time_mode(model, tmp_path):
  plain = model_io.save_model(model, str(tmp_path / 'plain'))
  timed = model_io.save_model(model, str(tmp_path / 'timed'), metadata={'time_mode': 'direct'})
  assert interp_lib.recommended_time_mode(plain) == 'recursive'
  assert Interpolator.from_path(plain).time_mode == 'recursive'
  assert Interpolator.from_path(timed).time_mode == 'direct'
  assert Interpolator.from_path(timed, time_mode='recursive').time_mode == 'recursive'
  assert Interpolator.from_path(None).time_mode == 'direct'  # the default model's manifest
  assert interp_lib.recommended_time_mode(str(tmp_path / 'no_model')) == 'recursive'
