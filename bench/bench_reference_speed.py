"""Ours vs the reference FILM vs OpenVINO, side by side in one run, same weights (issue 27).

Engines, each a long-lived worker process that answers one JSON command per line:
  reference_f32   google-research/frame-interpolation (TF 2.15 + tensorflow-addons), its own
                  `eval.interpolator.Interpolator` (align 64) on a SavedModel it saved itself
                  (`bench/reference_worker.py`, run by `--reference_python`);
  ours_f32 / ours_bf16   `film.inference.Interpolator` on the same SavedModel converted
                  (`model_io.load_model`), precision float32 / bfloat16, no pyramid reuse (each
                  call a full forward, like the reference);
  openvino_f32 / openvino_bf16   our `film-export` SavedModel of the same weights, converted by
                  `openvino.convert_model` and compiled for CPU with INFERENCE_PRECISION_HINT
                  f32 / bf16 (inputs padded to 64 like the others; 512x768 needs none).
The weights are the reference's random initialisation (seeded); speed does not depend on their
values, and `max_abs_diff_vs_reference` checks that all engines compute the same function.

Forward: one pair at t=0.5 (`--size`, default 512x768, FILM's published configuration);
`--rounds` rounds, each running every engine once in a rotated order, after one warm-up call
each; a ratio is the median over rounds of the two engines' seconds *in the same round*.
Slow-motion (`--times_to_interpolate`, 3 = 8x): the reference's recursive loop vs ours with
default settings (`Interpolator.from_path`: precision auto, pyramid reuse), `--slowmo_rounds`
after one uncounted warm-up each (new frames get new cache keys, so no call reuses another's
features).
Profile (`--profile`): per-op-type seconds of one float32 forward of the reference and of ours
(`bench/op_profile.py`, the TF profiler's trace), and of ours in bfloat16.

  python -m bench.bench_reference_speed --reference_python /path/ref-venv/bin/python \\
      --reference_dir /path/frame-interpolation --output bench/results/reference_speed.json

Prints the CPU model and flags; writes the JSON and a Markdown table beside it (`.md`).
"""
from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

from absl import app, flags, logging

from bench.machine import cpu_description
from bench.report import write_report

_REFERENCE_PYTHON = flags.DEFINE_string(
    'reference_python', os.environ.get('FILM_REFERENCE_PYTHON'),
    'Python of a venv with tensorflow-cpu 2.15 + tensorflow-addons 0.23 (the reference cases are '
    'skipped without it; env FILM_REFERENCE_PYTHON).')
_REFERENCE_DIR = flags.DEFINE_string(
    'reference_dir', os.environ.get('FILM_REFERENCE_DIR'),
    'A google-research/frame-interpolation checkout (env FILM_REFERENCE_DIR).')
_ENGINES = flags.DEFINE_list(
    'engines', ['reference_f32', 'ours_f32', 'ours_bf16', 'openvino_f32', 'openvino_bf16'],
    'Forward engines; the unavailable ones are skipped with a reason.')
_SIZE = flags.DEFINE_string('size', '512x768', 'HxW of the forward and slow-motion pair.')
_ROUNDS = flags.DEFINE_integer('rounds', 5, 'Forward rounds (after one warm-up call each).')
_SLOWMO_ROUNDS = flags.DEFINE_integer('slowmo_rounds', 2, 'Slow-motion rounds (0: none).')
_TIMES = flags.DEFINE_integer('times_to_interpolate', 3, 'Slow-motion depth (3 = 8x).')
_PROFILE = flags.DEFINE_bool('profile', True, 'Per-op-type profile of one forward each.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the random weights.')
_WORK_DIR = flags.DEFINE_string('work_dir', None, 'Folder for the SavedModels (default: temp).')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON results file (and .md beside it).')
_WORKER = flags.DEFINE_string('worker', None, 'Internal: run as the worker of this engine.')

PUBLISHED_OPTIONS = dict(pyramid_levels=7, fusion_pyramid_levels=5, specialized_levels=3,
                         flow_convs=[3, 3, 3, 3], flow_filters=[32, 64, 128, 256], sub_levels=4,
                         filters=64)


# ---- workers (ours and OpenVINO; the reference's is bench/reference_worker.py) ----

@functools.lru_cache(maxsize=1)
def _pair(path: str) -> dict:
  """The pair file's arrays ({'x0', 'x1'}: [H,W,3] float32), read once per worker."""
  import numpy as np
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


