"""The FILM checkpoint converter: complete mapping, strict errors, CLI."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from film.weights import checkpoint_convert, model_io
from film.net.config import PUBLISHED, SMALL, FilmConfig


def _write_film_style_checkpoint(folder: str, arrays: dict) -> str:
  """Writes variables the way a Keras SavedModel does: variables/<i> with Keras full names."""
  variables = [tf.Variable(value, name=name) for name, value in arrays.items()]
  prefix = os.path.join(folder, 'variables', 'variables')
  tf.train.Checkpoint(variables=variables).write(prefix)
  return folder


def _published_arrays(shared_dir: str, fusion_offset: int = 0) -> dict:
  with open(os.path.join(shared_dir, 'fixtures', 'film_reference',
                         'film_net_published_variables.json')) as f:
    published = json.load(f)
  rng = np.random.default_rng(0)
  arrays = {}
  for name, shape in published['variables']:
    name = name[:-2]
    if fusion_offset and name.startswith('fusion/conv2d'):
      index = name.split('/')[1].replace('conv2d', '').lstrip('_') or '0'
      name = f'fusion/conv2d_{int(index) + fusion_offset}/' + name.split('/')[2]
    # Small random values: enough to check that each array lands in its own variable.
    arrays[name] = rng.standard_normal(shape).astype(np.float32) * 0.01
  return arrays


def test_converter_maps_every_published_variable(shared_dir, tmp_path):
  # Keras numbers auto-named layers per process: a release may say conv2d_13.. instead of conv2d.
  arrays = _published_arrays(shared_dir, fusion_offset=13)
  folder = _write_film_style_checkpoint(str(tmp_path / 'film'), arrays)
  read = checkpoint_convert.read_film_variables(folder)
  assert len(read) == 82
  config = checkpoint_convert.infer_config(read, pyramid_levels=7)
  assert config == PUBLISHED
  model = model_io.load_film_checkpoint(folder)  # default depth: published 7
  variables = {n: v.numpy() for n, v in model_io.named_variables(model).items()}
  np.testing.assert_array_equal(variables['fusion/conv2d/kernel'],
                                arrays['fusion/conv2d_13/kernel'])
  np.testing.assert_array_equal(variables['fusion/conv2d_12/bias'],
                                arrays['fusion/conv2d_25/bias'])
  np.testing.assert_array_equal(variables['predict_flow/flow_predictor_shared/conv_0/kernel'],
                                arrays['predict_flow/flow_predictor_shared/conv_0/kernel'])


def test_reads_fixture_and_infers_small_config(film_small_fixture):
  read = checkpoint_convert.read_film_variables(os.path.join(film_small_fixture, 'saved_model'))
  assert checkpoint_convert.infer_config(read, pyramid_levels=5) == SMALL


def test_missing_variable_is_an_error_listing_it(film_small_fixture, tmp_path):
  arrays = checkpoint_convert.read_film_variables(os.path.join(film_small_fixture, 'saved_model'))
  del arrays['fusion/conv2d_4/bias']
  folder = _write_film_style_checkpoint(str(tmp_path / 'partial'), arrays)
  with pytest.raises(model_io.ModelLoadError, match=r'missing 1: \[.fusion/conv2d_4/bias.\]'):
    model_io.load_film_checkpoint(folder, SMALL)


def test_wrong_config_is_an_error(film_small_fixture):
  wrong = FilmConfig(pyramid_levels=5, fusion_pyramid_levels=5, filters=32)
  with pytest.raises(model_io.ModelLoadError, match='shape mismatch'):
    model_io.load_film_checkpoint(os.path.join(film_small_fixture, 'saved_model'), wrong)


def test_not_a_checkpoint(tmp_path):
  with pytest.raises(model_io.ModelLoadError, match='No FILM checkpoint found'):
    checkpoint_convert.read_film_variables(str(tmp_path))
  (tmp_path / 'variables').mkdir()
  (tmp_path / 'variables' / 'variables.index').write_bytes(b'garbage')
  with pytest.raises(model_io.ModelLoadError, match='Cannot read checkpoint'):
    checkpoint_convert.read_film_variables(str(tmp_path))


def _run_cli(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  return subprocess.run([sys.executable, '-m', 'film.weights.convert_cli', *args], capture_output=True,
                        text=True, env=env, timeout=120)


def test_convert_cli(film_small_fixture, tmp_path):
  out = tmp_path / 'small'
  src = tmp_path / 'release'
  shutil.copytree(os.path.join(film_small_fixture, 'saved_model'), src / 'saved_model')
  result = _run_cli(f'--film_saved_model={src}', f'--output={out}', '--pyramid_levels=5')
  assert result.returncode == 0, result.stderr
  assert model_io.read_manifest(str(out))['config'] == SMALL.to_dict()
  # Existing output without --overwrite: refused, untouched.
  before = (out / 'weights.npz').stat().st_mtime_ns
  again = _run_cli(f'--film_saved_model={src}', f'--output={out}', '--pyramid_levels=5')
  assert again.returncode != 0 and 'already exists' in again.stderr.strip().splitlines()[-1]
  assert (out / 'weights.npz').stat().st_mtime_ns == before
  # A missing input and a folder without a checkpoint: one line, exit 2, nothing written.
  missing = _run_cli(f'--film_saved_model={tmp_path / "nope"}', f'--output={tmp_path / "x"}')
  assert missing.returncode == 2
  assert missing.stderr.strip().splitlines() == [
      f'film-convert: error: {tmp_path / "nope"} does not exist; '
      'pass a FILM SavedModel or checkpoint']
  (tmp_path / 'empty').mkdir()
  empty = _run_cli(f'--film_saved_model={tmp_path / "empty"}', f'--output={tmp_path / "x"}')
  assert empty.returncode == 2 and len(empty.stderr.strip().splitlines()) == 1
  assert 'No FILM checkpoint found' in empty.stderr
  assert not (tmp_path / 'x').exists()


def test_reads_a_training_checkpoint_with_optimizer_state(film_small_fixture, tmp_path):
  """FILM training checkpoints hold model variables beside optimizer slots and counters."""
  arrays = checkpoint_convert.read_film_variables(os.path.join(film_small_fixture, 'saved_model'))
  model_vars = [tf.Variable(value, name=name) for name, value in arrays.items()]
  slots = [tf.Variable(np.zeros_like(value), name=f'Adam/{name}/m')
           for name, value in list(arrays.items())[:3]]
  checkpoint = tf.train.Checkpoint(model=tf.Module(), optimizer=tf.Module(),
                                   step=tf.Variable(1234, dtype=tf.int64, name='global_step'))
  checkpoint.model.variables_list = model_vars
  checkpoint.optimizer.slots = slots
  manager = tf.train.CheckpointManager(checkpoint, str(tmp_path / 'train_dir'), max_to_keep=1)
  manager.save()
  (tmp_path / 'train_dir' / 'config.gin').write_text('model.pyramid_levels = 5\n')
  model = model_io.load_film_checkpoint(str(tmp_path / 'train_dir'))
  assert model.config == SMALL  # depth read from the gin file beside the checkpoint
  got = model_io.named_variables(model)['fusion/conv2d_7/kernel'].numpy()
  np.testing.assert_array_equal(got, arrays['fusion/conv2d_7/kernel'])
