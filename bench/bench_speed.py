"""Speed of `Interpolator`'s options side by side against the baseline, in one run (issue 15).

Baseline: "one full float32 forward per new frame, no reuse" = `Interpolator(precision='float32',
reuse_features=False)` (both frames extracted and both flow directions estimated separately
for every new frame, like the reference FILM's own loop). Variants:

  default         as shipped: precision auto, pyramid reuse, the model's
                  recommended time mode (`from_path`: direct for the default model)
  default_recursive  default with recursive midpoints
  float32_reuse   precision float32 with reuse (what a CPU without native bf16 gets by default)
  bf16_noreuse    bfloat16, no pyramid reuse (precision alone)
  default_batched  default with the two flow directions as one batch
  recursive_batched  default_recursive with the two flow directions as one batch
  direct          default + time_mode direct: the 2**k-1 times of the gap from one flow estimate
  direct_noflowreuse  direct, flows re-estimated for every time
  flow_scale_0.5  default + flows estimated at half resolution

For each (model, size) one worker process builds the model, warms up every variant (traces the
graphs and creates the oneDNN primitives on one tile), then runs `--repeats` rounds; every round
runs all variants one after the other in a rotated order (the machine is shared, so load changes
hit all variants alike), and the speed-up of a variant is the median over rounds of
baseline seconds / variant seconds measured in the same round. A separate fresh process measures
the peak RSS of one 4K pair with the default settings and the published configuration under
`--max_memory_gb` (os.wait4 of that child), and fresh processes measure the time to first frame.

  python -m bench.bench_speed --output bench_runs/speed.json        # ~1 h on 2 loaded cores
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Optional

from absl import app, flags, logging

_CASES = flags.DEFINE_list(
    'cases', ['default:720p', 'published:720p', 'default:4k', 'published:4k'],
    'MODEL:SIZE list, in order. MODEL: default (the bundled default model) or published '
    '(film.net.config.PUBLISHED, random weights); SIZE: 720p (k=3), 4k (k=1), 360p (k=3), smoke.')
_REPEATS = flags.DEFINE_string('repeats', '720p:3,4k:1', 'Rounds per size.')
_VARIANTS = flags.DEFINE_string(
    'variants', '720p:default,default_recursive,float32_reuse,bf16_noreuse,default_batched,'
    'direct_noflowreuse,flow_scale_0.5;4k:default,flow_scale_0.5,flow_scale_0.25',
    'Variants per size besides the baseline (see the module docstring).')
_MAX_MEMORY = flags.DEFINE_float('max_memory_gb', 12.0, 'Memory cap given to the Interpolator.')
_MEMORY_CASE = flags.DEFINE_bool('memory_case', True, 'Also measure the peak RSS of a 4K pair '
                                 '(published config, default settings) in a fresh process.')
_FIRST_FRAME = flags.DEFINE_bool('first_frame', True, 'Also measure the time to first frame of '
                                 'a 720p pair in fresh processes (default model).')
_FIRST_FRAME_ROUNDS = flags.DEFINE_integer('first_frame_rounds', 2, 'Rounds of fresh processes '
                                           'for the time to first frame.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file for all results.')
_WORKER = flags.DEFINE_string('worker', None, 'Internal: MODEL:SIZE or memory/first_frame case.')

SIZES = {'720p': ((720, 1280), 3), '4k': ((2160, 3840), 1), '360p': ((360, 640), 3),
         'smoke': ((128, 192), 2)}
BASELINE = dict(precision='float32', reuse_features=False, time_mode='recursive')
VARIANTS = {
    'baseline': BASELINE,
    'default': {},  # + the model's recommended time mode (direct for the default model)
    'default_recursive': dict(time_mode='recursive'),
    'float32_reuse': dict(precision='float32'),
    'bf16_noreuse': dict(precision='bfloat16', reuse_features=False),
    'default_batched': dict(batch_directions=True),
    'recursive_batched': dict(time_mode='recursive', batch_directions=True),
    'direct': dict(time_mode='direct'),
    'direct_noflowreuse': dict(time_mode='direct', reuse_flows=False),
    'flow_scale_0.5': dict(flow_scale=0.5),
    'flow_scale_0.25': dict(flow_scale=0.25),
}


def _per_size(spec: str, separator: str) -> dict[str, str]:
  """'720p:a,b;4k:c' (separator ';') -> {'720p': 'a,b', '4k': 'c'}."""
  out = {}
  for part in spec.split(separator):
    if ':' in part:
      key, value = part.split(':', 1)
      out[key] = value
  return out


def _make_model(name: str):
  from film.net.config import PUBLISHED
  from film.weights.defaults import DEFAULT_MODEL_DIR
  from film.net.model import FilmNet
  from film.weights import model_io
  if name == 'published':
    return FilmNet(PUBLISHED)
  return model_io.load_model(DEFAULT_MODEL_DIR)


def _settings(model_name: str, variant: str) -> dict:
  """Interpolator arguments of `variant` for `model_name`: the variants without a time mode
  get the model's recommended one, as `Interpolator.from_path` (the CLI) does."""
  from film.inference.interpolator import recommended_time_mode
  from film.weights.defaults import DEFAULT_MODEL_DIR
  settings = dict(VARIANTS[variant])
  if model_name == 'default':
    settings.setdefault('time_mode', recommended_time_mode(DEFAULT_MODEL_DIR))
  return settings


