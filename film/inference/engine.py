"""Tiled, cached evaluation of one frame pair at a batch of times: the machinery under
`Interpolator` (memory budget, tiles, per-frame feature reuse, flow reuse per pair, classical
prior flows, the flip ensemble). Images are numpy `[H,W,3]` float32 in [0,1]."""
from __future__ import annotations

import itertools
import time
from typing import Callable, Iterator, Optional, Sequence

from absl import logging
import numpy as np
import tensorflow as tf

from film.inference import classical_flow, graphs, resources, tiling
from film.inference.memory import (CACHE_SHARE, PAIR_SHARE, RUNTIME_OVERHEAD_BYTES, FeatureCache,
                                   default_overlap, pair_bytes_per_pixel)
from film.net import precision as precision_lib
from film.net.model import FilmNet, flow_levels_skipped

# Interpolator time modes; `Interpolator.from_path` also takes 'auto'.
TIME_MODES = ('recursive', 'direct')

# Host MemAvailable capped by container (cgroup v1/v2) limits; see film/inference/resources.py.
available_memory_bytes = resources.available_memory_bytes


class Frame:
  """A frame [H,W,3] float32 in [0,1] with a unique key for the feature cache."""
  _keys = itertools.count()

  def __init__(self, image: np.ndarray):
    self.image = image
    self.key = next(Frame._keys)



class PairEvaluator:
  """Evaluates a `FilmNet` on frame pairs, tiled and with reuse; `Interpolator` (its subclass)
  adds the time schedules. The constructor's arguments are documented on `Interpolator`."""

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
    self._cache = FeatureCache(CACHE_SHARE * budget if reuse_features else 0)
    self._tiles_for: dict[tuple[int, int], list[tiling.Tile]] = {}
    self.model_evaluations = 0  # Network runs per output frame and tile (2 with flip_ensemble).
    # Wall seconds spent in `extract`, flow estimation and warping + fusion (TF on CPU runs
    # synchronously), and flow estimations run.
    # 'prior': classical (DIS) flows of flow-prior models, on the CPU outside TensorFlow.
    self.seconds = {'extract': 0.0, 'prior': 0.0, 'flows': 0.0, 'synthesize': 0.0}
    self.flow_estimations = 0
    self._fns = graphs.graph_functions(model, self.compute_dtype, self.flow_scale, batch_directions)

  # Tiled evaluation with feature reuse.
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
