"""LPIPS v0.1 perceptual distance (Zhang et al., CVPR 2018) in plain TensorFlow ops.

For images `a`, `b` (`[B,H,W,3]` float32 in [0,1]):

1. map to [-1,1] (`2x - 1`) and apply the LPIPS scaling layer `(x - shift) / scale` with
   `shift = (-0.030, -0.088, -0.188)`, `scale = (0.458, 0.448, 0.450)`;
2. take backbone activations at five layers: VGG-16 relu1_2, relu2_2, relu3_3, relu4_3,
   relu5_3 or AlexNet relu1..relu5 (torchvision geometry, see `film.training.pretrained`);
3. unit-normalise every feature vector over channels (`f / (||f||_2 + 1e-10)`);
4. squared difference, weighted sum over channels by the non-negative linear head of that
   layer (a 1x1 conv without bias), mean over the layer's spatial positions;
5. sum over the five layers -> `[B]` distances (0 for identical images).

Weights come from `film.training.pretrained` (beside the perceptual losses that share them;
fetch with `film-fetch-weights --output_dir DIR`).
Works for any H, W >= 16 (VGG) or >= 31 (AlexNet); no resizing is done.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from film.training import backbones
from film.training import pretrained

LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
VGG_LAYERS = ('conv1_2', 'conv2_2', 'conv3_3', 'conv4_3', 'conv5_3')  # = relu1_2 ... relu5_3
MIN_SIZE = {'vgg': 16, 'alex': 31}
_EPS = 1e-10


def _unit_normalise(f: tf.Tensor) -> tf.Tensor:
  """`f / (||f||_2 + 1e-10)` over channels; the sqrt is floored at 1e-15 so all-zero feature
  vectors (common after ReLU) have finite gradients (values change by < 1e-5 relative)."""
  norm = tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(f), axis=-1, keepdims=True), 1e-30))
  return f / (norm + _EPS)


class LPIPS:
  """LPIPS v0.1 distance with the VGG-16 or AlexNet backbone and the published linear heads.

  Example:
    metric = LPIPS('alex')
    d = metric(a, b)  # np.ndarray [B], float32
  """

  def __init__(self, net: str = 'vgg', weights_dir: str | os.PathLike[str] | None = None):
    """Loads (SHA-checked) weights from `weights_dir` (default `$FILM_WEIGHTS_DIR`, else
    `~/.cache/film/weights`); raises `film.training.pretrained.MissingWeightsError` if absent."""
    if net not in MIN_SIZE:
      raise ValueError(f"net must be 'vgg' or 'alex', got {net!r}")
    load = pretrained.load_vgg16 if net == 'vgg' else pretrained.load_alexnet
    backbone = load(weights_dir)
    self._init(net, backbone, pretrained.load_lpips_heads(weights_dir, net))

  @classmethod
  def from_params(cls, net: str, backbone: Mapping[str, np.ndarray],
                  heads: Sequence[np.ndarray]) -> 'LPIPS':
    """Builds the metric from explicit parameters (same layout as the `film.training.pretrained`
    loaders; channel counts may be anything consistent), e.g. for tests."""
    if net not in MIN_SIZE:
      raise ValueError(f"net must be 'vgg' or 'alex', got {net!r}")
    metric = cls.__new__(cls)
    metric._init(net, backbone, heads)
    return metric

  def _init(self, net: str, backbone: Mapping[str, np.ndarray],
            heads: Sequence[np.ndarray]) -> None:
    if len(heads) != 5:
      raise ValueError(f'expected 5 linear heads, got {len(heads)}')
    if any(np.any(np.asarray(h) < 0) for h in heads):
      raise ValueError('LPIPS linear heads must be non-negative')
    self.net = net
    self._params = backbones.as_constants(backbone)
    self._heads = [tf.constant(np.asarray(h, np.float32).reshape(-1)) for h in heads]
    spec = tf.TensorSpec([None, None, None, 3], tf.float32)
    self._compiled = tf.function(self.distance, input_signature=[spec, spec],
                                 reduce_retracing=True)

  def features(self, x: tf.Tensor) -> list[tf.Tensor]:
    """Backbone activations at the five LPIPS layers for `x` `[B,H,W,3]` in [0,1]."""
    x = (2.0 * x - 1.0 - tf.constant(LPIPS_SHIFT)) / tf.constant(LPIPS_SCALE)
    if self.net == 'vgg':
      feats = backbones.vgg_features(x, self._params, VGG_LAYERS,
                                      layers=backbones.VGG16_LAYERS, pool='max')
      return [feats[name] for name in VGG_LAYERS]
    return backbones.alexnet_features(x, self._params)

  def distance(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Differentiable LPIPS: `a`, `b` `[B,H,W,3]` float32 in [0,1] -> `[B]` float32 >= 0."""
    total = 0.0
    for fa, fb, head in zip(self.features(a), self.features(b), self._heads):
      na, nb = _unit_normalise(fa), _unit_normalise(fb)
      per_pixel = tf.reduce_sum(tf.square(na - nb) * head, axis=-1)  # [B,h,w]
      total += tf.reduce_mean(per_pixel, axis=[1, 2])
    return total

  def __call__(self, a: np.ndarray | tf.Tensor, b: np.ndarray | tf.Tensor) -> np.ndarray:
    """LPIPS distances `[B]` (numpy float32) between `a` and `b`, `[B,H,W,3]` in [0,1]."""
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    if a.shape.rank != 4 or a.shape[-1] != 3 or a.shape != b.shape:
      raise ValueError(
          f'expected two [B,H,W,3] images of equal shape, got {a.shape} and {b.shape}')
    if min(a.shape[1], a.shape[2]) < MIN_SIZE[self.net]:
      raise ValueError(f'LPIPS-{self.net} needs H, W >= {MIN_SIZE[self.net]}, got {a.shape}')
    return self._compiled(a, b).numpy()
