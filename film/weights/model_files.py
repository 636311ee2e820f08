"""Cheap integrity check of a model directory's files, before TensorFlow loads it (no TF import).

Our model folder (`film.weights.model_io`): `film_model.json` must parse and `weights.npz` must
be a complete zip archive whose every member passes its CRC. FILM SavedModels / checkpoints have
no such files and are checked by their loader.
"""
from __future__ import annotations

import json
import os
import zipfile

from film.weights.model_errors import ModelLoadError

MANIFEST = 'film_model.json'  # = film.weights.model_io.MANIFEST (kept import-free of numpy/TF)
_FIX = 'reinstall or re-convert the model (film-convert), or pass another --model'


def check_model_files(path: str) -> None:
  """Raises ModelLoadError (one line naming the file and the fix) if `path` is a model folder
  with an unreadable manifest or missing / truncated / CRC-failing weights; else returns."""
  manifest = os.path.join(path, MANIFEST)
  if not os.path.isfile(manifest):
    return
  try:
    with open(manifest, encoding='utf-8') as f:
      weights = os.path.join(path, json.load(f).get('weights', 'weights.npz'))
  except (OSError, ValueError, AttributeError) as e:
    raise ModelLoadError(f'model file {manifest} is unreadable ({e}); {_FIX}') from e
  try:
    with zipfile.ZipFile(weights) as archive:
      bad = archive.testzip()
  except (OSError, zipfile.BadZipFile, EOFError) as e:
    raise ModelLoadError(f'model weights {weights} are missing or corrupt ({e}); {_FIX}') from e
  if bad is not None:
    raise ModelLoadError(f'model weights {weights} are corrupt (member {bad} fails its CRC); '
                         f'{_FIX}')


def check_model_argument(value) -> None:
  """Cheap check (no TensorFlow) of a `--model` value: the bundled model (None / 'default') is
  installed; a published name (`film:style`) is known, and its cached copy, if any, intact; a
  path exists and, if it is our model folder, is intact. ModelLoadError (one line) otherwise."""
  from film.weights import defaults, published  # pylint: disable=g-import-not-at-top
  value = published.model_argument(value)
  if value is None:
    if not defaults.default_model_available():
      raise ModelLoadError(f'no default model is installed (expected '
                           f'{defaults.DEFAULT_MODEL_DIR}); pass --model DIR or a published '
                           'name such as film:style')
    check_model_files(defaults.DEFAULT_MODEL_DIR)
  elif published.is_model_name(value):
    entry = published.lookup(value)
    if published.is_cached(entry):
      check_model_files(published.cached_path(entry))
  elif not os.path.exists(value):
    names = ', '.join(m.name for m in published.MODELS.values())
    raise ModelLoadError(f'model {value} does not exist; pass --model with a film model '
                         f'directory (film-convert output), a FILM SavedModel, or one of {names}')
  else:
    check_model_files(value)
