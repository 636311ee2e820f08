"""`film-interpolate`: interpolate frames between photos, in a frame folder or in a video.

Inputs (`--input`, repeatable): two or more images (in the order given), one folder of frames
(natural order: frame_2 before frame_10) or one video file. Outputs: `--output_dir` (PNG frames)
and/or `--output_video` (.mp4 or .gif).

  # 2 photos -> 2**3+1 = 9 frames and a 30 fps mp4
  film-interpolate --input one.png --input two.png --times_to_interpolate 3 \
      --output_dir out/frames --output_video out/one_two.mp4 --model models/film_style
  # a 24 fps video to 60 fps, same duration, audio copied
  film-interpolate --input clip.mp4 --output_fps 60 --output_video clip_60fps.mp4
  # a frame folder, 4x slow motion, capped at 8 GB of memory (large frames are tiled)
  film-interpolate --input frames/ --times_to_interpolate 2 --output_dir out --max_memory_gb 8

Bad input prints one line `film-interpolate: error: ...` on stderr and exits with status 2
(`film.cli`); every input and output is checked before the model loads, no output is left
behind, and no output may replace an input. The logic lives in `film.inference.pipeline` and
`film.inference.interpolator`.
"""
from __future__ import annotations

import os
from typing import Any, Optional

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags, logging  # noqa: E402

from film import cli  # noqa: E402

_INPUT = flags.DEFINE_multi_string(
    'input', None, 'Input: repeat for two or more images (--input a.png --input b.png), or give '
    'one folder of frames or one video file.')
_FRAME0 = flags.DEFINE_string('frame0', None, 'First image (alternative to --input).')
_FRAME1 = flags.DEFINE_string('frame1', None, 'Second image (alternative to --input).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Folder for PNG frames frame_000000.png...')
_OUTPUT_VIDEO = flags.DEFINE_string('output_video', None, 'Video file to write (.mp4 or .gif).')
_TIMES = flags.DEFINE_integer(
    'times_to_interpolate', 1, 'Recursion depth k (1..8): 2**k-1 new frames per gap, '
    '(N-1)*2**k+1 frames in all.')
_OUTPUT_FPS = flags.DEFINE_string(
    'output_fps', None, 'Resample to this frame rate keeping the duration (e.g. 24 -> 60, or '
    '60000/1001); replaces --times_to_interpolate.')
_INPUT_FPS = flags.DEFINE_string('input_fps', None, 'Frame rate of image/folder inputs (for '
                                 '--output_fps), e.g. 24 or 24000/1001.')
_FPS = flags.DEFINE_string(
    'fps', None, 'Frame rate of --output_video with --times_to_interpolate (e.g. 30 or '
    '30000/1001). Default: video input fps * 2**k (same duration, exact), else 30.')
_MODEL = flags.DEFINE_string(
    'model', None, 'Model directory (film-convert output), FILM SavedModel directory, or a '
    'published FILM model: film:style, film:l1, film:vgg (fetched and converted once, then '
    'cached; see film-models). Default (or "default"): the model shipped in film/default_model/.')
_LEVELS = flags.DEFINE_integer('pyramid_levels', None, 'Pyramid depth of a FILM SavedModel / '
                               'checkpoint given to --model (not stored in it; default: from a '
                               'gin file beside it, else 7).')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace existing outputs.')
_QUIET = flags.DEFINE_bool('quiet', False, 'No progress bar or info logs.')
_MAX_MEMORY = flags.DEFINE_float(
    'max_memory_gb', None, 'Memory cap in GB; frames too large for it are processed in '
    'overlapping tiles. Default: 75% of the available memory (the host\'s, capped by container '
    '/ cgroup limits).')
_TILE_PIXELS = flags.DEFINE_integer('max_tile_pixels', None,
                                    'Explicit cap on pixels per tile (overrides the derivation '
                                    'from --max_memory_gb).', lower_bound=1)
_TILE_OVERLAP = flags.DEFINE_integer('tile_overlap', None,
                                     'Tile overlap in pixels (default: max(4*alignment, 128)).',
                                     lower_bound=0)
_TIME_MODE = flags.DEFINE_enum(
    'time_mode', 'auto', ['auto', 'recursive', 'direct'], 'For --output_fps and k > 1: reach '
    'times by recursive midpoints (FILM is trained at t=0.5) or feed t to the network directly '
    '(one flow estimate per gap: 2-3x faster). auto: what the model recommends (direct for the '
    'default model, trained with multi-time samples), else recursive.')
_BATCH = flags.DEFINE_integer('batch_size', 1, 'Times evaluated together per pair (direct mode).')
_CUT = flags.DEFINE_float(
    'scene_cut_threshold', 0.25, 'Histogram distance (0..1) at or above which consecutive frames '
    'are a scene cut (held, not interpolated); > 1 disables.')
_DUP = flags.DEFINE_float(
    'duplicate_threshold', 0.5 / 255, 'Mean absolute thumbnail difference at or below which '
    'consecutive frames are duplicates (repeated, model skipped); 0 disables.')
_PNG_DEPTH = flags.DEFINE_integer('png_bit_depth', 0, 'PNG bits: 8, 16, or 0 = 16 if an input '
                                  'is 16-bit, else 8.')
_FLIP = flags.DEFINE_bool('flip_ensemble', False, 'Average each frame with the one from the '
                          'left-right mirrored pair: slightly sharper/more accurate (~+0.1 dB), '
                          '2x slower.')
