"""The FILM training job: configs, run folder, training loop, summaries, evaluation and export.

Entry points (all take plain arguments; gin is parsed only in `run_from_gin` / the CLI):

* `run_from_gin(gin_configs, gin_params, base_folder, label, mode)`: parses gin, builds the
  configs and strategy, calls `train`.
* `train(run_dir, strategy, model_config, training, data, evaluation, loss_terms, ...)`:
  resumes from the run's latest checkpoint (if any), trains to `training.num_steps`, writes
  summaries / evaluation history / checkpoints, exports the final model.
* `export_checkpoint(path, output_dir)`: exports a run's (or a checkpoint's) weights to our
  model directory (and a SavedModel when `film.export` is available).

A run folder `<base_folder>/<label>/` records what made it:

    operative_config.gin     the resolved gin config (every parameter actually used)
    run_info.json            versions, command line, host, strategy, configs, one entry per start
    data_manifest.json       the training / evaluation record files (with sizes)
    checkpoints/             ckpt-<step>.* and the `checkpoint` index (CheckpointManager)
    summaries/train, summaries/eval    TensorBoard event files
    eval_history.csv / .jsonl          evaluation results per step and dataset
    export/model/            the final model (film.model_io format); export/saved_model/ too
                             when film.export exists

Gin names follow FILM's configs: `model.*` (film.config), `training.*`, `training_dataset.*`,
`eval_datasets.*`, `training_losses.*` and `PerceptualConfig.*` (training.losses),
`Augmentation.*` (training.input_pipeline).
"""
from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import json
import os
import platform
import socket
import sys
import time
from typing import Any, Optional, Sequence, Union

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from film import config as film_config
from film import model_io
from film.config import FilmConfig
from film.model import named_variables
from film.training import distribute
from film.training import evaluation as eval_lib
from film.training import input_pipeline
from film.training import losses as losses_lib
from film.training import summaries
from film.training.trainer import NonFiniteLossError, Trainer, learning_rate_schedule
from film.training.trainer import parse_compute_dtype, resolve_compute_dtype

CHECKPOINT_SUBDIR = 'checkpoints'
EXPORT_MODEL_SUBDIR = os.path.join('export', 'model')
EXPORT_SAVED_MODEL_SUBDIR = os.path.join('export', 'saved_model')
OPERATIVE_CONFIG = 'operative_config.gin'
RUN_INFO = 'run_info.json'
DATA_MANIFEST = 'data_manifest.json'


class TrainingInterrupted(Exception):
  """Raised (e.g. from a SIGTERM handler) to stop training after a final checkpoint."""


# ------------------------------------------------------------------------------ configs

