"""Tests of `film.batch.jobs`: item discovery, and whole batches through Beam's local runner.

A tiny random model (pyramid 3) on 64x48 generated items: two image pairs from a list file, a
frame folder, a video with an audio track and a corrupt video. Expected frames come from direct
model calls and the inputs themselves; counts from the (N-1)*2**k+1 rule.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

from film.batch import jobs as batch, models as batch_models, runner as batch_runner
from film.weights import model_io
from film.inference import pipeline
from film.media import atomic, video_io

H, W = 48, 64


class FakeRemoteFileSystem(LocalFileSystem):
  """A Beam filesystem for URLs `fakefs://` + absolute local path, backed by local files and
  listing like an object store (prefixes, no folders): stands in for gs:// in the tests."""
  PREFIX = 'fakefs://'

  @classmethod
  def scheme(cls):
    return 'fakefs'

  def _local(self, path):
    return path[len(self.PREFIX):] if path.startswith(self.PREFIX) else path

  def _url(self, path):
    return self.PREFIX + path

  def join(self, basepath, *paths):
    return '/'.join([basepath.rstrip('/'), *(p.strip('/') for p in paths)])

  def split(self, path):
    head, tail = path.rstrip('/').rsplit('/', 1)
    return head, tail

  def has_dirs(self):
    return False

  def mkdirs(self, path):
    os.makedirs(self._local(path), exist_ok=True)

  def _list(self, prefix):
    local = self._local(prefix)
    folder = local if local.endswith('/') else os.path.dirname(local)
    for root, _, names in os.walk(folder):
      for name in names:
        path = os.path.join(root, name)
        if path.startswith(local):
          yield FileMetadata(self._url(path), os.path.getsize(path), os.path.getmtime(path))

  def create(self, path, *args, **kwargs):
    return super().create(self._local(path), *args, **kwargs)

  def open(self, path, *args, **kwargs):
    return super().open(self._local(path), *args, **kwargs)

  def exists(self, path):
    return super().exists(self._local(path))

  def metadata(self, path):
    meta = super().metadata(self._local(path))
    return FileMetadata(path, meta.size_in_bytes, meta.last_updated_in_seconds)

  def delete(self, paths):
    super().delete([self._local(p) for p in paths])
    for path in paths:  # An object store has no empty folders.
      try:
        os.removedirs(os.path.dirname(self._local(path)))
      except OSError:
        pass


def _image(shift: int, seed: int) -> np.ndarray:
  """[H,W,3] uint8: a smooth colour pattern moved `shift` pixels to the right."""
  y, x = np.mgrid[0:H, 0:W].astype(np.float32)
  phase = np.random.default_rng(seed).uniform(0, 6, 3)
  channels = [np.sin((x - shift) / (5 + 2 * c) + phase[c]) * np.cos(y / 7 + c) for c in range(3)]
  return np.round(127.5 + 120 * np.stack(channels, -1)).astype(np.uint8)


def _write_png(path, image):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  assert cv2.imwrite(str(path), image[..., ::-1])


def _read_png(path) -> np.ndarray:
  return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
  """in/pairs/{a0,a1,b0,b1}.png + in/pairs.txt, in/shots/s1/ (3 frames), in/clips/{v1,broken}.mp4."""
  root = tmp_path_factory.mktemp('in')
  for name, shift, seed in (('a0', 0, 1), ('a1', 4, 1), ('b0', 0, 2), ('b1', 2, 2)):
    _write_png(root / 'pairs' / f'{name}.png', _image(shift, seed))
  (root / 'pairs.txt').write_text('# two pairs\npairs/a0.png\tpairs/a1.png\n\n'
                                  'pairs/b0.png pairs/b1.png\n')
  for i in range(3):
    _write_png(root / 'shots' / 's1' / f'f_{i + 1}.png', _image(3 * i, 5))
  os.makedirs(root / 'clips')
  subprocess.run([video_io.ffmpeg_exe(), '-v', 'error', '-f', 'lavfi', '-i',
                  f'testsrc=size={W}x{H}:rate=10', '-f', 'lavfi', '-i', 'sine=frequency=440',
                  '-t', '1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-c:a', 'aac', '-shortest',
                  str(root / 'clips' / 'v1.mp4')], check=True)
  (root / 'clips' / 'broken.mp4').write_bytes(np.random.default_rng(0).bytes(4000))
  (root / 'clips' / 'notes.txt').write_text('not an item')
  return root


