"""FILM-style frame interpolation in TensorFlow 2.21.

Conventions used everywhere in this package:

* Images are `[B,H,W,3]` float32 in [0,1], NHWC. `time` is `[B,1]` float32 in [0,1]:
  0 returns (the content of) `x0`, 1 returns `x1`, 0.5 the midpoint.
* Pyramids are Python lists, finest level first (index 0 = full resolution, each next
  level halves H and W with 2x2 average pooling).
* Flows are `[B,H,W,2]` float32 in pixels of their own pyramid level, channels (dx, dy)
  (checked against the reference implementation's outputs). `film.net.warp.warp(image, flow)`
  samples `image` at `(x + flow[...,0], y + flow[...,1])` (backward warping).
* Model inputs are the dict keys `x0`, `x1`, `time`; outputs always hold `image`, and the
  diagnostics (`x0_warped`, `x1_warped`, `forward_flow`, `backward_flow`, flow pyramids)
  only when asked for with `aux_outputs=True`.
"""

import importlib.util as _importlib_util
import os as _os
import sys as _sys

NO_TENSORFLOW_MESSAGE = (
    "film: TensorFlow is not installed. Install it with the package's extra: "
    "`pip install 'film-interpolation[cpu]'` (CPU wheel, no CUDA) or "
    "`pip install 'film-interpolation[and-cuda]'` (NVIDIA GPUs).")


def _is_console_script() -> bool:
  """True when `film` is imported by one of its command lines (`film-*` or `python -m`)."""
  program = _os.path.basename(_sys.argv[0]) if _sys.argv and _sys.argv[0] else ''
  return program.startswith('film-') or program == '-m'


def _stop_before_work(signum: int, frame) -> None:  # pylint: disable=unused-argument
  """A stop signal while a command line is still importing: nothing is written yet."""
  import signal  # pylint: disable=g-import-not-at-top
  program = _os.path.basename(_sys.argv[0]) if _sys.argv and _sys.argv[0] != '-m' else 'film'
  _os.write(2, f'{program}: interrupted by {signal.Signals(signum).name} before any work; '
               'nothing was written\n'.encode())
  _os._exit(128 + signum)


if _is_console_script():
  # Until `film.cli.guarded` takes over (it raises `film.cli.Interrupted` and cleans up), a
  # stop signal ends the start-up at once with the same exit status (128 + signal).
  import signal as _signal
  for _signum in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
    _signal.signal(_signum, _stop_before_work)

if _importlib_util.find_spec('tensorflow') is None:
  if _is_console_script():
    # One line and exit status 2 (the CLIs' user-error code), no traceback.
    print(NO_TENSORFLOW_MESSAGE, file=_sys.stderr)
    raise SystemExit(2)
  raise ImportError(NO_TENSORFLOW_MESSAGE)

# The public API, imported on first use (`import film` stays light: no TensorFlow until a name
# that needs it is touched). Name -> defining module; see notes/architecture.md for the layers.
_PUBLIC = {
    'Interpolator': 'film.inference.interpolator',
    'interpolate_video': 'film.inference.pipeline',
    'load_model': 'film.weights.model_io',
    'save_model': 'film.weights.model_io',
    'export_saved_model': 'film.weights.export',
    'FilmConfig': 'film.net.config',
    'FilmNet': 'film.net.model',
    'read_image': 'film.media.image_io',
    'write_image': 'film.media.image_io',
    'UserError': 'film.cli',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
  module = _PUBLIC.get(name)
  if module is None:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  import importlib
  value = getattr(importlib.import_module(module), name)
  globals()[name] = value  # later lookups skip __getattr__
  return value


def __dir__() -> list[str]:
  return sorted(set(globals()) | set(_PUBLIC))
