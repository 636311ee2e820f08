"""Reading frames: image files, frame folders and videos (streamed), plus resize/crop and the
per-frame statistics used to drop scene cuts, static and black frames.

Frames are `[H,W,3]` uint8 RGB numpy arrays. Videos are decoded by the ffmpeg binary that the
`imageio-ffmpeg` wheel ships (no system ffmpeg) one frame at a time, so memory stays at a few
frames whatever the length of the video. Paths may be local or any filesystem Beam knows
(`gs://...`); videos on remote filesystems are copied to a local temporary file first.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import tempfile
import time
from typing import Iterator, Optional, Sequence

import cv2
import imageio_ffmpeg
import numpy as np
from absl import logging
from apache_beam.io.filesystems import FileSystems
from PIL import Image

# imageio-ffmpeg starts ffmpeg with `preexec_fn=os.setpgrp`, which forces a full fork() that
# runs gRPC's (Beam's) fork handlers in the child; that intermittently kills the child before
# ffmpeg starts ("Could not load meta information"). Its documented switch drops the preexec_fn,
# so Python can spawn ffmpeg without running any handler. (Ctrl-C then reaches ffmpeg too.)
os.environ.setdefault('IMAGEIO_FFMPEG_NO_PREVENT_SIGINT', '1')

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.ppm')
VIDEO_EXTENSIONS = ('.mp4', '.mkv', '.mov', '.avi', '.webm', '.m4v', '.y4m', '.mpg', '.mpeg')
THUMBNAIL_WIDTH = 64  # Width of the grayscale thumbnails the frame statistics are computed on.


class InputError(ValueError):
  """A problem with the input data; the message names the problem and the fix in one line."""


# ------------------------------------------------------------------------------ filesystems

def is_local(path: str) -> bool:
  return '://' not in path


def exists(path: str) -> bool:
  return os.path.exists(path) if is_local(path) else FileSystems.exists(path)


def is_dir(path: str) -> bool:
  if is_local(path):
    return os.path.isdir(path)
  return bool(FileSystems.match([path.rstrip('/') + '/*'], limits=[1])[0].metadata_list)


def read_bytes(path: str) -> bytes:
  if is_local(path):
    with open(path, 'rb') as f:
      return f.read()
  with FileSystems.open(path) as f:
    return f.read()


def list_dir(path: str) -> list[str]:
  """Sorted child names (files and folders) of a folder on any filesystem."""
  if is_local(path):
    return sorted(os.listdir(path))
  prefix = path.rstrip('/') + '/'
  names = set()
  for metadata in FileSystems.match([prefix + '**'])[0].metadata_list:
    names.add(metadata.path[len(prefix):].split('/')[0])
  return sorted(names)


def join(*parts: str) -> str:
  return os.path.join(*parts) if is_local(parts[0]) else FileSystems.join(*parts)


@contextlib.contextmanager
def local_copy(path: str) -> Iterator[str]:
  """Yields a local filename for `path`, copying a remote file to a temporary one."""
  if is_local(path):
    yield path
    return
  suffix = os.path.splitext(path)[1]
  with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
    with FileSystems.open(path) as src:
      shutil.copyfileobj(src, tmp)
    tmp.flush()
    yield tmp.name


def natural_key(name: str) -> list:
  """Sort key that orders `frame2.png` before `frame10.png`."""
  return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def list_frame_files(folder: str) -> list[str]:
  """The image files of a frame folder in natural order; raises InputError when there are none."""
  if not is_dir(folder):
    raise InputError(f'frame folder {folder} does not exist: pass a folder of numbered frames')
  names = [n for n in list_dir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)]
  if not names:
    raise InputError(f'no image files ({"/".join(IMAGE_EXTENSIONS)}) in {folder}: '
                     'pass a folder that holds numbered frames')
  return [join(folder, n) for n in sorted(names, key=natural_key)]


# ------------------------------------------------------------------------------ images

def decode_image(data: bytes, name: str = 'image') -> np.ndarray:
  """Decodes image bytes (PNG, JPEG, ...) to `[H,W,3]` uint8 RGB."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      return np.asarray(image.convert('RGB'))
  except Exception as e:  # pylint: disable=broad-except  (PIL raises many kinds)
    raise InputError(f'cannot decode {name} ({type(e).__name__}): replace or remove the '
                     'file') from e


