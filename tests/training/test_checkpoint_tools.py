"""Checkpoint averaging and the learning-curve tool (film.training.checkpoint_tools)."""
from __future__ import annotations

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
