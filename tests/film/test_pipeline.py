"""Tests for film/inference/pipeline.py with a stand-in interpolator (linear blend, no TensorFlow): exact
rational rates, outputs nested in outputs, outputs that would replace inputs, unwritable
outputs, corrupt model files, truncated videos, audio tracks and colour tags."""
import os
import shutil
import subprocess
import sys
import zipfile
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from film.media import atomic, video_io
from film.inference import pipeline
from film.weights import model_files
from film.weights.model_errors import ModelLoadError
from film.cli import UserError
from tests.film.test_video_io import make_clip, stream_lines

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Blend:
  """Interpolator stand-in: frame at time t = (1-t) x0 + t x1."""

  def interpolate_recursively(self, frames, times_to_interpolate, gap_policy=None):
    previous = None
    steps = 2 ** times_to_interpolate
    for frame in frames:
      if previous is not None:
        for i in range(1, steps):
          yield (1 - i / steps) * previous + (i / steps) * frame
      yield frame
      previous = frame


def _photos(folder, count=3, size=(24, 32)):
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i in range(count):
    path = os.path.join(folder, f'frame_{i}.png')
    Image.fromarray(np.full(size + (3,), 40 * i + 20, np.uint8)).save(path)
    paths.append(path)
  return paths


def _run(inputs, **options):
  source = pipeline.resolve_inputs(inputs)
  return pipeline.run(source, pipeline.Options(quiet=True, **options), Blend())


def test_ntsc_video_doubles_to_an_exact_rational_rate_with_all_audio(tmp_path):
  # Bug 2: 24000/1001 -> 48000/1001 exactly (not 47.96), and both audio tracks are kept.
  clip = make_clip(tmp_path / 'ntsc.mp4', rate='24000/1001', seconds=1, audio_tracks=2)
  out = str(tmp_path / 'out.mp4')
  summary = _run([clip], output_video=out, times_to_interpolate=1)
  info = video_io.probe_video(out)
  source = video_io.probe_video(clip)
  assert info.fps == Fraction(48000, 1001) and summary['fps_rational'] == '48000/1001'
  assert info.num_frames == 2 * source.num_frames
  assert info.video_seconds == source.video_seconds
  assert summary['audio_tracks'] == info.audio_tracks == 2
  assert source.color.matrix in stream_lines(out)[0]  # colour tags follow the input


def test_explicit_fps_says_why_audio_is_dropped(tmp_path, caplog):
  clip = make_clip(tmp_path / 'a.mp4', rate='24', seconds=1, audio_tracks=1)
  summary = _run([clip], output_video=str(tmp_path / 'o.mp4'), times_to_interpolate=1, fps='30')
  assert summary['audio_tracks'] == 0
  assert '--fps 30 changes the duration' in caplog.text


def test_video_inside_a_new_output_dir(tmp_path):
  # Bug 3: --output_dir o --output_video o/clip.mp4 with o not existing yet.
  photos = _photos(str(tmp_path / 'in'))
  out = tmp_path / 'o'
  summary = _run(photos, output_dir=str(out), output_video=str(out / 'clip.mp4'),
                 times_to_interpolate=1)
  assert summary['frames'] == 5
  assert sorted(os.listdir(out)) == ['clip.mp4'] + [f'frame_{i:06d}.png' for i in range(5)]
  assert video_io.probe_video(str(out / 'clip.mp4')).num_frames == 5
  assert os.listdir(tmp_path) == ['in', 'o'] or sorted(os.listdir(tmp_path)) == ['in', 'o']


@pytest.mark.parametrize('alias', ['same', 'dotdot', 'symlink', 'parent'])
def test_outputs_never_replace_inputs(tmp_path, alias):
  # Bug 4: --output_dir equal to the input folder with --overwrite deleted the photos.
  folder = str(tmp_path / 'photos')
  photos = _photos(folder)
  os.symlink(folder, tmp_path / 'link')
  output = {'same': folder, 'dotdot': str(tmp_path / 'photos' / '..' / 'photos'),
            'symlink': str(tmp_path / 'link'), 'parent': str(tmp_path)}[alias]
  before = {p: open(p, 'rb').read() for p in photos}
  with pytest.raises(UserError, match='never replace inputs'):
    _run([folder], output_dir=output, overwrite=True, times_to_interpolate=1)
  assert {p: open(p, 'rb').read() for p in photos} == before


