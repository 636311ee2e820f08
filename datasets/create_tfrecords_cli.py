r"""Writes FILM triplet TFRecords from a dataset folder or videos with Apache Beam.

  python -m film.datasets.create_tfrecords_cli --dataset=vimeo --input=/data/vimeo_triplet \
      --split=train --output_dir=/data/records/vimeo_train --num_shards=200
  python -m film.datasets.create_tfrecords_cli --dataset=middlebury --input=/data/middlebury_other \
      --output_dir=/data/records/middlebury
  python -m film.datasets.create_tfrecords_cli --dataset=ucf101 --input=/data/ucf101_interp \
      --output_dir=/data/records/ucf101
  python -m film.datasets.create_tfrecords_cli --dataset=xiph --input=/data/xiph_frames \
      --output_dir=/data/records/xiph
  python -m film.datasets.create_tfrecords_cli --dataset=video --input=/videos/clip.mp4 \
      --output_dir=/data/records/clip --gap=4 --multi_time --stride=4 --resize_width=640

`--dataset=video` takes a video file, a folder of videos, a frame folder or a folder of frame
folders. Beam pipeline options go after `--` and pass through unchanged
(`... -- --runner=DataflowRunner --project=... --temp_location=gs://...`); any other flag this
tool does not know is an error (one line, exit status 2, like every error of `film.cli`).
Without Beam options, the job runs
locally: with one worker process per core when it decodes frames (xiph, video, or a resize or
crop), in this process when it only copies PNG bytes (measured 5x faster for that).
"""
from __future__ import annotations

from absl import flags, logging

from film.media import atomic, image_io
from film import cli
with cli.quiet_native_stderr():  # Beam/TensorFlow import noise (film.cli contract)
  from film.datasets import beam_pipeline
  from film.datasets import frames as frames_lib
  from film.datasets import layouts
  from film.datasets import triplets as triplets_lib

DATASETS = ('vimeo', 'middlebury', 'ucf101', 'xiph', 'video')

_DATASET = flags.DEFINE_enum('dataset', None, DATASETS, 'Input layout.', required=True)
_INPUT = flags.DEFINE_string('input', None, 'Dataset root folder, video file or folder.',
                             required=True)
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Folder to create for the shards.',
                                  required=True)
_SPLIT = flags.DEFINE_enum('split', 'train', ['train', 'test'], 'Vimeo-90K list to use.')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', 1, 'Number of output shards (0: runner picks).')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace an existing output_dir.')
_RESIZE_WIDTH = flags.DEFINE_integer('resize_width', None, 'Downscale frames to this width.')
_CROP_HEIGHT = flags.DEFINE_integer('crop_height', None, 'Center-crop height (after resize).')
_CROP_WIDTH = flags.DEFINE_integer('crop_width', None, 'Center-crop width (after resize).')
_PNG_COMPRESSION = flags.DEFINE_integer('png_compression', 3, 'zlib level 0..9 of new PNGs.')
_GAP = flags.DEFINE_integer('gap', 2, 'Frames from x0 to x1 (video / xiph).')
_STRIDE = flags.DEFINE_integer('stride', 1, 'Frames between window starts (video / xiph).')
_MULTI_TIME = flags.DEFINE_bool('multi_time', False,
                                'Emit every in-between frame at t=k/gap, not only the middle.')
_SCENE_CUT = flags.DEFINE_float('scene_cut_threshold',
                                triplets_lib.WindowOptions.scene_cut_threshold,
                                'Drop windows with a scene cut: consecutive frames at or above this '
                                'RGB-histogram distance (film.media.scene; 0: off).')
_STATIC = flags.DEFINE_float('static_threshold', triplets_lib.WindowOptions.static_threshold,
                             'Drop windows with a duplicate: consecutive frames at or below this '
                             'thumbnail difference (film.media.scene; 0: off).')
_BLACK = flags.DEFINE_float('black_threshold', triplets_lib.WindowOptions.black_threshold,
                            'Drop windows with a frame darker than this mean (0: off).')
_START_FRAME = flags.DEFINE_integer('start_frame', 0, 'First frame of each clip to use.')
_END_FRAME = flags.DEFINE_integer('end_frame', None, 'Frame of each clip to stop before.')
_CHUNK_FRAMES = flags.DEFINE_integer('chunk_frames', beam_pipeline.DEFAULT_CHUNK_FRAMES,
                                     'Window starts per parallel chunk of a clip (0: no split).')
