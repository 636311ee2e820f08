"""TensorBoard summaries without the TensorBoard package, a flow colour wheel, image previews.

`tf.summary.scalar` / `tf.summary.image` live in the `tensorboard` package, which the
`tensorflow-cpu` wheel does not install. The core op `tf.summary.write` does not need it: we
write the same tensors and plugin metadata that TensorBoard's v2 scalar and image summaries
write, so event files open in TensorBoard (installed wherever one views them) unchanged.

Flow visualisation: `flow_to_rgb` maps flow `[B,H,W,2]` (channels dx, dy in pixels, y pointing
down the rows) to colours on an HSV wheel: hue = direction, saturation = magnitude.

    direction   (dx, dy)   hue    colour
    right       (+1,  0)   0      red
    down        ( 0, +1)   1/4    yellow-green (0.5, 1, 0)
    left        (-1,  0)   1/2    cyan
    up          ( 0, -1)   3/4    violet (0.5, 0, 1)
    no motion   ( 0,  0)   -      white
"""
from __future__ import annotations

import math
from typing import Any, Optional

import tensorflow as tf

from film.training import teacher_flow as teacher_lib

_SCALARS_PLUGIN = 'scalars'
_IMAGES_PLUGIN = 'images'


def _metadata(plugin_name: str, description: str = '') -> tf.compat.v1.SummaryMetadata:
  metadata = tf.compat.v1.SummaryMetadata()
  metadata.plugin_data.plugin_name = plugin_name
  metadata.summary_description = description
  return metadata


def write_scalar(name: str, value, step: int) -> None:
  """Writes one float scalar to the default summary writer (TensorBoard 'scalars' plugin)."""
  tf.summary.write(name, tf.cast(tf.convert_to_tensor(value), tf.float32), step=step,
                   metadata=_metadata(_SCALARS_PLUGIN))


def write_images(name: str, images: tf.Tensor, step: int, max_outputs: int = 3) -> None:
  """Writes `images` `[B,H,W,C]` float in [0,1] (clipped; C = 1 or 3) as PNGs ('images' plugin)."""
  images = tf.convert_to_tensor(images)[:max_outputs]
  encoded = tf.map_fn(
      lambda im: tf.io.encode_png(tf.image.convert_image_dtype(im, tf.uint8, saturate=True)),
      tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0), fn_output_signature=tf.string)
  shape = tf.shape(images)
  size = tf.strings.as_string(tf.stack([shape[2], shape[1]]))  # TensorBoard wants (width, height).
  tf.summary.write(name, tf.concat([size, encoded], axis=0), step=step,
                   metadata=_metadata(_IMAGES_PLUGIN))


def flow_to_rgb(flow: tf.Tensor, max_magnitude: Optional[float] = None) -> tf.Tensor:
  """Colour-codes optical flow (see the module docstring for the wheel).

  Args:
    flow: `[B,H,W,2]` float, channels (dx, dy) in pixels.
    max_magnitude: magnitude shown fully saturated; None uses each image's own maximum.

  Returns:
    `[B,H,W,3]` float32 RGB in [0,1].
  """
  flow = tf.cast(flow, tf.float32)
  dx, dy = flow[..., 0], flow[..., 1]
  magnitude = tf.sqrt(dx * dx + dy * dy)
  if max_magnitude is None:
    scale = tf.reduce_max(magnitude, axis=[1, 2], keepdims=True)
  else:
    scale = tf.fill(tf.shape(magnitude[:, :1, :1]), float(max_magnitude))
  saturation = tf.clip_by_value(tf.math.divide_no_nan(magnitude, scale), 0.0, 1.0)
  hue = tf.math.floormod(tf.atan2(dy, dx) / (2.0 * math.pi), 1.0)
  hsv = tf.stack([hue, saturation, tf.ones_like(hue)], axis=-1)
  return tf.image.hsv_to_rgb(hsv)


class ImagePreviewer:
  """Image summaries of a batch: inputs, prediction, ground truth, |error|, flows, warped frames."""

  def __init__(self, model: Any, compute_dtype: Optional[tf.DType]):
    self.model = model

    @tf.function(reduce_retracing=True)
    def _predict(x0, x1, time_, prior_flows):
      return self.model(x0, x1, time_, aux_outputs=True, compute_dtype=compute_dtype,
                        prior_flows=prior_flows)

    self._predict = _predict

  def write(self, batch: dict[str, tf.Tensor], step: int, max_images: int) -> None:
    """Writes the first `max_images` examples of `batch` as `training/<name>` images."""
    batch = {k: v[:max_images] for k, v in batch.items()}
    prior = (teacher_lib.prior_flows(batch['teacher_flow'])
             if self.model.config.has_flow_prior else None)
    out = self._predict(batch['x0'], batch['x1'], batch['time'], prior)
    images = {
        'x0': batch['x0'], 'x1': batch['x1'], 'y': batch['y'], 'prediction': out['image'],
        'abs_error': tf.abs(tf.clip_by_value(out['image'], 0.0, 1.0) - batch['y']),
        'forward_flow': flow_to_rgb(out['forward_flow']),
        'backward_flow': flow_to_rgb(out['backward_flow']),
        'x0_warped': out['x0_warped'], 'x1_warped': out['x1_warped'],
    }
    for name, value in images.items():
      write_images(f'training/{name}', value, step, max_outputs=max_images)
