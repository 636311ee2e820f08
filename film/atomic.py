"""Atomic outputs: build in a temporary sibling, then rename into place (never a partial file)."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def replace(tmp: str, final: str) -> None:
  """Renames `tmp` (file or folder) to `final`, replacing whatever is there."""
  final = os.path.abspath(final)
  # mkstemp/mkdtemp create 0600/0700; published outputs get the usual umask permissions.
  os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~_umask())
  if os.path.isdir(final):
    old = tempfile.mkdtemp(prefix='.' + os.path.basename(final) + '.old-',
                           dir=os.path.dirname(final))
    os.rmdir(old)
    os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
  else:
    os.replace(tmp, final)


@contextlib.contextmanager
def output_dir(path: str, overwrite: bool = False, flag: str = '--overwrite') -> Iterator[str]:
  """Yields an empty temporary folder beside `path`; on success it becomes `path`.

  Raises FileExistsError (naming `flag`) if `path` exists and not `overwrite`. On any error the
  temporary folder is removed and `path` is left as it was.
  """
  path = os.path.abspath(path)
  if os.path.exists(path) and not overwrite:
    raise FileExistsError(f'{path} already exists; pass {flag} or choose another output')
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix='.tmp-' + os.path.basename(path) + '-', dir=parent)
  try:
    yield tmp
    replace(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
