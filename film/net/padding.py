"""Pads images to a multiple of the pyramid alignment and crops results back.

How we pad: each of H and W is grown to the next multiple of `align` (= 2**(pyramid_levels-1)),
split evenly before/after (the extra pixel, if odd, goes after), by *mirror reflection including
the edge pixel* (numpy's 'symmetric'). Reflection keeps image statistics and motion continuous at
the border (zero padding, which FILM's own inference wrapper uses, adds black bars that the flow
estimator tries to match). Indices are folded, so any pad size works, even larger than the image.
"""
from __future__ import annotations

import tensorflow as tf


def _pad_amounts(size: tf.Tensor, align: int) -> tuple[tf.Tensor, tf.Tensor]:
  total = (align - size % align) % align
  before = total // 2
  return before, total - before


def _symmetric_indices(size: tf.Tensor, before: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
  idx = tf.range(-before, size + after)
  period = 2 * size
  idx = tf.math.floormod(idx, period)
  return tf.where(idx >= size, period - 1 - idx, idx)


def pad_to_alignment(x: tf.Tensor, align: int) -> tuple[tf.Tensor, tf.Tensor]:
  """[B,H,W,C] -> ([B,H',W',C] with H',W' multiples of `align`, crop box [4] int32).

  The crop box is (offset_h, offset_w, H, W), for `crop_to_box`.
  """
  shape = tf.shape(x)
  h, w = shape[1], shape[2]
  top, bottom = _pad_amounts(h, align)
  left, right = _pad_amounts(w, align)
  x = tf.gather(x, _symmetric_indices(h, top, bottom), axis=1)
  x = tf.gather(x, _symmetric_indices(w, left, right), axis=2)
  return x, tf.stack([top, left, h, w])


def crop_to_box(x: tf.Tensor, box: tf.Tensor, scale: int = 1) -> tf.Tensor:
  """Crops [B,H',W',C] back to the box from `pad_to_alignment` (box divided by `scale`)."""
  box = box // scale
  return x[:, box[0]:box[0] + box[2], box[1]:box[1] + box[3], :]
