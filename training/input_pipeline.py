"""tf.data input pipelines over triplet TFRecords (format: `datasets/schema.py`).

`create_dataset` (training) and `create_eval_dataset` (evaluation) yield dicts of batches:

* `x0`, `x1`: the input frames, `y`: the ground truth at `time`; `[B,h,w,3]` float32 in [0,1];
* `time`: `[B,1]` float32 in (0,1); `path`: `[B]` string.

Training reads shards interleaved, shuffles files and records (the reference FILM pipeline
never shuffles), decodes in parallel, augments and prefetches. Augmentations are applied
identically to x0, y and x1 (each can be switched off): random crop, horizontal and vertical
flips, rot90, a small random rotation (bilinear, reflected borders; plain TF via
`ImageProjectiveTransformV3`, no tensorflow-addons) and time reversal (x0 <-> x1, t -> 1-t).
Random draws are stateless, keyed by (`seed`, record index), so a seeded pipeline is
reproducible whatever the parallelism. Everything is a plain argument; gin binds `Augmentation`
at the training entry point (`training/configs.py`).
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
from typing import Optional, Sequence, Union

import tensorflow as tf

from film.datasets import schema
from film.training import teacher_flow as teacher_lib

FRAMES = ('x0', 'y', 'x1')
FilesLike = Union[str, Sequence[str]]


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """Which augmentations `augment_triplet` applies (each with probability 1/2 unless noted).

  Attributes:
    random_crop: crop at a random place (else the center) when a crop size is given.
    flip_horizontal, flip_vertical: mirror left-right / up-down.
    rot90: rotate by k*90 degrees, k uniform in 0..3 (0 or 2 for non-square crops).
    max_rotation_degrees: rotate by an angle uniform in [-max, max] (always; 0 turns it off).
    time_reversal: swap x0 and x1 and set time to 1 - time.
  """
  random_crop: bool = True
  flip_horizontal: bool = True
  flip_vertical: bool = True
  rot90: bool = True
  max_rotation_degrees: float = 0.0
  time_reversal: bool = True


NO_AUGMENTATION = Augmentation(random_crop=False, flip_horizontal=False, flip_vertical=False,
                               rot90=False, max_rotation_degrees=0.0, time_reversal=False)


def resolve_files(files: FilesLike) -> list[str]:
  """Expands a folder (its `*.tfrecord*`), a glob pattern or a list of either into file names."""
  patterns = [files] if isinstance(files, str) else list(files)
  resolved = []
  for pattern in patterns:
    if tf.io.gfile.isdir(pattern):
      pattern = os.path.join(pattern, '*.tfrecord*')
    matches = sorted(tf.io.gfile.glob(pattern))
    if not matches:
      raise FileNotFoundError(f'no TFRecord files match {pattern}: pass a records folder, a glob '
                              'or a list of shards (see datasets/create_tfrecords_cli.py)')
    resolved.extend(matches)
  return resolved


# ------------------------------------------------------------------------------ geometry

def rotation_transform(angle: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
  """The `[8]` projective transform that rotates an image by `angle` radians about its center.

  Positive angles turn the content counterclockwise as displayed (rows down). The transform
  maps each output pixel p = (x, y) to the input point it samples, R . (p - c) + c, with
  R = [[cos, -sin], [sin, cos]] and c = ((W-1)/2, (H-1)/2).
  """
  cos, sin = tf.cos(angle), tf.sin(angle)
  cx = (tf.cast(width, tf.float32) - 1.0) / 2.0
  cy = (tf.cast(height, tf.float32) - 1.0) / 2.0
  return tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                   sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])


def rotate(image: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
  """Rotates `[H,W,C]` float32 by `angle` radians about its center (bilinear, reflect borders)."""
  shape = tf.shape(image)
  transform = rotation_transform(tf.cast(angle, tf.float32), shape[0], shape[1])
  rotated = tf.raw_ops.ImageProjectiveTransformV3(
      images=image[tf.newaxis], transforms=transform[tf.newaxis], output_shape=shape[:2],
      fill_value=0.0, interpolation='BILINEAR', fill_mode='REFLECT')
  return rotated[0]


def _rotation_margin_size(crop: int, max_degrees: float) -> int:
  """Side of the square whose rotation by up to `max_degrees` still covers a `crop` square."""
  radians = math.radians(min(abs(max_degrees), 45.0))
  return int(math.ceil(crop * (math.cos(radians) + math.sin(radians)))) + 2


def _center_crop(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
  shape = tf.shape(image)
  top = (shape[0] - height) // 2
  left = (shape[1] - width) // 2
  return image[top:top + height, left:left + width]


def _coin(seed: tf.Tensor) -> tf.Tensor:
  return tf.random.stateless_uniform([], seed) < 0.5


def augment_triplet(example: dict[str, tf.Tensor], seed: tf.Tensor,
                    crop_size: Optional[Sequence[int]], augmentation: Augmentation
                    ) -> dict[str, tf.Tensor]:
  """Augments one parsed triplet, the same way for all three frames.

  Args:
    example: `x0`, `y`, `x1`: `[H,W,3]` float32 in [0,1]; `time`: `[1]`; `path`: string.
    seed: `[2]` int seed of the stateless random draws.
    crop_size: `(h, w)` of the output, or None to keep the full frames.
    augmentation: which augmentations to apply.

  Returns:
    The same keys; frames `[h,w,3]` (`[w,h,3]` is never produced: rot90 keeps the shape).
  """
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)
  stack = tf.concat([example[k] for k in FRAMES], axis=-1)  # [H,W,9]: x0 | y | x1.
  out_h, out_w = (None, None) if crop_size is None else (int(crop_size[0]), int(crop_size[1]))
  shape = tf.shape(stack)

  if augmentation.max_rotation_degrees > 0:
    if crop_size is not None:  # Crop a larger patch first so the rotation needs no borders.
      side = _rotation_margin_size(max(out_h, out_w), augmentation.max_rotation_degrees)
      size = tf.stack([tf.minimum(side, shape[0]), tf.minimum(side, shape[1]), 9])
      if augmentation.random_crop:
        stack = tf.image.stateless_random_crop(stack, size, seeds[0])
      else:
        stack = _center_crop(stack, size[0], size[1])
    limit = math.radians(augmentation.max_rotation_degrees)
    angle = tf.random.stateless_uniform([], seeds[1], -limit, limit)
    stack = rotate(stack, angle)
    if crop_size is not None:
      stack = _center_crop(stack, out_h, out_w)
  elif crop_size is not None:
    if augmentation.random_crop:
      stack = tf.image.stateless_random_crop(stack, [out_h, out_w, 9], seeds[0])
    else:
      stack = _center_crop(stack, out_h, out_w)

  if augmentation.flip_horizontal:
    stack = tf.cond(_coin(seeds[2]), lambda: tf.reverse(stack, [1]), lambda: stack)
  if augmentation.flip_vertical:
    stack = tf.cond(_coin(seeds[3]), lambda: tf.reverse(stack, [0]), lambda: stack)
  if augmentation.rot90:
    square = crop_size is not None and out_h == out_w
    k = tf.random.stateless_uniform([], seeds[4], 0, 4, dtype=tf.int32)
    if not square:
      k = 2 * (k // 2)  # Only 0 or 180 degrees keep a non-square (or unknown) shape.
    stack = tf.image.rot90(stack, k)
  if crop_size is not None:
    stack = tf.ensure_shape(stack, [out_h, out_w, 9])

  x0, y, x1 = stack[..., 0:3], stack[..., 3:6], stack[..., 6:9]
  time = example['time']
  if augmentation.time_reversal:
    reverse = _coin(seeds[5])
    x0, x1 = tf.where(reverse, x1, x0), tf.where(reverse, x0, x1)
    time = tf.where(reverse, 1.0 - time, time)
  return {'x0': x0, 'y': y, 'x1': x1, 'time': time, 'path': example['path']}


# ------------------------------------------------------------------------------ datasets

def _read_records(files: list[str], shuffle_files: bool, seed: int, cycle_length: int
                  ) -> tf.data.Dataset:
  """Serialized records of `files`, read `cycle_length` files at a time, interleaved."""
  file_ds = tf.data.Dataset.from_tensor_slices(files)
  if shuffle_files:
    file_ds = file_ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
  return file_ds.interleave(
      lambda f: tf.data.TFRecordDataset(f, buffer_size=8 << 20),
      cycle_length=max(1, min(cycle_length, len(files))), block_length=1,
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def create_dataset(files: FilesLike, batch_size: int,
                   crop_size: Optional[Sequence[int]] = (256, 256),
                   augment: Union[bool, Augmentation] = True, shuffle_buffer: int = 1024,
                   repeat: bool = True, seed: Optional[int] = None, cycle_length: int = 8,
                   drop_remainder: bool = True, prefetch: int = tf.data.AUTOTUNE,
                   teacher_flow: bool = False) -> tf.data.Dataset:
  """The training dataset.

  Args:
    files: a records folder, glob pattern, or a list of shards/patterns.
    batch_size: B.
    crop_size: `(h, w)` crop of every example; None keeps full frames (then all records must
      have one size to batch).
    augment: an `Augmentation`, True for `Augmentation()`'s defaults, or False for none.
    shuffle_buffer: records in the shuffle buffer (0 or 1: no shuffling of records or files).
    repeat: repeat forever (each pass reshuffled and re-augmented).
    seed: makes shuffling and augmentation reproducible; None draws one.
    cycle_length: shards read at once.
    drop_remainder: drop a last partial batch (keeps B static).
    prefetch: batches to prefetch.
    teacher_flow: add `teacher_flow` `[B,h,w,6]` (DIS flows of the augmented x0/x1 and their
      validity masks, `training.teacher_flow`) for the 'flow_teacher' loss.

  Returns:
    Batches `{'x0','y','x1': [B,h,w,3] float32 in [0,1], 'time': [B,1] float32, 'path': [B]}`
    (+ `teacher_flow`).
  """
  file_list = resolve_files(files)
  seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
  augmentation = (Augmentation() if augment is True else NO_AUGMENTATION if augment is False
                  else augment)
  shuffle = shuffle_buffer > 1
  ds = _read_records(file_list, shuffle, seed, cycle_length)
  if shuffle:
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  if repeat:
    ds = ds.repeat()
  ds = ds.enumerate()  # Record counter -> the per-example stateless seed (seed, index).

  def parse_and_augment(index: tf.Tensor, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    example = schema.parse_example(serialized)
    example = augment_triplet(example, tf.stack([tf.constant(seed, tf.int64), index]),
                              crop_size, augmentation)
    return teacher_lib.add_teacher_flows(example) if teacher_flow else example

  ds = ds.map(parse_and_augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(prefetch)


def create_eval_dataset(files: FilesLike, batch_size: int = 1,
                        crop_size: Optional[Sequence[int]] = None) -> tf.data.Dataset:
  """The evaluation dataset: every record once, in file order, no augmentation.

  Args:
    files: a records folder, glob pattern, or a list of shards/patterns.
    batch_size: B; keep 1 for full frames of different sizes.
    crop_size: `(h, w)` center crop, or None for full frames.

  Returns:
    Batches like `create_dataset`'s (the last one may be smaller than B).
  """
  file_list = resolve_files(files)
  ds = tf.data.TFRecordDataset(file_list, buffer_size=8 << 20)

  def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    example = schema.parse_example(serialized)
    if crop_size is None:
      return example
    out = {k: _center_crop(example[k], int(crop_size[0]), int(crop_size[1])) for k in FRAMES}
    return {**out, 'time': example['time'], 'path': example['path']}

  ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