def test_output_video_through_a_symlink_to_the_input_video(tmp_path):
  clip = make_clip(tmp_path / 'clip.mp4', rate='24', seconds=0.5)
  os.symlink(clip, tmp_path / 'alias.mp4')
  with pytest.raises(UserError, match='is the input'):
    _run([clip], output_video=str(tmp_path / 'alias.mp4'), overwrite=True,
         times_to_interpolate=1)


@pytest.fixture
def readonly_dir(tmp_path):
  """A folder nobody can create files in: mode 0555, and for root (which ignores permission
  bits) also the immutable attribute."""
  folder = tmp_path / 'readonly'
  folder.mkdir()
  os.chmod(folder, 0o555)
  immutable = False
  if os.geteuid() == 0:
    immutable = shutil.which('chattr') and subprocess.run(
        ['chattr', '+i', str(folder)], capture_output=True).returncode == 0
    if not immutable:
      pytest.skip('running as root without chattr: cannot make a read-only folder')
  yield folder
  if immutable:
    subprocess.run(['chattr', '-i', str(folder)], check=True)
  os.chmod(folder, 0o755)


def test_unwritable_outputs_fail_up_front(tmp_path, readonly_dir):
  # Bug 5: /proc, a path under a regular file, a read-only folder: one line, before any work.
  photos = _photos(str(tmp_path / 'in'))
  source = pipeline.resolve_inputs(photos)
  (tmp_path / 'file').write_text('x')
  for output, message in ((str(tmp_path / 'file' / 'out'), 'is a file, not a folder'),
                          ('/proc/film-test/out', 'cannot write in /proc'),
                          (str(readonly_dir / 'o'), f'cannot write in {readonly_dir}')):
    with pytest.raises(atomic.OutputError, match=message):
      pipeline.validate_options(source, pipeline.Options(output_dir=output))
    with pytest.raises(atomic.OutputError, match=message):
      pipeline.validate_options(source, pipeline.Options(output_video=output + '.mp4'))
  assert os.listdir(readonly_dir) == []


