"""U-Net-like fusion decoder: aligned (warped) pyramids -> the in-between RGB frame.

The coarsest level is passed through unchanged; each finer level nearest-upsamples the coarser
result, applies a 2x2 conv, concatenates the level's aligned features and applies two 3x3 convs.
Channels double per level down to `specialized_levels`, then stay constant (FILM, Sec. 3).
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from film.net.config import FilmConfig
from film.net.conv import Conv2D
from film.net.feature_extractor import feature_channels


def aligned_channels(config: FilmConfig, level: int) -> int:
  """Channels of the fusion input at `level`: two warped (image+features) maps and two flows."""
  return 2 * (3 + feature_channels(config, level)) + 2 * 2


def fusion_filters(config: FilmConfig, level: int) -> int:
  m = config.specialized_levels
  return (config.filters << level) if level < m else (config.filters << m)


class Fusion(tf.Module):
  """Aligned pyramid (`fusion_pyramid_levels` levels, finest first) -> [B,H,W,3] image."""

  def __init__(self, name: str, config: FilmConfig):
    super().__init__(name=name)
    self.levels = config.fusion_pyramid_levels
    self.convs: list[list[Conv2D]] = []
    # Convs are created fine to coarse so that Keras' creation-order names (conv2d, conv2d_1,
    # ...) match FILM's checkpoints: level i owns conv2d_{3i}, conv2d_{3i+1}, conv2d_{3i+2}.
    with self.name_scope:
      for i in range(self.levels - 1):
        filters = fusion_filters(config, i)
        coarser = (aligned_channels(config, i + 1) if i == self.levels - 2
                   else fusion_filters(config, i + 1))
        self.convs.append([
            Conv2D(coarser, filters, 2, activation=None, name=_keras_name(3 * i)),
            Conv2D(aligned_channels(config, i) + filters, filters, 3,
                   name=_keras_name(3 * i + 1)),
            Conv2D(filters, filters, 3, name=_keras_name(3 * i + 2)),
        ])
      self.output_conv = Conv2D(fusion_filters(config, 0), 3, 1, activation=None,
                                name=_keras_name(3 * (self.levels - 1)))

  def __call__(self, pyramid: Sequence[tf.Tensor]) -> tf.Tensor:
    if len(pyramid) != self.levels:
      raise ValueError(f'Fusion expects {self.levels} pyramid levels, got {len(pyramid)}')
    net = pyramid[-1]
    for i in reversed(range(self.levels - 1)):
      net = tf.image.resize(net, tf.shape(pyramid[i])[1:3],
                            method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
      net = self.convs[i][0](net)
      net = tf.concat([pyramid[i], net], axis=-1)
      net = self.convs[i][1](net)
      net = self.convs[i][2](net)
    return self.output_conv(net)


def _keras_name(index: int) -> str:
  return 'conv2d' if index == 0 else f'conv2d_{index}'
