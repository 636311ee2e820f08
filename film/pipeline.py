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

Frame counts: k = `times_to_interpolate` gives (N-1)*2**k+1 frames; for *video* input the last
frame is then held 2**k-1 more times (N*2**k frames at input fps * 2**k) so the output lasts
exactly as long as the input and its audio track (copied when present) stays in sync.
`output_fps` instead resamples to round(N * output_fps / input_fps) frames (same duration).
Scene cuts and duplicate frames (folders and videos, see `film.scene`) hold the earlier frame
instead of interpolating.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from typing import Iterator, Optional

from absl import logging
import numpy as np

from film import atomic, image_io, video_io

MIN_TIMES, MAX_TIMES = 1, 8
VIDEO_OUTPUT_EXTENSIONS = ('.mp4', '.mov', '.mkv', '.gif')


class InputError(ValueError):
  """Bad user input; the message names the problem and the fix (one line)."""


@dataclasses.dataclass
class Source:
  """Validated input: `kind` is 'images' (explicit files), 'folder' or 'video'."""
  kind: str
  paths: list[str]
  height: int
  width: int
  num_frames: int
  fps: Optional[float] = None
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


@dataclasses.dataclass
class Options:
  """What to produce; see the `film-interpolate` flags for meanings and defaults."""
  output_dir: Optional[str] = None
  output_video: Optional[str] = None
  times_to_interpolate: Optional[int] = 1
  output_fps: Optional[float] = None
  fps: Optional[float] = None
  input_fps: Optional[float] = None
  overwrite: bool = False
  quiet: bool = False
  png_bit_depth: int = 0  # 0: 16 if any input is 16-bit, else 8.
  scene_cut_threshold: float = 0.25
  duplicate_threshold: float = 0.5 / 255
  copy_audio: bool = True


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
    if info.num_frames < 0:
      raise InputError(f'cannot count the frames of {inputs[0]}; re-encode it (e.g. ffmpeg -i IN '
                       '-c:v libx264 OUT.mp4)')
    if info.num_frames < 2:
      raise InputError(f'video {inputs[0]} has {info.num_frames} frame(s); it needs at least 2')
    return Source('video', [inputs[0]], info.height, info.width, info.num_frames, info.fps,
                  info.has_audio, 8, info)
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


def _exists(path: str) -> bool:
  return os.path.exists(path) and not (os.path.isdir(path) and not os.listdir(path))


def validate_options(source: Source, options: Options) -> None:
  """Checks flag combinations and existing outputs before any work is done."""
  if not options.output_dir and not options.output_video:
    raise InputError('no output given; pass --output_dir DIR and/or --output_video FILE.mp4')
  if options.output_fps is not None:
    if options.output_fps <= 0:
      raise InputError(f'--output_fps must be > 0 (got {options.output_fps})')
    if source.kind != 'video' and not options.input_fps:
      raise InputError('--output_fps needs the input frame rate: pass --input_fps for frame '
                       'folders and images')
  else:
    k = options.times_to_interpolate
    if k is None or not MIN_TIMES <= k <= MAX_TIMES:
      raise InputError(f'--times_to_interpolate must be in {MIN_TIMES}..{MAX_TIMES} (got {k}); '
                       f'{MAX_TIMES} already makes {2 ** MAX_TIMES} frames per input frame')
  for rate, name in ((options.fps, '--fps'), (options.input_fps, '--input_fps')):
    if rate is not None and rate <= 0:
      raise InputError(f'{name} must be > 0 (got {rate})')
  if options.output_video:
    if not options.output_video.lower().endswith(VIDEO_OUTPUT_EXTENSIONS):
      raise InputError(f'--output_video {options.output_video}: unsupported type; use one of '
                       f'{", ".join(VIDEO_OUTPUT_EXTENSIONS)}')
    if _exists(options.output_video) and not options.overwrite:
      raise InputError(f'output {options.output_video} already exists; pass --overwrite or '
                       'choose another --output_video')
    if os.path.abspath(options.output_video) in map(os.path.abspath, source.paths):
      raise InputError('--output_video is the input file; choose another output name')
  if options.output_dir:
    if os.path.isfile(options.output_dir):
      raise InputError(f'--output_dir {options.output_dir} is a file; choose a folder name')
    if _exists(options.output_dir) and not options.overwrite:
      raise InputError(f'output {options.output_dir} already exists; pass --overwrite or choose '
                       'another --output_dir')
  if options.png_bit_depth not in (0, 8, 16):
    raise InputError(f'--png_bit_depth must be 0 (auto), 8 or 16 (got {options.png_bit_depth})')


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
  """Silences file descriptor 2 (C++ logs of TensorFlow's import) inside the block."""
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def plan(source: Source, options: Options) -> tuple[int, float, int]:
  """(number of output frames, output fps, held frames appended at the end)."""
  if options.output_fps is not None:
    input_fps = source.fps if source.kind == 'video' else options.input_fps
    from film.interpolator import Interpolator
    total = Interpolator.num_output_frames(source.num_frames, input_fps=input_fps,
                                           output_fps=options.output_fps)
    return total, options.output_fps, 0
  k = options.times_to_interpolate
  core = (source.num_frames - 1) * 2 ** k + 1
  if source.kind == 'video':
    fps = options.fps or source.fps * 2 ** k
    return core + 2 ** k - 1, fps, 2 ** k - 1
  return core, options.fps or 30.0, 0


