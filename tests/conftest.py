"""Shared pytest fixtures: the `../shared` reference data and quiet TensorFlow logs."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import imageio_ffmpeg  # noqa: E402
import mediapy  # noqa: E402
import pytest  # noqa: E402

# Tests write videos with mediapy through the ffmpeg binary bundled in imageio-ffmpeg.
mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DIR = os.environ.get('FILM_SHARED_DIR', os.path.join(os.path.dirname(REPO_ROOT), 'shared'))


@pytest.fixture(scope='session')
def shared_dir() -> str:
  if not os.path.isdir(SHARED_DIR):
    pytest.fail(f'Reference data folder {SHARED_DIR} is missing: clone the project beside '
                '`shared/` or set FILM_SHARED_DIR')
  return SHARED_DIR


@pytest.fixture(scope='session')
def film_small_fixture(shared_dir) -> str:
  return os.path.join(shared_dir, 'fixtures', 'film_reference', 'film_net_small')


@pytest.fixture(scope='session')
def tiny_model_dir(tmp_path_factory) -> str:
  """A film model directory of the tiny test config (`tests/tiny.py`), fixed random weights."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (only tests that use it)
  from film.weights import model_io  # pylint: disable=g-import-not-at-top
  from film.net.model import FilmNet  # pylint: disable=g-import-not-at-top
  from tests.tiny import TINY  # pylint: disable=g-import-not-at-top
  tf.random.set_seed(4)
  return model_io.save_model(FilmNet(TINY), str(tmp_path_factory.mktemp('model') / 'tiny'))


@pytest.fixture(scope='session')
def tiny_prior_model_dir(tmp_path_factory) -> str:
  """The tiny config with a DIS flow prior (`flow_prior='dis'`), gates set to 0.5 so that both
  the prior and the learned residuals shape its flows; fixed random weights."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from film.weights import model_io  # pylint: disable=g-import-not-at-top
  from film.net.model import FilmNet, named_variables  # pylint: disable=g-import-not-at-top
  from tests.tiny import TINY  # pylint: disable=g-import-not-at-top
  tf.random.set_seed(5)
  model = FilmNet(dataclasses.replace(TINY, flow_prior='dis'))
  zeros = np.zeros((1, 8, 8, 2), np.float32)
  model(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 8, 8, 3), np.float32),
        np.full((1, 1), 0.5, np.float32), prior_flows={'forward': zeros, 'backward': zeros})
  for name, variable in named_variables(model).items():
    if 'prior_gate' in name:
      variable.assign(tf.fill(variable.shape, 0.5))
  return model_io.save_model(model, str(tmp_path_factory.mktemp('model') / 'tiny_prior'))