@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """Optimisation, checkpointing and logging of a run (gin: `training.*`).

  Attributes:
    learning_rate, learning_rate_decay_steps, learning_rate_decay_rate,
      learning_rate_staircase: Adam's `ExponentialDecay` schedule (FILM: 1e-4, 750000,
      0.464158 = 10**(-1/3), staircase).
    num_steps: train until the step counter reaches this.
    compute_dtype: 'float32', 'bfloat16' (CPU with AVX512-BF16 or AMX, TPU), 'float16' (GPU;
      adds dynamic loss scaling) or 'auto' (bfloat16 where the CPU computes it natively, else
      float32: emulated bfloat16 is many times slower).
    seed: weight initialisation and data order/augmentation (resumed runs use seed + step
      so they do not replay the first batches); None: random.
    checkpoint_every: steps between checkpoints (one is also written on exit).
    checkpoint_max_to_keep: checkpoints kept.
    log_every: steps between log lines (loss, learning rate, steps/s).
    summary_every: steps between scalar summaries.
    image_summary_every: steps between image summaries (0: never).
    eval_every: steps between evaluations (0: only at the end; needs eval files).
    max_images: examples shown per image summary.
    init_model: weights a new run starts from (a film model directory or a FILM SavedModel /
      checkpoint, as `film.model_io.load_model` reads them); ignored when the run already has
      a checkpoint (resuming wins). The optimizer starts fresh.
    init_reset_output: after `init_model`, zero the fusion decoder's output convolution. With
      `model.residual_fusion = True` the run then starts exactly from the blend of the warped
      frames (how a FILM-style model is switched to residual fusion).
  """
  learning_rate: float = 1e-4
  learning_rate_decay_steps: int = 750000
  learning_rate_decay_rate: float = 0.464158
  learning_rate_staircase: bool = True
  num_steps: int = 3000000
  compute_dtype: str = 'float32'
  seed: Optional[int] = 0
  checkpoint_every: int = 5000
  checkpoint_max_to_keep: int = 5
  log_every: int = 10
  summary_every: int = 100
  image_summary_every: int = 5000
  eval_every: int = 50000
  max_images: int = 2
  init_model: str = ''
  init_reset_output: bool = False

  def __post_init__(self):
    parse_compute_dtype(self.compute_dtype)
    if self.init_reset_output and not self.init_model:
      raise ValueError('training.init_reset_output needs training.init_model')
    for field in ('num_steps', 'checkpoint_every', 'log_every', 'summary_every',
                  'learning_rate_decay_steps', 'checkpoint_max_to_keep', 'max_images'):
      if int(getattr(self, field)) < 1:
        raise ValueError(f'training.{field} must be >= 1, got {getattr(self, field)}')
    if self.image_summary_every < 0 or self.eval_every < 0:
      raise ValueError('training.image_summary_every and eval_every must be >= 0')
    if not self.learning_rate > 0:
      raise ValueError(f'training.learning_rate must be > 0, got {self.learning_rate}')


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
  """Training data (gin: `training_dataset.*`).

  Attributes:
    files: a records folder, glob pattern or list of shards (see `input_pipeline`).
    batch_size: the global batch (split over replicas; must be divisible by their number).
    crop_size: square crop side in pixels (must be a multiple of the model's alignment).
    augment: apply `input_pipeline.Augmentation()` (gin-configurable).
    shuffle_buffer: records in the shuffle buffer.
  """
  files: Union[str, tuple[str, ...]] = ''
  batch_size: int = 8
  crop_size: int = 256
  augment: bool = True
  shuffle_buffer: int = 1024

  def __post_init__(self):
    if not isinstance(self.files, str):
      object.__setattr__(self, 'files', tuple(self.files))
    if not self.files:
      raise ValueError('training_dataset.files is empty: pass --train_data or '
                       "--gin_params=\"training_dataset.files='/path/to/records'\"")
    if self.batch_size < 1 or self.crop_size < 1:
      raise ValueError('training_dataset.batch_size and crop_size must be >= 1')


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """Validation data evaluated during training (gin: `eval_datasets.*`).

  Attributes:
    files: one records folder / pattern / shard per dataset (empty: no evaluation).
    names: a name per dataset (default: the files' base names; ignored without files).
    batch_size: keep 1 for full frames of different sizes.
    max_examples: examples per dataset and evaluation (-1: all).
    crop_size: center crop side (0: full frames).
  """
  files: tuple[str, ...] = ()
  names: tuple[str, ...] = ()
  batch_size: int = 1
  max_examples: int = -1
  crop_size: int = 0

  def __post_init__(self):
    files = (self.files,) if isinstance(self.files, str) else tuple(self.files)
    names = () if not files else tuple(self.names) or tuple(
        os.path.basename(os.path.normpath(f)).split('*')[0].split('.tfrecord')[0] or f'eval{i}'
        for i, f in enumerate(files))
    if len(names) != len(files):
      raise ValueError(f'eval_datasets: {len(files)} files but {len(names)} names')
    object.__setattr__(self, 'files', files)
    object.__setattr__(self, 'names', names)


@gin.configurable('training')
def training_config(**kwargs: Any) -> TrainingConfig:
  """`TrainingConfig` from gin bindings `training.<field> = ...` (any `TrainingConfig` field;
  an unknown name fails here with the dataclass' TypeError)."""
  return TrainingConfig(**kwargs)


