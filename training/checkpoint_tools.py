r"""Checkpoint averaging and learning curves of a training run (issue 17, notes/default_model.md).

  # Uniform mean of the weights of some checkpoints (and/or model folders) -> a model folder:
  python -m film.training.checkpoint_tools average --run_dir RUN --steps 500,750,1000 \
      --output OUT_MODEL [--storage_dtype float16] [--also_model film/default_model]
  # PSNR/SSIM of every checkpoint (every --every steps) on the validation set and the test sets,
  # appended to a CSV; --watch keeps polling for new checkpoints until --until_step:
  python -m film.training.checkpoint_tools curve --run_dir RUN --output curve.csv \
      --benchmark validation=VAL_DIR --benchmark middlebury_other=MB --benchmark ucf101=UCF \
      [--init_model film/default_model] [--every 250] [--watch]
  # Pick the best rows by one benchmark (the validation set, never a test set):
  python -m film.training.checkpoint_tools best --curve curve.csv --by validation [--top 4]
  # Copy a run's records (never its checkpoints) into the repository, machine paths replaced:
  python -m film.training.checkpoint_tools records --run_dir RUN --output training_runs/NAME \
      --replace /abs/data=DATA --replace /abs/runs=RUNS [--log train.log --log_every 50]

Averaging reads only the model weights of each checkpoint (no Adam state) and averages them
in float32. The curve evaluates each checkpoint exactly as `film-eval` does (the checkpoint is
exported to a temporary model folder and run through `Interpolator`, PSNR/SSIM of
`film.eval.metrics` on full frames), so its numbers match `film-eval --methods film`.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import re
import sys
import tempfile
import time
from typing import Iterable, Optional, Sequence

import numpy as np
import tensorflow as tf

from film import model_io
from film.config import FilmConfig
from film.model import FilmNet, named_variables

CHECKPOINT_SUBDIR = 'checkpoints'
RUN_INFO = 'run_info.json'
_CKPT = re.compile(r'^ckpt-(\d+)\.index$')


def checkpoint_steps(run_dir: str) -> dict[int, str]:
  """step -> checkpoint prefix for every complete checkpoint in `<run_dir>/checkpoints`."""
  folder = os.path.join(run_dir, CHECKPOINT_SUBDIR)
  out = {}
  if os.path.isdir(folder):
    for name in os.listdir(folder):
      match = _CKPT.match(name)
      if match:
        out[int(match.group(1))] = os.path.join(folder, name[:-len('.index')])
  return dict(sorted(out.items()))


def run_model_config(run_dir: str) -> FilmConfig:
  """The model config of the run's latest start (run_info.json)."""
  from film.training import run_records  # pylint: disable=g-import-not-at-top
  return run_records.read_run_model_config(run_dir)


def checkpoint_arrays(prefix: str, config: FilmConfig) -> dict[str, np.ndarray]:
  """The model weights stored in checkpoint `prefix` (by FILM variable name), float32."""
  model = FilmNet(config)
  step = tf.Variable(0, dtype=tf.int64)
  tf.train.Checkpoint(model=model, step=step).read(prefix).expect_partial() \
      .assert_existing_objects_matched()
  return {name: v.numpy().astype(np.float32) for name, v in named_variables(model).items()}


def model_arrays(model_dir: str) -> tuple[dict[str, np.ndarray], FilmConfig]:
  model = model_io.load_model(model_dir)
  return ({name: v.numpy().astype(np.float32) for name, v in named_variables(model).items()},
          model.config)


