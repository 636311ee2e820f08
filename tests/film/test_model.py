"""FilmNet against the reference implementation's recorded outputs, and its input contract."""
import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from film.weights import model_io
from film.weights.model_io import load_film_checkpoint
from film.net.config import PUBLISHED, FilmConfig
from film.net.model import FilmNet, count_parameters, named_variables
from film.net.padding import pad_to_alignment
from tests.film.test_warp import _scipy_warp


@pytest.fixture(scope='module')
def reference(film_small_fixture):
  with open(os.path.join(film_small_fixture, 'manifest.json')) as f:
    config = FilmConfig.from_dict(json.load(f)['config'])
  model = load_film_checkpoint(os.path.join(film_small_fixture, 'saved_model'), config)
  return model, dict(np.load(os.path.join(film_small_fixture, 'io.npz')))


def test_matches_reference_outputs_after_conversion(reference, tmp_path):
  converted, io = reference
  # Through our own format and back, as users get it.
  model = model_io.load_model(model_io.save_model(converted, str(tmp_path / 'm')))
  out = model(io['x0'], io['x1'], io['time'], aux_outputs=True)
  for key in ('image', 'x0_warped', 'x1_warped', 'forward_flow', 'backward_flow'):
    diff = np.abs(out[key].numpy() - io[key]).max()
    assert diff <= 1e-4, f'{key}: max |diff| {diff}'


def test_time_scales_flows_linearly(reference):
  model, io = reference
  x0, x1 = io['x0'][:1], io['x1'][:1]
  out = model(x0, x1, np.array([[0.3]], np.float32), aux_outputs=True)
  back, fwd = out['backward_flow'].numpy(), out['forward_flow'].numpy()
  np.testing.assert_allclose(out['x0_warped'].numpy(), _scipy_warp(x0, 0.3 * back), atol=1e-4)
  np.testing.assert_allclose(out['x1_warped'].numpy(), _scipy_warp(x1, 0.7 * fwd), atol=1e-4)
  mid = model(x0, x1, np.array([[0.5]], np.float32))['image'].numpy()
  assert np.abs(out['image'].numpy() - mid).max() > 1e-3  # time is honoured, not fixed to 0.5


def test_time_flows_both_combines_the_two_flows(reference, tmp_path):
  plain, io = reference
  both = FilmNet(dataclasses.replace(plain.config, time_flows='both'))
  model_io.assign_weights(both, {n: v.numpy() for n, v in named_variables(plain).items()},
                          'fixture')  # Same variables: only the time flows differ.
  x0, x1, t = io['x0'][:1], io['x1'][:1], 0.3
  out = both(x0, x1, np.array([[t]], np.float32), aux_outputs=True)
  back, fwd = out['backward_flow'].numpy(), out['forward_flow'].numpy()
  # Super SloMo's linear-motion flows from time t, written out by hand.
  flow_t0 = t * t * back - t * (1 - t) * fwd
  flow_t1 = (1 - t) * (1 - t) * fwd - t * (1 - t) * back
  np.testing.assert_allclose(out['x0_warped'].numpy(), _scipy_warp(x0, flow_t0), atol=1e-4)
  np.testing.assert_allclose(out['x1_warped'].numpy(), _scipy_warp(x1, flow_t1), atol=1e-4)
  # Same estimated flows as FILM's combination, different frame.
  film_out = plain(x0, x1, np.array([[t]], np.float32), aux_outputs=True)
  np.testing.assert_allclose(back, film_out['backward_flow'].numpy(), atol=1e-5)
  assert np.abs(out['image'].numpy() - film_out['image'].numpy()).max() > 1e-3
  # Ends: at t = 0 and t = 1 the frames come back unwarped, as with FILM's flows.
  ends = both(x0, x1, np.array([[0.0]], np.float32), aux_outputs=True)
  np.testing.assert_allclose(ends['x0_warped'].numpy(), x0, atol=1e-6)
  # Saved with the model; files written before the field existed load as FILM.
  path = model_io.save_model(both, str(tmp_path / 'both'))
  assert model_io.load_model(path).config.time_flows == 'both'
  assert FilmConfig.from_dict({k: v for k, v in PUBLISHED.to_dict().items()
                               if k != 'time_flows'}).time_flows == 'film'