@gin.configurable('training_dataset')
def dataset_config(files: Union[str, Sequence[str]] = '', batch_size: int = 8,
                   crop_size: int = 256, augment: bool = True,
                   shuffle_buffer: int = 1024) -> DatasetConfig:
  """`DatasetConfig` from gin bindings `training_dataset.<field> = ...`."""
  return DatasetConfig(files=files if isinstance(files, str) else tuple(files),
                       batch_size=batch_size, crop_size=crop_size, augment=augment,
                       shuffle_buffer=shuffle_buffer)


@gin.configurable('eval_datasets')
def eval_config(files: Sequence[str] = (), names: Sequence[str] = (), batch_size: int = 1,
                max_examples: int = -1, crop_size: int = 0) -> EvalConfig:
  """`EvalConfig` from gin bindings `eval_datasets.<field> = ...`."""
  return EvalConfig(files=tuple([files] if isinstance(files, str) else files),
                    names=tuple(names), batch_size=batch_size, max_examples=max_examples,
                    crop_size=crop_size)


@dataclasses.dataclass
class TrainResult:
  """What `train` did (for callers and tests)."""
  run_dir: str
  start_step: int
  final_step: int
  iterations: int
  learning_rate: float
  last_loss: Optional[float]
  restored_from: Optional[str]
  last_checkpoint: Optional[str]
  export_dir: Optional[str]
  saved_model_dir: Optional[str]
  eval_results: dict[str, dict[str, float]]


# ------------------------------------------------------------------------------ run records

def _versions() -> dict[str, str]:
  import keras  # pylint: disable=g-import-not-at-top
  out = {'python': sys.version.split()[0], 'tensorflow': tf.__version__,
         'keras': keras.__version__, 'numpy': np.__version__,
         'gin': getattr(gin, '__version__', 'unknown'), 'platform': platform.platform()}
  try:
    from importlib import metadata  # pylint: disable=g-import-not-at-top
    out['film'] = metadata.version('film')
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


def write_run_records(run_dir: str, start: dict[str, Any], configs: dict[str, Any],
                      train_files: Sequence[str], eval_files: dict[str, Sequence[str]],
                      operative_config: Optional[str]) -> None:
  """Writes / updates the run folder's records (see the module docstring).

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
  info['configs'] = _jsonable(configs)
  info['versions'] = _versions()
  info.setdefault('starts', []).append(_jsonable(start))
  _atomic_write(info_path, json.dumps(info, indent=1, sort_keys=True))
  manifest = {'train': _file_entries(train_files),
              'eval': {name: _file_entries(files) for name, files in eval_files.items()}}
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


def _atomic_write(path: str, text: str) -> None:
  tmp = f'{path}.tmp-{os.getpid()}'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)


def read_run_model_config(run_dir: str) -> FilmConfig:
  """The model config a run was trained with (from its `run_info.json`)."""
  with open(os.path.join(run_dir, RUN_INFO)) as f:
    return FilmConfig.from_dict(json.load(f)['configs']['model'])


# ------------------------------------------------------------------------------ export

def saved_model_export_available() -> bool:
  """True when the package's SavedModel exporter (`film.export`) is installed."""
  return importlib.util.find_spec('film.export') is not None


def export_model(model: Any, run_dir: str, metadata: dict[str, Any],
                 saved_model: bool = True) -> tuple[str, Optional[str]]:
  """Exports `model` to `<run_dir>/export/model` (and a SavedModel when available).

  Returns (model directory, SavedModel directory or None).
  """
  model_dir = model_io.save_model(model, os.path.join(run_dir, EXPORT_MODEL_SUBDIR),
                                  metadata=metadata, overwrite=True)
  logging.info('Exported the model to %s', model_dir)
  saved_model_dir = None
  if saved_model and saved_model_export_available():
    from film import export as export_lib  # pylint: disable=g-import-not-at-top
    saved_model_dir = os.path.join(run_dir, EXPORT_SAVED_MODEL_SUBDIR)
    _export_saved_model(export_lib, model_dir, saved_model_dir)
    logging.info('Exported a SavedModel to %s', saved_model_dir)
  return model_dir, saved_model_dir


def _export_saved_model(export_lib: Any, model_dir: str, output_dir: str) -> None:
  """Calls film.export's SavedModel exporter on a saved model directory."""
  model = model_io.load_model(model_dir)
  export_lib.export_saved_model(model, output_dir, overwrite=True)


