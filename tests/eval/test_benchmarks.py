"""Tests for eval/benchmarks.py: layout detection and readers on tiny fake folders."""
import os

import numpy as np
import pytest
from PIL import Image

from film.eval import benchmarks
from film.eval.benchmarks import BenchmarkError


def _write(path, seed, size=(12, 16)):
  """Writes a seeded random RGB PNG and returns its float32 [0,1] content."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  rng = np.random.default_rng(seed)
  image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
  Image.fromarray(image).save(path)
  return image.astype(np.float32) / 255.0


def _triplet_folder(folder, names, seed):
  return [_write(os.path.join(folder, name + '.png'), seed + i) for i, name in enumerate(names)]


def test_middlebury_layout(tmp_path):
  expected = {}
  for k, seq in enumerate(['Urban', 'Grove']):
    expected[seq] = _triplet_folder(str(tmp_path / seq), benchmarks.MIDDLEBURY_NAMES, 10 * k)
  assert benchmarks.detect_layout(str(tmp_path)) == 'middlebury'
  bench = benchmarks.open_benchmark(str(tmp_path))
  assert bench.layout == 'middlebury' and len(bench) == 2 and bench.name == tmp_path.name
  samples = list(bench)
  assert [s.name for s in samples] == ['Grove', 'Urban']
  for sample in samples:
    x0, y, x1 = expected[sample.name]
    np.testing.assert_array_equal(sample.x0, x0)
    np.testing.assert_array_equal(sample.y, y)
    np.testing.assert_array_equal(sample.x1, x1)
    assert sample.t == 0.5 and sample.x0.dtype == np.float32


def test_ucf101_layout_and_max_samples(tmp_path):
  for k in range(3):
    _triplet_folder(str(tmp_path / f'{k + 1:02d}'), benchmarks.UCF101_NAMES, k)
  assert benchmarks.detect_layout(str(tmp_path)) == 'ucf101'
  bench = benchmarks.open_benchmark(str(tmp_path), max_samples=2)
  assert len(bench) == 2 and [s.name for s in bench] == ['01', '02']


def test_vimeo90k_layout(tmp_path):
  frames = _triplet_folder(str(tmp_path / 'sequences' / '00001' / '0389'),
                           benchmarks.VIMEO_NAMES, 5)
  (tmp_path / 'tri_testlist.txt').write_text('00001/0389\n\n')
  assert benchmarks.detect_layout(str(tmp_path)) == 'vimeo90k'
  (sample,) = list(benchmarks.open_benchmark(str(tmp_path)))
  assert sample.name == '00001/0389'
  np.testing.assert_array_equal(sample.y, frames[1])
  (tmp_path / 'tri_testlist.txt').write_text('00001/0389\n00002/0001\n')
  with pytest.raises(BenchmarkError, match='00002/0001'):
    benchmarks.open_benchmark(str(tmp_path))


def test_xiph_layout_single_clip_and_clip_folders(tmp_path):
  clip = tmp_path / 'clip'
  frames = [_write(str(clip / f'{i:03d}.png'), i) for i in range(1, 6)]
  assert benchmarks.detect_layout(str(clip)) == 'xiph'
  samples = list(benchmarks.open_benchmark(str(clip)))
  assert [s.name for s in samples] == ['002', '003', '004']
  np.testing.assert_array_equal(samples[1].x0, frames[1])
  np.testing.assert_array_equal(samples[1].y, frames[2])
  np.testing.assert_array_equal(samples[1].x1, frames[3])
  for i in range(8, 12):  # Numeric (not lexical) order: 8, 9, 10, 11.
    _write(str(tmp_path / 'other' / f'frame{i}.png'), 100 + i)
  assert benchmarks.detect_layout(str(tmp_path)) == 'xiph'
  names = [s.name for s in benchmarks.open_benchmark(str(tmp_path))]
  assert names == ['clip/002', 'clip/003', 'clip/004', 'other/frame9', 'other/frame10']


def test_triplets_layout_nested_mixed_names_and_single_folder(tmp_path):
  _triplet_folder(str(tmp_path / 'a' / 'b'), benchmarks.UCF101_NAMES, 0)
  _triplet_folder(str(tmp_path / 'c'), benchmarks.MIDDLEBURY_NAMES, 3)
  assert benchmarks.detect_layout(str(tmp_path)) == 'triplets'
  assert [s.name for s in benchmarks.open_benchmark(str(tmp_path))] == ['a/b', 'c']
  single = str(tmp_path / 'c')
  assert benchmarks.detect_layout(single) == 'triplets'
  assert [s.name for s in benchmarks.open_benchmark(single)] == ['c']


def test_tfrecord_layout(tmp_path):
  schema = pytest.importorskip('film.datasets.schema')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  frames = [rng.integers(0, 256, (10, 14, 3), dtype=np.uint8) for _ in range(3)]
  path = str(tmp_path / 'test.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(schema.make_example(*frames, path='clip/7', time=0.25).SerializeToString())
    writer.write(schema.make_example(*frames, path='clip/8').SerializeToString())
  assert benchmarks.detect_layout(path) == 'tfrecord'
  assert benchmarks.detect_layout(str(tmp_path)) == 'tfrecord'
  bench = benchmarks.open_benchmark(path)
  assert len(bench) == 2 and bench.name == 'test'
  first, second = list(bench)
  assert (first.name, second.name) == ('clip/7', 'clip/8')
  assert first.t == pytest.approx(0.25) and second.t == pytest.approx(0.5)
  np.testing.assert_allclose(first.y, frames[1] / 255.0, atol=1e-6)


@pytest.mark.parametrize('make, layout, message', [
    (lambda root: root / 'missing', None, 'does not exist'),
    (lambda root: root, None, 'no known benchmark layout'),
    (lambda root: root, 'kitti', 'unknown layout'),
    (lambda root: root, 'vimeo90k', 'tri_testlist.txt not found'),
])
def test_bad_paths_and_layouts(tmp_path, make, layout, message):
  with pytest.raises(BenchmarkError, match=message) as info:
    benchmarks.open_benchmark(str(make(tmp_path)), layout)
  assert '\n' not in str(info.value) and ';' in str(info.value)  # one line: problem; fix


def test_wrong_explicit_layout_and_size_mismatch(tmp_path):
  _triplet_folder(str(tmp_path / '01'), benchmarks.UCF101_NAMES, 0)
  with pytest.raises(BenchmarkError, match='not middlebury layout'):
    benchmarks.open_benchmark(str(tmp_path), 'middlebury')
  _write(str(tmp_path / '01' / 'frame1.png'), 9, size=(13, 16))
  with pytest.raises(BenchmarkError, match='differ in size'):
    list(benchmarks.open_benchmark(str(tmp_path)))
  (tmp_path / 'notes.txt').write_text('x')
  with pytest.raises(BenchmarkError, match='not a TFRecord'):
    benchmarks.detect_layout(str(tmp_path / 'notes.txt'))
