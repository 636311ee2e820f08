"""Our model directory format: round trips, float16 storage, and errors."""
import json
import os

import numpy as np
import pytest

from film.weights import model_io
from film.net.model import FilmNet
from tests.tiny import TINY


def _arrays(model):
  return {n: v.numpy() for n, v in model_io.named_variables(model).items()}


def test_round_trip_is_exact_and_self_describing(tmp_path):
  model = FilmNet(TINY)
  path = model_io.save_model(model, str(tmp_path / 'm'), metadata={'note': 'x'})
  manifest = json.loads(open(os.path.join(path, 'film_model.json')).read())
  assert manifest['config'] == TINY.to_dict() and manifest['metadata'] == {'note': 'x'}
  loaded = model_io.load_model(path)
  assert loaded.config == TINY
  for name, value in _arrays(model).items():
    np.testing.assert_array_equal(_arrays(loaded)[name], value)
  assert not [p for p in os.listdir(tmp_path) if p.startswith('.tmp')]


def test_float16_storage(tmp_path):
  model = FilmNet(TINY)
  path = model_io.save_model(model, str(tmp_path / 'm16'), storage_dtype='float16')
  with np.load(os.path.join(path, 'weights.npz')) as data:
    assert all(data[k].dtype == np.float16 for k in data.files)
  loaded = _arrays(model_io.load_model(path))
  for name, value in _arrays(model).items():
    np.testing.assert_allclose(loaded[name], value, rtol=1e-3, atol=1e-4)


def test_errors(tmp_path):
  model = FilmNet(TINY)
  path = model_io.save_model(model, str(tmp_path / 'm'))
  with pytest.raises(FileExistsError, match='already exists'):
    model_io.save_model(model, path)
  with pytest.raises(model_io.ModelLoadError, match='does not exist'):
    model_io.load_model(str(tmp_path / 'missing'))
  manifest = json.loads(open(os.path.join(path, 'film_model.json')).read())
  manifest['config']['filters'] = 4  # config no longer matches the weights
  with open(os.path.join(path, 'film_model.json'), 'w') as f:
    json.dump(manifest, f)
  with pytest.raises(model_io.ModelLoadError, match='shape mismatch'):
    model_io.load_model(path)
  with open(os.path.join(path, 'weights.npz'), 'wb') as f:
    f.write(b'not a zip')
  with pytest.raises(model_io.ModelLoadError, match='Cannot read weights'):
    model_io.load_model(path)


def test_saved_directory_has_umask_permissions(tmp_path):
  mask = os.umask(0o022)
  try:
    path = model_io.save_model(FilmNet(TINY), str(tmp_path / 'perm'))
  finally:
    os.umask(mask)
  assert os.stat(path).st_mode & 0o777 == 0o755  # not mkdtemp's 0700
  assert os.stat(os.path.join(path, 'weights.npz')).st_mode & 0o777 == 0o644
