"""Forward-pass benchmark of FilmNet: warm median seconds and peak RSS per input size.

  python -m bench.bench_model --config published --sizes 256x256,768x1280 --runs 5

Each size runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. Prints a markdown
table and the machine load (`os.getloadavg`) so figures from a busy machine are recognisable.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from absl import app, flags

_CONFIG = flags.DEFINE_enum('config', 'published', ['published', 'small'], 'FILM configuration.')
_SIZES = flags.DEFINE_string('sizes', '256x256,768x1280', 'Comma-separated HxW sizes.')
_RUNS = flags.DEFINE_integer('runs', 5, 'Timed runs per size (after one warm-up run).')
_BATCH = flags.DEFINE_integer('batch', 1, 'Batch size.')
_CHILD = flags.DEFINE_string('child', None, 'Internal: run one size (HxW) in this process.')


def _measure(config_name: str, h: int, w: int, runs: int, batch: int) -> dict:
  import numpy as np
  import tensorflow as tf
  from film.net.config import PUBLISHED, SMALL
  from film.net.model import FilmNet, count_parameters
  model = FilmNet(PUBLISHED if config_name == 'published' else SMALL)
  spec = tf.TensorSpec([None, None, None, 3], tf.float32)
  forward = tf.function(lambda a, b, t: model(a, b, t)['image'],
                        input_signature=[spec, spec, tf.TensorSpec([None, 1], tf.float32)])
  rng = np.random.default_rng(0)
  x0 = tf.constant(rng.random((batch, h, w, 3), np.float32))
  x1 = tf.constant(rng.random((batch, h, w, 3), np.float32))
  t = tf.fill([batch, 1], 0.5)
  forward(x0, x1, t).numpy()  # warm-up (tracing, oneDNN primitive creation)
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    forward(x0, x1, t).numpy()
    times.append(time.perf_counter() - start)
  return {'config': config_name, 'size': f'{h}x{w}', 'batch': batch,
          'params': count_parameters(model), 'median_s': float(np.median(times)),
          'min_s': float(np.min(times)), 'runs': runs,
          'peak_rss_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main(argv: list[str]) -> None:
  del argv
  if _CHILD.value:
    h, w = (int(v) for v in _CHILD.value.split('x'))
    print(json.dumps(_measure(_CONFIG.value, h, w, _RUNS.value, _BATCH.value)))
    return
  rows = []
  for size in _SIZES.value.split(','):
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, '-m', 'bench.bench_model', f'--child={size}',
                          f'--config={_CONFIG.value}', f'--runs={_RUNS.value}',
                          f'--batch={_BATCH.value}'], capture_output=True, text=True,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
    if out.returncode != 0:
      sys.exit(f'bench_model: {size} failed: {out.stderr.strip().splitlines()[-1]}')
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row['load_1min_before'] = load
    rows.append(row)
  print('| config | size | batch | params | median s | min s | peak RSS GB | load (1 min) |')
  print('|---|---|---|---|---|---|---|---|')
  for r in rows:
    print(f"| {r['config']} | {r['size']} | {r['batch']} | {r['params']:,} | {r['median_s']:.2f} "
          f"| {r['min_s']:.2f} | {r['peak_rss_gb']:.2f} | {r['load_1min_before']:.1f} |")


if __name__ == '__main__':
  app.run(main)