def test_any_size_and_end_times(reference):
  model, io = reference
  x0 = io['x0'][:, 10:107, 20:151]  # 97 x 131: not a multiple of 16
  x1 = io['x1'][:, 10:107, 20:151]
  t0 = model(x0, x1, np.zeros((2, 1), np.float32), aux_outputs=True)
  t1 = model(x0, x1, np.ones((2, 1), np.float32), aux_outputs=True)
  assert t0['image'].shape == (2, 97, 131, 3)
  assert t0['forward_flow'].shape == (2, 97, 131, 2)
  np.testing.assert_allclose(t0['x0_warped'].numpy(), x0, atol=1e-6)
  np.testing.assert_allclose(t1['x1_warped'].numpy(), x1, atol=1e-6)


@pytest.mark.parametrize('h,w,align', [(97, 131, 16), (5, 3, 64), (64, 64, 64)])
def test_padding_is_symmetric_reflection(h, w, align):
  x = np.random.default_rng(0).random((1, h, w, 2)).astype(np.float32)
  padded, box = pad_to_alignment(tf.constant(x), align)
  top, left = int(box[0]), int(box[1])
  ph, pw = padded.shape[1], padded.shape[2]
  assert ph % align == 0 and pw % align == 0 and ph - h < align and pw - w < align
  # numpy's 'symmetric' mode only reaches one period; tile for pads larger than the image.
  ref = x
  while ref.shape[1] < h + 2 * align or ref.shape[2] < w + 2 * align:
    ref = np.pad(ref, ((0, 0), (ref.shape[1], ref.shape[1]), (ref.shape[2], ref.shape[2]), (0, 0)),
                 mode='symmetric')
  cy, cx = (ref.shape[1] - h) // 2, (ref.shape[2] - w) // 2
  np.testing.assert_array_equal(padded.numpy(), ref[:, cy - top:cy - top + ph,
                                                     cx - left:cx - left + pw])
  np.testing.assert_array_equal(padded.numpy()[:, top:top + h, left:left + w], x)


def test_published_config_has_film_variables(shared_dir):
  with open(os.path.join(shared_dir, 'fixtures', 'film_reference',
                         'film_net_published_variables.json')) as f:
    published = json.load(f)
  assert FilmConfig.from_dict(published['config']) == PUBLISHED
  model = FilmNet(PUBLISHED)
  expected = {name[:-2]: tuple(shape) for name, shape in published['variables']}
  got = {name: tuple(v.shape) for name, v in named_variables(model).items()}
  assert len(got) == 82
  assert got == expected
  assert count_parameters(model) == published['num_parameters'] == 34_436_667


def test_config_validation():
  with pytest.raises(ValueError, match='fusion_pyramid_levels must be <= pyramid_levels'):
    FilmConfig(pyramid_levels=3, fusion_pyramid_levels=5)
  with pytest.raises(ValueError, match='specialized_levels \\+ 1'):
    FilmConfig(flow_convs=(3, 3), flow_filters=(32, 64))
  with pytest.raises(ValueError, match='Unknown FILM config keys'):
    FilmConfig.from_dict({'pyramid_level': 3})
  with pytest.raises(ValueError, match="time_flows must be one of film, both \\(got 'linear'\\)"):
    FilmConfig(time_flows='linear')


def test_bfloat16_compute_against_the_reference_with_float32_warps(reference):
  model, io = reference
  out = model(io['x0'], io['x1'], io['time'], aux_outputs=True, compute_dtype=tf.bfloat16)
  for key in ('image', 'x0_warped', 'forward_flow', 'backward_flow'):
    assert out[key].dtype == tf.float32
  # Measured: max |diff| 0.0136 (3.5/255), mean 0.0024 on the reference's float32 outputs.
  diff = np.abs(out['image'].numpy() - io['image'])
  assert diff.max() < 0.03 and diff.mean() < 0.005
  # Warps read the float32 image (a bfloat16 copy would be off by up to 2**-9 = 0.002): the
  # warped frame is scipy's warp of x0 by the (bfloat16-estimated) flow scaled by t = 0.5.
  np.testing.assert_allclose(out['x0_warped'].numpy()[:1],
                             _scipy_warp(io['x0'][:1], 0.5 * out['backward_flow'].numpy()[:1]),
                             atol=1e-4)


