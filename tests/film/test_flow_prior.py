"""The DIS flow prior (`FilmConfig.flow_prior = 'dis'`): at step 0 (gates 0) the estimator's flows
are exactly the prior's pyramid (numpy reference: 2x2 means, values halved per level); the
FILM path is untouched; the Interpolator computes DIS per tile; warm start from a no-prior model.
"""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from film.inference import classical_flow
from film.inference.interpolator import Interpolator
from film.net.model import FilmNet, named_variables
from film.net import pyramid
from film.weights import model_io
from film.training import train as train_lib
from tests.tiny import TINY

PRIOR = dataclasses.replace(TINY, flow_prior='dis')


def _numpy_flow_pyramid(flow: np.ndarray, levels: int) -> list[np.ndarray]:
  out = [flow]
  for _ in range(levels - 1):
    f = out[-1]
    b, h, w, c = f.shape
    out.append(0.5 * f.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)))
  return out


def _pair(seed: int = 0, h: int = 24, w: int = 32, shift: int = 3):
  rng = np.random.default_rng(seed)
  base = rng.random((h, w + shift, 3)).astype(np.float32)
  for _ in range(2):
    base = (base + np.roll(base, 1, 0) + np.roll(base, 1, 1)) / 3
  return base[:, shift:shift + w], base[:, :w]


def _zero_flows(h: int, w: int) -> dict:
  return {k: np.zeros((1, h, w, 2), np.float32) for k in ('forward', 'backward')}


def _set_gates(model: FilmNet, value: float) -> list[str]:
  names = [n for n in named_variables(model) if 'prior_gate' in n]
  for name in names:
    variable = named_variables(model)[name]
    variable.assign(tf.fill(variable.shape, value))
  return names


def test_build_flow_pyramid_matches_numpy():
  flow = np.random.default_rng(1).normal(size=(2, 16, 24, 2)).astype(np.float32)
  got = pyramid.build_flow_pyramid(tf.constant(flow), 4)
  for a, b in zip(got, _numpy_flow_pyramid(flow, 4)):
    np.testing.assert_allclose(a.numpy(), b, atol=1e-6)


@pytest.mark.parametrize('levels', ['all', 'coarsest'])
def test_step_zero_flows_are_the_prior(levels):
  tf.random.set_seed(0)
  model = FilmNet(dataclasses.replace(PRIOR, flow_prior_levels=levels))
  x0, x1 = (x[None] for x in _pair())
  rng = np.random.default_rng(2)
  prior = {k: rng.normal(scale=2.0, size=(1, 24, 32, 2)).astype(np.float32)
           for k in ('forward', 'backward')}
  out = model(x0, x1, np.array([[0.5]], np.float32), aux_outputs=True, prior_flows=prior)
  names = _set_gates(model, 0.0)
  assert names and all(named_variables(model)[n].trainable for n in names)
  for key in ('forward', 'backward'):
    expected = _numpy_flow_pyramid(prior[key], PRIOR.pyramid_levels)
    got = out[f'{key}_flow_pyramid']
    if levels == 'all':  # every level is the prior's
      for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-4)
    else:  # only the coarsest starts from it; finer levels add the learned residuals
      np.testing.assert_allclose(got[-1].numpy(), expected[-1], atol=1e-4)
      assert np.abs(got[0].numpy() - expected[0]).max() > 1e-3


def test_gates_change_the_flows_and_the_prior_is_required():
  tf.random.set_seed(0)
  model = FilmNet(PRIOR)
  x0, x1 = (x[None] for x in _pair())
  t = np.array([[0.5]], np.float32)
  zero = _zero_flows(24, 32)
  base = model(x0, x1, t, aux_outputs=True, prior_flows=zero)['forward_flow'].numpy()
  _set_gates(model, 1.0)
  gated = model(x0, x1, t, aux_outputs=True, prior_flows=zero)['forward_flow'].numpy()
  assert np.abs(gated - base).max() > 1e-4  # the gate scales the learned residuals
  with pytest.raises(ValueError, match='flow prior: pass prior_flows'):
    model(x0, x1, t)


