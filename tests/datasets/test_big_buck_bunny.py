"""Tests of the Big Buck Bunny fetch (on a fake moviepy sdist) and the split by time."""
import hashlib
import io
import json
import os
import tarfile
import zipfile

import mediapy
import pytest

from film.datasets import big_buck_bunny as bbb
from film.datasets import triplets
from film.datasets.frames import InputError
from tests.datasets.fakes import moving_scene, read_records


def _fake_sdist(tmp_path, video_bytes: bytes, member: str = bbb.ZIP_MEMBER) -> str:
  """A tar.gz laid out like moviepy-2.2.1.tar.gz around `video_bytes`."""
  zip_buffer = io.BytesIO()
  with zipfile.ZipFile(zip_buffer, 'w') as archive:
    archive.writestr('moviepy_10_minutes/resources/other.txt', 'x')
    archive.writestr(bbb.VIDEO_MEMBER, video_bytes)
  path = str(tmp_path / bbb.SDIST_NAME)
  with tarfile.open(path, 'w:gz') as tar:
    info = tarfile.TarInfo(member)
    info.size = len(zip_buffer.getvalue())
    tar.addfile(info, io.BytesIO(zip_buffer.getvalue()))
  return path


@pytest.fixture
def fake_video(tmp_path):
  path = str(tmp_path / 'source.mp4')
  mediapy.write_video(path, moving_scene(11, 30, height=32, width=48), fps=24, crf=10)
  with open(path, 'rb') as f:
    return f.read()


def test_fetch_extracts_verifies_and_records_facts(tmp_path, fake_video):
  sdist = _fake_sdist(tmp_path, fake_video)
  out = tmp_path / 'bbb'
  facts = bbb.fetch(str(out), sdist=sdist)
  assert sorted(os.listdir(out)) == ['bbb.json', 'bbb.mp4']  # Nothing temporary left.
  assert facts['sha256'] == hashlib.sha256(fake_video).hexdigest()
  assert (facts['num_frames'], facts['height'], facts['width'], facts['fps']) == (30, 32, 48, 24.0)
  assert json.load(open(out / 'bbb.json')) == facts
  assert bbb.fetch(str(out), sdist='/does/not/matter') == facts  # Already there: no work.


def test_fetch_rejects_a_wrong_tarball(tmp_path, fake_video):
  sdist = _fake_sdist(tmp_path, fake_video, member='moviepy-2.2.1/README.md')
  with pytest.raises(InputError, match='has no .*moviepy_10_minutes.zip.*pass the moviepy 2.2.1'):
    bbb.fetch(str(tmp_path / 'bbb'), sdist=sdist)
  assert not os.path.exists(tmp_path / 'bbb' / 'bbb.mp4')
  with pytest.raises(InputError, match='does not exist'):
    bbb.fetch(str(tmp_path / 'bbb'), sdist=str(tmp_path / 'missing.tar.gz'))


def test_time_split_numbers():
  split = bbb.time_split(14315, 0.1, 48)
  assert split.validation == (12883, 14315) and split.train == (0, 12835)
  with pytest.raises(InputError, match='leaves no training frames'):
    bbb.time_split(100, 0.5, 60)


def test_build_time_split_keeps_a_guard_gap(tmp_path, fake_video):
  video = tmp_path / 'bbb.mp4'
  video.write_bytes(fake_video)
  manifests = bbb.build_time_split(
      str(video), str(tmp_path / 'records'), validation_fraction=0.3, guard_frames=3,
      options=triplets.WindowOptions(gap=2, stride=1), train_shards=2, validation_shards=1,
      chunk_frames=5)
  # 30 frames: validation = frames 21..29, train = frames 0..17 (18..20 are the guard).
  train = read_records(str(tmp_path / 'records' / 'train'))
  validation = read_records(str(tmp_path / 'records' / 'validation'))
  train_starts = [int(r['path'].split('/')[1][:6]) for r in train]
  validation_starts = [int(r['path'].split('/')[1][:6]) for r in validation]
  assert train_starts == list(range(0, 16))           # Last window: frames 15, 16, 17.
  assert validation_starts == list(range(21, 28))     # Last window: frames 27, 28, 29.
  assert manifests['train']['split'] == {'train': (0, 18), 'validation': (21, 30)}


def test_fetch_checks_before_making_anything(tmp_path, fake_video):
  # A missing sdist or an unwritable output folder: a one-line error, and no folder is made.
  from film.cli import UserError
  with pytest.raises(InputError, match='does not exist'):
    bbb.fetch(str(tmp_path / 'new'), sdist=str(tmp_path / 'missing.tar.gz'))
  assert not os.path.exists(tmp_path / 'new')
  sdist = _fake_sdist(tmp_path, fake_video)
  with pytest.raises(UserError, match=r'--output_dir /proc/film/bbb: cannot write in /proc'):
    bbb.fetch('/proc/film/bbb', sdist=sdist)
