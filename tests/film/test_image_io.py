"""Tests for film/media/image_io.py: EXIF orientation, one reader for all callers, frame naming."""
import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from film.media import image_io


def _photo(height=12, width=16, seed=0) -> np.ndarray:
  return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _save_with_orientation(path, array: np.ndarray, orientation: int, fmt='PNG') -> None:
  exif = Image.Exif()
  exif[image_io.EXIF_ORIENTATION] = orientation
  Image.fromarray(array).save(path, format=fmt, exif=exif.tobytes())


@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
  stored = _photo()
  path = tmp_path / f'o{orientation}.png'  # PNG: lossless, so the comparison is exact
  _save_with_orientation(path, stored, orientation)
  with Image.open(path) as image:
    reference = np.asarray(ImageOps.exif_transpose(image).convert('RGB'))
  got = image_io.read_image(str(path), dtype=np.uint8)
  np.testing.assert_array_equal(got, reference)
  info = image_io.probe(str(path))
  assert (info.height, info.width) == reference.shape[:2]
  assert info.orientation == orientation


def test_portrait_phone_pair_and_editor_rotated_copy_have_one_size(tmp_path):
  # Bug 1: a phone stores a portrait photo as 160x120 pixels with Orientation=6.
  yy, xx = np.mgrid[0:120, 0:160]
  landscape = np.stack([xx * 255 // 159, yy * 255 // 119, (xx + yy) % 256], -1).astype(np.uint8)
  landscape[10:40, 20:60] = (250, 20, 20)  # a red block marks which way is up
  _save_with_orientation(tmp_path / 'a.jpg', landscape, 6, fmt='JPEG')
  _save_with_orientation(tmp_path / 'b.jpg', landscape, 6, fmt='JPEG')
  Image.fromarray(np.rot90(landscape, -1).copy()).save(tmp_path / 'c.jpg')  # editor: no tag
  infos = [image_io.probe(str(tmp_path / n)) for n in ('a.jpg', 'b.jpg', 'c.jpg')]
  assert [(i.width, i.height) for i in infos] == [(120, 160)] * 3
  image_io.check_same_size(infos)  # no error
  frames = [image_io.read_image(str(tmp_path / n)) for n in ('a.jpg', 'c.jpg')]
  assert frames[0].shape == frames[1].shape == (160, 120, 3)
  assert np.abs(frames[0] - frames[1]).mean() < 0.01  # same picture (JPEG noise only)
  assert frames[0][20:50, 85:105, 0].mean() > 0.9  # the red block went where rot90 puts it


def test_16bit_png_with_orientation_keeps_precision(tmp_path):
  stored = ((np.arange(4 * 6 * 3).reshape(4, 6, 3) * 997) % 65536).astype(np.uint16)
  ok, png = cv2.imencode('.png', stored[..., ::-1])
  assert ok
  exif = Image.Exif()
  exif[image_io.EXIF_ORIENTATION] = 8
  # Insert an eXIf chunk after IHDR (Pillow cannot write 16-bit RGB PNGs itself).
  payload = exif.tobytes()[6:] if exif.tobytes().startswith(b'Exif\x00\x00') else exif.tobytes()
  import zlib
  chunk = (len(payload).to_bytes(4, 'big') + b'eXIf' + payload +
           zlib.crc32(b'eXIf' + payload).to_bytes(4, 'big'))
  data = png.tobytes()
  data = data[:33] + chunk + data[33:]
  got = image_io.decode_image(data, 'deep.png')
  np.testing.assert_array_equal(np.round(got * 65535).astype(np.uint16), np.rot90(stored, 1))


def test_one_reader_for_datasets_and_benchmarks(tmp_path):
  from film.datasets import frames
  from film.eval import benchmarks
  stored = _photo(8, 10)
  _save_with_orientation(tmp_path / 'x.png', stored, 6)
  expected = np.rot90(stored, -1)
  np.testing.assert_array_equal(frames.read_image(str(tmp_path / 'x.png')), expected)
  np.testing.assert_allclose(benchmarks.read_image(str(tmp_path / 'x.png')), expected / 255.0,
                             atol=1e-7)
  assert frames.IMAGE_EXTENSIONS is image_io.IMAGE_EXTENSIONS
  assert frames.natural_key is image_io.natural_key


def test_16bit_to_uint8_rounds():
  buffer = io.BytesIO()
  stored = np.array([[[0, 128, 257], [32896, 65535, 65279]]], np.uint16)  # 65279 = 254*257+1
  ok, png = cv2.imencode('.png', stored[..., ::-1])
  assert ok
  buffer.write(png.tobytes())
  got = image_io.decode_image(buffer.getvalue(), 'x.png', dtype=np.uint8)
  np.testing.assert_array_equal(got, np.round(stored / 257.0).astype(np.uint8))


def test_frame_names_natural_case_insensitive_no_hidden():
  names = ['b10.PNG', 'b2.png', '.b1.png', 'B3.jpg', 'notes.txt', 'a.webp', 'c.ppm']
  assert image_io.frame_names(names) == ['a.webp', 'b2.png', 'B3.jpg', 'b10.PNG', 'c.ppm']


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
