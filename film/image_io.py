"""Reading and writing still frames as `[H,W,3]` float32 in [0,1].

* Formats: PNG (8- and 16-bit, grayscale, gray+alpha, RGB, RGBA, palette), JPEG (EXIF
  orientation applied), and whatever else Pillow reads (BMP, TIFF, WebP).
* 16-bit PNGs are decoded with OpenCV (`IMREAD_UNCHANGED`), because Pillow reduces 16-bit RGB
  PNGs to 8 bits; values are divided by 65535, so the full 16-bit precision is kept.
* Alpha is **dropped** (the stored colour channels are used as they are, not composited over a
  background); a warning is logged once per file. Grayscale is replicated to RGB.
* `natural_key` sorts frame names by their numbers: `frame_2` before `frame_10`.
* Writes are atomic (temp file in the same folder, then rename).
"""
from __future__ import annotations

import os
import re
import tempfile
from typing import NamedTuple, Sequence

from absl import logging
import cv2
import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

# Camera/editor PNGs can carry multi-megabyte text chunks (e.g. XMP, the sample photos); Pillow's
# default 1 MB cap would reject them as unreadable.
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, 64 * 2**20)
PngImagePlugin.MAX_TEXT_MEMORY = max(PngImagePlugin.MAX_TEXT_MEMORY, 256 * 2**20)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


class ImageReadError(ValueError):
  """An image file is missing, empty, corrupt or in an unsupported format."""


class ImageInfo(NamedTuple):
  """Header facts of an image file: size in pixels, Pillow mode, and bits per channel."""
  path: str
  height: int
  width: int
  mode: str
  bit_depth: int


def natural_key(name: str) -> list:
  """Sort key treating digit runs as numbers: ['frame_2', 'frame_10'] sort in that order."""
  return [int(part) if part.isdigit() else part.lower()
          for part in re.split(r'(\d+)', os.path.basename(name))]


def list_frames(folder: str) -> list[str]:
  """Image files of `folder` (by extension, case-insensitive), in natural order."""
  names = [n for n in os.listdir(folder)
           if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith('.')]
  return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]


def _png_bit_depth(path: str) -> int:
  with open(path, 'rb') as f:
    header = f.read(25)
  if len(header) == 25 and header[:8] == b'\x89PNG\r\n\x1a\n' and header[12:16] == b'IHDR':
    return header[24]
  return 8


def probe(path: str, verify: bool = True) -> ImageInfo:
  """Reads the header of an image (and with `verify`, checks its data's integrity cheaply).

  Raises ImageReadError naming the file and the problem.
  """
  if not os.path.isfile(path):
    raise ImageReadError(f'{path}: no such file')
  if os.path.getsize(path) == 0:
    raise ImageReadError(f'{path}: empty file (0 bytes); replace it with a valid image')
  try:
    with Image.open(path) as image:
      mode, (width, height) = image.mode, image.size
      if verify:
        image.verify()
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
    raise ImageReadError(f'{path}: not a readable image ({e}); replace or remove it') from e
  depth = _png_bit_depth(path) if path.lower().endswith('.png') else (
      16 if mode.startswith('I;16') else 8)
  return ImageInfo(path, height, width, mode, depth)


def _to_rgb(array: np.ndarray, path: str) -> np.ndarray:
  if array.ndim == 2:
    array = array[..., None]
  channels = array.shape[-1]
  if channels in (2, 4):
    logging.warning('%s has an alpha channel; it is dropped (colours used as stored)', path)
    array = array[..., :channels - 1]
  if array.shape[-1] == 1:
    array = np.repeat(array, 3, axis=-1)
  return array


def read_image(path: str) -> np.ndarray:
  """Reads an image as [H,W,3] float32 in [0,1] (see the module docstring for conversions)."""
  info = probe(path, verify=False)
  try:
    if info.bit_depth == 16:
      data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
      if data is None:
        raise ImageReadError(f'{path}: OpenCV cannot decode this 16-bit image')
      if data.ndim == 3:  # BGR(A) -> RGB(A)
        data = data[..., [2, 1, 0, 3][:data.shape[-1]]] if data.shape[-1] == 4 else data[..., ::-1]
      scale = 65535.0 if data.dtype == np.uint16 else 255.0
      return np.ascontiguousarray(_to_rgb(data, path), dtype=np.float32) / np.float32(scale)
    with Image.open(path) as image:
      image = ImageOps.exif_transpose(image)
      if image.mode == 'P':
        image = image.convert('RGBA' if 'transparency' in image.info else 'RGB')
      elif image.mode not in ('L', 'LA', 'RGB', 'RGBA'):
        image = image.convert('RGB')
      data = np.asarray(image)
  except ImageReadError:
    raise
  except (OSError, SyntaxError, ValueError) as e:
    raise ImageReadError(f'{path}: cannot decode image ({e}); replace or remove it') from e
  return np.ascontiguousarray(_to_rgb(data, path), dtype=np.float32) / np.float32(255.0)


def to_uint(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
  """[H,W,3] float in [0,1] -> uint8 or uint16 with rounding."""
  scale = 255.0 if bit_depth == 8 else 65535.0
  dtype = np.uint8 if bit_depth == 8 else np.uint16
  return (np.clip(image, 0.0, 1.0) * scale + 0.5).astype(dtype)


def write_image(path: str, image: np.ndarray, bit_depth: int = 8) -> None:
  """Writes [H,W,3] float32 in [0,1] to `path` (PNG 8/16-bit or JPEG 8-bit), atomically."""
  if bit_depth not in (8, 16):
    raise ValueError(f'bit_depth must be 8 or 16, got {bit_depth}')
  ext = os.path.splitext(path)[1].lower()
  if bit_depth == 16 and ext != '.png':
    raise ValueError('16-bit output needs a .png file')
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix=ext, dir=folder)
  os.close(fd)
  try:
    data = to_uint(image, bit_depth)[..., ::-1]  # RGB -> BGR for OpenCV
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if ext == '.png' else [cv2.IMWRITE_JPEG_QUALITY, 95]
    if not cv2.imwrite(tmp, np.ascontiguousarray(data), params):
      raise OSError(f'cannot write {path}')
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def check_same_size(infos: Sequence[ImageInfo]) -> None:
  """Raises ImageReadError naming the first frame whose size differs from the first one."""
  first = infos[0]
  for info in infos[1:]:
    if (info.height, info.width) != (first.height, first.width):
      raise ImageReadError(
          f'frame sizes differ: {info.path} is {info.width}x{info.height} but {first.path} is '
          f'{first.width}x{first.height}; resize the frames to one size')
