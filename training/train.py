"""The FILM training loop: `train(run_dir, strategy, config)`, and `run_from_gin` around it.

`train` follows FILM's recipe:

1. the model, Keras Adam on an exponentially decaying learning rate and the weighted losses
   (`trainer.Trainer`);
2. resume from the run's latest checkpoint, else warm-start from `training.init_model`;
3. record what makes the run in its folder (`run_records`);
4. stream augmented triplet batches (`input_pipeline`; with DIS teacher flows when a loss
   needs them);
5. loop to `training.num_steps`: one distributed step, then log lines and scalar summaries,
   image summaries, checkpoints and evaluations at their intervals;
6. a last checkpoint and evaluation, and the export of the final model (`checkpoint_export`).

Ctrl-C, SIGTERM and SIGHUP (KeyboardInterrupt / `film.cli.Interrupted`) write a final checkpoint; a
non-finite loss (`NonFiniteLossError`) stops the run without one.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import socket
import sys
import time
from typing import Any, Optional, Sequence

from absl import logging
import tensorflow as tf

from film import cli
from film.weights import model_io
from film.net.model import named_variables
from film.training import checkpoint_export
from film.training import configs as configs_lib
from film.training import distribute
from film.training import evaluation as eval_lib
from film.training import input_pipeline
from film.training import losses as losses_lib
from film.training import run_records
from film.training import summaries
from film.training.trainer import NonFiniteLossError, Trainer, learning_rate_schedule
from film.training.trainer import parse_compute_dtype, resolve_compute_dtype


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


def warm_start(model: Any, path: str, reset_output: bool = False) -> None:
  """Copies the weights of the model at `path` into `model` (same architecture; the
  `residual_fusion` flag may differ, and a flow-prior `model` may start from a model without
  one: its prior gates keep their initial zeros), optionally zeroing the fusion output
  convolution.

  Raises:
    film.weights.model_io.ModelLoadError: unreadable model or mismatched variables (all listed).
  """
  source_config = model.config
  if model.config.has_flow_prior and not _source_has_prior(path):
    source_config = dataclasses.replace(model.config, flow_prior='none')
  source = model_io.load_model(path, config=source_config)
  arrays = {name: v.numpy() for name, v in named_variables(source).items()}
  if source_config is not model.config:  # New variables of the prior keep their zero init.
    arrays.update({name: v.numpy() for name, v in named_variables(model).items()
                   if name not in arrays})
  model_io.assign_weights(model, arrays, path)
  if reset_output:
    for variable in model.fusion.output_conv.trainable_variables:
      variable.assign(tf.zeros_like(variable))
  logging.info('Initialised from %s%s', path, ' (fusion output zeroed)' if reset_output else '')


def _source_has_prior(path: str) -> bool:
  """Whether the model directory at `path` has a flow prior (FILM SavedModels never do)."""
  if not model_io.is_model_dir(path):
    return False
  return model_io.read_manifest(path).get('config', {}).get('flow_prior', 'none') != 'none'


# ------------------------------------------------------------------------------ pieces

def _check_shapes(config: configs_lib.RunConfig, replicas: int) -> None:
  data = config.data
  if data.batch_size % replicas:
    raise ValueError(f'training_dataset.batch_size {data.batch_size} is not divisible by the '
                     f'{replicas} replicas')
  if data.crop_size % config.model.alignment:
    raise ValueError(f'training_dataset.crop_size {data.crop_size} must be a multiple of '
                     f'{config.model.alignment} (2**(pyramid_levels-1))')


def _make_trainer(run_dir: str, strategy: tf.distribute.Strategy,
                  config: configs_lib.RunConfig, compute_dtype: Optional[tf.DType],
                  chief: bool) -> Trainer:
  training = config.training
  return Trainer(
      strategy, config.model, losses_lib.WeightedLoss(config.losses, config.perceptual),
      learning_rate_schedule(training.learning_rate, training.learning_rate_decay_steps,
                             training.learning_rate_decay_rate, training.learning_rate_staircase),
      global_batch_size=config.data.batch_size,
      checkpoint_dir=os.path.join(run_dir, run_records.CHECKPOINT_SUBDIR),
      compute_dtype=compute_dtype, seed=training.seed,
      max_to_keep=training.checkpoint_max_to_keep,
      aux_outputs=any(t.name in losses_lib.AUX_OUTPUT_LOSSES for t in config.losses),
      is_chief=chief)


def _training_batches(files: list[str], config: configs_lib.RunConfig, seed: Optional[int],
                      strategy: tf.distribute.Strategy) -> Any:
  """The distributed stream of augmented training batches (numeric tensors only)."""
  data = config.data
  dataset = input_pipeline.create_dataset(
      files, batch_size=data.batch_size, crop_size=(data.crop_size, data.crop_size),
      augment=config.augmentation if data.augment else False,
      shuffle_buffer=data.shuffle_buffer, repeat=True, seed=seed,
      # DIS flows per augmented crop: for the 'flow_teacher' loss and/or the model's flow prior.
      teacher_flow=(any(t.name in losses_lib.TEACHER_LOSSES for t in config.losses)
                    or config.model.has_flow_prior))
  # TPUs and collectives cannot carry the `path` strings.
  dataset = dataset.map(lambda batch: {k: v for k, v in batch.items() if v.dtype != tf.string})
  workers = getattr(strategy.extended, '_num_workers', 1) or 1
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.FILE if len(files) >= workers
      else tf.data.experimental.AutoShardPolicy.DATA)
  return strategy.experimental_distribute_dataset(dataset.with_options(options))


class _Evaluation:
  """Evaluates every eval dataset (chief only) into the history and the eval summaries."""

  def __init__(self, run_dir: str, model: Any, compute_dtype: Optional[tf.DType],
               evaluation: configs_lib.EvalConfig, files: dict[str, list[str]],
               writer: Any, chief: bool):
    self.run_dir, self.evaluation, self.writer = run_dir, evaluation, writer
    crop = (evaluation.crop_size,) * 2 if evaluation.crop_size else None
    self.datasets = {} if not chief else {
        name: input_pipeline.create_eval_dataset(f, batch_size=evaluation.batch_size,
                                                 crop_size=crop)
        for name, f in files.items()}
    self.evaluator = eval_lib.Evaluator(model, compute_dtype)
    self.results: dict[str, dict[str, float]] = {}

  def __call__(self, step: int) -> None:
    for name, dataset in self.datasets.items():
      result = self.evaluator.evaluate(dataset, self.evaluation.max_examples)
      self.results[name] = result
      eval_lib.append_history(self.run_dir, step, name, result)
      with self.writer.as_default():
        for key in ('psnr', 'ssim', 'l1'):
          summaries.write_scalar(f'eval/{name}/{key}', result[key], step)
    self.writer.flush()


class _Throughput:
  """Steps per second and the fraction of time spent waiting for input, over a window."""

  def __init__(self):
    self.reset()

  def reset(self) -> None:
    self.start, self.steps, self.wait_s = time.time(), 0, 0.0

  def restart_clock(self) -> None:
    """Leaves out the time just spent on checkpoints, previews or evaluation."""
    self.start = time.time()

  def add_step(self, wait_s: float) -> None:
    self.steps += 1
    self.wait_s += wait_s

  def rates(self) -> tuple[float, float]:
    elapsed = max(time.time() - self.start, 1e-9)
    return self.steps / elapsed, self.wait_s / elapsed


def load_average() -> Optional[float]:
  """The machine's 1-minute load average (runnable processes; on 2 cores a lone run shows ~2-3),
  or None where the OS has none (Windows): the run records say how much the run shared the CPU."""
  try:
    return os.getloadavg()[0]
  except (AttributeError, OSError):
    return None


def _report(step: int, values: dict[str, float], trainer: Trainer,
            training: configs_lib.TrainingConfig, throughput: _Throughput, writer: Any) -> None:
  """The log line (every `log_every` steps) and scalar summaries (every `summary_every`)."""
  steps_per_s, wait_fraction = throughput.rates()
  load = load_average()
  if step % training.log_every == 0:
    terms = ', '.join(f'{k[5:]} {v:.4f}' for k, v in values.items() if k.startswith('loss/'))
    logging.info('step %d/%d  loss %.5f (%s)  lr %.3g  %.3f steps/s (%.2f s/step, '
                 'input wait %.0f%%)  load %s', step, training.num_steps, values['loss'], terms,
                 trainer.learning_rate, steps_per_s, 1.0 / steps_per_s, 100 * wait_fraction,
                 'n/a' if load is None else f'{load:.2f}')
  if step % training.summary_every == 0:
    with writer.as_default():
      for key, value in values.items():
        summaries.write_scalar(f'training/{key}', value, step)
      summaries.write_scalar('training/learning_rate', trainer.learning_rate, step)
      summaries.write_scalar('training/steps_per_second', steps_per_s, step)
      summaries.write_scalar('training/input_wait_fraction', wait_fraction, step)
      if load is not None:
        summaries.write_scalar('training/load_average_1min', load, step)
  throughput.reset()


# ------------------------------------------------------------------------------ the loop

def train(run_dir: str, strategy: tf.distribute.Strategy, config: configs_lib.RunConfig,
          operative_config: Optional[str] = None, command_line: Optional[Sequence[str]] = None,
          export: bool = True) -> TrainResult:
  """Trains (or resumes) the run in `run_dir` up to `config.training.num_steps`.

  Args:
    run_dir: the run folder; an existing one is resumed from its latest checkpoint.
    strategy: from `training.distribute.get_strategy`.
    config: the model, training, data, evaluation, loss, perceptual and augmentation configs.
    operative_config: the resolved gin config text to record.
    command_line: recorded in `run_info.json` (default `sys.argv`).
    export: export the final model at the end.

  Returns:
    A `TrainResult`.

  Raises:
    NonFiniteLossError: the loss became NaN/Inf (no checkpoint is written after it).
  """
  run_dir = os.path.abspath(run_dir)
  os.makedirs(run_dir, exist_ok=True)
  training = config.training
  chief = distribute.is_chief(strategy)
  replicas = strategy.num_replicas_in_sync
  _check_shapes(config, replicas)
  dtype_name = resolve_compute_dtype(training.compute_dtype)
  compute_dtype = parse_compute_dtype(dtype_name)

  # 1-2. Model, optimizer and losses; resume, else warm-start.
  trainer = _make_trainer(run_dir, strategy, config, compute_dtype, chief)
  restored = trainer.restore_or_initialize()
  if restored is None and training.init_model:
    with strategy.scope():
      warm_start(trainer.model, training.init_model, training.init_reset_output)
  start_step = step = trainer.current_step

  # 3. What makes the run.
  train_files = input_pipeline.resolve_files(config.data.files)
  eval_files = {name: input_pipeline.resolve_files(files)
                for name, files in zip(config.evaluation.names, config.evaluation.files)}
  if chief:
    start = {'time': datetime.datetime.now().isoformat(timespec='seconds'), 'step': start_step,
             'compute_dtype': dtype_name, 'restored_from': restored,
             'host': socket.gethostname(), 'pid': os.getpid(),
             'command_line': list(command_line if command_line is not None else sys.argv),
             'strategy': type(strategy).__name__, 'replicas': replicas,
             'devices': [d.name for d in tf.config.list_logical_devices()]}
    run_records.write_run_records(run_dir, start, config.records(), train_files, eval_files,
                                  operative_config)
  logging.info('Run %s: %s, %d replica(s), step %d -> %d, global batch %d, crop %d, %s',
               run_dir, type(strategy).__name__, replicas, start_step, training.num_steps,
               config.data.batch_size, config.data.crop_size,
               dtype_name + (' (auto)' if training.compute_dtype == 'auto' else ''))

  # 4. Data (re-seeded on a resume so it does not replay the first batches), writers.
  seed = None if training.seed is None else training.seed + start_step
  batches = iter(_training_batches(train_files, config, seed, strategy))
  summary_root = os.path.join(run_dir, run_records.SUMMARY_SUBDIR)
  writer = {name: tf.summary.create_file_writer(os.path.join(summary_root, name)) if chief
            else tf.summary.create_noop_writer() for name in ('train', 'eval')}
  evaluate = _Evaluation(run_dir, trainer.model, compute_dtype, config.evaluation, eval_files,
                         writer['eval'], chief)
  previewer = summaries.ImagePreviewer(trainer.model, compute_dtype)

  # 5. The loop.
  last_saved = start_step if restored else None
  last_eval = None
  values: Optional[dict[str, float]] = None
  throughput = _Throughput()
  try:
    while step < training.num_steps:
      wait_start = time.time()
      batch = next(batches)
      throughput.add_step(time.time() - wait_start)
      values = trainer.train_step(batch)
      step = trainer.current_step
      if step % training.log_every == 0 or step % training.summary_every == 0:
        _report(step, values, trainer, training, throughput, writer['train'])
      if chief and training.image_summary_every and step % training.image_summary_every == 0:
        with writer['train'].as_default():
          previewer.write(strategy.experimental_local_results(batch)[0], step,
                          training.max_images)
        throughput.restart_clock()
      if step % training.checkpoint_every == 0:
        trainer.save()
        last_saved = step
        throughput.restart_clock()
      if training.eval_every and step % training.eval_every == 0:
        evaluate(step)
        last_eval = step
        throughput.restart_clock()
  except NonFiniteLossError as e:
    logging.error('%s', e)
    raise
  except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP (film.cli.Interrupted)
    if last_saved != trainer.current_step:
      logging.warning('Interrupted at step %d: writing a final checkpoint', trainer.current_step)
      trainer.save()
    if trainer.manager.latest_checkpoint:
      cli.set_keep_note(f'the checkpoint of step {trainer.current_step} '
                        f'({trainer.manager.latest_checkpoint}) is kept; the same command '
                        'resumes from it')
    else:
      cli.set_keep_note('no step was finished, so there is no checkpoint; the same command '
                        'starts the run again')
    raise
  finally:
    writer['train'].flush()

  # 6. Last checkpoint, evaluation and export.
  last_checkpoint = trainer.manager.latest_checkpoint
  if last_saved != step:
    last_checkpoint = trainer.save()
  if last_eval != step:
    evaluate(step)
  export_dir = saved_model_dir = None
  if export and chief:
    metadata = {'run_dir': run_dir, 'step': step, 'checkpoint': last_checkpoint,
                'compute_dtype': dtype_name, 'losses': [t.name for t in config.losses],
                'exported': datetime.datetime.now().isoformat(timespec='seconds')}
    export_dir, saved_model_dir = checkpoint_export.export_model(trainer.model, run_dir,
                                                                 metadata)
  logging.info('Finished at step %d (optimizer iterations %d)', step, trainer.iterations)
  return TrainResult(run_dir=run_dir, start_step=start_step, final_step=step,
                     iterations=trainer.iterations, learning_rate=trainer.learning_rate,
                     last_loss=None if values is None else values['loss'],
                     restored_from=restored, last_checkpoint=last_checkpoint,
                     export_dir=export_dir, saved_model_dir=saved_model_dir,
                     eval_results=evaluate.results)


def run_from_gin(gin_configs: Sequence[str], gin_params: Sequence[str] = (),
                 base_folder: str = 'runs', label: str = 'run', mode: str = 'cpu',
                 logical_cpus: int = 0, tpu_address: str = '',
                 strategy: Optional[tf.distribute.Strategy] = None,
                 export: bool = True) -> TrainResult:
  """Parses gin, builds every config (`configs.load`) and the strategy, and calls `train`.

  Args:
    gin_configs: gin files, e.g. ['gin_configs/film_net-small-cpu.gin'].
    gin_params: overrides, e.g. ["training.num_steps = 10"].
    base_folder, label: the run folder is `<base_folder>/<label>`.
    mode, logical_cpus, tpu_address: see `training.distribute.get_strategy`.
    strategy: an existing strategy (overrides `mode`).
    export: export the final model.
  """
  config = configs_lib.load(gin_configs, gin_params)
  if strategy is None:
    strategy = distribute.get_strategy(mode, logical_cpus=logical_cpus, tpu_address=tpu_address)
  return train(os.path.join(base_folder, label), strategy, config,
               operative_config=configs_lib.operative_config(), export=export)
