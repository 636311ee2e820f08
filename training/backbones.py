"""VGG-16 / VGG-19 / AlexNet forward passes in plain `tf.nn` ops on constant (frozen) weights.

The parameters are the flat dicts `film.training.pretrained` loads (`{'conv1_1/kernel':
[kh,kw,Cin,Cout], 'conv1_1/bias': [Cout], ...}`); `as_constants` turns them into `tf.constant`s
(never trainable variables). The passes work on NHWC tensors and follow PyTorch/torchvision
semantics exactly where it matters (explicit padding, floor-mode pooling). Users: the perceptual
losses (`training/perceptual_losses.py`) and LPIPS (`eval/lpips.py`).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

# Layer sequences ('convX_Y' = conv + ReLU, 'poolX' = 2x2 stride-2 pooling).
VGG16_LAYERS: tuple[str, ...] = (
    'conv1_1', 'conv1_2', 'pool1', 'conv2_1', 'conv2_2', 'pool2',
    'conv3_1', 'conv3_2', 'conv3_3', 'pool3', 'conv4_1', 'conv4_2', 'conv4_3', 'pool4',
    'conv5_1', 'conv5_2', 'conv5_3')
VGG19_LAYERS: tuple[str, ...] = (
    'conv1_1', 'conv1_2', 'pool1', 'conv2_1', 'conv2_2', 'pool2',
    'conv3_1', 'conv3_2', 'conv3_3', 'conv3_4', 'pool3',
    'conv4_1', 'conv4_2', 'conv4_3', 'conv4_4', 'pool4',
    'conv5_1', 'conv5_2', 'conv5_3', 'conv5_4')
ALEXNET_LAYERS: tuple[str, ...] = ('conv1', 'conv2', 'conv3', 'conv4', 'conv5')
# torchvision AlexNet `features`: (kernel, stride, padding) per conv; a 3x3 stride-2 max pool
# (no padding, floor mode) follows conv1 and conv2.
_ALEXNET_CONV_GEOMETRY = {'conv1': (11, 4, 2), 'conv2': (5, 1, 2), 'conv3': (3, 1, 1),
                          'conv4': (3, 1, 1), 'conv5': (3, 1, 1)}

# Input normalisations. torchvision: (x - mean) / std on [0,1] RGB. MatConvNet VGG-19 (as
# FILM uses it): 255 * x - mean on [0,255] RGB.
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
MATCONVNET_MEAN_RGB = (123.68, 116.779, 103.939)


def _conv_relu(x, params: Mapping[str, object], name: str, stride: int, pad: int):
  import tensorflow as tf

  y = tf.nn.conv2d(x, params[f'{name}/kernel'], strides=stride,
                   padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]])
  return tf.nn.relu(y + params[f'{name}/bias'])


def as_constants(params: Mapping[str, np.ndarray]) -> dict[str, object]:
  """Converts numpy parameters to `tf.constant`s (frozen; never trainable variables)."""
  import tensorflow as tf

  return {k: tf.constant(np.asarray(v, np.float32)) for k, v in params.items()}


def vgg_features(x, params: Mapping[str, object], outputs: Iterable[str], *,
                 layers: Sequence[str] = VGG19_LAYERS, pool: str = 'max') -> dict[str, object]:
  """Runs VGG conv layers (3x3, stride 1, padding 1, then ReLU) up to the last requested one.

  Args:
    x: `[B,H,W,3]` float32, already normalised for the backbone (see the loaders).
    params: `{'convX_Y/kernel': [3,3,Cin,Cout], 'convX_Y/bias': [Cout]}` (numpy or tf).
    outputs: names of post-ReLU activations to return, e.g. `('conv1_2', 'conv2_2')`.
    layers: the layer sequence (`VGG16_LAYERS` or `VGG19_LAYERS`).
    pool: 'max' = 2x2 stride-2 max pool without padding, floor mode (torchvision);
      'avg_same' = 2x2 stride-2 average pool with TF 'SAME' padding, averaging only valid
      pixels (the reference FILM VGG-19 loss).

  Returns:
    `{name: [B,h,w,C]}` float32; `h = H / 2**k` after k pools (floor or ceil per `pool`).
  """
  import tensorflow as tf

  wanted = set(outputs)
  unknown = wanted - set(layers)
  if unknown:
    raise ValueError(f'unknown VGG layers {sorted(unknown)}; choose from {layers}')
  if pool not in ('max', 'avg_same'):
    raise ValueError(f"pool must be 'max' or 'avg_same', got {pool!r}")
  feats = {}
  for name in layers:
    if not wanted - set(feats):
      break
    if name.startswith('pool'):
      if pool == 'max':
        x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding='VALID')
      else:
        x = tf.nn.avg_pool2d(x, ksize=2, strides=2, padding='SAME')
    else:
      x = _conv_relu(x, params, name, stride=1, pad=1)
    if name in wanted:
      feats[name] = x
  return feats


def alexnet_features(x, params: Mapping[str, object]) -> list[object]:
  """torchvision AlexNet `features` up to relu5, with PyTorch padding/stride semantics.

  conv1 11x11 stride 4 pad 2, ReLU, max pool 3x3 stride 2 (no padding, floor mode);
  conv2 5x5 pad 2, ReLU, same max pool; conv3..conv5 3x3 pad 1, each followed by ReLU.

  Args:
    x: `[B,H,W,3]` float32, already normalised; H, W >= 31 (smaller inputs leave nothing
      for the second pool).
    params: `{'convN/kernel', 'convN/bias'}` for N = 1..5.

  Returns:
    The five post-ReLU activations relu1..relu5, `[B,h_l,w_l,C_l]`.
  """
  import tensorflow as tf

  feats = []
  for name in ALEXNET_LAYERS:
    if name in ('conv2', 'conv3'):
      x = tf.nn.max_pool2d(x, ksize=3, strides=2, padding='VALID')
    kernel, stride, pad = _ALEXNET_CONV_GEOMETRY[name]
    x = _conv_relu(x, params, name, stride=stride, pad=pad)
    feats.append(x)
  return feats
