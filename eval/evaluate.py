"""Library entry point of the evaluation: `evaluate(...)` runs methods on benchmarks and writes
the report files (used by `eval/eval_cli.py`, notebooks and tests alike).

Methods share the baseline signature `fn(x0, x1, t) -> frame` (`[H,W,3]` float32 in [0,1]):
the classical baselines of `eval.baselines` plus `film`, a trained model loaded from `--model`
through `film.inference.interpolator.Interpolator` (imported only when a model is evaluated).

Outputs in `output_dir` (all written atomically, and only after every sample was evaluated, so a
failed run leaves no partial results): `samples.csv`, `summary.md`, `results_table.md`,
`comparison_<benchmark>.png` and `run_info.json` (command, settings, versions).
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from absl import logging

from film.media import atomic
from film.inference import classical_flow
from film.cli import UserError
from film.eval import baselines as baselines_lib
from film.eval import benchmarks as benchmarks_lib
from film.eval import metrics as metrics_lib
from film.eval import report

MODEL_METHOD = 'film'
METHOD_NAMES = (MODEL_METHOD,) + tuple(baselines_lib.BASELINES)


class EvaluationError(UserError):
  """A bad evaluation request; `str(error)` is one line naming the problem and the fix."""


@dataclasses.dataclass
class EvaluationResult:
  """What `evaluate` computed and wrote.

  Attributes:
    rows: one dict per (benchmark, sample, method), see `eval.report`.
    metric_names: metric columns present in `rows`.
    files: paths written, by kind ('csv', 'summary', 'results_table', 'run_info',
      'sheet:<benchmark>').
  """
  rows: List[report.Row]
  metric_names: List[str]
  files: Dict[str, str]


def make_model_method(model_path: str, flip_ensemble: bool = False,
                      precision: str = 'auto') -> baselines_lib.MethodFn:
  """Loads a model directory (ours or a FILM SavedModel) as an interpolation method.

  Args:
    model_path: folder accepted by `film.inference.interpolator.Interpolator.from_path`.
    flip_ensemble: average with the mirrored pair (`Interpolator(flip_ensemble=True)`).
    precision: 'auto' | 'float32' | 'bfloat16' (`Interpolator(precision=...)`).

  Returns:
    `fn(x0, x1, t) -> [H,W,3]` float32 in [0,1].

  Raises:
    EvaluationError: `film.inference.interpolator` is unavailable or the model cannot be loaded.
  """
  from film import cli  # pylint: disable=g-import-not-at-top
  from film.weights import model_files  # pylint: disable=g-import-not-at-top
  try:
    model_files.check_model_argument(model_path)  # cheap, before TensorFlow
    with cli.quiet_native_stderr():  # TensorFlow's start-up lines (film.cli contract)
      try:
        from film.inference.interpolator import Interpolator  # pylint: disable=g-import-not-at-top
      except ImportError as error:
        raise EvaluationError(f'cannot evaluate --model: film.inference.interpolator is not importable '
                              f'({error}); install the full film package or drop --model'
                              ) from error
      interpolator = Interpolator.from_path(model_path, flip_ensemble=flip_ensemble,
                                            precision=precision)
  except EvaluationError:
    raise
  except UserError as error:  # already names the model's file and the fix
    raise EvaluationError(str(error)) from error
  except OSError as error:  # user-caused only; programming errors keep tracebacks
    message = str(error).splitlines()[0] if str(error) else ''
    raise EvaluationError(f'cannot load model {model_path} ({type(error).__name__}: '
                          f'{message}); pass our model folder or a FILM SavedModel folder to '
                          f'--model') from error

  def film(x0: np.ndarray, x1: np.ndarray, t: float) -> np.ndarray:
    """The model's frame at time t; `[H,W,3]` float32 in [0,1] in and out."""
    return np.asarray(interpolator.interpolate(x0, x1, t), dtype=np.float32)

  return film


