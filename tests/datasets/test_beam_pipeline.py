"""End-to-end tests of the Beam jobs on the local runner, reading the shards back."""
import json
import os

import imageio_ffmpeg
import mediapy
import numpy as np
import pytest

from film.datasets import beam_pipeline
from film.datasets import frames as frames_lib
from film.datasets import layouts
from film.datasets import triplets
from film.datasets.frames import InputError
from tests.datasets.fakes import moving_scene, random_image, read_records, write_png


def _shards(output_dir):
  return sorted(f for f in os.listdir(output_dir) if f.endswith('.tfrecord'))


def test_vimeo_job_copies_pixels_and_shards(vimeo_root, tmp_path):
  root, pixels = vimeo_root
  out = str(tmp_path / 'records' / 'vimeo_train')
  manifest = beam_pipeline.create_triplet_records(
      layouts.find_vimeo_triplets(root, 'train'), out, num_shards=2)
  assert _shards(out) == ['data-00000-of-00002.tfrecord', 'data-00001-of-00002.tfrecord']
  assert manifest['num_records'] == 3
  assert json.load(open(os.path.join(out, 'manifest.json')))['num_records'] == 3
  assert not [n for n in os.listdir(tmp_path / 'records') if n.startswith('.')]  # No temp left.
  records = read_records(out)
  assert [r['path'] for r in records] == ['00001/0001', '00001/0002', '00002/0002']
  for record in records:
    x0, y, x1 = pixels[record['path']]
    np.testing.assert_array_equal(record['x0'], x0)
    np.testing.assert_array_equal(record['y'], y)
    np.testing.assert_array_equal(record['x1'], x1)
    assert record['time'] == 0.5


def test_vimeo_test_split_with_resize(vimeo_root, tmp_path):
  root, _ = vimeo_root
  out = str(tmp_path / 'vimeo_test')
  beam_pipeline.create_triplet_records(
      layouts.find_vimeo_triplets(root, 'test'), out,
      transform=frames_lib.FrameTransform(resize_width=16))
  (record,) = read_records(out)
  assert record['path'] == '00002/0001' and record['x0'].shape == (12, 16, 3)


def test_middlebury_both_layouts(tmp_path):
  rng = np.random.default_rng(2)
  merged, split = tmp_path / 'merged', tmp_path / 'split'
  want = {}
  for seq in ('Beanbags', 'Walking'):
    images = [random_image(rng, 20, 30) for _ in range(3)]
    want[seq] = images
    for name, image in zip(layouts.MIDDLEBURY_FRAMES, images):
      write_png(str(merged / seq / name), image)
    write_png(str(split / 'other-data' / seq / 'frame10.png'), images[0])
    write_png(str(split / 'other-data' / seq / 'frame11.png'), images[2])
    write_png(str(split / 'other-gt-interp' / seq / 'frame10i11.png'), images[1])
  write_png(str(split / 'other-data' / 'NoGroundTruth' / 'frame10.png'), images[0])
  write_png(str(split / 'other-data' / 'NoGroundTruth' / 'frame11.png'), images[2])
  for root in (merged, split):
    out = str(tmp_path / f'out_{root.name}')
    beam_pipeline.create_triplet_records(layouts.find_middlebury_triplets(str(root)), out)
    records = read_records(out)
    assert [r['path'] for r in records] == ['Beanbags', 'Walking']
    for record in records:
      for key, image in zip(('x0', 'y', 'x1'), want[record['path']]):
        np.testing.assert_array_equal(record[key], image)


def test_ucf101_job(tmp_path):
  rng = np.random.default_rng(3)
  want = {}
  for name in ('1', '2', '10'):
    want[name] = [random_image(rng, 16, 16) for _ in range(3)]
    for file, image in zip(layouts.UCF101_FRAMES, want[name]):
      write_png(str(tmp_path / 'ucf' / name / file), image)
  out = str(tmp_path / 'out')
  beam_pipeline.create_triplet_records(layouts.find_ucf101_triplets(str(tmp_path / 'ucf')), out)
  records = read_records(out)
  assert sorted(r['path'] for r in records) == ['1', '10', '2']
  for record in records:
    np.testing.assert_array_equal(record['y'], want[record['path']][1])


def test_xiph_frame_folders_with_filters(tmp_path):
  """Two clips; clip b has a scene cut, a duplicated frame and a black frame."""
  clip_a = moving_scene(5, 6)
  scene = moving_scene(6, 8)
  bright = [np.clip(f.astype(int) + 90, 0, 255).astype(np.uint8) for f in moving_scene(7, 3)]
  # 0-3 | cut | 4-6, 7 duplicates 6, 8 black.
  clip_b = scene[:4] + bright + [bright[-1], np.zeros_like(scene[0])]
  for name, clip in (('a', clip_a), ('b', clip_b)):
    for i, image in enumerate(clip):
      write_png(str(tmp_path / 'xiph' / name / f'{i + 1:03d}.png'), image)
  out = str(tmp_path / 'out')
  manifest = beam_pipeline.create_clip_records(
      layouts.find_frame_folder_clips(str(tmp_path / 'xiph')), out, chunk_frames=2, num_shards=3)
  assert len(_shards(out)) == 3
  records = read_records(out)
  assert [r['path'] for r in records] == [
      'a/000000_t1of2', 'a/000001_t1of2', 'a/000002_t1of2', 'a/000003_t1of2',
      'b/000000_t1of2', 'b/000001_t1of2', 'b/000004_t1of2']
  counters = manifest['counters']
  dropped = [counters[f'windows_{v}'] for v in ('scene_cut', 'static', 'black')]
  assert dropped == [2, 1, 1]
  by_path = {r['path']: r for r in records}
  np.testing.assert_array_equal(by_path['b/000004_t1of2']['x0'], clip_b[4])
  np.testing.assert_array_equal(by_path['b/000004_t1of2']['y'], clip_b[5])
  np.testing.assert_array_equal(by_path['b/000004_t1of2']['x1'], clip_b[6])


