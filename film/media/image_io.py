"""The package's one image reader and writer: still frames as `[H,W,3]` arrays.

Used by inference (`film.inference.pipeline`), dataset creation (`film.datasets.frames`) and evaluation
(`film.eval.benchmarks`):

* `read_image(path)` / `decode_image(data, name)` -> `[H,W,3]` float32 in [0,1]
  (`dtype=np.uint8` for 8-bit values, 16-bit sources rounded).
* Formats: PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette), JPEG (CMYK too), BMP, TIFF,
  WebP, PPM — whatever Pillow reads. 16-bit PNG/TIFF are decoded with OpenCV
  (`IMREAD_UNCHANGED`), because Pillow reduces 16-bit RGB to 8 bits; values are divided by
  65535, so the full precision is kept.
* **EXIF orientation is applied** (tags 2-8: phone portraits are stored landscape with tag 6),
  for 8- and 16-bit files alike, and `probe` reports the *displayed* size, so a tagged photo and
  an editor-rotated copy of it have the same size.
* Alpha is **dropped** (the stored colours are used, not composited); a warning is logged.
  Grayscale is replicated to RGB.
* `IMAGE_EXTENSIONS`, `natural_key` (`frame_2` before `frame_10`, case-insensitive) and
  `frame_names` define what a frame folder holds and its order, for every caller.
* `write_image` writes 8/16-bit PNG or 8-bit JPEG atomically (`film.media.atomic`).
"""
from __future__ import annotations

import io
import os
import re
from typing import Iterable, NamedTuple, Sequence

from absl import logging
import cv2
import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from film.media import atomic
from film.cli import UserError

# Camera/editor PNGs can carry multi-megabyte text chunks (e.g. XMP, the sample photos); Pillow's
# default 1 MB cap would reject them as unreadable.
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, 64 * 2**20)
PngImagePlugin.MAX_TEXT_MEMORY = max(PngImagePlugin.MAX_TEXT_MEMORY, 256 * 2**20)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm')
EXIF_ORIENTATION = 0x0112
# EXIF orientations that swap width and height (the stored image is displayed rotated by 90°).
_TRANSPOSING = (5, 6, 7, 8)


class ImageReadError(UserError):
  """An image file is missing, empty, corrupt or in an unsupported format."""


class ImageInfo(NamedTuple):
  """Header facts of an image file: displayed size in pixels (EXIF orientation applied), Pillow
  mode, bits per channel and the EXIF orientation tag (1 = none)."""
  path: str
  height: int
  width: int
  mode: str
  bit_depth: int
  orientation: int = 1


def natural_key(name: str) -> list:
  """Sort key treating digit runs as numbers: ['frame_2', 'frame_10'] sort in that order.

  Case-insensitive, on the base name (folders of a path do not take part).
  """
  return [int(part) if part.isdigit() else part.lower()
          for part in re.split(r'(\d+)', os.path.basename(name))]


def is_image_name(name: str) -> bool:
  """Whether a file name is a frame: an image extension (any case), not hidden."""
  base = os.path.basename(name)
  return base.lower().endswith(IMAGE_EXTENSIONS) and not base.startswith('.')


def frame_names(names: Iterable[str]) -> list[str]:
  """The image names among `names` in natural order (what a frame folder holds)."""
  return sorted((n for n in names if is_image_name(n)), key=natural_key)


def list_frames(folder: str) -> list[str]:
  """Paths of the image files of a local `folder`, in natural order."""
  return [os.path.join(folder, n) for n in frame_names(os.listdir(folder))]


def _bit_depth(header: bytes, mode: str) -> int:
  if len(header) >= 25 and header[:8] == b'\x89PNG\r\n\x1a\n' and header[12:16] == b'IHDR':
    return header[24]
  return 16 if mode.startswith('I;16') or mode in ('I', 'RGB;16', 'RGBA;16') else 8


def _orientation(image: Image.Image) -> int:
  try:
    value = int(image.getexif().get(EXIF_ORIENTATION, 1))
  except (ValueError, TypeError, SyntaxError, OSError):  # malformed EXIF: treat as absent
    return 1
  return value if 1 <= value <= 8 else 1


def _open_error(name: str, error: BaseException) -> ImageReadError:
  reason = ('unknown format or corrupt data' if isinstance(error, UnidentifiedImageError)
            else str(error))
  return ImageReadError(f'{name}: not a readable image ({reason}); replace or remove it')


def probe_bytes(data: bytes, name: str, verify: bool = True) -> ImageInfo:
  """`probe` for image bytes (e.g. read through Beam's filesystems)."""
  if not data:
    raise ImageReadError(f'{name}: empty file (0 bytes); replace it with a valid image')
  try:
    if verify:  # PNG: every chunk's CRC; others: structure (must come right after open)
      with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
      mode, (width, height) = image.mode, image.size
      orientation = _orientation(image)
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
    raise _open_error(name, e) from e
  if orientation in _TRANSPOSING:
    width, height = height, width
  return ImageInfo(name, height, width, mode, _bit_depth(data[:25], mode), orientation)


