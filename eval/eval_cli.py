r"""`film-eval`: evaluate frame interpolation (a model and/or classical baselines) on benchmarks.

Thin command-line wrapper over `eval.evaluate.evaluate`. Example (baselines only):

  python -m film.eval.eval_cli \
    --benchmark_dir=../shared/benchmarks/middlebury_other,../shared/benchmarks/ucf101 \
    --output_dir=/tmp/film_eval

Add `--model=PATH` to evaluate a model (method `film`). Bad inputs print one line
`film-eval: error: ...` to stderr and exit with status 2, writing nothing.
"""
from __future__ import annotations

import shlex
import sys
from typing import List, Optional, Sequence

from absl import flags
from absl import logging

from film.eval import benchmarks as benchmarks_lib
from film.eval import evaluate as evaluate_lib
from film import cli
from film.weights import defaults

FLAGS = flags.FLAGS

flags.DEFINE_multi_string('benchmark_dir', None, 'Benchmark folder, .tfrecord file or glob; '
                          'repeat the flag or give a comma-separated list.')
flags.DEFINE_list('layout', None, 'Layout: auto (default) or one of '
                  f'{", ".join(benchmarks_lib.LAYOUTS)}; one for all or one per benchmark.')
flags.DEFINE_list('methods', None, 'Comma list from '
                  f'{",".join(evaluate_lib.METHOD_NAMES)}; default: film (if --model) and all '
                  'baselines.')
flags.DEFINE_string('model', None, 'Model folder (ours or a FILM SavedModel) or a published name '
                    '(film:style, film:l1, film:vgg) for method film. '
                    'Default: the bundled default model (film/default_model/) if installed.')
flags.DEFINE_boolean('use_default_model', True, 'Without --model, evaluate the bundled default '
                     'model when it is installed (--nouse_default_model: baselines only).')
flags.DEFINE_boolean('flip_ensemble', False, 'Run the model as a left-right flip ensemble '
                     '(average with the mirrored pair; 2x the time).')
flags.DEFINE_enum('precision', 'auto', ['auto', 'float32', 'bfloat16'], 'Model arithmetic: '
                  'auto = bfloat16 convolutions on CPUs with native bfloat16 (avx512_bf16 / '
                  'amx_bf16), else float32.')
flags.DEFINE_string('output_dir', None, 'Folder for samples.csv, summary.md, results_table.md, '
                    'comparison_<benchmark>.png and run_info.json.')
flags.DEFINE_boolean('overwrite', False, 'Allow writing into a non-empty --output_dir.')
flags.DEFINE_integer('max_samples', None, 'Evaluate only the first N samples of each benchmark.')
flags.DEFINE_list('lpips', ['vgg', 'alex'], 'LPIPS backbones to add (vgg, alex); skipped with a '
                  'warning when their weights are missing.')
flags.DEFINE_boolean('nolpips', False, 'Do not compute LPIPS at all (same as --lpips=).')
flags.DEFINE_string('lpips_weights_dir', None, 'LPIPS weights folder; default: eval.lpips '
                    'default (FILM_WEIGHTS_DIR).')
flags.DEFINE_integer('sheet_samples', 4, 'Samples per benchmark on the comparison sheet; 0 for '
                     'no sheet.')
flags.DEFINE_float('error_amplify', 4.0, 'Gain of the error maps on the comparison sheets.')
flags.DEFINE_boolean('quiet', False, 'No progress bar and only warnings in the log.')

PROGRAM = 'film-eval'


def _split(values: Optional[Sequence[str]]) -> List[str]:
  """Flattens repeated and comma-separated flag values, dropping empty items."""
  return [item.strip() for value in values or [] for item in value.split(',') if item.strip()]


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    _fail(f'unexpected arguments {" ".join(argv[1:])}; pass everything as --flag=value')
  if FLAGS.quiet:
    logging.set_verbosity(logging.WARNING)
  layouts = _split(FLAGS.layout) or None
  try:
    evaluate_lib.evaluate(
        _split(FLAGS.benchmark_dir),
        FLAGS.output_dir,
        layouts=layouts,
        methods=_split(FLAGS.methods) or None,
        model_path=_model_path(),
        flip_ensemble=FLAGS.flip_ensemble,
        precision=FLAGS.precision,
        lpips_nets=[] if FLAGS.nolpips else _split(FLAGS.lpips),
        lpips_weights_dir=FLAGS.lpips_weights_dir,
        max_samples=FLAGS.max_samples,
        overwrite=FLAGS.overwrite,
        sheet_samples=FLAGS.sheet_samples,
        error_amplify=FLAGS.error_amplify,
        progress=not FLAGS.quiet,
        command=' '.join(shlex.quote(a) for a in [PROGRAM] + list(sys.argv[1:])))
  except (evaluate_lib.EvaluationError, benchmarks_lib.BenchmarkError) as error:
    _fail(str(error))


def _model_path() -> Optional[str]:
  if FLAGS.model:
    return FLAGS.model
  wants_model = not FLAGS.methods or evaluate_lib.MODEL_METHOD in FLAGS.methods
  if wants_model and FLAGS.use_default_model and defaults.default_model_available():
    return defaults.DEFAULT_MODEL_DIR  # not when --methods leaves the model out (no warning)
  return None


def _fail(message: str) -> None:
  """Prints `film-eval: error: <message>` as one line and exits with status 2."""
  cli.fail(PROGRAM, message)


run = cli.entry_point(main, PROGRAM)


if __name__ == '__main__':
  run()
