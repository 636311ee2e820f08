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

import itertools
import math
import time
import weakref
from typing import Callable, Iterable, Iterator, NamedTuple, Optional, Sequence, Union

from absl import logging
import numpy as np
import tensorflow as tf

from film.inference import classical_flow, resources, tiling
from film.net import precision as precision_lib
from film.net.config import FilmConfig
from film.weights.defaults import DEFAULT_MODEL_DIR  # re-exported
from film.net.feature_extractor import feature_channels
from film.net.model import FilmNet, flow_levels_skipped


# Peak resident bytes of one pairwise interpolation (both `extract` calls + flow + warp + fusion)
# per input pixel, as a multiple of the bytes of one frame's `extract` result. Measured with
# fresh processes (peak RSS growth from 256^2 to 512^2 and 768^2 inputs: 4,800-4,960 B/px
# for PUBLISHED, whose extract result is 656 B/px); see notes/inference.md.
PAIR_TO_FEATURE_RATIO = 7.5
# Fixed overhead (TF runtime, graphs) on top of the model weights, in bytes.
RUNTIME_OVERHEAD_BYTES = 700 * 2**20
# Shares of the memory budget (cap - weights - runtime): one tile's pairwise working set, and
# the feature cache; the rest is headroom.
PAIR_SHARE, CACHE_SHARE = 0.5, 0.25

# AutoGraph for the inference graphs: off (the network's Python loops are over lists, never
# over tensors); True only to measure what it costs (bench/bench_speed.py, time to first frame).
AUTOGRAPH = False

# Interpolator time modes; `Interpolator.from_path` also takes 'auto'.
TIME_MODES = ('recursive', 'direct')

GapPolicy = Callable[[np.ndarray, np.ndarray], str]
TimesArg = Union[float, Sequence[float], np.ndarray]


class Frame:
  """A frame [H,W,3] float32 in [0,1] with a unique key for the feature cache."""
  _keys = itertools.count()

  def __init__(self, image: np.ndarray):
    self.image = image
    self.key = next(Frame._keys)


def feature_bytes_per_pixel(config: FilmConfig) -> float:
  """Bytes of one frame's `extract` result (image + feature pyramids, float32) per pixel."""
  total = 0.0
  for level in range(config.pyramid_levels):
    # Level `level` concatenates the features of min(level+1, sub_levels) cascade depths
    # (filters << depth channels each) plus the 3 image channels, at 1/4**level of the pixels.
    depth = min(level + 1, config.sub_levels)
    channels = sum(config.filters << k for k in range(depth)) + 3
    total += channels * 4.0 / 4 ** level
  return total


def pair_bytes_per_pixel(config: FilmConfig) -> float:
  """Measured peak bytes per input pixel of one pairwise interpolation with `config`."""
  return PAIR_TO_FEATURE_RATIO * feature_bytes_per_pixel(config)


def default_overlap(config: FilmConfig) -> int:
  """Tile overlap in pixels: generous (FILM's coarsest flow level sees motions of tens of
  pixels per level): 4 alignment units, at least 128 px."""
  return max(4 * config.alignment, 128)


# Host MemAvailable capped by container (cgroup v1/v2) limits; see film/inference/resources.py.
available_memory_bytes = resources.available_memory_bytes


def dyadic_numerator(t: float, max_depth: int, tolerance: float = 0.0) -> int:
  """Numerator n of the dyadic time n / 2**max_depth used for `t` in [0,1]: the nearest
  dyadic time of the smallest depth d <= max_depth within `tolerance` of t (depth
  `max_depth` if none is). Fewer levels mean fewer recursive model evaluations."""
  for depth in range(max_depth + 1):
    num = int(round(t * 2 ** depth))
    if abs(num / 2 ** depth - t) <= tolerance or depth == max_depth:
      return num * 2 ** (max_depth - depth)
  raise AssertionError('unreachable')


