"""End-to-end tests of `python -m film.eval.eval_cli` and `eval.evaluate.evaluate`."""
import csv
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from film.eval import benchmarks
from film.eval import evaluate as evaluate_lib

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fake_benchmark(root, count=3, size=(48, 64)):
  """A tiny UCF101-layout benchmark of a smooth texture translating right by 2 px per frame."""
  rng = np.random.default_rng(0)
  for k in range(count):
    texture = rng.random((size[0] // 4, size[1] // 4 + 2, 3))
    texture = np.kron(texture, np.ones((4, 4, 1)))  # Blocky but textured.
    folder = os.path.join(root, f'{k + 1:02d}')
    os.makedirs(folder)
    for i, name in enumerate(benchmarks.UCF101_NAMES):
      frame = texture[:, 2 * i:2 * i + size[1]]
      Image.fromarray((frame * 255).astype(np.uint8)).save(os.path.join(folder, name + '.png'))
  return root


def _run(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  return subprocess.run([sys.executable, '-m', 'film.eval.eval_cli', *args], cwd=REPO_ROOT, env=env,
                        capture_output=True, text=True, timeout=120, check=False)


def test_cli_end_to_end(tmp_path):
  bench = _fake_benchmark(str(tmp_path / 'tiny'))
  out = str(tmp_path / 'out')
  empty_weights = str(tmp_path / 'no_weights')
  os.makedirs(empty_weights)
  result = _run(f'--benchmark_dir={bench}', f'--output_dir={out}', '--lpips=vgg',
                '--nouse_default_model',
                f'--lpips_weights_dir={empty_weights}', '--quiet')
  assert result.returncode == 0, result.stderr
  assert 'Skipping LPIPS (vgg)' in result.stderr
  with open(os.path.join(out, 'samples.csv')) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 3 * 4  # 3 samples x 4 baselines.
  assert {r['method'] for r in rows} == {'repeat', 'average', 'dis_flow', 'ffmpeg_minterpolate'}
  assert 'lpips_vgg' not in rows[0]
  table = open(os.path.join(out, 'results_table.md')).read()
  assert table.startswith('| Method | tiny (PSNR ↑ / SSIM ↑) |')
  assert '| dis_flow |' in table
  assert '## tiny (3 samples)' in open(os.path.join(out, 'summary.md')).read()
  with Image.open(os.path.join(out, 'comparison_tiny.png')) as sheet:
    assert sheet.size[0] > 600
  assert os.path.exists(os.path.join(out, 'run_info.json'))
  # A second run into the same folder needs --overwrite.
  again = _run(f'--benchmark_dir={bench}', f'--output_dir={out}', '--methods=average',
               '--nolpips', '--quiet', '--overwrite')
  assert again.returncode == 0, again.stderr


@pytest.mark.parametrize('args, message', [
    (['--benchmark_dir={tmp}/missing'], 'does not exist'),
    (['--benchmark_dir={tmp}/empty'], 'no known benchmark layout'),
    (['--benchmark_dir={tmp}/tiny', '--layout=middlebury'], 'not middlebury layout'),
    (['--benchmark_dir={tmp}/tiny', '--layout=kitti'], 'unknown layout'),
    (['--benchmark_dir={tmp}/tiny', '--methods=average,rife'], 'unknown method(s) rife'),
    (['--benchmark_dir={tmp}/tiny', '--methods=film', '--nouse_default_model'], 'needs a model'),
    (['--benchmark_dir={tmp}/tiny', '--model={tmp}/no_model'], 'does not exist'),
    (['--benchmark_dir={tmp}/tiny', '--output_dir={tmp}/full'], 'pass --overwrite'),
    (['--benchmark_dir={tmp}/tiny', '--lpips=squeeze'], 'unknown LPIPS network squeeze'),
    # Baselines only: the implicit default model is not "ignored" in a warning line first.
    (['--benchmark_dir={tmp}/tiny', '--methods=average', '--output_dir=/proc/film/o'],
     'cannot write in /proc'),
    ([], 'pass --benchmark_dir'),
])
def test_cli_bad_inputs(tmp_path, args, message):
  tmp = str(tmp_path)
  _fake_benchmark(os.path.join(tmp, 'tiny'), count=1)
  os.makedirs(os.path.join(tmp, 'empty'))
  os.makedirs(os.path.join(tmp, 'full'))
  open(os.path.join(tmp, 'full', 'keep.txt'), 'w').close()
  args = [a.format(tmp=tmp) for a in args]
  if not any(a.startswith('--output_dir') for a in args):
    args.append(f'--output_dir={tmp}/out')
  result = _run(*args) if any('--lpips' in a for a in args) else _run(*args, '--nolpips')
  assert result.returncode != 0
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1, result.stderr
  assert lines[0].startswith('film-eval: error: ') and message in lines[0]
  assert not os.path.exists(os.path.join(tmp, 'out'))
  assert os.listdir(os.path.join(tmp, 'full')) == ['keep.txt']


def test_cli_corrupt_model_is_one_plain_line(tmp_path):
  # A truncated weights.npz: the model loader's own message (file and fix), not wrapped again.
  import shutil
  from film.weights import defaults
  bench = _fake_benchmark(str(tmp_path / 'tiny'), count=1)
  model = str(tmp_path / 'model')
  shutil.copytree(defaults.DEFAULT_MODEL_DIR, model)
  weights = os.path.join(model, 'weights.npz')
  data = open(weights, 'rb').read()
  with open(weights, 'wb') as f:
    f.write(data[:len(data) // 2])
  result = _run(f'--benchmark_dir={bench}', f'--output_dir={tmp_path}/out', f'--model={model}',
                '--methods=film', '--nolpips')
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 2 and len(lines) == 1, result.stderr
  assert lines[0] == (f'film-eval: error: model weights {weights} are missing or corrupt (File '
                      'is not a zip file); reinstall or re-convert the model (film-convert), or '
                      'pass another --model')
  assert not os.path.exists(tmp_path / 'out')


def test_evaluate_with_model_method(tmp_path, monkeypatch):
  """The `film` method goes through film.inference.interpolator.Interpolator.from_path (faked here)."""
  loaded = []

  class FakeInterpolator:

    @classmethod
    def from_path(cls, path, **kwargs):
      loaded.append((path, kwargs))
      return cls()

    def interpolate(self, x0, x1, t):
      return (1 - t) * x0 + t * x1

  monkeypatch.setitem(sys.modules, 'film.inference.interpolator',
                      types.SimpleNamespace(Interpolator=FakeInterpolator))
  bench = _fake_benchmark(str(tmp_path / 'tiny'), count=2)
  model_dir = str(tmp_path / 'model')
  os.makedirs(model_dir)
  result = evaluate_lib.evaluate([bench], str(tmp_path / 'out'), model_path=model_dir,
                                 methods=['film', 'average'], progress=False, sheet_samples=1)
  assert loaded == [(model_dir, {'flip_ensemble': False, 'precision': 'auto'})]
  by_method = {}
  for row in result.rows:
    by_method.setdefault(row['method'], []).append(row['psnr'])
  assert by_method['film'] == pytest.approx(by_method['average'])
  assert sorted(os.listdir(tmp_path / 'out')) == [
      'comparison_tiny.png', 'results_table.md', 'run_info.json', 'samples.csv', 'summary.md']
  evaluate_lib.evaluate([bench], str(tmp_path / 'out2'), model_path=model_dir, methods=['film'],
                        flip_ensemble=True, precision='float32', progress=False,
                        sheet_samples=0)
  assert loaded[-1] == (model_dir, {'flip_ensemble': True, 'precision': 'float32'})


@pytest.mark.parametrize('flip', [False, True])
def test_cli_with_a_real_model_directory(tmp_path, film_small_fixture, flip):
  """`--model` with our model directory: the film row goes through the real Interpolator.

  The fixture model has reference-identical random weights, so its frames are poor; the check
  is that the CLI's PSNR for it equals a numpy PSNR of the model's own output on the same frames.
  """
  from film.weights import model_io
  from film.net.config import SMALL
  from film.inference.interpolator import Interpolator
  model = model_io.load_model(os.path.join(film_small_fixture, 'saved_model'), config=SMALL)
  model_dir = model_io.save_model(model, str(tmp_path / 'model'))
  bench = _fake_benchmark(str(tmp_path / 'tiny'), count=2, size=(40, 56))
  out = str(tmp_path / 'out')
  result = _run(f'--benchmark_dir={bench}', f'--output_dir={out}', f'--model={model_dir}',
                '--methods=film,average', '--nolpips', '--quiet',
                '--flip_ensemble' if flip else '--noflip_ensemble', '--precision=float32')
  assert result.returncode == 0, result.stderr
  with open(os.path.join(out, 'samples.csv')) as f:
    rows = list(csv.DictReader(f))
  assert sorted(r['method'] for r in rows) == ['average', 'average', 'film', 'film']
  interpolator = Interpolator(model, flip_ensemble=flip, precision='float32')
  for row in rows:
    if row['method'] != 'film':
      continue
    frames = [np.asarray(Image.open(os.path.join(bench, row['sample'], n + '.png')),
                         np.float32) / 255 for n in benchmarks.UCF101_NAMES]
    predicted = np.clip(interpolator.interpolate(frames[0], frames[2], 0.5), 0, 1)
    mse = np.mean((predicted.astype(np.float64) - frames[1]) ** 2)
    assert float(row['psnr']) == pytest.approx(10 * np.log10(1 / mse), abs=1e-3)


def test_cli_with_a_flow_prior_model(tmp_path, tiny_prior_model_dir):
  """A DIS-prior model through `film-eval`: its PSNR equals a numpy PSNR of the Interpolator's
  frame, which the Interpolator builds from DIS flows (tests/film/test_flow_prior.py)."""
  from film.inference.interpolator import Interpolator
  bench = _fake_benchmark(str(tmp_path / 'tiny'), count=2, size=(40, 56))
  out = str(tmp_path / 'out')
  result = _run(f'--benchmark_dir={bench}', f'--output_dir={out}',
                f'--model={tiny_prior_model_dir}', '--methods=film', '--nolpips', '--quiet',
                '--noflip_ensemble', '--precision=float32')
  assert result.returncode == 0, result.stderr
  with open(os.path.join(out, 'samples.csv')) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 2
  interpolator = Interpolator.from_path(tiny_prior_model_dir, precision='float32')
  for row in rows:
    frames = [np.asarray(Image.open(os.path.join(bench, row['sample'], n + '.png')),
                         np.float32) / 255 for n in benchmarks.UCF101_NAMES]
    predicted = np.clip(interpolator.interpolate(frames[0], frames[2], 0.5), 0, 1)
    mse = np.mean((predicted.astype(np.float64) - frames[1]) ** 2)
    assert float(row['psnr']) == pytest.approx(10 * np.log10(1 / mse), abs=1e-3)
