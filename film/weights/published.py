"""FILM's published models by name: `film:style`, `film:l1`, `film:vgg` (Reda et al., ECCV 2022).

`resolve(name)` returns a local model directory (our format, `film.weights.model_io`) for a
name, trying in order:

1. the converted copy in the cache, `$FILM_CACHE_DIR/published/film_<name>` (default
   `~/.cache/film`);
2. a local copy of FILM's release folder named by `$FILM_PUBLISHED_MODELS`, in the release's own
   layout (`film_net/Style/saved_model`, `film_net/L1/saved_model`, `film_net/VGG/saved_model`,
   as downloaded from the Drive folder): verified structurally — every variable of FILM's
   published config present with its shape (`model_io.load_model` names each missing or
   unexpected one) and every value finite — since users' copies come from mirrors and
   re-exports;
3. a download from the Hugging Face Hub with `huggingface_hub.snapshot_download` (the Hub's own
   `HF_HUB_OFFLINE`, `HF_HOME`, `HF_ENDPOINT` apply) at the revision pinned in `MODELS`,
   verified against the SHA-256 of every file pinned there.

The result of 2 or 3 is converted once (FILM's published config, 7 pyramid levels: no flag)
and published into the cache atomically (`film.media.atomic`): two processes resolving at once
both end with the one complete copy; a killed run leaves no cache entry. Every failure is a
`PublishedModelError` (a `film.cli.UserError`: one line, exit 2) and caches nothing.

The pinned Hub revisions and file hashes live only in `MODELS` below. They must be read off the
Hub (`huggingface_hub.HfApi().model_info(repo, files_metadata=True)`): a model whose pin is not
recorded (`hub_revision=None`) is never downloaded unverified; it resolves from the cache or
`$FILM_PUBLISHED_MODELS` only, and the error says so.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from typing import Callable, Optional

from film.net.config import PUBLISHED, FilmConfig
from film.weights.model_errors import ModelLoadError

PREFIX = 'film:'
CACHE_ENV, RELEASE_ENV = 'FILM_CACHE_DIR', 'FILM_PUBLISHED_MODELS'
DRIVE_FOLDER = 'https://drive.google.com/drive/folders/1q8110-qp225asX3DQvZnfLfJPkCHmDpy'
LICENSE = 'Apache-2.0'
PAPER = 'Reda et al., FILM: Frame Interpolation for Large Motion, ECCV 2022'
# As published (not measured here): FILM's PSNR in the paper's benchmark tables.
PAPER_FIGURES = 'Middlebury-other 37.52 dB, UCF101 35.32 dB, Vimeo-90K 36.06 dB, Xiph-2K 36.66 dB'


class PublishedModelError(ModelLoadError):
  """A published model name cannot be resolved: unknown, offline, corrupt or incomplete."""


@dataclasses.dataclass(frozen=True)
class PublishedModel:
  """One of FILM's released models.

  `hub_files` maps each file of the Hub repository's SavedModel (paths from the repository
  root) to its SHA-256; `hub_revision` is the commit they were read at (None: not pinned).
  """
  key: str
  release_dir: str
  hub_repo: str
  hub_revision: Optional[str]
  hub_files: dict[str, str]
  summary: str
  config: FilmConfig = PUBLISHED

  @property
  def name(self) -> str:
    return PREFIX + self.key

  @property
  def hub_url(self) -> str:
    return f'https://huggingface.co/{self.hub_repo}'


# The one place for the pins (see the module docstring): not recorded yet, because this
# package was built on machines without access to the Hub.
MODELS: dict[str, PublishedModel] = {
    'style': PublishedModel(
        'style', 'film_net/Style/saved_model', 'akhaliq/frame-interpolation-film-style', None,
        {}, 'Gram-matrix (style) loss: the sharpest frames, FILM\'s recommended model'),
    'l1': PublishedModel(
        'l1', 'film_net/L1/saved_model', 'NimaBoscarino/frame-interpolation_film_l1', None,
        {}, 'L1 loss: optimised for PSNR'),
    'vgg': PublishedModel(
        'vgg', 'film_net/VGG/saved_model', 'NimaBoscarino/frame_interpolation_film_vgg', None,
        {}, 'VGG perceptual loss: between L1 and Style'),
}


def model_argument(value: Optional[str]) -> Optional[str]:
  """A `--model` value as the loaders take it: None (the bundled model) for None, '' or
  'default'; anything else unchanged (a path, or a `film:` name)."""
  return None if value in (None, '', 'default') else value


def is_model_name(path: Optional[str]) -> bool:
  """Whether a `--model` value names a published model (`film:...`) rather than a path."""
  return bool(path) and path.startswith(PREFIX)


def lookup(name: str) -> PublishedModel:
  """The entry of `name` ('film:style'); PublishedModelError listing the known names."""
  key = name[len(PREFIX):] if is_model_name(name) else name
  if key.lower() not in MODELS:
    known = ', '.join(m.name for m in MODELS.values())
    raise PublishedModelError(f'unknown model name {name!r}; known published models: {known} '
                              '(or pass a model directory / FILM SavedModel path)')
  return MODELS[key.lower()]


def cache_dir() -> str:
  """`$FILM_CACHE_DIR`, default `~/.cache/film`."""
  return os.path.abspath(os.path.expanduser(os.environ.get(CACHE_ENV) or '~/.cache/film'))


def cached_path(entry: PublishedModel) -> str:
  return os.path.join(cache_dir(), 'published', f'film_{entry.key}')


def is_cached(entry: PublishedModel) -> bool:
  from film.weights import model_files  # pylint: disable=g-import-not-at-top  (no TensorFlow)
  return os.path.isfile(os.path.join(cached_path(entry), model_files.MANIFEST))


def _offline_message(entry: PublishedModel, why: str) -> str:
  return (f'{entry.name} is not cached and {why}; download FILM\'s release folder ({DRIVE_FOLDER}) '
          f'and set ${RELEASE_ENV} to it (it must hold {entry.release_dir}), or get the '
          f'SavedModel from {entry.hub_url} when online')


def _verify_finite(model, source: str) -> None:
  import numpy as np  # pylint: disable=g-import-not-at-top
  from film.net.model import named_variables  # pylint: disable=g-import-not-at-top
  for name, variable in named_variables(model).items():
    if not np.isfinite(variable.numpy()).all():
      raise PublishedModelError(f'{source}: variable {name} has NaN/Inf values; the copy is '
                                'corrupt: download it again')


def _convert_into_cache(entry: PublishedModel, saved_model: str, source: str) -> str:
  """Loads and verifies FILM's SavedModel at `saved_model`, publishes it into the cache."""
  from film.media import atomic  # pylint: disable=g-import-not-at-top
  from film.weights import model_io  # pylint: disable=g-import-not-at-top
  try:
    model = model_io.load_model(saved_model, config=entry.config)
  except PublishedModelError:
    raise
  except ModelLoadError as e:
    raise PublishedModelError(f'{source} is not a complete copy of {entry.name} ({e}); nothing '
                              'was cached: download it again') from e
  _verify_finite(model, source)
  path = cached_path(entry)
  try:
    model_io.save_model(model, path, metadata={
        'name': entry.name, 'source': source, 'hub_repo': entry.hub_repo,
        'hub_revision': entry.hub_revision, 'license': LICENSE, 'paper': PAPER})
  except atomic.OutputExistsError:  # Another process cached it meanwhile: use that copy.
    if not model_io.is_model_dir(path):
      raise
  return path


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def snapshot_download(progress: bool = True, **kwargs) -> str:
  """`huggingface_hub.snapshot_download` with its progress bars on or off (the one call to the
  Hub; tests replace it)."""
  try:
    import huggingface_hub  # pylint: disable=g-import-not-at-top
    from huggingface_hub import utils as hub_utils  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise PublishedModelError("downloading published models needs huggingface_hub: pip install "
                              "'film-interpolation[hub]'") from e
  if not progress:
    hub_utils.disable_progress_bars()
  return huggingface_hub.snapshot_download(**kwargs)


