"""Seconds of the three inference graphs (extract, flows, synthesize) per precision and with the
flow directions batched or not, interleaved in one process (median of warm rounds).

  python -m bench.bench_components --model default --size 720x1280 --rounds 4
"""
from __future__ import annotations

import json
import time

from absl import app, flags
import numpy as np

_MODEL = flags.DEFINE_enum('model', 'default', ['default', 'published'], 'Model (published: '
                           'film.net.config.PUBLISHED with random weights).')
_SIZE = flags.DEFINE_string('size', '720x1280', 'HxW.')
_ROUNDS = flags.DEFINE_integer('rounds', 4, 'Rounds; the first (tracing) is not counted.')


def main(argv: list[str]) -> None:
  del argv
  import tensorflow as tf
  from bench.bench_speed import _make_model
  from film.inference.graphs import graph_functions
  height, width = (int(v) for v in _SIZE.value.split('x'))
  model = _make_model(_MODEL.value)
  rng = np.random.default_rng(0)
  x0, x1 = (tf.constant(rng.random((1, height, width, 3), np.float32)) for _ in range(2))
  time_arg = tf.constant([[0.5]])
  variants = {'float32': (None, False), 'float32_batched': (None, True),
              'bfloat16': (tf.bfloat16, False), 'bfloat16_batched': (tf.bfloat16, True)}
  fns = {k: graph_functions(model, dtype, 1.0, batched) for k, (dtype, batched) in variants.items()}
  seconds = {k: {'extract': [], 'flows': [], 'synthesize': []} for k in variants}
  for r in range(_ROUNDS.value):
    for name, f in fns.items():
      start = time.perf_counter()
      f0, f1 = f.extract(x0), f.extract(x1)
      f0['feature_pyramid'][0].numpy()
      extracted = time.perf_counter()
      flows = f.flows(f0, f1)
      flows['forward'][0].numpy()
      estimated = time.perf_counter()
      f.synthesize(f0, f1, flows, time_arg).numpy()
      done = time.perf_counter()
      if r > 0:
        seconds[name]['extract'].append((extracted - start) / 2)
        seconds[name]['flows'].append(estimated - extracted)
        seconds[name]['synthesize'].append(done - estimated)
  for name, parts in seconds.items():
    print(json.dumps({'model': _MODEL.value, 'size': _SIZE.value, 'variant': name,
                      **{k: round(float(np.median(v)), 2) for k, v in parts.items()}}))


if __name__ == '__main__':
  app.run(main)