def read_image(path: str) -> np.ndarray:
  """Reads an image file to `[H,W,3]` uint8 RGB."""
  return decode_image(read_bytes(path), path)


@dataclasses.dataclass(frozen=True)
class FrameTransform:
  """Optional downscale then center crop applied to every frame before encoding.

  Attributes:
    resize_width: if set, frames are resized (area filter, aspect kept, height rounded) to
      this width. Frames narrower than this are left as they are (never upscaled).
    crop_height, crop_width: if set, a center crop of this size (after the resize).
  """
  resize_width: Optional[int] = None
  crop_height: Optional[int] = None
  crop_width: Optional[int] = None

  def __post_init__(self):
    for name in ('resize_width', 'crop_height', 'crop_width'):
      value = getattr(self, name)
      if value is not None and value <= 0:
        raise ValueError(f'{name} must be positive, got {value}')
    if (self.crop_height is None) != (self.crop_width is None):
      raise ValueError('set both crop_height and crop_width, or neither')

  @property
  def is_identity(self) -> bool:
    return self.resize_width is None and self.crop_height is None

  def __call__(self, frame: np.ndarray) -> np.ndarray:
    """`[H,W,3]` uint8 -> `[H',W',3]` uint8."""
    height, width = frame.shape[:2]
    if self.resize_width is not None and self.resize_width < width:
      new_height = max(1, int(round(height * self.resize_width / width)))
      frame = cv2.resize(frame, (self.resize_width, new_height), interpolation=cv2.INTER_AREA)
      height, width = frame.shape[:2]
    if self.crop_height is not None:
      if self.crop_height > height or self.crop_width > width:
        raise InputError(f'crop {self.crop_height}x{self.crop_width} is larger than the '
                         f'{height}x{width} frame: lower --crop_height/--crop_width')
      top = (height - self.crop_height) // 2
      left = (width - self.crop_width) // 2
      frame = frame[top:top + self.crop_height, left:left + self.crop_width]
    return np.ascontiguousarray(frame)


# ------------------------------------------------------------------------------ statistics

def thumbnail(frame: np.ndarray) -> np.ndarray:
  """`[H,W,3]` uint8 -> small grayscale `[h,64]` float32 in [0,1] for the frame statistics."""
  height, width = frame.shape[:2]
  small_height = max(1, int(round(height * THUMBNAIL_WIDTH / width)))
  gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
  if width > THUMBNAIL_WIDTH:
    gray = cv2.resize(gray, (THUMBNAIL_WIDTH, small_height), interpolation=cv2.INTER_AREA)
  return gray.astype(np.float32) / 255.0


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
  """Mean absolute difference of two thumbnails, in [0,1]."""
  return float(np.mean(np.abs(a - b)))


# ------------------------------------------------------------------------------ videos

@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """What ffmpeg reports about a video without decoding it.

  `num_frames` is duration * fps rounded, an estimate (exact for constant frame rate files).
  """
  fps: float
  duration: float
  height: int
  width: int
  num_frames: int


def video_info(path: str) -> VideoInfo:
  """Reads the header of a video; raises InputError when ffmpeg cannot open it."""
  if not exists(path):
    raise InputError(f'video {path} does not exist: check the path')
  with local_copy(path) as local:
    reader, meta = _start_reader(local, [], [], name=path)
    reader.close()
  fps = float(meta.get('fps') or 0.0)
  duration = float(meta.get('duration') or 0.0)
  width, height = meta['size']
  if fps <= 0:
    raise InputError(f'video {path} reports no frame rate: re-encode it or pass its frames '
                     'as a folder')
  return VideoInfo(fps=fps, duration=duration, height=int(height), width=int(width),
                   num_frames=int(round(duration * fps)))


