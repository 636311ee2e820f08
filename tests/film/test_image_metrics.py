"""film/media/image_metrics.py: PSNR / SSIM / L1 against their definitions."""
import numpy as np
import tensorflow as tf

from film.media import image_metrics


def test_image_metrics_match_definitions():
  rng = np.random.default_rng(0)
  target = rng.uniform(size=(2, 24, 24, 3)).astype(np.float32)
  prediction = np.clip(target + rng.normal(0, 0.05, target.shape), -0.2, 1.2).astype(np.float32)
  metrics = image_metrics.image_metrics(tf.constant(prediction), tf.constant(target))
  clipped = np.clip(prediction, 0, 1)
  mse = np.mean((clipped - target) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(metrics['psnr'].numpy(), 10 * np.log10(1 / mse), rtol=1e-4)
  np.testing.assert_allclose(metrics['l1'].numpy(), np.mean(np.abs(clipped - target), axis=(1, 2, 3)),
                             rtol=1e-5)
  same = image_metrics.image_metrics(tf.constant(target), tf.constant(target))
  np.testing.assert_allclose(same['ssim'].numpy(), 1.0, atol=1e-6)
