"""End-to-end tests of `film-interpolate` (film/inference/interpolate_cli.py) and film/inference/pipeline.py.

A tiny random model (pyramid 3) on 64x64 downscaled UCF101/Middlebury frames keeps this fast.
Subprocess runs cover the real CLI (exit codes, one-line errors); frame counts and scene logic
run in-process through `film.inference.pipeline` (the library the CLI calls).
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from film.media import image_io, video_io
from film.weights import model_io
from film.inference import pipeline
from film.inference.interpolator import Interpolator
from film.net.model import FilmNet
from tests.tiny import TINY

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
SIZE = 64


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory):
  tf.random.set_seed(2)
  return model_io.save_model(FilmNet(TINY), str(tmp_path_factory.mktemp('model') / 'tiny'))


@pytest.fixture(scope='module')
def interp(model_dir):
  return Interpolator.from_path(model_dir)


def _small(path, size=SIZE):
  image = image_io.read_image(path)
  side = min(image.shape[:2])
  return cv2.resize(image[:side, :side], (size, size), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope='module')
def images(shared_dir, tmp_path_factory):
  """Folder of 64x64 PNGs: UCF101 triplet 01 then 02, Middlebury RubberWhale pair."""
  root = tmp_path_factory.mktemp('images')
  ucf = os.path.join(shared_dir, 'benchmarks', 'ucf101')
  whale = os.path.join(shared_dir, 'benchmarks', 'middlebury_other', 'RubberWhale')
  sources = [os.path.join(ucf, '01', 'frame0.png'), os.path.join(ucf, '01', 'frame1.png'),
             os.path.join(ucf, '01', 'frame2.png'), os.path.join(whale, 'frame10.png'),
             os.path.join(whale, 'frame11.png')]
  paths = []
  for i, src in enumerate(sources):
    path = str(root / f'src_{i}.png')
    image_io.write_image(path, _small(src))
    paths.append(path)
  return paths


def _cli(*args, timeout=300):
  return subprocess.run([sys.executable, '-m', 'film.inference.interpolate_cli', *args], cwd=REPO, env=ENV,
                        capture_output=True, text=True, timeout=timeout)


def _read(path):
  return image_io.read_image(path)


def _no_leftovers(folder):
  return not [n for n in os.listdir(folder) if '.tmp-' in n or '.old-' in n]


# ------------------------------------------------------------------------------------------
# Successful runs.
# ------------------------------------------------------------------------------------------
def test_cli_flip_ensemble(images, model_dir, tmp_path):
  out_dir = tmp_path / 'frames'
  result = _cli('--input', images[3], '--input', images[4], '--times_to_interpolate', '1',
                '--model', model_dir, '--output_dir', str(out_dir), '--png_bit_depth', '16',
                '--flip_ensemble', '--precision', 'float32')  # float32 like the reference below
  assert result.returncode == 0, result.stderr
  model = model_io.load_model(model_dir)
  x0, x1 = _read(images[3]), _read(images[4])
  time = tf.constant([[0.5]])
  direct = model(x0[None], x1[None], time)['image'][0].numpy()
  mirrored = model(x0[None, :, ::-1].copy(), x1[None, :, ::-1].copy(), time)['image'][0].numpy()
  expected = 0.5 * (np.clip(direct, 0, 1) + np.clip(mirrored, 0, 1)[:, ::-1])
  np.testing.assert_allclose(_read(str(out_dir / 'frame_000001.png')), expected, atol=2e-4)


def test_cli_pair_to_frames_and_mp4(images, model_dir, tmp_path):
  out_dir, video = tmp_path / 'frames', tmp_path / 'pair.mp4'
  result = _cli('--input', images[0], '--input', images[2], '--times_to_interpolate', '2',
                '--model', model_dir, '--output_dir', str(out_dir), '--output_video', str(video),
                '--fps', '12')
  assert result.returncode == 0, result.stderr
  names = sorted(os.listdir(out_dir))
  assert names == [f'frame_{i:06d}.png' for i in range(5)]
  np.testing.assert_array_equal(_read(str(out_dir / names[0])), _read(images[0]))
  np.testing.assert_array_equal(_read(str(out_dir / names[4])), _read(images[2]))
  info = video_io.probe_video(str(video))
  assert (info.num_frames, info.fps, info.height, info.width) == (5, 12.0, SIZE, SIZE)
  assert _no_leftovers(tmp_path)


@pytest.mark.parametrize('k', [1, 2, 3])
def test_folder_counts_and_natural_order(images, interp, tmp_path, k):
  folder = tmp_path / 'in'
  folder.mkdir()
  # Names whose lexical order differs from their numeric order.
  for name, src in zip(['f_1.png', 'f_2.png', 'f_10.png'], images[:3]):
    os.link(src, folder / name)
  source = pipeline.resolve_inputs([str(folder)])
  assert [os.path.basename(p) for p in source.paths] == ['f_1.png', 'f_2.png', 'f_10.png']
  out = tmp_path / 'out'
  summary = pipeline.run(source, pipeline.Options(output_dir=str(out), times_to_interpolate=k,
                                                  quiet=True, duplicate_threshold=0), interp)
  assert summary['frames'] == 2 * 2 ** k + 1 == len(os.listdir(out))
  for i, src in enumerate(images[:3]):  # inputs land at multiples of 2**k, in natural order
    np.testing.assert_array_equal(_read(str(out / f'frame_{i * 2 ** k:06d}.png')), _read(src))


def test_scene_cut_and_duplicates_hold_frames(images, interp, tmp_path):
  folder = tmp_path / 'in'
  folder.mkdir()
  # A, A (duplicate), B (cut: another shot), C (B moved: interpolate).
  for name, src in zip(['a_1.png', 'a_2.png', 'a_3.png', 'a_4.png'],
                       [images[0], images[0], images[3], images[4]]):
    os.link(src, folder / name)
  source = pipeline.resolve_inputs([str(folder)])
  out = tmp_path / 'out'
  summary = pipeline.run(source, pipeline.Options(output_dir=str(out), times_to_interpolate=1,
                                                  quiet=True), interp)
  assert summary['gaps'] == {'interpolate': 1, 'duplicate': 1, 'cut': 1}
  frames = [_read(str(out / f'frame_{i:06d}.png')) for i in range(7)]
  a, b, c = _read(images[0]), _read(images[3]), _read(images[4])
  np.testing.assert_array_equal(frames[1], a)  # duplicate: repeated, no model
  np.testing.assert_array_equal(frames[3], a)  # cut: held until the new shot
  np.testing.assert_array_equal(frames[4], b)
  assert not np.array_equal(frames[5], b) and not np.array_equal(frames[5], c)


@pytest.fixture(scope='module')
def video_with_audio(tmp_path_factory):
  """1 s, 10 fps, 64x48 test pattern with a 440 Hz AAC track."""
  path = str(tmp_path_factory.mktemp('video') / 'clip.mp4')
  subprocess.run([video_io.ffmpeg_exe(), '-v', 'error', '-f', 'lavfi', '-i',
                  f'testsrc=size={SIZE}x48:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440',
                  '-t', '1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-c:a', 'aac', '-shortest',
                  path], check=True)
  return path


def test_cli_video_to_video_keeps_audio_and_duration(video_with_audio, model_dir, tmp_path):
  out = tmp_path / 'slow.mp4'
  result = _cli('--input', video_with_audio, '--times_to_interpolate', '1', '--model', model_dir,
                '--output_video', str(out), '--quiet')
  assert result.returncode == 0, result.stderr
  src, info = video_io.probe_video(video_with_audio), video_io.probe_video(str(out))
  assert info.num_frames == src.num_frames * 2 == 20
  assert info.fps == 20.0 and info.has_audio
  assert abs(info.duration - src.duration) < 0.1
  assert _no_leftovers(tmp_path)


@pytest.mark.parametrize('extra', [[], ['--flow_scale', '0.5', '--max_tile_pixels', '1024',
                                     '--tile_overlap', '8']])
def test_cli_video_with_a_flow_prior_model(video_with_audio, tiny_prior_model_dir, tmp_path,
                                           extra):
  """A DIS-prior model through `film-interpolate` on a video, plain and with a coarser flow
  scale and tiles: same frame count, audio and duration as any model."""
  out = tmp_path / 'slow.mp4'
  result = _cli('--input', video_with_audio, '--times_to_interpolate', '1', '--model',
                tiny_prior_model_dir, '--output_video', str(out), '--quiet', *extra)
  assert result.returncode == 0, result.stderr
  info = video_io.probe_video(str(out))
  assert info.num_frames == 20 and info.has_audio
  assert _no_leftovers(tmp_path)


def test_video_output_fps_and_gif(video_with_audio, interp, tmp_path):
  source = pipeline.resolve_inputs([video_with_audio])
  out = tmp_path / 'v25.mp4'
  summary = pipeline.run(source, pipeline.Options(output_video=str(out), output_fps=25,
                                                  times_to_interpolate=None, quiet=True), interp)
  info = video_io.probe_video(str(out))
  assert summary['frames'] == info.num_frames == 25 and info.fps == 25.0 and info.has_audio
  gif = tmp_path / 'v.gif'
  pipeline.run(source, pipeline.Options(output_video=str(gif), times_to_interpolate=1,
                                        quiet=True), interp)
  assert video_io.probe_video(str(gif)).num_frames == 20


# ------------------------------------------------------------------------------------------
# Bad input: exit code != 0, exactly one stderr line naming problem and fix, no output.
# ------------------------------------------------------------------------------------------
def _assert_one_line_error(result, *needles):
  assert result.returncode == 2, result.stderr  # film.cli.EXIT_USER_ERROR
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1, result.stderr
  assert lines[0].startswith('film-interpolate: error: ')
  for needle in needles:
    assert needle in lines[0], lines[0]


def _bad_inputs(tmp_path, images):
  big = tmp_path / 'big.png'
  image_io.write_image(str(big), np.zeros((SIZE + 8, SIZE, 3), np.float32))
  empty = tmp_path / 'empty.png'
  empty.write_bytes(b'')
  corrupt = tmp_path / 'corrupt.png'
  corrupt.write_bytes(open(images[1], 'rb').read()[:300])
  lonely = tmp_path / 'lonely'
  lonely.mkdir()
  os.link(images[0], lonely / 'only_1.png')
  (lonely / 'readme.txt').write_text('not a frame')
  return {'mismatch': ([images[0], str(big)], ['sizes differ', 'resize']),
          'empty': ([images[0], str(empty)], ['empty.png', 'empty']),
          'corrupt': ([images[0], str(corrupt)], ['corrupt.png', 'replace']),
          'one_frame_folder': ([str(lonely)], ['at least 2']),
          'missing': ([images[0], str(tmp_path / 'nope.png')], ['does not exist'])}


@pytest.mark.parametrize('case', ['mismatch', 'empty', 'corrupt', 'one_frame_folder', 'missing'])
def test_bad_inputs(case, images, model_dir, tmp_path):
  inputs, needles = _bad_inputs(tmp_path, images)[case]
  out = tmp_path / 'out'
  args = [a for path in inputs for a in ('--input', path)]
  result = _cli(*args, '--model', model_dir, '--output_dir', str(out))
  _assert_one_line_error(result, *needles)
  assert not out.exists() and _no_leftovers(tmp_path)


@pytest.mark.parametrize('k', ['0', '9'])
def test_times_out_of_range(k, images, model_dir, tmp_path):
  result = _cli('--input', images[0], '--input', images[1], '--times_to_interpolate', k,
                '--model', model_dir, '--output_dir', str(tmp_path / 'out'))
  _assert_one_line_error(result, '--times_to_interpolate', '1..8')
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('flag,value,needles', [
    ('--precision', 'half', ['--precision', 'auto|float32|bfloat16']),
    ('--flow_scale', '0.3', ['flow_scale must be 1, 0.5, 0.25']),
    ('--max_tile_pixels', '-5', ['--max_tile_pixels=-5', 'positive']),
    ('--tile_overlap', '-1', ['--tile_overlap=-1'])])
def test_bad_speed_flags(flag, value, needles, images, model_dir, tmp_path):
  result = _cli('--input', images[0], '--input', images[1], '--model', model_dir,
                '--output_dir', str(tmp_path / 'out'), flag, value)
  _assert_one_line_error(result, *needles)
  assert not (tmp_path / 'out').exists()


def test_existing_output_needs_overwrite(images, model_dir, tmp_path):
  video = tmp_path / 'old.mp4'
  video.write_bytes(b'keep me')
  result = _cli('--input', images[0], '--input', images[1], '--model', model_dir,
                '--output_video', str(video))
  _assert_one_line_error(result, 'already exists', '--overwrite')
  assert video.read_bytes() == b'keep me'


def test_missing_model(images, tmp_path):
  result = _cli('--input', images[0], '--input', images[1], '--model',
                str(tmp_path / 'no_model'), '--output_dir', str(tmp_path / 'out'))
  _assert_one_line_error(result, 'no_model', 'does not exist')
  assert not (tmp_path / 'out').exists()


def test_error_mid_run_leaves_no_partial_output(images, interp, tmp_path):
  folder = tmp_path / 'in'
  folder.mkdir()
  for i in range(3):
    os.link(images[i], folder / f'f_{i}.png')
  source = pipeline.resolve_inputs([str(folder)])
  (folder / 'f_2.png').unlink()  # disappears after validation
  with pytest.raises(image_io.ImageReadError):
    pipeline.run(source, pipeline.Options(output_dir=str(tmp_path / 'out'),
                                          output_video=str(tmp_path / 'o.mp4'), quiet=True),
                 interp)
  assert not (tmp_path / 'out').exists() and not (tmp_path / 'o.mp4').exists()
  assert _no_leftovers(tmp_path)


def test_without_model_flag_uses_the_default_model(images, tmp_path):
  """No --model: the bundled default model runs (or, if a build lacks it, a one-line error)."""
  from film.weights import defaults
  result = _cli('--input', images[0], '--input', images[1], '--output_dir',
                str(tmp_path / 'out'), '--quiet')
  if defaults.default_model_available():
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(tmp_path / 'out')) == 3
  else:
    _assert_one_line_error(result, 'no default model', '--model')


def test_output_flags_required_and_exclusive(images, model_dir, tmp_path):
  _assert_one_line_error(_cli('--input', images[0], '--input', images[1], '--model', model_dir),
                         '--output_dir')
  result = _cli('--input', images[0], '--input', images[1], '--model', model_dir,
                '--output_dir', str(tmp_path / 'o'), '--output_fps', '60',
                '--times_to_interpolate', '2')
  _assert_one_line_error(result, '--output_fps', 'not both')


def test_cli_runs_a_film_release_saved_model(images, film_small_fixture, tmp_path):
  """`--model` pointing at a FILM SavedModel directory: converted on the fly, same frames."""
  from film.weights.model_io import load_film_checkpoint
  from film.net.config import SMALL
  out_dir = tmp_path / 'frames'
  release = os.path.join(film_small_fixture, 'saved_model')
  result = _cli('--input', images[3], '--input', images[4], '--times_to_interpolate', '1',
                '--output_dir', str(out_dir), '--model', release, '--pyramid_levels', '5',
                '--quiet', '--precision', 'float32')  # float32 like the reference below
  assert result.returncode == 0, result.stderr
  frames = sorted(os.listdir(out_dir))
  assert len(frames) == 3
  model = load_film_checkpoint(release, SMALL)
  x0, x1 = _read(images[3]), _read(images[4])
  expected = np.clip(model(x0[None], x1[None], [[0.5]])['image'].numpy()[0], 0, 1)
  np.testing.assert_allclose(_read(str(out_dir / frames[1])), expected, atol=1 / 255 + 1e-6)


# ------------------------------------------------------------------------------------------
# Real photos and real failures (issue 14).
# ------------------------------------------------------------------------------------------
def _oriented_jpeg(path, stored, orientation):
  from PIL import Image
  exif = Image.Exif()
  exif[image_io.EXIF_ORIENTATION] = orientation
  Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())


def test_cli_portrait_phone_photos(images, model_dir, tmp_path):
  # Bug 1: Orientation=6 JPEGs (stored landscape) and an editor-rotated copy (no tag).
  landscape = [image_io.to_uint(cv2.resize(_read(p), (64, 48))) for p in images[3:5]]
  _oriented_jpeg(str(tmp_path / 'a.jpg'), landscape[0], 6)
  _oriented_jpeg(str(tmp_path / 'b.jpg'), landscape[1], 6)
  cv2.imwrite(str(tmp_path / 'c.jpg'), np.ascontiguousarray(np.rot90(landscape[1], -1)[..., ::-1]))
  for second in ('b.jpg', 'c.jpg'):
    out = tmp_path / f'out_{second}'
    result = _cli('--input', str(tmp_path / 'a.jpg'), '--input', str(tmp_path / second),
                  '--model', model_dir, '--output_dir', str(out), '--quiet')
    assert result.returncode == 0, result.stderr
    frames = [_read(str(out / n)) for n in sorted(os.listdir(out))]
    assert len(frames) == 3 and all(f.shape == (64, 48, 3) for f in frames)
    np.testing.assert_allclose(frames[0], _read(str(tmp_path / 'a.jpg')), atol=1 / 255)


def test_cli_never_replaces_inputs_and_checks_outputs_before_the_model(images, model_dir,
                                                                       tmp_path):
  # Bugs 4 and 5 through the CLI: one line, exit 2, before TensorFlow (no model load).
  folder = tmp_path / 'photos'
  folder.mkdir()
  for i in range(2):
    os.link(images[i], folder / f'p_{i}.png')
  before = sorted(os.listdir(folder))
  result = _cli('--input', str(folder), '--model', model_dir, '--output_dir', str(folder),
                '--overwrite')
  _assert_one_line_error(result, 'never replace inputs')
  assert sorted(os.listdir(folder)) == before
  (tmp_path / 'plain_file').write_text('x')
  for output, needle in (('/proc/film/out', 'cannot write in /proc'),
                         (str(tmp_path / 'plain_file' / 'out'), 'is a file, not a folder')):
    _assert_one_line_error(_cli('--input', str(folder), '--model', model_dir, '--output_dir',
                                output), needle)


def test_cli_truncated_weights_are_one_line(images, model_dir, tmp_path):
  # Bug 6: a truncated weights.npz gave a zipfile.BadZipFile traceback.
  import shutil
  broken = tmp_path / 'model'
  shutil.copytree(model_dir, broken)
  data = (broken / 'weights.npz').read_bytes()
  (broken / 'weights.npz').write_bytes(data[:len(data) // 3])
  result = _cli('--input', images[0], '--input', images[1], '--model', str(broken),
                '--output_dir', str(tmp_path / 'out'))
  _assert_one_line_error(result, 'weights.npz', 'corrupt')
  assert not (tmp_path / 'out').exists()
  from film.weights import model_errors
  with pytest.raises(model_errors.ModelLoadError, match='weights.npz'):
    model_io.load_model(str(broken))


def test_full_disk_mid_run_publishes_nothing(images, interp, tmp_path, monkeypatch):
  import errno
  from film import cli
  real_write = image_io.write_image
  calls = []

  def write_until_full(path, image, bit_depth=8):
    calls.append(path)
    if len(calls) > 2:
      raise OSError(errno.ENOSPC, 'No space left on device', path)
    real_write(path, image, bit_depth)

  monkeypatch.setattr(image_io, 'write_image', write_until_full)
  source = pipeline.resolve_inputs(images[:3])
  with pytest.raises(OSError) as error:
    pipeline.run(source, pipeline.Options(output_dir=str(tmp_path / 'out'),
                                          output_video=str(tmp_path / 'out.mp4'), quiet=True),
                 interp)
  message = cli.user_error_message(error.value)
  assert message.endswith('No space left on device; free disk space or choose another location')
  assert sorted(os.listdir(tmp_path)) == []
