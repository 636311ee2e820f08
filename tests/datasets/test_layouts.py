"""Bad inputs give one-line errors naming the problem and the fix."""
import os
import subprocess
import sys

import numpy as np
import pytest

from film.cli import UserError, user_error_message
from film.datasets import beam_pipeline
from film.datasets import layouts
from film.datasets.frames import InputError
from tests.datasets.fakes import write_png

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _one_line(excinfo) -> str:
  message = str(excinfo.value)
  assert '\n' not in message and ': ' in message  # "<problem>: <fix>"
  return message


def test_vimeo_errors(vimeo_root, tmp_path):
  root, _ = vimeo_root
  with pytest.raises(InputError) as e:
    layouts.find_vimeo_triplets(str(tmp_path / 'missing'))
  assert 'is not a folder' in _one_line(e)
  os.remove(os.path.join(root, 'tri_testlist.txt'))
  with pytest.raises(InputError, match='tri_testlist.txt is missing: pass the unzipped'):
    layouts.find_vimeo_triplets(root, 'test')
  with open(os.path.join(root, 'tri_trainlist.txt'), 'w') as f:
    f.write('\n\n')
  with pytest.raises(InputError, match='lists no triplets'):
    layouts.find_vimeo_triplets(root)
  with open(os.path.join(root, 'tri_trainlist.txt'), 'w') as f:
    f.write('00001/0001\n00009/0001\n')
  with pytest.raises(InputError) as e:
    layouts.find_vimeo_triplets(root)
  assert '00009/0001 lacks' in _one_line(e) and 'remove it from the list' in str(e.value)


def test_other_layout_errors(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(InputError, match='no Middlebury sequence'):
    layouts.find_middlebury_triplets(str(tmp_path / 'empty'))
  with pytest.raises(InputError, match='no UCF101 triplet folders'):
    layouts.find_ucf101_triplets(str(tmp_path / 'empty'))
  write_png(str(tmp_path / 'ucf' / '1' / 'frame0.png'), np.zeros((4, 4, 3), np.uint8))
  with pytest.raises(InputError, match='UCF101 triplet 1 lacks .*frame1.png'):
    layouts.find_ucf101_triplets(str(tmp_path / 'ucf'))
  with pytest.raises(InputError, match='no clip folders'):
    layouts.find_frame_folder_clips(str(tmp_path / 'empty'))
  (tmp_path / 'xiph' / 'clip').mkdir(parents=True)
  with pytest.raises(InputError, match='no image files'):
    layouts.find_frame_folder_clips(str(tmp_path / 'xiph'))
  with pytest.raises(InputError, match='neither a video file'):
    layouts.find_clips(str(tmp_path / 'nothing_here'))
  with pytest.raises(InputError, match='does not exist'):
    layouts.find_clips(str(tmp_path / 'missing.mp4'))


def test_unreadable_video(tmp_path):
  bad = tmp_path / 'broken.mp4'
  bad.write_bytes(b'this is not a video' * 100)
  (clip,) = layouts.find_clips(str(bad))
  with pytest.raises(UserError) as e:
    beam_pipeline.create_clip_records([clip], str(tmp_path / 'out'))
  assert 'not a readable video' in _one_line(e) and 'broken.mp4' in str(e.value)
  assert not (tmp_path / 'out').exists()


def test_user_error_message_unwraps_runner_errors():
  wrapped = RuntimeError('Traceback ...\n  File "x.py"\ndatasets.frames.InputError: cannot decode '
                         "a.png (UnidentifiedImageError): replace or remove the file [while "
                         "running 'ToRecord']\nmore")
  assert user_error_message(wrapped) == (
      'cannot decode a.png (UnidentifiedImageError): replace or remove the file')
  assert user_error_message(RuntimeError('something else')) is None


def test_cli_reports_bad_input_in_one_line(tmp_path):
  done = subprocess.run(
      [sys.executable, '-m', 'film.datasets.create_tfrecords_cli', '--dataset=vimeo',
       f'--input={tmp_path}', f'--output_dir={tmp_path / "out"}'],
      cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
  assert done.returncode == 2
  assert done.stderr.strip().splitlines() == [
      f'film-create-tfrecords: error: {tmp_path}/tri_trainlist.txt is missing: pass the unzipped '
      'vimeo_triplet folder as the input']
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('extra, message', [
    (['--gapp=4'], "Unknown command line flag 'gapp'"),   # a typo of ours is not Beam's
    (['--runner=DirectRunner'], "Unknown command line flag 'runner'"),  # Beam's go after --
    (['stray'], 'unexpected arguments'),
    (['--gap=3'], 'gap 3 has no middle frame'),           # a bad value: one line too
    # Found before the inputs are listed in the log or Beam starts its workers: the error is the
    # only line (a crop larger than the frames was found inside the job, after ~250 log lines).
    (['--num_shards=-1'], '--num_shards must be >= 0'),
    (['--crop_height=40', '--crop_width=40'], 'crop 40x40 is larger than the 32x48 frame'),
])
def test_cli_unknown_flags_and_bad_values_are_errors(tmp_path, extra, message):
  for i, image in enumerate(np.random.default_rng(0).integers(0, 255, (5, 32, 48, 3), np.uint8)):
    write_png(str(tmp_path / 'clip' / f'{i}.png'), image)
  done = subprocess.run(
      [sys.executable, '-m', 'film.datasets.create_tfrecords_cli', '--dataset=xiph',
       f'--input={tmp_path / "clip"}', f'--output_dir={tmp_path / "out"}', *extra],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 2, done.stderr
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('film-create-tfrecords: error: '), lines
  assert message in lines[0]
  assert not (tmp_path / 'out').exists()


def test_cli_passes_beam_options_after_double_dash(tmp_path):
  for i, image in enumerate(np.random.default_rng(0).integers(0, 255, (5, 32, 48, 3), np.uint8)):
    write_png(str(tmp_path / 'clip' / f'{i}.png'), np.clip(image // 4 + i * 30, 0, 255))
  done = subprocess.run(
      [sys.executable, '-m', 'film.datasets.create_tfrecords_cli', '--dataset=xiph',
       f'--input={tmp_path / "clip"}', f'--output_dir={tmp_path / "out"}', '--static_threshold=0',
       '--scene_cut_threshold=0', '--black_threshold=0', '--', '--runner=FnApiRunner'],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr
  import json
  manifest = json.loads((tmp_path / 'out' / 'manifest.json').read_text())
  assert manifest['pipeline_args'][:1] == ['--runner=FnApiRunner']
