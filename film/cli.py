"""One error path for every command-line tool of the package.

Contract (README, "Errors and exit codes"):

* A failure the user can fix — a missing, unreadable, corrupt or wrong kind of input, an
  unwritable or aliased output, a full disk, a bad flag value — ends the tool with **one line**
  `<prog>: error: <what, naming the file>; <the fix>` on stderr and exit status
  `EXIT_USER_ERROR` (2), in every tool. No traceback, nothing half-written (outputs are
  published by `film.media.atomic` only when complete).
* A programming error (anything else) keeps its Python traceback (exit status 1): it is never
  relabelled as a user error.
* Ctrl-C ends with one line and status 130.

What counts as a user error: any `UserError` (every package error class about user input
derives from it: image/video/model/benchmark/dataset errors), absl flag-parsing errors, and
`OSError`s from the operating system about a named path the user chose (permission, read-only
filesystem, full disk, no such file, not a folder, ...).

`run(main, prog)` replaces `absl.app.run(main)` in the console scripts (`entry_point(main, prog)`
is their `run` function); `quiet_native_stderr()` hides TensorFlow's C++ start-up lines
(absl/oneDNN INFO and WARNING lines) while keeping its errors and fatal messages visible, even
when the process aborts.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import subprocess
import sys
from typing import Callable, Iterator, Optional, Sequence

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

# errno -> the fix shown after the system's description.
_OS_FIXES = {
    errno.ENOENT: 'check the path',
    errno.ENOTDIR: 'a part of the path is a file, not a folder; choose another path',
    errno.EISDIR: 'it is a folder; pass a file',
    errno.EEXIST: 'pass --overwrite or choose another output',
    errno.EACCES: 'check its permissions or choose another location',
    errno.EPERM: 'check its permissions or choose another location',
    errno.EROFS: 'the filesystem is read-only; choose another location',
    errno.ENOSPC: 'free disk space or choose another location',
    errno.EDQUOT: 'disk quota exceeded; free space or choose another location',
    errno.EFBIG: 'the file is too large for this filesystem; choose another location',
    errno.ENAMETOOLONG: 'shorten the path',
    errno.ELOOP: 'the path has a symbolic-link loop; fix the links',
    errno.ENXIO: 'pass a regular file',
}


class UserError(ValueError):
  """A failure the user can fix; `str(error)` is one line naming the file and the fix."""


def _user_error_classes() -> list[type]:
  classes, todo = [], [UserError]
  while todo:
    cls = todo.pop()
    classes.append(cls)
    todo.extend(cls.__subclasses__())
  return classes


def one_line(text: str) -> str:
  """Collapses whitespace (newlines included) so a message prints as a single line."""
  return ' '.join(str(text).split())


def user_error_message(error: BaseException) -> Optional[str]:
  """The one-line message for a user-caused `error`, or None for a programming error.

  Also finds a `UserError` that a Beam runner re-raised inside its own exception text
  (`... SomeUserError: message [while running 'step']`).
  """
  if isinstance(error, UserError) or (type(error).__name__ == 'UsageError' and
                                      type(error).__module__ == 'absl.app'):
    return one_line(str(error))
  if isinstance(error, OSError) and error.errno in _OS_FIXES and (
      error.filename is not None or error.errno in (errno.ENOSPC, errno.EDQUOT)):
    name = f'{error.filename}: ' if error.filename is not None else ''
    return one_line(f'{name}{error.strerror}; {_OS_FIXES[error.errno]}')
  if isinstance(error, MemoryError):
    return 'out of memory; lower --max_memory_gb, use smaller inputs or free memory'
  text = str(error)
  for cls in _user_error_classes():
    match = re.search(rf'\b{cls.__name__}: (.+)', text)
    if match:
      return one_line(match.group(1).split(' [while running')[0])
  return None


def fail(prog: str, message: str) -> None:
  """Prints `<prog>: error: <message>` as one line and exits with `EXIT_USER_ERROR`."""
  sys.stdout.flush()
  print(f'{prog}: error: {one_line(message)}', file=sys.stderr, flush=True)
  sys.exit(EXIT_USER_ERROR)


def guarded(main: Callable[[list[str]], None], prog: str) -> Callable[[list[str]], None]:
  """`main` with user errors turned into the one-line exit (programming errors propagate)."""

  def wrapper(argv: list[str]) -> None:
    try:
      main(argv)
    except KeyboardInterrupt:
      print(f'{prog}: interrupted; no output was published', file=sys.stderr, flush=True)
      sys.exit(EXIT_INTERRUPTED)
    except Exception as error:  # pylint: disable=broad-except  (re-raised unless user-caused)
      message = user_error_message(error)
      if message is None:
        raise
      fail(prog, message)

  return wrapper


def flags_parser(prog: str, known_only: bool = False) -> Callable[[list[str]], list[str]]:
  """An absl flags parser that reports a bad flag as one line and `EXIT_USER_ERROR`."""
  from absl import flags  # pylint: disable=g-import-not-at-top

  def parse(argv: list[str]) -> list[str]:
    try:
      return flags.FLAGS(argv, known_only=known_only)
    except flags.Error as error:
      fail(prog, f'{error}; see {prog} --helpshort')
    raise AssertionError('unreachable')

  return parse


def run(main: Callable[[list[str]], None], prog: str,
        argv: Optional[Sequence[str]] = None) -> None:
  """`absl.app.run(main)` with the package's error contract (module docstring)."""
  from absl import app  # pylint: disable=g-import-not-at-top
  app.run(guarded(main, prog), argv=list(argv) if argv is not None else None,
          flags_parser=flags_parser(prog))


