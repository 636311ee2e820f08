"""Tests for film/weights/export.py and film/weights/export_cli.py: the serving SavedModel in a fresh process."""
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from film.inference import classical_flow
from film.net.model import FilmNet, named_variables
from film.weights import export, model_io
from tests.tiny import TINY

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  tf.random.set_seed(1)
  model = FilmNet(TINY)
  root = tmp_path_factory.mktemp('export')
  model_dir = model_io.save_model(model, str(root / 'model'))
  out = export.export_saved_model(model_io.load_model(model_dir), str(root / 'served'))
  rng = np.random.default_rng(0)
  x0 = rng.random((2, 21, 30, 3), dtype=np.float32)  # H, W not multiples of the alignment
  x1 = rng.random((2, 21, 30, 3), dtype=np.float32)
  t = np.array([[0.5], [0.25]], np.float32)
  expected = np.clip(model(x0, x1, t)['image'].numpy(), 0, 1)
  for name, value in (('x0', x0), ('x1', x1), ('t', t), ('expected', expected)):
    np.save(root / f'{name}.npy', value)
  return root, out, model_dir


def test_fresh_process_loads_and_matches(exported):
  root, out, _ = exported
  assert os.path.isfile(os.path.join(out, 'saved_model.pb'))
  assert json.load(open(os.path.join(out, 'film_export.json')))['signature'] == 'serving_default'
  assert not [n for n in os.listdir(root) if '.tmp-' in n]
  script = textwrap.dedent(f"""
      import numpy as np, tensorflow as tf
      m = tf.saved_model.load({out!r})
      d = {str(root)!r}
      x0, x1, t = (np.load(d + f'/{{n}}.npy') for n in ('x0', 'x1', 't'))
      fn = m.signatures['serving_default']
      out = fn(x0=tf.constant(x0), x1=tf.constant(x1), time=tf.constant(t))['image'].numpy()
      np.testing.assert_allclose(out, np.load(d + '/expected.npy'), atol=1e-5)
      small = fn(x0=tf.constant(x0[:1, :9, :13]), x1=tf.constant(x1[:1, :9, :13]),
                 time=tf.constant(t[:1]))['image']
      assert small.shape == (1, 9, 13, 3), small.shape
      print('OK', float(out.min()), float(out.max()))
  """)
  result = subprocess.run([sys.executable, '-c', script], env=ENV, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.startswith('OK')
  _, low, high = result.stdout.split()
  assert 0.0 <= float(low) and float(high) <= 1.0


def test_saved_model_cli_runs(exported):
  root, out, _ = exported
  cli = os.path.join(os.path.dirname(sys.executable), 'saved_model_cli')
  result = subprocess.run(
      [cli, 'run', '--dir', out, '--tag_set', 'serve', '--signature_def', 'serving_default',
       '--inputs', f'x0={root}/x0.npy;x1={root}/x1.npy;time={root}/t.npy',
       '--outdir', str(root / 'cli_out')], env=ENV, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  np.testing.assert_allclose(np.load(root / 'cli_out' / 'image.npy'),
                             np.load(root / 'expected.npy'), atol=1e-5)


def test_export_refuses_existing_output(exported):
  _, out, model_dir = exported
  model = model_io.load_model(model_dir)
  with pytest.raises(FileExistsError):
    export.export_saved_model(model, out)
  result = subprocess.run([sys.executable, '-m', 'film.weights.export_cli', '--model', model_dir,
                           '--output', out], cwd=REPO, env=ENV, capture_output=True, text=True)
  assert result.returncode != 0 and 'already exists' in result.stderr


def test_flow_prior_model_serves_with_prior_inputs(tmp_path):
  """A flow-prior model's signature takes the client's DIS flows as `forward_prior` /
  `backward_prior`; in a fresh process it matches the in-process model fed the same flows, and
  the flows matter (zero flows give another frame)."""
  tf.random.set_seed(2)
  model = FilmNet(dataclasses.replace(TINY, flow_prior='dis'))
  rng = np.random.default_rng(3)
  base = rng.random((24, 40, 3)).astype(np.float32)
  x0, x1 = base[None, :, 2:34], base[None, :, 6:38]  # 4 px pan: DIS finds real motion
  t = np.array([[0.5]], np.float32)
  model(x0, x1, t, prior_flows={'forward': np.zeros((1, 24, 32, 2), np.float32),
                                'backward': np.zeros((1, 24, 32, 2), np.float32)})
  for name, variable in named_variables(model).items():
    if 'prior_gate' in name:
      variable.assign(tf.fill(variable.shape, 0.5))
  f01, f10 = classical_flow.bidirectional_flows(x0[0], x1[0])
  fwd, bwd = f01[None], f10[None]
  expected = np.clip(model(x0, x1, t, prior_flows={'forward': fwd, 'backward': bwd})['image'], 0, 1)
  out = export.export_saved_model(model, str(tmp_path / 'served'))
  inputs = json.load(open(os.path.join(out, 'film_export.json')))['inputs']
  assert set(inputs) == {'x0', 'x1', 'time', 'forward_prior', 'backward_prior'}
  for name, value in (('x0', x0), ('x1', x1), ('t', t), ('fwd', fwd), ('bwd', bwd),
                      ('expected', expected)):
    np.save(tmp_path / f'{name}.npy', value)
  script = textwrap.dedent(f"""
      import numpy as np, tensorflow as tf
      fn = tf.saved_model.load({out!r}).signatures['serving_default']
      d = {str(tmp_path)!r}
      a = {{n: tf.constant(np.load(d + f'/{{n}}.npy')) for n in ('x0', 'x1', 't', 'fwd', 'bwd')}}
      out = fn(x0=a['x0'], x1=a['x1'], time=a['t'], forward_prior=a['fwd'],
               backward_prior=a['bwd'])['image'].numpy()
      np.testing.assert_allclose(out, np.load(d + '/expected.npy'), atol=1e-5)
      zero = fn(x0=a['x0'], x1=a['x1'], time=a['t'], forward_prior=tf.zeros_like(a['fwd']),
                backward_prior=tf.zeros_like(a['bwd']))['image'].numpy()
      print('OK', float(np.abs(out - zero).max()))
  """)
  result = subprocess.run([sys.executable, '-c', script], env=ENV, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.startswith('OK') and float(result.stdout.split()[1]) > 1e-3
