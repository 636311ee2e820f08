"""The FILM network: extract -> estimate flow -> warp to time t -> fuse (FILM, Reda et al. 2022)."""
from __future__ import annotations

import math
from typing import Optional

import tensorflow as tf

from film.net.config import FilmConfig
from film.net.feature_extractor import FeatureExtractor
from film.net.flow_estimator import PyramidFlowEstimator
from film.net.fusion import Fusion
from film.net.padding import crop_to_box, pad_to_alignment
from film.net import pyramid as pyr
from film.net.pyramid import Pyramid


class FilmNet(tf.Module):
  """Frame interpolation network with FILM's architecture and variable names.

  Call with `x0, x1` [B,H,W,3] float32 in [0,1] (any H, W: padded internally by mirror
  reflection to a multiple of `config.alignment`, cropped back) and `time` [B,1] in [0,1].
  Returns a dict with `image` [B,H,W,3] float32 (not clipped, as FILM; with
  `config.residual_fusion` the decoder output plus `(1-t) x0_warped + t x1_warped`), plus with
  `aux_outputs=True`: `x0_warped`, `x1_warped` [B,H,W,3], `forward_flow` (x0->x1) and
  `backward_flow` (x1->x0) [B,H,W,2] at full resolution before the time scaling, and the
  (padded) `forward_flow_pyramid`, `backward_flow_pyramid`, residual flow pyramids.

  A model with a classical-flow prior (`config.flow_prior = 'dis'`) also needs `prior_flows`:
  {'forward': x0->x1, 'backward': x1->x0} [B,H,W,2] float32 pixel flows at the inputs' size
  (OpenCV DIS, `film.inference.classical_flow.bidirectional_flows`); they are padded like the
  images and pooled into a pyramid (`pyramid.build_flow_pyramid`).
  """

  def __init__(self, config: FilmConfig = FilmConfig(), name: str = 'film_net'):
    super().__init__(name=name)
    self.config = config
    # Variables are named like FILM's Keras layers: feat_net/..., predict_flow/..., fusion/...
    self.feat_net = FeatureExtractor('feat_net', config)
    self.predict_flow = PyramidFlowEstimator('predict_flow', config)
    self.fusion = Fusion('fusion', config)

  def extract(self, x: tf.Tensor, compute_dtype: Optional[tf.DType] = None,
              flow_scale: float = 1.0) -> dict:
    """Per-frame work, reusable across interpolations: pads `x` [B,H,W,3] and builds its
    image pyramid (float32) and scale-agnostic feature pyramid (`compute_dtype`, default
    float32).

    With `flow_scale` < 1 (a power of 1/2) the flows will be estimated on the image
    downscaled by it: the features of that smaller image (its pyramid is this one without the
    finest `flow_levels_skipped(flow_scale)` levels) are added as 'flow_feature_pyramid'.

    Returns {'image_pyramid', 'feature_pyramid': lists (finest first), 'box': crop box [4]
    (+ 'flow_feature_pyramid')}.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    x, box = pad_to_alignment(x, self.config.alignment)
    image_pyramid = pyr.build_image_pyramid(x, self.config.pyramid_levels)
    net_input = image_pyramid
    if compute_dtype is not None:
      net_input = [tf.cast(level, compute_dtype) for level in image_pyramid]
    out = {'image_pyramid': image_pyramid, 'feature_pyramid': self.feat_net(net_input),
           'box': box}
    skip = flow_levels_skipped(flow_scale, self.config)
    if skip:
      out['flow_feature_pyramid'] = self.feat_net(net_input[skip:])
    return out

  def prior_pyramids(self, prior_flows: Optional[dict], skip: int = 0) -> Optional[dict]:
    """The prior's {'forward', 'backward'} flow pyramids for the flow estimator (padded like
    the images, the finest `skip` levels dropped for `flow_scale` < 1); None without a prior.
    Raises ValueError when the model's `flow_prior` and the presence of `prior_flows` disagree."""
    if not self.config.has_flow_prior:
      if prior_flows is not None:
        raise ValueError('this model has no flow prior (flow_prior=none); do not pass prior_flows')
      return None
    if prior_flows is None:
      raise ValueError(f'this model has a {self.config.flow_prior!r} flow prior: pass prior_flows '
                       "{'forward', 'backward'} (film.inference.classical_flow)")
    out = {}
    for name in ('forward', 'backward'):
      flow, _ = pad_to_alignment(tf.convert_to_tensor(prior_flows[name], tf.float32),
                                 self.config.alignment)
      out[name] = pyr.build_flow_pyramid(flow, self.config.pyramid_levels)[skip:]
    return out

  def estimate_flows(self, f0: dict, f1: dict, batched: bool = False,
                     prior_flows: Optional[dict] = None) -> dict[str, Pyramid]:
    """Bi-directional flows from two `extract` results (independent of time, so reusable for
    every t of one pair).

    The estimator runs on (features0, features1) and (features1, features0); `batched` runs
    both directions as one batch of 2B (same result, one call per conv; measured slower on a
    2-core CPU, so off by default). With
    'flow_feature_pyramid' in the inputs (`extract(flow_scale=s)`) the flows are estimated on
    that coarser pyramid and the finest levels are bilinear upsamplings (x2 size and value).

    `prior_flows`: the classical flows of a flow-prior model (see the class docstring).

    Returns float32 pyramids (finest first): 'forward' (x0->x1) and 'backward' (x1->x0) flows
    at the `fusion_pyramid_levels` finest levels, and the estimator's 'forward_residual' /
    'backward_residual' flows.
    """
    key = 'flow_feature_pyramid' if 'flow_feature_pyramid' in f0 else 'feature_pyramid'
    a, b = f0[key], f1[key]
    prior = self.prior_pyramids(prior_flows, self.config.pyramid_levels - len(a))
    if batched:
      n = tf.shape(a[0])[0]
      both_prior = None if prior is None else [
          tf.concat([x, y], 0) for x, y in zip(prior['forward'], prior['backward'])]
      both = self.predict_flow([tf.concat([x, y], 0) for x, y in zip(a, b)],
                               [tf.concat([y, x], 0) for x, y in zip(a, b)], both_prior)
      forward_residuals, backward_residuals = [r[:n] for r in both], [r[n:] for r in both]
    else:
      forward_residuals = self.predict_flow(a, b, None if prior is None else prior['forward'])
      backward_residuals = self.predict_flow(b, a, None if prior is None else prior['backward'])
    flows = {}
    for name, residuals in (('forward', forward_residuals), ('backward', backward_residuals)):
      pyramid = pyr.flow_pyramid_synthesis(residuals)
      for level in reversed(range(self.config.pyramid_levels - len(pyramid))):
        finer = tf.shape(f0['image_pyramid'][level])[1:3]
        pyramid.insert(0, pyr.upsample_flow(pyramid[0], finer))
      flows[name] = pyramid[:self.config.fusion_pyramid_levels]
      flows[name + '_residual'] = residuals
    return flows

  def synthesize(self, f0: dict, f1: dict, flows: dict[str, Pyramid], time: tf.Tensor,
                 aux_outputs: bool = False) -> dict[str, tf.Tensor]:
    """Warps both frames' pyramids to `time` [B,1] with `flows` (`estimate_flows`) and fuses
    them; the warps run in float32, the fusion decoder in the features' dtype."""
    config = self.config
    time = tf.reshape(tf.cast(time, tf.float32), [-1])
    compute_dtype = f0['feature_pyramid'][0].dtype
    box = f0['box']
    forward_flows, backward_flows = flows['forward'], flows['backward']

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

    # Backward-warp image+feature pyramids of both frames to time t (in float32).
    levels = config.fusion_pyramid_levels
    to_warp = [pyr.concatenate_pyramids(f['image_pyramid'][:levels], f['feature_pyramid'][:levels])
               for f in (f0, f1)]
    warped0 = pyr.pyramid_warp(to_warp[0], backward_flows_t)
    warped1 = pyr.pyramid_warp(to_warp[1], forward_flows_t)

    # Fuse the aligned pyramids (warped frames and the flows used) into the frame at t.
    aligned = pyr.concatenate_pyramids(warped0, warped1)
    aligned = pyr.concatenate_pyramids(aligned, backward_flows_t)
    aligned = pyr.concatenate_pyramids(aligned, forward_flows_t)
    aligned = [tf.cast(level, compute_dtype) for level in aligned]
    prediction = tf.cast(self.fusion(aligned)[..., :3], tf.float32)
    if config.residual_fusion:  # Not in FILM: the decoder corrects the blend of warped frames.
      weight = tf.reshape(time, [-1, 1, 1, 1])
      prediction += (1.0 - weight) * warped0[0][..., :3] + weight * warped1[0][..., :3]

    outputs = {'image': crop_to_box(prediction, box)}
    if aux_outputs:
      outputs.update({
          'x0_warped': crop_to_box(warped0[0][..., :3], box),
          'x1_warped': crop_to_box(warped1[0][..., :3], box),
          'forward_flow': crop_to_box(forward_flows[0], box),
          'backward_flow': crop_to_box(backward_flows[0], box),
          'forward_flow_pyramid': forward_flows,
          'backward_flow_pyramid': backward_flows,
          'forward_residual_flow_pyramid': flows['forward_residual'],
          'backward_residual_flow_pyramid': flows['backward_residual'],
      })
    return outputs

  def interpolate_features(self, f0: dict, f1: dict, time: tf.Tensor,
                           aux_outputs: bool = False,
                           prior_flows: Optional[dict] = None) -> dict[str, tf.Tensor]:
    """The pairwise part: flows, warping to `time` [B,1] and fusion, from two `extract` results."""
    return self.synthesize(f0, f1, self.estimate_flows(f0, f1, prior_flows=prior_flows), time,
                           aux_outputs)

  def __call__(self, x0: tf.Tensor, x1: tf.Tensor, time: tf.Tensor, aux_outputs: bool = False,
               compute_dtype: Optional[tf.DType] = None, flow_scale: float = 1.0,
               prior_flows: Optional[dict] = None) -> dict[str, tf.Tensor]:
    """Interpolates the frame at `time` between `x0` and `x1` (see the class docstring)."""
    return self.interpolate_features(self.extract(x0, compute_dtype, flow_scale),
                                     self.extract(x1, compute_dtype, flow_scale), time,
                                     aux_outputs, prior_flows)


def flow_levels_skipped(flow_scale: float, config: FilmConfig) -> int:
  """n for `flow_scale` = 2**-n (1 -> 0, 0.5 -> 1, 0.25 -> 2, ...); ValueError unless
  `flow_scale` is such a power with n < pyramid_levels."""
  n = round(-math.log2(flow_scale)) if flow_scale > 0 else -1
  if n < 0 or n >= config.pyramid_levels or not math.isclose(flow_scale, 2.0 ** -n):
    raise ValueError(f'flow_scale must be 1, 0.5, 0.25, ... (2**-n with n < '
                     f'{config.pyramid_levels}), got {flow_scale}')
  return n


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
