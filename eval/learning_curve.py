r"""Learning curves of a training run: every checkpoint evaluated as `film-eval` evaluates.

  # PSNR/SSIM of every checkpoint (every --every steps) on the validation set and the test sets,
  # appended to a CSV; --watch keeps polling for new checkpoints until --until_step:
  python -m film.eval.learning_curve curve --run_dir RUN --output curve.csv \
      --benchmark validation=VAL_DIR --benchmark middlebury_other=MB --benchmark ucf101=UCF \
      [--init_model film/default_model] [--every 250] [--watch]
  # Pick the best rows by one benchmark (the validation set, never a test set):
  python -m film.eval.learning_curve best --curve curve.csv --by validation [--top 4]

Each checkpoint is exported to a temporary model folder (`film.training.checkpoint_tools`) and
run through `Interpolator` with PSNR/SSIM of `film.eval.metrics` on full frames, so the numbers
match `film-eval --methods film`.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from film.weights import model_io
from film.eval import benchmarks as benchmarks_lib
from film.eval import evaluate as evaluate_lib
from film.eval import metrics
from film.training.checkpoint_tools import (checkpoint_arrays, checkpoint_steps,
                                            run_model_config, save_arrays)


def evaluate_model(model_dir: str, benchmarks: dict[str, str]) -> dict[str, float]:
  """Mean PSNR / SSIM of the model on each benchmark, as `film-eval --methods film`."""
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
  args = parser.parse_args(argv)
  try:
    if args.command == 'curve':
      curve(args.run_dir, args.output, _benchmarks(args.benchmark), args.every,
            args.init_model, args.watch, args.until_step, args.poll_seconds)
    else:
      for row in best(args.curve, args.by, args.top):
        print(json.dumps(row))
  except (ValueError, model_io.ModelLoadError) as error:
    sys.exit(f'error: {error}')


if __name__ == '__main__':
  main()
