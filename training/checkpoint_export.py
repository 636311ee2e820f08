"""Exporting a run: its final model, or any checkpoint, as a model directory and a SavedModel.

`<run_dir>/export/model/` is our model directory (`film.weights.model_io`); `export/saved_model/` the
serving SavedModel of the same weights (`film.weights.export`). `film-export-checkpoint` /
`film-train --export_only` call `export_checkpoint`; the training loop calls `export_model`.
"""
from __future__ import annotations

import datetime
import os
from typing import Any, Optional

from absl import logging
import tensorflow as tf

from film import cli
from film.weights import export as export_lib
from film.weights import model_io
from film.net.config import FilmConfig
from film.net.model import FilmNet
from film.training import run_records


class CheckpointExportError(cli.UserError):
  """A checkpoint to export that is missing or lacks its model config (one line, `film.cli`)."""


def export_model(model: FilmNet, run_dir: str, metadata: dict[str, Any],
                 saved_model: bool = True) -> tuple[str, Optional[str]]:
  """Exports `model` to `<run_dir>/export/model` (and `export/saved_model`).

  Returns (model directory, SavedModel directory or None when `saved_model` is False).
  """
  model_dir = model_io.save_model(model, os.path.join(run_dir, run_records.EXPORT_MODEL_SUBDIR),
                                  metadata=metadata, overwrite=True)
  logging.info('Exported the model to %s', model_dir)
  saved_model_dir = None
  if saved_model:
    saved_model_dir = os.path.join(run_dir, run_records.EXPORT_SAVED_MODEL_SUBDIR)
    # From the saved directory, so the SavedModel holds exactly the exported weights.
    export_lib.export_saved_model(model_io.load_model(model_dir), saved_model_dir, overwrite=True)
    logging.info('Exported a SavedModel to %s', saved_model_dir)
  return model_dir, saved_model_dir


def _run_dir_of(path: str) -> Optional[str]:
  """The run folder holding `path` (a run folder, checkpoint folder or checkpoint prefix)."""
  if run_records.is_run_dir(path):
    return path
  parent = (os.path.dirname(os.path.normpath(path)) if os.path.isdir(path)
            else os.path.dirname(os.path.dirname(os.path.abspath(path))))
  return parent if run_records.is_run_dir(parent) else None


def export_checkpoint(path: str, output_dir: Optional[str] = None,
                      model_config: Optional[FilmConfig] = None,
                      saved_model: bool = True) -> tuple[str, Optional[str]]:
  """Exports the weights of a run folder's latest checkpoint (or of one checkpoint prefix).

  Args:
    path: a run folder (uses its latest checkpoint and `run_info.json`), a checkpoint folder,
      or a checkpoint prefix such as `.../checkpoints/ckpt-1000`.
    output_dir: where `export/model` (and `export/saved_model`) go; default: the run folder.
    model_config: needed when `path` is not inside a run folder.
    saved_model: also write the SavedModel.

  Returns:
    (model directory, SavedModel directory or None).
  """
  run_dir = _run_dir_of(path)
  if run_records.is_run_dir(path):
    prefix = tf.train.latest_checkpoint(os.path.join(path, run_records.CHECKPOINT_SUBDIR))
  elif os.path.isdir(path):
    prefix = tf.train.latest_checkpoint(path)
  else:
    prefix = path
  if not prefix or not tf.io.gfile.exists(prefix + '.index'):
    raise CheckpointExportError(f'no checkpoint found at {path}; pass the --base_folder and '
                                '--label of a run that has saved one, or --checkpoint PREFIX')
  if model_config is None:
    if run_dir is None:
      raise CheckpointExportError(f'{path} is not inside a run folder, so its model config is '
                                  'unknown; pass the run\'s --gin_config too')
    model_config = run_records.read_run_model_config(run_dir)
  model = FilmNet(model_config)
  step = tf.Variable(0, dtype=tf.int64)
  tf.train.Checkpoint(model=model, step=step).read(prefix).expect_partial() \
      .assert_existing_objects_matched()
  output_dir = output_dir or run_dir or os.path.dirname(os.path.abspath(prefix))
  metadata = {'checkpoint': os.path.abspath(prefix), 'step': int(step.numpy()),
              'exported': datetime.datetime.now().isoformat(timespec='seconds')}
  return export_model(model, output_dir, metadata, saved_model=saved_model)
