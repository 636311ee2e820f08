"""Scale-agnostic feature extractor: one cascaded sub-tree, shared across all pyramid levels.

The sub-tree turns an image into `sub_levels` feature maps of decreasing resolution. It runs on
every level of the image pyramid with the *same weights*; the features of pyramid level `i` are
the concatenation of sub-level `j` of the sub-tree started at level `i - j` (all at the same
resolution), so coarse levels see the same kind of features as fine ones (FILM, Sec. 3).
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from film.net.config import FilmConfig
from film.net.conv import Conv2D
from film.net.pyramid import Pyramid, downsample


def feature_channels(config: FilmConfig, level: int) -> int:
  """Channels of the feature pyramid at `level`: sum of the sub-levels that reach it."""
  return sum(config.filters << j for j in range(min(level + 1, config.sub_levels)))


class SubTreeExtractor(tf.Module):
  """Two 3x3 convs per sub-level, doubling the channels and halving the size each sub-level."""

  def __init__(self, name: str, config: FilmConfig):
    super().__init__(name=name)
    self.convs = []
    in_channels = 3
    with self.name_scope:
      for i in range(config.sub_levels):
        out_channels = config.filters << i
        self.convs.append(Conv2D(in_channels, out_channels, 3, name=f'cfeat_conv_{2 * i}'))
        self.convs.append(Conv2D(out_channels, out_channels, 3, name=f'cfeat_conv_{2 * i + 1}'))
        in_channels = out_channels

  def __call__(self, image: tf.Tensor, n: int) -> Pyramid:
    """[B,H,W,3] -> `n` feature maps, the i-th [B,H/2^i,W/2^i,filters*2^i]."""
    head = image
    pyramid = []
    for i in range(n):
      head = self.convs[2 * i](head)
      head = self.convs[2 * i + 1](head)
      pyramid.append(head)
      if i < n - 1:
        head = downsample(head)
    return pyramid


class FeatureExtractor(tf.Module):
  """Image pyramid -> feature pyramid (level i has `feature_channels(config, i)` channels)."""

  def __init__(self, name: str, config: FilmConfig):
    super().__init__(name=name)
    self.sub_levels = config.sub_levels
    with self.name_scope:
      self.extract_sublevels = SubTreeExtractor('sub_extractor', config)

  def __call__(self, image_pyramid: Sequence[tf.Tensor]) -> Pyramid:
    levels = len(image_pyramid)
    sub_pyramids = [
        self.extract_sublevels(image_pyramid[i], min(levels - i, self.sub_levels))
        for i in range(levels)
    ]
    feature_pyramid = []
    for i in range(levels):
      parts = [sub_pyramids[i - j][j] for j in range(min(i + 1, self.sub_levels))]
      feature_pyramid.append(tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0])
    return feature_pyramid
