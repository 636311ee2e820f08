"""Bilinear backward warping in plain TensorFlow (replaces `tfa.image.dense_image_warp`).

Semantics are those of FILM's `util.warp(image, flow)`, i.e. `dense_image_warp(image, -flow)`:
the output at pixel (y, x) is `image` sampled bilinearly at `(y + flow[...,1], x + flow[...,0])`,
with sample positions clamped to the image (border pixels repeat). Gradients flow to both the
image and the flow (through the bilinear weights), exactly as in tfa.
"""
from __future__ import annotations

import tensorflow as tf


def warp(image: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
  """Backward-warps `image` by `flow`.

  Args:
    image: [B,H,W,C] float tensor (any float dtype; bfloat16 works).
    flow: [B,H,W,2] offsets in pixels, channels (dx, dy).

  Returns:
    [B,H,W,C] tensor of image's dtype. The sampling runs in float32 whatever the image dtype
    (a bfloat16 image is read in float32 and the result rounded once).
  """
  dtype = image.dtype
  image = tf.cast(image, tf.float32)
  shape = tf.shape(image)
  b, h, w, c = shape[0], shape[1], shape[2], shape[3]
  flow = tf.cast(flow, tf.float32)
  grid_y, grid_x = tf.meshgrid(tf.range(h), tf.range(w), indexing='ij')
  query_x = tf.cast(grid_x, tf.float32)[None] + flow[..., 0]
  query_y = tf.cast(grid_y, tf.float32)[None] + flow[..., 1]

  def corners(query: tf.Tensor, size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    # As tfa's interpolate_bilinear: floor clamped to [0, size-2], alpha clamped to [0, 1].
    # Non-finite positions (a diverged flow) read pixel 0 instead of gathering out of range;
    # the NaN still reaches the loss through the flow, where training's guard reports it.
    query = tf.where(tf.math.is_finite(query), query, tf.zeros_like(query))
    max_floor = tf.cast(tf.maximum(size - 2, 0), tf.float32)
    floor = tf.minimum(tf.maximum(0.0, tf.floor(query)), max_floor)
    alpha = tf.clip_by_value(query - floor, 0.0, 1.0)
    low = tf.cast(floor, tf.int32)
    high = tf.minimum(low + 1, size - 1)
    return low, high, alpha

  y0, y1, alpha_y = corners(query_y, h)
  x0, x1, alpha_x = corners(query_x, w)
  flat = tf.reshape(image, [-1, c])
  base = (tf.range(b) * h * w)[:, None, None]

  def gather(y: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    return tf.gather(flat, base + y * w + x)

  top_left, top_right = gather(y0, x0), gather(y0, x1)
  bottom_left, bottom_right = gather(y1, x0), gather(y1, x1)
  alpha_x = alpha_x[..., None]
  alpha_y = alpha_y[..., None]
  interp_top = alpha_x * (top_right - top_left) + top_left
  interp_bottom = alpha_x * (bottom_right - bottom_left) + bottom_left
  return tf.cast(alpha_y * (interp_bottom - interp_top) + interp_top, dtype)