def _run_variant(model, settings: dict, frames: list, k: int, max_memory_gb: float) -> dict:
  """Seconds per new frame of one 8x (k=3) / 2x (k=1) interpolation of `frames` (a pair)."""
  import numpy as np
  from film.inference.interpolator import Interpolator
  interp = Interpolator(model, max_memory_gb=max_memory_gb, **settings)
  start = time.perf_counter()
  outputs = list(interp.interpolate_recursively(frames, k))[1:-1]  # time_mode decides how
  seconds = time.perf_counter() - start
  assert len(outputs) == 2 ** k - 1 and all(np.isfinite(o).all() for o in outputs)
  return {'seconds_per_new_frame': seconds / (2 ** k - 1), 'seconds': seconds,
          'parts': {key: round(v, 2) for key, v in interp.seconds.items()},
          'flow_estimations': interp.flow_estimations,
          'extractions': interp.cache_stats['misses'],
          'tiles': len(interp.tiles(*frames[0].shape[:2])), 'precision': interp.precision,
          'time_mode': interp.time_mode}


def _warm_up(model, settings: dict, frames: list, max_memory_gb: float) -> float:
  """Traces the variant's graphs on one tile-sized crop (oneDNN primitives for that shape)."""
  from film.inference.interpolator import Interpolator
  interp = Interpolator(model, max_memory_gb=max_memory_gb, **settings)
  tile = interp.tiles(*frames[0].shape[:2])[0]
  crops = [f[tile.slices] for f in frames]
  start = time.perf_counter()
  list(interp.interpolate_recursively(crops, 1))
  return time.perf_counter() - start


def worker(model_name: str, size: str, variants: list[str], repeats: int,
           max_memory_gb: float) -> dict:
  import numpy as np
  from bench.bench_inference import _load_pair
  from film.net.model import count_parameters
  (height, width), k = SIZES[size]
  model = _make_model(model_name)
  frames = _load_pair(height, width)
  names = ['baseline'] + variants
  warm = {name: round(_warm_up(model, _settings(model_name, name), frames, max_memory_gb), 2)
          for name in names}
  rounds = []
  for r in range(repeats):
    order = names[r % len(names):] + names[:r % len(names)]
    row = {}
    for name in order:
      row[name] = _run_variant(model, _settings(model_name, name), frames, k, max_memory_gb)
      row[name]['load_1min'] = os.getloadavg()[0]
      logging.info('%s %s round %d %s: %.2f s/new frame', model_name, size, r, name,
                   row[name]['seconds_per_new_frame'])
    rounds.append(row)
  summary = {}
  for name in names:
    per_frame = [row[name]['seconds_per_new_frame'] for row in rounds]
    ratios = [row['baseline']['seconds_per_new_frame'] / row[name]['seconds_per_new_frame']
              for row in rounds]
    summary[name] = {'median_s_per_new_frame': float(np.median(per_frame)),
                     'speedup_vs_baseline': float(np.median(ratios)),
                     'speedups_per_round': [round(v, 3) for v in ratios],
                     'warm_up_s': warm[name], 'last': rounds[-1][name]}
  return {'model': model_name, 'params': count_parameters(model), 'size': f'{height}x{width}',
          'k': k, 'new_frames': 2 ** k - 1, 'repeats': repeats, 'summary': summary,
          'rounds': rounds}


