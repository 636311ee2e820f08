"""Tests for film/image_io.py and film/video_io.py (the interpolator's I/O)."""
import os
import subprocess

import cv2
import numpy as np
import pytest
from PIL import Image

from film import image_io, video_io


def test_natural_sort_order(tmp_path):
  for name in ['frame_10.png', 'frame_2.png', 'frame_1.png', 'Frame_3.PNG', 'notes.txt']:
    (tmp_path / name).write_bytes(b'x')
  names = [os.path.basename(p) for p in image_io.list_frames(str(tmp_path))]
  assert names == ['frame_1.png', 'frame_2.png', 'Frame_3.PNG', 'frame_10.png']


def test_16bit_png_keeps_precision(tmp_path):
  data = np.zeros((4, 5, 3), np.uint16)
  data[..., 0] = 1000
  data[..., 1] = 1001  # differs from channel 0 by one 16-bit step (lost at 8 bits)
  data[..., 2] = 65535
  path = str(tmp_path / 'deep.png')
  cv2.imwrite(path, data[..., ::-1])  # OpenCV writes BGR
  image = image_io.read_image(path)
  assert image.dtype == np.float32 and image.shape == (4, 5, 3)
  np.testing.assert_array_equal(np.round(image * 65535).astype(np.uint16), data)
  assert image_io.probe(path).bit_depth == 16
  out = str(tmp_path / 'out.png')
  image_io.write_image(out, image, bit_depth=16)
  np.testing.assert_array_equal(cv2.imread(out, cv2.IMREAD_UNCHANGED)[..., ::-1], data)


def test_16bit_gray_and_8bit_gray_and_rgba(tmp_path):
  gray16 = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
  cv2.imwrite(str(tmp_path / 'g16.png'), gray16)
  image = image_io.read_image(str(tmp_path / 'g16.png'))
  assert image.shape == (3, 4, 3)
  np.testing.assert_allclose(image[..., 1], gray16 / 65535, atol=1e-7)
  Image.fromarray(np.full((3, 4), 128, np.uint8), 'L').save(tmp_path / 'g8.png')
  assert image_io.read_image(str(tmp_path / 'g8.png')).shape == (3, 4, 3)
  rgba = np.zeros((3, 4, 4), np.uint8)
  rgba[..., 0], rgba[..., 3] = 200, 0  # fully transparent red: alpha dropped, colour kept
  Image.fromarray(rgba, 'RGBA').save(tmp_path / 'rgba.png')
  image = image_io.read_image(str(tmp_path / 'rgba.png'))
  assert image.shape == (3, 4, 3)
  np.testing.assert_allclose(image[0, 0], [200 / 255, 0, 0], atol=1e-7)


def test_jpeg_and_8bit_roundtrip(tmp_path):
  rng = np.random.default_rng(0)
  data = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
  Image.fromarray(data).save(tmp_path / 'a.png')
  np.testing.assert_array_equal(image_io.to_uint(image_io.read_image(str(tmp_path / 'a.png'))),
                                data)
  Image.fromarray(data).save(tmp_path / 'a.jpg', quality=95)
  assert image_io.read_image(str(tmp_path / 'a.jpg')).shape == (6, 7, 3)


def test_bad_files_raise_clear_errors(tmp_path):
  (tmp_path / 'empty.png').write_bytes(b'')
  with pytest.raises(image_io.ImageReadError, match='empty'):
    image_io.probe(str(tmp_path / 'empty.png'))
  Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(tmp_path / 'ok.png')
  data = (tmp_path / 'ok.png').read_bytes()
  (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
  with pytest.raises(image_io.ImageReadError, match='cut.png'):
    image_io.probe(str(tmp_path / 'cut.png'))
  (tmp_path / 'junk.png').write_bytes(b'not an image at all')
  with pytest.raises(image_io.ImageReadError, match='not a readable image'):
    image_io.probe(str(tmp_path / 'junk.png'))


def test_video_roundtrip_streaming(tmp_path):
  path = str(tmp_path / 'v.mp4')
  frames = [np.full((32, 48, 3), i / 10, np.float32) for i in range(6)]
  with video_io.StreamingVideoWriter(path, 32, 48, fps=12) as writer:
    for frame in frames:
      writer.add(frame)
  info = video_io.probe_video(path)
  assert (info.height, info.width, info.num_frames, info.fps, info.has_audio) == (
      32, 48, 6, 12.0, False)
  decoded = list(video_io.read_video_frames(path))
  assert len(decoded) == 6
  np.testing.assert_allclose(decoded[3], frames[3], atol=3 / 255)
  gif = str(tmp_path / 'v.gif')
  with video_io.StreamingVideoWriter(gif, 32, 48, fps=10) as writer:
    for frame in frames:
      writer.add(frame)
  assert video_io.probe_video(gif).num_frames == 6


def test_mux_audio(tmp_path):
  src = str(tmp_path / 'src.mp4')
  subprocess.run([video_io.ffmpeg_exe(), '-v', 'error', '-f', 'lavfi', '-i',
                  'testsrc=size=48x32:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440',
                  '-t', '1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-c:a', 'aac', src],
                 check=True)
  assert video_io.probe_video(src).has_audio
  silent = str(tmp_path / 'silent.mp4')
  with video_io.StreamingVideoWriter(silent, 32, 48, fps=10) as writer:
    for frame in video_io.read_video_frames(src):
      writer.add(frame)
  out = str(tmp_path / 'out.mp4')
  video_io.mux_audio(silent, src, out)
  info = video_io.probe_video(out)
  assert info.has_audio and info.num_frames == 10


def test_probe_video_errors(tmp_path):
  (tmp_path / 'empty.mp4').write_bytes(b'')
  with pytest.raises(video_io.VideoReadError, match='empty'):
    video_io.probe_video(str(tmp_path / 'empty.mp4'))
  (tmp_path / 'junk.mp4').write_bytes(b'garbage' * 100)
  with pytest.raises(video_io.VideoReadError, match='not a readable video'):
    video_io.probe_video(str(tmp_path / 'junk.mp4'))
