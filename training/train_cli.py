"""Command line of the training job (`film-train`) and of checkpoint export.

    python -m film.training.train_cli --gin_config gin_configs/film_net-small-cpu.gin \
        --base_folder runs --label small-l1 --mode cpu \
        --train_data /data/records/train --eval_data /data/records/val \
        --gin_params "training.num_steps = 20000"

Running the same command again resumes the run from its latest checkpoint. `--export_only`
(or `film-export-checkpoint --base_folder runs --label small-l1`, or `--checkpoint PATH`)
exports the latest checkpoint to `<run>/export/` without training.

SIGTERM and Ctrl-C write a final checkpoint before exiting; a NaN/Inf loss exits with status 3
and writes none. Thread counts must be set before TensorFlow starts, hence flags, not gin.
"""
from __future__ import annotations

import glob
import os
import sys

from absl import app
from absl import flags
from absl import logging

from film import cli
from film.training import distribute  # no TensorFlow yet (flags and inputs are checked first)

FLAGS = flags.FLAGS

flags.DEFINE_multi_string('gin_config', [], 'Gin config file(s), e.g. '
                          'gin_configs/film_net-small-cpu.gin.')
flags.DEFINE_multi_string('gin_params', [], 'Gin bindings, e.g. "training.num_steps = 100".')
flags.DEFINE_string('base_folder', 'runs', 'Folder holding the run folders.')
flags.DEFINE_string('label', None, 'Run name: the run folder is <base_folder>/<label>.')
flags.DEFINE_enum('mode', 'cpu', list(distribute.MODES), 'Distribution strategy.')
flags.DEFINE_integer('logical_cpus', 0, 'With --mode mirrored and no GPU: split the CPU into '
                     'this many logical devices (one replica each).')
flags.DEFINE_string('tpu', '', 'TPU name or address for --mode tpu.')
flags.DEFINE_string('train_data', None, 'Training records (folder, glob or comma-separated '
                    'list); shorthand for training_dataset.files.')
flags.DEFINE_string('eval_data', None, 'Validation records, comma-separated, one dataset each '
                    '(named after the files); shorthand for eval_datasets.files.')
flags.DEFINE_integer('num_steps', None, 'Shorthand for training.num_steps.')
flags.DEFINE_integer('intra_op_threads', 0, 'TensorFlow intra-op threads (0: default).')
flags.DEFINE_integer('inter_op_threads', 0, 'TensorFlow inter-op threads (0: default).')
flags.DEFINE_bool('export_only', False, 'Export the run\'s latest checkpoint and exit.')
flags.DEFINE_string('checkpoint', None, 'With --export_only: a checkpoint prefix or folder '
                    'to export instead of the run\'s latest.')

NON_FINITE_EXIT_CODE = 3


def _bindings() -> list[str]:
  params = list(FLAGS.gin_params)
  if FLAGS.train_data:
    files = [f for f in FLAGS.train_data.split(',') if f]
    params.append(f'training_dataset.files = {files!r}')
  if FLAGS.eval_data:
    files = [f for f in FLAGS.eval_data.split(',') if f]
    params.append(f'eval_datasets.files = {files!r}')
    if not any(p.replace(' ', '').startswith('eval_datasets.names=') for p in params):
      params.append('eval_datasets.names = []')  # Named after the files, not the gin file's.
  if FLAGS.num_steps is not None:
    params.append(f'training.num_steps = {FLAGS.num_steps}')
  return params


def _check_inputs() -> None:
  """Cheap checks before TensorFlow and before the run folder is made: gin files and local
  record paths exist (one-line errors, `film.cli`)."""
  for path in FLAGS.gin_config:
    if not os.path.isfile(path):
      raise cli.UserError(f'gin config {path} does not exist; pass a file such as '
                          'gin_configs/film_net-small-cpu.gin')
  for flag in ('train_data', 'eval_data'):
    for pattern in (getattr(FLAGS, flag) or '').split(','):
      if pattern and '://' not in pattern and not glob.glob(pattern):
        raise cli.UserError(f'--{flag} {pattern} matches no file or folder; pass a records '
                            'folder, a glob or a list of shards (film-create-tfrecords output)')


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  _check_inputs()
  # Before TensorFlow creates its runtime: threads and logical CPU devices.
  with cli.quiet_native_stderr():  # TensorFlow's start-up lines (film.cli contract)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if FLAGS.intra_op_threads:
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.intra_op_threads)
  if FLAGS.inter_op_threads:
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.inter_op_threads)
  if FLAGS.mode == 'mirrored' and FLAGS.logical_cpus > 1:
    distribute.split_cpu(FLAGS.logical_cpus)
  from film.training import checkpoint_export  # pylint: disable=g-import-not-at-top
  from film.training import configs  # pylint: disable=g-import-not-at-top
  from film.training import train as train_lib  # pylint: disable=g-import-not-at-top
  from film.training.trainer import NonFiniteLossError  # pylint: disable=g-import-not-at-top

  if FLAGS.export_only:
    if FLAGS.checkpoint:
      path = FLAGS.checkpoint
      model_config = None
      if FLAGS.gin_config:  # A bare checkpoint needs the model config from gin.
        configs.parse_gin(FLAGS.gin_config, _bindings())
        model_config = configs.model_from_gin()
      out = checkpoint_export.export_checkpoint(
          path, model_config=model_config,
          output_dir=os.path.join(FLAGS.base_folder, FLAGS.label) if FLAGS.label else None)
    else:
      if not FLAGS.label:
        raise app.UsageError('--export_only needs --label (or --checkpoint)')
      out = checkpoint_export.export_checkpoint(os.path.join(FLAGS.base_folder, FLAGS.label))
    logging.info('Exported %s', out)
    print(out[0])
    return

  if not FLAGS.gin_config:
    raise app.UsageError('--gin_config is required')
  if not FLAGS.label:
    raise app.UsageError('--label is required')
  # Ctrl-C / SIGTERM / SIGHUP (film.cli.Interrupted): `train` writes a final checkpoint and
  # film.cli prints what was kept and exits 130 / 143 / 129.
  try:
    result = train_lib.run_from_gin(FLAGS.gin_config, _bindings(), FLAGS.base_folder,
                                    FLAGS.label, FLAGS.mode, logical_cpus=FLAGS.logical_cpus,
                                    tpu_address=FLAGS.tpu)
  except NonFiniteLossError as e:
    print(f'ERROR: {e}', file=sys.stderr)
    sys.exit(NON_FINITE_EXIT_CODE)
  logging.info('Done: %s', result)


run = cli.entry_point(main, 'film-train')


def run_export() -> None:
  """Console script `film-export-checkpoint` (same flags, export only)."""
  cli.run(main, 'film-export-checkpoint', argv=[sys.argv[0], '--export_only'] + sys.argv[1:])


if __name__ == '__main__':
  run()
