"""`Interpolator`: the one inference class that owns padding, tiling, recursion and reuse.

Shared by the `film-interpolate` CLI, the evaluation code and `film.weights.export`:

    interp = Interpolator.from_path('models/film_style')     # or Interpolator(model)
    mid = interp.interpolate(x0, x1, 0.5)                    # [H,W,3] or [B,H,W,3] in [0,1]
    for frame in interp.interpolate_recursively(frames, times_to_interpolate=3):
      ...                                                    # (N-1)*2**3+1 frames, streamed
    for frame in interp.retime(frames, input_fps=24, output_fps=60):
      ...

Images are numpy float32 `[H,W,3]` in [0,1] (see `film/__init__.py`); every output is clipped
to [0,1] (the network itself is unclipped, like FILM), and a clipped mid frame is also what the
recursion feeds back as an input.

**Pyramid reuse.** `FilmNet.extract` (image + feature pyramids of one frame) is computed once
per frame and tile and kept in a byte-bounded cache: an input frame serves both gaps it borders,
and a recursively generated mid frame serves its two child gaps. Entries are released as soon as
their frame can no longer be used; when the cache is full new entries are simply not kept (no
LRU thrashing on the cyclic tile order), so reuse degrades gracefully under a tight memory cap.

**Padding** is done by the model (mirror reflection to a multiple of `config.alignment`).

**Tiling** (`film.inference.tiling`): when a frame has more pixels than `max_tile_pixels`, it is cut into
overlapping tiles (multiples of the alignment, overlap `tile_overlap`, default
`default_overlap(config)`), each interpolated on its own, blended with raised-cosine feathering.
`max_memory_gb` maps to `max_tile_pixels` via `pair_bytes_per_pixel(config)`, a measured figure.

**Arbitrary times** (`retime`, `interpolate_at`): FILM is trained to predict the middle frame
(t=0.5); its `time` input works for other t but is less reliable. `time_mode='recursive'`
(default) snaps each target time to a dyadic time n/2**d: the coarsest one within
`time_tolerance` (10%) of an output frame interval, else the nearest at d = `max_recursion_depth`
(5: at most 1/64 of an input gap off, 0.7 ms at 24 fps); it is reached by recursive midpoints,
computing only the nodes needed (shared between targets of a gap); `'direct'` feeds t to the
network (one evaluation per output frame, batched).

**Speed** (notes/inference.md, "Session 5"): `precision='auto'` runs the convolutions in
bfloat16 on CPUs with native bfloat16 (`film.net.precision`), warps/flows/outputs in float32; the
flows of a pair are estimated once for all its target times (`FilmNet.estimate_flows`, time-free;
both directions in one batch is an option, slower here); `flow_scale` < 1 estimates them on downscaled frames; the
graphs have shape-free signatures (one trace per process) and are traced without AutoGraph.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from film.inference.engine import TIME_MODES, Frame, PairEvaluator
from film.net.config import FilmConfig
from film.weights.defaults import DEFAULT_MODEL_DIR

GapPolicy = Callable[[np.ndarray, np.ndarray], str]
TimesArg = Union[float, Sequence[float], np.ndarray]

def dyadic_numerator(t: float, max_depth: int, tolerance: float = 0.0) -> int:
  """Numerator n of the dyadic time n / 2**max_depth used for `t` in [0,1]: the nearest
  dyadic time of the smallest depth d <= max_depth within `tolerance` of t (depth
  `max_depth` if none is). Fewer levels mean fewer recursive model evaluations."""
  for depth in range(max_depth + 1):
    num = int(round(t * 2 ** depth))
    if abs(num / 2 ** depth - t) <= tolerance or depth == max_depth:
      return num * 2 ** (max_depth - depth)
  raise AssertionError('unreachable')



def recommended_time_mode(path: str) -> str:
  """The time mode a model directory recommends: its manifest's `metadata.time_mode` (set for
  models trained with multi-time samples, where the direct mode was measured to be as good or
  better), else 'recursive' (FILM releases and SavedModels: trained at t = 0.5 only)."""
  from film.weights import model_io
  if not model_io.is_model_dir(path):
    return 'recursive'
  mode = model_io.read_manifest(path).get('metadata', {}).get('time_mode', 'recursive')
  return mode if mode in TIME_MODES else 'recursive'


class Interpolator(PairEvaluator):
  """Frame interpolation with a `FilmNet`: tiling, feature reuse, recursion and retiming.

  Args:
    model: the network.
    max_memory_gb: memory cap for the whole process; sets `max_tile_pixels` and the feature
      cache budget. Default: 75% of the memory available when constructed.
    max_tile_pixels: explicit cap on the pixels of one tile (overrides the derivation from
      `max_memory_gb`); frames with more pixels are tiled.
    tile_overlap: minimal overlap of neighbouring tiles in pixels (default
      `default_overlap(config)`); should exceed the largest expected motion.
    reuse_features: keep per-frame `extract` results for reuse (True) or recompute them for
      every pair (False; for benchmarking).
    batch_size: target times evaluated together for one pair in the direct time mode.
    time_mode: how times other than 0.5 are made, in `retime`, `interpolate_at` and (for k > 1)
      `interpolate_recursively`: 'recursive' (dyadic midpoints, FILM's way; the default) or
      'direct' (the network's time input; the flows of a gap are estimated once for all its
      times). `from_path` takes 'auto': the model directory's recommendation
      (`metadata.time_mode` in its manifest; the default model: 'direct', measured in
      notes/inference.md "Session 5"), else 'recursive'.
    max_recursion_depth: deepest dyadic level used to snap arbitrary times (recursive mode).
    time_tolerance: in `retime`'s recursive mode, a target time may be snapped to a coarser
      dyadic time if that is at most this fraction of an output frame interval off.
    flip_ensemble: also run the mirrored (left-right flipped) pair and average the two results,
      un-flipped: ~+0.1 dB PSNR on Middlebury-other for twice the time (notes/inference.md).
    precision: 'auto' (default: bfloat16 convolutions on CPUs with native bfloat16, else
      float32), 'float32' or 'bfloat16' (`film.net.precision`); warps, flow accumulation and
      outputs are float32 either way.
    flow_scale: estimate the flows on the frames downscaled by this power of 1/2 (1 = full
      resolution; 0.5 or 0.25 for 4K) and warp/fuse at full resolution.
    reuse_flows: estimate the flows of a pair once for all its target times (direct mode);
      False re-estimates them per batch of times (for benchmarking).
    batch_directions: run the two flow directions as one batch (`FilmNet.estimate_flows`); off
      by default: measured slower on a 2-core CPU (notes/inference.md, "Session 5").
  """

  @classmethod
  def from_path(cls, path: Optional[str] = None, config: Optional[FilmConfig] = None,
                pyramid_levels: Optional[int] = None, **kwargs) -> 'Interpolator':
    """Loads a model directory / FILM SavedModel (`film.weights.model_io.load_model`).

    `path=None` uses the default model shipped at `film/default_model/`; raises
    `film.weights.model_io.ModelLoadError` if there is none. For FILM checkpoints, whose pyramid depth
    is not stored, pass `config` or `pyramid_levels` (the rest is read off the weights).
    `kwargs` go to the constructor; `time_mode='auto'` (the default here) takes the model
    directory's recommended time mode (`recommended_time_mode`).
    """
    from film.weights import model_io, published
    path = published.model_argument(path)
    if published.is_model_name(path):  # fetched / converted once, then from the cache
      path = published.resolve(path)
    if path is None:
      if not model_io.is_model_dir(DEFAULT_MODEL_DIR):
        raise model_io.ModelLoadError(
            f'No default model is installed (expected {DEFAULT_MODEL_DIR}); pass --model DIR '
            'with a film model directory or a FILM SavedModel directory')
      path = DEFAULT_MODEL_DIR
    if kwargs.get('time_mode', 'auto') == 'auto':
      kwargs['time_mode'] = recommended_time_mode(path)
    return cls(model_io.load_model(path, config=config, pyramid_levels=pyramid_levels), **kwargs)

  # Public API.
  def interpolate(self, x0: np.ndarray, x1: np.ndarray, t: TimesArg = 0.5) -> np.ndarray:
    """Interpolates between `x0` and `x1` at time(s) `t`.

    Args:
      x0, x1: [H,W,3] or [B,H,W,3] float32 in [0,1], same shape.
      t: a float in [0,1] or an array of B times ([B] or [B,1]).
    Returns:
      float32 array of the input's shape, clipped to [0,1].
    """
    x0 = np.asarray(x0, np.float32)
    x1 = np.asarray(x1, np.float32)
    if x0.shape != x1.shape or x0.ndim not in (3, 4) or x0.shape[-1] != 3:
      raise ValueError(f'x0 and x1 must both be [H,W,3] or [B,H,W,3]; got {x0.shape} and '
                       f'{x1.shape}')
    single = x0.ndim == 3
    if single:
      x0, x1 = x0[None], x1[None]
    batch, height, width = x0.shape[:3]
    times = np.broadcast_to(np.asarray(t, np.float32).reshape(-1), [batch]).astype(np.float32)
    if (len(self.tiles(height, width)) == 1 and batch * height * width <= self.max_tile_pixels
        and not self.config.has_flow_prior):
      time_arg = tf.constant(times[:, None])
      out = self._ensemble(lambda flipped: self._fns.full(
          tf.constant(x0[:, :, ::-1] if flipped else x0),
          tf.constant(x1[:, :, ::-1] if flipped else x1), time_arg).numpy())
      self.model_evaluations += batch * len(self._passes)
    else:
      outs = []
      for i in range(batch):
        a, b = Frame(x0[i]), Frame(x1[i])
        outs.append(self._interpolate_frames(a, b, [times[i]])[0])
        self._release(a)
        self._release(b)
      out = np.stack(outs)
    return out[0] if single else out

  def _recurse(self, a: Frame, b: Frame, depth: int) -> Iterator[np.ndarray]:
    """Yields the 2**depth - 1 frames strictly between `a` and `b` in time order."""
    if depth <= 0:
      return
    mid = Frame(self._interpolate_frames(a, b, [0.5])[0])
    yield from self._recurse(a, mid, depth - 1)
    yield mid.image
    yield from self._recurse(mid, b, depth - 1)
    self._release(mid)

  def _dyadic(self, a: Frame, b: Frame, lo: int, hi: int, wanted: set[int],
              found: dict[int, np.ndarray]) -> None:
    """Fills `found[n]` for the wanted numerators n in (lo,hi) (times n / 2**max_depth) by
    recursive midpoints of `a` (numerator lo) and `b` (numerator hi)."""
    if not any(lo < n < hi for n in wanted):
      return
    mid_n = (lo + hi) // 2
    mid = Frame(self._interpolate_frames(a, b, [0.5])[0])
    found[mid_n] = mid.image
    self._dyadic(a, mid, lo, mid_n, wanted, found)
    self._dyadic(mid, b, mid_n, hi, wanted, found)
    self._release(mid)

  def _gap_at_times(self, a: Frame, b: Frame, times: Sequence[float],
                    tolerance: float = 0.0) -> list[np.ndarray]:
    """Frames at `times` in [0,1] between `a` and `b` (t=0 returns `a` unchanged).

    In the recursive mode each time is snapped to the coarsest dyadic time within `tolerance`
    (in gap units; at most `max_recursion_depth` levels deep).
    """
    outputs: list[Optional[np.ndarray]] = [None] * len(times)
    inner = [i for i, t in enumerate(times) if 0.0 < t < 1.0]
    for i, t in enumerate(times):
      if t <= 0.0:
        outputs[i] = a.image
      elif t >= 1.0:
        outputs[i] = b.image
    if self.time_mode == 'direct':
      frames = self._interpolate_frames(a, b, [times[i] for i in inner])
      for i, frame in zip(inner, frames):
        outputs[i] = frame
    else:
      scale = 2 ** self.max_recursion_depth
      snapped = {i: dyadic_numerator(times[i], self.max_recursion_depth, tolerance) for i in inner}
      found: dict[int, np.ndarray] = {0: a.image, scale: b.image}
      self._dyadic(a, b, 0, scale, set(snapped.values()), found)
      for i, n in snapped.items():
        outputs[i] = found[n]
    return outputs  # type: ignore[return-value]

  def interpolate_at(self, x0: np.ndarray, x1: np.ndarray,
                     times: Sequence[float]) -> list[np.ndarray]:
    """Frames [H,W,3] (clipped to [0,1]) at each of `times` in [0,1] between `x0` and `x1`
    ([H,W,3] float32 in [0,1]), by `time_mode` (recursive: nearest dyadic time at depth
    `max_recursion_depth`; direct: the network's time input). Tiled like `interpolate`."""
    a, b = Frame(np.asarray(x0, np.float32)), Frame(np.asarray(x1, np.float32))
    try:
      return self._gap_at_times(a, b, [float(t) for t in times])
    finally:
      self._release(a)
      self._release(b)

  def interpolate_recursively(self, frames: Iterable[np.ndarray], times_to_interpolate: int,
                              gap_policy: Optional[GapPolicy] = None) -> Iterator[np.ndarray]:
    """Streams `frames` with 2**k - 1 recursively interpolated frames inserted in every gap.

    Args:
      frames: iterable of N [H,W,3] float32 frames in [0,1] (consumed lazily; only the two
        frames of the current gap and the recursion's ancestors are held).
      times_to_interpolate: k >= 0, recursion depth.
      gap_policy: optional `f(x0, x1) -> 'interpolate' | 'duplicate' | 'cut'` (see
        `film.media.scene.GapClassifier`). For 'duplicate' and 'cut' gaps the model is skipped and
        `x0` is repeated (held until the next frame).
    Yields:
      (N-1) * 2**k + 1 frames in time order; the inputs are yielded unchanged. In the direct
      time mode the 2**k - 1 frames of a gap are made at times j / 2**k from the gap's pair
      (one flow estimate per gap) instead of by recursive midpoints.
    """
    if times_to_interpolate < 0:
      raise ValueError(f'times_to_interpolate must be >= 0, got {times_to_interpolate}')
    previous: Optional[Frame] = None
    for image in frames:
      current = Frame(np.asarray(image, np.float32))
      if previous is not None:
        policy = gap_policy(previous.image, current.image) if gap_policy else 'interpolate'
        if policy == 'interpolate' and self.time_mode == 'direct':
          times = [j / 2 ** times_to_interpolate for j in range(1, 2 ** times_to_interpolate)]
          yield from self._iter_frames(previous, current, times)
        elif policy == 'interpolate':
          yield from self._recurse(previous, current, times_to_interpolate)
        else:
          for _ in range(2 ** times_to_interpolate - 1):
            yield previous.image
        self._release(previous)
      yield current.image
      previous = current
    if previous is not None:
      self._release(previous)

  def retime(self, frames: Iterable[np.ndarray], input_fps: float, output_fps: float,
             gap_policy: Optional[GapPolicy] = None) -> Iterator[np.ndarray]:
    """Streams `frames` (at `input_fps`) resampled to `output_fps`, preserving the duration.

    N input frames last N/input_fps seconds; the output has round(N * output_fps / input_fps)
    frames (halves rounded up), frame j showing input position p = j * input_fps / output_fps (gap floor(p), time
    p - floor(p)); positions past the last frame hold it. Times between frames are produced by
    `time_mode` (see the module docstring). `gap_policy` as in `interpolate_recursively`
    ('duplicate'/'cut' gaps hold the earlier frame).
    """
    if input_fps <= 0 or output_fps <= 0:
      raise ValueError(f'fps must be > 0 (got input {input_fps}, output {output_fps})')
    ratio = input_fps / output_fps  # input frames per output frame
    j = 0
    count = 0
    previous: Optional[Frame] = None
    for gap, image in enumerate(frames):
      current = Frame(np.asarray(image, np.float32))
      count += 1
      if previous is not None:
        # Output frames whose position falls in [gap-1, gap).
        times = []
        while j * ratio < gap - 1e-9:
          times.append(j * ratio - (gap - 1))
          j += 1
        policy = gap_policy(previous.image, current.image) if gap_policy else 'interpolate'
        if policy == 'interpolate':
          yield from self._gap_at_times(previous, current, times,
                                        tolerance=self.time_tolerance * ratio)
        else:
          for _ in times:
            yield previous.image
        self._release(previous)
      previous = current
    if previous is None:
      return
    total = int(math.floor(count * output_fps / input_fps + 0.5))
    while j < max(total, 1):
      yield previous.image
      j += 1
    self._release(previous)

  @staticmethod
  def num_output_frames(num_frames: int, times_to_interpolate: Optional[int] = None,
                        input_fps: Optional[float] = None,
                        output_fps: Optional[float] = None) -> int:
    """Frames produced by `interpolate_recursively` (k given) or `retime` (fps given)."""
    if num_frames <= 0:
      return 0
    if times_to_interpolate is not None:
      return (num_frames - 1) * 2 ** times_to_interpolate + 1
    return max(1, int(math.floor(num_frames * output_fps / input_fps + 0.5)))

  @property
  def cache_stats(self) -> dict[str, float]:
    """Feature-cache hits/misses and bytes in use (for benchmarks and logs)."""
    return {'hits': self._cache.hits, 'misses': self._cache.misses,
            'bytes': self._cache.used}