class _FeatureCache:
  """Byte-bounded store of `extract` results keyed by (frame key, tile index, flipped)."""

  def __init__(self, budget_bytes: float):
    self.budget = budget_bytes
    self.used = 0
    self.entries: dict[tuple[int, int, bool], tuple[dict, int]] = {}
    self.hits = self.misses = 0

  def get(self, key: tuple[int, int, bool]) -> Optional[dict]:
    entry = self.entries.get(key)
    if entry is None:
      self.misses += 1
      return None
    self.hits += 1
    return entry[0]

  def put(self, key: tuple[int, int, bool], features: dict, nbytes: int) -> None:
    if self.used + nbytes <= self.budget:
      self.entries[key] = (features, nbytes)
      self.used += nbytes

  def release(self, frame_key: int) -> None:
    for key in [k for k in self.entries if k[0] == frame_key]:
      self.used -= self.entries.pop(key)[1]


_GRAPH_FUNCTIONS: 'weakref.WeakKeyDictionary[FilmNet, dict]' = weakref.WeakKeyDictionary()


class GraphFunctions(NamedTuple):
  """The `tf.function`s of one model and setting (see `_graph_functions`)."""
  extract: Callable
  flows: Callable
  synthesize: Callable
  full: Callable


def _feature_spec(config: FilmConfig, dtype: tf.DType, skip: int) -> dict:
  """`tf.TensorSpec`s of a `FilmNet.extract` result with any batch and size (one trace)."""
  levels = range(config.pyramid_levels)
  spec = {'image_pyramid': [tf.TensorSpec([None, None, None, 3], tf.float32) for _ in levels],
          'feature_pyramid': [tf.TensorSpec([None, None, None, feature_channels(config, i)],
                                            dtype) for i in levels],
          'box': tf.TensorSpec([4], tf.int32)}
  if skip:
    spec['flow_feature_pyramid'] = spec['feature_pyramid'][:config.pyramid_levels - skip]
  return spec


