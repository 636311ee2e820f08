"""Stop signals and concurrent publishing, with real signals sent to real command-line processes.

* SIGTERM / SIGHUP / SIGINT while `film-interpolate` decodes and infers, while it encodes, while
  it adds the audio and between publishing two outputs: exit 128 + signal, one line saying what
  was kept, no temporary left, nothing partial, inputs untouched (`film.cli`, `film.media.atomic`).
* Two runs on the same output at once: without --overwrite exactly one publishes and the other
  exits 2 naming the output; with --overwrite both finish and the output is one run's, whole.
* A stale temporary of a killed run is removed by the next run over that output; a live run's
  temporary and unrelated files are not.
* The batch CLI, film-eval and the record job stopped by SIGTERM (film-train: tests/training).
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from film.media import atomic, video_io
from tests.frames import write_frame_folders

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=REPO)
CODES = {signal.SIGTERM: 143, signal.SIGHUP: 129, signal.SIGINT: 130}


def _digest(folder) -> dict[str, str]:
  out = {}
  for root, _, files in os.walk(folder):
    for name in files:
      path = os.path.join(root, name)
      out[os.path.relpath(path, folder)] = hashlib.sha256(open(path, 'rb').read()).hexdigest()
  return out


def _hidden(folder) -> list[str]:
  """Every hidden entry under `folder` (temporaries are hidden: `.NAME.tmp-...`)."""
  found = []
  for root, dirs, files in os.walk(folder):
    found += [os.path.join(root, n) for n in dirs + files if n.startswith('.')]
  return found


@pytest.fixture(scope='module')
def clip(tmp_path_factory) -> str:
  """2 s, 12 fps, 160x96 moving texture with an AAC track (long enough to be interrupted)."""
  folder = tmp_path_factory.mktemp('clip')
  path = str(folder / 'in.mp4')
  subprocess.run([video_io.ffmpeg_exe(), '-v', 'error', '-f', 'lavfi', '-i',
                  'testsrc2=size=160x96:rate=12', '-f', 'lavfi', '-i', 'sine=frequency=440',
                  '-t', '2', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-c:a', 'aac',
                  '-shortest', path], check=True)
  return path


def _interpolate(*args: str) -> list[str]:
  return [sys.executable, '-m', 'film.inference.interpolate_cli', '--quiet', *args]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return True
    if proc.poll() is not None:
      return False
    time.sleep(0.01)
  return False


def _temp_of(path) -> list[str]:
  parent, base = os.path.split(str(path))
  return [n for n in os.listdir(parent) if n.startswith(f'.{base}{atomic.TEMP_MARK}')]


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
  _, err = proc.communicate(timeout=120)
  return proc.returncode, err.decode(errors='replace')


def _assert_one_line(err: str, *needles: str) -> None:
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1, err
  for needle in needles:
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_during_inference_leaves_nothing(clip, tiny_model_dir, tmp_path, signum):
  """Stopped while frames are being made (frame folder and video temporaries both exist)."""
  before = _digest(os.path.dirname(clip))
  out_dir, out_video = tmp_path / 'frames', tmp_path / 'slow.mp4'
  proc = subprocess.Popen(_interpolate('--input', clip, '--model', tiny_model_dir,
                                       '--times_to_interpolate', '3', '--output_dir',
                                       str(out_dir), '--output_video', str(out_video)),
                          env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

  def frames_being_written():
    temps = _temp_of(out_dir)
    return bool(temps) and len(os.listdir(tmp_path / temps[0])) >= 3

  assert _wait_for(frames_being_written, proc), 'the run ended before it could be stopped'
  proc.send_signal(signum)
  code, err = _finish(proc)
  assert code == CODES[signum], err
  _assert_one_line(err, 'interrupted by', 'no output was published')
  assert os.listdir(tmp_path) == [], os.listdir(tmp_path)
  assert _digest(os.path.dirname(clip)) == before


def test_sigterm_during_encode_kills_ffmpeg_and_leaves_nothing(clip, tiny_model_dir, tmp_path):
  out_video = tmp_path / 'slow.mp4'
  proc = subprocess.Popen(_interpolate('--input', clip, '--model', tiny_model_dir,
                                       '--times_to_interpolate', '3', '--output_video',
                                       str(out_video)),
                          env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

  def encoding():
    temps = _temp_of(out_video)
    return bool(temps) and os.path.getsize(tmp_path / temps[0]) > 0

  assert _wait_for(encoding, proc), 'the run ended before it could be stopped'
  proc.terminate()
  code, err = _finish(proc)
  assert code == 143, err
  _assert_one_line(err, 'interrupted by SIGTERM')
  assert os.listdir(tmp_path) == []
  ffmpeg = subprocess.run(['pgrep', '-f', str(tmp_path)], capture_output=True, text=True)
  assert ffmpeg.stdout.strip() == '', 'an ffmpeg child outlived the run'


_AT_PUBLISH = textwrap.dedent('''
    import os, signal, sys
    from film.media import atomic, video_encode
    from film.inference import interpolate_cli
    WHEN = sys.argv.pop(1)
    real_publish, real_mux = atomic.publish, video_encode.mux_audio
    def publish(tmp, final, overwrite=False):  # (frames inside the temporary folder too)
      output = os.path.basename(final) in ('frames', 'slow.mp4')
      if WHEN == 'before_first' and output:
        os.kill(os.getpid(), signal.SIGTERM)
      real_publish(tmp, final, overwrite)
      if WHEN == 'between' and os.path.basename(final) == 'frames':  # published first
        os.kill(os.getpid(), signal.SIGTERM)
    def mux(*args):
      if WHEN == 'mux':
        os.kill(os.getpid(), signal.SIGTERM)
      return real_mux(*args)
    atomic.publish, video_encode.mux_audio = publish, mux
    interpolate_cli.run()
''')


@pytest.mark.parametrize('when', ['mux', 'before_first', 'between'])
def test_sigterm_at_publish_keeps_only_finished_outputs(clip, tiny_model_dir, tmp_path, when):
  """The signal is sent by the process to itself at that point of `pipeline.run`."""
  out_dir, out_video = tmp_path / 'frames', tmp_path / 'slow.mp4'
  result = subprocess.run(
      [sys.executable, '-c', _AT_PUBLISH, when, '--input', clip, '--model', tiny_model_dir,
       '--times_to_interpolate', '1', '--output_dir', str(out_dir), '--output_video',
       str(out_video), '--quiet'], env=ENV, capture_output=True, text=True, timeout=180)
  assert result.returncode == 143, result.stderr
  if when == 'between':  # the frame folder was published first: kept, whole
    _assert_one_line(result.stderr, 'interrupted by SIGTERM', 'kept', str(out_dir))
    assert sorted(os.listdir(tmp_path)) == ['frames']
    assert len(os.listdir(out_dir)) == video_io.probe_video(clip).num_frames * 2
  else:
    _assert_one_line(result.stderr, 'interrupted by SIGTERM', 'no output was published')
    assert os.listdir(tmp_path) == []


def _frame_count(path) -> int:
  return video_io.probe_video(str(path)).num_frames


def test_concurrent_runs_never_replace_each_other(clip, tiny_model_dir, tmp_path):
  """Both start before either publishes (they pass the up-front check together)."""
  out = tmp_path / 'slow.mp4'
  procs = [subprocess.Popen(_interpolate('--input', clip, '--model', tiny_model_dir,
                                         '--times_to_interpolate', '1', '--output_video',
                                         str(out)),
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
           for _ in range(2)]
  results = [_finish(p) for p in procs]
  codes = sorted(code for code, _ in results)
  assert codes == [0, 2], results
  loser = next(err for code, err in results if code == 2)
  _assert_one_line(loser, str(out))
  assert 'appeared while this run was working' in loser or 'already exists' in loser
  assert _frame_count(out) == _frame_count(clip) * 2
  assert sorted(os.listdir(tmp_path)) == ['slow.mp4']


def test_concurrent_frame_folders_never_mix(clip, tiny_model_dir, tmp_path):
  out = tmp_path / 'frames'
  procs = [subprocess.Popen(_interpolate('--input', clip, '--model', tiny_model_dir,
                                         '--times_to_interpolate', '1', '--output_dir', str(out)),
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
           for _ in range(2)]
  results = [_finish(p) for p in procs]
  assert sorted(code for code, _ in results) == [0, 2], results
  assert len(os.listdir(out)) == _frame_count(clip) * 2
  assert sorted(os.listdir(tmp_path)) == ['frames']


def test_concurrent_overwrite_runs_both_finish_whole(clip, tiny_model_dir, tmp_path):
  out_video, out_dir = tmp_path / 'slow.mp4', tmp_path / 'frames'
  procs = [subprocess.Popen(_interpolate('--input', clip, '--model', tiny_model_dir,
                                         '--times_to_interpolate', '1', '--output_video',
                                         str(out_video), '--output_dir', str(out_dir),
                                         '--overwrite'),
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
           for _ in range(2)]
  results = [_finish(p) for p in procs]
  assert [code for code, _ in results] == [0, 0], results
  assert _frame_count(out_video) == _frame_count(clip) * 2
  assert len(os.listdir(out_dir)) == _frame_count(clip) * 2
  assert sorted(os.listdir(tmp_path)) == ['frames', 'slow.mp4']


def test_next_run_removes_only_stale_temporaries(clip, tiny_model_dir, tmp_path):
  out = tmp_path / 'slow.mp4'
  dead = subprocess.Popen([sys.executable, '-c', 'pass'])
  dead.wait()
  alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])
  host = atomic._HOST  # pylint: disable=protected-access
  names = {'stale': f'.slow.mp4{atomic.TEMP_MARK}{host}-{dead.pid}-ab12cd.mp4',
           'live': f'.slow.mp4{atomic.TEMP_MARK}{host}-{alive.pid}-ef34gh.mp4',
           'other_host': f'.slow.mp4{atomic.TEMP_MARK}0badf00d-{dead.pid}-ij56kl.mp4',
           'unrelated': '.slow.mp4.tmp-notours', 'user': 'notes.txt',
           'other_output': f'.other.mp4{atomic.TEMP_MARK}{host}-{dead.pid}-mn78op.mp4'}
  try:
    for name in names.values():
      (tmp_path / name).write_bytes(b'x')
    stale_dir = tmp_path / f'.slow.mp4{atomic.TEMP_MARK}{host}-{dead.pid}-qr90st'
    os.makedirs(stale_dir / 'sub')
    result = subprocess.run(_interpolate('--input', clip, '--model', tiny_model_dir,
                                         '--times_to_interpolate', '1', '--output_video',
                                         str(out)), env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    left = set(os.listdir(tmp_path))
    assert names['stale'] not in left and stale_dir.name not in left
    assert left == {'slow.mp4'} | {v for k, v in names.items() if k != 'stale'}
  finally:
    alive.kill()
    alive.wait()


# ------------------------------------------------------------------------- other commands

def _pair_folders(root, count: int) -> None:
  write_frame_folders(root, count, ('frame0', 'frame1'), (64, 100, 3), 96,
                      np.random.default_rng(0))


@pytest.mark.parametrize('workers', [1, 2])
def test_batch_sigterm_keeps_finished_items_only(tiny_model_dir, tmp_path, workers):
  """In-process, and with two local Beam worker processes (killed with the job; their item
  temporaries are removed by the driver)."""
  inputs, out = tmp_path / 'in', tmp_path / 'out'
  _pair_folders(inputs, 8)
  before = _digest(inputs)
  args = [sys.executable, '-m', 'film.batch.batch_cli', '--inputs', str(inputs / '*'),
          '--output_root', str(out), '--model', tiny_model_dir, '--times_to_interpolate', '5',
          '--duplicate_threshold', '0', '--quiet', '--num_workers', str(workers)]
  proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  finished = lambda: out.is_dir() and any(
      (out / n / 'film_batch_item.json').is_file() for n in os.listdir(out))
  assert _wait_for(finished, proc, timeout=240), 'the batch ended before it could be stopped'
  proc.terminate()
  code, err = _finish(proc)
  assert code == 143, err
  if workers == 1:
    _assert_one_line(err, 'interrupted by SIGTERM', 'finished items are kept')
  else:  # (Beam's worker processes log their start-up to stderr)
    assert 'finished items are kept' in err.strip().splitlines()[-1]
  assert _hidden(out) == [], _hidden(out)  # no item temporaries, no run folder
  assert subprocess.run(['pgrep', '-f', str(out)], capture_output=True).stdout == b''
  done = sorted(os.listdir(out))
  assert 0 < len(done) < 8
  for name in done:
    assert len(os.listdir(out / name / 'frames')) == 2 ** 5 + 1
  assert _digest(inputs) == before
  if workers > 1:
    return
  result = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr
  assert sorted(n for n in os.listdir(out) if not n.endswith('.jsonl')) == [
      f'p{i:02d}' for i in range(8)]
  assert _hidden(out) == []


def _triplets(root, count: int) -> None:
  write_frame_folders(root, count, ('frame0', 'frame1', 'frame2'), (96, 140, 3), 128,
                      np.random.default_rng(1), prefix='')


def test_eval_sigterm_writes_no_report(tiny_model_dir, tmp_path):
  bench, out = tmp_path / 'bench', tmp_path / 'results' / 'run1'
  _triplets(bench, 40)
  proc = subprocess.Popen([sys.executable, '-m', 'film.eval.eval_cli', f'--benchmark_dir={bench}',
                           f'--output_dir={out}', f'--model={tiny_model_dir}',
                           '--methods=film,dis_flow', '--nolpips', '--flip_ensemble'],
                          env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  time.sleep(0.5)
  deadline = time.time() + 60
  while proc.poll() is None and time.time() < deadline and not any(
      'tensorflow' in line for line in open(f'/proc/{proc.pid}/maps', errors='replace')):
    time.sleep(0.05)  # until the model is being loaded (TensorFlow mapped into the process)
  time.sleep(2.0)
  assert proc.poll() is None, 'the evaluation ended before it could be stopped'
  proc.terminate()
  code, err = _finish(proc)
  assert code == 143, err
  _assert_one_line(err, 'interrupted by SIGTERM')
  assert not os.path.exists(tmp_path / 'results'), os.listdir(tmp_path / 'results')


def test_record_job_sigterm_leaves_no_output(clip, tmp_path):
  out = tmp_path / 'records'
  proc = subprocess.Popen([sys.executable, '-m', 'film.datasets.create_tfrecords_cli',
                           '--dataset=video', f'--input={clip}', f'--output_dir={out}',
                           '--num_shards=2'],
                          env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  assert _wait_for(lambda: bool(_temp_of(out)), proc, timeout=120), \
      'the record job ended before it could be stopped'
  proc.terminate()
  code, err = _finish(proc)
  assert code == 143, err
  assert 'interrupted by SIGTERM' in err.strip().splitlines()[-1]
  assert os.listdir(tmp_path) == [], os.listdir(tmp_path)