def _read_file(path: str) -> bytes:
  if not os.path.exists(path):
    raise ImageReadError(f'{path}: no such file; check the path')
  if not os.path.isfile(path):
    raise ImageReadError(f'{path}: not a file; pass an image file')
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as e:
    raise ImageReadError(f'{path}: cannot read it ({e.strerror}); check its permissions') from e


def probe(path: str, verify: bool = True) -> ImageInfo:
  """Reads the header of an image file (with `verify`, also checks its integrity cheaply).

  The size is the displayed one (EXIF orientation applied), as `read_image` returns it.
  Raises ImageReadError naming the file and the problem.
  """
  return probe_bytes(_read_file(path), path, verify)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
  """`[H,W,...]` stored pixels -> displayed pixels for EXIF orientation 1..8 (as Pillow's
  `ImageOps.exif_transpose`)."""
  if orientation == 2:
    return array[:, ::-1]
  if orientation == 3:
    return array[::-1, ::-1]
  if orientation == 4:
    return array[::-1]
  if orientation == 5:
    return array.swapaxes(0, 1)
  if orientation == 6:
    return np.rot90(array, -1)
  if orientation == 7:
    return array[::-1, ::-1].swapaxes(0, 1)
  if orientation == 8:
    return np.rot90(array, 1)
  return array


def _to_rgb(array: np.ndarray, name: str) -> np.ndarray:
  if array.ndim == 2:
    array = array[..., None]
  channels = array.shape[-1]
  if channels in (2, 4):
    logging.warning('%s has an alpha channel; it is dropped (colours used as stored)', name)
    array = array[..., :channels - 1]
  if array.shape[-1] == 1:
    array = np.repeat(array, 3, axis=-1)
  return array


def _decode_stored(data: bytes, info: ImageInfo) -> np.ndarray:
  """Stored pixels, uint8 or uint16, [H,W,C] with C in 1..4 (RGB order) or [H,W]."""
  if info.bit_depth == 16:
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
      raise ImageReadError(f'{info.path}: cannot decode this 16-bit image; replace it')
    if array.ndim == 3 and array.shape[-1] >= 3:  # BGR(A) -> RGB(A)
      order = [2, 1, 0, 3][:array.shape[-1]]
      array = array[..., order]
    return array
  with Image.open(io.BytesIO(data)) as image:
    if image.mode == 'P':
      image = image.convert('RGBA' if 'transparency' in image.info else 'RGB')
    elif image.mode not in ('L', 'LA', 'RGB', 'RGBA'):
      image = image.convert('RGB')
    return np.asarray(image)


def decode_image(data: bytes, name: str = 'image', dtype: type = np.float32) -> np.ndarray:
  """Decodes image bytes to displayed `[H,W,3]` RGB (see the module docstring).

  Args:
    data: the encoded file.
    name: used in error messages.
    dtype: np.float32 -> values in [0,1]; np.uint8 -> 0..255 (16-bit sources rounded).
  """
  info = probe_bytes(data, name, verify=False)
  try:
    stored = _decode_stored(data, info)
  except ImageReadError:
    raise
  except (OSError, SyntaxError, ValueError, EOFError) as e:
    raise ImageReadError(f'{name}: cannot decode image ({e}); replace or remove it') from e
  rgb = apply_orientation(_to_rgb(stored, name), info.orientation)
  scale = 65535.0 if rgb.dtype == np.uint16 else 255.0
  if np.dtype(dtype) == np.uint8:
    if rgb.dtype == np.uint8:
      return np.ascontiguousarray(rgb)
    return np.ascontiguousarray((rgb.astype(np.float32) * (255.0 / scale) + 0.5).astype(np.uint8))
  return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(scale)


def read_image(path: str, dtype: type = np.float32) -> np.ndarray:
  """Reads an image file as displayed `[H,W,3]` RGB: float32 in [0,1] (or uint8 0..255)."""
  return decode_image(_read_file(path), path, dtype)


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
  data = to_uint(image, bit_depth)[..., ::-1]  # RGB -> BGR for OpenCV
  params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if ext == '.png' else [cv2.IMWRITE_JPEG_QUALITY, 95]
  ok, encoded = cv2.imencode(ext, np.ascontiguousarray(data), params)
  if not ok:
    raise ValueError(f'OpenCV cannot encode {path} ({ext})')
  atomic.write_bytes(path, encoded.tobytes())


def check_same_size(infos: Sequence[ImageInfo]) -> None:
  """Raises ImageReadError naming the first frame whose displayed size differs from the first."""
  first = infos[0]
  for info in infos[1:]:
    if (info.height, info.width) != (first.height, first.width):
      raise ImageReadError(
          f'frame sizes differ: {info.path} is {info.width}x{info.height} but {first.path} is '
          f'{first.width}x{first.height}; resize the frames to one size')
