"""Helpers that build tiny fake datasets on the fly for the dataset tests."""
from __future__ import annotations

import os

import imageio_ffmpeg
import mediapy
import numpy as np
import tensorflow as tf
from PIL import Image
from scipy import ndimage

from film.datasets import schema

mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())


def write_png(path: str, image: np.ndarray) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(image).save(path)


def random_image(rng: np.random.Generator, height: int = 24, width: int = 32) -> np.ndarray:
  return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def smooth_texture(seed: int, height: int, width: int) -> np.ndarray:
  """A smooth random `[H,W,3]` uint8 texture (small differences when shifted by a pixel)."""
  noise = np.random.default_rng(seed).normal(size=(height, width * 2, 3))
  smooth = ndimage.gaussian_filter(noise, sigma=(5, 5, 0), mode='wrap')
  smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
  return (40 + 175 * smooth).astype(np.uint8)


def moving_scene(seed: int, num_frames: int, height: int = 48, width: int = 64,
                 speed: int = 2) -> list[np.ndarray]:
  """Frames of a texture panning `speed` pixels per frame."""
  texture = smooth_texture(seed, height, width)
  return [np.ascontiguousarray(np.roll(texture, speed * i, axis=1)[:, :width])
          for i in range(num_frames)]


def read_records(output_dir: str) -> list[dict]:
  """All records of a shard folder, decoded to numpy, sorted by path then time."""
  files = sorted(f for f in os.listdir(output_dir) if f.endswith('.tfrecord'))
  records = []
  for name in files:
    for serialized in tf.data.TFRecordDataset(os.path.join(output_dir, name)):
      records.append(schema.parse_example_numpy(serialized.numpy()))
  return sorted(records, key=lambda r: (r['path'], r['time']))