def resolve_methods(methods: Optional[Sequence[str]], model_path: Optional[str]) -> List[str]:
  """Checks method names; the default is the model (if given) plus all baselines.

  Raises:
    EvaluationError: unknown method, `film` without a model, or a missing model folder.
  """
  from film.weights import published  # pylint: disable=g-import-not-at-top
  if published.is_model_name(model_path):
    published.lookup(model_path)  # an unknown name: one line listing the known ones
  elif model_path is not None and not os.path.exists(model_path):
    raise EvaluationError(f'model path {model_path} does not exist; pass an existing model '
                          f'folder to --model')
  if not methods:
    methods = ([MODEL_METHOD] if model_path else []) + list(baselines_lib.BASELINES)
  methods = list(dict.fromkeys(methods))
  unknown = [m for m in methods if m not in METHOD_NAMES]
  if unknown:
    raise EvaluationError(f'unknown method(s) {", ".join(unknown)}; choose --methods from '
                          f'{",".join(METHOD_NAMES)}')
  if MODEL_METHOD in methods and not model_path:
    raise EvaluationError(f'method {MODEL_METHOD} needs a model; pass --model PATH or drop '
                          f'{MODEL_METHOD} from --methods')
  if model_path and MODEL_METHOD not in methods:
    logging.warning('--model %s is ignored: %s is not in --methods.', model_path, MODEL_METHOD)
  return methods


def _check_output_dir(output_dir: str, overwrite: bool) -> None:
  if not output_dir:
    raise EvaluationError('no output folder; pass --output_dir')
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise EvaluationError(f'--output_dir {output_dir} is a file; pass a folder path')
  if os.path.isdir(output_dir) and os.listdir(output_dir) and not overwrite:
    raise EvaluationError(f'output folder {output_dir} is not empty; pass --overwrite to replace '
                          f'its results or choose another --output_dir')


def _open_benchmarks(benchmark_dirs: Sequence[str], layouts: Union[None, str, Sequence[str]],
                     max_samples: Optional[int]) -> List[benchmarks_lib.Benchmark]:
  if not benchmark_dirs:
    raise EvaluationError('no benchmark given; pass --benchmark_dir (repeatable or a comma list)')
  if layouts is None or isinstance(layouts, str):
    layouts = [layouts] * len(benchmark_dirs)
  layouts = list(layouts)
  if len(layouts) == 1:
    layouts = layouts * len(benchmark_dirs)
  if len(layouts) != len(benchmark_dirs):
    raise EvaluationError(f'{len(layouts)} layouts for {len(benchmark_dirs)} benchmarks; pass '
                          f'one --layout for all or one per --benchmark_dir')
  if max_samples is not None and max_samples < 1:
    raise EvaluationError(f'--max_samples must be >= 1, got {max_samples}')
  opened, names = [], set()
  for root, layout in zip(benchmark_dirs, layouts):
    benchmark = benchmarks_lib.open_benchmark(root, layout, max_samples=max_samples)
    base, suffix = benchmark.name, 2
    while benchmark.name in names:
      benchmark.name = f'{base}_{suffix}'
      suffix += 1
    names.add(benchmark.name)
    opened.append(benchmark)
  return opened


def _versions() -> Dict[str, str]:
  import cv2  # pylint: disable=g-import-not-at-top
  versions = {'python': platform.python_version(), 'numpy': np.__version__,
              'opencv': cv2.__version__}
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    versions['tensorflow'] = tf.__version__
  except ImportError:
    pass
  try:
    versions['ffmpeg'] = baselines_lib.ffmpeg_exe()
  except Exception:  # pylint: disable=broad-except
    pass
  return versions


