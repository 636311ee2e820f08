"""Atomic outputs: build in a temporary sibling, then rename into place (never a partial file).

The one helper for every writer of the package (frames, videos, model folders, SavedModels,
reports, run records, record shards):

* `temp_sibling(path)` — a hidden temporary file or folder beside `path` (same filesystem, so
  the final rename is atomic), named `.NAME.tmp-XXXX`.
* `replace(tmp, final)` — publishes it (a folder replaces an existing folder as a whole).
* `output_file(path)` / `output_dir(path)` — context managers yielding the temporary; published
  on success, removed on any error.
* `write_bytes(path, data)` / `write_text(path, text)` — one atomic small file.
* `check_output(path, ...)` — cheap up-front checks of an output path (writable, not an input,
  not an existing output without overwrite), to run before any expensive work.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator, Sequence, Union

from film.cli import UserError


class OutputError(UserError):
  """An output path is unusable: unwritable, of the wrong kind, existing, or an input."""


class OutputExistsError(FileExistsError, OutputError):
  """The output exists and overwriting was not allowed (also a FileExistsError)."""


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def temp_sibling(path: str, directory: bool = False) -> str:
  """Creates and returns a hidden temporary file or folder beside `path` (parents created)."""
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  prefix = '.' + os.path.basename(path) + '.tmp-'
  if directory:
    return tempfile.mkdtemp(prefix=prefix, dir=parent)
  fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=os.path.splitext(path)[1], dir=parent)
  os.close(fd)
  return tmp


def missing_folders(*paths: str) -> list[str]:
  """The folders above `paths` that do not exist yet, deepest first: `temp_sibling` creates
  them, and a failed run removes them again (`remove_empty_folders`)."""
  missing = set()
  for path in paths:
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.lexists(parent):
      missing.add(parent)
      parent = os.path.dirname(parent)
  return sorted(missing, key=len, reverse=True)


def remove_empty_folders(folders: Sequence[str]) -> None:
  """Removes each of `folders` (deepest first) that exists and is empty (errors ignored)."""
  for folder in folders:
    with contextlib.suppress(OSError):
      os.rmdir(folder)


def remove(path: str) -> None:
  """Removes a temporary file or folder if it exists (errors ignored)."""
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    with contextlib.suppress(OSError):
      os.remove(path)


def replace(tmp: str, final: str) -> None:
  """Renames `tmp` (file or folder) to `final`, replacing whatever is there."""
  final = os.path.abspath(final)
  # mkstemp/mkdtemp create 0600/0700; published outputs get the usual umask permissions.
  os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~_umask())
  if os.path.isdir(final) and not os.path.islink(final):
    old = tempfile.mkdtemp(prefix='.' + os.path.basename(final) + '.old-',
                           dir=os.path.dirname(final))
    os.rmdir(old)
    os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
  else:
    os.replace(tmp, final)


@contextlib.contextmanager
def _published(tmp: str, path: str) -> Iterator[str]:
  """Yields `tmp`; renames it to `path` if the block succeeds, removes it if it fails."""
  try:
    yield tmp
    replace(tmp, path)
  except BaseException:
    remove(tmp)
    raise


def output_file(path: str) -> contextlib.AbstractContextManager:
  """Context manager yielding a temporary file name beside `path`; on success it becomes
  `path`, on any error it is removed."""
  return _published(temp_sibling(path), path)


def output_dir(path: str, overwrite: bool = False,
               flag: str = '--overwrite') -> contextlib.AbstractContextManager:
  """Context manager yielding an empty temporary folder beside `path`; on success it becomes
  `path`.

  Raises OutputExistsError (naming `flag`) if `path` exists and not `overwrite`. On any error
  the temporary folder is removed and `path` is left as it was.
  """
  path = os.path.abspath(path)
  if os.path.exists(path) and not overwrite:
    raise OutputExistsError(f'{path} already exists; pass {flag} or choose another output')
  return _published(temp_sibling(path, directory=True), path)


def write_bytes(path: str, data: Union[bytes, str]) -> None:
  """Writes `data` (str is UTF-8 encoded) to `path` atomically."""
  payload = data.encode('utf-8') if isinstance(data, str) else data
  with output_file(path) as tmp:
    with open(tmp, 'wb') as f:
      f.write(payload)


write_text = write_bytes


def _nearest_existing(path: str) -> str:
  while not os.path.lexists(path):
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return path


def _contains(folder: str, path: str) -> bool:
  """Whether `path` is `folder` or lies inside it (both real paths)."""
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output(path: str, *, inputs: Sequence[str] = (), overwrite: bool = False,
                 directory: bool = False, flag: str = '--output',
                 overwrite_flag: str = '--overwrite') -> None:
  """Raises OutputError unless `path` can be written as an output, before any work is done.

  Checks, cheapest first: it does not resolve (through links, `..`) to an input or to a folder
  holding an input (replacing it would delete the input); an existing output needs `overwrite`
  and must be of the right kind (folder or file); the nearest existing ancestor is a folder in
  which a file can really be created (catches read-only folders and filesystems, /proc, and a
  path under a regular file). Nothing is left behind.
  """
  real = os.path.realpath(path)
  for source in inputs:
    source_real = os.path.realpath(source)
    if _contains(real, source_real):
      what = 'is' if real == source_real else 'holds'
      raise OutputError(f'{flag} {path} {what} the input {source}; outputs never replace '
                        'inputs: choose another output path')
  if os.path.lexists(path):
    if os.path.isdir(real) != directory:
      kind = 'a folder' if os.path.isdir(real) else 'a file'
      raise OutputError(f'{flag} {path} is {kind}; pass a {"folder" if directory else "file"} '
                        'path')
    if not overwrite and not (directory and not os.listdir(real)):
      raise OutputExistsError(f'output {path} already exists; pass {overwrite_flag} or choose '
                              f'another {flag}')
  anchor = _nearest_existing(os.path.dirname(real) or '.')
  if not os.path.isdir(anchor):
    raise OutputError(f'{flag} {path}: {anchor} is a file, not a folder; choose another path')
  try:
    fd, probe = tempfile.mkstemp(prefix='.film-write-check-', dir=anchor)
  except OSError as e:
    raise OutputError(f'{flag} {path}: cannot write in {anchor} ({e.strerror}); choose a '
                      'writable location') from e
  os.close(fd)
  os.remove(probe)
