"""The worker process's model cache of a batch job: one `Interpolator` per model and arguments,
loaded (and its graphs traced) on first use and shared by every DoFn instance of the process.

`film.batch.beam.InterpolateItemFn.setup` calls `shared_interpolator`; `report_load` lets exactly
one DoFn count each load in Beam's `model_loads` counter.
"""
from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from film import cli
from film.inference import pipeline
from film.batch import storage

if TYPE_CHECKING:
  from film.batch.jobs import BatchJob

_MODELS: dict[str, tuple[Any, threading.Lock]] = {}
_UNREPORTED: set[str] = set()  # Loads no DoFn has counted yet (see `report_load`).
_MODELS_LOCK = threading.Lock()
model_loads = 0  # Models loaded by this process (`shared_interpolator`); read by tests.


def _model_key(job: BatchJob) -> str:
  return json.dumps([job.model, job.interpolator_kwargs], sort_keys=True, default=str)


def shared_interpolator(job: BatchJob) -> tuple[Any, threading.Lock]:
  """This process's `Interpolator` for `job`'s model and arguments (loaded on first use) and the
  lock that serialises its use (an Interpolator is not thread-safe; TensorFlow already uses
  every core of the process inside each item).

  Raises `film.inference.pipeline.InputError` ('cannot set up the model: ...') for arguments the
  Interpolator refuses (e.g. a memory cap below the model's size).
  """
  global model_loads
  key = _model_key(job)
  with _MODELS_LOCK:
    if key not in _MODELS:
      with cli.quiet_native_stderr():
        import tensorflow as tf
        if job.intra_op_threads:
          try:
            tf.config.threading.set_intra_op_parallelism_threads(job.intra_op_threads)
          except RuntimeError:  # TensorFlow already initialised in this process.
            pass
        from film.inference.interpolator import Interpolator
        model = job.model
        if model and storage.is_url(model):
          model = storage.stage_model(model)
        try:
          interpolator = Interpolator.from_path(model, **job.interpolator_kwargs)
        except ValueError as e:
          if isinstance(e, cli.UserError):
            raise
          raise pipeline.InputError(f'cannot set up the model: {e}') from e
      _MODELS[key] = (interpolator, threading.Lock())
      _UNREPORTED.add(key)
      model_loads += 1
    return _MODELS[key]


def report_load(job: BatchJob) -> bool:
  """True once per model load of this process: for the DoFn that reports it to Beam."""
  with _MODELS_LOCK:
    key = _model_key(job)
    if key in _UNREPORTED:
      _UNREPORTED.discard(key)
      return True
    return False


def release_models() -> None:
  """Forgets this process's cached models (the next `shared_interpolator` loads again)."""
  with _MODELS_LOCK:
    _MODELS.clear()
    _UNREPORTED.clear()