_PRECISION = flags.DEFINE_enum(
    'precision', 'auto', ['auto', 'float32', 'bfloat16'], 'Arithmetic of the convolutions: auto '
    '= bfloat16 on CPUs with native bfloat16 (avx512_bf16 / amx_bf16; ~2x faster), else float32. '
    'Warps, flows and outputs are float32 either way.')
_FLOW_SCALE = flags.DEFINE_float(
    'flow_scale', 1.0, 'Estimate the flows on the frames downscaled by this factor (1, 0.5, '
    '0.25, ...) and warp/fuse at full resolution: faster for 4K input.')
_NO_AUDIO = flags.DEFINE_bool('no_audio', False, 'Do not copy the audio track of a video input.')

PROG = 'film-interpolate'


def _fail(message: str) -> None:
  cli.fail(PROG, message)


def processing_options(output_dir: Optional[str], output_video: Optional[str]):
  """`film.inference.pipeline.Options` for these outputs from the processing flags.

  Shared with `film-interpolate-batch`; raises `film.inference.pipeline.InputError` for contradictory or
  out-of-range flags.
  """
  from film.inference import pipeline
  times = _TIMES.value
  if _OUTPUT_FPS.value is not None:
    if flags.FLAGS['times_to_interpolate'].present:
      raise pipeline.InputError('pass either --times_to_interpolate or --output_fps, not both')
    times = None
  if _CUT.value < 0 or _DUP.value < 0:
    raise pipeline.InputError('--scene_cut_threshold and --duplicate_threshold must be >= 0')
  return pipeline.Options(
      output_dir=output_dir, output_video=output_video,
      times_to_interpolate=times, output_fps=_OUTPUT_FPS.value, fps=_FPS.value,
      input_fps=_INPUT_FPS.value, overwrite=_OVERWRITE.value, quiet=_QUIET.value,
      png_bit_depth=_PNG_DEPTH.value, scene_cut_threshold=_CUT.value,
      duplicate_threshold=_DUP.value, copy_audio=not _NO_AUDIO.value)


def check_model_flag() -> None:
  """Raises `film.inference.pipeline.InputError` if --model (or, without it, the default model) is
  missing or its files are unreadable or corrupt (checked without TensorFlow)."""
  from film.weights import model_files
  model_files.check_model_argument(_MODEL.value)


def interpolator_kwargs() -> dict[str, Any]:
  """Keyword arguments for `Interpolator.from_path(--model, **kwargs)` from the flags."""
  return dict(pyramid_levels=_LEVELS.value, max_memory_gb=_MAX_MEMORY.value,
              max_tile_pixels=_TILE_PIXELS.value, tile_overlap=_TILE_OVERLAP.value,
              batch_size=_BATCH.value, time_mode=_TIME_MODE.value, flip_ensemble=_FLIP.value,
              precision=_PRECISION.value, flow_scale=_FLOW_SCALE.value)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    _fail(f'unexpected arguments {argv[1:]}; use --input for inputs')
  from film.inference import pipeline
  if _QUIET.value:
    logging.set_verbosity(logging.WARNING)
  inputs = list(_INPUT.value or [])
  if _FRAME0.value or _FRAME1.value:
    if inputs or not (_FRAME0.value and _FRAME1.value):
      _fail('pass both --frame0 and --frame1, or --input (not both)')
    inputs = [_FRAME0.value, _FRAME1.value]
  # Cheap checks first, all before TensorFlow is imported: flags, inputs, outputs, model files.
  options = processing_options(_OUTPUT_DIR.value, _OUTPUT_VIDEO.value)
  source = pipeline.resolve_inputs(inputs)
  pipeline.validate_options(source, options)
  check_model_flag()
  if _MAX_MEMORY.value is not None and _MAX_MEMORY.value <= 0:
    raise pipeline.InputError(f'--max_memory_gb must be > 0 (got {_MAX_MEMORY.value})')
  # TensorFlow's C++ start-up lines would break the one-line error contract; its errors and
  # fatal messages still reach stderr (film.cli.quiet_native_stderr).
  with cli.quiet_native_stderr():
    from film.inference.interpolator import Interpolator
    try:  # default memory cap: 75% of what the host *and* its cgroup limits leave (resources)
      interpolator = Interpolator.from_path(_MODEL.value, **interpolator_kwargs())
    except ValueError as e:  # memory cap / tiling arguments out of range
      if isinstance(e, cli.UserError):
        raise
      raise pipeline.InputError(f'cannot set up the model: {e}') from e
  try:
    interpolator.tiles(source.height, source.width)  # tile fit under the memory cap
  except ValueError as e:
    raise pipeline.InputError(f'{e}; raise --max_memory_gb or lower --max_tile_pixels') from e
  summary = pipeline.run(source, options, interpolator)
  logging.info('Wrote %d frames at %s fps to %s (gaps: %s, audio tracks copied: %d)',
               summary['frames'], summary['fps_rational'], ', '.join(summary['outputs']),
               summary.get('gaps', {}), summary['audio_tracks'])
  if not _QUIET.value:
    print(f'{PROG}: wrote {summary["frames"]} frames at {summary["fps_rational"]} fps to '
          f'{", ".join(summary["outputs"])}')


run = cli.entry_point(main, PROG)


if __name__ == '__main__':
  run()