def test_both_flow_directions_in_one_batch_match_the_reference(reference):
  model, io = reference
  f0, f1 = model.extract(io['x0']), model.extract(io['x1'])
  for batched in (True, False):
    flows = model.estimate_flows(f0, f1, batched=batched)
    assert len(flows['forward']) == model.config.fusion_pyramid_levels
    for name in ('forward', 'backward'):  # 128x192 needs no padding at alignment 16.
      np.testing.assert_allclose(flows[name][0].numpy(), io[name + '_flow'], atol=1e-4)


def test_flow_scale_estimates_flows_on_the_downscaled_pair(reference):
  """flow_scale 0.5: flow levels 1.. are those of the same weights run on the 2x2-averaged
  frames with one pyramid level less; level 0 is their bilinear x2 upsampling."""
  model, io = reference
  config = model.config
  x0, x1 = io['x0'][:1], io['x1'][:1]  # 128 x 192: multiples of 2 * alignment, no padding
  f0, f1 = model.extract(x0, flow_scale=0.5), model.extract(x1, flow_scale=0.5)
  flows = model.estimate_flows(f0, f1)
  shallow = FilmNet(dataclasses.replace(config, pyramid_levels=config.pyramid_levels - 1,
                                        fusion_pyramid_levels=config.pyramid_levels - 1))
  weights = named_variables(model)
  for name, variable in named_variables(shallow).items():  # Same extractor and estimators (the
    if not name.startswith('fusion/'):                      # deepest levels share one).
      variable.assign(weights[name])
  pool = lambda x: x.reshape(1, 64, 2, 96, 2, 3).mean(axis=(2, 4))
  expected = shallow.estimate_flows(shallow.extract(pool(x0)), shallow.extract(pool(x1)))
  for name in ('forward', 'backward'):
    assert [f.shape[1] for f in flows[name]] == [128, 64, 32, 16, 8]
    for got, want in zip(flows[name][1:], expected[name]):
      np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)
    np.testing.assert_allclose(flows[name][0].numpy(), tf.image.resize(
        2 * expected[name][0], [128, 192]).numpy(), atol=1e-5)
  image = model(x0, x1, np.array([[0.5]], np.float32), flow_scale=0.5)['image']
  assert image.shape == x0.shape
  with pytest.raises(ValueError, match='flow_scale must be 1, 0.5, 0.25'):
    model.extract(x0, flow_scale=0.3)


def test_residual_fusion_adds_the_time_weighted_blend_of_warped_frames(reference, tmp_path):
  plain, io = reference
  config = dataclasses.replace(plain.config, residual_fusion=True)
  residual = FilmNet(config)
  arrays = {n: v.numpy() for n, v in named_variables(plain).items()}
  model_io.assign_weights(residual, arrays, 'fixture')  # Same variables: only the head differs.
  x0, x1, t = io['x0'][:1, :64, :96], io['x1'][:1, :64, :96], np.array([[0.3]], np.float32)
  a = plain(x0, x1, t, aux_outputs=True)
  b = residual(x0, x1, t, aux_outputs=True)
  blend = 0.7 * a['x0_warped'].numpy() + 0.3 * a['x1_warped'].numpy()
  np.testing.assert_allclose(b['image'].numpy() - a['image'].numpy(), blend, atol=1e-5)
  # The flag is part of the saved config; files written before it existed load as FILM.
  path = model_io.save_model(residual, str(tmp_path / 'r'))
  assert model_io.load_model(path).config.residual_fusion is True
  assert FilmConfig.from_dict({k: v for k, v in PUBLISHED.to_dict().items()
                               if k != 'residual_fusion'}).residual_fusion is False