def _find(inputs):
  return batch.find_items([str(inputs / 'clips' / '*'), str(inputs / 'shots' / '*')],
                          [str(inputs / 'pairs.txt')])


def _leftovers(root):
  return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files
          if '.tmp-' in n or n.startswith(batch.RUN_DIR_PREFIX)]


def test_find_items(inputs):
  items = _find(inputs)
  assert [(i.name, i.kind) for i in items] == [
      ('broken', 'video'), ('v1', 'video'), ('s1', 'folder'), ('pairs/a0-a1', 'pair'),
      ('pairs/b0-b1', 'pair')]
  assert items[3].inputs == (str(inputs / 'pairs' / 'a0.png'), str(inputs / 'pairs' / 'a1.png'))
  # Nested globs mirror the path below the wildcard-free folders.
  nested = batch.find_items([str(inputs / '*' / '*.mp4')])
  assert [i.name for i in nested] == ['clips/broken', 'clips/v1']
  with pytest.raises(pipeline.InputError, match='matches nothing'):
    batch.find_items([str(inputs / 'nothing' / '*')])
  with pytest.raises(pipeline.InputError, match='one inside the other'):
    batch.find_items([str(inputs / '**')])  # matches clips/ and clips/v1.mp4
  with pytest.raises(pipeline.InputError, match='would both write'):
    os.makedirs(inputs / 'dup' / 'v1', exist_ok=True)
    batch.find_items([str(inputs / 'clips' / 'v1.mp4'), str(inputs / 'dup' / 'v1')])


def _run(items, root, model, **kwargs):
  batch_models.release_models()
  loads = batch_models.model_loads
  # An explicit memory cap: the default (a share of the free memory) depends on the machine.
  summary = batch_runner.run_batch(items, str(root), model=model,
                            interpolator_kwargs={'precision': 'float32',  # as the reference
                                                 'max_memory_gb': 2.0},
                            options=pipeline.Options(times_to_interpolate=1,
                                                     duplicate_threshold=0),
                            progress=False, **kwargs)
  return summary, batch_models.model_loads - loads


def _manifest(root):
  with open(root / batch.MANIFEST_NAME) as f:
    return [json.loads(line) for line in f]


