"""End-to-end interpolation of photos, frame folders and videos (the library behind
`film-interpolate`; usable from notebooks and services without the CLI).

    source = resolve_inputs(['clip.mp4'])                 # validates everything up front
    run(source, Options(output_video='out.mp4', times_to_interpolate=2),
        Interpolator.from_path())                         # or a model directory

Inputs (`resolve_inputs`): two or more image files (a sequence, in the given order), one folder
of frames (image files in natural order: frame_2 before frame_10), or one video file.

Outputs: a folder of PNG frames `frame_000000.png...` and/or a video (.mp4/.mov/.mkv h264, or
.gif). Every output is written under a temporary name in its destination folder and renamed
only when complete; on any error the temporaries are removed, so no partial output remains.
A video inside the output folder is built inside the folder's temporary and published with it.
`validate_options` checks every output before any work: writable, not an input (through links
or `..`), not an existing output without `overwrite`.

Fidelity: frame rates are exact `Fraction`s end to end (a 24000/1001 clip gives 48000/1001 at
k=1); 16-bit PNG frames for 16-bit images and deeper-than-8-bit video; the output video carries
the input video's colour tags (BT.709 for images) and every audio track of the input.

Frame counts: k = `times_to_interpolate` gives (N-1)*2**k+1 frames; for *video* input the last
frame is then held 2**k-1 more times (N*2**k frames at input fps * 2**k) so the output lasts
exactly as long as the input and its audio track (copied when present) stays in sync.
`output_fps` instead resamples to round(N * output_fps / input_fps) frames (same duration).
Scene cuts and duplicate frames (folders and videos, see `film.media.scene`) hold the earlier frame
instead of interpolating.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
from typing import Any, Iterator, Optional, Sequence, Union

from absl import logging
import numpy as np

from film.media import atomic, image_io, video_encode, video_io
from film import cli
from film.media.video_io import Fraction

MIN_TIMES, MAX_TIMES = 1, 8
VIDEO_OUTPUT_EXTENSIONS = video_io.VIDEO_OUTPUT_EXTENSIONS
Rate = Union[Fraction, float, int, str, None]


class InputError(cli.UserError):
  """Bad user input; the message names the problem and the fix (one line)."""


@dataclasses.dataclass
class Source:
  """Validated input: `kind` is 'images' (explicit files), 'folder' or 'video'.

  `fps` is the video's exact rate (None for images); `bit_depth` 16 for 16-bit images and
  deeper-than-8-bit video (frames then keep that precision).
  """
  kind: str
  paths: list[str]
  height: int
  width: int
  num_frames: int
  fps: Optional[Fraction] = None
  has_audio: bool = False
  bit_depth: int = 8
  video_info: Optional[video_io.VideoInfo] = None

  def frames(self) -> Iterator[np.ndarray]:
    """Streams the frames as [H,W,3] float32 in [0,1]."""
    if self.kind == 'video':
      yield from video_io.read_video_frames(self.paths[0], self.video_info)
      return
    for path in self.paths:
      frame = image_io.read_image(path)
      if frame.shape[:2] != (self.height, self.width):
        raise InputError(f'{path} is {frame.shape[1]}x{frame.shape[0]}, other frames are '
                         f'{self.width}x{self.height}; resize the frames to one size')
      yield frame

  @property
  def color(self) -> video_io.ColorInfo:
    """Colour tags for the output video: the input video's, BT.709 for images."""
    return self.video_info.color if self.video_info else video_io.BT709


@dataclasses.dataclass
class Options:
  """What to produce; see the `film-interpolate` flags for meanings and defaults.

  Frame rates (`output_fps`, `fps`, `input_fps`) may be Fractions, numbers or strings such as
  '24000/1001' (see `film.media.video_io.parse_rate`).
  """
  output_dir: Optional[str] = None
  output_video: Optional[str] = None
  times_to_interpolate: Optional[int] = 1
  output_fps: Rate = None
  fps: Rate = None
  input_fps: Rate = None
  overwrite: bool = False
  quiet: bool = False
  png_bit_depth: int = 0  # 0: 16 if any input is 16-bit, else 8.
  scene_cut_threshold: float = 0.25
  duplicate_threshold: float = 0.5 / 255
  copy_audio: bool = True


