"""Our model directory format: a self-describing folder with the config beside the weights.

    <model_dir>/film_model.json   {"format": "film-model", "version": 1, "config": {...},
                                   "weights": "weights.npz", "storage_dtype": "float32",
                                   "num_parameters": N, "metadata": {...}}
    <model_dir>/weights.npz       one array per variable, keyed by FILM's Keras names
                                  (e.g. "fusion/conv2d_3/kernel"), float32 or float16.

`load_model` also accepts a FILM release SavedModel directory or a FILM training checkpoint and
converts it on the fly (see `film.weights.checkpoint_convert`).
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Optional

import numpy as np

from film.media import atomic
from film.weights import checkpoint_convert
from film.net.config import FilmConfig
from film.net.model import FilmNet, count_parameters, named_variables
from film.weights.model_errors import ModelLoadError

MANIFEST = 'film_model.json'
WEIGHTS = 'weights.npz'
FORMAT_NAME = 'film-model'
FORMAT_VERSION = 1


def is_model_dir(path: str) -> bool:
  return os.path.isfile(os.path.join(path, MANIFEST))


def save_model(model: FilmNet, output_dir: str, storage_dtype: str = 'float32',
               metadata: Optional[dict[str, Any]] = None, overwrite: bool = False) -> str:
  """Writes `model` to `output_dir` atomically (temp dir + rename); returns the path."""
  if storage_dtype not in ('float32', 'float16'):
    raise ValueError(f'storage_dtype must be float32 or float16, got {storage_dtype!r}')
  arrays = {name: v.numpy().astype(storage_dtype) for name, v in named_variables(model).items()}
  manifest = {
      'format': FORMAT_NAME, 'version': FORMAT_VERSION, 'config': model.config.to_dict(),
      'weights': WEIGHTS, 'storage_dtype': storage_dtype,
      'num_parameters': count_parameters(model), 'metadata': metadata or {},
  }
  with atomic.output_dir(output_dir, overwrite, flag='overwrite=True (--overwrite)') as tmp:
    np.savez(os.path.join(tmp, WEIGHTS), **arrays)
    with open(os.path.join(tmp, MANIFEST), 'w') as f:
      json.dump(manifest, f, indent=1, sort_keys=True)
  return os.path.abspath(output_dir)


def read_manifest(model_dir: str) -> dict[str, Any]:
  path = os.path.join(model_dir, MANIFEST)
  if not os.path.isfile(path):
    raise ModelLoadError(f'{model_dir} is not a film model directory (no {MANIFEST}); '
                         'convert FILM checkpoints with film-convert')
  try:
    with open(path) as f:
      manifest = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ModelLoadError(f'Cannot read {path}: {e}') from e
  if manifest.get('format') != FORMAT_NAME or manifest.get('version') != FORMAT_VERSION:
    raise ModelLoadError(f'{path}: unsupported format {manifest.get("format")!r} version '
                         f'{manifest.get("version")!r}; expected {FORMAT_NAME!r} v{FORMAT_VERSION}')
  return manifest


def assign_weights(model: FilmNet, arrays: dict[str, np.ndarray], source: str) -> None:
  """Assigns every variable of `model` from `arrays`, or raises listing all mismatches."""
  variables = named_variables(model)
  missing = sorted(set(variables) - set(arrays))
  unexpected = sorted(set(arrays) - set(variables))
  mismatched = [f'{n}: expected {tuple(variables[n].shape)}, got {tuple(arrays[n].shape)}'
                for n in sorted(set(variables) & set(arrays))
                if tuple(variables[n].shape) != tuple(arrays[n].shape)]
  if missing or unexpected or mismatched:
    parts = []
    if missing:
      parts.append(f'missing {len(missing)}: {missing}')
    if unexpected:
      parts.append(f'unexpected {len(unexpected)}: {unexpected}')
    if mismatched:
      parts.append(f'shape mismatch {len(mismatched)}: {mismatched}')
    raise ModelLoadError(f'Weights in {source} do not match the model config '
                         f'({model.config}): ' + '; '.join(parts))
  for name, v in variables.items():
    v.assign(np.asarray(arrays[name], dtype=np.float32))


def load_film_checkpoint(path: str, config: Optional[FilmConfig] = None,
                         pyramid_levels: Optional[int] = None) -> FilmNet:
  """Builds a FilmNet holding the weights of a FILM checkpoint (strict: all or nothing).

  `config` wins; else the config is read off the checkpoint with `pyramid_levels` (default:
  a gin file beside it, else 7; `film.weights.checkpoint_convert.film_config`).
  """
  arrays = checkpoint_convert.read_film_variables(path)
  if config is None:
    config = checkpoint_convert.film_config(path, arrays, pyramid_levels)
  model = FilmNet(config)
  assign_weights(model, arrays, path)
  return model


def load_model(path: str, config: Optional[FilmConfig] = None,
               pyramid_levels: Optional[int] = None) -> FilmNet:
  """Loads our model directory, or converts a FILM SavedModel / training checkpoint.

  `config` and `pyramid_levels` are only used for FILM checkpoints, whose pyramid depth is not
  stored in them (see `load_film_checkpoint`); a model directory has its own config.
  """
  from film.weights import published  # pylint: disable=g-import-not-at-top
  if published.is_model_name(path):  # film:style, film:l1, film:vgg
    path = published.resolve(path)
  if not os.path.exists(path):
    raise ModelLoadError(f'Model path {path} does not exist; pass a film model directory '
                         '(see film-convert) or a FILM SavedModel directory')
  if os.path.isdir(path) and is_model_dir(path):
    manifest = read_manifest(path)
    model_config = FilmConfig.from_dict(manifest['config'])
    weights_path = os.path.join(path, manifest.get('weights', WEIGHTS))
    try:
      with np.load(weights_path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # truncated / not a zip
      raise ModelLoadError(f'Cannot read weights {weights_path}: {e}') from e
    model = FilmNet(model_config)
    assign_weights(model, arrays, weights_path)
    return model
  return load_film_checkpoint(path, config, pyramid_levels)