def test_batch_outputs_failure_isolation_manifest_and_resume(inputs, tiny_model_dir, tmp_path):
  items = _find(inputs)
  out = tmp_path / 'out'
  summary, loads = _run(items, out, tiny_model_dir)

  # One model load for the whole batch (in-process worker), also counted by Beam.
  assert loads == 1 and summary['counters']['model_loads'] == 1
  assert summary['counts'] == {'done': 4, 'skipped': 0, 'failed': 1}
  rows = _manifest(out)
  assert rows == summary['rows']
  assert [(r['item'], r['status']) for r in rows] == [
      ('broken', 'failed'), ('v1', 'done'), ('s1', 'done'), ('pairs/a0-a1', 'done'),
      ('pairs/b0-b1', 'done')]
  assert set(rows[0]) == set(batch.MANIFEST_FIELDS)
  # The corrupt clip: a one-line reason naming it, no output; the others are unaffected.
  assert 'broken.mp4' in rows[0]['reason'] and '\n' not in rows[0]['reason']
  assert not os.path.exists(out / 'broken')
  # Frame counts: pairs 2**k+1, the 3-frame folder 2*2**k+1, the 10-frame video 10*2**k.
  assert [r['frames'] for r in rows] == [0, 20, 5, 3, 3]
  assert summary['counters']['frames_written'] == 31
  assert summary['counters']['items_done'] == 4 and summary['counters']['items_failed'] == 1
  assert sorted(os.listdir(out / 'pairs' / 'a0-a1' / 'frames')) == [
      f'frame_{i:06d}.png' for i in range(3)]
  assert len(os.listdir(out / 's1' / 'frames')) == 5
  info = video_io.probe_video(str(out / 'v1' / 'v1.mp4'))
  assert (info.num_frames, float(info.fps), info.has_audio) == (20, 20.0, True)
  assert not os.path.exists(out / 'v1' / 'frames')  # 'auto': videos give videos only.

  # The pair's ends are its inputs and its middle is the model's prediction (8-bit PNG).
  frames = out / 'pairs' / 'a0-a1' / 'frames'
  x0, x1 = _read_png(inputs / 'pairs' / 'a0.png'), _read_png(inputs / 'pairs' / 'a1.png')
  np.testing.assert_array_equal(_read_png(frames / 'frame_000000.png'), x0)
  np.testing.assert_array_equal(_read_png(frames / 'frame_000002.png'), x1)
  model = model_io.load_model(tiny_model_dir)
  mid = model(x0[None].astype(np.float32) / 255, x1[None].astype(np.float32) / 255,
              tf.constant([[0.5]]))['image'][0].numpy()
  np.testing.assert_allclose(_read_png(frames / 'frame_000001.png') / 255.0,
                             np.clip(mid, 0, 1), atol=1 / 255 + 1e-6)
  assert not _leftovers(out)
  workers = {json.load(open(out / r['item'] / batch.ITEM_RECORD))['worker'] for r in rows[1:]}
  assert workers == {f'{os.uname().nodename}:{os.getpid()}'}

  # Rerun: finished items are skipped (not rewritten), the failed one is tried again; items
  # inside the output root (here: a glob that matches earlier outputs) are ignored.
  mtime = os.stat(out / 'v1' / 'v1.mp4').st_mtime_ns
  summary, loads = _run(items + batch.find_items([str(out / 'pairs' / '*')]), out, tiny_model_dir)
  assert summary['counts'] == {'done': 0, 'skipped': 4, 'failed': 1}
  assert [r['frames'] for r in summary['rows']] == [0, 20, 5, 3, 3]
  assert os.stat(out / 'v1' / 'v1.mp4').st_mtime_ns == mtime

  # A killed run leaves only a hidden temporary; the item is redone and the temporary removed.
  # (Temporaries are named by host and pid: this one is a dead process's.)
  dead = subprocess.Popen([sys.executable, '-c', 'pass'])
  dead.wait()
  os.rename(out / 's1', out / f'.s1{atomic.TEMP_MARK}{atomic._HOST}-{dead.pid}-killed')
  summary, _ = _run(items, out, tiny_model_dir, manifest_path=str(tmp_path / 'results.csv'))
  assert [r['status'] for r in summary['rows']] == ['failed', 'skipped', 'done', 'skipped',
                                                   'skipped']
  assert len(os.listdir(out / 's1' / 'frames')) == 5 and not _leftovers(out)
  header = (tmp_path / 'results.csv').read_text().splitlines()[0]
  assert header == ','.join(batch.MANIFEST_FIELDS)


def test_outputs_both_and_overwrite(inputs, tiny_model_dir, tmp_path):
  items = [i for i in _find(inputs) if i.kind == 'pair'][:1]
  out = tmp_path / 'out'
  summary, _ = _run(items, out, tiny_model_dir, outputs='both', video_format='gif')
  assert summary['rows'][0]['outputs'] == ['frames', 'a0-a1.gif']
  assert video_io.probe_video(str(out / 'pairs' / 'a0-a1' / 'a0-a1.gif')).num_frames == 3
  summary, _ = _run(items, out, tiny_model_dir, outputs='frames', overwrite=True)
  assert summary['counts']['done'] == 1
  assert sorted(os.listdir(out / 'pairs' / 'a0-a1')) == [batch.ITEM_RECORD, 'frames']


