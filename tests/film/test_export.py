"""Tests for film/weights/export.py and film/weights/export_cli.py: the serving SavedModel in a fresh process."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from film.weights import export, model_io
from film.net.model import FilmNet
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
