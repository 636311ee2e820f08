"""The one definition of the FILM triplet TFRecord format (writer and reader side).

Every record is a serialized `tf.train.Example` holding one training triplet
(x0, y, x1): two input frames and the ground-truth frame between them at time `t`.
The keys follow the reference FILM datasets, so records made by either are readable by both:

| key                       | type    | meaning                                                   |
| ------------------------- | ------- | --------------------------------------------------------- |
| `frame_0/encoded`         | bytes   | PNG of x0 (the first input frame), 8-bit RGB              |
| `frame_0/format`          | bytes   | `b'png'`                                                  |
| `frame_0/height`, `width` | int64   | size of x0 in pixels                                      |
| `frame_1/...`             |         | the same for y, the ground-truth in-between frame         |
| `frame_2/...`             |         | the same for x1, the second input frame                   |
| `path`                    | bytes   | where the triplet came from, e.g. `b'00001/0001'`         |
| `time`                    | float   | t in (0,1): position of y between x0 (t=0) and x1 (t=1)   |

All three frames of a record have the same size. Reference FILM records carry no `time`;
`parse_example` then uses 0.5. Writers: `datasets/beam_pipeline.py`. Reader:
`training/input_pipeline.py`.
"""
from __future__ import annotations

import struct
from typing import Union

import numpy as np
import tensorflow as tf

FRAME_KEYS = ('frame_0', 'frame_1', 'frame_2')  # x0, y (ground truth), x1 -- in time order.
PATH_KEY = 'path'
TIME_KEY = 'time'
DEFAULT_TIME = 0.5
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'

FrameLike = Union[np.ndarray, bytes]


def encode_png(image: np.ndarray, compression: int = 3) -> bytes:
  """Encodes a `[H,W,3]` uint8 RGB array as PNG bytes (zlib `compression` 0..9)."""
  import cv2  # pylint: disable=g-import-not-at-top  (cv2 is only needed by writers)
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f'expected a [H,W,3] uint8 image, got {image.dtype} {image.shape}')
  ok, buf = cv2.imencode('.png', image[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, compression])
  if not ok:
    raise ValueError('PNG encoding failed')
  return buf.tobytes()


def png_size(data: bytes) -> tuple[int, int]:
  """Returns (height, width) read from the IHDR chunk of PNG bytes, without decoding."""
  if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b'IHDR':
    raise ValueError('not PNG data (bad signature or missing IHDR chunk)')
  width, height = struct.unpack('>II', data[16:24])
  return height, width


def is_rgb8_png(data: bytes) -> bool:
  """True when PNG bytes are 8-bit truecolor RGB (bit depth 8, color type 2, no alpha)."""
  return len(data) >= 26 and data.startswith(PNG_SIGNATURE) and data[24] == 8 and data[25] == 2


def _bytes_feature(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def _float_feature(value: float) -> tf.train.Feature:
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def make_example(frame0: FrameLike, frame1: FrameLike, frame2: FrameLike, path: str | bytes,
                 time: float = DEFAULT_TIME) -> tf.train.Example:
  """Builds one triplet record.

  Args:
    frame0: x0, a `[H,W,3]` uint8 RGB array or PNG bytes.
    frame1: y, the ground truth at `time`, same kind and size as `frame0`.
    frame2: x1, same kind and size as `frame0`.
    path: a name for where the triplet came from.
    time: t in (0,1), where `frame1` lies between `frame0` (0) and `frame2` (1).

  Returns:
    The `tf.train.Example`; call `.SerializeToString()` to write it.
  """
  if not 0.0 < float(time) < 1.0:
    raise ValueError(f'time must lie strictly between 0 and 1, got {time}')
  features = {}
  sizes = []
  for key, frame in zip(FRAME_KEYS, (frame0, frame1, frame2)):
    data = frame if isinstance(frame, bytes) else encode_png(frame)
    height, width = png_size(data)
    sizes.append((height, width))
    features[f'{key}/encoded'] = _bytes_feature(data)
    features[f'{key}/format'] = _bytes_feature(b'png')
    features[f'{key}/height'] = _int_feature(height)
    features[f'{key}/width'] = _int_feature(width)
  if len(set(sizes)) != 1:
    raise ValueError(f'the three frames of {path!r} differ in size: {sizes}')
  features[PATH_KEY] = _bytes_feature(path.encode('utf-8') if isinstance(path, str) else path)
  features[TIME_KEY] = _float_feature(time)
  return tf.train.Example(features=tf.train.Features(feature=features))


def feature_spec() -> dict[str, tf.io.FixedLenFeature]:
  """The `tf.io.parse_single_example` spec of a triplet record."""
  spec = {}
  for key in FRAME_KEYS:
    spec[f'{key}/encoded'] = tf.io.FixedLenFeature((), tf.string)
    spec[f'{key}/format'] = tf.io.FixedLenFeature((), tf.string, default_value='png')
    spec[f'{key}/height'] = tf.io.FixedLenFeature((), tf.int64, default_value=0)
    spec[f'{key}/width'] = tf.io.FixedLenFeature((), tf.int64, default_value=0)
  spec[PATH_KEY] = tf.io.FixedLenFeature((), tf.string, default_value='')
  spec[TIME_KEY] = tf.io.FixedLenFeature((), tf.float32, default_value=DEFAULT_TIME)
  return spec


def parse_example(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
  """Parses and decodes one serialized triplet record (usable inside `tf.data.Dataset.map`).

  Returns:
    `x0`, `y`, `x1`: `[H,W,3]` float32 in [0,1]; `time`: `[1]` float32 in (0,1);
    `path`: scalar string.
  """
  features = tf.io.parse_single_example(serialized, feature_spec())

  def decode(key: str) -> tf.Tensor:
    image = tf.io.decode_png(features[f'{key}/encoded'], channels=3, dtype=tf.uint8)
    return tf.image.convert_image_dtype(image, tf.float32)  # uint8 -> [0,1]

  return {
      'x0': decode(FRAME_KEYS[0]),
      'y': decode(FRAME_KEYS[1]),
      'x1': decode(FRAME_KEYS[2]),
      'time': tf.reshape(features[TIME_KEY], [1]),
      'path': features[PATH_KEY],
  }


def parse_example_numpy(serialized: bytes) -> dict[str, np.ndarray]:
  """Eager helper for tools and tests: like `parse_example`, but returns uint8 numpy frames.

  Returns:
    `x0`, `y`, `x1`: `[H,W,3]` uint8; `time`: float; `path`: str.
  """
  example = tf.train.Example.FromString(serialized)
  feature = example.features.feature
  out = {}
  for name, key in zip(('x0', 'y', 'x1'), FRAME_KEYS):
    out[name] = tf.io.decode_png(feature[f'{key}/encoded'].bytes_list.value[0], channels=3).numpy()
  out['time'] = (feature[TIME_KEY].float_list.value[0] if TIME_KEY in feature else DEFAULT_TIME)
  out['path'] = feature[PATH_KEY].bytes_list.value[0].decode('utf-8')
  return out
