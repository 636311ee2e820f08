"""Flow distillation: DIS teacher flows, their consistency masks and the 'flow_teacher' loss."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from film.datasets import schema
from film.net.model import FilmNet
from film.net.warp import warp
from film.training import input_pipeline as ip
from film.training import losses
from film.training import teacher_flow
from tests.tiny import TINY_TRAINABLE


def _texture(size: int, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  image = ndimage.gaussian_filter(rng.random((size, size, 3)), (2, 2, 0))
  return ((image - image.min()) / (image.max() - image.min())).astype(np.float32)


def test_teacher_recovers_a_known_translation_in_film_convention():
  image = _texture(160)
  x0 = image[16:144, 16:144]
  x1 = image[17:145, 14:142]  # x1[p] = image[p + (dy=1, dx=-2)], so x0[p] = x1[p + (dx=2, dy=-1)].
  teacher = teacher_flow.teacher_flows(x0, x1)
  assert teacher.shape == (128, 128, 6) and teacher.dtype == np.float32
  interior = (slice(8, -8), slice(8, -8))
  np.testing.assert_allclose(np.median(teacher[interior][..., 0]), 2.0, atol=0.05)
  np.testing.assert_allclose(np.median(teacher[interior][..., 1]), -1.0, atol=0.05)
  np.testing.assert_allclose(np.median(teacher[interior][..., 2]), -2.0, atol=0.05)
  np.testing.assert_allclose(np.median(teacher[interior][..., 3]), 1.0, atol=0.05)
  assert teacher[interior][..., 4].mean() > 0.95 and teacher[interior][..., 5].mean() > 0.95
  # FILM's warp with the teacher's 0->1 flow brings x1 onto x0 (backward warping convention).
  warped = warp(tf.constant(x1[None]), tf.constant(teacher[None, ..., 0:2])).numpy()[0]
  assert np.abs(warped[interior] - x0[interior]).mean() < 0.01


def _pyramid(flow: np.ndarray, levels: int) -> list[tf.Tensor]:
  """Level-i flows in level-i pixels: 2^i average pooling divided by 2^i (numpy)."""
  out = []
  for i in range(levels):
    s = 2 ** i
    b, h, w, c = flow.shape
    pooled = flow.reshape(b, h // s, s, w // s, s, c).mean(axis=(2, 4)) / s
    out.append(tf.constant(pooled, tf.float32))
  return out


def test_flow_teacher_loss_matches_a_hand_computed_case():
  rng = np.random.default_rng(3)
  forward = rng.normal(size=(2, 16, 16, 2)).astype(np.float32)
  backward = rng.normal(size=(2, 16, 16, 2)).astype(np.float32)
  valid = np.ones((2, 16, 16, 2), np.float32)
  teacher = np.concatenate([forward, backward, valid], axis=-1)
  prediction = {'forward_flow_pyramid': _pyramid(forward, 3),
                'backward_flow_pyramid': _pyramid(backward, 3)}
  example = {'teacher_flow': tf.constant(teacher)}
  assert float(losses.flow_teacher_loss(example, prediction)) < 1e-2  # sqrt(1e-6) floor only.
  # Predictions off by (3, 4) px at full resolution (level-i: /2^i) on every level: EPE 5;
  # invalid pixels do not count, whatever their error.
  shifted = {k: [p + tf.constant([3.0, 4.0]) / 2 ** i for i, p in enumerate(v)]
             for k, v in prediction.items()}
  np.testing.assert_allclose(float(losses.flow_teacher_loss(example, shifted)), 5.0, rtol=1e-4)
  masked = teacher.copy()
  masked[:, :8, :, 4:] = 0.0
  corrupt_top = forward.copy()
  corrupt_top[:, :8] += 50.0  # The teacher is garbage where it is masked.
  masked[..., 0:2] = corrupt_top
  masked_back = backward.copy()
  masked_back[:, :8] += 50.0
  masked[..., 2:4] = masked_back
  np.testing.assert_allclose(
      float(losses.flow_teacher_loss({'teacher_flow': tf.constant(masked)}, shifted)), 5.0,
      rtol=1e-4)


def test_flow_teacher_loss_trains_the_flow_estimator():
  model = FilmNet(TINY_TRAINABLE)
  x = tf.constant(_texture(32)[None])
  teacher = tf.zeros([1, 32, 32, 6]) + tf.constant([1.0, 0.0, -1.0, 0.0, 1.0, 1.0])
  with tf.GradientTape() as tape:
    prediction = model(x, x, tf.constant([[0.5]]), aux_outputs=True)
    loss = losses.flow_teacher_loss({'teacher_flow': teacher}, prediction)
  grads = tape.gradient(loss, model.trainable_variables)
  flow_grads = [g for g, v in zip(grads, model.trainable_variables) if 'predict_flow' in v.name]
  fusion_grads = [g for g, v in zip(grads, model.trainable_variables) if 'fusion' in v.name]
  assert flow_grads and all(g is not None for g in flow_grads)
  assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in flow_grads)
  assert all(g is None for g in fusion_grads)  # Only the flows (and features) are taught.


def test_training_dataset_adds_teacher_flows_of_the_augmented_frames(tmp_path):
  image = (_texture(96, seed=5) * 255).astype(np.uint8)
  x0, y, x1 = image[16:80, 16:80], image[16:80, 17:81], image[16:80, 18:82]  # 2 px per gap.
  with tf.io.TFRecordWriter(str(tmp_path / 'd.tfrecord')) as writer:
    writer.write(schema.make_example(x0, y, x1, path='a', time=0.5).SerializeToString())
  ds = ip.create_dataset(str(tmp_path), batch_size=2, crop_size=(32, 32),
                         augment=ip.Augmentation(random_crop=False, flip_horizontal=False,
                                                 flip_vertical=False, rot90=False,
                                                 time_reversal=True),
                         shuffle_buffer=0, seed=3, teacher_flow=True)
  batch = next(iter(ds))
  assert batch['teacher_flow'].shape == (2, 32, 32, 6)
  states = []
  for b in range(2):
    # x0[p] = x1[p + (dx=-2, 0)] before time reversal; reversed examples swap the directions.
    # Reversal is a coin flip per example: seed 3 gives one of each in this batch.
    reversed_ = np.allclose(batch['x0'][b], x1[16:48, 16:48] / 255.0, atol=1e-6)
    assert reversed_ or np.allclose(batch['x0'][b], x0[16:48, 16:48] / 255.0, atol=1e-6)
    states.append(reversed_)
    expected = 2.0 if reversed_ else -2.0
    np.testing.assert_allclose(np.median(batch['teacher_flow'][b, 8:-8, 8:-8, 0]), expected,
                               atol=0.1)
    np.testing.assert_allclose(np.median(batch['teacher_flow'][b, 8:-8, 8:-8, 2]), -expected,
                               atol=0.1)
  assert sorted(states) == [False, True]


def test_flow_teacher_loss_fits_a_fixed_batch():
  """Adam on the distillation loss alone drives the predicted flows to the teacher's."""
  tf.keras.utils.set_random_seed(0)
  model = FilmNet(dataclasses.replace(TINY_TRAINABLE, flow_filters=(8, 8, 8)))
  image = _texture(48, seed=2)
  x0, x1 = image[None, 8:40, 8:40], image[None, 9:41, 10:42]  # x0[p] = x1[p + (-2, -1)].
  teacher = tf.constant(teacher_flow.teacher_flows(x0[0], x1[0])[None])
  optimizer = tf.keras.optimizers.Adam(0.01)
  variables = [v for v in model.trainable_variables if 'fusion' not in v.name]
  history = []
  # Up to 150 steps, stopping once the loss has halved: how fast it leaves its initial plateau
  # depends on the initial weights, which differ with the random-op history of the process
  # (this test alone halves it in ~40 steps; after the rest of the suite it took longer).
  for _ in range(150):
    with tf.GradientTape() as tape:
      prediction = model(x0, x1, tf.constant([[0.5]]), aux_outputs=True)
      loss = losses.flow_teacher_loss({'teacher_flow': teacher}, prediction)
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    history.append(float(loss))
    if len(history) >= 5 and max(history[-5:]) < 0.5 * history[0]:
      break
  assert history[0] > 1.0  # An untrained network predicts ~0 flow against a ~2.2 px teacher.
  assert max(history[-5:]) < 0.5 * history[0], history  # Five steps in a row below half.
