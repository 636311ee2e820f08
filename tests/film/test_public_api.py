"""`from film import Interpolator, interpolate_video, ...`: the lazy public entry point."""
import os
import subprocess
import sys

import numpy as np
import pytest

import film
from film.media import video_io
from tests.tiny import TINY

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_film_does_not_import_tensorflow():
  code = ('import sys, film; assert "tensorflow" not in sys.modules, "eager TF"; '
          'from film import FilmConfig; assert "tensorflow" not in sys.modules; '
          'from film import Interpolator; assert "tensorflow" in sys.modules; print("OK")')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
  assert result.returncode == 0 and result.stdout.strip() == 'OK', result.stderr[-2000:]


def test_names_are_the_defining_modules_objects():
  from film.inference.interpolator import Interpolator
  from film.weights import model_io
  assert film.Interpolator is Interpolator and film.load_model is model_io.load_model
  assert set(film.__all__) <= set(dir(film))
  for name in film.__all__:
    assert getattr(film, name) is not None
  with pytest.raises(AttributeError, match='no attribute'):
    film.interpolator_that_does_not_exist  # noqa: B018


def test_interpolate_video_doubles_a_clip(tmp_path):
  """5 frames at 10 fps, one in-between per gap: (5-1)*2+1 = 9 frames, and the last one held
  once more so that the video keeps its 0.5 s -> 10 frames at 20 fps."""
  model_dir = film.save_model(film.FilmNet(TINY), str(tmp_path / 'model'))
  rng = np.random.default_rng(0)
  texture = rng.random((32, 64, 3))
  frames = [(np.roll(texture, 2 * i, axis=1)[:, :48] * 255).astype(np.uint8) for i in range(5)]
  import mediapy
  clip = str(tmp_path / 'in.mp4')
  mediapy.write_video(clip, frames, fps=10, crf=10)
  out = str(tmp_path / 'out.mp4')
  summary = film.interpolate_video(clip, output_video=out, model=model_dir,
                                   times_to_interpolate=1, quiet=True)
  assert summary['frames'] == 10 and summary['fps_rational'] == '20'
  info = video_io.probe_video(out)
  assert (info.num_frames, info.width, info.height) == (10, 48, 32)
  with pytest.raises(film.UserError, match='exist'):
    film.interpolate_video(clip, output_video=out, model=model_dir)  # no --overwrite
