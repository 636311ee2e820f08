"""Image-quality metrics for frame interpolation, swappable by name.

Every metric has one signature::

    metric(prediction, target) -> np.ndarray [B] float64

with `prediction` and `target` `[B,H,W,3]` float32 in [0,1] (NHWC, RGB, full frames). The
prediction is clipped to [0,1] first, as FILM's evaluation does (the reference network never
clips its own output). PSNR and SSIM are `film.media.image_metrics` (FILM's reference semantics:
`tf.image.psnr(max_val=1.0)` and `tf.image.ssim(max_val=1.0, filter_size=11, filter_sigma=1.5,
k1=0.01, k2=0.03)` on the RGB frame), the same functions the evaluation during training uses.
Higher is better for PSNR and SSIM, lower is better for LPIPS.

LPIPS comes from `eval.lpips` (a separate module); `build_metrics` adds it when asked for and
skips it, with one clear log message, when its weights or the module are unavailable.

TensorFlow is imported lazily so that command-line input errors fail fast without loading it.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np
from absl import logging

# Signature shared by all metrics: ([B,H,W,3], [B,H,W,3]) in [0,1] -> [B].
MetricFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Whether a larger value of the metric is better (used by reports to rank methods).
HIGHER_IS_BETTER: Dict[str, bool] = {'psnr': True, 'ssim': True}


def _as_batch(prediction: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Validates and converts a (prediction, target) pair to clipped `[B,H,W,3]` float32 arrays.

  Args:
    prediction: `[B,H,W,3]` or `[H,W,3]` array, any real dtype, nominally in [0,1].
    target: same shape as `prediction`, in [0,1].

  Returns:
    `(prediction, target)`, both `[B,H,W,3]` float32, prediction clipped to [0,1].
  """
  prediction = np.asarray(prediction, dtype=np.float32)
  target = np.asarray(target, dtype=np.float32)
  if prediction.ndim == 3:
    prediction = prediction[None]
  if target.ndim == 3:
    target = target[None]
  if prediction.shape != target.shape or prediction.ndim != 4 or prediction.shape[-1] != 3:
    raise ValueError(f'metrics need two [B,H,W,3] arrays of the same shape, got '
                     f'{prediction.shape} and {target.shape}')
  return np.clip(prediction, 0.0, 1.0), np.clip(target, 0.0, 1.0)


def psnr(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
  """Peak signal-to-noise ratio in dB, `tf.image.psnr(max_val=1.0)` on clipped frames.

  Args:
    prediction: `[B,H,W,3]` float32 in [0,1] (clipped here).
    target: `[B,H,W,3]` float32 in [0,1].

  Returns:
    `[B]` float64: `10 log10(1 / MSE)` over all pixels and channels; `inf` for identical frames.
  """
  from film.media import image_metrics  # pylint: disable=g-import-not-at-top

  prediction, target = _as_batch(prediction, target)
  return image_metrics.psnr(prediction, target).numpy().astype(np.float64)


def ssim(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
  """Structural similarity with FILM's settings, on clipped RGB frames.

  Args:
    prediction: `[B,H,W,3]` float32 in [0,1] (clipped here); H and W must be >= 11.
    target: `[B,H,W,3]` float32 in [0,1].

  Returns:
    `[B]` float64 in [-1,1], mean SSIM over valid 11x11 Gaussian windows and RGB channels.
  """
  from film.media import image_metrics  # pylint: disable=g-import-not-at-top

  prediction, target = _as_batch(prediction, target)
  size = image_metrics.SSIM_FILTER_SIZE
  if min(prediction.shape[1:3]) < size:
    raise ValueError(f'SSIM needs frames of at least {size}x{size} '
                     f'pixels, got {prediction.shape[1]}x{prediction.shape[2]}')
  return image_metrics.ssim(prediction, target).numpy().astype(np.float64)


METRICS: Dict[str, MetricFn] = {'psnr': psnr, 'ssim': ssim}

LPIPS_NETS = ('vgg', 'alex')


def get_metric(name: str) -> MetricFn:
  """Returns the registered metric `name` (see `METRICS`); raises `KeyError` listing choices."""
  if name not in METRICS:
    raise KeyError(f'unknown metric {name!r}; choose from {sorted(METRICS)}')
  return METRICS[name]


def lpips_metric(net: str, weights_dir: Optional[str] = None) -> MetricFn:
  """Builds the LPIPS metric `lpips_<net>` from `eval.lpips` (lower is better).

  Args:
    net: 'vgg' or 'alex'.
    weights_dir: directory holding the LPIPS weights; None lets `eval.lpips` decide (it reads
      `FILM_WEIGHTS_DIR`).

  Returns:
    A `MetricFn` mapping `[B,H,W,3]` pairs in [0,1] to `[B]` LPIPS distances.

  Raises:
    ImportError: `eval.lpips` is not available.
    Any error `eval.lpips.LPIPS` raises when its weights are missing.
  """
  if net not in LPIPS_NETS:
    raise ValueError(f'unknown LPIPS network {net!r}; choose from {list(LPIPS_NETS)}')
  from film.eval.lpips import LPIPS  # pylint: disable=g-import-not-at-top

  model = LPIPS(net=net, weights_dir=weights_dir)

  def metric(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    prediction, target = _as_batch(prediction, target)
    return np.asarray(model(prediction, target), dtype=np.float64).reshape(-1)

  metric.__name__ = f'lpips_{net}'
  return metric


def build_metrics(names: Sequence[str] = ('psnr', 'ssim'),
                  lpips_nets: Sequence[str] = (),
                  lpips_weights_dir: Optional[str] = None) -> Dict[str, MetricFn]:
  """Builds the ordered metric dict used by an evaluation run.

  Args:
    names: registered metric names (see `METRICS`).
    lpips_nets: LPIPS backbones to add as `lpips_<net>`; each one whose weights (or module) are
      missing is skipped with a warning naming the cause and how to fix it.
    lpips_weights_dir: passed to `eval.lpips.LPIPS`.

  Returns:
    `{name: MetricFn}` in the order given, LPIPS metrics last.
  """
  metrics = {name: get_metric(name) for name in names}
  for net in lpips_nets:
    try:
      metrics[f'lpips_{net}'] = lpips_metric(net, lpips_weights_dir)
    except ImportError as error:
      logging.warning('Skipping LPIPS (%s): eval.lpips is not importable (%s).', net, error)
    except Exception as error:  # pylint: disable=broad-except
      # eval.lpips raises its own clear error when the weights are absent; any failure to build
      # an optional metric must not abort the run.
      logging.warning('Skipping LPIPS (%s): %s: %s. Put the weights under FILM_WEIGHTS_DIR (or '
                      'pass --lpips_weights_dir), or use --nolpips to silence this.', net,
                      type(error).__name__, error)
  return metrics


def higher_is_better(metric_name: str) -> bool:
  """True for PSNR/SSIM, False for LPIPS distances."""
  return HIGHER_IS_BETTER.get(metric_name, not metric_name.startswith('lpips'))