def _start_reader(path: str, input_params: list[str], output_params: list[str],
                  attempts: int = 3, name: Optional[str] = None) -> tuple[Iterator[bytes], dict]:
  """An imageio-ffmpeg frame generator past its meta dict, and the dict; retries a failed start.

  Starting ffmpeg can fail transiently (no header within imageio-ffmpeg's 10 s, e.g. on a
  loaded machine or after a fork in a process running gRPC threads).
  """
  for attempt in range(attempts):
    reader = imageio_ffmpeg.read_frames(path, input_params=input_params,
                                        output_params=output_params)
    try:
      return reader, next(reader)
    except (OSError, RuntimeError, StopIteration) as e:
      reader.close()
      text = str(e)
      if 'ffmpeg version' in text or attempt == attempts - 1:  # ffmpeg ran and refused it.
        lines = [l.strip() for l in text.splitlines() if l.strip()] or [type(e).__name__]
        raise InputError(f'cannot read video {name or path} ({lines[-1]}): pass a file ffmpeg '
                         'can decode (mp4/mkv/mov/...)') from e
      logging.warning('ffmpeg did not start on %s (attempt %d); retrying.', path, attempt + 1)
      time.sleep(1.0 + attempt)
  raise AssertionError('unreachable')


def iter_video_frames(path: str, start: int = 0, count: Optional[int] = None,
                      info: Optional[VideoInfo] = None) -> Iterator[tuple[int, np.ndarray]]:
  """Streams `(index, [H,W,3] uint8)` frames `start, start+1, ...` of a video.

  Seeks by time to `(start - 0.5) / fps` (ffmpeg's accurate seek, so the first frame output is
  frame `start` of a constant-frame-rate file), and stops after `count` frames (or at the end).
  Only one decoded frame is held at a time.
  """
  info = info or video_info(path)
  input_params = ['-ss', f'{(start - 0.5) / info.fps:.6f}'] if start > 0 else []
  output_params = ['-fps_mode', 'passthrough']
  if count is not None:
    if count <= 0:
      return
    output_params += ['-frames:v', str(count)]
  frame_bytes = info.height * info.width * 3
  with local_copy(path) as local:
    reader, _ = _start_reader(local, input_params, output_params, name=path)
    try:
      for offset, data in enumerate(reader):
        if len(data) != frame_bytes:
          raise InputError(f'video {path} changes frame size at frame {start + offset}: '
                           'pass frames of one size')
        yield start + offset, np.frombuffer(data, np.uint8).reshape(info.height, info.width, 3)
    except RuntimeError as e:
      raise InputError(f'decoding {path} failed near frame {start}: {e}; re-encode the '
                       'video') from e
    finally:
      reader.close()


def count_video_frames(path: str) -> int:
  """Decodes the whole video (streaming) and returns its exact number of frames."""
  with local_copy(path) as local:
    try:
      num_frames, _ = imageio_ffmpeg.count_frames_and_secs(local)
    except (RuntimeError, OSError) as e:
      raise InputError(f'cannot decode video {path}: {e}; re-encode it') from e
  return int(num_frames)


def iter_folder_frames(files: Sequence[str], start: int = 0, count: Optional[int] = None
                       ) -> Iterator[tuple[int, np.ndarray]]:
  """Streams `(index, [H,W,3] uint8)` frames `start, ...` of a frame folder's file list."""
  stop = len(files) if count is None else min(len(files), start + count)
  for index in range(start, stop):
    yield index, read_image(files[index])


def is_video_file(path: str) -> bool:
  return path.lower().endswith(VIDEO_EXTENSIONS)

