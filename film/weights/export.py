"""Export a `FilmNet` as a TensorFlow SavedModel for serving (TF Serving, `saved_model_cli`).

Signature `serving_default`:
  inputs   x0    float32 [B,H,W,3]  first frame, values in [0,1]
           x1    float32 [B,H,W,3]  second frame, same shape
           time  float32 [B,1]      time in [0,1] (0.5 = middle frame)
           forward_prior   float32 [B,H,W,2]  flow-prior models only (`config.flow_prior`
           backward_prior  float32 [B,H,W,2]  'dis'): the classical x0->x1 / x1->x0 flows in
                           pixels (dx, dy), e.g. `film.inference.classical_flow.dis_flows`; the
                           graph cannot run OpenCV, so the client computes them
  outputs  image float32 [B,H,W,3]  interpolated frame, clipped to [0,1]
B, H and W are free (`None`): padding to the model's alignment (mirror reflection) and the crop
back happen inside the graph. Untiled: the caller bounds the frame size by the serving memory
(about `film.inference.memory.pair_bytes_per_pixel(config)` bytes per pixel, ~4.9 KB for the
published config).

    module = tf.saved_model.load(path)
    image = module.signatures['serving_default'](x0=x0, x1=x1, time=t)['image']
    # or: module.interpolate(x0, x1, time)['image']
"""
from __future__ import annotations

import json
import os

from absl import logging
import tensorflow as tf

from film.media import atomic
from film.net.model import FilmNet, count_parameters

SIGNATURE_KEY = 'serving_default'
_IMAGE_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32)
_TIME_SPEC = tf.TensorSpec([None, 1], tf.float32)
_FLOW_SPEC = tf.TensorSpec([None, None, None, 2], tf.float32)
_INPUTS = {'x0': '[B,H,W,3] float32 [0,1]', 'x1': '[B,H,W,3] float32 [0,1]',
           'time': '[B,1] float32 [0,1]'}
_PRIOR_INPUTS = {'forward_prior': '[B,H,W,2] float32 pixels, DIS flow x0->x1',
                 'backward_prior': '[B,H,W,2] float32 pixels, DIS flow x1->x0'}


class ServingModule(tf.Module):
  """`tf.Module` holding a `FilmNet` and its serving function `interpolate`."""

  def __init__(self, model: FilmNet):
    super().__init__(name='film_serving')
    self.model = model

  @tf.function(input_signature=[_IMAGE_SPEC, _IMAGE_SPEC, _TIME_SPEC])
  def interpolate(self, x0: tf.Tensor, x1: tf.Tensor, time: tf.Tensor) -> dict[str, tf.Tensor]:
    """{'image': [B,H,W,3] in [0,1]} for `x0`, `x1` [B,H,W,3] in [0,1] and `time` [B,1]."""
    image = self.model(x0, x1, time)['image']
    return {'image': tf.clip_by_value(image, 0.0, 1.0)}


class PriorServingModule(tf.Module):
  """`ServingModule` of a flow-prior model: `interpolate` also takes the classical flows."""

  def __init__(self, model: FilmNet):
    super().__init__(name='film_serving')
    self.model = model

  @tf.function(input_signature=[_IMAGE_SPEC, _IMAGE_SPEC, _TIME_SPEC, _FLOW_SPEC, _FLOW_SPEC])
  def interpolate(self, x0: tf.Tensor, x1: tf.Tensor, time: tf.Tensor, forward_prior: tf.Tensor,
                  backward_prior: tf.Tensor) -> dict[str, tf.Tensor]:
    """{'image': [B,H,W,3] in [0,1]}; the priors are [B,H,W,2] pixel flows x0->x1, x1->x0."""
    prior = {'forward': forward_prior, 'backward': backward_prior}
    image = self.model(x0, x1, time, prior_flows=prior)['image']
    return {'image': tf.clip_by_value(image, 0.0, 1.0)}


def export_saved_model(model: FilmNet, output_dir: str, overwrite: bool = False) -> str:
  """Saves `model` as a SavedModel at `output_dir` atomically (temp dir + rename).

  Also writes `film_export.json` (config, parameter count, signature) beside `saved_model.pb`.
  Returns the absolute output path. Raises FileExistsError unless `overwrite`.
  """
  output_dir = os.path.abspath(output_dir)
  prior = model.config.has_flow_prior
  module = PriorServingModule(model) if prior else ServingModule(model)
  with atomic.output_dir(output_dir, overwrite, flag='--overwrite') as tmp:
    signature = module.interpolate.get_concrete_function()
    tf.saved_model.save(module, tmp, signatures={SIGNATURE_KEY: signature})
    with open(os.path.join(tmp, 'film_export.json'), 'w') as f:
      json.dump({'config': model.config.to_dict(), 'num_parameters': count_parameters(model),
                 'signature': SIGNATURE_KEY,
                 'inputs': {**_INPUTS, **(_PRIOR_INPUTS if prior else {})},
                 'outputs': {'image': '[B,H,W,3] float32 [0,1] (clipped)'}}, f, indent=1)
  logging.info('Exported %s', output_dir)
  return output_dir
