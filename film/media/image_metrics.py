"""PSNR, SSIM and L1 of an interpolated frame against its ground truth: the one definition.

Used by `film-eval` (`film.eval.metrics`, numpy in and out), by the evaluation during
training (`film.training.evaluation`) and by the 'psnr' / 'ssim' test losses
(`film.training.losses`). FILM's evaluation semantics: the prediction is clipped to [0,1]
(the network never clips its own output), then per example

* `psnr`: `tf.image.psnr(max_val=1)`, `10 log10(1 / MSE)` over all pixels and channels (dB;
  `inf` for identical frames);
* `ssim`: `tf.image.ssim(max_val=1, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)` on the
  RGB frame, averaged over the 'valid' 11x11 windows and the three channels;
* `l1`: mean absolute difference.

Inputs are `[B,H,W,3]` tensors or arrays in [0,1]; results are `[B]` float32 tensors.
"""
from __future__ import annotations

from typing import Any

import tensorflow as tf

# FILM's SSIM parameters (Wang et al. 2004 defaults).
SSIM_FILTER_SIZE = 11
SSIM_FILTER_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _prepare(prediction: Any, target: Any) -> tuple[tf.Tensor, tf.Tensor]:
  prediction = tf.clip_by_value(tf.cast(prediction, tf.float32), 0.0, 1.0)
  return prediction, tf.cast(target, tf.float32)


def psnr(prediction: Any, target: Any) -> tf.Tensor:
  """`[B]` PSNR (dB) of the clipped `prediction` against `target`."""
  prediction, target = _prepare(prediction, target)
  return tf.image.psnr(prediction, target, max_val=1.0)


def ssim(prediction: Any, target: Any) -> tf.Tensor:
  """`[B]` SSIM (FILM's settings) of the clipped `prediction` against `target`."""
  prediction, target = _prepare(prediction, target)
  return tf.image.ssim(prediction, target, max_val=1.0, filter_size=SSIM_FILTER_SIZE,
                       filter_sigma=SSIM_FILTER_SIGMA, k1=SSIM_K1, k2=SSIM_K2)


def l1(prediction: Any, target: Any) -> tf.Tensor:
  """`[B]` mean absolute difference of the clipped `prediction` and `target`."""
  prediction, target = _prepare(prediction, target)
  return tf.reduce_mean(tf.abs(prediction - target), axis=[1, 2, 3])


def image_metrics(prediction: Any, target: Any) -> dict[str, tf.Tensor]:
  """`{'psnr', 'ssim', 'l1'}`, each `[B]` (see the module docstring)."""
  return {'psnr': psnr(prediction, target), 'ssim': ssim(prediction, target),
          'l1': l1(prediction, target)}
