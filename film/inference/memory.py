"""Memory model of inference: bytes per pixel of a frame's features and of one pairwise
interpolation, shares of the memory budget, the default tile overlap, and the byte-bounded
feature cache. No TensorFlow graph code (see notes/inference.md for the measurements)."""
from __future__ import annotations

from typing import Optional

from film.net.config import FilmConfig

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



class FeatureCache:
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

