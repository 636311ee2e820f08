"""Tests of the tf.data reader and its augmentations, against numpy / scipy references."""
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from film.datasets import schema
from film.training import input_pipeline as ip

ONLY = {name: False for name in ('random_crop', 'flip_horizontal', 'flip_vertical', 'rot90',
                                 'time_reversal')}


def _augmentation(**on) -> ip.Augmentation:
  return ip.Augmentation(**{**ONLY, 'max_rotation_degrees': 0.0, **on})


def _coordinate_triplet(height: int, width: int, time: float = 0.25) -> dict[str, tf.Tensor]:
  """Frames whose pixels encode (row, col, frame id), so any crop/flip/rotation is traceable."""
  rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
  frames = {}
  for frame_id, key in enumerate(('x0', 'y', 'x1')):
    image = np.stack([rows / 255.0, cols / 255.0, np.full_like(rows, frame_id) / 4.0], axis=-1)
    frames[key] = tf.constant(image, tf.float32)
  return {**frames, 'time': tf.constant([time]), 'path': tf.constant('p')}


def _run(example, seed, crop_size, augmentation):
  out = ip.augment_triplet(example, tf.constant([seed, 0], tf.int64), crop_size, augmentation)
  return {k: v.numpy() for k, v in out.items()}


def test_time_reversal_swaps_frames_and_flips_time():
  example = _coordinate_triplet(6, 8, time=0.25)
  seen = set()
  for seed in range(12):
    out = _run(example, seed, None, _augmentation(time_reversal=True))
    np.testing.assert_array_equal(out['y'], example['y'].numpy())
    if out['time'][0] == pytest.approx(0.75):
      np.testing.assert_array_equal(out['x0'], example['x1'].numpy())
      np.testing.assert_array_equal(out['x1'], example['x0'].numpy())
      seen.add('reversed')
    else:
      assert out['time'][0] == pytest.approx(0.25)
      np.testing.assert_array_equal(out['x0'], example['x0'].numpy())
      np.testing.assert_array_equal(out['x1'], example['x1'].numpy())
      seen.add('kept')
  assert seen == {'reversed', 'kept'}


@pytest.mark.parametrize('flag,candidates', [
    ('flip_horizontal', [lambda a: a, lambda a: a[:, ::-1]]),
    ('flip_vertical', [lambda a: a, lambda a: a[::-1]]),
    ('rot90', [lambda a, k=k: np.rot90(a, k) for k in range(4)]),
])
def test_flips_and_rot90_match_numpy_for_all_frames(flag, candidates):
  example = _coordinate_triplet(8, 8)
  used = set()
  for seed in range(16):
    out = _run(example, seed, (8, 8), _augmentation(**{flag: True}))
    matches = [i for i, f in enumerate(candidates)
               if all(np.array_equal(out[k], f(example[k].numpy())) for k in ('x0', 'y', 'x1'))]
    assert len(matches) == 1  # One transform, the same for the three frames.
    used.add(matches[0])
  assert used == set(range(len(candidates)))


def test_rot90_on_non_square_crops_keeps_the_shape():
  example = _coordinate_triplet(10, 12)
  for seed in range(8):
    out = _run(example, seed, (4, 6), _augmentation(rot90=True, random_crop=True))
    assert out['x0'].shape == (4, 6, 3)


def test_random_crop_is_in_bounds_and_identical_across_frames():
  height, width, crop = 20, 30, (8, 12)
  example = _coordinate_triplet(height, width)
  offsets = set()
  for seed in range(20):
    out = _run(example, seed, crop, _augmentation(random_crop=True))
    top, left = (int(round(v)) for v in out['x0'][0, 0, :2] * 255.0)
    assert 0 <= top <= height - crop[0] and 0 <= left <= width - crop[1]
    for frame_id, key in enumerate(('x0', 'y', 'x1')):
      want = example[key].numpy()[top:top + crop[0], left:left + crop[1]]
      np.testing.assert_array_equal(out[key], want)
      assert np.all(out[key][..., 2] == frame_id / 4.0)
    offsets.add((top, left))
  assert len(offsets) > 5


