"""Published FILM models by name (`film.weights.published`), offline.

The release folder is built from the shared FILM reference fixture (a FILM SavedModel's
variables, saved by the reference implementation, with a smaller config): the registry's config
is patched to that config, as the real entries carry FILM's published one. The Hub download is a
fake `snapshot_download` copying those files; the real download cannot run here (no network).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from film.net.config import FilmConfig
from film.weights import published
from film.weights.model_errors import ModelLoadError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=REPO)


@pytest.fixture(scope='module')
def fixture_config(film_small_fixture) -> FilmConfig:
  with open(os.path.join(film_small_fixture, 'manifest.json')) as f:
    return FilmConfig.from_dict(json.load(f)['config'])


@pytest.fixture
def registry(monkeypatch, fixture_config, tmp_path):
  """The three entries with the fixture's config; cache and release folder under tmp_path."""
  models = {k: dataclasses.replace(m, config=fixture_config) for k, m in published.MODELS.items()}
  monkeypatch.setattr(published, 'MODELS', models)
  monkeypatch.setenv(published.CACHE_ENV, str(tmp_path / 'cache'))
  monkeypatch.delenv(published.RELEASE_ENV, raising=False)
  monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
  return models


def _release(root, film_small_fixture, names=('Style',)) -> str:
  for name in names:
    shutil.copytree(os.path.join(film_small_fixture, 'saved_model'),
                    os.path.join(root, 'film_net', name, 'saved_model'))
  return str(root)


def _cache_entries(tmp_path) -> list[str]:
  folder = tmp_path / 'cache' / 'published'
  return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_release_folder_is_converted_once_and_matches_the_reference(
    registry, film_small_fixture, tmp_path, monkeypatch):
  from film.inference.interpolator import Interpolator
  monkeypatch.setenv(published.RELEASE_ENV, _release(tmp_path / 'release', film_small_fixture))
  path = published.resolve('film:style')
  assert path == published.cached_path(registry['style'])
  assert _cache_entries(tmp_path) == ['film_style']
  manifest = json.load(open(os.path.join(path, 'film_model.json')))
  assert manifest['metadata']['name'] == 'film:style'
  shutil.rmtree(tmp_path / 'release')  # from now on from the cache
  io = dict(np.load(os.path.join(film_small_fixture, 'io.npz')))
  interp = Interpolator.from_path('film:style', precision='float32', time_mode='recursive')
  for i in range(2):
    out = interp.interpolate(io['x0'][i], io['x1'][i], float(io['time'][i, 0]))
    assert np.abs(out - np.clip(io['image'][i], 0, 1)).max() <= 1e-4
  listing = {r['name']: r for r in published.listing()}
  assert listing['film:style']['cached'] and listing['film:style']['size_mb'] > 1
  assert not listing['film:l1']['cached']


def test_unknown_name_lists_the_known_ones(registry):
  with pytest.raises(published.PublishedModelError, match='film:style, film:l1, film:vgg'):
    published.resolve('film:resnet')


def test_offline_without_a_local_copy_names_every_route(registry, tmp_path, monkeypatch):
  monkeypatch.setenv(published.RELEASE_ENV, str(tmp_path / 'empty_release'))  # lacks L1
  with pytest.raises(published.PublishedModelError) as error:
    published.resolve('film:l1')
  message = str(error.value)
  for needle in ('huggingface.co/NimaBoscarino/frame-interpolation_film_l1',
                 published.DRIVE_FOLDER, published.RELEASE_ENV, 'film_net/L1/saved_model'):
    assert needle in message
  assert _cache_entries(tmp_path) == []


