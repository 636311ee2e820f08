"""The training state and the distributed train step: model, Adam, checkpoints, NaN guard.

`Trainer` owns, inside one `tf.distribute.Strategy`:

* the `FilmNet` (a plain `tf.Module`; Keras 3 optimizers accept its `tf.Variable`s directly,
  mirrored or not -- no Keras layer wrapper is needed);
* a Keras 3 `Adam` with an `ExponentialDecay` learning-rate schedule, built (`optimizer.build`)
  inside `strategy.scope()` so its slots are mirrored like the weights; with float16 compute it
  is wrapped in `LossScaleOptimizer` (dynamic loss scaling);
* `tf.train.Checkpoint(model, optimizer, step)` + `tf.train.CheckpointManager`. TF writes a
  checkpoint's data under `<prefix>_temp/` and merges/renames it into place, and the
  `checkpoint` index file is replaced atomically (temp file + rename) only afterwards, so a
  process killed at any moment leaves `latest_checkpoint` pointing at a complete checkpoint.

`train_step` runs one synchronous step: every replica computes the loss on its slice of the
global batch, scaled by `local_batch / global_batch` so the summed gradients equal those of
the global-batch mean; the optimizer all-reduces (sums) the gradients and applies them. A
non-finite loss (or non-finite gradients, except under loss scaling, which skips those steps
itself) trips an in-graph assertion *before* the update, and `train_step` raises
`NonFiniteLossError`; the caller then exits without writing a checkpoint.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from film.net.config import FilmConfig
from film.net.precision import NATIVE_BFLOAT16_CPU_FLAGS, cpu_flags, resolve_precision  # noqa: F401
from film.net.model import FilmNet
from film.training import teacher_flow as teacher_lib

NON_FINITE_MARKER = 'NON_FINITE_LOSS'
COMPUTE_DTYPES = {'float32': None, 'bfloat16': tf.bfloat16, 'float16': tf.float16}
# loss(example, prediction, step) -> (total scalar, {name: unweighted scalar}).
LossFn = Callable[[Mapping[str, tf.Tensor], Mapping[str, tf.Tensor], Any],
                  tuple[tf.Tensor, dict[str, tf.Tensor]]]


class NonFiniteLossError(RuntimeError):
  """The training loss or its gradients became NaN/Inf; the run stops without checkpointing."""


def resolve_compute_dtype(name: str, flags: Optional[frozenset[str]] = None) -> str:
  """'auto' -> 'bfloat16' on a CPU with native bfloat16 (`NATIVE_BFLOAT16_CPU_FLAGS`), else
  'float32'; any other name is returned as it is. `flags` default: this machine's `cpu_flags()`."""
  # Without native bfloat16 oneDNN emulates it ~10x slower than float32 (notes/training.md).
  return resolve_precision(name, flags) if name == 'auto' else name


def parse_compute_dtype(name: str) -> Optional[tf.DType]:
  """'float32' -> None (plain float32), 'bfloat16' / 'float16' -> the dtype, 'auto' -> as
  `resolve_compute_dtype` picks for this machine."""
  if name != 'auto' and name not in COMPUTE_DTYPES:
    raise ValueError(f'compute_dtype must be one of {sorted(COMPUTE_DTYPES) + ["auto"]}, '
                     f'got {name!r}')
  return COMPUTE_DTYPES[resolve_compute_dtype(name)]


def initialize_weights(model: tf.Module, seed: int) -> None:
  """Re-draws `model`'s weights reproducibly: Glorot-uniform kernels, zero biases.

  Same distribution as `film.net.conv.Conv2D`'s own (unseeded) initialisation; variables are
  visited in name order so the draw does not depend on construction order.
  """
  rng = np.random.default_rng(seed)
  for v in sorted(model.trainable_variables, key=lambda v: v.name):
    shape = v.shape.as_list()
    if len(shape) == 4:
      fan_in = shape[0] * shape[1] * shape[2]
      fan_out = shape[0] * shape[1] * shape[3]
      limit = np.sqrt(6.0 / (fan_in + fan_out))
      v.assign(rng.uniform(-limit, limit, size=shape).astype(np.float32))
    else:
      v.assign(np.zeros(shape, np.float32))


