"""Tests for film/inference/tiling.py: grid geometry, partition of unity, and tiled == untiled inference."""
import numpy as np
import pytest

from film.inference import tiling


@pytest.mark.parametrize('height,width,tile_h,tile_w,overlap', [
    (2160, 3840, 1024, 1024, 256), (300, 500, 128, 128, 32), (100, 100, 64, 64, 16),
    (64, 1000, 64, 200, 40), (50, 70, 64, 64, 16)])
def test_tiles_cover_with_partition_of_unity(height, width, tile_h, tile_w, overlap):
  tiles = tiling.make_tiles(height, width, tile_h, tile_w, overlap)
  total = np.zeros((height, width, 1))
  for tile in tiles:
    assert tile.h == min(tile_h, height) and tile.w == min(tile_w, width)
    assert tile.y0 + tile.h <= height and tile.x0 + tile.w <= width
    total[tile.slices] += tile.weight
  np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_neighbours_overlap_at_least_the_requested_amount():
  tiles = tiling.make_tiles(300, 1000, 300, 256, 64)
  starts = sorted({t.x0 for t in tiles})
  assert all(b - a <= 256 - 64 for a, b in zip(starts, starts[1:]))
  # Weights vanish at interior tile edges and are 1 at image borders.
  first = tiles[0]
  assert first.weight[0, 0, 0] == 1.0 and first.weight[0, -1, 0] == 0.0


def test_choose_tile_size_is_aligned_and_bounded():
  th, tw = tiling.choose_tile_size(2160, 3840, 1_000_000, 64, 256)
  assert th % 64 == 0 and tw % 64 == 0 and th * tw <= 1_000_000
  assert tiling.choose_tile_size(100, 200, 10**6, 64, 256) == (100, 200)
  with pytest.raises(ValueError, match='overlap'):
    tiling.choose_tile_size(2000, 2000, 200 * 200, 64, 256)


@pytest.mark.parametrize('height,width,cap,align,overlap', [
    (300, 500, 20_000, 16, 32), (270, 480, 40_000, 16, 32), (200, 610, 15_000, 8, 24),
    (97, 1001, 9_000, 8, 16)])
def test_choose_tile_size_minimises_the_work_of_the_grid(height, width, cap, align, overlap):
  """Brute force over every admissible tile size: the chosen grid processes the fewest pixels."""
  def work(th, tw):
    return sum(t.h * t.w for t in tiling.make_tiles(height, width, th, tw, overlap))
  sizes_h = sorted({*range(align, height, align), height})
  sizes_w = sorted({*range(align, width, align), width})
  minimum = 2 * overlap + align
  best = min(work(th, tw) for th in sizes_h for tw in sizes_w
             if th * tw <= cap and min(th, tw) >= minimum)
  th, tw = tiling.choose_tile_size(height, width, cap, align, overlap)
  assert th * tw <= cap
  assert th == height or th % align == 0
  assert tw == width or tw % align == 0
  assert work(th, tw) == best


def test_choose_tile_size_avoids_square_tiles_that_double_the_work():
  """4K under a 4.6 MPix cap (the default model at --max_memory_gb 12): two full-height tiles
  2160x1984 (1984 = 32 * ceil((3840 + 128) / 2 / 32)), 8.57 MPix in all; the square choice, four
  2144x2144 tiles, processed 18.4 MPix."""
  th, tw = tiling.choose_tile_size(2160, 3840, 4_600_000, 32, 128)
  assert (th, tw) == (2160, 1984)
  assert len(tiling.make_tiles(2160, 3840, th, tw, 128)) == 2


def test_accumulator_blends_constant_exactly():
  tiles = tiling.make_tiles(90, 130, 64, 64, 20)
  accumulator = tiling.TileAccumulator(90, 130, 3)
  for t in tiles:
    accumulator.add(t, np.full((t.h, t.w, 3), 0.3, np.float32))
  out = accumulator.result()
  np.testing.assert_allclose(out, 0.3, atol=1e-6)


def test_tiled_matches_untiled_with_reference_weights(shared_dir, film_small_fixture):
  """Fixture FILM weights on a 256x512 Middlebury crop, two 256x320 tiles overlapping 128 px.

  Measured: max |tiled - untiled| outside the overlap band 0.0003/255; inside the band (where
  both tiles blend) about 2/255; the mean column gradient across the band exceeds the
  untiled one by < 0.01/255 (no seam).
  """
  import os
  from film.net.config import SMALL
  from film.media.image_io import read_image
  from film.inference.interpolator import Interpolator
  from film.weights.model_io import load_model
  model = load_model(os.path.join(film_small_fixture, 'saved_model'), config=SMALL)
  seq = os.path.join(shared_dir, 'benchmarks', 'middlebury_other', 'RubberWhale')
  x0 = read_image(os.path.join(seq, 'frame10.png'))[:256, :512]
  x1 = read_image(os.path.join(seq, 'frame11.png'))[:256, :512]
  reference = Interpolator(model, precision='float32').interpolate(x0, x1, 0.5)
  tiled_interp = Interpolator(model, precision='float32', max_tile_pixels=256 * 320, tile_overlap=128)
  tiles = tiled_interp.tiles(256, 512)
  assert [(t.x0, t.w) for t in tiles] == [(0, 320), (192, 320)]
  tiled = tiled_interp.interpolate(x0, x1, 0.5)
  diff = np.abs(tiled - reference)
  band = slice(192, 320)
  outside = np.concatenate([diff[:, :192], diff[:, 320:]], axis=1)
  assert outside.max() < 1 / 255
  assert diff[:, band].max() < 8 / 255
  grad_tiled = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))
  grad_ref = np.abs(np.diff(reference, axis=1)).mean(axis=(0, 2))
  assert (grad_tiled - grad_ref).max() < 0.5 / 255