def evaluate(benchmark_dirs: Sequence[str],
             output_dir: str,
             *,
             layouts: Union[None, str, Sequence[str]] = None,
             methods: Optional[Sequence[str]] = None,
             model_path: Optional[str] = None,
             flip_ensemble: bool = False,
             precision: str = 'auto',
             metric_names: Sequence[str] = ('psnr', 'ssim'),
             lpips_nets: Sequence[str] = (),
             lpips_weights_dir: Optional[str] = None,
             max_samples: Optional[int] = None,
             overwrite: bool = False,
             sheet_samples: int = 4,
             error_amplify: float = 4.0,
             progress: bool = True,
             command: Optional[str] = None) -> EvaluationResult:
  """Evaluates interpolation methods on benchmarks and writes the report files.

  Args:
    benchmark_dirs: benchmark folders / TFRecord paths (see `eval.benchmarks`).
    output_dir: folder for the outputs; must be empty or absent unless `overwrite`.
    layouts: None (auto-detect), one layout for all, or one per benchmark.
    methods: names from `METHOD_NAMES`; None = the model (if given) plus all baselines.
    model_path: model folder for the `film` method.
    flip_ensemble: run the `film` method as a left-right flip ensemble (2x the time).
    precision: the `film` method's precision ('auto': bfloat16 on CPUs with native bfloat16).
    metric_names: registered metrics (`eval.metrics.METRICS`).
    lpips_nets: LPIPS backbones ('vgg', 'alex'); each is skipped with a warning if unavailable.
    lpips_weights_dir: LPIPS weights folder (None: `eval.lpips` default / FILM_WEIGHTS_DIR).
    max_samples: evaluate only the first this many samples of each benchmark.
    overwrite: replace a non-empty `output_dir` (as a whole: the results are published as one
      folder, `film.media.atomic.output_dir`).
    sheet_samples: samples per benchmark shown on the comparison sheet (0 = no sheet).
    error_amplify: error-map gain on the sheets.
    progress: show a tqdm progress bar.
    command: the command line, recorded in the summary and `run_info.json`.

  Returns:
    An `EvaluationResult`.

  Raises:
    EvaluationError, benchmarks.BenchmarkError: bad request (nothing is written).
    RuntimeError: a method failed on a sample (nothing is written).
  """
  # Validate everything before any expensive work or any output.
  methods = resolve_methods(methods, model_path)
  _check_output_dir(output_dir, overwrite)
  # Writable, and never a benchmark folder (or one holding it): results must not replace inputs.
  atomic.check_output(output_dir, inputs=[b for b in benchmark_dirs if os.path.exists(b)],
                      overwrite=True, directory=True, flag='--output_dir')
  opened = _open_benchmarks(benchmark_dirs, layouts, max_samples)
  for name in metric_names:
    if name not in metrics_lib.METRICS:
      raise EvaluationError(f'unknown metric {name}; choose from {",".join(metrics_lib.METRICS)}')
  for net in lpips_nets:
    if net not in metrics_lib.LPIPS_NETS:
      raise EvaluationError(f'unknown LPIPS network {net}; pass --lpips as a comma list from '
                            f'{",".join(metrics_lib.LPIPS_NETS)} or use --nolpips')

  method_fns: Dict[str, baselines_lib.MethodFn] = {}
  for method in methods:
    method_fns[method] = (make_model_method(model_path, flip_ensemble, precision)
                          if method == MODEL_METHOD else baselines_lib.get_baseline(method))
  metric_fns = metrics_lib.build_metrics(metric_names, lpips_nets, lpips_weights_dir)
  metric_list = list(metric_fns)
  logging.info('Evaluating %s on %s with metrics %s.', ', '.join(methods),
               ', '.join(f'{b.name} ({b.layout}, {len(b)} samples)' for b in opened),
               ', '.join(metric_list))

  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  total = sum(len(b) for b in opened) * len(methods)
  bar = tqdm(total=total, disable=not progress, unit='frame', dynamic_ncols=True)
  rows: List[report.Row] = []
  sheets: Dict[str, List[report.SheetSample]] = {}
  try:
    for benchmark in opened:
      show = set(report.pick_sheet_indices(len(benchmark), sheet_samples))
      for index, triplet in enumerate(benchmark):
        predictions, seconds = {}, {}
        for method, fn in method_fns.items():
          bar.set_description(f'{benchmark.name}/{triplet.name} {method}')
          start = time.perf_counter()
          try:
            frame = fn(triplet.x0, triplet.x1, triplet.t)
          except Exception as error:
            raise RuntimeError(f'method {method} failed on {benchmark.name}/{triplet.name}: '
                               f'{error}') from error
          seconds[method] = time.perf_counter() - start
          frame = np.asarray(frame, dtype=np.float32)
          if frame.shape != triplet.y.shape:
            raise RuntimeError(f'method {method} returned shape {frame.shape} for '
                               f'{benchmark.name}/{triplet.name}, expected {triplet.y.shape}')
          predictions[method] = np.clip(frame, 0.0, 1.0)
          bar.update(1)
        stacked = np.stack(list(predictions.values()))
        targets = np.broadcast_to(triplet.y, stacked.shape)
        values = {name: fn(stacked, targets) for name, fn in metric_fns.items()}
        height, width = triplet.y.shape[:2]
        for i, method in enumerate(predictions):
          row: report.Row = {'benchmark': benchmark.name, 'sample': triplet.name,
                             'method': method, 't': triplet.t, 'height': height,
                             'width': width, 'seconds': seconds[method]}
          row.update({name: float(values[name][i]) for name in metric_list})
          rows.append(row)
        if index in show:
          scores = {m: {k: float(values[k][i]) for k in ('psnr', 'ssim') if k in values}
                    for i, m in enumerate(predictions)}
          sheets.setdefault(benchmark.name, []).append(report.SheetSample(
              triplet.name, triplet.t, triplet.x0, triplet.y, triplet.x1, predictions, scores))
  finally:
    bar.close()

  files = _write_outputs(output_dir, rows, metric_list, sheets, opened, methods, command,
                         error_amplify, model_path, max_samples, overwrite)
  table = report.mean_table(rows, metric_list)
  for benchmark, entries in table.items():
    for method, entry in entries.items():
      logging.info('%s %-20s %s', benchmark, method, '  '.join(
          f'{m}={entry[m]:.4f}' for m in metric_list))
  return EvaluationResult(rows, metric_list, files)


