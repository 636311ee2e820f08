"""Where `film.batch.jobs` reads and writes: local paths, or URLs of Beam's filesystems (gs://, s3://,
hdfs://, ... whichever Beam filesystem is installed) for inputs, the model and the output root.

Items are processed on local disk (ffmpeg and the image readers need local files): URL inputs
are copied to a scratch folder on the worker first, and an item's outputs are uploaded file by
file with its result record (`film_batch_item.json`) last, so on an object store too the record
exists only for a complete item. Local paths keep their atomic folder rename (`film.batch.jobs`).
The helpers for remote listing and reading are `film.datasets.frames`' (imported lazily: they
need Apache Beam).
"""
from __future__ import annotations

import os
import shutil
import tempfile

from film.media import atomic


def is_url(path: str) -> bool:
  return '://' in path


def join(base: str, *parts: str) -> str:
  """`os.path.join` for local paths, '/'-joining for URLs."""
  if is_url(base):
    return '/'.join([base.rstrip('/'), *parts])
  return os.path.join(base, *parts)


def _filesystems():
  from apache_beam.io.filesystems import FileSystems  # pylint: disable=g-import-not-at-top
  return FileSystems


def _uncompressed():
  from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=g-import-not-at-top
  return CompressionTypes.UNCOMPRESSED


def exists(path: str) -> bool:
  if not is_url(path):
    return os.path.exists(path)
  from film.datasets import frames as frames_lib  # pylint: disable=g-import-not-at-top
  return frames_lib.exists(path)


def read_bytes(path: str) -> bytes:
  from film.datasets import frames as frames_lib  # pylint: disable=g-import-not-at-top
  return frames_lib.read_bytes(path)


def write_bytes(path: str, data: bytes) -> None:
  """Writes a whole file: atomically (rename) on local disks; one object put on URLs."""
  if not is_url(path):
    atomic.write_bytes(path, data)
    return
  with _filesystems().create(path, compression_type=_uncompressed()) as f:
    f.write(data)


def match(pattern: str) -> list[str]:
  """The files matching a glob `pattern` on a Beam filesystem (no folders: object stores have
  none)."""
  return [m.path for m in _filesystems().match([pattern])[0].metadata_list]


def remove_tree(path: str) -> None:
  """Deletes a folder (local) or every object under a prefix (URL); missing is fine."""
  if not is_url(path):
    shutil.rmtree(path, ignore_errors=True)
    return
  fs = _filesystems()
  paths = match(join(path, '**'))
  if paths:
    fs.delete(paths)


def download(url: str, local_path: str) -> str:
  os.makedirs(os.path.dirname(local_path), exist_ok=True)
  with _filesystems().open(url, compression_type=_uncompressed()) as src, \
      open(local_path, 'wb') as dst:
    shutil.copyfileobj(src, dst, 4 << 20)
  return local_path


def upload_tree(local_dir: str, url_dir: str, last: str) -> None:
  """Copies every file below `local_dir` to `url_dir`, the file named `last` (the finished
  marker) after all the others."""
  fs = _filesystems()
  files = sorted(os.path.relpath(os.path.join(d, n), local_dir)
                 for d, _, names in os.walk(local_dir) for n in names)
  for rel in sorted(files, key=lambda r: r == last):
    with open(os.path.join(local_dir, rel), 'rb') as src, fs.create(
        join(url_dir, *rel.split(os.sep)), compression_type=_uncompressed()) as dst:
      shutil.copyfileobj(src, dst, 4 << 20)


def stage_inputs(kind: str, inputs: tuple[str, ...], folder: str) -> list[str]:
  """Local paths for an item's inputs: URL files are copied into `folder` (a frame folder URL:
  its image files, in a subfolder); local paths are returned as they are."""
  from film.datasets import frames as frames_lib  # pylint: disable=g-import-not-at-top
  local = []
  for i, path in enumerate(inputs):
    if not is_url(path):
      local.append(path)
    elif kind == 'folder':
      sub = os.path.join(folder, f'{i}_{path.rstrip("/").rsplit("/", 1)[-1]}')
      for frame in frames_lib.list_frame_files(path):  # InputError if it holds no frames
        download(frame, os.path.join(sub, frame.rsplit('/', 1)[-1]))
      local.append(sub)
    else:
      local.append(download(path, os.path.join(folder, f'{i}_{path.rsplit("/", 1)[-1]}')))
  return local


def stage_model(url: str) -> str:
  """A local copy of a model folder at `url` (its top-level files: film_model.json and the
  weights); the caller keeps it for the life of the process."""
  from film.datasets import frames as frames_lib  # pylint: disable=g-import-not-at-top
  local = tempfile.mkdtemp(prefix='film-model-')
  for name in frames_lib.list_dir(url):
    download(join(url, name), os.path.join(local, name))
  return local