def rate(value: Rate, flag: str) -> Optional[Fraction]:
  """`value` as an exact Fraction (None stays None); InputError naming `flag` if invalid."""
  if value is None:
    return None
  try:
    return video_io.parse_rate(value)
  except ValueError as e:
    raise InputError(f'{flag}: {e}') from e


def resolve_inputs(inputs: list[str]) -> Source:
  """Classifies and validates the inputs (headers and integrity of every file, sizes)."""
  if not inputs:
    raise InputError('no input given; pass --input A.png --input B.png, --input FOLDER or '
                     '--input VIDEO.mp4')
  for path in inputs:
    if not os.path.exists(path):
      raise InputError(f'input {path} does not exist; check the path')
  if len(inputs) == 1 and os.path.isdir(inputs[0]):
    paths = image_io.list_frames(inputs[0])
    if len(paths) < 2:
      raise InputError(f'folder {inputs[0]} has {len(paths)} image frame(s); it needs at least 2 '
                       f'({", ".join(image_io.IMAGE_EXTENSIONS)} files)')
    kind = 'folder'
  elif len(inputs) == 1 and inputs[0].lower().endswith(video_io.VIDEO_EXTENSIONS):
    info = video_io.probe_video(inputs[0])
    if info.num_frames < 2:
      raise InputError(f'video {inputs[0]} has {info.num_frames} frame(s); it needs at least 2')
    return Source('video', [inputs[0]], info.height, info.width, info.num_frames, info.fps,
                  info.has_audio, 16 if info.bit_depth > 8 else 8, info)
  elif len(inputs) == 1:
    raise InputError(f'only one input image ({inputs[0]}); pass two or more --input images, a '
                     'folder of frames or a video')
  else:
    for path in inputs:
      if os.path.isdir(path) or path.lower().endswith(video_io.VIDEO_EXTENSIONS):
        raise InputError(f'{path}: folders and videos must be the only --input; pass image '
                         'files when giving several inputs')
    paths, kind = list(inputs), 'images'
  infos = [image_io.probe(p, verify=True) for p in paths]
  image_io.check_same_size(infos)
  return Source(kind, paths, infos[0].height, infos[0].width, len(paths),
                bit_depth=max(i.bit_depth for i in infos))


def _input_paths(source: Source) -> list[str]:
  """Everything an output must not replace: the input files and the folder given."""
  paths = list(source.paths)
  if source.kind == 'folder':
    paths.append(os.path.dirname(source.paths[0]))
  return paths


def _inside(path: str, folder: str) -> bool:
  real, base = os.path.realpath(path), os.path.realpath(folder)
  return real.startswith(base.rstrip(os.sep) + os.sep)


def validate_options(source: Source, options: Options) -> None:
  """Checks flag values, flag combinations and every output path before any work is done.

  Outputs must be writable (the nearest existing folder really accepts a file), must not be
  or hold an input (also through links or `..`), and must not exist unless `overwrite`.
  """
  if not options.output_dir and not options.output_video:
    raise InputError('no output given; pass --output_dir DIR and/or --output_video FILE.mp4')
  output_fps = rate(options.output_fps, '--output_fps')
  rate(options.fps, '--fps')
  input_fps = rate(options.input_fps, '--input_fps')
  if output_fps is not None:
    if source.kind != 'video' and not input_fps:
      raise InputError('--output_fps needs the input frame rate: pass --input_fps for frame '
                       'folders and images')
  else:
    k = options.times_to_interpolate
    if k is None or not MIN_TIMES <= k <= MAX_TIMES:
      raise InputError(f'--times_to_interpolate must be in {MIN_TIMES}..{MAX_TIMES} (got {k}); '
                       f'{MAX_TIMES} already makes {2 ** MAX_TIMES} frames per input frame')
  if options.png_bit_depth not in (0, 8, 16):
    raise InputError(f'--png_bit_depth must be 0 (auto), 8 or 16 (got {options.png_bit_depth})')
  inputs = _input_paths(source)
  if options.output_video:
    if not options.output_video.lower().endswith(VIDEO_OUTPUT_EXTENSIONS):
      raise InputError(f'--output_video {options.output_video}: unsupported type; use one of '
                       f'{", ".join(VIDEO_OUTPUT_EXTENSIONS)}')
    # Inside --output_dir it is published with the folder (checked with it).
    if not (options.output_dir and _inside(options.output_video, options.output_dir)):
      atomic.check_output(options.output_video, inputs=inputs, overwrite=options.overwrite,
                          flag='--output_video')
  if options.output_dir:
    atomic.check_output(options.output_dir, inputs=inputs, overwrite=options.overwrite,
                        directory=True, flag='--output_dir')


