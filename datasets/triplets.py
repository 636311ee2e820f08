"""Turning a stream of frames into training triplets (x0, x_t, x1), with quality filters.

A *window* starts at frame `s` and spans `gap` frames: x0 = frame s, x1 = frame s + gap.
From it come the triplets (x0, frame s+k, x1) at time t = k/gap, either only the middle one
(k = gap/2, t = 0.5; needs an even gap) or, with `multi_time`, every k = 1..gap-1 -- so a
window of gap 4 yields t = 0.25, 0.5, 0.75 and the model learns its `time` input.
Window starts are `stride` frames apart. A window is dropped when, anywhere inside it:

* a scene cut: a gap between consecutive frames that `film.media.scene` calls a cut at
  `scene_cut_threshold` (RGB-histogram distance, the measure inference uses);
* a static or duplicated frame: a gap `film.media.scene` calls a duplicate at `static_threshold`
  (thumbnail difference; nothing to interpolate, or a ground truth that is not really in
  between);
* a black frame: mean brightness (of the `film.media.scene` thumbnail) below `black_threshold`.

A threshold of 0 (or below) turns its filter off. Only `gap + 1` frames are held at a time.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Iterator, Optional

import numpy as np

from film.media import scene
from film.datasets import frames as frames_lib
from film.datasets import schema

KEPT = 'kept'
DROP_SCENE_CUT = 'scene_cut'
DROP_STATIC = 'static'
DROP_BLACK = 'black'


@dataclasses.dataclass(frozen=True)
class WindowOptions:
  """How windows are cut from a clip and which are dropped (see the module docstring).

  `scene_cut_threshold` is lower than inference's 0.25: here a missed cut makes a wrong
  training triplet while a false one only drops a window (within-shot gaps measure <= 0.035).
  """
  gap: int = 2
  stride: int = 1
  multi_time: bool = False
  scene_cut_threshold: float = 0.12
  static_threshold: float = 0.0005
  black_threshold: float = 0.03
  png_compression: int = 3

  def __post_init__(self):
    if self.gap < 2:
      raise frames_lib.InputError(f'gap must be at least 2 (x0 and x1 need a frame between), '
                                  f'got {self.gap}')
    if self.stride < 1:
      raise frames_lib.InputError(f'stride must be at least 1, got {self.stride}')
    if not self.multi_time and self.gap % 2:
      raise frames_lib.InputError(f'gap {self.gap} has no middle frame: use an even gap or '
                                  'multi_time')
    if not 0 <= self.png_compression <= 9:
      raise frames_lib.InputError(f'png_compression must be in 0..9, got {self.png_compression}')

  @property
  def offsets(self) -> tuple[int, ...]:
    """Frame offsets k of the ground truth inside a window; t = k / gap."""
    return tuple(range(1, self.gap)) if self.multi_time else (self.gap // 2,)

  def gap_classifier(self) -> scene.GapClassifier:
    """The scene-cut / duplicate detector with these thresholds (<= 0: off)."""
    return scene.GapClassifier(cut_threshold=max(0.0, self.scene_cut_threshold),
                               duplicate_threshold=max(0.0, self.static_threshold))


@dataclasses.dataclass
class _Frame:
  """One buffered frame: pixels, its `film.media.scene` statistics and (lazily) its PNG bytes."""
  index: int
  pixels: np.ndarray
  stats: scene.FrameStats
  gap_to_previous: Optional[str]  # `film.media.scene` decision; None: previous frame not contiguous.
  compression: int
  _png: Optional[bytes] = None

  @property
  def png(self) -> bytes:
    if self._png is None:
      self._png = schema.encode_png(self.pixels, self.compression)
    return self._png


@dataclasses.dataclass(frozen=True)
class Triplet:
  """One record to write: PNG bytes of x0, y (at `time`) and x1, and a name."""
  path: str
  time: float
  x0: bytes
  y: bytes
  x1: bytes

  def serialize(self) -> bytes:
    return schema.make_example(self.x0, self.y, self.x1, self.path, self.time).SerializeToString()


def _window_verdict(window: list[_Frame], options: WindowOptions) -> str:
  """Why a full window is dropped, or KEPT."""
  gaps = [f.gap_to_previous for f in window[1:]]
  if (options.black_threshold > 0 and
      min(f.stats.brightness for f in window) < options.black_threshold):
    return DROP_BLACK
  if scene.CUT in gaps:
    return DROP_SCENE_CUT
  if scene.DUPLICATE in gaps:
    return DROP_STATIC
  return KEPT


def iter_windows(frames: Iterable[tuple[int, np.ndarray]], clip_name: str, options: WindowOptions,
                 first_start: int = 0, end_start: Optional[int] = None,
                 transform: Optional[frames_lib.FrameTransform] = None,
                 ) -> Iterator[tuple[str, list[Triplet]]]:
  """Cuts windows from a stream of frames.

  Args:
    frames: `(index, [H,W,3] uint8)` pairs with increasing, contiguous indices.
    clip_name: prefix of each record's `path`.
    options: window geometry and filters.
    first_start: window starts are `first_start + m * stride`, m = 0, 1, ...
    end_start: windows start before this frame index (None: as long as frames come).
    transform: resize/crop applied to each frame before anything else.

  Yields:
    `(verdict, triplets)` per complete window: verdict is KEPT (with its triplets) or the
    reason it was dropped (with no triplets).
  """
  buffer: collections.deque[_Frame] = collections.deque(maxlen=options.gap + 1)
  classifier = options.gap_classifier()
  for index, pixels in frames:
    if transform is not None and not transform.is_identity:
      pixels = transform(pixels)
    stats = scene.frame_stats(pixels)
    previous = buffer[-1] if buffer else None
    gap = (classifier.classify(previous.stats, stats)
           if previous is not None and previous.index == index - 1 else None)
    if previous is not None and previous.index != index - 1:
      buffer.clear()
    buffer.append(_Frame(index, pixels, stats, gap, options.png_compression))
    if len(buffer) < options.gap + 1:
      continue
    start = buffer[0].index
    if end_start is not None and start >= end_start:
      return
    if start < first_start or (start - first_start) % options.stride:
      continue
    window = list(buffer)
    verdict = _window_verdict(window, options)
    if verdict != KEPT:
      yield verdict, []
      continue
    triplets = [
        Triplet(path=f'{clip_name}/{start:06d}_t{k}of{options.gap}', time=k / options.gap,
                x0=window[0].png, y=window[k].png, x1=window[-1].png)
        for k in options.offsets
    ]
    yield KEPT, triplets
