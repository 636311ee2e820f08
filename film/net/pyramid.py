"""Pyramid utilities: building, flow synthesis, warping and concatenation (finest level first)."""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from film.net.warp import warp

Pyramid = list[tf.Tensor]


def downsample(x: tf.Tensor) -> tf.Tensor:
  """2x2 average pooling, stride 2, 'valid': [B,H,W,C] -> [B,H//2,W//2,C]."""
  return tf.nn.avg_pool2d(x, ksize=2, strides=2, padding='VALID')


def build_image_pyramid(image: tf.Tensor, levels: int) -> Pyramid:
  """[B,H,W,C] image -> list of `levels` images, each half the size of the previous one."""
  pyramid = [image]
  for _ in range(levels - 1):
    pyramid.append(downsample(pyramid[-1]))
  return pyramid


def build_flow_pyramid(flow: tf.Tensor, levels: int) -> Pyramid:
  """[B,H,W,2] flow (pixels) -> `levels` flows, each 2x2-average-pooled and halved in value
  (pixels of its own level), finest first."""
  pyramid = [flow]
  for _ in range(levels - 1):
    pyramid.append(0.5 * downsample(pyramid[-1]))
  return pyramid


def upsample_flow(flow: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
  """Bilinearly resizes a coarser flow to `size` and doubles its magnitude (pixels)."""
  return tf.image.resize(2 * flow, size, method=tf.image.ResizeMethod.BILINEAR)


def flow_pyramid_synthesis(residual_pyramid: Sequence[tf.Tensor]) -> Pyramid:
  """Accumulates residual flows coarse-to-fine into full flows at every level."""
  flow = residual_pyramid[-1]
  flows = [flow]
  for residual in reversed(residual_pyramid[:-1]):
    flow = residual + upsample_flow(flow, tf.shape(residual)[1:3])
    flows.append(flow)
  return list(reversed(flows))


def multiply_pyramid(pyramid: Sequence[tf.Tensor], scalar: tf.Tensor) -> Pyramid:
  """Multiplies each level of a pyramid by a per-example scalar `scalar` [B]."""
  return [level * tf.cast(scalar, level.dtype)[:, None, None, None] for level in pyramid]


def add_pyramids(a: Sequence[tf.Tensor], b: Sequence[tf.Tensor]) -> Pyramid:
  """Level-wise sum of two pyramids of the same shapes."""
  return [x + y for x, y in zip(a, b)]


def pyramid_warp(pyramid: Sequence[tf.Tensor], flows: Sequence[tf.Tensor]) -> Pyramid:
  """Backward-warps each level with the flow of the same level."""
  return [warp(level, flow) for level, flow in zip(pyramid, flows)]


def concatenate_pyramids(a: Sequence[tf.Tensor], b: Sequence[tf.Tensor]) -> Pyramid:
  """Channel-concatenates two pyramids level by level (zip: shortest length wins)."""
  return [tf.concat([x, tf.cast(y, x.dtype)], axis=-1) for x, y in zip(a, b)]