def export_checkpoint(path: str, output_dir: Optional[str] = None,
                      model_config: Optional[FilmConfig] = None,
                      saved_model: bool = True) -> tuple[str, Optional[str]]:
  """Exports the weights of a run folder's latest checkpoint (or of one checkpoint prefix).

  Args:
    path: a run folder (uses its latest checkpoint and `run_info.json`), a checkpoint folder,
      or a checkpoint prefix such as `.../checkpoints/ckpt-1000`.
    output_dir: where `export/model` (and `export/saved_model`) go; default: the run folder.
    model_config: needed when `path` is not inside a run folder.

  Returns:
    (model directory, SavedModel directory or None).
  """
  run_dir = None
  if os.path.isdir(path) and os.path.exists(os.path.join(path, RUN_INFO)):
    run_dir, prefix = path, tf.train.latest_checkpoint(os.path.join(path, CHECKPOINT_SUBDIR))
  elif os.path.isdir(path):
    prefix = tf.train.latest_checkpoint(path)
    parent = os.path.dirname(os.path.normpath(path))
    run_dir = parent if os.path.exists(os.path.join(parent, RUN_INFO)) else None
  else:
    prefix = path
    parent = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    run_dir = parent if os.path.exists(os.path.join(parent, RUN_INFO)) else None
  if not prefix or not tf.io.gfile.exists(prefix + '.index'):
    raise FileNotFoundError(f'No checkpoint found at {path}')
  if model_config is None:
    if run_dir is None:
      raise ValueError(f'{path} is not inside a run folder: pass the model config')
    model_config = read_run_model_config(run_dir)
  from film.model import FilmNet  # pylint: disable=g-import-not-at-top
  model = FilmNet(model_config)
  step = tf.Variable(0, dtype=tf.int64)
  tf.train.Checkpoint(model=model, step=step).read(prefix).expect_partial() \
      .assert_existing_objects_matched()
  output_dir = output_dir or run_dir or os.path.dirname(os.path.abspath(prefix))
  metadata = {'checkpoint': os.path.abspath(prefix), 'step': int(step.numpy()),
              'exported': datetime.datetime.now().isoformat(timespec='seconds')}
  return export_model(model, output_dir, metadata, saved_model=saved_model)


# ------------------------------------------------------------------------------ training

def warm_start(model: Any, path: str, reset_output: bool = False) -> None:
  """Copies the weights of the model at `path` into `model` (same architecture; the
  `residual_fusion` flag may differ), optionally zeroing the fusion output convolution.

  Raises:
    film.model_io.ModelLoadError: unreadable model or mismatched variables (all listed).
  """
  source = model_io.load_model(path, config=model.config)
  arrays = {name: v.numpy() for name, v in named_variables(source).items()}
  model_io.assign_weights(model, arrays, path)
  if reset_output:
    for variable in model.fusion.output_conv.trainable_variables:
      variable.assign(tf.zeros_like(variable))
  logging.info('Initialised from %s%s', path, ' (fusion output zeroed)' if reset_output else '')


def _drop_strings(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
  """Keeps the numeric tensors (TPUs and collectives cannot carry the `path` strings)."""
  return {k: v for k, v in batch.items() if v.dtype != tf.string}


def _shard_policy(num_files: int, strategy: tf.distribute.Strategy) -> tf.data.Options:
  workers = getattr(strategy.extended, '_num_workers', 1) or 1
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.FILE if num_files >= workers
      else tf.data.experimental.AutoShardPolicy.DATA)
  return options


