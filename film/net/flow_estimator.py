"""Bi-directional residual flow estimator, coarse to fine (FILM, Sec. 3).

At each level the flow from the coarser level is upsampled (x2 size, x2 magnitude), the second
feature map is warped with it, and a small CNN predicts the residual flow from the first features
and the warped second features. The finest `specialized_levels` have their own CNN; all deeper
levels share one.

With a classical-flow prior (`FilmConfig.flow_prior`, not in FILM) the estimator starts from the
prior's pyramid instead of zero and its residuals are scaled by learned per-level gates that
start at 0 (see `PyramidFlowEstimator.__call__`).
"""
from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from film.net.config import FilmConfig
from film.net.conv import Conv2D
from film.net.feature_extractor import feature_channels
from film.net.pyramid import Pyramid, upsample_flow
from film.net.warp import warp


class FlowEstimator(tf.Module):
  """`num_convs` 3x3 convs, a 1x1 conv to half the channels, and a linear 1x1 conv to 2 channels."""

  def __init__(self, name: str, in_channels: int, num_convs: int, num_filters: int):
    super().__init__(name=name)
    self.convs = []
    with self.name_scope:
      channels = in_channels
      for i in range(num_convs):
        self.convs.append(Conv2D(channels, num_filters, 3, name=f'conv_{i}'))
        channels = num_filters
      self.convs.append(Conv2D(channels, num_filters // 2, 1, name=f'conv_{num_convs}'))
      # No activation on the flow output (FILM found bounding it with e.g. sigmoid worse).
      self.convs.append(Conv2D(num_filters // 2, 2, 1, activation=None,
                               name=f'conv_{num_convs + 1}'))

  def __call__(self, features_a: tf.Tensor, features_b: tf.Tensor) -> tf.Tensor:
    """Two [B,h,w,C] feature maps -> [B,h,w,2] (residual) flow."""
    net = tf.concat([features_a, features_b], axis=-1)
    for conv in self.convs:
      net = conv(net)
    return net


class PyramidFlowEstimator(tf.Module):
  """Feature pyramids of two frames -> residual flow pyramid (finest first) from a to b."""

  def __init__(self, name: str, config: FilmConfig):
    super().__init__(name=name)
    self.predictors: list[FlowEstimator] = []
    with self.name_scope:
      for i in range(config.specialized_levels):
        self.predictors.append(FlowEstimator(
            f'flow_predictor_{i}', 2 * feature_channels(config, i),
            config.flow_convs[i], config.flow_filters[i]))
      # The shared estimator runs on the deeper levels, which all have the same width.
      shared_channels = 2 * feature_channels(config, config.pyramid_levels - 1)
      if config.pyramid_levels > config.specialized_levels:
        self.shared = FlowEstimator('flow_predictor_shared', shared_channels,
                                    config.flow_convs[-1], config.flow_filters[-1])
        self.predictors += [self.shared] * (config.pyramid_levels - config.specialized_levels)
      self.prior_levels = config.flow_prior_levels
      if config.has_flow_prior:
        # One gate per pyramid level (index = level, finest 0); 0 = trust the prior fully.
        self.prior_gate = tf.Variable(tf.zeros([config.pyramid_levels]), name='prior_gate')

  def __call__(self, pyramid_a: Sequence[tf.Tensor], pyramid_b: Sequence[tf.Tensor],
               prior: Optional[Sequence[tf.Tensor]] = None) -> Pyramid:
    """Residual flow pyramid (finest first, float32) from a to b.

    Args:
      pyramid_a, pyramid_b: feature pyramids [B,h,w,C] (finest first).
      prior: with a flow-prior model, the prior flow pyramid a->b [B,h,w,2] float32 (pixels of
        each level, same levels as the features); None for FILM models. With `flow_scale` < 1
        the pyramids start at a coarser level and are treated like a smaller image's, as in
        FILM (predictor and gate i serve the i-th level given).
    """
    if prior is not None:
      return self._with_prior(pyramid_a, pyramid_b, prior)
    levels = len(pyramid_a)
    # Flows are accumulated in float32 even when features are bfloat16 (sub-pixel precision).
    flow = tf.cast(self.predictors[levels - 1](pyramid_a[-1], pyramid_b[-1]), tf.float32)
    residuals = [flow]
    for i in reversed(range(levels - 1)):
      flow = upsample_flow(flow, tf.shape(pyramid_a[i])[1:3])
      warped_b = warp(pyramid_b[i], flow)
      residual = tf.cast(self.predictors[i](pyramid_a[i], warped_b), tf.float32)
      residuals.append(residual)
      flow = residual + flow
    return list(reversed(residuals))

  def _with_prior(self, pyramid_a: Sequence[tf.Tensor], pyramid_b: Sequence[tf.Tensor],
                  prior: Sequence[tf.Tensor]) -> Pyramid:
    """Coarse to fine from the prior. With `prior_levels == 'all'` level i starts from
    `up(flow[i+1]) + prior[i] - up(prior[i+1])` (the coarser correction plus the prior's own
    detail) and adds `gate[i] * residual`; with 'coarsest' only the coarsest level starts from
    the prior (gated) and the finer ones refine as FILM does. Returned as residuals whose
    coarse-to-fine sum (`flow_pyramid_synthesis`) is the flow pyramid."""
    levels = len(pyramid_a)
    gate = lambda level: self.prior_gate[level]
    flow = prior[-1]
    residual = tf.cast(self.predictors[levels - 1](
        pyramid_a[-1], warp(pyramid_b[-1], flow)), tf.float32)
    flow = flow + gate(levels - 1) * residual
    residuals = [flow]
    for i in reversed(range(levels - 1)):
      size = tf.shape(pyramid_a[i])[1:3]
      upsampled = upsample_flow(flow, size)
      start = upsampled
      if self.prior_levels == 'all':
        start = upsampled + (prior[i] - upsample_flow(prior[i + 1], size))
      residual = tf.cast(self.predictors[i](pyramid_a[i], warp(pyramid_b[i], start)), tf.float32)
      if self.prior_levels == 'all':
        residual = gate(i) * residual
      residuals.append(start - upsampled + residual)
      flow = start + residual
    return list(reversed(residuals))
