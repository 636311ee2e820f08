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
