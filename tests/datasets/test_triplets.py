"""Tests of window cutting and the scene-cut / static / black filters."""
import numpy as np
import pytest

from film.media import scene
from film.datasets import frames as frames_lib
from film.datasets import triplets
from tests.datasets.fakes import moving_scene


def _decode(png: bytes) -> np.ndarray:
  return frames_lib.decode_image(png)


def test_multi_time_window_of_four_gives_quarters():
  frames = moving_scene(0, 9)
  options = triplets.WindowOptions(gap=4, stride=4, multi_time=True)
  windows = list(triplets.iter_windows(enumerate(frames), 'c', options))
  assert [v for v, _ in windows] == [triplets.KEPT, triplets.KEPT]  # Starts 0 and 4.
  first = windows[0][1]
  assert [t.time for t in first] == [0.25, 0.5, 0.75]
  assert [t.path for t in first] == ['c/000000_t1of4', 'c/000000_t2of4', 'c/000000_t3of4']
  for k, triplet in enumerate(first, start=1):
    np.testing.assert_array_equal(_decode(triplet.x0), frames[0])
    np.testing.assert_array_equal(_decode(triplet.y), frames[k])
    np.testing.assert_array_equal(_decode(triplet.x1), frames[4])
  assert windows[1][1][0].path == 'c/000004_t1of4'


def test_stride_range_and_middle_only():
  frames = moving_scene(1, 12)
  options = triplets.WindowOptions(gap=2, stride=3)
  windows = list(triplets.iter_windows(enumerate(frames), 'c', options, first_start=1, end_start=8))
  paths = [t.path for _, ts in windows for t in ts]
  assert paths == ['c/000001_t1of2', 'c/000004_t1of2', 'c/000007_t1of2']
  assert all(t.time == 0.5 for _, ts in windows for t in ts)


def test_filters_drop_cut_static_and_black_windows():
  scene_a = moving_scene(2, 4)
  scene_b = [np.clip(f.astype(int) + 90, 0, 255).astype(np.uint8) for f in moving_scene(3, 4)]
  black = np.full_like(scene_a[0], 3)
  # 0-3 scene A | 4-7 scene B (cut between 3 and 4) | 8,9 = a duplicated frame | 10 black.
  frames = scene_a + scene_b + [scene_b[3], scene_b[3], black]
  stats = [scene.frame_stats(f) for f in frames]
  cuts = [scene.cut_distance(a, b) for a, b in zip(stats, stats[1:])]
  diffs = [scene.duplicate_distance(a, b) for a, b in zip(stats, stats[1:])]
  options = triplets.WindowOptions(gap=2)
  assert max(cuts[:3]) < options.scene_cut_threshold < cuts[3]  # The test's premise.
  assert min(diffs[:3] + diffs[4:7]) > options.static_threshold
  verdicts = [v for v, _ in triplets.iter_windows(enumerate(frames), 'c', options)]
  assert verdicts == [
      triplets.KEPT, triplets.KEPT,                  # starts 0, 1
      triplets.DROP_SCENE_CUT, triplets.DROP_SCENE_CUT,  # 2, 3 span the cut
      triplets.KEPT, triplets.KEPT,                  # 4, 5
      triplets.DROP_STATIC, triplets.DROP_STATIC,    # 6, 7 contain the duplicate 7 -> 8 -> 9
      triplets.DROP_BLACK,                           # 8: frame 10 is black
  ]
  off = triplets.WindowOptions(gap=2, scene_cut_threshold=0, static_threshold=0, black_threshold=0)
  assert all(v == triplets.KEPT for v, _ in triplets.iter_windows(enumerate(frames), 'c', off))


def test_non_contiguous_frames_restart_the_window():
  frames = moving_scene(4, 6)
  stream = [(0, frames[0]), (1, frames[1]), (5, frames[2]), (6, frames[3]), (7, frames[4])]
  windows = list(triplets.iter_windows(stream, 'c', triplets.WindowOptions(gap=2)))
  assert [ts[0].path for _, ts in windows] == ['c/000005_t1of2']


def test_invalid_options():
  with pytest.raises(ValueError, match='no middle frame'):
    triplets.WindowOptions(gap=3)
  with pytest.raises(ValueError, match='at least 2'):
    triplets.WindowOptions(gap=1, multi_time=True)
  assert triplets.WindowOptions(gap=3, multi_time=True).offsets == (1, 2)