def mean_arrays(sources: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """Uniform mean, name by name; all sources must have the same names and shapes."""
  total, count = None, 0
  for arrays in sources:
    if total is None:
      total = {k: v.astype(np.float64) for k, v in arrays.items()}
    else:
      if set(arrays) != set(total):
        raise ValueError(f'weights differ in names: {sorted(set(arrays) ^ set(total))[:5]}')
      for k, v in arrays.items():
        total[k] += v
    count += 1
  if not count:
    raise ValueError('nothing to average')
  return {k: (v / count).astype(np.float32) for k, v in total.items()}


def save_arrays(arrays: dict[str, np.ndarray], config: FilmConfig, output_dir: str,
                storage_dtype: str = 'float32', metadata: Optional[dict] = None,
                overwrite: bool = False) -> str:
  model = FilmNet(config)
  model_io.assign_weights(model, arrays, 'averaged weights')
  return model_io.save_model(model, output_dir, storage_dtype=storage_dtype,
                             metadata=metadata, overwrite=overwrite)


def average(run_dir: Optional[str], steps: Sequence[int], output_dir: str,
            storage_dtype: str = 'float32', also_models: Sequence[str] = (),
            metadata: Optional[dict] = None, overwrite: bool = False) -> str:
  """Writes the uniform mean of the run's checkpoints at `steps` and of `also_models`."""
  sources, config, names = [], None, []
  if steps:
    if not run_dir:
      raise ValueError('--steps needs --run_dir')
    available = checkpoint_steps(run_dir)
    missing = [s for s in steps if s not in available]
    if missing:
      raise ValueError(f'no checkpoint for steps {missing} in {run_dir} '
                       f'(have {sorted(available)})')
    config = run_model_config(run_dir)
    for s in steps:
      sources.append(checkpoint_arrays(available[s], config))
      names.append(f'ckpt-{s}')
  for path in also_models:
    arrays, model_config = model_arrays(path)
    if config is not None and model_config.to_dict() != config.to_dict():
      raise ValueError(f'{path} has another model config than the run')
    config = model_config
    sources.append(arrays)
    names.append(os.path.basename(os.path.normpath(path)))
  info = {'averaged': names, 'run': os.path.basename(os.path.normpath(run_dir or '')),
          'created': datetime.datetime.now().isoformat(timespec='seconds')}
  info.update(metadata or {})
  return save_arrays(mean_arrays(sources), config, output_dir, storage_dtype, info, overwrite)


# ------------------------------------------------------------------------------ learning curve

def evaluate_model(model_dir: str, benchmarks: dict[str, str]) -> dict[str, float]:
  """Mean PSNR / SSIM of the model on each benchmark, as `film-eval --methods film`."""
  from film.eval import benchmarks as benchmarks_lib  # pylint: disable=g-import-not-at-top
  from film.eval import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from film.eval import metrics  # pylint: disable=g-import-not-at-top
  method = evaluate_lib.make_model_method(model_dir)
  out = {}
  for name, root in benchmarks.items():
    psnrs, ssims = [], []
    for triplet in benchmarks_lib.open_benchmark(root, None):
      prediction = method(triplet.x0, triplet.x1, triplet.t)
      psnrs.append(float(metrics.psnr(prediction, triplet.y)[0]))
      ssims.append(float(metrics.ssim(prediction, triplet.y)[0]))
    out[f'{name}_psnr'] = round(float(np.mean(psnrs)), 4)
    out[f'{name}_ssim'] = round(float(np.mean(ssims)), 5)
  return out


def _read_curve(path: str) -> list[dict[str, str]]:
  if not os.path.exists(path):
    return []
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _append_row(path: str, row: dict) -> None:
  rows = _read_curve(path)
  rows.append({k: str(v) for k, v in row.items()})
  fields = []
  for r in rows:
    fields += [k for k in r if k not in fields]
  tmp = path + '.tmp'
  with open(tmp, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  os.replace(tmp, path)


def curve(run_dir: str, output: str, benchmarks: dict[str, str], every: int = 250,
          init_model: Optional[str] = None, watch: bool = False, until_step: int = 10 ** 9,
          poll_seconds: int = 60) -> None:
  """Evaluates each new checkpoint at a multiple of `every` (and `init_model` as step 0)."""
  done = {r['label'] for r in _read_curve(output)}
  if init_model and 'init' not in done:
    started = time.time()
    row = {'label': 'init', 'step': 0, **evaluate_model(init_model, benchmarks),
           'eval_seconds': round(time.time() - started)}
    _append_row(output, row)
    print(row, flush=True)
  while True:
    pending = [(s, p) for s, p in checkpoint_steps(run_dir).items()
               if s % every == 0 and f'ckpt-{s}' not in done and s <= until_step]
    for step, prefix in pending:
      started = time.time()
      with tempfile.TemporaryDirectory() as tmp:
        try:
          arrays = checkpoint_arrays(prefix, run_model_config(run_dir))
        except (tf.errors.NotFoundError, ValueError) as error:  # Deleted by max_to_keep.
          print(f'skip {prefix}: {error}', flush=True)
          continue
        model_dir = save_arrays(arrays, run_model_config(run_dir), os.path.join(tmp, 'model'))
        row = {'label': f'ckpt-{step}', 'step': step, **evaluate_model(model_dir, benchmarks),
               'eval_seconds': round(time.time() - started)}
      _append_row(output, row)
      done.add(row['label'])
      print(row, flush=True)
    if not watch or any(s >= until_step for s in checkpoint_steps(run_dir)) and not pending:
      return
    time.sleep(poll_seconds)


def best(curve_path: str, by: str, top: int = 1) -> list[dict[str, str]]:
  key = by if by.endswith(('_psnr', '_ssim')) else f'{by}_psnr'
  rows = [r for r in _read_curve(curve_path) if r.get(key)]
  if not rows:
    raise ValueError(f'no column {key} in {curve_path}')
  return sorted(rows, key=lambda r: -float(r[key]))[:top]


# ------------------------------------------------------------------------------ run records

RECORD_FILES = ('run_info.json', 'data_manifest.json', 'learning_curve.csv')


def _replace_all(text: str, replacements: Sequence[tuple[str, str]]) -> str:
  for old, new in sorted(replacements, key=lambda r: -len(r[0])):  # Longest prefix first.
    text = text.replace(old, new)
  return text


def copy_records(run_dir: str, output_dir: str, replacements: Sequence[tuple[str, str]],
                 log_path: Optional[str] = None, log_every: int = 50) -> list[str]:
  """Copies the run's records (gin, run_info, data manifest, curve, a trimmed log) with
  `replacements` applied to their text; never checkpoints. Returns the files written."""
  os.makedirs(output_dir, exist_ok=True)
  names = [n for n in sorted(os.listdir(run_dir))
           if n in RECORD_FILES or (n.startswith('operative_config') and n.endswith('.gin'))]
  written = []
  for name in names:
    with open(os.path.join(run_dir, name)) as f:
      text = _replace_all(f.read(), replacements)
    with open(os.path.join(output_dir, name), 'w') as f:
      f.write(text)
    written.append(name)
  if log_path:
    keep = []
    step_line = re.compile(r'step (\d+)/')
    with open(log_path, errors='replace') as f:
      for line in f:
        match = step_line.search(line)
        if match and int(match.group(1)) % log_every == 0:
          keep.append(line)
        elif not match and any(word in line for word in (
            'Run ', 'Restored', 'Initialised', 'Saved checkpoint', 'Interrupted', 'error',
            'Error')) and 'oneDNN' not in line and 'remapper failed' not in line:
          keep.append(line)
    with open(os.path.join(output_dir, 'train_log.txt'), 'w') as f:
      f.write(_replace_all(''.join(keep), replacements))
    written.append('train_log.txt')
  return written


def _benchmarks(items: Sequence[str]) -> dict[str, str]:
  out = {}
  for item in items:
    name, sep, path = item.partition('=')
    if not sep or not name or not path:
      raise SystemExit(f'error: --benchmark takes NAME=PATH, got {item!r}')
    out[name] = path
  return out


def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  sub = parser.add_subparsers(dest='command', required=True)
  avg = sub.add_parser('average', help='uniform mean of checkpoints / model folders')
  avg.add_argument('--run_dir')
  avg.add_argument('--steps', default='', help='comma list of checkpoint steps')
  avg.add_argument('--also_model', action='append', default=[],
                   help='a model folder to include in the mean (repeatable)')
  avg.add_argument('--output', required=True)
  avg.add_argument('--storage_dtype', default='float32', choices=['float32', 'float16'])
  avg.add_argument('--metadata_json', default='', help='JSON object added to the manifest')
  avg.add_argument('--overwrite', action='store_true')
  cur = sub.add_parser('curve', help='validation/test PSNR of every checkpoint')
  cur.add_argument('--run_dir', required=True)
  cur.add_argument('--output', required=True, help='CSV file (rows are appended)')
  cur.add_argument('--benchmark', action='append', required=True, help='NAME=PATH (repeatable)')
  cur.add_argument('--every', type=int, default=250)
  cur.add_argument('--init_model', default=None, help='also evaluate this model as step 0')
  cur.add_argument('--watch', action='store_true', help='keep polling for new checkpoints')
  cur.add_argument('--until_step', type=int, default=10 ** 9)
  cur.add_argument('--poll_seconds', type=int, default=60)
  bst = sub.add_parser('best', help='best rows of a curve by one benchmark')
  bst.add_argument('--curve', required=True)
  bst.add_argument('--by', required=True)
  bst.add_argument('--top', type=int, default=1)
  rec = sub.add_parser('records', help='copy run records (no checkpoints), paths replaced')
  rec.add_argument('--run_dir', required=True)
  rec.add_argument('--output', required=True)
  rec.add_argument('--replace', action='append', default=[], help='OLD=NEW (repeatable)')
  rec.add_argument('--log', default=None, help='the training log to trim into train_log.txt')
  rec.add_argument('--log_every', type=int, default=50)
  args = parser.parse_args(argv)
  try:
    if args.command == 'average':
      steps = [int(s) for s in args.steps.split(',') if s.strip()]
      metadata = json.loads(args.metadata_json) if args.metadata_json else None
      print(average(args.run_dir, steps, args.output, args.storage_dtype, args.also_model,
                    metadata, args.overwrite))
    elif args.command == 'curve':
      curve(args.run_dir, args.output, _benchmarks(args.benchmark), args.every,
            args.init_model, args.watch, args.until_step, args.poll_seconds)
    elif args.command == 'records':
      pairs = [tuple(r.split('=', 1)) for r in args.replace]
      if any(len(p) != 2 or not p[0] for p in pairs):
        raise ValueError('--replace takes OLD=NEW')
      for name in copy_records(args.run_dir, args.output, pairs, args.log, args.log_every):
        print(os.path.join(args.output, name))
    else:
      for row in best(args.curve, args.by, args.top):
        print(json.dumps(row))
  except (ValueError, model_io.ModelLoadError) as error:
    sys.exit(f'error: {error}')


if __name__ == '__main__':
  main()