class _Previewer:
  """Image summaries: inputs, prediction, ground truth, |error|, flows and warped frames."""

  def __init__(self, model: Any, compute_dtype: Optional[tf.DType]):
    self.model = model

    @tf.function(reduce_retracing=True)
    def _predict(x0, x1, time_):
      return self.model(x0, x1, time_, aux_outputs=True, compute_dtype=compute_dtype)

    self._predict = _predict

  def write(self, batch: dict[str, tf.Tensor], step: int, max_images: int) -> None:
    batch = {k: v[:max_images] for k, v in batch.items()}
    out = self._predict(batch['x0'], batch['x1'], batch['time'])
    images = {
        'x0': batch['x0'], 'x1': batch['x1'], 'y': batch['y'], 'prediction': out['image'],
        'abs_error': tf.abs(tf.clip_by_value(out['image'], 0.0, 1.0) - batch['y']),
        'forward_flow': summaries.flow_to_rgb(out['forward_flow']),
        'backward_flow': summaries.flow_to_rgb(out['backward_flow']),
        'x0_warped': out['x0_warped'], 'x1_warped': out['x1_warped'],
    }
    for name, value in images.items():
      summaries.write_images(f'training/{name}', value, step, max_outputs=max_images)


def train(run_dir: str, strategy: tf.distribute.Strategy, model_config: FilmConfig,
          training: TrainingConfig, data: DatasetConfig, evaluation: EvalConfig,
          loss_terms: Sequence[losses_lib.LossTerm],
          perceptual: Optional[losses_lib.PerceptualConfig] = None,
          operative_config: Optional[str] = None, command_line: Optional[Sequence[str]] = None,
          export: bool = True) -> TrainResult:
  """Trains (or resumes) the run in `run_dir` up to `training.num_steps`.

  Args:
    run_dir: the run folder; an existing one is resumed from its latest checkpoint.
    strategy: from `training.distribute.get_strategy`.
    model_config: the FILM network.
    training, data, evaluation: see `TrainingConfig`, `DatasetConfig`, `EvalConfig`.
    loss_terms: weighted losses (`losses.training_losses()` / `losses.RECIPES[...]`).
    perceptual: VGG backbone settings of `vgg` / `style` terms.
    operative_config: the resolved gin config text to record.
    command_line: recorded in `run_info.json` (default `sys.argv`).
    export: export the final model at the end.

  Returns:
    A `TrainResult`.

  Raises:
    NonFiniteLossError: the loss became NaN/Inf (no checkpoint is written after it).
  """
  run_dir = os.path.abspath(run_dir)
  chief = distribute.is_chief(strategy)
  os.makedirs(run_dir, exist_ok=True)
  replicas = strategy.num_replicas_in_sync
  if data.batch_size % replicas:
    raise ValueError(f'training_dataset.batch_size {data.batch_size} is not divisible by the '
                     f'{replicas} replicas')
  if data.crop_size % model_config.alignment:
    raise ValueError(f'training_dataset.crop_size {data.crop_size} must be a multiple of '
                     f'{model_config.alignment} (2**(pyramid_levels-1))')
  compute_dtype_name = resolve_compute_dtype(training.compute_dtype)
  compute_dtype = parse_compute_dtype(compute_dtype_name)
  loss_fn = losses_lib.WeightedLoss(loss_terms, perceptual)
  trainer = Trainer(
      strategy, model_config, loss_fn,
      learning_rate_schedule(training.learning_rate, training.learning_rate_decay_steps,
                             training.learning_rate_decay_rate, training.learning_rate_staircase),
      global_batch_size=data.batch_size,
      checkpoint_dir=os.path.join(run_dir, CHECKPOINT_SUBDIR), compute_dtype=compute_dtype,
      seed=training.seed, max_to_keep=training.checkpoint_max_to_keep,
      aux_outputs=any(t.name in losses_lib.AUX_OUTPUT_LOSSES for t in loss_terms),
      is_chief=chief)
  restored = trainer.restore_or_initialize()
  if restored is None and training.init_model:
    with strategy.scope():
      warm_start(trainer.model, training.init_model, training.init_reset_output)
  start_step = trainer.current_step

  train_files = input_pipeline.resolve_files(data.files)
  eval_files = {name: input_pipeline.resolve_files(files)
                for name, files in zip(evaluation.names, evaluation.files)}
  if chief:
    start = {'time': datetime.datetime.now().isoformat(timespec='seconds'), 'step': start_step,
             'compute_dtype': compute_dtype_name,
             'restored_from': restored, 'host': socket.gethostname(), 'pid': os.getpid(),
             'command_line': list(command_line if command_line is not None else sys.argv),
             'strategy': type(strategy).__name__, 'replicas': replicas,
             'devices': [d.name for d in tf.config.list_logical_devices()]}
    configs = {'model': model_config.to_dict(), 'training': training, 'training_dataset': data,
               'eval_datasets': evaluation, 'losses': list(loss_terms),
               'perceptual': perceptual}
    write_run_records(run_dir, start, configs, train_files, eval_files, operative_config)
  logging.info('Run %s: %s, %d replica(s), step %d -> %d, global batch %d, crop %d, %s',
               run_dir, type(strategy).__name__, replicas, start_step, training.num_steps,
               data.batch_size, data.crop_size, compute_dtype_name +
               (' (auto)' if training.compute_dtype == 'auto' else ''))

  seed = None if training.seed is None else training.seed + start_step
  dataset = input_pipeline.create_dataset(
      train_files, batch_size=data.batch_size, crop_size=(data.crop_size, data.crop_size),
      augment=data.augment, shuffle_buffer=data.shuffle_buffer, repeat=True, seed=seed,
      teacher_flow=any(t.name in losses_lib.TEACHER_LOSSES for t in loss_terms))
  dataset = dataset.map(_drop_strings).with_options(_shard_policy(len(train_files), strategy))
  dist_dataset = strategy.experimental_distribute_dataset(dataset)
  eval_sets = {name: input_pipeline.create_eval_dataset(
      files, batch_size=evaluation.batch_size,
      crop_size=(evaluation.crop_size,) * 2 if evaluation.crop_size else None)
      for name, files in eval_files.items()}

  summary_root = os.path.join(run_dir, 'summaries')
  train_writer = (tf.summary.create_file_writer(os.path.join(summary_root, 'train')) if chief
                  else tf.summary.create_noop_writer())
  eval_writer = (tf.summary.create_file_writer(os.path.join(summary_root, 'eval')) if chief
                 else tf.summary.create_noop_writer())
  evaluator = eval_lib.Evaluator(trainer.model, compute_dtype)
  previewer = _Previewer(trainer.model, compute_dtype)
  eval_results: dict[str, dict[str, float]] = {}

  def run_evaluation(step: int) -> None:
    if not chief or not eval_sets:
      return
    for name, ds in eval_sets.items():
      result = evaluator.evaluate(ds, evaluation.max_examples)
      eval_results[name] = result
      eval_lib.append_history(run_dir, step, name, result)
      with eval_writer.as_default():
        for key in ('psnr', 'ssim', 'l1'):
          summaries.write_scalar(f'eval/{name}/{key}', result[key], step)
    eval_writer.flush()

  step = start_step
  last_saved = start_step if restored else None
  last_eval = None
  last_values: Optional[dict[str, float]] = None
  window_start, window_steps, window_train_s, window_wait_s = time.time(), 0, 0.0, 0.0
  iterator = iter(dist_dataset)
  try:
    while step < training.num_steps:
      t0 = time.time()
      batch = next(iterator)
      t1 = time.time()
      last_values = trainer.train_step(batch)
      t2 = time.time()
      step = trainer.current_step
      window_steps += 1
      window_wait_s += t1 - t0
      window_train_s += t2 - t1

      if step % training.summary_every == 0 or step % training.log_every == 0:
        elapsed = max(time.time() - window_start, 1e-9)
        steps_per_s = window_steps / elapsed
        wait_fraction = window_wait_s / elapsed
        if step % training.log_every == 0:
          terms = ', '.join(f'{k[5:]} {v:.4f}' for k, v in last_values.items()
                            if k.startswith('loss/'))
          logging.info('step %d/%d  loss %.5f (%s)  lr %.3g  %.3f steps/s (%.2f s/step, '
                       'input wait %.0f%%)', step, training.num_steps, last_values['loss'],
                       terms, trainer.learning_rate, steps_per_s, 1.0 / steps_per_s,
                       100 * wait_fraction)
        if step % training.summary_every == 0:
          with train_writer.as_default():
            for key, value in last_values.items():
              summaries.write_scalar(f'training/{key}', value, step)
            summaries.write_scalar('training/learning_rate', trainer.learning_rate, step)
            summaries.write_scalar('training/steps_per_second', steps_per_s, step)
            summaries.write_scalar('training/input_wait_fraction', wait_fraction, step)
        window_start, window_steps, window_train_s, window_wait_s = time.time(), 0, 0.0, 0.0

      if chief and training.image_summary_every and step % training.image_summary_every == 0:
        local = strategy.experimental_local_results(batch)[0]
        with train_writer.as_default():
          previewer.write(local, step, training.max_images)
        window_start = time.time()
      if step % training.checkpoint_every == 0:
        trainer.save()
        last_saved = step
        window_start = time.time()
      if training.eval_every and step % training.eval_every == 0:
        run_evaluation(step)
        last_eval = step
        window_start = time.time()
  except NonFiniteLossError as e:
    logging.error('%s', e)
    train_writer.flush()
    raise
  except (KeyboardInterrupt, TrainingInterrupted):
    if last_saved != trainer.current_step:
      logging.warning('Interrupted at step %d: writing a final checkpoint', trainer.current_step)
      trainer.save()
    raise
  finally:
    train_writer.flush()

  last_checkpoint = trainer.manager.latest_checkpoint
  if last_saved != step:
    last_checkpoint = trainer.save()
  if last_eval != step:
    run_evaluation(step)
  export_dir = saved_model_dir = None
  if export and chief:
    metadata = {'run_dir': run_dir, 'step': step, 'checkpoint': last_checkpoint,
                'compute_dtype': compute_dtype_name,
                'losses': [t.name for t in loss_terms],
                'exported': datetime.datetime.now().isoformat(timespec='seconds')}
    export_dir, saved_model_dir = export_model(trainer.model, run_dir, metadata)
  logging.info('Finished at step %d (optimizer iterations %d)', step, trainer.iterations)
  return TrainResult(run_dir=run_dir, start_step=start_step, final_step=step,
                     iterations=trainer.iterations, learning_rate=trainer.learning_rate,
                     last_loss=None if last_values is None else last_values['loss'],
                     restored_from=restored, last_checkpoint=last_checkpoint,
                     export_dir=export_dir, saved_model_dir=saved_model_dir,
                     eval_results=eval_results)


