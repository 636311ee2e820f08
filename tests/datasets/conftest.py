"""Fixtures of the dataset tests."""
import os

import numpy as np
import pytest

from tests.datasets.fakes import random_image, write_png


@pytest.fixture
def vimeo_root(tmp_path):
  """A Vimeo-90K-like folder: 2 sequences x 2 triplets of 24x32 PNGs; returns (root, pixels)."""
  rng = np.random.default_rng(0)
  root = str(tmp_path / 'vimeo_triplet')
  pixels = {}
  for seq in ('00001', '00002'):
    for sub in ('0001', '0002'):
      frames = [random_image(rng) for _ in range(3)]
      for i, frame in enumerate(frames):
        write_png(os.path.join(root, 'sequences', seq, sub, f'im{i + 1}.png'), frame)
      pixels[f'{seq}/{sub}'] = frames
  with open(os.path.join(root, 'tri_trainlist.txt'), 'w') as f:
    f.write('00001/0001\n00001/0002\n00002/0002\n\n')
  with open(os.path.join(root, 'tri_testlist.txt'), 'w') as f:
    f.write('00002/0001\n')
  return root, pixels