def _serve(handlers: dict) -> None:
  """Answers JSON commands from stdin with `handlers[cmd](command) -> dict`."""
  out = sys.stdout
  sys.stdout = sys.stderr
  for line in sys.stdin:
    command = json.loads(line)
    if command['cmd'] == 'quit':
      break
    out.write(json.dumps(handlers[command['cmd']](command)) + '\n')
    out.flush()


def _ours_worker(engine: str) -> None:
  import numpy as np
  from film.inference.interpolator import Interpolator
  from film.weights import model_io
  state = {}

  def build(command):
    model = model_io.load_model(command['saved_model'], pyramid_levels=7)
    state['model'] = model
    precision = {'ours_f32': 'float32', 'ours_bf16': 'bfloat16'}[engine]
    state['interp'] = Interpolator(model, precision=precision, reuse_features=False)
    state['model_dir'] = command['model_dir']
    if not os.path.isdir(command['model_dir']):
      model_io.save_model(model, command['model_dir'])
    return {'ok': True, 'precision': state['interp'].precision}

  def forward(command):
    frames = _pair(command['inputs'])
    start = time.perf_counter()
    image = state['interp'].interpolate(frames['x0'], frames['x1'], 0.5)
    seconds = time.perf_counter() - start
    if command.get('output'):
      np.save(command['output'], image)
    return {'seconds': seconds}

  def slowmo(command):
    frames = _pair(command['inputs'])
    if 'slowmo' not in state:  # defaults, as the CLI; one instance (graphs traced once)
      state['slowmo'] = Interpolator.from_path(state['model_dir'])
    interp = state['slowmo']
    start = time.perf_counter()
    out = list(interp.interpolate_recursively([frames['x0'], frames['x1']],
                                              command['times_to_interpolate']))
    return {'seconds': time.perf_counter() - start, 'frames': len(out),
            'precision': interp.precision, 'time_mode': interp.time_mode}

  def profile(command):
    from bench.op_profile import profile_op_types
    frames = _pair(command['inputs'])
    return {'op_seconds': profile_op_types(
        lambda: state['interp'].interpolate(frames['x0'], frames['x1'], 0.5))}

  _serve({'build': build, 'forward': forward, 'slowmo': slowmo, 'profile': profile})


def _openvino_worker(engine: str) -> None:
  import numpy as np
  import openvino as ov
  state = {}

  def build(command):
    from film.weights import export, model_io
    export_dir = command['export_dir']
    if not os.path.isdir(export_dir):
      export.export_saved_model(model_io.load_model(command['saved_model'], pyramid_levels=7),
                                export_dir)
    core = ov.Core()
    hint = 'bf16' if engine.endswith('bf16') else 'f32'
    state['compiled'] = core.compile_model(ov.convert_model(export_dir), 'CPU',
                                           {'INFERENCE_PRECISION_HINT': hint})
    return {'ok': True, 'openvino': ov.__version__,
            'precision': str(state['compiled'].get_property('INFERENCE_PRECISION_HINT')),
            'capabilities': list(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))}

  def forward(command):
    frames = _pair(command['inputs'])
    x0, x1 = frames['x0'][None], frames['x1'][None]
    height, width = x0.shape[1:3]
    pad = [(0, 0), (0, -height % 64), (0, -width % 64), (0, 0)]
    start = time.perf_counter()
    result = state['compiled']({'x0': np.pad(x0, pad), 'x1': np.pad(x1, pad),
                                'time': np.full((1, 1), 0.5, np.float32)})
    image = next(iter(result.values()))[0, :height, :width]
    seconds = time.perf_counter() - start
    if command.get('output'):
      np.save(command['output'], image)
    return {'seconds': seconds}

  _serve({'build': build, 'forward': forward})


# ---- the parent ----

class _Worker:
  """A worker process speaking the JSON-lines protocol."""

  def __init__(self, engine: str, argv: list[str], env: Optional[dict] = None):
    self.engine = engine
    self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, env=env)

  def ask(self, **command) -> dict:
    self.proc.stdin.write(json.dumps(command) + '\n')
    self.proc.stdin.flush()
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError(f'{self.engine} worker exited (code {self.proc.wait()})')
    return json.loads(line)

  def close(self) -> None:
    if self.proc.poll() is None:
      self.proc.stdin.write(json.dumps({'cmd': 'quit'}) + '\n')
      self.proc.stdin.flush()
      self.proc.wait(timeout=120)


