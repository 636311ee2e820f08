"""Tiny synthetic triplet records for smoke runs and tests (`film_net-smoke.gin`).

Each triplet shows textured squares moving linearly over a smooth random background, so the
in-between frame `y` at time t is known exactly. Records use the project's one TFRecord
schema (`datasets.schema.make_example`).

    python -m film.training.smoke_data --output_dir smoke_data   # -> smoke_data/{train,val}/
"""
from __future__ import annotations

import os
from typing import Sequence

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from film.datasets import schema


def render_triplet(rng: np.random.Generator, height: int, width: int, time: float = 0.5
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Three `[H,W,3]` uint8 frames at times 0, `time`, 1 of squares moving in straight lines."""
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
  background = np.stack([
      0.5 + 0.25 * np.sin(xx / rng.uniform(3, 9) + c) * np.cos(yy / rng.uniform(3, 9) - c)
      for c in rng.uniform(0, 6, size=3)], axis=-1)
  squares = []
  for _ in range(3):
    size = rng.integers(max(2, height // 6), max(3, height // 3))
    start = rng.uniform([0, 0], [height - size, width - size])
    motion = rng.uniform(-4, 4, size=2)
    colour = rng.uniform(0, 1, size=3)
    squares.append((size, start, motion, colour))

  def frame(t: float) -> np.ndarray:
    image = background.copy()
    for size, start, motion, colour in squares:
      top, left = np.round(start + t * motion).astype(int)
      checker = ((yy[:size, :size] + xx[:size, :size]) % 4 < 2)[..., None]
      patch = np.where(checker, colour, 1.0 - colour)
      t0, l0 = max(top, 0), max(left, 0)
      t1, l1 = min(top + size, height), min(left + size, width)
      image[t0:t1, l0:l1] = patch[t0 - top:t1 - top, l0 - left:l1 - left]
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)

  return frame(0.0), frame(time), frame(1.0)


def write_records(path: str, num_examples: int, height: int = 48, width: int = 48,
                  seed: int = 0, times: Sequence[float] = (0.5,)) -> str:
  """Writes `num_examples` synthetic triplets to the TFRecord file `path`; returns `path`."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  rng = np.random.default_rng(seed)
  with tf.io.TFRecordWriter(path) as writer:
    for i in range(num_examples):
      time = float(times[i % len(times)])
      x0, y, x1 = render_triplet(rng, height, width, time)
      writer.write(schema.make_example(x0, y, x1, f'synthetic/{seed}/{i:05d}', time)
                   .SerializeToString())
  return path


def write_smoke_dataset(output_dir: str, num_train: int = 8, num_val: int = 2,
                        height: int = 48, width: int = 48) -> dict[str, str]:
  """Writes `<output_dir>/train/` (two shards) and `<output_dir>/val/`; returns the folders."""
  train_dir = os.path.join(output_dir, 'train')
  val_dir = os.path.join(output_dir, 'val')
  half = max(1, num_train // 2)
  write_records(os.path.join(train_dir, 'smoke-00000-of-00002.tfrecord'), half, height, width,
                seed=1, times=(0.5, 0.25, 0.75))
  write_records(os.path.join(train_dir, 'smoke-00001-of-00002.tfrecord'), num_train - half,
                height, width, seed=2, times=(0.5,))
  write_records(os.path.join(val_dir, 'smoke-val.tfrecord'), num_val, height, width, seed=3)
  return {'train': train_dir, 'val': val_dir}


FLAGS = flags.FLAGS
flags.DEFINE_string('output_dir', 'smoke_data', 'Where train/ and val/ are written.')
flags.DEFINE_integer('num_train', 8, 'Training triplets.')
flags.DEFINE_integer('num_val', 2, 'Validation triplets.')


def main(argv: list[str]) -> None:
  del argv
  print(write_smoke_dataset(FLAGS.output_dir, FLAGS.num_train, FLAGS.num_val))


if __name__ == '__main__':
  app.run(main)
