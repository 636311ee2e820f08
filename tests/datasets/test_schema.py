"""Tests of the triplet record format."""
import numpy as np
import pytest
import tensorflow as tf

from film.datasets import schema


def test_round_trip_of_arrays_and_png_bytes():
  rng = np.random.default_rng(1)
  x0, y, x1 = (rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(3))
  example = schema.make_example(x0, schema.encode_png(y), x1, 'clip/000001', 0.25)
  feature = example.features.feature
  assert feature['frame_1/format'].bytes_list.value[0] == b'png'
  assert feature['frame_2/height'].int64_list.value[0] == 5
  assert feature['frame_2/width'].int64_list.value[0] == 7

  parsed = schema.parse_example(tf.constant(example.SerializeToString()))
  for key, want in (('x0', x0), ('y', y), ('x1', x1)):
    assert parsed[key].dtype == tf.float32 and parsed[key].shape == (5, 7, 3)
    np.testing.assert_allclose(parsed[key].numpy(), want / 255.0, atol=1e-6)
  np.testing.assert_allclose(parsed['time'].numpy(), [0.25])
  assert parsed['path'].numpy() == b'clip/000001'


def test_record_without_time_reads_as_middle():
  """Reference-FILM records have no `time` key."""
  example = schema.make_example(*(np.zeros((2, 2, 3), np.uint8),) * 3, path='a')
  del example.features.feature['time']
  parsed = schema.parse_example(tf.constant(example.SerializeToString()))
  np.testing.assert_allclose(parsed['time'].numpy(), [0.5])


def test_bad_inputs_raise():
  frame = np.zeros((4, 4, 3), np.uint8)
  with pytest.raises(ValueError, match='differ in size'):
    schema.make_example(frame, frame, np.zeros((4, 5, 3), np.uint8), 'p')
  with pytest.raises(ValueError, match='strictly between'):
    schema.make_example(frame, frame, frame, 'p', 1.0)
  with pytest.raises(ValueError, match='uint8'):
    schema.encode_png(frame.astype(np.float32))
  with pytest.raises(ValueError, match='not PNG'):
    schema.png_size(b'GIF89a' + bytes(30))
