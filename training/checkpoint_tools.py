r"""Checkpoint averaging and run records of a training run (issue 17, notes/default_model.md).

  # Uniform mean of the weights of some checkpoints (and/or model folders) -> a model folder:
  python -m film.training.checkpoint_tools average --run_dir RUN --steps 500,750,1000 \
      --output OUT_MODEL [--storage_dtype float16] [--also_model film/default_model]
  # A flow-prior model with its residual gates moved into the predictors (same function):
  python -m film.training.checkpoint_tools unit-gates --model film/default_model --output OUT
  # Copy a run's records (never its checkpoints) into the repository, machine paths replaced:
  python -m film.training.checkpoint_tools records --run_dir RUN --output training_runs/NAME \
      --replace /abs/data=DATA --replace /abs/runs=RUNS [--log train.log --log_every 50]

Averaging reads only the model weights of each checkpoint (no Adam state) and averages them
in float32. Learning curves (every checkpoint on the validation and test sets) are evaluation,
so they live in `film.eval.learning_curve`.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from typing import Iterable, Optional, Sequence

import numpy as np
import tensorflow as tf

from film.weights import model_io
from film.net.config import FilmConfig
from film.net.model import FilmNet, named_variables

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


def unit_gates(arrays: dict[str, np.ndarray], config: FilmConfig) -> dict[str, np.ndarray]:
  """The same function with the prior gates (near) 1: each predictor's linear output conv is
  scaled by the largest |gate| of the levels it serves and those gates divided by it.

  A flow-prior model ('all' levels) adds `gate[i] * residual_i`, and `residual_i` is the
  predictor's last, linear 1x1 conv, so `g * (W h + b) = (g / s) * ((s W) h + s b)` for any
  s != 0. Gates start at 0 (step 0 = the prior alone), and a predictor behind a gate of 0.02
  moves the flow 50x less per optimizer step than one behind 1 (Adam's steps do not depend on the
  gradient's scale); warm-starting from these weights gives the predictors FILM's own step size.
  Raises ValueError for models without an 'all' prior or with a predictor whose gates are all 0.
  """
  if not config.has_flow_prior or config.flow_prior_levels != 'all':
    raise ValueError("unit-gates needs a flow-prior model with flow_prior_levels='all'")
  model = FilmNet(config)
  model_io.assign_weights(model, arrays, 'unit-gates source')
  estimator = model.predict_flow
  gates = estimator.prior_gate.numpy().astype(np.float64)
  predictors = estimator.predictors  # level i -> its predictor (the shared one repeated)
  for predictor in dict.fromkeys(predictors):  # each distinct predictor once, finest first
    levels = [i for i, p in enumerate(predictors) if p is predictor]
    scale = float(np.max(np.abs(gates[levels])))
    if scale == 0.0:
      raise ValueError(f'{predictor.name}: its gates are all 0 (a model that was never trained '
                       'with its prior); nothing to move')
    output_conv = predictor.convs[-1]
    for variable in (output_conv.kernel, output_conv.bias):
      variable.assign((variable.numpy().astype(np.float64) * scale).astype(np.float32))
    gates[levels] /= scale
  estimator.prior_gate.assign(gates.astype(np.float32))
  return {name: v.numpy() for name, v in named_variables(model).items()}


# ------------------------------------------------------------------------------ learning curve

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
  gates = sub.add_parser('unit-gates', help='move a prior model\'s gates into its predictors')
  gates.add_argument('--model', required=True)
  gates.add_argument('--output', required=True)
  gates.add_argument('--storage_dtype', default='float32', choices=['float32', 'float16'])
  gates.add_argument('--overwrite', action='store_true')
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
    elif args.command == 'unit-gates':
      arrays, config = model_arrays(args.model)
      metadata = {'unit_gates_of': os.path.normpath(args.model),
                  'created': datetime.datetime.now().isoformat(timespec='seconds')}
      print(save_arrays(unit_gates(arrays, config), config, args.output, args.storage_dtype,
                        metadata, args.overwrite))
    else:
      pairs = [tuple(r.split('=', 1)) for r in args.replace]
      if any(len(p) != 2 or not p[0] for p in pairs):
        raise ValueError('--replace takes OLD=NEW')
      for name in copy_records(args.run_dir, args.output, pairs, args.log, args.log_every):
        print(os.path.join(args.output, name))
  except (ValueError, model_io.ModelLoadError) as error:
    sys.exit(f'error: {error}')


if __name__ == '__main__':
  main()