def entry_point(main: Callable[[list[str]], None], prog: str) -> Callable[[], None]:
  """The console-script function of a tool: `run = cli.entry_point(main, PROG)` (setup.py)."""

  def entry() -> None:
    run(main, prog)

  entry.__doc__ = f'Console-script entry point (`{prog}`; errors as in `film.cli`).'
  return entry


# Start-up noise of TensorFlow and Beam imports: absl's "before InitializeLog" banner, INFO /
# WARNING lines from C++ sources (`I1202 13:40:00.123 1234 port.cc:153] ...`) and the second
# line of TensorFlow's CPU-feature notice, Beam's optional-GCP-client notice. Python's absl lines
# name `.py` files and pass through, as do all E (error) and F (fatal) lines.
NATIVE_NOISE = (r'^(WARNING: All log messages before absl::InitializeLog\(\) is called are written '
                r'to STDERR|[IW]\d{4} [\d:. ]+\s+\d+ \S+\.(cc|h|cpp|c):\d+\] |To enable the '
                r'following instructions: .* rebuild TensorFlow with the appropriate compiler '
                r'flags\.|WARNING:root:apitools not found)')

_FILTER_PROGRAM = (
    'import re, sys\n'
    'noise = re.compile(sys.argv[1])\n'
    'for line in sys.stdin.buffer:\n'
    '  if not noise.match(line.decode(errors="replace")):\n'
    '    sys.stderr.buffer.write(line); sys.stderr.buffer.flush()\n')


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
  """Drops TensorFlow's C++ INFO/WARNING start-up lines written to fd 2 inside the block.

  Everything else written to fd 2 (TensorFlow errors, `F...` fatal checks, Python warnings)
  still reaches stderr: fd 2 goes through a pipe to a small filter *process*, which forwards it
  even if this process aborts inside the block (a fatal TensorFlow error is never silent).
  """
  sys.stderr.flush()
  saved = os.dup(2)
  filt = subprocess.Popen([sys.executable, '-c', _FILTER_PROGRAM, NATIVE_NOISE],
                          stdin=subprocess.PIPE, stderr=saved, close_fds=True)
  try:
    os.dup2(filt.stdin.fileno(), 2)
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    filt.stdin.close()
    filt.wait()
