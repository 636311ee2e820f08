"""Classical optical flow as a teacher for FILM's flow estimator (flow distillation).

FILM learns its flows only through the photometric losses, which is slow to bootstrap on a
2-core CPU. `teacher_flows` computes OpenCV DIS flows (`film.inference.classical_flow`, the `dis_flow`
baseline's settings) between the two input frames of a (cropped, augmented) training example,
with a forward-backward consistency mask, and `training.losses` ('flow_teacher') pulls the
predicted flow pyramids towards them.

Conventions match `film.FilmNet`'s `forward_flow` / `backward_flow`: (dx, dy) pixel offsets,
`x0[y, x] ~ x1[y + f01[y,x,1], x + f01[y,x,0]]` and symmetrically for `f10`.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from film.inference import classical_flow

# Channels of the teacher tensor: flow 0->1 (dx, dy), flow 1->0 (dx, dy), valid0, valid1.
TEACHER_CHANNELS = 6


def teacher_flows(x0: np.ndarray, x1: np.ndarray,
                  config: classical_flow.DisConfig = classical_flow.DEFAULT_DIS_CONFIG
                  ) -> np.ndarray:
  """DIS flows between `x0` and `x1` with their validity masks.

  Args:
    x0, x1: `[H,W,3]` float32 in [0,1].
    config: DIS settings (default: the `dis_flow` baseline's).

  Returns:
    `[H,W,6]` float32: flow 0->1 (dx, dy), flow 1->0 (dx, dy), valid0, valid1 (in {0, 1};
    `classical_flow.consistency_mask`).
  """
  flow_01, flow_10 = classical_flow.bidirectional_flows(np.asarray(x0, np.float32),
                                                        np.asarray(x1, np.float32), config)
  valid0 = classical_flow.consistency_mask(flow_01, flow_10)
  valid1 = classical_flow.consistency_mask(flow_10, flow_01)
  return np.concatenate([flow_01, flow_10, valid0[..., None], valid1[..., None]], axis=-1)


def prior_flows(teacher: tf.Tensor) -> dict[str, tf.Tensor]:
  """The `prior_flows` of a flow-prior `FilmNet` from `teacher_flow` [B,h,w,6]: the same DIS
  flows ({'forward': 0->1, 'backward': 1->0} [B,h,w,2]), so one DIS run per example serves the
  model's prior and the 'flow_teacher' loss."""
  return {'forward': teacher[..., 0:2], 'backward': teacher[..., 2:4]}


def batch_prior_flows(x0: tf.Tensor, x1: tf.Tensor) -> dict[str, tf.Tensor]:
  """DIS `prior_flows` of a batch `x0`, `x1` [B,H,W,3] in [0,1] (full frames, e.g. in-training
  evaluation); {'forward', 'backward'} [B,H,W,2] float32."""

  def flows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = [np.concatenate(classical_flow.bidirectional_flows(u, v), axis=-1) for u, v in zip(a, b)]
    return np.stack(out).astype(np.float32)

  both = tf.numpy_function(flows, [x0, x1], tf.float32, stateful=False)
  both = tf.reshape(both, tf.concat([tf.shape(x0)[:3], [4]], 0))
  return {'forward': both[..., 0:2], 'backward': both[..., 2:4]}


def add_teacher_flows(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
  """Adds `teacher_flow` `[h,w,6]` (see `teacher_flows`) to one example `{x0, x1, ...}`."""
  teacher = tf.numpy_function(teacher_flows, [example['x0'], example['x1']], tf.float32,
                              stateful=False)
  # numpy_function loses the shape: restore it (and check it at run time).
  teacher = tf.ensure_shape(teacher, example['x0'].shape[:2] + [TEACHER_CHANNELS])
  return {**example, 'teacher_flow': teacher}