# ------------------------------------------------------------------------------ gin edge

def parse_gin(gin_configs: Sequence[str], gin_params: Sequence[str] = ()) -> None:
  """Clears gin and binds the config files and `name.param = value` overrides."""
  gin.clear_config()
  gin.parse_config_files_and_bindings(list(gin_configs), list(gin_params),
                                      finalize_config=False)


def run_from_gin(gin_configs: Sequence[str], gin_params: Sequence[str] = (),
                 base_folder: str = 'runs', label: str = 'run', mode: str = 'cpu',
                 logical_cpus: int = 0, tpu_address: str = '',
                 strategy: Optional[tf.distribute.Strategy] = None,
                 export: bool = True) -> TrainResult:
  """Parses gin, builds every config (binding them here, at the edge) and calls `train`.

  Args:
    gin_configs: gin files, e.g. ['gin_configs/film_net-small-cpu.gin'].
    gin_params: overrides, e.g. ["training.num_steps = 10"].
    base_folder, label: the run folder is `<base_folder>/<label>`.
    mode, logical_cpus, tpu_address: see `training.distribute.get_strategy`.
    strategy: an existing strategy (overrides `mode`).
    export: export the final model.
  """
  parse_gin(gin_configs, gin_params)
  model_config = film_config.model_config()
  training = training_config()
  data = dataset_config()
  evaluation = eval_config()
  loss_terms = losses_lib.training_losses()
  perceptual = losses_lib.PerceptualConfig()
  # Build the (gin-configured) augmentation once so the operative config records it.
  input_pipeline.Augmentation()
  if strategy is None:
    strategy = distribute.get_strategy(mode, logical_cpus=logical_cpus, tpu_address=tpu_address)
  return train(os.path.join(base_folder, label), strategy, model_config, training, data,
               evaluation, loss_terms, perceptual, operative_config=gin.operative_config_str(),
               export=export)