def _temp_sibling(path: str, directory: bool) -> str:
  parent = os.path.dirname(os.path.abspath(path)) or '.'
  os.makedirs(parent, exist_ok=True)
  prefix = '.' + os.path.basename(os.path.normpath(path)) + '.tmp-'
  if directory:
    return tempfile.mkdtemp(prefix=prefix, dir=parent)
  fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=os.path.splitext(path)[1], dir=parent)
  os.close(fd)
  return tmp


def run(source: Source, options: Options, interpolator) -> dict:
  """Produces the outputs of `options` from `source` with a `film.interpolator.Interpolator`.

  Returns a summary dict (frames written, fps, gap decisions, outputs, audio copied).
  """
  from film import scene  # numpy/cv2 only
  validate_options(source, options)
  total, fps, held = plan(source, options)
  policy = None
  if source.kind in ('folder', 'video'):
    policy = scene.GapClassifier(options.scene_cut_threshold, options.duplicate_threshold)
  if options.output_fps is not None:
    input_fps = source.fps if source.kind == 'video' else options.input_fps
    stream = interpolator.retime(source.frames(), input_fps, options.output_fps, policy)
  else:
    stream = interpolator.interpolate_recursively(source.frames(), options.times_to_interpolate,
                                                  policy)
  bit_depth = options.png_bit_depth or (16 if source.bit_depth == 16 else 8)
  temps: list[str] = []
  summary = {'frames': 0, 'fps': fps, 'outputs': [], 'audio': False}
  try:
    frame_dir = video_tmp = None
    if options.output_dir:
      frame_dir = _temp_sibling(options.output_dir, directory=True)
      temps.append(frame_dir)
    with contextlib.ExitStack() as stack:
      writer = None
      if options.output_video:
        video_tmp = _temp_sibling(options.output_video, directory=False)
        temps.append(video_tmp)
        writer = stack.enter_context(
            video_io.StreamingVideoWriter(video_tmp, source.height, source.width, fps))
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
    if summary['frames'] != total:  # e.g. a container whose packet count != decoded frames
      logging.warning('Produced %d frames; the input header predicted %d', summary['frames'],
                      total)
    if video_tmp and source.kind == 'video' and source.has_audio and options.copy_audio:
      if options.output_video.lower().endswith('.gif'):
        logging.warning('GIF has no audio; the audio track of %s is not copied', source.paths[0])
      elif source.video_info.duration and abs(total / fps - source.video_info.duration) > max(
          2.0 / fps, 0.1):
        logging.warning('Audio not copied: the output lasts %.2f s, the input %.2f s (--fps '
                        'changes the duration)', total / fps, source.video_info.duration)
      else:
        muxed = _temp_sibling(options.output_video, directory=False)
        temps.append(muxed)
        video_io.mux_audio(video_tmp, source.paths[0], muxed)
        os.replace(muxed, video_tmp)
        summary['audio'] = True
    if frame_dir:
      atomic.replace(frame_dir, options.output_dir)
      summary['outputs'].append(options.output_dir)
    if video_tmp:
      atomic.replace(video_tmp, options.output_video)
      summary['outputs'].append(options.output_video)
  except BaseException:
    for tmp in temps:
      if os.path.isdir(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
      elif os.path.exists(tmp):
        os.remove(tmp)
    raise
  if policy is not None:
    summary['gaps'] = dict(policy.counts)
  return summary


def _emit(frame: np.ndarray, index: int, frame_dir: Optional[str], writer,
          bit_depth: int) -> None:
  if frame_dir:
    image_io.write_image(os.path.join(frame_dir, f'frame_{index:06d}.png'), frame, bit_depth)
  if writer is not None:
    writer.add(frame)
