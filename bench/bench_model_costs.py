"""Seconds per output frame of three models side by side, in one process and one run.

  bundled     the shipped default model (`film/default_model/`, a DIS flow-prior model since
              issue 25), default settings
  NAME        each `--extra_model NAME=DIR` (e.g. `previous=` the default before the prior:
              `git show f44b4cd^:film/default_model/...`), default settings
  published   FILM's published architecture (`FilmConfig()`, random weights: the cost of
              `--model film:style|l1|vgg`, which have the same shapes)

A flow-prior model's DIS time (OpenCV, `Interpolator.seconds['prior']`) is reported beside the
network's (extract / flows / synthesize).

Each round runs every model once on the same 720p pair (a real frame pair from
`../shared/benchmarks` upscaled, or `--frame0/--frame1`), `times_to_interpolate` 3 (7 output
frames, 8x slow motion), in a rotated order so that load changes hit all alike; the result of a
model is the median over rounds. Warm-up (graph tracing) is done before the first round.

  python -m bench.bench_model_costs --extra_model previous=DIR --output bench/results/model_costs_720p.json
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time

from absl import app, flags

from bench.machine import cpu_description

_EXTRA = flags.DEFINE_multi_string('extra_model', [], 'NAME=DIR: another model to compare.')
_FRAME0 = flags.DEFINE_string('frame0', None, 'First frame (default: a shared benchmark frame).')
_FRAME1 = flags.DEFINE_string('frame1', None, 'Second frame.')
_SIZE = flags.DEFINE_string('size', '720x1280', 'HxW the frames are resized to.')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Rounds (median reported).')
_TIMES = flags.DEFINE_integer('times_to_interpolate', 3, 'Recursion depth (2**k-1 frames).')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file for the results.')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _frames():
  import cv2
  import numpy as np
  from film.media import image_io
  if _FRAME0.value:
    paths = [_FRAME0.value, _FRAME1.value]
  else:
    folder = os.path.join(REPO, '..', 'shared', 'benchmarks', 'middlebury_other', 'Urban2')
    paths = [os.path.join(folder, n) for n in ('frame10.png', 'frame11.png')]
  height, width = (int(v) for v in _SIZE.value.split('x'))
  return [np.clip(cv2.resize(image_io.read_image(p), (width, height),
                             interpolation=cv2.INTER_CUBIC), 0, 1).astype(np.float32)
          for p in paths]


def _cpu() -> dict:
  return {**cpu_description(), 'load_before': os.getloadavg(),
          'python': platform.python_version()}


def main(argv):
  del argv
  from film.inference.interpolator import Interpolator
  from film.net.config import FilmConfig
  from film.net.model import FilmNet
  cpu = _cpu()
  x0, x1 = _frames()
  models = {'bundled': Interpolator.from_path()}
  for item in _EXTRA.value:
    name, sep, path = item.partition('=')
    if not sep or not name or name in ('bundled', 'published'):
      raise app.UsageError(f'--extra_model takes NAME=DIR with a new NAME, got {item!r}')
    models[name] = Interpolator.from_path(path)
  published = FilmNet(FilmConfig())
  models['published'] = Interpolator(published)
  frames_out = 2 ** _TIMES.value - 1
  for interp in models.values():  # warm-up: trace the graphs, create the oneDNN primitives
    list(interp.interpolate_recursively([x0, x1], _TIMES.value))
  results = {name: [] for name in models}
  parts = {name: [] for name in models}
  names = list(models)
  for r in range(_ROUNDS.value):
    order = names[r % len(names):] + names[:r % len(names)]
    for name in order:
      interp = models[name]
      interp.seconds = {k: 0.0 for k in interp.seconds}
      start = time.perf_counter()
      out = list(interp.interpolate_recursively([x0, x1], _TIMES.value))
      seconds = time.perf_counter() - start
      assert len(out) == frames_out + 2
      results[name].append(seconds / frames_out)
      parts[name].append({k: v / frames_out for k, v in interp.seconds.items()})
      print(f'round {r} {name}: {seconds / frames_out:.3f} s/frame '
            f'{ {k: round(v, 3) for k, v in parts[name][-1].items()} }', flush=True)
  summary = {}
  for name in names:
    median = statistics.median(results[name])
    summary[name] = {
        's_per_frame': round(median, 4),
        'parts_s_per_frame': {k: round(statistics.median(p[k] for p in parts[name]), 4)
                              for k in parts[name][0]},
        'precision': models[name].precision,
        'time_mode': models[name].time_mode,
        'rounds': [round(v, 4) for v in results[name]]}
  for name in names:
    summary[name]['vs_bundled'] = round(summary[name]['s_per_frame'] /
                                        summary['bundled']['s_per_frame'], 3)
  report = {'size': _SIZE.value, 'times_to_interpolate': _TIMES.value,
            'output_frames_per_pair': frames_out, 'cpu': cpu, 'load_after': os.getloadavg(),
            'models': summary, 'extra_models': _EXTRA.value,
            'time': time.strftime('%Y-%m-%d %H:%M:%S %z')}
  print(json.dumps(report, indent=1))
  if _OUTPUT.value:
    with open(_OUTPUT.value, 'w') as f:
      json.dump(report, f, indent=1)


if __name__ == '__main__':
  app.run(main)
