"""scripts/diagnose_time_flows.py: per-triplet numbers on a known translation."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
from scipy import ndimage

from film.net.config import FilmConfig
from film.eval.benchmarks import Triplet
from film.net.model import FilmNet

_SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', 'scripts', 'diagnose_time_flows.py')


def _load_script():
  spec = importlib.util.spec_from_file_location('diagnose_time_flows', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_translation_gives_small_reference_flow_error_and_a_summary():
  diagnose = _load_script()
  rng = np.random.default_rng(0)
  image = ndimage.gaussian_filter(rng.random((112, 112, 3)), (2, 2, 0))
  image = ((image - image.min()) / (image.max() - image.min())).astype(np.float32)
  # Motion of 2 px per frame to the right: x0, y, x1 at offsets 0, 2, 4.
  x0, y, x1 = image[16:80, 20:84], image[16:80, 18:82], image[16:80, 16:80]
  model = FilmNet(FilmConfig(pyramid_levels=3, fusion_pyramid_levels=3, specialized_levels=2,
                             sub_levels=2, flow_convs=(1, 1, 1), flow_filters=(4, 4, 4),
                             filters=4, residual_fusion=True, time_flows='both'))
  row = diagnose.analyse(model, Triplet('t0', x0, y, x1, 0.5))
  assert row['motion_mean_px'] > 1.5  # DIS from y sees the 2 px motion ...
  assert row['epe_dis'] < 0.5  # ... and DIS x0<->x1 with linear motion agrees with it.
  assert row['psnr_gt_flow_blend'] > row['psnr_model']  # an untrained model is far off
  assert abs(sum(row[f'err_share_{n}'] for n in ('flat', 'textured')) - 1.0) < 1e-6
  row['benchmark'] = 'toy'
  text = diagnose.summary([row])
  assert '| toy | 1 |' in text and 'motion_1_4' in text