def learning_rate_schedule(learning_rate: float, decay_steps: int, decay_rate: float,
                           staircase: bool) -> keras.optimizers.schedules.LearningRateSchedule:
  """FILM's schedule: `learning_rate * decay_rate ** (step / decay_steps)` (floored if staircase)."""
  return keras.optimizers.schedules.ExponentialDecay(
      initial_learning_rate=learning_rate, decay_steps=decay_steps, decay_rate=decay_rate,
      staircase=staircase)


class Trainer:
  """Model, optimizer, checkpointing and the distributed train step (see module docstring).

  Args:
    strategy: the distribution strategy (`training.distribute.get_strategy`).
    model_config: the FILM network hyperparameters.
    loss_fn: `loss(example, prediction, step) -> (total, terms)`, e.g. `losses.WeightedLoss`;
      each term is a mean over the examples it gets.
    schedule: the learning-rate schedule, called with the optimizer's iteration count.
    global_batch_size: examples per step over all replicas.
    checkpoint_dir: where checkpoints go (`ckpt-<step>` files).
    compute_dtype: None (float32), tf.bfloat16 or tf.float16 for the convolutions.
    seed: reproducible weight initialisation (None keeps the model's own random draw).
    max_to_keep: checkpoints kept by the manager.
    aux_outputs: call the model with `aux_outputs=True` (needed by e.g. `l1_warped`).
    is_chief: this worker owns `checkpoint_dir` (others write to a scratch folder).
    jit_compile: compile the step with XLA (slower on CPU here; see notes/training.md).
  """

  def __init__(self, strategy: tf.distribute.Strategy, model_config: FilmConfig, loss_fn: LossFn,
               schedule: keras.optimizers.schedules.LearningRateSchedule,
               global_batch_size: int, checkpoint_dir: str,
               compute_dtype: Optional[tf.DType] = None, seed: Optional[int] = 0,
               max_to_keep: int = 5, aux_outputs: bool = False, is_chief: bool = True,
               jit_compile: bool = False):
    self.strategy = strategy
    self.loss_fn = loss_fn
    self.schedule = schedule
    self.global_batch_size = int(global_batch_size)
    self.compute_dtype = compute_dtype
    self.aux_outputs = aux_outputs
    self.loss_scaling = compute_dtype == tf.float16
    with strategy.scope():
      self.model = FilmNet(model_config)
      if seed is not None:
        initialize_weights(self.model, seed)
      self.base_optimizer = keras.optimizers.Adam(learning_rate=schedule)
      self.optimizer = (keras.optimizers.LossScaleOptimizer(self.base_optimizer)
                        if self.loss_scaling else self.base_optimizer)
      self.optimizer.build(self.model.trainable_variables)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step',
                              aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                          step=self.step)
    # Every worker restores the chief's checkpoints; non-chief workers (multi-worker) save
    # their copies to a scratch folder that nothing reads.
    self.restore_dir = checkpoint_dir
    self.checkpoint_dir = checkpoint_dir if is_chief else os.path.join(
        checkpoint_dir, f'.worker-scratch-{os.getpid()}')
    # TPUs cannot run tf.debugging.Assert: there the host check stops the run instead (the
    # bad update is then applied in memory, but never checkpointed).
    self.in_graph_guard = not isinstance(strategy, tf.distribute.TPUStrategy)
    self.manager = tf.train.CheckpointManager(self.checkpoint, self.checkpoint_dir,
                                              max_to_keep=max_to_keep, checkpoint_name='ckpt')
    self._train_step_fn = tf.function(self._distributed_step, jit_compile=jit_compile or None)

  # ------------------------------------------------------------------------------ state

  @property
  def current_step(self) -> int:
    return int(self.step.numpy())

  @property
  def iterations(self) -> int:
    """Optimizer updates applied (equals `current_step` unless loss scaling skipped some)."""
    return int(self.optimizer.iterations.numpy())

  @property
  def learning_rate(self) -> float:
    """The learning rate of the next update (the schedule at the current iteration count)."""
    return float(self.schedule(self.base_optimizer.iterations))

  def restore_or_initialize(self) -> Optional[str]:
    """Restores the latest checkpoint in `checkpoint_dir` if there is one; returns its path."""
    latest = tf.train.latest_checkpoint(self.restore_dir)
    if latest is None:
      logging.info('No checkpoint in %s: starting from step 0', self.restore_dir)
      return None
    with self.strategy.scope():
      self.checkpoint.restore(latest).assert_existing_objects_matched()
    logging.info('Restored %s: step %d, optimizer iterations %d, learning rate %.3g', latest,
                 self.current_step, self.iterations, self.learning_rate)
    return latest

  def save(self) -> str:
    """Writes a checkpoint numbered by the current step; returns its path."""
    path = self.manager.save(checkpoint_number=self.current_step)
    logging.info('Saved checkpoint %s', path)
    return path

  # ------------------------------------------------------------------------------ step

  def _replica_step(self, batch: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    variables = self.model.trainable_variables
    iterations = self.base_optimizer.iterations  # Step used by the loss-weight schedules.
    local_batch = tf.cast(tf.shape(batch['x0'])[0], tf.float32)
    share = local_batch / float(self.global_batch_size)
    with tf.GradientTape() as tape:
      prior = (teacher_lib.prior_flows(batch['teacher_flow'])
               if self.model.config.has_flow_prior else None)
      prediction = self.model(batch['x0'], batch['x1'], batch['time'],
                              aux_outputs=self.aux_outputs, compute_dtype=self.compute_dtype,
                              prior_flows=prior)
      total, terms = self.loss_fn(batch, prediction, iterations)
      scaled = total * share
      to_differentiate = self.optimizer.scale_loss(scaled) if self.loss_scaling else scaled
    grads = tape.gradient(to_differentiate, variables)
    finite = tf.math.is_finite(total)
    if not self.loss_scaling:
      finite = tf.logical_and(finite, tf.math.is_finite(tf.linalg.global_norm(grads)))
    guard = (tf.debugging.Assert(finite, [NON_FINITE_MARKER, 'loss =', total], summarize=8)
             if self.in_graph_guard else tf.no_op())
    with tf.control_dependencies([guard]):  # Nothing is updated before the guard passed.
      grads = [tf.identity(g) for g in grads]
      scaled = tf.identity(scaled)  # The step counter waits for the guard through this.
      self.optimizer.apply_gradients(zip(grads, variables))
    outputs = {'loss': scaled}
    outputs.update({f'loss/{name}': value * share for name, value in terms.items()})
    return outputs

  def _distributed_step(self, batch: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    per_replica = self.strategy.run(self._replica_step, args=(batch,))
    reduced = {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
               for k, v in per_replica.items()}
    with tf.control_dependencies(list(reduced.values())):
      self.step.assign_add(1)
    return reduced

  def train_step(self, batch: Any) -> dict[str, float]:
    """One optimizer step on a (distributed) global batch.

    Args:
      batch: an element of `strategy.experimental_distribute_dataset(...)` (or, with one
        replica, a plain dict) with `x0`, `x1`, `y` `[B,h,w,3]` in [0,1] and `time` `[B,1]`.

    Returns:
      {'loss': global-batch mean of the weighted total, 'loss/<name>': unweighted terms}.

    Raises:
      NonFiniteLossError: the loss or gradients were NaN/Inf; no update was applied.
    """
    step = self.current_step
    try:
      outputs = self._train_step_fn(batch)
    except tf.errors.InvalidArgumentError as e:
      message = str(e)
      if NON_FINITE_MARKER in message:
        raise NonFiniteLossError(self._non_finite_message(step, message)) from None
      if 'Gather' in message and 'is not in [0,' in message:
        # NaN/Inf flows make film.net.warp gather at invalid indices before the loss exists.
        raise NonFiniteLossError(self._non_finite_message(
            step, 'non-finite flow reached the warp: ' +
            next(line for line in message.splitlines() if 'is not in [0,' in line).strip())
        ) from None
      raise
    values = {k: float(v.numpy()) for k, v in outputs.items()}
    if not np.isfinite(values['loss']):
      raise NonFiniteLossError(self._non_finite_message(step, f'loss = {values["loss"]}'))
    return values

  def _non_finite_message(self, step: int, detail: str) -> str:
    last = self.manager.latest_checkpoint or 'none'
    lines = detail.strip().splitlines() or ['']
    first_line = next((line for line in lines if NON_FINITE_MARKER in line), lines[0])
    return (f'Non-finite training loss at step {step} ({first_line.strip()}). Training stopped '
            f'before applying the update and no checkpoint was written; the last good '
            f'checkpoint is {last}. Lower training.learning_rate, check the input data '
            f'for NaN/Inf, or use compute_dtype=float32.')
