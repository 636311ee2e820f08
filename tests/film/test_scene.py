"""Tests for film/media/scene.py: scene-cut and duplicate detection on real frames."""
import os

import numpy as np
import pytest

from film.media import scene
from film.media.image_io import read_image


@pytest.fixture(scope='module')
def frames(shared_dir):
  bench = os.path.join(shared_dir, 'benchmarks')
  return {
      'whale0': read_image(os.path.join(bench, 'middlebury_other', 'RubberWhale', 'frame10.png')),
      'whale1': read_image(os.path.join(bench, 'middlebury_other', 'RubberWhale', 'frame11.png')),
      'dog0': read_image(os.path.join(shared_dir, 'samples', 'davis', 'dog-control',
                                      'frame10.png')),
      'dog1': read_image(os.path.join(shared_dir, 'samples', 'davis', 'dog-control',
                                      'frame11.png')),
      'ucf': read_image(os.path.join(bench, 'ucf101', '01', 'frame0.png')),
  }


def test_motion_is_not_a_cut_or_duplicate(frames):
  classify = scene.GapClassifier()
  assert classify(frames['whale0'], frames['whale1']) == scene.INTERPOLATE
  assert classify(frames['dog0'], frames['dog1']) == scene.INTERPOLATE  # large motion


def test_cut_between_unrelated_shots(frames):
  classify = scene.GapClassifier()
  ucf = frames['ucf'][:200, :200]
  whale = frames['whale0'][:200, :200]
  assert scene.histogram_distance(ucf, whale) > 0.25
  assert classify(ucf, whale) == scene.CUT
  assert classify.counts[scene.CUT] == 1


def test_duplicates_with_noise(frames):
  classify = scene.GapClassifier()
  x = frames['whale0']
  noisy = np.clip(x + np.random.default_rng(0).normal(0, 0.5 / 255, x.shape), 0, 1)
  assert classify(x, x.copy()) == scene.DUPLICATE
  assert classify(x, noisy.astype(np.float32)) == scene.DUPLICATE


def test_thresholds_disable(frames):
  off = scene.GapClassifier(cut_threshold=1.1, duplicate_threshold=0)
  x = frames['whale0']
  assert off(x, x) == scene.INTERPOLATE
  assert off(frames['ucf'][:200, :200], x[:200, :200]) == scene.INTERPOLATE
  with pytest.raises(ValueError):
    scene.GapClassifier(cut_threshold=-1)