def memory_worker(max_memory_gb: float) -> dict:
  """One 4K pair, published config, default settings (peak RSS read by the parent)."""
  from bench.bench_inference import _load_pair
  from film.inference.interpolator import Interpolator
  frames = _load_pair(2160, 3840)
  interp = Interpolator(_make_model('published'), max_memory_gb=max_memory_gb)
  start = time.perf_counter()
  list(interp.interpolate_recursively(frames, 1))
  return {'case': '4k pair, published, default settings', 'max_memory_gb': max_memory_gb,
          'seconds': time.perf_counter() - start, 'tiles': len(interp.tiles(2160, 3840)),
          'precision': interp.precision}


def first_frame_worker(precision: str, autograph: bool) -> dict:
  """Seconds from process start to the first new frame of a 720p pair (default model);
  `autograph` True restores the graphs' AutoGraph conversion (the state before session 5)."""
  start = time.perf_counter()
  from bench.bench_inference import _load_pair
  from film.inference import graphs
  from film.inference.interpolator import Interpolator
  graphs.AUTOGRAPH = autograph
  imported = time.perf_counter()
  interp = Interpolator.from_path(None, precision=precision)
  loaded = time.perf_counter()
  frames = _load_pair(720, 1280)
  read = time.perf_counter()
  list(interp.interpolate_recursively(frames, 1))
  first = time.perf_counter()
  list(interp.interpolate_recursively(frames, 1))
  second = time.perf_counter()
  return {'case': f'first frame, 720p, default model, precision {precision}, autograph '
                  f'{autograph}', 'precision': precision, 'autograph': autograph,
          'import_s': imported - start, 'load_s': loaded - imported,
          'first_frame_s': first - read, 'warm_frame_s': second - first,
          'to_first_frame_s': first - start - (read - loaded)}


def tracing_worker(autograph: bool) -> dict:
  """Seconds to trace the extract / flows / synthesize graphs of the default model in this
  (fresh) process, with or without AutoGraph (AutoGraph caches its conversions per process, so
  only a fresh process shows what a user's first call pays)."""
  from film.inference import graphs
  model = _make_model('default')
  graphs.AUTOGRAPH = autograph
  fns = graphs.graph_functions(model, None)
  start, cpu_start = time.perf_counter(), time.process_time()
  for fn in (fns.extract, fns.flows, fns.synthesize):
    fn.get_concrete_function()
  # CPU seconds of this process: tracing is single-threaded Python, so they are much less
  # sensitive to the load of a shared machine than wall seconds.
  return {'autograph': autograph, 'trace_s': time.perf_counter() - start,
          'trace_cpu_s': time.process_time() - cpu_start}


def _child(case: str) -> tuple[Optional[dict], float]:
  """Runs `case` in a fresh process; (its JSON result, its peak RSS in GB)."""
  args = [sys.executable, '-m', 'bench.bench_speed', f'--worker={case}',
          f'--max_memory_gb={_MAX_MEMORY.value}', f'--repeats={_REPEATS.value}',
          f'--variants={_VARIANTS.value}']
  proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
  out = proc.stdout.read()
  _, status, usage = os.wait4(proc.pid, 0)
  if os.waitstatus_to_exitcode(status) != 0:
    logging.error('%s failed (exit %d)', case, os.waitstatus_to_exitcode(status))
    return None, 0.0
  return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss * 1024 / 2**30