def _graph_functions(model: FilmNet, compute_dtype: Optional[tf.DType] = None,
                     flow_scale: float = 1.0, batch_directions: bool = False) -> GraphFunctions:
  """`tf.function`s of `model` for one precision / flow scale, shared by all its Interpolators.
  Every signature is shape-free, so each function is traced once per process whatever the
  frame sizes and batch; AutoGraph is off (the network has no tensor-dependent Python control
  flow, and converting its source was about half of the tracing time, notes/inference.md).

  * extract(x [B,H,W,3]) -> `FilmNet.extract` dict;
  * flows(f0, f1[, prior_flows]) -> {'forward', 'backward'} flow pyramids
    (`FilmNet.estimate_flows`), time-free; flow-prior models also take the pair's classical
    flows {'forward', 'backward'} [B,H,W,2];
  * synthesize(f0, f1, flows, time [B,1]) -> clipped image [B,H,W,3]; features and flows of
    batch 1 are broadcast to B target times;
  * full(x0, x1, time) -> clipped image [B,H,W,3] (models without a flow prior).
  """
  key = (compute_dtype, float(flow_scale), bool(batch_directions), AUTOGRAPH)
  per_model = _GRAPH_FUNCTIONS.setdefault(model, {})
  if key in per_model:
    return per_model[key]
  config = model.config
  dtype = compute_dtype or tf.float32
  skip = flow_levels_skipped(flow_scale, config)
  image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
  feature_spec = _feature_spec(config, dtype, skip)
  flow_spec = [tf.TensorSpec([None, None, None, 2], tf.float32)
               for _ in range(config.fusion_pyramid_levels)]
  flows_spec = {'forward': flow_spec, 'backward': flow_spec}

  def flows(f0: dict, f1: dict, prior_flows: Optional[dict] = None) -> dict:
    out = model.estimate_flows(f0, f1, batched=batch_directions, prior_flows=prior_flows)
    return {'forward': out['forward'], 'backward': out['backward']}

  flows_signature = [feature_spec, feature_spec]
  if config.has_flow_prior:  # Full-resolution classical flows of the (tile) pair.
    prior_spec = tf.TensorSpec([None, None, None, 2], tf.float32)
    flows_signature.append({'forward': prior_spec, 'backward': prior_spec})

  def synthesize(f0: dict, f1: dict, flows: dict, time: tf.Tensor) -> tf.Tensor:
    batch = tf.shape(time)[0]

    def broadcast(d: dict) -> dict:
      rep = lambda x: tf.repeat(x, batch // tf.shape(x)[0], axis=0)
      return {k: v if k == 'box' else tf.nest.map_structure(rep, v) for k, v in d.items()}

    image = model.synthesize(broadcast(f0), broadcast(f1), broadcast(flows), time)['image']
    return tf.clip_by_value(image, 0.0, 1.0)

  functions = GraphFunctions(
      extract=tf.function(lambda x: model.extract(x, compute_dtype, flow_scale),
                          input_signature=[image_spec], autograph=AUTOGRAPH),
      flows=tf.function(flows, input_signature=flows_signature, autograph=AUTOGRAPH),
      synthesize=tf.function(synthesize, input_signature=[
          feature_spec, feature_spec, flows_spec, tf.TensorSpec([None, 1], tf.float32)],
                             autograph=AUTOGRAPH),
      full=tf.function(lambda x0, x1, t: tf.clip_by_value(
          model(x0, x1, t, compute_dtype=compute_dtype, flow_scale=flow_scale)['image'],
          0.0, 1.0), input_signature=[image_spec, image_spec, tf.TensorSpec([None, 1],
                                                                           tf.float32)],
          autograph=AUTOGRAPH))
  per_model[key] = functions
  return functions


def recommended_time_mode(path: str) -> str:
  """The time mode a model directory recommends: its manifest's `metadata.time_mode` (set for
  models trained with multi-time samples, where the direct mode was measured to be as good or
  better), else 'recursive' (FILM releases and SavedModels: trained at t = 0.5 only)."""
  from film.weights import model_io
  if not model_io.is_model_dir(path):
    return 'recursive'
  mode = model_io.read_manifest(path).get('metadata', {}).get('time_mode', 'recursive')
  return mode if mode in TIME_MODES else 'recursive'


class Interpolator:
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

  def __init__(self, model: FilmNet, max_memory_gb: Optional[float] = None,
               max_tile_pixels: Optional[int] = None, tile_overlap: Optional[int] = None,
               reuse_features: bool = True, batch_size: int = 1,
               time_mode: str = 'recursive', max_recursion_depth: int = 5,
               time_tolerance: float = 0.1, flip_ensemble: bool = False,
               precision: str = 'auto', flow_scale: float = 1.0, reuse_flows: bool = True,
               batch_directions: bool = False):
    if time_mode not in TIME_MODES:
      raise ValueError(f"time_mode must be 'recursive' or 'direct', got {time_mode!r}")
    if batch_size < 1:
      raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    self.model = model
    self.config = model.config
    self.precision = precision_lib.resolve_precision(precision)
    self.compute_dtype = precision_lib.compute_dtype(self.precision)
    flow_levels_skipped(flow_scale, self.config)  # Validates flow_scale.
    self.flow_scale = float(flow_scale)
    self.reuse_flows = bool(reuse_flows)
    self.tile_overlap = int(tile_overlap if tile_overlap is not None
                            else default_overlap(self.config))
    weights_bytes = sum(v.shape.num_elements() * 4 for v in model.trainable_variables)
    if max_memory_gb is None:
      available = available_memory_bytes()
      budget = 0.75 * available
      cap = (f'the default memory cap (75% of the {available / 2**30:.2f} GB available) is below '
             f'the model and runtime overhead')
      fix = 'free memory or pass max_memory_gb'
    else:
      if max_memory_gb <= 0:
        raise ValueError(f'max_memory_gb must be > 0, got {max_memory_gb}')
      budget = max_memory_gb * 2**30
      cap = f'max_memory_gb={max_memory_gb} is below the model and runtime overhead'
      fix = 'raise it'
    budget -= weights_bytes + RUNTIME_OVERHEAD_BYTES
    if budget <= 0:
      raise ValueError(f'{cap} ({(weights_bytes + RUNTIME_OVERHEAD_BYTES) / 2**30:.2f} GB); {fix}')
    self.memory_budget_bytes = budget
    # 50% of the budget for the pairwise working set (one tile at a time), 25% for the feature
    # cache, 25% headroom: a 4K run capped at 12 GB with a 60/40 split peaked at 14.25 GB RSS,
    # 2.5 GB above the sum of its parts (allocator retention across tiles).
    if max_tile_pixels is None:
      max_tile_pixels = int(PAIR_SHARE * budget / (pair_bytes_per_pixel(self.config) *
                                                   batch_size))
    self.max_tile_pixels = int(max_tile_pixels)
    if self.max_tile_pixels < 1:
      raise ValueError('max_tile_pixels must be >= 1')
    self.reuse_features = reuse_features
    self.batch_size = int(batch_size)
    self.time_mode = time_mode
    self.max_recursion_depth = int(max_recursion_depth)
    self.time_tolerance = float(time_tolerance)
    self.flip_ensemble = bool(flip_ensemble)
    self._cache = _FeatureCache(CACHE_SHARE * budget if reuse_features else 0)
    self._tiles_for: dict[tuple[int, int], list[tiling.Tile]] = {}
    self.model_evaluations = 0  # Network runs per output frame and tile (2 with flip_ensemble).
    # Wall seconds spent in `extract`, flow estimation and warping + fusion (TF on CPU runs
    # synchronously), and flow estimations run.
    # 'prior': classical (DIS) flows of flow-prior models, on the CPU outside TensorFlow.
    self.seconds = {'extract': 0.0, 'prior': 0.0, 'flows': 0.0, 'synthesize': 0.0}
    self.flow_estimations = 0
    self._fns = _graph_functions(model, self.compute_dtype, self.flow_scale, batch_directions)

  # ---------------------------------------------------------------------------------------
  # Construction.
  # ---------------------------------------------------------------------------------------
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
    from film.weights import model_io
    if path is None:
      if not model_io.is_model_dir(DEFAULT_MODEL_DIR):
        raise model_io.ModelLoadError(
            f'No default model is installed (expected {DEFAULT_MODEL_DIR}); pass --model DIR '
            'with a film model directory or a FILM SavedModel directory')
      path = DEFAULT_MODEL_DIR
    if kwargs.get('time_mode', 'auto') == 'auto':
      kwargs['time_mode'] = recommended_time_mode(path)
    return cls(model_io.load_model(path, config=config, pyramid_levels=pyramid_levels), **kwargs)

  # ---------------------------------------------------------------------------------------
  # Tiled evaluation with feature reuse.
  # ---------------------------------------------------------------------------------------
  def tiles(self, height: int, width: int) -> list[tiling.Tile]:
    """The tile grid used for frames of `height` x `width` (one tile if they fit)."""
    key = (height, width)
    if key not in self._tiles_for:
      tile_h, tile_w = tiling.choose_tile_size(height, width, self.max_tile_pixels,
                                               self.config.alignment, self.tile_overlap)
      self._tiles_for[key] = tiling.make_tiles(height, width, tile_h, tile_w, self.tile_overlap)
      if len(self._tiles_for[key]) > 1:
        logging.info('Tiling %dx%d frames into %d tiles of %dx%d (overlap >= %d px)', height,
                     width, len(self._tiles_for[key]), tile_h, tile_w, self.tile_overlap)
    return self._tiles_for[key]

  def _features(self, frame: Frame, index: int, tile: tiling.Tile, flipped: bool = False) -> dict:
    key = (frame.key, index, flipped)
    features = self._cache.get(key) if self.reuse_features else None
    if features is None:
      crop = frame.image[tile.slices][None]
      if flipped:
        crop = crop[:, :, ::-1]
      start = time.perf_counter()
      features = self._fns.extract(tf.constant(crop, tf.float32))
      self.seconds['extract'] += time.perf_counter() - start
      if self.reuse_features:
        nbytes = sum(int(np.prod(x.shape)) * x.dtype.size for x in
                     tf.nest.flatten({k: v for k, v in features.items() if k != 'box'}))
        self._cache.put(key, features, nbytes)
    return features

  def _release(self, frame: Frame) -> None:
    self._cache.release(frame.key)

  @property
  def _passes(self) -> tuple[bool, ...]:
    """The `flipped` values each frame is computed with: (False,) or (False, True)."""
    return (False, True) if self.flip_ensemble else (False,)

  def _ensemble(self, run: Callable[[bool], np.ndarray]) -> np.ndarray:
    """Mean over `self._passes` of `run(flipped)` [B,H,W,3], mirrored outputs un-mirrored."""
    outs = [run(flipped)[:, :, ::-1] if flipped else run(flipped) for flipped in self._passes]
    return outs[0] if len(outs) == 1 else 0.5 * (outs[0] + outs[1])

  def _prior_flows(self, a: Frame, b: Frame, tile: tiling.Tile, flipped: bool) -> dict:
    """Classical (DIS) flows {'forward', 'backward'} [1,h,w,2] of one tile of a pair, computed
    on the tile's crops (mirrored when `flipped`), as in training."""
    crops = [frame.image[tile.slices] for frame in (a, b)]
    if flipped:
      crops = [crop[:, ::-1] for crop in crops]
    forward, backward = classical_flow.bidirectional_flows(
        np.ascontiguousarray(crops[0]), np.ascontiguousarray(crops[1]))
    return {'forward': tf.constant(forward[None]), 'backward': tf.constant(backward[None])}

  def _tile_pair(self, a: Frame, b: Frame, index: int, tile: tiling.Tile, chunk: np.ndarray,
                 flow_cache: Optional[dict] = None) -> np.ndarray:
    """[len(chunk),h,w,3] frames of one tile at times `chunk` [N,1] (flip-averaged if set).
    The pair's flows are taken from / stored in `flow_cache` (keyed by tile and flip)."""

    def run(flipped: bool) -> np.ndarray:
      f0, f1 = self._features(a, index, tile, flipped), self._features(b, index, tile, flipped)
      flows = flow_cache.get((index, flipped)) if flow_cache is not None else None
      start = time.perf_counter()
      if flows is None:
        extra = ()
        if self.config.has_flow_prior:
          extra = (self._prior_flows(a, b, tile, flipped),)
          self.seconds['prior'] += time.perf_counter() - start
          start = time.perf_counter()
        flows = self._fns.flows(f0, f1, *extra)
        self.flow_estimations += 1
        if flow_cache is not None:
          flow_cache[(index, flipped)] = flows
      middle = time.perf_counter()
      out = self._fns.synthesize(f0, f1, flows, tf.constant(chunk)).numpy()
      self.seconds['flows'] += middle - start
      self.seconds['synthesize'] += time.perf_counter() - middle
      return out

    return self._ensemble(run)

  def _interpolate_frames(self, a: Frame, b: Frame, times: Sequence[float]) -> list[np.ndarray]:
    """Frames [H,W,3] at `times` between `a` (t=0) and `b` (t=1), see `_iter_frames`."""
    return list(self._iter_frames(a, b, times))

  def _iter_frames(self, a: Frame, b: Frame, times: Sequence[float]) -> Iterator[np.ndarray]:
    """Yields the frames [H,W,3] at `times` between `a` (t=0) and `b` (t=1), tiled and in
    batches of `batch_size` (one batch in memory at a time); the flows are estimated once per
    tile for all `times` (unless `reuse_flows` is off)."""
    height, width = a.image.shape[:2]
    tiles = self.tiles(height, width)
    # Flows of the pair per tile (float32, ~21 B/px for 5 fused levels) for the later chunks.
    flow_cache = {} if self.reuse_flows and len(times) > self.batch_size else None
    for first in range(0, len(times), self.batch_size):
      chunk = np.asarray(times[first:first + self.batch_size], np.float32).reshape(-1, 1)
      if len(tiles) == 1:
        result = self._tile_pair(a, b, 0, tiles[0], chunk, flow_cache)
        outputs = [result[i] for i in range(len(chunk))]
      else:
        accs = [tiling.TileAccumulator(height, width) for _ in chunk]
        for index, tile in enumerate(tiles):
          result = self._tile_pair(a, b, index, tile, chunk, flow_cache)
          for acc, out in zip(accs, result):
            acc.add(tile, out)
        outputs = [np.clip(acc.result(), 0.0, 1.0) for acc in accs]
      self.model_evaluations += len(chunk) * len(self._passes)
      yield from outputs

  # ---------------------------------------------------------------------------------------
  # Public API.
  # ---------------------------------------------------------------------------------------
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
