"""Atomic outputs: build in a temporary sibling, then rename into place (never a partial file).

The one helper for every writer of the package (frames, videos, model folders, SavedModels,
reports, run records, record shards):

* `temp_sibling(path)` — a hidden temporary file or folder beside `path` (same filesystem, so
  the final rename is atomic), named `.NAME.tmp-<host>-<pid>-XXXX` (`<host>`: 8 hex digits of
  the host name's hash). Making one first removes the stale temporaries of the same output
  left by runs that were killed (SIGKILL, power loss): those of this host whose process is
  gone. Temporaries of live runs, of other hosts, and every other file are never touched.
* `publish(tmp, final, overwrite)` — puts it in place. Without `overwrite` it never replaces:
  a file is hard-linked to its name (`link` fails if the name exists, whoever made it in the
  meantime) and a folder renamed (which fails onto a non-empty folder); the loser gets
  `OutputExistsError` naming the output that appeared. With `overwrite` the last finished run
  wins: files by `rename`, folders by an atomic exchange (`renameat2(RENAME_EXCHANGE)` on
  Linux), so no reader ever sees a partial output.
* `output_file(path)` / `output_dir(path)` — context managers yielding the temporary; published
  on success, removed on any error (KeyboardInterrupt and stop signals included).
* `write_bytes(path, data)` / `write_text(path, text)` — one atomic small file.
* `check_output(path, ...)` — cheap up-front checks of an output path (writable, not an input,
  not an existing output without overwrite), to run before any expensive work.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
from typing import Iterator, Sequence, Union

from film import cli
from film.cli import UserError

TEMP_MARK = '.tmp-'
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


class OutputError(UserError):
  """An output path is unusable: unwritable, of the wrong kind, existing, or an input."""


class OutputExistsError(FileExistsError, OutputError):
  """The output exists and overwriting was not allowed (also a FileExistsError)."""


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _temp_prefix(path: str) -> str:
  return f'.{os.path.basename(path)}{TEMP_MARK}{_HOST}-{os.getpid()}-'


def process_alive(pid: int) -> bool:
  """Whether process `pid` of this host still runs (a zombie, killed but not yet reaped by
  its parent, does not)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # Someone else's live process.
    return True
  try:
    with open(f'/proc/{pid}/stat', 'rb') as f:
      state = f.read().rsplit(b')', 1)[1].split()[0]
    return state not in (b'Z', b'X')
  except (OSError, IndexError):
    return True


def stale_temporaries(path: str) -> list[str]:
  """The temporaries of output `path` (`temp_sibling` names) left by dead processes of this
  host. Live runs' temporaries, other hosts' and any other file are not listed."""
  path = os.path.abspath(path)
  parent, base = os.path.split(path)
  pattern = re.compile(rf'^\.{re.escape(base)}{re.escape(TEMP_MARK)}([0-9a-f]{{8}})-(\d+)-')
  try:
    names = os.listdir(parent)
  except OSError:
    return []
  stale = []
  for name in names:
    match = pattern.match(name)
    if match and match.group(1) == _HOST and int(match.group(2)) != os.getpid() and \
        not process_alive(int(match.group(2))):
      stale.append(os.path.join(parent, name))
  return sorted(stale)


def remove_stale_temporaries(path: str) -> list[str]:
  """Removes `stale_temporaries(path)`; returns what it removed."""
  stale = stale_temporaries(path)
  for tmp in stale:
    remove(tmp)
  return stale


def temp_sibling(path: str, directory: bool = False) -> str:
  """Creates and returns a hidden temporary file or folder beside `path` (parents created),
  after removing the stale temporaries of `path` (module docstring)."""
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  remove_stale_temporaries(path)
  prefix = _temp_prefix(path)
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


class OutputAppearedError(OutputExistsError):
  """Another run published the output while this one was working (no `overwrite`)."""


def _appeared(final: str) -> OutputAppearedError:
  return OutputAppearedError(
      f'output {final} appeared while this run was working (another run finished it first); '
      'it was not replaced: pass --overwrite to replace it, or choose another output')


_RENAME_NOREPLACE, _RENAME_EXCHANGE, _AT_FDCWD = 1, 2, -100
_libc = None


def _renameat2(src: str, dst: str, flags: int) -> bool:
  """Linux renameat2(2); True if done, False if the system or filesystem lacks it. Raises
  OSError for every other failure (EEXIST for NOREPLACE onto an existing name, ENOENT...)."""
  global _libc
  if _libc is None:
    try:
      _libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
      _libc.renameat2  # pylint: disable=pointless-statement
    except (OSError, AttributeError):
      _libc = False
  if not _libc:
    return False
  if _libc.renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
    return True
  code = ctypes.get_errno()
  if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
    return False
  raise OSError(code, os.strerror(code), dst)


