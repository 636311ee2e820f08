"""Overlapping tiles with feathered blending, for images too large to interpolate at once.

A frame of size H x W is covered by a grid of tiles of (at most) `tile_h` x `tile_w` pixels that
overlap their neighbours by at least `overlap` pixels. Each tile is interpolated on its own (the
model pads it internally), and the results are blended with separable weights that are 0 for the
outer quarter of every *interior* overlap, rise along a raised-cosine ramp over its middle half
and are 1 elsewhere (image borders are never feathered). For two neighbouring tiles the two ramps
are exact complements, so the weights form a partition of unity and there are no seams: a pixel
near a tile edge, where the tile lacks context, gets its value from the neighbour instead.

Tile sizes are multiples of the model's alignment (2**(pyramid_levels-1)) unless a tile spans
the whole image along that axis, so tiles are never padded with reflected content that the other
tiles do not see.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Tile:
  """One tile: rows `y0:y0+h`, columns `x0:x0+w`, and its blending weight `weight` [h,w,1]."""
  y0: int
  x0: int
  h: int
  w: int
  weight: np.ndarray

  @property
  def slices(self) -> tuple[slice, slice]:
    return slice(self.y0, self.y0 + self.h), slice(self.x0, self.x0 + self.w)


def _axis_starts(length: int, tile: int, overlap: int) -> list[int]:
  """Evenly spread tile starts covering [0, length) with neighbours overlapping >= overlap."""
  if tile >= length:
    return [0]
  if tile <= overlap:
    raise ValueError(f'tile size {tile} must exceed the overlap {overlap}')
  n = math.ceil((length - overlap) / (tile - overlap))
  n = max(n, 2)
  return [int(round(i * (length - tile) / (n - 1))) for i in range(n)]


def _ramp(n: int, overlap: int) -> np.ndarray:
  """Weights for the first `n` pixels from an interior tile edge with actual overlap `overlap`.

  0 for d < overlap/4, raised cosine over the next overlap/2 pixels, then 1; for two tiles the
  ramps at d and overlap-1-d sum to 1.
  """
  margin = overlap // 4
  ramp = overlap - 2 * margin
  d = np.arange(n, dtype=np.float64)
  z = np.clip((d - margin + 0.5) / ramp, 0.0, 1.0)
  return 0.5 - 0.5 * np.cos(np.pi * z)


def _axis_weights(length: int, starts: list[int], tile: int) -> list[np.ndarray]:
  size = min(tile, length)
  out = []
  for i, s in enumerate(starts):
    w = np.ones(size, dtype=np.float64)
    if i > 0:
      ov = starts[i - 1] + size - s
      w = np.minimum(w, _ramp(size, ov))
    if i < len(starts) - 1:
      ov = s + size - starts[i + 1]
      w = np.minimum(w, _ramp(size, ov)[::-1])
    out.append(w)
  return out


def make_tiles(height: int, width: int, tile_h: int, tile_w: int, overlap: int) -> list[Tile]:
  """Tiles covering an image of `height` x `width`, in row-major order.

  Args:
    height, width: image size in pixels.
    tile_h, tile_w: maximal tile size (a tile spans the whole axis if the image is smaller).
    overlap: minimal overlap of neighbouring tiles in pixels (the actual overlap can be larger,
      since tiles are spread evenly).
  Returns:
    Tiles whose weights (float32 [h,w,1]) sum to 1 at every pixel.
  """
  ys = _axis_starts(height, tile_h, overlap)
  xs = _axis_starts(width, tile_w, overlap)
  wys = _axis_weights(height, ys, tile_h)
  wxs = _axis_weights(width, xs, tile_w)
  h, w = min(tile_h, height), min(tile_w, width)
  tiles = []
  for y0, wy in zip(ys, wys):
    for x0, wx in zip(xs, wxs):
      weight = (wy[:, None] * wx[None, :]).astype(np.float32)[..., None]
      tiles.append(Tile(y0, x0, h, w, weight))
  return tiles


def align_down(value: int, align: int) -> int:
  return max(align, (value // align) * align)


def align_up(value: int, align: int) -> int:
  return -(-value // align) * align


def _axis_size(length: int, count: int, align: int, overlap: int) -> int:
  """Smallest tile size (a multiple of `align`, or `length` itself) that covers `length` with
  `count` tiles overlapping by at least `overlap`."""
  if count == 1:
    return length
  return min(length, align_up(-(-(length + (count - 1) * overlap) // count), align))


def grid_pixels(height: int, width: int, tile_h: int, tile_w: int, overlap: int) -> int:
  """Pixels processed by the `make_tiles` grid (sum of tile areas): the work of a tiled pass."""
  ny = len(_axis_starts(height, tile_h, overlap))
  nx = len(_axis_starts(width, tile_w, overlap))
  return ny * nx * min(tile_h, height) * min(tile_w, width)


def choose_tile_size(height: int, width: int, max_tile_pixels: int, align: int,
                     overlap: int) -> tuple[int, int]:
  """Tile size (multiples of `align` unless a tile spans its axis) of at most `max_tile_pixels`
  pixels whose grid processes the fewest pixels in all (ties: fewer tiles, then squarer); the
  whole image if it fits.

  Every row and column count of the grid is tried, each with the smallest tile size that covers
  its axis with that many tiles (at least `2 * overlap + align`). A square tile can waste half
  the work: 2160x3840 under a 4.6 MPix cap took four 2144x2144 tiles, 18.4 MPix, where two
  2160x1984 tiles, 8.6 MPix, do.

  Raises ValueError if the cap leaves no room for a tile wider than twice the overlap.
  """
  if height * width <= max_tile_pixels:
    return height, width
  minimum = 2 * overlap + align

  def sizes(length: int) -> list[int]:
    """Candidate tile sizes along an axis: the smallest for each tile count, clamped to the
    minimum size (larger sizes with the same count only add work)."""
    floor = min(align_up(minimum, align), length)
    out = []
    for count in range(1, length // align + 2):
      size = _axis_size(length, count, align, overlap)
      out.append(max(size, floor))
      if size <= floor:
        break
    return sorted(set(out), reverse=True)

  best = None
  for tile_h in sizes(height):
    for tile_w in sizes(width):
      if tile_h * tile_w > max_tile_pixels:
        continue
      ny = len(_axis_starts(height, tile_h, overlap))
      nx = len(_axis_starts(width, tile_w, overlap))
      score = (ny * nx * tile_h * tile_w, ny * nx, abs(tile_h - tile_w))
      if best is None or score < best[0]:
        best = (score, (tile_h, tile_w))
  if best is None:
    side = align_down(int(math.sqrt(max_tile_pixels)), align)
    raise ValueError(
        f'The memory cap allows tiles of only about {side}x{side} pixels, too small for an '
        f'overlap of {overlap} pixels (need at least {minimum}); raise the memory cap or lower '
        f'the overlap')
  return best[1]


class TileAccumulator:
  """Accumulates weighted tile outputs; `result()` divides by the weight sum (which is 1 up to
  rounding for the grids built here, but dividing keeps any grid exact)."""

  def __init__(self, height: int, width: int, channels: int = 3):
    self.acc = np.zeros((height, width, channels), np.float32)
    self.wsum = np.zeros((height, width, 1), np.float32)

  def add(self, tile: Tile, output: np.ndarray) -> None:
    """Adds a tile's output [h,w,C]."""
    self.acc[tile.slices] += tile.weight * output
    self.wsum[tile.slices] += tile.weight

  def result(self) -> np.ndarray:
    """The blended [height,width,C] float32 image."""
    return self.acc / np.maximum(self.wsum, 1e-12)