def quiet_stderr() -> contextlib.AbstractContextManager:
  """Hides TensorFlow's C++ start-up lines, keeping its errors (`film.cli.quiet_native_stderr`)."""
  return cli.quiet_native_stderr()


def plan(source: Source, options: Options) -> tuple[int, Fraction, int]:
  """(number of output frames, exact output fps, held frames appended at the end)."""
  output_fps = rate(options.output_fps, '--output_fps')
  if output_fps is not None:
    input_fps = source.fps if source.kind == 'video' else rate(options.input_fps, '--input_fps')
    from film.inference.interpolator import Interpolator
    total = Interpolator.num_output_frames(source.num_frames, input_fps=float(input_fps),
                                           output_fps=float(output_fps))
    return total, output_fps, 0
  k = options.times_to_interpolate
  core = (source.num_frames - 1) * 2 ** k + 1
  fps = rate(options.fps, '--fps')
  if source.kind == 'video':
    return core + 2 ** k - 1, fps or source.fps * 2 ** k, 2 ** k - 1
  return core, fps or Fraction(30), 0


def _audio_decision(source: Source, options: Options, total: int, fps: Fraction) -> bool:
  """Whether to copy the audio tracks; logs why not when they are dropped."""
  if not (options.output_video and source.kind == 'video' and source.has_audio):
    return False
  tracks = source.video_info.audio_tracks
  if not options.copy_audio:
    logging.info('--no_audio: %d audio track(s) of %s not copied', tracks, source.paths[0])
    return False
  if options.output_video.lower().endswith('.gif'):
    logging.warning('GIF has no audio; the %d audio track(s) of %s are dropped', tracks,
                    source.paths[0])
    return False
  output_seconds, input_seconds = Fraction(total) / fps, source.video_info.video_seconds
  if abs(output_seconds - input_seconds) > 1 / fps:
    logging.warning('Audio not copied: the output lasts %.3f s, the input video %.3f s '
                    '(--fps %s changes the duration; drop --fps to keep it)',
                    float(output_seconds), float(input_seconds), options.fps)
    return False
  return True


_FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def run(source: Source, options: Options, interpolator) -> dict:
  """Produces the outputs of `options` from `source` with a `film.inference.interpolator.Interpolator`.

  Returns a summary dict: frames written, fps (float) and fps_rational ('48000/1001'), gap
  decisions, outputs, audio tracks copied.
  """
  from film.media import scene  # numpy/cv2 only
  validate_options(source, options)
  total, fps, held = plan(source, options)
  policy = None
  if source.kind in ('folder', 'video'):
    policy = scene.GapClassifier(options.scene_cut_threshold, options.duplicate_threshold)
  output_fps = rate(options.output_fps, '--output_fps')
  if output_fps is not None:
    input_fps = source.fps if source.kind == 'video' else rate(options.input_fps, '--input_fps')
    stream = interpolator.retime(source.frames(), float(input_fps), float(output_fps), policy)
  else:
    stream = interpolator.interpolate_recursively(source.frames(), options.times_to_interpolate,
                                                  policy)
  bit_depth = options.png_bit_depth or (16 if source.bit_depth == 16 else 8)
  copy_audio = _audio_decision(source, options, total, fps)
  temps: list[str] = []
  summary = {'frames': 0, 'fps': float(fps), 'fps_rational': video_io.format_rate(fps),
             'outputs': [], 'audio': False, 'audio_tracks': 0}
  frame_dir = video_tmp = muxed = None
  made = atomic.missing_folders(*[p for p in (options.output_dir, options.output_video) if p])
  try:
    if options.output_dir:
      frame_dir = atomic.temp_sibling(options.output_dir, directory=True)
      temps.append(frame_dir)
    video_inside = bool(frame_dir and _inside(options.output_video or '', options.output_dir))
    with contextlib.ExitStack() as stack:
      writer = None
      if options.output_video:
        if video_inside:  # built inside the folder's temporary, published with it
          rel = os.path.relpath(os.path.realpath(options.output_video),
                                os.path.realpath(options.output_dir))
          video_tmp = os.path.join(frame_dir, rel)
          os.makedirs(os.path.dirname(video_tmp), exist_ok=True)
        else:
          video_tmp = atomic.temp_sibling(options.output_video)
          temps.append(video_tmp)
        writer = stack.enter_context(video_encode.StreamingVideoWriter(
            video_tmp, source.height, source.width, fps, color=source.color,
            bit_depth=10 if source.bit_depth > 8 and source.kind == 'video' else 8))
      from tqdm import tqdm
      bar = stack.enter_context(tqdm(total=total, unit='frame', disable=options.quiet,
                                     desc='film-interpolate', dynamic_ncols=True))
      last = None
      for frame in stream:
        _emit(frame, summary['frames'], frame_dir, writer, bit_depth)
        summary['frames'] += 1
        bar.update(1)
        last = frame
      for _ in range(held):
        _emit(last, summary['frames'], frame_dir, writer, bit_depth)
        summary['frames'] += 1
        bar.update(1)
    if summary['frames'] != total:
      raise RuntimeError(f'produced {summary["frames"]} frames, planned {total}')
    if copy_audio:
      muxed = atomic.temp_sibling(video_tmp)
      temps.append(muxed)
      summary['audio_tracks'] = video_encode.mux_audio(video_tmp, source.paths[0], muxed)
      os.replace(muxed, video_tmp)
      summary['audio'] = summary['audio_tracks'] > 0
    if frame_dir:
      atomic.publish(frame_dir, options.output_dir, options.overwrite)
      summary['outputs'].append(options.output_dir)
    if video_tmp and not video_inside:
      atomic.publish(video_tmp, options.output_video, options.overwrite)
    if video_tmp:
      summary['outputs'].append(options.output_video)
  except BaseException as error:
    for tmp in temps:
      atomic.remove(tmp)
    atomic.remove_empty_folders(made)
    if isinstance(error, OSError) and error.errno in _FULL_DISK:
      # Name the output the user chose, not a hidden temporary (or nothing: file.write).
      video = video_tmp and str(error.filename).startswith((video_tmp, str(muxed)))
      where = options.output_video if video else (options.output_dir or options.output_video)
      raise OSError(error.errno, error.strerror, where) from error
    raise
  if policy is not None:
    summary['gaps'] = dict(policy.counts)
  return summary


def interpolate_video(inputs: Union[str, Sequence[str]], output_video: Optional[str] = None,
                      output_dir: Optional[str] = None, model: Optional[str] = None,
                      interpolator=None, **options: Any) -> dict:
  """`film-interpolate` from Python: a video, a frame folder or image files -> slow motion.

  Args:
    inputs: a video file, a folder of frames, or two or more image paths.
    output_video / output_dir: the outputs (at least one), published atomically.
    model: a model directory or FILM SavedModel (None: the bundled model); ignored when an
      `interpolator` (`film.inference.interpolator.Interpolator`) is given.
    **options: the other `Options` fields (times_to_interpolate, output_fps, overwrite, ...).

  Returns:
    `run`'s summary dict (frames written, fps, outputs, audio tracks copied).

  Raises:
    InputError (a `film.cli.UserError`, one line) for bad inputs, outputs or options.
  """
  source = resolve_inputs([inputs] if isinstance(inputs, str) else list(inputs))
  opts = Options(output_dir=output_dir, output_video=output_video, **options)
  validate_options(source, opts)
  if interpolator is None:
    from film.inference.interpolator import Interpolator
    interpolator = Interpolator.from_path(model)
  return run(source, opts, interpolator)


def _emit(frame: np.ndarray, index: int, frame_dir: Optional[str], writer,
          bit_depth: int) -> None:
  if frame_dir:
    image_io.write_image(os.path.join(frame_dir, f'frame_{index:06d}.png'), frame, bit_depth)
  if writer is not None:
    writer.add(frame)