def _start(engine: str) -> tuple[Optional[_Worker], Optional[str]]:
  """The engine's worker, or (None, reason it is unavailable)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  if engine.startswith('reference'):
    if not (_REFERENCE_PYTHON.value and _REFERENCE_DIR.value):
      return None, 'no --reference_python / --reference_dir'
    env['FILM_REFERENCE_DIR'] = os.path.abspath(_REFERENCE_DIR.value)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'reference_worker.py')
    env.pop('PYTHONPATH', None)  # our repository's `eval` would shadow the reference's
    return _Worker(engine, [_REFERENCE_PYTHON.value, script], env), None
  if engine.startswith('openvino'):
    try:
      import openvino  # noqa: F401
    except ImportError:
      return None, 'openvino is not installed in this Python (pip install openvino)'
  return _Worker(engine, [sys.executable, '-m', 'bench.bench_reference_speed',
                          f'--worker={engine}'], env), None


def run(work: str, results: dict) -> None:
  """Fills `results` stage by stage (a failure keeps the stages before it)."""
  import numpy as np
  from bench.bench_inference import _load_pair
  height, width = (int(v) for v in _SIZE.value.split('x'))
  inputs = os.path.join(work, 'pair.npz')
  x0, x1 = _load_pair(height, width)
  np.savez(inputs, x0=x0, x1=x1)
  saved_model = os.path.join(work, 'film_net', 'Style', 'saved_model')  # the release layout
  paths = dict(saved_model=saved_model, model_dir=os.path.join(work, 'ours_model'),
               export_dir=os.path.join(work, 'ours_export'))
  results.update({'cpu': cpu_description(), 'size': f'{height}x{width}',
                  'config': PUBLISHED_OPTIONS, 'load_before': os.getloadavg(), 'skipped': {},
                  'builds': {}})
  workers: dict[str, _Worker] = {}
  engines = list(_ENGINES.value)
  # The reference saves the weights first; without it, ours makes them (no reference cases).
  if 'reference_f32' not in engines or not (_REFERENCE_PYTHON.value and _REFERENCE_DIR.value):
    from film.net.config import PUBLISHED
    from film.net.model import FilmNet
    from film.weights import model_io
    import tensorflow as tf
    tf.keras.utils.set_random_seed(_SEED.value)
    model_io.save_model(FilmNet(PUBLISHED), paths['model_dir'])
    paths['saved_model'] = paths['model_dir']
  try:
    for engine in engines:
      worker, reason = _start(engine)
      if worker is None:
        results['skipped'][engine] = reason
        logging.warning('skipping %s: %s', engine, reason)
        continue
      start = time.perf_counter()
      built = worker.ask(cmd='build', config=PUBLISHED_OPTIONS, seed=_SEED.value, **paths)
      built['build_s'] = round(time.perf_counter() - start, 1)
      outfile = os.path.join(work, f'{engine}.npy')
      built['warm_up_s'] = round(worker.ask(cmd='forward', inputs=inputs, output=outfile)
                                 ['seconds'], 2)
      results['builds'][engine] = built
      workers[engine] = worker
      logging.info('%s built: %s', engine, built)
    names = list(workers)
    reference_out = os.path.join(work, 'reference_f32.npy')
    if os.path.exists(reference_out):
      ref = np.load(reference_out)
      results['max_abs_diff_vs_reference'] = {
          n: float(np.abs(np.clip(np.load(os.path.join(work, f'{n}.npy')), 0, 1)
                          - np.clip(ref, 0, 1)).max()) for n in names}
    rounds = []
    for r in range(_ROUNDS.value):
      order = names[r % len(names):] + names[:r % len(names)]
      row = {}
      for name in order:
        row[name] = workers[name].ask(cmd='forward', inputs=inputs)['seconds']
      row['load_1min'] = os.getloadavg()[0]
      logging.info('forward round %d: %s', r, {k: round(v, 2) for k, v in row.items()})
      rounds.append(row)
    results['forward_rounds'] = rounds
    results['forward_median_s'] = {n: statistics.median([row[n] for row in rounds])
                                   for n in names}
    pairs = [('ours_f32', 'reference_f32'), ('ours_bf16', 'reference_f32'),
             ('ours_f32', 'openvino_f32'), ('ours_bf16', 'openvino_bf16')]
    results['forward_speedups'] = {
        f'{a}_vs_{b}': statistics.median([row[b] / row[a] for row in rounds])
        for a, b in pairs if a in workers and b in workers}
    if _PROFILE.value:
      results['profiles'] = {}
      for name in ('reference_f32', 'ours_f32', 'ours_bf16'):
        if name in workers:
          results['profiles'][name] = workers[name].ask(cmd='profile', inputs=inputs)[
              'op_seconds']
    slowmo_engines = [n for n in ('reference_f32', 'ours_f32') if n in workers]
    for name in [n for n in workers if n not in slowmo_engines]:
      workers.pop(name).close()  # their memory would shrink ours' default memory cap
    if _SLOWMO_ROUNDS.value and slowmo_engines:
      for name in slowmo_engines:  # warm-up (tracing), not counted
        workers[name].ask(cmd='slowmo', inputs=inputs, times_to_interpolate=_TIMES.value)
      srounds = []
      for r in range(_SLOWMO_ROUNDS.value):
        row = {}
        for name in (slowmo_engines if r % 2 == 0 else slowmo_engines[::-1]):
          key = 'reference' if name.startswith('reference') else 'ours_default'
          row[key] = workers[name].ask(cmd='slowmo', inputs=inputs,
                                       times_to_interpolate=_TIMES.value)
        row['load_1min'] = os.getloadavg()[0]
        logging.info('slow-motion round %d: %s', r, row)
        srounds.append(row)
      results['slowmo_rounds'] = srounds
      if len(slowmo_engines) == 2:
        results['slowmo_speedup_ours_default_vs_reference'] = statistics.median(
            [row['reference']['seconds'] / row['ours_default']['seconds'] for row in srounds])
  finally:
    for worker in workers.values():
      worker.close()
    results['load_after'] = os.getloadavg()


def markdown(results: dict) -> str:
  """The results as the README / notes table."""
  if 'cpu' not in results:
    return 'nothing measured\n'
  cpu = results['cpu']
  lines = [f"CPU: {cpu['model']}, {cpu['cores']} cores, flags: {' '.join(cpu['flags'])}; "
           f"FILM published configuration, {results['size']}, one run "
           f"(load {results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after).",
           '', '| engine | median s / forward |', '|---|---:|']
  for name, seconds in results.get('forward_median_s', {}).items():
    lines.append(f'| {name} | {seconds:.2f} |')
  lines += ['', '| ratio (same round, median) | |', '|---|---:|']
  for name, ratio in results.get('forward_speedups', {}).items():
    lines.append(f'| {name} | {ratio:.2f}x |')
  if 'slowmo_speedup_ours_default_vs_reference' in results:
    lines.append(f"| 8x slow-motion, ours default vs reference loop | "
                 f"{results['slowmo_speedup_ours_default_vs_reference']:.2f}x |")
  profiles = results.get('profiles', {})
  if profiles:
    names = list(profiles)
    totals = {n: sum(profiles[n].values()) for n in names}
    op_types = sorted({op for n in names for op in profiles[n]},
                      key=lambda op: -max(profiles[n].get(op, 0.0) for n in names))[:10]
    lines += ['', '| op type (s, share) | ' + ' | '.join(names) + ' |',
              '|---|' + '---:|' * len(names)]
    for op in op_types:
      cells = [f'{profiles[n].get(op, 0.0):.3f} ({profiles[n].get(op, 0.0) / totals[n]:.0%})'
               for n in names]
      lines.append(f'| {op} | ' + ' | '.join(cells) + ' |')
    lines.append('| all ops | ' + ' | '.join(f'{totals[n]:.3f}' for n in names) + ' |')
  for name, reason in results.get('skipped', {}).items():
    lines.append(f'\n{name} skipped: {reason}')
  return '\n'.join(lines) + '\n'


def main(argv: list[str]) -> None:
  del argv
  if _WORKER.value:
    engine = _WORKER.value
    (_openvino_worker if engine.startswith('openvino') else _ours_worker)(engine)
    return
  cpu = cpu_description()
  print(f"CPU: {cpu['model']} ({cpu['cores']} cores), flags: {' '.join(cpu['flags'])}")
  work = _WORK_DIR.value or tempfile.mkdtemp(prefix='film-refspeed-')
  os.makedirs(work, exist_ok=True)
  results: dict = {}
  try:
    run(work, results)
  finally:  # what was measured before a failure is kept
    write_report(results, markdown(results), _OUTPUT.value)


if __name__ == '__main__':
  app.run(main)
