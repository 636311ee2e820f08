r"""`film-interpolate-batch`: interpolate many frame folders, videos and image pairs in one job.

  # every clip of a folder to 2x slow motion, one mp4 per clip under out/
  film-interpolate-batch --inputs 'clips/*.mp4' --output_root out --times_to_interpolate 1
  # frame folders and pairs listed in a file (a line: FOLDER, VIDEO, or A.png<TAB>B.png)
  film-interpolate-batch --input_list items.txt --inputs 'shots/*/' --output_root out \
      --outputs both --video_format gif --fps 24 --model models/film_style
  # the same on Dataflow (inputs, model and output root as gs:// URLs or on a shared mount)
  film-interpolate-batch --inputs 'gs://B/clips/*.mp4' --output_root gs://B/out \
      --model gs://B/models/film_style -- --runner=DataflowRunner --project=P --region=R \
      --temp_location=gs://B/tmp --setup_file ./setup.py

Every processing flag of `film-interpolate` applies to each item (`--times_to_interpolate`,
`--output_fps`, `--model`, `--max_memory_gb`, `--flip_ensemble`, ...); its single-input flags
(`--input`, `--frame0/1`, `--output_dir`, `--output_video`) are replaced by `--inputs`,
`--input_list` and `--output_root`. Beam pipeline options go after `--` and pass through
unchanged; any other unknown flag is an error. Outputs: `<output_root>/<name>/frames/` and/or
`<output_root>/<name>/<name>.mp4`, and `<output_root>/batch_manifest.jsonl`. A rerun skips
finished items (`--overwrite` redoes them).

Exit status: 0 if every item is done (now or earlier), 1 if some item failed (one line per
failed item on stderr; the manifest has the reasons), 2 for bad flags or inputs (one line, no
work done). The logic lives in `film.batch.jobs`.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags, logging  # noqa: E402

from film.batch import jobs as batch, runner as batch_runner  # noqa: E402
from film import cli  # noqa: E402
from film.inference import interpolate_cli as single  # noqa: E402  (defines the shared flags)

_INPUTS = flags.DEFINE_multi_string(
    'inputs', None, 'Glob pattern (repeatable; quote it): each match is a frame folder or a '
    'video (a URL glob, e.g. gs://B/clips/*.mp4, matches videos); outputs are named by the path '
    'below the pattern\'s wildcard-free folders.')
_INPUT_LIST = flags.DEFINE_multi_string(
    'input_list', None, 'Text file (repeatable), one item a line: a frame folder, a video, or '
    'image files separated by tabs (a pair); paths relative to the file; # comments.')
_OUTPUT_ROOT = flags.DEFINE_string('output_root', None, 'Folder or URL (gs://...) for the '
                                   'items\' outputs (mirroring the input names) and the manifest.')
_OUTPUTS = flags.DEFINE_enum(
    'outputs', 'auto', batch.OUTPUTS, 'What each item writes: auto = a video for video items, '
    'PNG frames for folders and pairs; frames; video; both.')
_VIDEO_FORMAT = flags.DEFINE_enum('video_format', 'mp4', batch.VIDEO_FORMATS,
                                  'Container of video outputs.')
_MANIFEST = flags.DEFINE_string('manifest', None, 'Results manifest, .jsonl or .csv (default '
                                '<output_root>/batch_manifest.jsonl).')
_NUM_WORKERS = flags.DEFINE_integer(
    'num_workers', 1, 'Local worker processes (each loads the model once and gets its share of '
    'the cores and of the memory cap); 1 = in this process. Ignored on other runners.')

PROG = 'film-interpolate-batch'
SINGLE_ONLY_FLAGS = ('input', 'frame0', 'frame1', 'output_dir', 'output_video')
EXIT_SOME_FAILED = 1  # Some item failed (the others are done); 2 is film.cli's user error.


def main(argv: list[str]) -> None:
  from film.inference import pipeline
  quiet = flags.FLAGS.quiet
  if quiet:
    logging.set_verbosity(logging.WARNING)
  given = [f'--{name}' for name in SINGLE_ONLY_FLAGS if flags.FLAGS[name].present]
  if given:
    raise pipeline.InputError(f'{", ".join(given)}: single-input flags of film-interpolate; use '
                              '--inputs/--input_list and --output_root')
  if not _OUTPUT_ROOT.value:
    raise pipeline.InputError('no output given; pass --output_root DIR')
  # Cheap checks first, before Beam and TensorFlow are imported.
  options = single.processing_options(None, None)
  if not (flags.FLAGS.model and batch.storage.is_url(flags.FLAGS.model)):
    single.check_model_flag()  # (A model URL is checked by run_batch.)
  items = batch.find_items(_INPUTS.value or (), _INPUT_LIST.value or ())
  with batch.quiet_imports():
    from film.datasets import beam_pipeline
  # Ctrl-C / SIGTERM / SIGHUP: film.cli prints this and exits 130 / 143 / 129.
  cli.set_keep_note('finished items are kept (no temporary is left); the same command '
                    'finishes the rest')
  summary = batch_runner.run_batch(
      items, _OUTPUT_ROOT.value, model=flags.FLAGS.model,
      interpolator_kwargs=single.interpolator_kwargs(), options=options,
      outputs=_OUTPUTS.value, video_format=_VIDEO_FORMAT.value,
      overwrite=flags.FLAGS.overwrite, num_workers=_NUM_WORKERS.value,
      pipeline_args=beam_pipeline.beam_args(argv[1:]), manifest_path=_MANIFEST.value,
      progress=not quiet)
  for row in summary['rows']:
    if row['status'] == batch.FAILED:
      print(f'{PROG}: failed: {row["item"]}: {row["reason"]}', file=sys.stderr)
  if summary['job_error']:
    print(f'{PROG}: the job stopped: {summary["job_error"]}', file=sys.stderr)
  counts = summary['counts']
  frames = sum(r['frames'] for r in summary['rows'] if r['status'] == batch.DONE)
  logging.info('Beam counters: %s', summary['counters'])
  if not quiet:
    loads = summary['counters'].get('model_loads')
    print(f'{PROG}: {counts["done"]} done ({frames} frames), {counts["skipped"]} skipped '
          f'(finished earlier), {counts["failed"]} failed in {summary["seconds"]:.1f} s'
          + (f', model loads: {loads}' if loads is not None else '')
          + f'; manifest {summary["manifest"]}')
  sys.exit(EXIT_SOME_FAILED if counts['failed'] else 0)


def run() -> None:
  """Console-script entry point (`film-interpolate-batch`)."""
  cli.run(main, PROG)


if __name__ == '__main__':
  run()
