"""U-Net-like fusion decoder: aligned (warped) pyramids -> the in-between RGB frame.

The coarsest level is passed through unchanged; each finer level nearest-upsamples the coarser
result, applies a 2x2 conv, concatenates the level's aligned features and applies two 3x3 convs.
Channels double per level down to `specialized_levels`, then stay constant (FILM, Sec. 3).

The upsample + 2x2 conv runs as four convs on the coarse map, one per output phase
(`upsample_conv2x2`): the same function with 9 instead of 16 kernel taps per coarse pixel and
without the 4x larger upsampled map in memory.
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
      # Aligned levels are exactly twice the next coarser one (FilmNet pads to alignment).
      net = upsample_conv2x2(net, self.convs[i][0])
      net = tf.concat([pyramid[i], net], axis=-1)
      net = self.convs[i][1](net)
      net = self.convs[i][2](net)
    return self.output_conv(net)


def upsample_conv2x2(net: tf.Tensor, conv: Conv2D) -> tf.Tensor:
  """`conv(nearest_resize(net, 2x))` for a 2x2 `conv` without activation: [B,h,w,C] ->
  [B,2h,2w,out], computed on the coarse map.

  A `same` 2x2 conv reads rows Y, Y+1 (zero below the last) of the upsampled map, i.e. coarse
  row i twice for Y = 2i and rows i, i+1 for Y = 2i+1; likewise columns. So output phase (a, c)
  is a conv of the coarse map with the kernel's taps summed along each axis whose phase is 0
  (1x1, 1x2, 2x1 and the 2x2 kernel itself); `depth_to_space` interleaves the phases.
  """
  if conv.activation is not None or conv.kernel_shape[:2] != (2, 2):
    raise ValueError('upsample_conv2x2 needs a 2x2 conv without activation')
  kernel = conv.kernel
  rows = tf.reduce_sum(kernel, axis=0, keepdims=True)  # [1,2,C,O]: row phase 0
  cols = tf.reduce_sum(kernel, axis=1, keepdims=True)  # [2,1,C,O]: column phase 0
  both = tf.reduce_sum(rows, axis=1, keepdims=True)    # [1,1,C,O]
  # Phases (0,0), (0,1), (1,0), (1,1); taps summed in float32, then cast to the input's dtype.
  out = [tf.nn.conv2d(net, tf.cast(k, net.dtype), strides=1, padding='SAME')
         for k in (both, rows, cols, kernel)]
  out = tf.nn.depth_to_space(tf.concat(out, axis=-1), 2)
  return tf.nn.bias_add(out, tf.cast(conv.bias, net.dtype))


def _keras_name(index: int) -> str:
  return 'conv2d' if index == 0 else f'conv2d_{index}'
