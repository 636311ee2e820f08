"""The FILM network: extract -> estimate flow -> warp to time t -> fuse (FILM, Reda et al. 2022)."""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

from film.config import FilmConfig
from film.feature_extractor import FeatureExtractor
from film.flow_estimator import PyramidFlowEstimator
from film.fusion import Fusion
from film.padding import crop_to_box, pad_to_alignment
from film import pyramid as pyr


class FilmNet(tf.Module):
  """Frame interpolation network with FILM's architecture and variable names.

  Call with `x0, x1` [B,H,W,3] float32 in [0,1] (any H, W: padded internally by mirror
  reflection to a multiple of `config.alignment`, cropped back) and `time` [B,1] in [0,1].
  Returns a dict with `image` [B,H,W,3] float32 (not clipped, as FILM; with
  `config.residual_fusion` the decoder output plus `(1-t) x0_warped + t x1_warped`), plus with
  `aux_outputs=True`: `x0_warped`, `x1_warped` [B,H,W,3], `forward_flow` (x0->x1) and
  `backward_flow` (x1->x0) [B,H,W,2] at full resolution before the time scaling, and the
  (padded) `forward_flow_pyramid`, `backward_flow_pyramid`, residual flow pyramids.
  """

  def __init__(self, config: FilmConfig = FilmConfig(), name: str = 'film_net'):
    super().__init__(name=name)
    self.config = config
    # Variables are named like FILM's Keras layers: feat_net/..., predict_flow/..., fusion/...
    self.feat_net = FeatureExtractor('feat_net', config)
    self.predict_flow = PyramidFlowEstimator('predict_flow', config)
    self.fusion = Fusion('fusion', config)

  def extract(self, x: tf.Tensor, compute_dtype: Optional[tf.DType] = None) -> dict:
    """Per-frame work, reusable across interpolations: pads `x` [B,H,W,3] and builds its
    image pyramid and scale-agnostic feature pyramid.

    Returns {'image_pyramid', 'feature_pyramid': lists (finest first), 'box': crop box [4]}.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    x, box = pad_to_alignment(x, self.config.alignment)
    if compute_dtype is not None:
      x = tf.cast(x, compute_dtype)
    image_pyramid = pyr.build_image_pyramid(x, self.config.pyramid_levels)
    return {'image_pyramid': image_pyramid, 'feature_pyramid': self.feat_net(image_pyramid),
            'box': box}

  def interpolate_features(self, f0: dict, f1: dict, time: tf.Tensor,
                           aux_outputs: bool = False) -> dict[str, tf.Tensor]:
    """The pairwise part: flows, warping to `time` [B,1] and fusion, from two `extract` results."""
    config = self.config
    time = tf.reshape(tf.cast(time, tf.float32), [-1])
    image_pyramids = [f0['image_pyramid'], f1['image_pyramid']]
    feature_pyramids = [f0['feature_pyramid'], f1['feature_pyramid']]
    box = f0['box']

    # Bi-directional residual flows, accumulated into flow pyramids at the fused levels.
    forward_residuals = self.predict_flow(feature_pyramids[0], feature_pyramids[1])
    backward_residuals = self.predict_flow(feature_pyramids[1], feature_pyramids[0])
    levels = config.fusion_pyramid_levels
    forward_flows = pyr.flow_pyramid_synthesis(forward_residuals)[:levels]
    backward_flows = pyr.flow_pyramid_synthesis(backward_residuals)[:levels]

    # Flows from time t back to each frame (linear motion), see FilmConfig.time_flows.
    if config.time_flows == 'both':
      cross = time * (1.0 - time)
      backward_flows_t = pyr.add_pyramids(pyr.multiply_pyramid(backward_flows, time * time),
                                          pyr.multiply_pyramid(forward_flows, -cross))
      forward_flows_t = pyr.add_pyramids(
          pyr.multiply_pyramid(forward_flows, (1.0 - time) * (1.0 - time)),
          pyr.multiply_pyramid(backward_flows, -cross))
    else:  # FILM: t*(1->0) and (1-t)*(0->1).
      backward_flows_t = pyr.multiply_pyramid(backward_flows, time)
      forward_flows_t = pyr.multiply_pyramid(forward_flows, 1.0 - time)

    # Backward-warp image+feature pyramids of both frames to time t.
    to_warp = [pyr.concatenate_pyramids(image_pyramids[k][:levels], feature_pyramids[k][:levels])
               for k in (0, 1)]
    warped0 = pyr.pyramid_warp(to_warp[0], backward_flows_t)
    warped1 = pyr.pyramid_warp(to_warp[1], forward_flows_t)

    # Fuse the aligned pyramids (warped frames and the flows used) into the frame at t.
    aligned = pyr.concatenate_pyramids(warped0, warped1)
    aligned = pyr.concatenate_pyramids(aligned, backward_flows_t)
    aligned = pyr.concatenate_pyramids(aligned, forward_flows_t)
    prediction = tf.cast(self.fusion(aligned)[..., :3], tf.float32)
    if config.residual_fusion:  # Not in FILM: the decoder corrects the blend of warped frames.
      weight = tf.reshape(time, [-1, 1, 1, 1])
      prediction += ((1.0 - weight) * tf.cast(warped0[0][..., :3], tf.float32) +
                     weight * tf.cast(warped1[0][..., :3], tf.float32))

    outputs = {'image': crop_to_box(prediction, box)}
    if aux_outputs:
      outputs.update({
          'x0_warped': tf.cast(crop_to_box(warped0[0][..., :3], box), tf.float32),
          'x1_warped': tf.cast(crop_to_box(warped1[0][..., :3], box), tf.float32),
          'forward_flow': tf.cast(crop_to_box(forward_flows[0], box), tf.float32),
          'backward_flow': tf.cast(crop_to_box(backward_flows[0], box), tf.float32),
          'forward_flow_pyramid': forward_flows,
          'backward_flow_pyramid': backward_flows,
          'forward_residual_flow_pyramid': forward_residuals,
          'backward_residual_flow_pyramid': backward_residuals,
      })
    return outputs

  def __call__(self, x0: tf.Tensor, x1: tf.Tensor, time: tf.Tensor, aux_outputs: bool = False,
               compute_dtype: Optional[tf.DType] = None) -> dict[str, tf.Tensor]:
    """Interpolates the frame at `time` between `x0` and `x1` (see the class docstring)."""
    return self.interpolate_features(self.extract(x0, compute_dtype),
                                     self.extract(x1, compute_dtype), time, aux_outputs)


def named_variables(model: FilmNet) -> dict[str, tf.Variable]:
  """Variables keyed by FILM's Keras names without ':0', e.g. 'fusion/conv2d_3/kernel'."""
  out = {}
  for v in model.trainable_variables:
    name = v.name[:-2] if v.name.endswith(':0') else v.name
    prefix = model.name + '/'
    if name.startswith(prefix):
      name = name[len(prefix):]
    out[name] = v
  if len(out) != len(model.trainable_variables):
    raise RuntimeError('Duplicate variable names in FilmNet')
  return out


def count_parameters(model: FilmNet) -> int:
  return int(sum(v.shape.num_elements() for v in model.trainable_variables))
