"""Training-speed benchmark (not a test): seconds per step of forward + backward + Adam, L1 loss.

Every case runs in its own Python process (thread settings only apply before TensorFlow
starts, and memory is returned between cases) and prints one JSON line; the machine load
(`/proc/loadavg`) is recorded with each case because this machine is shared.

    python bench/bench_training.py                        # the default case list
    python bench/bench_training.py --cases small-f32,small-bf16 --steps 5
    python bench/bench_training.py --list

Cases vary the config (published FILM / film.net.config.SMALL), compute dtype (float32 /
bfloat16), feeding (synthetic in-memory tensors vs TFRecords through
training/input_pipeline.py with augmentation), crop and batch size, TensorFlow thread
settings and XLA. `pipeline-only` measures the input pipeline alone (batches/s) to show that
it is not the bottleneck.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> settings. Defaults: config small, batch 4, crop 256, float32, synthetic feed.
CASES: dict[str, dict] = {
    'small-f32': {},
    'small-bf16': {'dtype': 'bfloat16'},
    'small-f32-records': {'feed': 'records'},
    'small-bf16-records': {'dtype': 'bfloat16', 'feed': 'records'},
    'small-f32-crop128-b8': {'crop': 128, 'batch': 8},
    'small-bf16-crop128-b8': {'crop': 128, 'batch': 8, 'dtype': 'bfloat16'},
    'small-f32-crop128-b4': {'crop': 128},
    'small-bf16-crop128-b4': {'crop': 128, 'dtype': 'bfloat16'},
    'small-f32-crop192-b4': {'crop': 192},
    'small-bf16-crop192-b4': {'crop': 192, 'dtype': 'bfloat16'},
    'small-f32-intra2-inter1': {'intra': 2, 'inter': 1},
    'small-f32-intra1-inter2': {'intra': 1, 'inter': 2},
    'small-f32-xla': {'jit': True},
    'small-f32-filters8': {'filters': 8},
    'published-f32': {'config': 'published', 'steps': 3},
    'published-bf16': {'config': 'published', 'dtype': 'bfloat16', 'steps': 3},
    'pipeline-only': {'feed': 'pipeline'},
}
DEFAULT_CASES = ('pipeline-only', 'small-f32', 'small-bf16', 'small-f32-records',
                 'small-f32-crop128-b8', 'small-bf16-crop128-b8', 'small-f32-intra2-inter1',
                 'small-f32-xla', 'published-f32', 'published-bf16')


def _load() -> str:
  with open('/proc/loadavg') as f:
    return ' '.join(f.read().split()[:3])


def _write_records(folder: str, size: int) -> str:
  from film.training import smoke_data  # pylint: disable=g-import-not-at-top
  for shard in range(2):
    smoke_data.write_records(os.path.join(folder, f'bench-{shard:05d}-of-00002.tfrecord'), 16,
                             height=size, width=size, seed=shard, times=(0.5,))
  return folder


def run_case(name: str, steps: int, records_dir: str) -> dict:
  """Runs one case in this process (TensorFlow not yet started) and returns its figures."""
  settings = {'config': 'small', 'batch': 4, 'crop': 256, 'dtype': 'float32', 'feed': 'synthetic',
              'intra': 0, 'inter': 0, 'jit': False, 'filters': None, 'steps': steps}
  settings.update(CASES[name])
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if settings['intra']:
    tf.config.threading.set_intra_op_parallelism_threads(settings['intra'])
  if settings['inter']:
    tf.config.threading.set_inter_op_parallelism_threads(settings['inter'])
  import dataclasses  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from film.net import config as film_config  # pylint: disable=g-import-not-at-top
  from film.training import input_pipeline, losses, trainer as trainer_lib  # pylint: disable=g-import-not-at-top

  batch, crop = settings['batch'], settings['crop']
  result = {'case': name, **settings, 'load_before': _load()}
  if settings['feed'] in ('records', 'pipeline'):
    dataset = input_pipeline.create_dataset(records_dir, batch_size=batch, crop_size=(crop, crop),
                                            augment=True, shuffle_buffer=32, seed=0)
    iterator = iter(dataset)
  if settings['feed'] == 'pipeline':
    next(iterator)
    start = time.perf_counter()
    count = 50
    for _ in range(count):
      next(iterator)
    seconds = time.perf_counter() - start
    result.update({'batches_per_second': count / seconds, 'seconds_per_batch': seconds / count,
                   'load_after': _load()})
    return result

  config = film_config.PUBLISHED if settings['config'] == 'published' else film_config.SMALL
  if settings['filters']:
    config = dataclasses.replace(config, filters=settings['filters'])
  strategy = tf.distribute.OneDeviceStrategy('/cpu:0')
  trainer = trainer_lib.Trainer(
      strategy, config, losses.WeightedLoss(losses.training_losses(['l1'])),
      trainer_lib.learning_rate_schedule(1e-4, 750000, 0.464158, True), global_batch_size=batch,
      checkpoint_dir=tempfile.mkdtemp(prefix='bench-ckpt-'),
      compute_dtype=trainer_lib.parse_compute_dtype(settings['dtype']), seed=0,
      jit_compile=settings['jit'])
  if settings['feed'] == 'synthetic':
    rng = np.random.default_rng(0)
    synthetic = {k: tf.constant(rng.uniform(size=(batch, crop, crop, 3)), tf.float32)
                 for k in ('x0', 'x1', 'y')}
    synthetic['time'] = tf.fill([batch, 1], 0.5)
    get_batch = lambda: synthetic  # noqa: E731
  else:
    get_batch = lambda: {k: v for k, v in next(iterator).items() if k != 'path'}  # noqa: E731
  start = time.perf_counter()
  try:
    trainer.train_step(get_batch())  # Trace + first step.
  except Exception as e:  # pylint: disable=broad-except
    result.update({'error': f'{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}',
                   'load_after': _load()})
    return result
  result['first_step_seconds'] = time.perf_counter() - start
  times = []
  for _ in range(settings['steps']):
    t0 = time.perf_counter()
    trainer.train_step(get_batch())
    times.append(time.perf_counter() - t0)
  result.update({'seconds_per_step': float(np.median(times)), 'step_times': times,
                 'load_after': _load(),
                 'num_parameters': int(sum(v.shape.num_elements()
                                           for v in trainer.model.trainable_variables))})
  return result


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--cases', default=','.join(DEFAULT_CASES),
                      help='comma-separated case names (see --list)')
  parser.add_argument('--steps', type=int, default=5, help='timed steps per case (after one '
                      'untimed trace+step); published cases use 3')
  parser.add_argument('--output', default=None, help='append the JSON lines to this file')
  parser.add_argument('--list', action='store_true', help='list the cases and exit')
  parser.add_argument('--run_one', default=None, help=argparse.SUPPRESS)
  parser.add_argument('--records_dir', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.list:
    for name, settings in CASES.items():
      print(f'{name:28s} {settings}')
    return
  if args.run_one:
    print('RESULT ' + json.dumps(run_case(args.run_one, args.steps, args.records_dir)))
    return

  names = [n for n in args.cases.split(',') if n]
  unknown = [n for n in names if n not in CASES]
  if unknown:
    parser.error(f'unknown cases {unknown}; see --list')
  env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
             TF_CPP_MIN_LOG_LEVEL='2')
  with tempfile.TemporaryDirectory(prefix='bench-records-') as records_dir:
    if any(CASES[n].get('feed') in ('records', 'pipeline') for n in names):
      subprocess.run([sys.executable, '-c', f'import sys; sys.path.insert(0, {REPO_ROOT!r}); '
                      f'from bench.bench_training import _write_records; '
                      f'_write_records({records_dir!r}, 320)'], check=True, env=env)
    for name in names:
      completed = subprocess.run(
          [sys.executable, os.path.abspath(__file__), '--run_one', name, '--steps',
           str(args.steps), '--records_dir', records_dir],
          capture_output=True, text=True, env=env)
      line = next((l for l in completed.stdout.splitlines() if l.startswith('RESULT ')), None)
      if line is None:
        result = {'case': name, 'error': completed.stderr.strip().splitlines()[-1:]}
      else:
        result = json.loads(line[len('RESULT '):])
      text = json.dumps(result)
      print(text, flush=True)
      if args.output:
        with open(args.output, 'a') as f:
          f.write(text + '\n')


if __name__ == '__main__':
  main()
