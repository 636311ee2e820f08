"""Chooses the `tf.distribute.Strategy` of a training run (`--mode`).

Modes:

* `cpu`: one device, `/cpu:0` (OneDeviceStrategy).
* `gpu`: one device, `/gpu:0`.
* `mirrored`: synchronous data parallelism over the local devices (all GPUs; without GPUs,
  all logical CPU devices -- split the CPU into `logical_cpus` devices to test on a laptop).
* `multi_worker`: MultiWorkerMirroredStrategy; the cluster comes from the `TF_CONFIG`
  environment variable, set by the cluster manager on every worker.
* `tpu`: TPUStrategy on the TPU at `tpu_address` ('' = the local / environment TPU).

The training loop is identical under every mode (`strategy.run` + a distributed dataset, losses
scaled by the global batch).
"""
from __future__ import annotations

from typing import Optional

from absl import logging

# TensorFlow is imported inside the functions: `film-train` reads MODES (its --mode flag) and
# checks its flags and inputs before TensorFlow starts.
MODES = ('cpu', 'gpu', 'mirrored', 'multi_worker', 'tpu')


def split_cpu(num_devices: int) -> list[str]:
  """Splits the first physical CPU into `num_devices` logical devices; returns their names.

  Must run before TensorFlow initialises its runtime (before the first op); raises a
  RuntimeError with that hint otherwise. A split that already matches is accepted.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  cpus = tf.config.list_physical_devices('CPU')
  current = tf.config.get_logical_device_configuration(cpus[0])
  if not current or len(current) != num_devices:
    try:
      tf.config.set_logical_device_configuration(
          cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
    except RuntimeError as e:
      raise RuntimeError(f'Cannot split the CPU into {num_devices} logical devices: TensorFlow '
                         'is already initialised. Call split_cpu (--logical_cpus) before '
                         'creating any tensor.') from e
  return [d.name for d in tf.config.list_logical_devices('CPU')]


def get_strategy(mode: str, logical_cpus: int = 0, tpu_address: str = ''
                 ) -> tf.distribute.Strategy:
  """Creates the strategy for `mode` (one of `MODES`).

  Args:
    mode: see the module docstring.
    logical_cpus: with `mirrored` and no GPU, split the CPU into this many devices (0 or 1:
      one device).
    tpu_address: the TPU name / grpc address for `tpu`.
  """
  if mode not in MODES:
    raise ValueError(f'Unknown mode {mode!r}; choose from {MODES}')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if mode == 'cpu':
    strategy = tf.distribute.OneDeviceStrategy('/cpu:0')
  elif mode == 'gpu':
    if not tf.config.list_physical_devices('GPU'):
      raise RuntimeError('--mode gpu but TensorFlow sees no GPU')
    strategy = tf.distribute.OneDeviceStrategy('/gpu:0')
  elif mode == 'mirrored':
    devices: Optional[list[str]] = None
    if not tf.config.list_physical_devices('GPU'):
      devices = split_cpu(logical_cpus) if logical_cpus > 1 else ['/cpu:0']
    strategy = tf.distribute.MirroredStrategy(devices)
  elif mode == 'multi_worker':
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
  else:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = tf.distribute.TPUStrategy(resolver)
  logging.info('Strategy %s with %d replica(s) in sync', type(strategy).__name__,
               strategy.num_replicas_in_sync)
  return strategy


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the worker that writes summaries, run records and exports (task 0)."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not getattr(resolver, 'task_type', None):
    return True
  return resolver.task_type in ('chief', 'master') or (
      resolver.task_type == 'worker' and resolver.task_id == 0 and
      'chief' not in resolver.cluster_spec().as_dict())