def test_truncated_video_is_refused_before_any_work(tmp_path):
  # Bug 7: no half clip, no misleading "--fps changes the duration" warning.
  clip = make_clip(tmp_path / 'full.mp4', rate='24', seconds=3, size='96x64', audio_tracks=1,
                   extra=('-movflags', '+faststart'))
  data = open(clip, 'rb').read()
  (tmp_path / 'cut.mp4').write_bytes(data[:len(data) // 2])
  with pytest.raises(video_io.VideoReadError, match='truncated: only'):
    pipeline.resolve_inputs([str(tmp_path / 'cut.mp4')])


def test_corrupt_model_weights_are_reported(tmp_path):
  # Bug 6: a truncated weights.npz gave a zipfile.BadZipFile traceback.
  from film.weights import defaults
  model = tmp_path / 'model'
  shutil.copytree(defaults.DEFAULT_MODEL_DIR, model)
  model_files.check_model_files(str(model))  # intact: fine
  weights = model / 'weights.npz'
  data = weights.read_bytes()
  weights.write_bytes(data[:len(data) // 2])
  with pytest.raises(ModelLoadError, match='weights.npz are missing or corrupt'):
    model_files.check_model_files(str(model))
  with zipfile.ZipFile(weights, 'w') as archive:  # complete zip, damaged member
    archive.writestr('a.npy', b'x' * 1000)
  raw = bytearray(weights.read_bytes())
  raw[raw.index(b'x' * 10)] = ord('y')
  weights.write_bytes(bytes(raw))
  with pytest.raises(ModelLoadError, match='fails its CRC'):
    model_files.check_model_files(str(model))


def test_16bit_png_frames_for_deep_video(tmp_path):
  clip = str(tmp_path / 'ten.mkv')
  subprocess.run([video_io.ffmpeg_exe(), '-v', 'error', '-y', '-f', 'lavfi', '-i',
                  'testsrc2=size=64x48:rate=24:duration=0.25', '-c:v', 'libx264', '-pix_fmt',
                  'yuv420p10le', clip], check=True)
  out = tmp_path / 'frames'
  _run([clip], output_dir=str(out), output_video=str(tmp_path / 'o.mp4'),
       times_to_interpolate=1)
  frame = Image.open(out / 'frame_000000.png')
  assert frame.mode in ('I;16', 'RGB;16') or open(out / 'frame_000000.png', 'rb').read()[24] == 16
  assert 'yuv420p10le' in stream_lines(tmp_path / 'o.mp4')[0]


def test_unreadable_model_manifest_is_reported(tmp_path):
  from film.weights import defaults
  model = tmp_path / 'model'
  shutil.copytree(defaults.DEFAULT_MODEL_DIR, model)
  (model / 'film_model.json').write_text('{"format": "film-model", "weights": ')  # cut short
  with pytest.raises(ModelLoadError, match='film_model.json is unreadable'):
    model_files.check_model_files(str(model))
  os.remove(model / 'weights.npz')
  (model / 'film_model.json').write_text('{"weights": "weights.npz"}')
  with pytest.raises(ModelLoadError, match='missing or corrupt'):
    model_files.check_model_files(str(model))


def test_frame_rate_options_are_exact(tmp_path):
  clip = make_clip(tmp_path / 'c.mp4', rate='30000/1001', seconds=0.5)
  source = pipeline.resolve_inputs([clip])
  total, fps, held = pipeline.plan(source, pipeline.Options(times_to_interpolate=2))
  assert fps == Fraction(120000, 1001) and total == 4 * source.num_frames and held == 3
  _, fps, _ = pipeline.plan(source, pipeline.Options(times_to_interpolate=1, fps='59.94'))
  assert fps == Fraction(60000, 1001)
  with pytest.raises(pipeline.InputError, match='--fps'):
    pipeline.validate_options(source, pipeline.Options(output_video=str(tmp_path / 'o.mp4'),
                                                       fps='fast'))


@pytest.mark.parametrize('output', ['frames', 'video'])
def test_full_disk_mid_run_names_the_output_and_leaves_nothing(tmp_path, monkeypatch, output):
  # A disk filling up mid-run: a file write fails with ENOSPC and no file name (as file.write
  # does), ffmpeg fails to write the video. The one-line error names the output the user asked
  # for (not a hidden temporary or nothing), and no temporary is left, nor the folders made for
  # the output.
  import errno
  from film import cli
  from film.media import image_io
  inputs = _photos(str(tmp_path / 'in'))
  out = str(tmp_path / 'new' / 'deeper' / ('out' if output == 'frames' else 'out.mp4'))
  if output == 'frames':
    real_write, calls = image_io.write_image, []

    def write_until_full(path, image, bit_depth=8):
      calls.append(path)
      if len(calls) > 2:
        raise OSError(errno.ENOSPC, 'No space left on device')
      real_write(path, image, bit_depth)

    monkeypatch.setattr(image_io, 'write_image', write_until_full)
  else:
    real_temp = atomic.temp_sibling

    def full_video_temp(path, directory=False):
      tmp = real_temp(path, directory)
      os.remove(tmp)
      os.symlink('/dev/full', tmp)  # every write: ENOSPC
      return tmp

    monkeypatch.setattr(atomic, 'temp_sibling', full_video_temp)
  with pytest.raises(OSError) as error:
    _run(inputs, **({'output_dir': out} if output == 'frames' else {'output_video': out}))
  assert cli.user_error_message(error.value) == (
      f'{out}: No space left on device; free disk space or choose another location')
  assert sorted(os.listdir(tmp_path)) == ['in']
