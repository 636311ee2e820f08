"""The bundled default model (film/default_model/): loads, honours time, beats frame averaging."""
import dataclasses
import os

import numpy as np
import pytest

from film.weights import defaults, model_io
from film.media import image_io
from film.net.config import SMALL, FilmConfig
from film.inference.interpolator import Interpolator


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
  return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope='module')
def interpolator():
  assert defaults.default_model_available(), 'film/default_model/ is missing from the package'
  return Interpolator.from_path()  # None -> the default model


def test_default_model_is_the_small_residual_config_with_dis_prior_in_float16():
  manifest = model_io.read_manifest(defaults.DEFAULT_MODEL_DIR)
  # SMALL's variables with one more (weight-shared) pyramid level for larger motions, both
  # estimated flows combined into the flows from time t, and residuals over DIS flows at every
  # level (issue 25). (Manifests written before a config field existed lack it: its default.)
  assert FilmConfig.from_dict(manifest['config']) == dataclasses.replace(
      SMALL, residual_fusion=True, pyramid_levels=6, time_flows='both', flow_prior='dis',
      flow_prior_levels='all')
  assert manifest['storage_dtype'] == 'float16'


def test_default_model_beats_frame_average_on_unseen_motion(interpolator, shared_dir):
  """Middlebury Hydrangea (never trained on): motion-compensated, not a blend."""
  folder = os.path.join(shared_dir, 'benchmarks', 'middlebury_other', 'Hydrangea')
  x0, y, x1 = (image_io.read_image(os.path.join(folder, n))
               for n in ('frame10.png', 'frame10i11.png', 'frame11.png'))
  predicted = interpolator.interpolate(x0, x1, 0.5)
  assert predicted.shape == y.shape
  assert _psnr(predicted, y) > _psnr((x0 + x1) / 2, y) + 1.0


def test_default_model_end_times_return_the_inputs(interpolator, shared_dir):
  folder = os.path.join(shared_dir, 'benchmarks', 'ucf101', '01')
  x0 = image_io.read_image(os.path.join(folder, 'frame0.png'))
  x1 = image_io.read_image(os.path.join(folder, 'frame2.png'))
  at0 = interpolator.interpolate(x0, x1, 0.0)
  at1 = interpolator.interpolate(x0, x1, 1.0)
  assert _psnr(at0, x0) > _psnr(at0, x1) and _psnr(at1, x1) > _psnr(at1, x0)
