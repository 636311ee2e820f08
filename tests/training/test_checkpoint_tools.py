"""Checkpoint averaging and the learning-curve tool (film.training.checkpoint_tools)."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from film.weights import model_io
from film.net.model import FilmNet, named_variables
from film.training import checkpoint_tools
from tests.tiny import TINY_TRAINABLE as CONFIG


def run_with_checkpoints(run_dir, steps):
  """A run folder with checkpoints whose every weight equals the step number."""
  os.makedirs(os.path.join(run_dir, 'checkpoints'))
  with open(os.path.join(run_dir, 'run_info.json'), 'w') as f:
    json.dump({'configs': {'model': CONFIG.to_dict()}}, f)
  model = FilmNet(CONFIG)
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(model=model, step=step)
  for s in steps:
    for v in model.trainable_variables:
      v.assign(tf.fill(v.shape, float(s)))
    step.assign(s)
    checkpoint.write(os.path.join(run_dir, 'checkpoints', f'ckpt-{s}'))
  return model


def test_average_of_checkpoints_and_a_model(tmp_path):
  run = str(tmp_path / 'run')
  model = run_with_checkpoints(run, [250, 500, 750])
  assert sorted(checkpoint_tools.checkpoint_steps(run)) == [250, 500, 750]
  for v in model.trainable_variables:
    v.assign(tf.fill(v.shape, 1500.0))
  extra = model_io.save_model(model, str(tmp_path / 'extra'))
  out = checkpoint_tools.average(run, [250, 750], str(tmp_path / 'avg'), 'float16',
                                 also_models=[extra], metadata={'why': 'test'})
  manifest = model_io.read_manifest(out)
  assert manifest['storage_dtype'] == 'float16'
  assert manifest['metadata']['averaged'] == ['ckpt-250', 'ckpt-750', 'extra']
  assert manifest['metadata']['why'] == 'test'
  loaded = model_io.load_model(out)
  for name, v in named_variables(loaded).items():
    np.testing.assert_allclose(v.numpy(), (250 + 750 + 1500) / 3, rtol=1e-3, err_msg=name)


def test_average_names_missing_steps(tmp_path):
  run = str(tmp_path / 'run')
  run_with_checkpoints(run, [250])
  with pytest.raises(ValueError, match=r'no checkpoint for steps \[500\]'):
    checkpoint_tools.average(run, [250, 500], str(tmp_path / 'avg'))


def test_records_replace_paths_and_skip_checkpoints(tmp_path):
  run = str(tmp_path / 'run')
  run_with_checkpoints(run, [250])
  with open(os.path.join(run, 'data_manifest.json'), 'w') as f:
    json.dump({'train': [{'path': '/abs/data/natural/records_box/x.tfrecord'}]}, f)
  with open(os.path.join(run, 'operative_config.gin'), 'w') as f:
    f.write("training.init_model = '/abs/data/init/model'\n")
  log = tmp_path / 'train.log'
  log.write_text('I step 240/1000 loss 1\nI step 250/1000 loss 2\nI Run /abs/runs/run: x\n'
                 'oneDNN noise\n')
  out = str(tmp_path / 'records')
  written = checkpoint_tools.copy_records(run, out, [('/abs/data', 'DATA'), ('/abs/runs', 'RUNS')],
                                          str(log), log_every=50)
  assert sorted(written) == ['data_manifest.json', 'operative_config.gin', 'run_info.json',
                             'train_log.txt']
  assert not os.path.exists(os.path.join(out, 'checkpoints'))
  with open(os.path.join(out, 'data_manifest.json')) as f:
    assert 'DATA/natural/records_box' in f.read()
  with open(os.path.join(out, 'train_log.txt')) as f:
    assert f.read() == 'I step 250/1000 loss 2\nI Run RUNS/run: x\n'


def _prior_model(config, seed):
  """A prior model with random weights and gates of very different sizes per level."""
  tf.keras.utils.set_random_seed(seed)
  model = FilmNet(config)
  rng = np.random.default_rng(seed)
  for v in model.trainable_variables:
    v.assign(rng.normal(scale=0.3, size=v.shape).astype(np.float32))
  gates = np.array([0.12, -0.05, 0.02, 0.004, 0.01][:config.pyramid_levels], np.float32)
  named_variables(model)['predict_flow/prior_gate'].assign(gates)
  return model, gates


def test_unit_gates_keeps_the_function_and_scales_the_output_convs():
  # 4 levels, 2 specialized: predictors 0 and 1 serve one level each, the shared one levels 2, 3.
  config = dataclasses.replace(CONFIG, pyramid_levels=4, fusion_pyramid_levels=3,
                               flow_prior='dis', flow_prior_levels='all')
  model, gates = _prior_model(config, 0)
  rng = np.random.default_rng(1)
  x0, x1 = (rng.uniform(size=(1, 32, 48, 3)).astype(np.float32) for _ in range(2))
  prior = {k: rng.normal(scale=1.5, size=(1, 32, 48, 2)).astype(np.float32)
           for k in ('forward', 'backward')}
  t = np.array([[0.4]], np.float32)
  before = model(x0, x1, t, aux_outputs=True, prior_flows=prior)
  arrays = {n: v.numpy() for n, v in named_variables(model).items()}
  out = checkpoint_tools.unit_gates(arrays, config)
  # Hand-computed: predictor i's last conv times max |gate| of its levels, gates divided by it.
  np.testing.assert_allclose(out['predict_flow/prior_gate'],
                             [1.0, -1.0, 0.02 / 0.02, 0.004 / 0.02], rtol=1e-6)
  for predictor, scale in (('flow_predictor_0', 0.12), ('flow_predictor_1', 0.05),
                           ('flow_predictor_shared', 0.02)):
    for part in ('kernel', 'bias'):
      name = f'predict_flow/{predictor}/conv_{config.flow_convs[0] + 1}/{part}'
      np.testing.assert_allclose(out[name], arrays[name] * scale, rtol=1e-6)
  unchanged = [n for n in arrays if 'prior_gate' not in n and f'conv_{config.flow_convs[0] + 1}/'
               not in n]
  assert unchanged and all(np.array_equal(out[n], arrays[n]) for n in unchanged)
  moved = FilmNet(config)
  model_io.assign_weights(moved, out, 'unit gates')
  after = moved(x0, x1, t, aux_outputs=True, prior_flows=prior)
  for key in ('image', 'forward_flow', 'backward_flow'):
    np.testing.assert_allclose(after[key].numpy(), before[key].numpy(), rtol=1e-4, atol=1e-4)


def test_unit_gates_refuses_models_it_cannot_move(tmp_path):
  plain = FilmNet(CONFIG)
  arrays = {n: v.numpy() for n, v in named_variables(plain).items()}
  with pytest.raises(ValueError, match="flow_prior_levels='all'"):
    checkpoint_tools.unit_gates(arrays, CONFIG)
  config = dataclasses.replace(CONFIG, flow_prior='dis', flow_prior_levels='all')
  fresh = FilmNet(config)  # gates still 0: a prior model that never trained
  arrays = {n: v.numpy() for n, v in named_variables(fresh).items()}
  with pytest.raises(ValueError, match='gates are all 0'):
    checkpoint_tools.unit_gates(arrays, config)
  with pytest.raises(SystemExit, match='error: .*gates are all 0'):
    checkpoint_tools.main(['unit-gates', '--model',
                           model_io.save_model(fresh, str(tmp_path / 'fresh')),
                           '--output', str(tmp_path / 'out')])
  assert not os.path.exists(tmp_path / 'out')