def test_model_loaded_once_per_worker_process(inputs, tiny_model_dir, tmp_path):
  """Two local worker processes: one model load per process that ran items."""
  items = [i for i in _find(inputs) if i.kind != 'video']
  out = tmp_path / 'out'
  summary, loads = _run(items, out, tiny_model_dir, num_workers=2)
  assert loads == 0  # Nothing loaded in this (the driver's) process.
  assert summary['counts'] == {'done': 3, 'skipped': 0, 'failed': 0}
  workers = {json.load(open(out / r['item'] / batch.ITEM_RECORD))['worker']
             for r in summary['rows']}
  assert os.getpid() not in {int(w.rsplit(':', 1)[1]) for w in workers}
  assert summary['counters']['model_loads'] == len(workers) <= 2


def test_bad_arguments(inputs, tiny_model_dir, tmp_path):
  items = _find(inputs)
  with pytest.raises(pipeline.InputError, match='--outputs'):
    batch_runner.run_batch(items, str(tmp_path), model=tiny_model_dir, outputs='nope')
  with pytest.raises(pipeline.InputError, match='pass --input_fps'):
    batch_runner.run_batch(items, str(tmp_path), model=tiny_model_dir,
                    options=pipeline.Options(times_to_interpolate=None, output_fps=30))
  with pytest.raises(pipeline.InputError, match='cannot set up the model: max_memory_gb'):
    batch_models.release_models()
    batch_runner.run_batch(items, str(tmp_path / 'out'), model=tiny_model_dir, progress=False,
                    interpolator_kwargs={'max_memory_gb': 0.01})
  assert not os.path.exists(tmp_path / 'out' / batch.MANIFEST_NAME) and not _leftovers(tmp_path)
  with pytest.raises(pipeline.InputError, match='does not exist'):
    batch_runner.run_batch(items, str(tmp_path), model=str(tmp_path / 'no_model'))


def test_urls_inputs_model_and_output_root(inputs, tiny_model_dir, tmp_path):
  """Inputs, model and output root as URLs of a Beam filesystem: staged, built, uploaded."""
  url = FakeRemoteFileSystem.PREFIX
  pairs = tmp_path / 'remote_items.txt'  # A local list file naming URL items.
  pairs.write_text(f'{url}{inputs}/shots/s1\n{url}{inputs}/pairs/a0.png\t{url}{inputs}/pairs/a1.png\n')
  items = batch.find_items([f'{url}{inputs}/clips/*'], [str(pairs)])
  assert [(i.name, i.kind) for i in items] == [
      ('broken', 'video'), ('v1', 'video'), ('s1', 'folder'), ('a0-a1', 'pair')]
  out = tmp_path / 'out'
  summary, loads = _run(items, url + str(out), url + tiny_model_dir)
  assert loads == 1
  assert [(r['item'], r['status'], r['frames']) for r in summary['rows']] == [
      ('broken', 'failed', 0), ('v1', 'done', 20), ('s1', 'done', 5), ('a0-a1', 'done', 3)]
  info = video_io.probe_video(str(out / 'v1' / 'v1.mp4'))
  assert (info.num_frames, info.has_audio) == (20, True)
  assert len(os.listdir(out / 's1' / 'frames')) == 5
  np.testing.assert_array_equal(_read_png(out / 'a0-a1' / 'frames' / 'frame_000000.png'),
                                _read_png(inputs / 'pairs' / 'a0.png'))
  assert _manifest(out) == summary['rows'] and not _leftovers(out)
  assert not os.path.exists(out / 'broken')
  assert summary['rows'][0]['reason'].startswith(f'{url}{inputs}/clips/broken.mp4: not a readable')
  summary, _ = _run(items, url + str(out), url + tiny_model_dir)
  assert [r['status'] for r in summary['rows']] == ['failed', 'skipped', 'skipped', 'skipped']
