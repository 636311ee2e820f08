"""Tests for eval/metrics.py against hand computations and scikit-image's SSIM."""
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from film.eval import metrics


def test_psnr_hand_case():
  target = np.full((1, 16, 16, 3), 0.1, np.float32)
  prediction = np.zeros_like(target)
  # MSE = 0.01 -> 10 log10(1 / 0.01) = 20 dB.
  np.testing.assert_allclose(metrics.psnr(prediction, target), [20.0], atol=1e-4)


def test_psnr_matches_numpy_formula_and_clips():
  rng = np.random.default_rng(0)
  target = rng.random((2, 24, 32, 3)).astype(np.float32)
  prediction = target + rng.normal(0, 0.2, target.shape).astype(np.float32)
  clipped = np.clip(prediction, 0, 1)
  mse = ((clipped - target) ** 2).reshape(2, -1).mean(axis=1)
  np.testing.assert_allclose(metrics.psnr(prediction, target), 10 * np.log10(1 / mse),
                             rtol=1e-4)
  # Out-of-range values equal to the target after clipping give a perfect score.
  assert np.isinf(metrics.psnr(np.full((8, 8, 3), 1.5), np.ones((8, 8, 3))))[0]


def test_ssim_matches_skimage():
  rng = np.random.default_rng(1)
  target = rng.random((40, 52, 3)).astype(np.float32)
  prediction = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1).astype(np.float32)
  expected = structural_similarity(prediction, target, gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, data_range=1, channel_axis=-1)
  np.testing.assert_allclose(metrics.ssim(prediction[None], target[None]), [expected],
                             atol=2e-4)
  np.testing.assert_allclose(metrics.ssim(target, target), [1.0], atol=1e-5)


def test_ssim_rejects_tiny_frames():
  with pytest.raises(ValueError, match='at least 11x11'):
    metrics.ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


def test_registry_and_shapes():
  assert set(metrics.METRICS) == {'psnr', 'ssim'}
  with pytest.raises(KeyError, match='unknown metric'):
    metrics.get_metric('mse')
  with pytest.raises(ValueError, match='same shape'):
    metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
  assert metrics.higher_is_better('psnr') and not metrics.higher_is_better('lpips_vgg')


def test_build_metrics_skips_lpips_without_weights(tmp_path, caplog):
  built = metrics.build_metrics(('psnr',), ('vgg',), lpips_weights_dir=str(tmp_path))
  assert list(built) == ['psnr']
  assert any('Skipping LPIPS (vgg)' in r.getMessage() for r in caplog.records)