def test_film_path_has_no_prior_variables_and_refuses_prior_flows():
  plain, prior = FilmNet(TINY), FilmNet(PRIOR)
  x0, x1 = (x[None] for x in _pair())
  t = np.array([[0.5]], np.float32)
  plain(x0, x1, t)
  prior(x0, x1, t, prior_flows=_zero_flows(24, 32))
  extra = set(named_variables(prior)) - set(named_variables(plain))
  assert extra and all('prior_gate' in n for n in extra)
  assert set(named_variables(plain)) == set(named_variables(prior)) - extra
  with pytest.raises(ValueError, match='no flow prior'):
    plain(x0, x1, t, prior_flows=_zero_flows(24, 32))


@pytest.fixture(scope='module')
def prior_model_dir(tmp_path_factory):
  tf.random.set_seed(3)
  model = FilmNet(PRIOR)
  x0, x1 = (x[None] for x in _pair())
  model(x0, x1, np.array([[0.5]], np.float32), prior_flows=_zero_flows(24, 32))
  _set_gates(model, 0.5)
  return model_io.save_model(model, str(tmp_path_factory.mktemp('prior') / 'model'))


def test_interpolator_feeds_dis_flows(prior_model_dir):
  """Untiled, the Interpolator equals the model called on DIS flows of the whole frame."""
  x0, x1 = _pair(seed=4, h=30, w=44)  # not a multiple of the alignment: padding inside
  interpolator = Interpolator.from_path(prior_model_dir, precision='float32')
  got = interpolator.interpolate(x0, x1, 0.25)
  model = model_io.load_model(prior_model_dir)
  f01, f10 = classical_flow.bidirectional_flows(x0, x1)
  expected = model(x0[None], x1[None], np.array([[0.25]], np.float32),
                   prior_flows={'forward': f01[None], 'backward': f10[None]})['image'][0]
  np.testing.assert_allclose(got, np.clip(expected.numpy(), 0, 1), atol=2e-5)
  assert interpolator.seconds['prior'] > 0


def test_interpolator_with_prior_tiles_and_flow_scale(prior_model_dir):
  x0, x1 = _pair(seed=5, h=64, w=96)
  whole = Interpolator.from_path(prior_model_dir, precision='float32').interpolate(x0, x1, 0.5)
  tiled_interp = Interpolator.from_path(prior_model_dir, precision='float32',
                                        max_tile_pixels=48 * 48, tile_overlap=16)
  assert len(tiled_interp.tiles(64, 96)) > 1
  tiled = tiled_interp.interpolate(x0, x1, 0.5)
  assert tiled.shape == whole.shape and np.abs(tiled - whole).mean() < 0.02
  coarse = Interpolator.from_path(prior_model_dir, precision='float32', flow_scale=0.5)
  half = coarse.interpolate(x0, x1, 0.5)
  assert half.shape == (64, 96, 3) and np.isfinite(half).all()
  frames = list(coarse.interpolate_recursively([x0, x1, x0], times_to_interpolate=2))
  assert len(frames) == 2 * 4 + 1


def test_warm_start_from_a_model_without_prior(tmp_path):
  tf.random.set_seed(6)
  source = FilmNet(TINY)
  x0, x1 = (x[None] for x in _pair())
  t = np.array([[0.5]], np.float32)
  source(x0, x1, t)
  path = model_io.save_model(source, str(tmp_path / 'src'))
  target = FilmNet(PRIOR)
  train_lib.warm_start(target, path)
  for name, variable in named_variables(target).items():
    if 'prior_gate' in name:
      np.testing.assert_array_equal(variable.numpy(), 0.0)
    else:
      np.testing.assert_array_equal(variable.numpy(), named_variables(source)[name].numpy())