def test_rotation_matches_scipy_on_the_interior():
  rng = np.random.default_rng(0)
  image = ndimage.gaussian_filter(rng.random((41, 53, 3)), sigma=(2, 2, 0)).astype(np.float32)
  for degrees in (4.0, -3.0, 30.0):
    got = ip.rotate(tf.constant(image), tf.constant(math.radians(degrees))).numpy()
    # scipy rotates counterclockwise (as displayed) for positive angles in the (rows, cols) plane.
    want = ndimage.rotate(image, degrees, axes=(1, 0), reshape=False, order=1, mode='nearest')
    interior = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(got[interior], want[interior], atol=1e-4)


def test_rotation_augmentation_covers_the_crop_without_borders():
  example = _coordinate_triplet(40, 40)
  augmentation = _augmentation(random_crop=True, max_rotation_degrees=5.0)
  out = _run(example, 3, (16, 16), augmentation)
  assert out['x0'].shape == (16, 16, 3)
  for frame_id, key in enumerate(('x0', 'y', 'x1')):
    np.testing.assert_allclose(out[key][..., 2], frame_id / 4.0, atol=1e-6)
  # Rows change along the columns: the content really turned.
  assert np.ptp(out['x0'][0, :, 0]) > 0


def _write_records(path, num: int, height: int = 12, width: int = 16, seed: int = 0,
                   prefix: str = 'r'):
  rng = np.random.default_rng(seed)
  with tf.io.TFRecordWriter(str(path)) as writer:
    for i in range(num):
      frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(3)]
      writer.write(schema.make_example(*frames, path=f'{prefix}{i}', time=0.5).SerializeToString())


def test_training_batches_shapes_dtypes_ranges_and_determinism(tmp_path):
  _write_records(tmp_path / 'data-00000-of-00002.tfrecord', 5, seed=1)
  _write_records(tmp_path / 'data-00001-of-00002.tfrecord', 5, seed=2, prefix='s')
  augmentation = ip.Augmentation(max_rotation_degrees=3.0)

  def first_batches(seed):
    ds = ip.create_dataset(str(tmp_path), batch_size=4, crop_size=(8, 8), augment=augmentation,
                           shuffle_buffer=8, seed=seed)
    return list(ds.take(4).as_numpy_iterator())

  batches = first_batches(7)
  for batch in batches:  # 4 batches of 4 from 10 records: it repeats.
    for key in ('x0', 'y', 'x1'):
      assert batch[key].shape == (4, 8, 8, 3) and batch[key].dtype == np.float32
      assert 0.0 <= batch[key].min() and batch[key].max() <= 1.0
    assert batch['time'].shape == (4, 1) and batch['time'].dtype == np.float32
    assert batch['path'].shape == (4,)
  assert len({p for b in batches for p in b['path']}) == 10
  again = first_batches(7)
  for a, b in zip(batches, again):
    np.testing.assert_array_equal(a['x0'], b['x0'])
  assert not np.array_equal(batches[0]['x0'], first_batches(8)[0]['x0'])


def test_eval_dataset_is_in_order_and_unaugmented(tmp_path):
  _write_records(tmp_path / 'a.tfrecord', 3, seed=3)
  full = list(ip.create_eval_dataset(str(tmp_path / 'a.tfrecord')).as_numpy_iterator())
  assert [b['path'][0] for b in full] == [b'r0', b'r1', b'r2']
  assert full[0]['x0'].shape == (1, 12, 16, 3)
  cropped = list(ip.create_eval_dataset([str(tmp_path / '*.tfrecord')], batch_size=2,
                                        crop_size=(6, 8)).as_numpy_iterator())
  assert [len(b['path']) for b in cropped] == [2, 1]
  np.testing.assert_array_equal(cropped[0]['y'][1], full[1]['y'][0][3:9, 4:12])


def test_crop_size_and_missing_files_fail(tmp_path):
  _write_records(tmp_path / 'a.tfrecord', 2)
  batch = next(iter(ip.create_dataset(str(tmp_path), batch_size=2, seed=0, crop_size=(4, 6))))
  assert batch['x0'].shape == (2, 4, 6, 3)
  with pytest.raises(FileNotFoundError, match='no TFRecord files match'):
    ip.create_dataset(str(tmp_path / 'nothing' / '*.tfrecord'), batch_size=1)