def _write_report_files(output_dir: str, rows: List[report.Row], metric_list: List[str],
                        sheets: Dict[str, List[report.SheetSample]],
                        opened: Sequence[benchmarks_lib.Benchmark], methods: Sequence[str],
                        command: Optional[str], error_amplify: float,
                        model_path: Optional[str], max_samples: Optional[int]) -> Dict[str, str]:
  """Writes every report file into the (temporary) folder `output_dir`; returns their paths."""
  files = {'csv': os.path.join(output_dir, report.CSV_FILE),
           'summary': os.path.join(output_dir, report.SUMMARY_FILE),
           'results_table': os.path.join(output_dir, report.RESULTS_TABLE_FILE),
           'run_info': os.path.join(output_dir, report.RUN_INFO_FILE)}
  report.atomic_write(files['csv'], report.csv_text(rows, metric_list))
  report.atomic_write(files['summary'], report.summary_markdown(rows, metric_list, command))
  report.atomic_write(files['results_table'], report.results_table_markdown(rows, metric_list))
  for benchmark, samples in sheets.items():
    path = os.path.join(output_dir, report.SHEET_PATTERN.format(benchmark=benchmark))
    image = report.comparison_sheet(samples, f'{benchmark}: inputs, ground truth, methods and '
                                    f'error maps', amplify=error_amplify)
    report.atomic_write(path, report.encode_png(image))
    files[f'sheet:{benchmark}'] = path
  info = {
      'command': command,
      'benchmarks': [{'name': b.name, 'root': os.path.abspath(b.root), 'layout': b.layout,
                      'samples': len(b)} for b in opened],
      'methods': list(methods),
      'model': os.path.abspath(model_path) if model_path else None,
      'metrics': metric_list,
      'max_samples': max_samples,
      'dis_config': dataclasses.asdict(classical_flow.DEFAULT_DIS_CONFIG),
      'film_weights_dir': os.environ.get('FILM_WEIGHTS_DIR'),
      'versions': _versions(),
      'argv': sys.argv,
      'time': time.strftime('%Y-%m-%d %H:%M:%S %z'),
  }
  report.atomic_write(files['run_info'], json.dumps(info, indent=2) + '\n')
  return files


def _write_outputs(output_dir: str, rows: List[report.Row], metric_list: List[str],
                   sheets: Dict[str, List[report.SheetSample]],
                   opened: Sequence[benchmarks_lib.Benchmark], methods: Sequence[str],
                   command: Optional[str], error_amplify: float, model_path: Optional[str],
                   max_samples: Optional[int], overwrite: bool) -> Dict[str, str]:
  """Writes the report files into a temporary folder published as `output_dir` as a whole
  (`film.media.atomic.output_dir`: never replacing another run's results without `overwrite`);
  returns `{kind: final path}`."""
  with atomic.output_dir(output_dir, overwrite, flag='--overwrite') as tmp:
    written = _write_report_files(tmp, rows, metric_list, sheets, opened, methods, command,
                                  error_amplify, model_path, max_samples)
  files = {kind: os.path.join(output_dir, os.path.basename(path))
           for kind, path in written.items()}
  logging.info('Wrote %s.', ', '.join(sorted(files.values())))
  return files