_NUM_WORKERS = flags.DEFINE_integer('num_workers', None,
                                    'Local worker processes (default: one per core for '
                                    'CPU-bound jobs).')


PROG = 'film-create-tfrecords'


def _check_crop(transform: frames_lib.FrameTransform, clips: list[layouts.Clip]) -> None:
  """A crop larger than a clip's frames is one line before the job (not inside it)."""
  if transform.crop_height is None:
    return
  for clip in clips:
    if clip.kind == 'video':
      info = frames_lib.video_info(clip.path)
      height, width = info.height, info.width
    elif clip.files and frames_lib.is_local(clip.files[0]):
      info = image_io.probe(clip.files[0], verify=False)
      height, width = info.height, info.width
    else:
      continue
    try:
      transform.check_fits(height, width)
    except frames_lib.InputError as error:
      raise frames_lib.InputError(f'{clip.path}: {error}') from error


def main(argv: list[str]) -> None:
  pipeline_args = beam_pipeline.beam_args(argv[1:])
  transform = frames_lib.FrameTransform(_RESIZE_WIDTH.value, _CROP_HEIGHT.value, _CROP_WIDTH.value)
  options = triplets_lib.WindowOptions(  # InputError for out-of-range values
      gap=_GAP.value, stride=_STRIDE.value, multi_time=_MULTI_TIME.value,
      scene_cut_threshold=_SCENE_CUT.value, static_threshold=_STATIC.value,
      black_threshold=_BLACK.value, png_compression=_PNG_COMPRESSION.value)
  beam_pipeline.check_num_shards(_NUM_SHARDS.value)
  if frames_lib.is_local(_OUTPUT_DIR.value):
    atomic.check_output(_OUTPUT_DIR.value, inputs=[_INPUT.value], overwrite=_OVERWRITE.value,
                        directory=True, flag='--output_dir')
  # Decoding and PNG encoding are CPU-bound: one process per core pays off. Copying PNG bytes
  # is I/O-bound: one process is faster (no worker start-up, no records sent between processes).
  cpu_bound = _DATASET.value in ('xiph', 'video') or not transform.is_identity
  if (cpu_bound or _NUM_WORKERS.value) and not any(
      a.startswith(('--runner', '--direct_')) for a in pipeline_args):
    pipeline_args += beam_pipeline.local_parallel_args(_NUM_WORKERS.value)
  common = dict(num_shards=_NUM_SHARDS.value, transform=transform, pipeline_args=pipeline_args,
                overwrite=_OVERWRITE.value, dataset=_DATASET.value)
  if _DATASET.value in ('vimeo', 'middlebury', 'ucf101'):
    if _DATASET.value == 'vimeo':
      items = layouts.find_vimeo_triplets(_INPUT.value, _SPLIT.value)
    elif _DATASET.value == 'middlebury':
      items = layouts.find_middlebury_triplets(_INPUT.value)
    else:
      items = layouts.find_ucf101_triplets(_INPUT.value)
    logging.info('Found %d triplets in %s.', len(items), _INPUT.value)
    manifest = beam_pipeline.create_triplet_records(
        items, _OUTPUT_DIR.value, png_compression=_PNG_COMPRESSION.value, **common)
  else:
    find = layouts.find_frame_folder_clips if _DATASET.value == 'xiph' else layouts.find_clips
    clips = [layouts.Clip(c.name, c.kind, c.path, c.files, _START_FRAME.value, _END_FRAME.value)
             for c in find(_INPUT.value)]
    _check_crop(transform, clips)
    logging.info('Found %d clips in %s.', len(clips), _INPUT.value)
    manifest = beam_pipeline.create_clip_records(
        clips, _OUTPUT_DIR.value, options=options, chunk_frames=_CHUNK_FRAMES.value, **common)
  print(f'{manifest["num_records"]} records, {manifest["num_shards"]} shards in '
        f'{_OUTPUT_DIR.value} ({manifest["elapsed_seconds"]} s, '
        f'{manifest["records_per_second"]} records/s)')


run = cli.entry_point(main, PROG)


if __name__ == '__main__':
  run()
