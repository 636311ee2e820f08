"""film/inference/classical_flow.py: the forward-backward consistency check and backward sampling."""
import numpy as np

from film.inference import classical_flow


def test_consistency_mask_rejects_inconsistent_flows():
  forward = np.zeros((16, 16, 2), np.float32)
  forward[..., 0] = 3.0
  consistent = np.zeros_like(forward)
  consistent[..., 0] = -3.0
  assert classical_flow.consistency_mask(forward, consistent).min() == 1.0
  # |f + b|^2 = 9 > 0.01 * (9 + 0) + 0.5: a static backward flow contradicts a 3 px forward one.
  assert classical_flow.consistency_mask(forward, np.zeros_like(forward)).max() == 0.0
  # Just inside the bound: |f + b| = 0.6, 0.36 < 0.01 * (9 + 5.76) + 0.5 = 0.6476.
  nearly = consistent.copy()
  nearly[..., 0] = -2.4
  assert classical_flow.consistency_mask(forward, nearly).min() == 1.0


def test_backward_sample_follows_the_flow():
  image = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
  flow = np.zeros((5, 6, 2), np.float32)
  flow[..., 0] = 1.0  # out[y, x] = image[y, x + 1] (edge clamped).
  out = classical_flow.backward_sample(image, flow)
  np.testing.assert_allclose(out[:, :-1], image[:, 1:])
  np.testing.assert_allclose(out[:, -1], image[:, -1])
