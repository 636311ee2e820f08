"""Flow colour wheel and summary writing (training/summaries.py)."""
from __future__ import annotations

import glob
import os

import numpy as np
import tensorflow as tf

from film.training import summaries


def _hsv(flow: list[tuple[float, float]], max_magnitude=None) -> np.ndarray:
  flow = tf.constant(np.asarray(flow, np.float32).reshape(1, 1, -1, 2))
  rgb = summaries.flow_to_rgb(flow, max_magnitude)
  assert rgb.shape == (1, 1, flow.shape[2], 3)
  return tf.image.rgb_to_hsv(rgb).numpy()[0, 0]


def test_flow_directions_have_known_hues():
  # right, down (rows grow downwards), left, up, down-right.
  diagonal = 0.5 ** 0.5
  hsv = _hsv([(1, 0), (0, 1), (-1, 0), (0, -1), (diagonal, diagonal)])
  np.testing.assert_allclose(hsv[:, 0] % 1.0, [0.0, 0.25, 0.5, 0.75, 0.125], atol=1e-3)
  np.testing.assert_allclose(hsv[:, 1:], 1.0, atol=1e-5)  # Full magnitude: saturated, bright.
  rgb = summaries.flow_to_rgb(tf.constant([[[[1.0, 0.0], [-3.0, 0.0]]]]), 3.0).numpy()[0, 0]
  np.testing.assert_allclose(rgb[0], [1, 2 / 3, 2 / 3], atol=1e-5)  # Right, 1/3: pale red.
  np.testing.assert_allclose(rgb[1], [0, 1, 1], atol=1e-5)  # Left, full: cyan.


def test_flow_magnitude_sets_saturation_and_zero_is_white():
  hsv = _hsv([(0, 0), (2, 0), (4, 0), (8, 0)], max_magnitude=4.0)
  np.testing.assert_allclose(hsv[:, 1], [0.0, 0.5, 1.0, 1.0], atol=1e-5)
  np.testing.assert_allclose(hsv[:, 2], 1.0)
  rgb = summaries.flow_to_rgb(tf.zeros([2, 3, 4, 2])).numpy()
  np.testing.assert_allclose(rgb, 1.0)  # No motion anywhere: white, no division by zero.


def test_summaries_are_readable_events(tmp_path):
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    summaries.write_scalar('a/loss', 0.25, step=7)
    summaries.write_images('a/image', tf.fill([3, 5, 6, 3], 2.0), step=7, max_outputs=2)
  writer.flush()
  values = {}
  for path in glob.glob(os.path.join(str(tmp_path), 'events.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for v in event.summary.value:
        values[v.tag] = (event.step, v.metadata.plugin_data.plugin_name,
                         tf.make_ndarray(v.tensor))
  assert values['a/loss'][:2] == (7, 'scalars') and values['a/loss'][2] == np.float32(0.25)
  step, plugin, tensor = values['a/image']
  assert (step, plugin, tensor.shape) == (7, 'images', (4,))  # width, height, 2 PNGs.
  assert (tensor[0], tensor[1]) == (b'6', b'5')
  png = tf.io.decode_png(tensor[2]).numpy()
  assert png.shape == (5, 6, 3) and png.min() == 255  # Clipped to 1.