def _publish_new(tmp: str, final: str) -> None:
  """Moves `tmp` to `final` only if `final` does not exist (OutputAppearedError otherwise)."""
  if os.path.isdir(tmp):
    if os.path.isdir(final) and not os.path.islink(final):
      try:  # An empty folder may be the output (check_output allows it).
        os.rmdir(final)
      except OSError as e:
        raise _appeared(final) from e
    try:
      if not _renameat2(tmp, final, _RENAME_NOREPLACE):
        os.rename(tmp, final)  # Fails onto a non-empty folder or a file.
    except OSError as e:
      if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
        raise _appeared(final) from e
      raise
    return
  try:
    os.link(tmp, final)  # Fails if `final` exists, however it got there.
  except FileExistsError as e:
    raise _appeared(final) from e
  except OSError as e:  # No hard links here (some network / FAT filesystems).
    if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
      raise
    try:
      if not _renameat2(tmp, final, _RENAME_NOREPLACE):
        if os.path.lexists(final):
          raise _appeared(final) from e
        os.rename(tmp, final)
      return
    except FileExistsError as exists:
      raise _appeared(final) from exists
  os.unlink(tmp)


def _publish_replacing(tmp: str, final: str) -> None:
  """Moves `tmp` to `final`, replacing what is there at once (the last finished run wins)."""
  if not (os.path.isdir(tmp) and os.path.isdir(final) and not os.path.islink(final)):
    os.replace(tmp, final)  # Files; a folder onto nothing (or onto an empty folder).
    return
  for _ in range(10):  # Another run may publish or remove `final` in between: retry.
    try:
      if _renameat2(tmp, final, _RENAME_EXCHANGE):  # `tmp` now holds the old folder.
        remove(tmp)
        return
      break
    except FileNotFoundError:
      try:
        _publish_new(tmp, final)
        return
      except OutputAppearedError:
        continue
  # No renameat2: move the old folder aside under a temporary name, then rename.
  old = temp_sibling(final, directory=True)
  os.rmdir(old)
  with contextlib.suppress(FileNotFoundError):
    os.rename(final, old)
  os.rename(tmp, final)
  remove(old)


def publish(tmp: str, final: str, overwrite: bool = False) -> None:
  """Publishes the finished temporary `tmp` (file or folder) as `final` (module docstring);
  raises OutputAppearedError if `final` exists and not `overwrite`."""
  final = os.path.abspath(final)
  # mkstemp/mkdtemp create 0600/0700; published outputs get the usual umask permissions.
  os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~_umask())
  if overwrite:
    _publish_replacing(tmp, final)
  else:
    _publish_new(tmp, final)
  if f'{TEMP_MARK}{_HOST}-{os.getpid()}-' not in final:  # not a file inside our own temporary
    cli.note_published(final)


@contextlib.contextmanager
def _published(tmp: str, path: str, overwrite: bool) -> Iterator[str]:
  """Yields `tmp`; publishes it as `path` if the block succeeds, removes it if it fails."""
  try:
    yield tmp
    publish(tmp, path, overwrite)
  except BaseException:
    remove(tmp)
    raise


def output_file(path: str, overwrite: bool = True) -> contextlib.AbstractContextManager:
  """Context manager yielding a temporary file name beside `path`; on success it becomes
  `path` (replacing an existing file unless `overwrite` is False), on any error it is removed."""
  return _published(temp_sibling(path), path, overwrite)


def output_dir(path: str, overwrite: bool = False,
               flag: str = '--overwrite') -> contextlib.AbstractContextManager:
  """Context manager yielding an empty temporary folder beside `path`; on success it becomes
  `path`.

  Raises OutputExistsError (naming `flag`) if `path` exists and not `overwrite`. On any error
  the temporary folder is removed and `path` is left as it was.
  """
  path = os.path.abspath(path)
  if os.path.exists(path) and not overwrite and not (os.path.isdir(path) and not os.listdir(path)):
    raise OutputExistsError(f'{path} already exists; pass {flag} or choose another output')
  return _published(temp_sibling(path, directory=True), path, overwrite)


def write_bytes(path: str, data: Union[bytes, str], overwrite: bool = True) -> None:
  """Writes `data` (str is UTF-8 encoded) to `path` atomically (never replacing an existing
  file when `overwrite` is False)."""
  payload = data.encode('utf-8') if isinstance(data, str) else data
  with output_file(path, overwrite) as tmp:
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
