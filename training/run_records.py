"""The run folder: its layout and the records of what made it.

A run folder `<base_folder>/<label>/`:

    operative_config.gin     the resolved gin config (every parameter actually used)
    run_info.json            versions, command line, host, strategy, configs, one entry per start
    data_manifest.json       the training / evaluation record files (with sizes)
    checkpoints/             ckpt-<step>.* and the `checkpoint` index (CheckpointManager)
    summaries/train, summaries/eval    TensorBoard event files
    eval_history.csv / .jsonl          evaluation results per step and dataset
    export/model/            the final model (film.weights.model_io format)
    export/saved_model/      the same model as a serving SavedModel (film.weights.export)
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import sys
from typing import Any, Optional, Sequence

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from film.media import atomic
from film.net.config import FilmConfig

CHECKPOINT_SUBDIR = 'checkpoints'
SUMMARY_SUBDIR = 'summaries'
EXPORT_MODEL_SUBDIR = os.path.join('export', 'model')
EXPORT_SAVED_MODEL_SUBDIR = os.path.join('export', 'saved_model')
OPERATIVE_CONFIG = 'operative_config.gin'
RUN_INFO = 'run_info.json'
DATA_MANIFEST = 'data_manifest.json'
DISTRIBUTION = 'film-interpolation'  # The package's distribution name (for its version).


def _versions() -> dict[str, str]:
  import keras  # pylint: disable=g-import-not-at-top
  out = {'python': sys.version.split()[0], 'tensorflow': tf.__version__,
         'keras': keras.__version__, 'numpy': np.__version__,
         'gin': getattr(gin, '__version__', 'unknown'), 'platform': platform.platform()}
  try:
    from importlib import metadata  # pylint: disable=g-import-not-at-top
    out['film'] = metadata.version(DISTRIBUTION)
  except Exception:  # pylint: disable=broad-except
    out['film'] = 'unknown'
  return out


def _file_entries(files: Sequence[str]) -> list[dict[str, Any]]:
  entries = []
  for path in files:
    try:
      size = tf.io.gfile.stat(path).length
    except tf.errors.OpError:
      size = None
    entries.append({'path': path, 'bytes': size})
  return entries


def _jsonable(value: Any) -> Any:
  if dataclasses.is_dataclass(value):
    return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
  if isinstance(value, dict):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, (str, int, float, bool)) or value is None:
    return value
  return repr(value)


# An absolute path inside a string: a '/' not preceded by a word character, '.', ':' or '/'
# (so "a/b", "./x" and URLs are left alone), up to a separator of lists and flags.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/[^\s,;:'\"=]+")


def portable(value: Any, base: Optional[str] = None) -> Any:
  """`value` with every absolute path in its strings made relative to `base` (default: cwd).

  Run records are copied into the repository; they must not carry the machine's folders.
  Dicts, lists and tuples are walked; other values are returned as they are.
  """
  base = os.path.abspath(base or os.getcwd())
  if isinstance(value, str):
    return _ABSOLUTE_PATH.sub(lambda m: os.path.relpath(m.group(0), base), value)
  if isinstance(value, dict):
    return {k: portable(v, base) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [portable(v, base) for v in value]
  return value


_atomic_write = atomic.write_text  # the package's one atomic-output helper


def write_run_records(run_dir: str, start: dict[str, Any], configs: dict[str, Any],
                      train_files: Sequence[str], eval_files: dict[str, Sequence[str]],
                      operative_config: Optional[str]) -> None:
  """Writes / updates the run folder's records (see the module docstring).

  Paths in the records are relative to the working directory (`portable`), so that a run
  folder copied into the repository names no folder of the machine that made it.

  `run_info.json` keeps one entry per (re)start; a changed operative config on a resume is
  kept beside the first one as `operative_config-step<N>.gin`.
  """
  os.makedirs(run_dir, exist_ok=True)
  info_path = os.path.join(run_dir, RUN_INFO)
  info: dict[str, Any] = {}
  if os.path.exists(info_path):
    with open(info_path) as f:
      info = json.load(f)
  info.setdefault('created', start['time'])
  info['configs'] = portable(_jsonable(configs))
  info['versions'] = _versions()
  info.setdefault('starts', []).append(portable(_jsonable(start)))
  _atomic_write(info_path, json.dumps(info, indent=1, sort_keys=True))
  manifest = portable({'train': _file_entries(train_files),
                       'eval': {name: _file_entries(files) for name, files in eval_files.items()}})
  _atomic_write(os.path.join(run_dir, DATA_MANIFEST), json.dumps(manifest, indent=1))
  if operative_config is not None:
    path = os.path.join(run_dir, OPERATIVE_CONFIG)
    if not os.path.exists(path):
      _atomic_write(path, operative_config)
    else:
      with open(path) as f:
        if f.read() != operative_config:
          other = os.path.join(run_dir, f'operative_config-step{start["step"]}.gin')
          logging.warning('The gin config differs from the run\'s first one; keeping it as %s',
                          other)
          _atomic_write(other, operative_config)


def is_run_dir(path: str) -> bool:
  """True for a folder holding a `run_info.json`."""
  return os.path.isdir(path) and os.path.exists(os.path.join(path, RUN_INFO))


def read_run_model_config(run_dir: str) -> FilmConfig:
  """The model config a run was trained with (from its `run_info.json`)."""
  with open(os.path.join(run_dir, RUN_INFO)) as f:
    return FilmConfig.from_dict(json.load(f)['configs']['model'])