@pytest.mark.parametrize('damage', ['truncate_data', 'drop_index', 'nan'])
def test_damaged_release_folder_caches_nothing(registry, film_small_fixture, tmp_path,
                                               monkeypatch, damage):
  root = _release(tmp_path / 'release', film_small_fixture, names=('VGG',))
  variables = os.path.join(root, 'film_net', 'VGG', 'saved_model', 'variables')
  data = os.path.join(variables, 'variables.data-00000-of-00001')
  if damage == 'truncate_data':
    with open(data, 'r+b') as f:
      f.truncate(os.path.getsize(data) // 2)
  elif damage == 'drop_index':
    os.remove(os.path.join(variables, 'variables.index'))
  else:  # a re-export with a NaN in one kernel: same shapes, bad values
    import tensorflow as tf
    from film.net.model import FilmNet, named_variables
    from film.weights import model_io
    model = model_io.load_model(os.path.join(root, 'film_net', 'VGG', 'saved_model'),
                                config=registry['vgg'].config)
    first = next(iter(named_variables(model).values()))
    first.assign(tf.fill(first.shape, float('nan')))
    monkeypatch.setattr(model_io, 'load_model', lambda *a, **k: model)
    assert isinstance(model, FilmNet)
  monkeypatch.setenv(published.RELEASE_ENV, root)
  with pytest.raises(ModelLoadError) as error:
    published.resolve('film:vgg')
  assert 'nothing was cached' in str(error.value) or 'NaN' in str(error.value)
  assert '\n' not in str(error.value)
  assert _cache_entries(tmp_path) == [] and not published.is_cached(registry['vgg'])


def _pinned(registry, film_small_fixture, monkeypatch) -> published.PublishedModel:
  """film:style with a (test) revision and the SHA-256 of the fixture's files."""
  src = os.path.join(film_small_fixture, 'saved_model')
  files = {f'variables/{n}': hashlib.sha256(open(os.path.join(src, 'variables', n), 'rb')
                                            .read()).hexdigest()
           for n in os.listdir(os.path.join(src, 'variables'))}
  entry = dataclasses.replace(registry['style'], hub_revision='0123abcd' * 5, hub_files=files)
  monkeypatch.setitem(published.MODELS, 'style', entry)
  return entry


def _fake_hub(film_small_fixture, calls, corrupt=False):
  def snapshot_download(repo_id, revision, local_dir, allow_patterns, progress=True):
    calls.append((repo_id, revision, sorted(allow_patterns)))
    shutil.copytree(os.path.join(film_small_fixture, 'saved_model'), local_dir,
                    dirs_exist_ok=True)
    if corrupt:
      path = os.path.join(local_dir, 'variables', 'variables.data-00000-of-00001')
      raw = bytearray(open(path, 'rb').read())
      raw[len(raw) // 2] ^= 0xFF
      open(path, 'wb').write(bytes(raw))
    return local_dir
  return snapshot_download


def test_download_is_verified_converted_and_cached(registry, film_small_fixture, tmp_path,
                                                   monkeypatch):
  entry = _pinned(registry, film_small_fixture, monkeypatch)
  calls = []
  monkeypatch.setattr(published, 'snapshot_download', _fake_hub(film_small_fixture, calls))
  path = published.resolve('film:style', progress=False)
  assert calls == [(entry.hub_repo, entry.hub_revision, sorted(entry.hub_files))]
  assert _cache_entries(tmp_path) == ['film_style']  # no staging folder left
  assert json.load(open(os.path.join(path, 'film_model.json')))['metadata'][
      'hub_revision'] == entry.hub_revision
  assert published.resolve('film:style') == path and len(calls) == 1  # cached: no download


def test_corrupt_download_caches_nothing(registry, film_small_fixture, tmp_path, monkeypatch):
  _pinned(registry, film_small_fixture, monkeypatch)
  monkeypatch.setattr(published, 'snapshot_download',
                      _fake_hub(film_small_fixture, [], corrupt=True))
  with pytest.raises(published.PublishedModelError, match='does not match its pinned SHA-256'):
    published.resolve('film:style')
  assert _cache_entries(tmp_path) == []


def test_hub_offline_and_network_errors_are_one_line(registry, film_small_fixture, tmp_path,
                                                     monkeypatch):
  _pinned(registry, film_small_fixture, monkeypatch)
  monkeypatch.setenv('HF_HUB_OFFLINE', '1')
  with pytest.raises(published.PublishedModelError, match='HF_HUB_OFFLINE is set'):
    published.resolve('film:style')
  monkeypatch.delenv('HF_HUB_OFFLINE')

  def unreachable(**kwargs):
    raise ConnectionError('Failed to resolve huggingface.co')
  monkeypatch.setattr(published, 'snapshot_download', unreachable)
  with pytest.raises(published.PublishedModelError, match='download .* failed') as error:
    published.resolve('film:style')
  assert published.RELEASE_ENV in str(error.value) and _cache_entries(tmp_path) == []


def test_unpinned_model_is_never_downloaded(registry, monkeypatch):
  monkeypatch.setattr(published, 'snapshot_download',
                      lambda **kwargs: pytest.fail('downloaded without a pinned revision'))
  with pytest.raises(published.PublishedModelError, match='no pinned Hub revision'):
    published.resolve('film:vgg')


_PATCHED_CLI = textwrap.dedent('''
    import dataclasses, json, sys
    from film.net.config import FilmConfig
    from film.weights import published
    config = FilmConfig.from_dict(json.load(open(sys.argv.pop(1)))['config'])
    published.MODELS = {k: dataclasses.replace(m, config=config)
                        for k, m in published.MODELS.items()}
    from film.inference import interpolate_cli
    interpolate_cli.run()
''')


def test_cli_model_name_from_release_folder_then_cache(film_small_fixture, tmp_path):
  """Two runs resolving at once, then one from the cache alone; bad names are one line."""
  import cv2
  rng = np.random.default_rng(0)
  base = cv2.GaussianBlur(rng.integers(0, 256, (64, 100, 3), dtype=np.uint8), (9, 9), 3)
  frames = []
  for j in range(2):
    frames.append(str(tmp_path / f'f{j}.png'))
    cv2.imwrite(frames[-1], base[:, 3 * j:3 * j + 96])
  env = dict(ENV, FILM_CACHE_DIR=str(tmp_path / 'cache'),
             FILM_PUBLISHED_MODELS=_release(tmp_path / 'release', film_small_fixture))
  manifest = os.path.join(film_small_fixture, 'manifest.json')

  def command(out, model='film:style'):
    return [sys.executable, '-c', _PATCHED_CLI, manifest, '--frame0', frames[0], '--frame1',
            frames[1], '--model', model, '--output_dir', str(out), '--quiet']

  procs = [subprocess.Popen(command(tmp_path / f'out{i}'), env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL) for i in range(2)]
  for proc in procs:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
  assert sorted(os.listdir(tmp_path / 'cache' / 'published')) == ['film_style']
  shutil.rmtree(tmp_path / 'release')
  result = subprocess.run(command(tmp_path / 'out2'), env=env, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  assert len(os.listdir(tmp_path / 'out2')) == 3
  a, b = (cv2.imread(str(tmp_path / f'out{i}' / 'frame_000001.png')) for i in (0, 2))
  np.testing.assert_array_equal(a, b)
  bad = subprocess.run(command(tmp_path / 'out3', 'film:nope'), env=env, capture_output=True,
                       text=True)
  assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
  assert 'film:style, film:l1, film:vgg' in bad.stderr and not (tmp_path / 'out3').exists()
  offline = subprocess.run(command(tmp_path / 'out4', 'film:l1'), env=env, capture_output=True,
                           text=True)
  assert offline.returncode == 2 and len(offline.stderr.strip().splitlines()) == 1, \
      offline.stderr
  assert published.DRIVE_FOLDER in offline.stderr


def test_film_models_lists_the_names(tmp_path):
  result = subprocess.run([sys.executable, '-m', 'film.weights.models_cli', '--json'],
                          env=dict(ENV, FILM_CACHE_DIR=str(tmp_path)), capture_output=True,
                          text=True)
  assert result.returncode == 0, result.stderr
  rows = [json.loads(line) for line in result.stdout.splitlines()]
  assert [r['name'] for r in rows] == ['film:style', 'film:l1', 'film:vgg']
  assert all(r['license'] == 'Apache-2.0' and not r['cached'] for r in rows)
