"""`film-interpolate-batch` (film/batch/batch_cli.py) as a subprocess: exit codes, one-line errors,
and a rerun after SIGKILL mid-batch that finishes only the missing items."""
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from film.batch import jobs as batch
from tests.frames import write_frame_folders

NUM_PAIRS = 12


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
  """in/p00..p11/ (two 48x64 frames each) and in/zz_broken/ (a corrupt PNG and a valid one)."""
  root = tmp_path_factory.mktemp('in')
  rng = np.random.default_rng(0)
  last = write_frame_folders(root, NUM_PAIRS, ('frame0', 'frame1'), (48, 72, 3), 64, rng)
  os.makedirs(root / 'zz_broken')
  (root / 'zz_broken' / 'frame0.png').write_bytes(b'\x89PNG\r\n\x1a\n' + rng.bytes(500))
  assert cv2.imwrite(str(root / 'zz_broken' / 'frame1.png'), last[0])
  return root


def _command(*args):
  return [sys.executable, '-m', 'film.batch.batch_cli', *args]


def _cli(*args, timeout=300):
  return subprocess.run(_command(*args), capture_output=True, text=True,
                        timeout=timeout)


def _finished(out):
  return sorted(n for n in os.listdir(out) if os.path.isfile(out / n / batch.ITEM_RECORD))


@pytest.mark.parametrize('args, message', [
    (['--input', 'a.png', '--output_root', 'o'], '--input: single-input flags'),
    (['--inputs', 'x/*'], 'pass --output_root'),
    (['--inputs', '/nonexistent/*', '--output_root', 'o'], 'matches nothing'),
    (['--inputs', '/nonexistent/*', '--output_root', 'o', '--times_to_interpolate', '2',
      '--output_fps', '30'], 'either --times_to_interpolate or --output_fps'),
    (['--inputs', '/', '--output_root', 'o', '--runner=DirectRunner'], 'Unknown command line flag'),
    (['--inputs', '/', '--output_root', 'o', '--', 'stray'], 'pass Beam pipeline options after'),
])
def test_bad_flags_one_line_exit_2(args, message, tmp_path):
  result = _cli(*args, '--model', str(tmp_path))
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('film-interpolate-batch: error: '), lines
  assert message in lines[0]


@pytest.mark.parametrize('root, message', [
    ('INPUT', 'every item is inside --output_root'),
    ('/proc/film-batch-out', 'cannot write in /proc'),
    ('FILE/out', 'is a file, not a folder'),
])
def test_unusable_output_root_one_line_exit_2_before_any_work(root, message, folders,
                                                              tiny_model_dir, tmp_path):
  (tmp_path / 'file').write_text('x')
  root = root.replace('INPUT', str(folders)).replace('FILE', str(tmp_path / 'file'))
  before = sorted(os.listdir(folders))
  result = _cli('--inputs', str(folders / '*'), '--output_root', root, '--model', tiny_model_dir,
                '--max_memory_gb', '2', '--quiet')
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('film-interpolate-batch: error: '), lines
  assert message in lines[0]
  assert sorted(os.listdir(folders)) == before  # Nothing written among the inputs.


def test_sigkill_mid_batch_then_rerun_finishes_only_the_missing(folders, tiny_model_dir, tmp_path):
  out = tmp_path / 'out'
  args = ['--inputs', str(folders / '*'), '--output_root', str(out), '--model', tiny_model_dir,
          '--times_to_interpolate', '4', '--duplicate_threshold', '0', '--max_memory_gb', '2',
          '--quiet']
  proc = subprocess.Popen(_command(*args), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  deadline = time.time() + 240
  while proc.poll() is None and time.time() < deadline:
    if out.is_dir() and _finished(out):
      os.killpg(proc.pid, signal.SIGKILL)
      break
    time.sleep(0.02)
  proc.wait()
  assert proc.returncode == -signal.SIGKILL, 'the batch ended before it could be killed'
  before = _finished(out)
  assert 0 < len(before) < NUM_PAIRS
  # Nothing half-done looks finished: every visible item folder is complete (17 frames).
  visible = [n for n in os.listdir(out) if not n.startswith('.')]
  assert sorted(visible) == before
  for name in before:
    assert len(os.listdir(out / name / 'frames')) == 2 ** 4 + 1

  # Beam options after '--' reach the runner (here: the local runner's in-memory mode).
  result = _cli(*args[:-1], '--', '--direct_running_mode=in_memory')
  assert result.returncode == 1, result.stderr  # zz_broken failed
  failed = [line for line in result.stderr.splitlines() if ': failed: ' in line]
  assert len(failed) == 1 and 'zz_broken' in failed[0] and 'frame0.png' in failed[0]
  with open(out / batch.MANIFEST_NAME) as f:
    rows = {r['item']: r for r in map(json.loads, f)}
  assert len(rows) == NUM_PAIRS + 1
  assert sorted(n for n, r in rows.items() if r['status'] == 'skipped') == before
  assert sorted(n for n, r in rows.items() if r['status'] == 'done') == sorted(
      set(f'p{i:02d}' for i in range(NUM_PAIRS)) - set(before))
  assert rows['zz_broken']['status'] == 'failed'
  assert _finished(out) == [f'p{i:02d}' for i in range(NUM_PAIRS)]
  assert not [n for n in os.listdir(out) if n.startswith('.')]  # temporaries and run dir gone
  assert 'done' in result.stdout and 'skipped' in result.stdout


def test_flow_prior_model_in_a_batch(folders, tiny_prior_model_dir, tmp_path):
  """A DIS-prior model through the batch CLI: each item's middle frame is the Interpolator's
  (8-bit PNG, so within one code value)."""
  import shutil
  from film.inference.interpolator import Interpolator
  inputs = tmp_path / 'in'
  for name in ('p00', 'p01'):
    shutil.copytree(folders / name, inputs / name)
  out = tmp_path / 'out'
  result = _cli('--inputs', str(inputs / '*'), '--output_root', str(out), '--model',
                tiny_prior_model_dir, '--times_to_interpolate', '1', '--precision', 'float32',
                '--quiet')
  assert result.returncode == 0, result.stderr
  assert _finished(out) == ['p00', 'p01']
  interpolator = Interpolator.from_path(tiny_prior_model_dir, precision='float32')
  for name in ('p00', 'p01'):
    frames = sorted(os.listdir(out / name / 'frames'))
    assert len(frames) == 3
    x0, x1 = (cv2.imread(str(inputs / name / f'frame{j}.png'))[..., ::-1] / 255.0
              for j in range(2))
    expected = interpolator.interpolate(x0.astype(np.float32), x1.astype(np.float32), 0.5)
    got = cv2.imread(str(out / name / 'frames' / frames[1]))[..., ::-1] / 255.0
    assert np.abs(got - np.clip(expected, 0, 1)).max() <= 1.01 / 255