def _print_table(result: dict) -> None:
  print(f"\n{result['model']} ({result['params']:,} params), {result['size']}, k={result['k']}"
        f" ({result['new_frames']} new frames), {result['repeats']} rounds")
  print('| variant | s / new frame (median) | speed-up vs baseline (median of rounds) | rounds |')
  print('|---|---|---|---|')
  for name, row in result['summary'].items():
    print(f"| {name} | {row['median_s_per_new_frame']:.2f} | {row['speedup_vs_baseline']:.2f}x |"
          f" {', '.join(f'{v:.2f}' for v in row['speedups_per_round'])} |")


def main(argv: list[str]) -> None:
  del argv
  repeats = {k: int(v) for k, v in _per_size(_REPEATS.value, ',').items()}
  variants = {k: [v for v in vs.split(',') if v]
              for k, vs in _per_size(_VARIANTS.value, ';').items()}
  if _WORKER.value:
    if _WORKER.value == 'memory':
      result = memory_worker(_MAX_MEMORY.value)
    elif _WORKER.value.startswith('tracing:'):
      result = tracing_worker(_WORKER.value == 'tracing:True')
    elif _WORKER.value.startswith('first_frame:'):
      _, precision, autograph = _WORKER.value.split(':')
      result = first_frame_worker(precision, autograph == 'True')
    else:
      model_name, size = _WORKER.value.split(':')
      result = worker(model_name, size, variants.get(size, []), repeats.get(size, 1),
                      _MAX_MEMORY.value)
    print(json.dumps(result))
    return
  for spec in variants.values():
    unknown = sorted(set(spec) - set(VARIANTS))
    if unknown:
      sys.exit(f'bench_speed: error: unknown variants {unknown}; choose from {sorted(VARIANTS)}')
  from film.net.precision import NATIVE_BFLOAT16_CPU_FLAGS, cpu_flags
  machine = {'cpu_flags_bf16': sorted(cpu_flags() & NATIVE_BFLOAT16_CPU_FLAGS),
             'avx512f': 'avx512f' in cpu_flags(), 'cores': os.cpu_count(),
             'load_1min_start': os.getloadavg()[0], 'started': time.strftime('%Y-%m-%d %H:%M')}
  print('machine:', json.dumps(machine), flush=True)
  results = {'machine': machine, 'speed': [], 'memory': None, 'first_frame': []}

  def save() -> None:
    if _OUTPUT.value:
      os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
      with open(_OUTPUT.value, 'w') as f:
        json.dump(results, f, indent=1)

  if _FIRST_FRAME.value:
    results['tracing'] = []
    for _ in range(3):  # Fresh processes, interleaved.
      for autograph in (True, False):
        result, _ = _child(f'tracing:{autograph}')
        if result:
          results['tracing'].append(result)
          print(json.dumps(result), flush=True)
    for _ in range(_FIRST_FRAME_ROUNDS.value):  # Interleaved.
      for precision, autograph in (('auto', False), ('auto', True), ('float32', False)):
        result, rss = _child(f'first_frame:{precision}:{autograph}')
        if result:
          result['peak_rss_gb'] = round(rss, 2)
          results['first_frame'].append(result)
          print(json.dumps(result), flush=True)
    save()
  for case in _CASES.value:
    result, rss = _child(case)
    if result:
      result['peak_rss_gb'] = round(rss, 2)
      results['speed'].append(result)
      _print_table(result)
      save()
  if _MEMORY_CASE.value:
    result, rss = _child('memory')
    if result:
      result['peak_rss_gb'] = round(rss, 2)
      results['memory'] = result
      print(json.dumps(result), flush=True)
  machine['load_1min_end'] = os.getloadavg()[0]
  save()


if __name__ == '__main__':
  app.run(main)
