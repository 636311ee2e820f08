"""Scene cuts and duplicate frames: the one detector, for inference and for dataset creation.

Each frame is summarised once (`frame_stats`): a 64-pixel-high grayscale thumbnail (area
averaged) and its normalised RGB histograms (16 bins per channel). Two measures compare a gap
between two frames:

* `duplicate_distance`: mean absolute difference of the thumbnails, in [0,1]. Near 0 for the
  same picture (re-encoding noise averages out in the thumbnail).
* `cut_distance`: 1 - intersection of the RGB histograms, averaged over the channels, in
  [0,1]. Histograms ignore where things are, so even large motion within one shot keeps the
  distance low (measured 0.003-0.035 on the DAVIS large-motion pairs, Middlebury, UCF101
  triplets and consecutive frames of car-turn.mp4), while pairs of unrelated shots (UCF101 vs
  UCF101/Middlebury) measured 0.20-0.78, median about 0.4. A thumbnail difference would call
  large motion a cut (notes/inference.md, "Scene cuts").

`GapClassifier(cut_threshold, duplicate_threshold)` decides a gap:
  * 'duplicate' if `duplicate_distance <= duplicate_threshold` (inference default 0.5/255:
    identical up to re-encoding noise): the interpolator repeats the frame instead of running
    the model; dataset creation drops windows holding one (`static_threshold`, nothing to
    interpolate or a ground truth not really in between);
  * 'cut' if `cut_distance >= cut_threshold` (inference default 0.25): the interpolator holds
    the earlier frame until the cut instead of morphing across it (a missed cut is a short
    cross-fade-like morph; a false cut only holds a frame); dataset creation drops the window;
  * 'interpolate' otherwise.
A duplicate threshold of 0 or a cut threshold of 0 or above 1 disables that test.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

INTERPOLATE, DUPLICATE, CUT = 'interpolate', 'duplicate', 'cut'
THUMBNAIL_HEIGHT = 64
HISTOGRAM_BINS = 16
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclasses.dataclass(frozen=True)
class FrameStats:
  """What the measures need of one frame.

  Attributes:
    thumbnail: `[64, w]` float32 grayscale in [0,1] (`w` keeps the aspect ratio).
    histogram: `[3, HISTOGRAM_BINS]` float64, each channel's histogram summing to 1.
  """
  thumbnail: np.ndarray
  histogram: np.ndarray

  @property
  def brightness(self) -> float:
    """Mean gray level in [0,1]."""
    return float(self.thumbnail.mean())


def frame_stats(image: np.ndarray) -> FrameStats:
  """`FrameStats` of an `[H,W,3]` RGB frame, uint8 or float in [0,1]."""
  if image.dtype == np.uint8:
    image = image.astype(np.float32) / 255.0
  h, w = image.shape[:2]
  width = max(1, int(round(w * THUMBNAIL_HEIGHT / h)))
  gray = image.astype(np.float32) @ _LUMA
  thumbnail = cv2.resize(gray, (width, THUMBNAIL_HEIGHT), interpolation=cv2.INTER_AREA)
  histogram = np.stack([
      np.histogram(image[..., c], bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0].astype(np.float64)
      for c in range(3)])
  return FrameStats(thumbnail, histogram / histogram.sum(axis=1, keepdims=True))


def duplicate_distance(a: FrameStats, b: FrameStats) -> float:
  """Mean absolute difference of the two thumbnails, in [0,1]."""
  return float(np.mean(np.abs(a.thumbnail - b.thumbnail)))


def cut_distance(a: FrameStats, b: FrameStats) -> float:
  """1 - histogram intersection, averaged over RGB, in [0,1]."""
  return float(np.mean(1.0 - np.minimum(a.histogram, b.histogram).sum(axis=1)))


def histogram_distance(x0: np.ndarray, x1: np.ndarray) -> float:
  """`cut_distance` of two `[H,W,3]` frames."""
  return cut_distance(frame_stats(x0), frame_stats(x1))


class GapClassifier:
  """Callable `(x0, x1) -> 'interpolate' | 'duplicate' | 'cut'`; counts its decisions.

  `classify(stats0, stats1)` decides on precomputed `FrameStats` (and does not count).
  """

  def __init__(self, cut_threshold: float = 0.25, duplicate_threshold: float = 0.5 / 255):
    if cut_threshold < 0 or duplicate_threshold < 0:
      raise ValueError('scene-cut and duplicate thresholds must be >= 0')
    self.cut_threshold = cut_threshold
    self.duplicate_threshold = duplicate_threshold
    self.counts = {INTERPOLATE: 0, DUPLICATE: 0, CUT: 0}

  def classify(self, a: FrameStats, b: FrameStats) -> str:
    if self.duplicate_threshold > 0 and duplicate_distance(a, b) <= self.duplicate_threshold:
      return DUPLICATE
    if 0 < self.cut_threshold <= 1 and cut_distance(a, b) >= self.cut_threshold:
      return CUT
    return INTERPOLATE

  def __call__(self, x0: np.ndarray, x1: np.ndarray) -> str:
    if x0.shape != x1.shape:
      raise ValueError(f'frame shapes differ: {x0.shape} vs {x1.shape}')
    decision = self.classify(frame_stats(x0), frame_stats(x1))
    self.counts[decision] += 1
    return decision