@pytest.fixture
def synthetic_video(tmp_path):
  """A 24-frame 48x64 mp4 of a panning texture; returns (path, its frames decoded in one go)."""
  path = str(tmp_path / 'pan.mp4')
  mediapy.write_video(path, moving_scene(8, 24), fps=24, crf=10)
  reader = imageio_ffmpeg.read_frames(path)  # Sequential reference decode: no seeking.
  meta = next(reader)
  width, height = meta['size']
  return path, [np.frombuffer(data, np.uint8).reshape(height, width, 3) for data in reader]


def test_video_multi_time_chunks_match_full_decode(synthetic_video, tmp_path):
  path, decoded = synthetic_video
  assert len(decoded) == 24
  out = str(tmp_path / 'out')
  options = triplets.WindowOptions(gap=4, stride=3, multi_time=True)
  # Chunks of 3 window starts: each chunk seeks into the video.
  beam_pipeline.create_clip_records(layouts.find_clips(path), out, options=options, chunk_frames=3,
                                    num_shards=2)
  records = read_records(out)
  starts = list(range(0, 24 - 4, 3))  # 0, 3, ..., 18 (window 18..22; 21 would need frame 25).
  assert len(records) == 3 * len(starts)
  for record in records:
    start, k = int(record['path'].split('/')[1][:6]), int(record['path'].split('_t')[1][0])
    assert start in starts and record['time'] == k / 4
    np.testing.assert_array_equal(record['x0'], decoded[start])
    np.testing.assert_array_equal(record['y'], decoded[start + k])
    np.testing.assert_array_equal(record['x1'], decoded[start + 4])
  assert sorted({r['time'] for r in records}) == [0.25, 0.5, 0.75]


def test_video_range_resize_and_crop(synthetic_video, tmp_path):
  path, decoded = synthetic_video
  clip = layouts.Clip('pan', 'video', path, start=5, end=12)
  transform = frames_lib.FrameTransform(resize_width=32, crop_height=20, crop_width=30)
  out = str(tmp_path / 'out')
  beam_pipeline.create_clip_records([clip], out, transform=transform, chunk_frames=0)
  records = read_records(out)
  assert [r['path'] for r in records] == [f'pan/{s:06d}_t1of2' for s in range(5, 10)]
  np.testing.assert_array_equal(records[0]['y'], transform(decoded[6]))
  assert records[0]['x0'].shape == (20, 30, 3)


def test_parallel_local_runner(vimeo_root, tmp_path):
  """Two local workers (threads here; the CLIs use processes, which start ~20 s slower)."""
  root, _ = vimeo_root
  out = str(tmp_path / 'out')
  manifest = beam_pipeline.create_triplet_records(
      layouts.find_vimeo_triplets(root), out, num_shards=2,
      pipeline_args=['--direct_num_workers=2', '--direct_running_mode=multi_threading'])
  assert manifest['num_records'] == 3 and len(read_records(out)) == 3


def test_outputs_are_never_partial(vimeo_root, tmp_path):
  root, _ = vimeo_root
  out = str(tmp_path / 'out')
  beam_pipeline.create_triplet_records(layouts.find_vimeo_triplets(root), out)
  with pytest.raises(InputError, match='already exists.*--overwrite'):
    beam_pipeline.create_triplet_records(layouts.find_vimeo_triplets(root), out)
  # A corrupt frame fails the job: the old output stays whole and no temp folder is left.
  with open(os.path.join(root, 'sequences', '00001', '0002', 'im2.png'), 'wb') as f:
    f.write(b'not a png')
  with pytest.raises(Exception, match='not a readable image'):
    beam_pipeline.create_triplet_records(layouts.find_vimeo_triplets(root), out, overwrite=True)
  assert len(read_records(out)) == 3
  assert sorted(os.listdir(tmp_path)) == ['out', 'vimeo_triplet']


def test_nothing_kept_is_an_error(tmp_path):
  still = moving_scene(9, 1) * 5  # Five identical frames: every window is static.
  for i, image in enumerate(still):
    write_png(str(tmp_path / 'clip' / f'{i}.png'), image)
  with pytest.raises(InputError, match='no triplets were kept'):
    beam_pipeline.create_clip_records(layouts.find_clips(str(tmp_path / 'clip')),
                                      str(tmp_path / 'out'))
  assert not os.path.exists(tmp_path / 'out')