def _download(entry: PublishedModel, progress: bool) -> str:
  if entry.hub_revision is None or not entry.hub_files:
    raise PublishedModelError(_offline_message(
        entry, 'this release records no pinned Hub revision for it (no unverified downloads)'))
  if os.environ.get('HF_HUB_OFFLINE', '').strip().lower() in ('1', 'true', 'yes', 'on'):
    raise PublishedModelError(_offline_message(entry, 'HF_HUB_OFFLINE is set'))
  from film.media import atomic  # pylint: disable=g-import-not-at-top
  staging = atomic.temp_sibling(cached_path(entry), directory=True)
  try:
    try:
      snapshot_download(repo_id=entry.hub_repo, revision=entry.hub_revision, local_dir=staging,
                        allow_patterns=sorted(entry.hub_files), progress=progress)
    except PublishedModelError:
      raise
    except Exception as e:  # pylint: disable=broad-except  (network, Hub, disk: one line)
      raise PublishedModelError(_offline_message(
          entry, f'the download from {entry.hub_url} failed ({type(e).__name__}: '
          f'{str(e)[:200]})')) from e
    for rel, expected in sorted(entry.hub_files.items()):
      path = os.path.join(staging, rel)
      if not os.path.isfile(path):
        raise PublishedModelError(f'the download of {entry.name} from {entry.hub_url} lacks '
                                  f'{rel}; nothing was cached: try again')
      if _sha256(path) != expected:
        raise PublishedModelError(f'the download of {entry.name}: {rel} does not match its '
                                  f'pinned SHA-256 (corrupt or changed upstream); nothing was '
                                  'cached: try again')
    return _convert_into_cache(entry, staging, f'{entry.hub_url}@{entry.hub_revision}')
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def resolve(name: str, progress: bool = True, log: Optional[Callable[[str], None]] = None
            ) -> str:
  """The local model directory of published model `name` (module docstring for the order)."""
  from film.weights import model_files  # pylint: disable=g-import-not-at-top
  entry = lookup(name)
  path = cached_path(entry)
  if is_cached(entry):
    model_files.check_model_files(path)
    return path
  release = os.environ.get(RELEASE_ENV)
  if release:
    source = os.path.join(os.path.expanduser(release), entry.release_dir)
    if os.path.isdir(source):
      if log:
        log(f'Converting {entry.name} from {source} into {path} (once)')
      return _convert_into_cache(entry, source, source)
  if log:
    log(f'Downloading {entry.name} from {entry.hub_url} (once)')
  return _download(entry, progress)


def listing() -> list[dict]:
  """One row per known model: name, cached or not, size on disk, licence, summary."""
  rows = []
  for entry in MODELS.values():
    path = cached_path(entry)
    size = None
    if is_cached(entry):
      size = sum(os.path.getsize(os.path.join(root, f))
                 for root, _, files in os.walk(path) for f in files)
    rows.append({'name': entry.name, 'cached': size is not None, 'path': path,
                 'size_mb': None if size is None else round(size / 2**20, 1),
                 'license': LICENSE, 'hub': entry.hub_url, 'release_dir': entry.release_dir,
                 'pinned': entry.hub_revision is not None, 'summary': entry.summary})
  return rows
