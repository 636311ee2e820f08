"""One error path for every command-line tool of the package.

Contract (README, "Errors and exit codes"):

* A failure the user can fix — a missing, unreadable, corrupt or wrong kind of input, an
  unwritable or aliased output, a full disk, a bad flag value — ends the tool with **one line**
  `<prog>: error: <what, naming the file>; <the fix>` on stderr and exit status
  `EXIT_USER_ERROR` (2), in every tool. No traceback, nothing half-written (outputs are
  published by `film.media.atomic` only when complete).
* A programming error (anything else) keeps its Python traceback (exit status 1): it is never
  relabelled as a user error.
* Ctrl-C, SIGTERM (what `timeout`, `docker stop`, Kubernetes and Slurm send) and SIGHUP stop
  the tool the same way: every temporary of the run is removed, what was already published is
  kept, and one line says what was kept; exit status 128 + the signal (130, 143, 129).

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
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from typing import Callable, Iterator, Optional, Sequence

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 143, SIGHUP 129.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

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


class Interrupted(KeyboardInterrupt):
  """A stop signal (SIGTERM, SIGHUP) raised in the main thread like Ctrl-C's KeyboardInterrupt,
  so that every `except KeyboardInterrupt` / `except BaseException` clean-up runs for it too."""

  def __init__(self, signum: int):
    super().__init__(f'stopped by {signal.Signals(signum).name}')
    self.signum = signum


# What the run published and what a resume needs (the "kept" part of the interrupt line).
_state = {'signal': None, 'published': [], 'keep_note': None, 'on_stop': []}


def _raise_interrupted(signum: int, frame) -> None:  # pylint: disable=unused-argument
  if _state['signal'] is not None:
    return  # Already stopping: a second signal must not cut the clean-up short.
  _state['signal'] = signum
  # Libraries that catch it on the way (Beam logs a failed bundle with its traceback) must not
  # bury the one interrupt line: no more log records from here on.
  logging.disable(logging.CRITICAL)
  for callback in _state['on_stop']:
    with contextlib.suppress(Exception):
      callback()
  raise Interrupted(signum)


def on_stop(callback: Callable[[], None]) -> None:
  """Runs `callback()` inside the signal handler, before `Interrupted` is raised: for work that
  the main thread's clean-up cannot reach (e.g. `film.batch` stops its Beam worker processes)."""
  _state['on_stop'].append(callback)


def stop_requested() -> bool:
  """Whether a stop signal arrived (for code that sees it only wrapped in another error)."""
  return _state['signal'] is not None


def install_stop_handlers() -> None:
  """SIGINT, SIGTERM and SIGHUP raise `Interrupted` (a KeyboardInterrupt) in the main thread,
  once: later signals are ignored while the run cleans up. A no-op outside the main thread."""
  if threading.current_thread() is not threading.main_thread():
    return
  for signum in STOP_SIGNALS:  # (replacing `film/__init__`'s start-up handlers)
    signal.signal(signum, _raise_interrupted)


def note_published(path: str) -> None:
  """Records a finished output (`film.media.atomic` calls it when it publishes one)."""
  _state['published'].append(path)


def set_keep_note(note: Optional[str]) -> None:
  """What an interrupted run keeps for a resume (batch items, training checkpoints), said in
  the interrupt line instead of the list of published outputs."""
  _state['keep_note'] = note


def interrupt_exit_code(error: BaseException) -> int:
  """128 + the signal that stopped the run (`Interrupted`, or a KeyboardInterrupt re-raised
  by a library after our handler ran), 130 for a plain Ctrl-C."""
  signum = getattr(error, 'signum', None) or _state['signal'] or signal.SIGINT
  return 128 + int(signum)


def interrupt_message(prog: str, error: BaseException) -> str:
  """`<prog>: interrupted by SIGTERM; kept: ...` (one line)."""
  signum = getattr(error, 'signum', None) or _state['signal'] or signal.SIGINT
  name = 'Ctrl-C' if signum == signal.SIGINT else signal.Signals(signum).name
  if _state['keep_note']:
    kept = _state['keep_note']
  elif _state['published']:
    done = _state['published']
    listed = ', '.join(done[:3]) + (f' and {len(done) - 3} more' if len(done) > 3 else '')
    kept = f'kept the outputs finished before it: {listed}; no temporary file is left'

  else:
    kept = 'no output was published and no temporary file is left'
  return one_line(f'{prog}: interrupted by {name}; {kept}')


def fail(prog: str, message: str) -> None:
  """Prints `<prog>: error: <message>` as one line and exits with `EXIT_USER_ERROR`."""
  sys.stdout.flush()
  print(f'{prog}: error: {one_line(message)}', file=sys.stderr, flush=True)
  sys.exit(EXIT_USER_ERROR)


def guarded(main: Callable[[list[str]], None], prog: str) -> Callable[[list[str]], None]:
  """`main` with user errors turned into the one-line exit (programming errors propagate)."""

  def wrapper(argv: list[str]) -> None:
    _state.update(signal=None, published=[], keep_note=None, on_stop=[])  # one run per call
    logging.disable(logging.NOTSET)
    install_stop_handlers()
    try:
      main(argv)
    except BaseException as error:  # pylint: disable=broad-except
      # A stop signal (or an error it caused, e.g. a broken pipe to a killed ffmpeg) ends the
      # run as interrupted; the clean-up of the `except` / `finally` blocks has run.
      if isinstance(error, KeyboardInterrupt) or _state['signal'] is not None:
        sys.stdout.flush()
        print(interrupt_message(prog, error), file=sys.stderr, flush=True)
        sys.exit(interrupt_exit_code(error))
      message = user_error_message(error) if isinstance(error, Exception) else None
      if message is None:
        raise  # programming errors keep their traceback; SystemExit from `fail` passes
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
