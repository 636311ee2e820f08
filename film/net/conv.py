"""A 2-D convolution as a plain `tf.Module` (Keras' Conv2D semantics, explicit channel counts).

Plain modules keep the network exportable with `tf.saved_model.save`, checkpointable with
`tf.train.Checkpoint` and free of Keras-3 functional-model quirks; the math is the same as
`keras.layers.Conv2D(padding='same')` with Glorot-uniform kernels and zero biases.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import tensorflow as tf


def leaky_relu(x: tf.Tensor) -> tf.Tensor:
  """FILM's activation: leaky ReLU with slope 0.2."""
  return tf.nn.leaky_relu(x, alpha=0.2)


class Conv2D(tf.Module):
  """`same`-padded stride-1 convolution with bias and optional activation.

  Weights are float32 variables `kernel` [k,k,in,out] and `bias` [out]; when the input is
  bfloat16/float16 the weights are cast to it (mixed precision).
  """

  def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
               activation: Optional[Callable[[tf.Tensor], tf.Tensor]] = leaky_relu,
               name: Optional[str] = None, seed: Optional[int] = None):
    super().__init__(name=name)
    shape = (kernel_size, kernel_size, int(in_channels), int(out_channels))
    fan_in = kernel_size * kernel_size * shape[2]
    fan_out = kernel_size * kernel_size * shape[3]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    rng = np.random.default_rng(seed)
    with self.name_scope:
      self.kernel = tf.Variable(
          rng.uniform(-limit, limit, size=shape).astype(np.float32), name='kernel')
      self.bias = tf.Variable(np.zeros(shape[3], np.float32), name='bias')
    self.activation = activation

  @property
  def kernel_shape(self) -> tuple[int, ...]:
    return tuple(self.kernel.shape.as_list())

  def __call__(self, x: tf.Tensor) -> tf.Tensor:
    """[B,H,W,in] -> [B,H,W,out]."""
    kernel, bias = self.kernel, self.bias
    if x.dtype != kernel.dtype:
      kernel, bias = tf.cast(kernel, x.dtype), tf.cast(bias, x.dtype)
    y = tf.nn.conv2d(x, kernel, strides=1, padding='SAME')
    y = tf.nn.bias_add(y, bias)
    return self.activation(y) if self.activation is not None else y
