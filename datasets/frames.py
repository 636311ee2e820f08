"""Frames for the record jobs: image files, frame folders and videos (streamed) on any Beam
filesystem, plus resize/crop and the per-frame statistics used to drop scene cuts, static and
black frames.

Frames are `[H,W,3]` uint8 RGB numpy arrays. Decoding is the package's one reader:
`film.media.image_io` (EXIF orientation, 16-bit sources rounded to 8 bits) and `film.media.video_io` (exact
frame counts, rational frame rates, one decoded frame in memory at a time). This module adds
Beam's filesystems: paths may be local or `gs://...`; remote videos are copied to a local
temporary file for ffmpeg.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from typing import Iterator, Optional, Sequence

import cv2
import numpy as np
from apache_beam.io.filesystems import FileSystems

from film.media import image_io, video_io
from film.cli import UserError

IMAGE_EXTENSIONS = image_io.IMAGE_EXTENSIONS
VIDEO_EXTENSIONS = video_io.VIDEO_EXTENSIONS
natural_key = image_io.natural_key
VideoInfo = video_io.VideoInfo


class InputError(UserError):
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


def list_frame_files(folder: str) -> list[str]:
  """The image files of a frame folder in natural order; raises InputError when there are none."""
  if not is_dir(folder):
    raise InputError(f'frame folder {folder} does not exist: pass a folder of numbered frames')
  names = image_io.frame_names(list_dir(folder))
  if not names:
    raise InputError(f'no image files ({"/".join(IMAGE_EXTENSIONS)}) in {folder}: '
                     'pass a folder that holds numbered frames')
  return [join(folder, n) for n in names]


# ------------------------------------------------------------------------------ images

def decode_image(data: bytes, name: str = 'image') -> np.ndarray:
  """Decodes image bytes (PNG, JPEG, ...) to displayed `[H,W,3]` uint8 RGB (`film.media.image_io`)."""
  return image_io.decode_image(data, name, dtype=np.uint8)


def read_image(path: str) -> np.ndarray:
  """Reads an image file on any filesystem to displayed `[H,W,3]` uint8 RGB."""
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
        raise InputError(f'{name} must be positive, got {value}')
    if (self.crop_height is None) != (self.crop_width is None):
      raise InputError('set both crop_height and crop_width, or neither')

  @property
  def is_identity(self) -> bool:
    return self.resize_width is None and self.crop_height is None

  def check_fits(self, height: int, width: int) -> None:
    """Raises InputError if the crop is larger than a `height x width` frame after the resize
    (checked on each clip's first frame before a job starts, and on every frame)."""
    if self.resize_width is not None and self.resize_width < width:
      height, width = max(1, int(round(height * self.resize_width / width))), self.resize_width
    if self.crop_height is not None and (self.crop_height > height or self.crop_width > width):
      raise InputError(f'crop {self.crop_height}x{self.crop_width} is larger than the '
                       f'{height}x{width} frame: lower --crop_height/--crop_width')

  def __call__(self, frame: np.ndarray) -> np.ndarray:
    """`[H,W,3]` uint8 -> `[H',W',3]` uint8."""
    height, width = frame.shape[:2]
    if self.resize_width is not None and self.resize_width < width:
      new_height = max(1, int(round(height * self.resize_width / width)))
      frame = cv2.resize(frame, (self.resize_width, new_height), interpolation=cv2.INTER_AREA)
      height, width = frame.shape[:2]
    if self.crop_height is not None:
      self.check_fits(height, width)
      top = (height - self.crop_height) // 2
      left = (width - self.crop_width) // 2
      frame = frame[top:top + self.crop_height, left:left + self.crop_width]
    return np.ascontiguousarray(frame)


# ------------------------------------------------------------------------------ videos

def video_info(path: str) -> VideoInfo:
  """Probes a video on any filesystem (`film.media.video_io.probe_video`: exact frame count, rational
  frame rate); raises a one-line user error when it is missing or unreadable."""
  if not exists(path):
    raise InputError(f'video {path} does not exist: check the path')
  with local_copy(path) as local:
    return dataclasses.replace(video_io.probe_video(local), path=path)


def iter_video_frames(path: str, start: int = 0, count: Optional[int] = None,
                      info: Optional[VideoInfo] = None) -> Iterator[tuple[int, np.ndarray]]:
  """Streams `(index, [H,W,3] uint8)` frames `start, start+1, ...` of a video.

  Seeks by time to `(start - 0.5) / fps` (ffmpeg's accurate seek, so the first frame output is
  frame `start` of a constant-frame-rate file), and stops after `count` frames (or at the end).
  Only one decoded frame is held at a time; deeper than 8-bit sources are rounded to 8 bits.
  """
  if count is not None and count <= 0:
    return
  with local_copy(path) as local:
    info = dataclasses.replace(info or video_io.probe_video(local), path=local)
    for offset, frame in enumerate(video_io.iter_raw_frames(info, start, count, deep=False)):
      yield start + offset, frame


def count_video_frames(path: str) -> int:
  """Decodes the whole video (in ffmpeg) and returns its exact number of decoded frames."""
  with local_copy(path) as local:
    return video_io.count_decoded_frames(local)


def iter_folder_frames(files: Sequence[str], start: int = 0, count: Optional[int] = None
                       ) -> Iterator[tuple[int, np.ndarray]]:
  """Streams `(index, [H,W,3] uint8)` frames `start, ...` of a frame folder's file list."""
  stop = len(files) if count is None else min(len(files), start + count)
  for index in range(start, stop):
    yield index, read_image(files[index])


def is_video_file(path: str) -> bool:
  return path.lower().endswith(VIDEO_EXTENSIONS)

