"""Big Buck Bunny from PyPI, and a train/validation split of it by time.

The full film (1280x720, 24 fps, 14,315 frames; (c) Blender Foundation, CC-BY 3.0,
peach.blender.org) ships inside the source distribution of moviepy 2.2.1, as
`docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip` ->
`moviepy_10_minutes/resources/bbb.mp4`. `fetch` gets it with pip (the one registry this
machine reaches), extracts it atomically and checks that it decodes. `build_time_split` makes
TFRecords: the last `validation_fraction` of the film is validation, the frames before it are
training, and `guard_frames` between them belong to neither, so no validation frame is near a
training frame. Frames are streamed; the decoded film (~40 GB) is never in memory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import Any, Optional, Sequence

from absl import logging
from tqdm import tqdm

from film.media import atomic, video_io
from film.datasets import beam_pipeline
from film.datasets import frames as frames_lib
from film.datasets import layouts
from film.datasets import triplets as triplets_lib
from film.datasets.frames import InputError

MOVIEPY_REQUIREMENT = 'moviepy==2.2.1'
SDIST_NAME = 'moviepy-2.2.1.tar.gz'
ZIP_MEMBER = ('moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/'
              'moviepy_10_minutes.zip')
VIDEO_MEMBER = 'moviepy_10_minutes/resources/bbb.mp4'
VIDEO_NAME = 'bbb.mp4'
FACTS_NAME = 'bbb.json'
LICENSE = 'Big Buck Bunny (c) copyright 2008, Blender Foundation, www.bigbuckbunny.org, CC-BY 3.0'
_CHUNK = 1 << 20


def download_sdist(dest_dir: str) -> str:
  """Downloads the moviepy 2.2.1 source distribution with pip; returns its path."""
  command = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
             '--disable-pip-version-check', '-d', dest_dir, MOVIEPY_REQUIREMENT]
  logging.info('Running %s', ' '.join(command))
  done = subprocess.run(command, capture_output=True, text=True, check=False)
  path = os.path.join(dest_dir, SDIST_NAME)
  if done.returncode != 0 or not os.path.exists(path):
    last = (done.stderr.strip().splitlines() or ['no output'])[-1]
    raise InputError(f'pip could not download {MOVIEPY_REQUIREMENT} ({last}): check access to '
                     f'PyPI or pass --sdist=/path/to/{SDIST_NAME}')
  return path


def _copy_hashing(src, dst, total: Optional[int], desc: str) -> str:
  """Copies file object `src` to `dst`; returns the SHA-256 hex digest of the bytes."""
  digest = hashlib.sha256()
  with tqdm(total=total, unit='B', unit_scale=True, desc=desc, leave=False) as bar:
    while chunk := src.read(_CHUNK):
      digest.update(chunk)
      dst.write(chunk)
      bar.update(len(chunk))
  return digest.hexdigest()


def extract_video(sdist_path: str, video_path: str) -> str:
  """Extracts bbb.mp4 from the sdist to `video_path` (temp name, then rename); returns SHA-256."""
  if not os.path.exists(sdist_path):
    raise InputError(f'{sdist_path} does not exist: pass the {SDIST_NAME} that pip downloaded')
  out_dir = os.path.dirname(os.path.abspath(video_path))
  os.makedirs(out_dir, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=out_dir, prefix='.bbb-') as work:
    zip_path = os.path.join(work, 'moviepy_10_minutes.zip')
    try:
      with tarfile.open(sdist_path, 'r:gz') as tar:
        member = tar.getmember(ZIP_MEMBER)
        with tar.extractfile(member) as src, open(zip_path, 'wb') as dst:
          _copy_hashing(src, dst, member.size, 'zip')
    except (KeyError, tarfile.TarError, OSError) as e:
      raise InputError(f'{sdist_path} has no {ZIP_MEMBER} ({e}): pass the moviepy 2.2.1 '
                       'source tarball') from e
    temp_video = os.path.join(work, VIDEO_NAME)
    try:
      with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo(VIDEO_MEMBER)
        with archive.open(info) as src, open(temp_video, 'wb') as dst:
          sha256 = _copy_hashing(src, dst, info.file_size, VIDEO_NAME)
    except (KeyError, zipfile.BadZipFile) as e:
      raise InputError(f'the moviepy zip lacks {VIDEO_MEMBER} ({e}): pass the moviepy 2.2.1 '
                       'source tarball') from e
    os.replace(temp_video, video_path)
  return sha256


def fetch(output_dir: str, sdist: Optional[str] = None, force: bool = False) -> dict[str, Any]:
  """Puts `bbb.mp4` and `bbb.json` (facts) in `output_dir`; returns the facts.

  Args:
    output_dir: where the video goes (created if needed).
    sdist: an already downloaded `moviepy-2.2.1.tar.gz`; None downloads it with pip.
    force: fetch again even if `output_dir/bbb.mp4` is there.
  """
  video_path = os.path.join(output_dir, VIDEO_NAME)
  facts_path = os.path.join(output_dir, FACTS_NAME)
  if os.path.exists(video_path) and os.path.exists(facts_path) and not force:
    logging.info('%s is already there; pass --force to fetch it again.', video_path)
    with open(facts_path, encoding='utf-8') as f:
      return json.load(f)
  # Cheap checks before anything is made or downloaded (film.cli contract).
  if sdist is not None and not os.path.exists(sdist):
    raise InputError(f'{sdist} does not exist: pass the {SDIST_NAME} that pip downloaded')
  atomic.check_output(output_dir, inputs=[sdist] if sdist else [], overwrite=True,
                      directory=True, flag='--output_dir')
  os.makedirs(output_dir, exist_ok=True)
  with tempfile.TemporaryDirectory(prefix='moviepy-sdist-') as download_dir:
    sdist_path = sdist or download_sdist(download_dir)
    sha256 = extract_video(sdist_path, video_path)
  try:
    facts = describe_video(video_path)
  except InputError:
    os.remove(video_path)  # Never leave a video that does not decode.
    raise
  facts.update(sha256=sha256, bytes=os.path.getsize(video_path), license=LICENSE,
               source=f'pip download --no-deps --no-binary :all: {MOVIEPY_REQUIREMENT} -> '
                      f'{ZIP_MEMBER} -> {VIDEO_MEMBER}')
  atomic.write_text(facts_path, json.dumps(facts, indent=2))
  return facts


def describe_video(path: str) -> dict[str, Any]:
  """Header facts plus the exact frame count from a full (streaming) decode."""
  info = frames_lib.video_info(path)
  num_frames = frames_lib.count_video_frames(path)
  if num_frames <= 0:
    raise InputError(f'{path} decodes to no frames: delete it and fetch again')
  return {'path': os.path.abspath(path), 'num_frames': num_frames, 'height': info.height,
          'width': info.width, 'fps': float(info.fps),
          'fps_rational': video_io.format_rate(info.fps), 'duration_seconds': info.duration}


@dataclasses.dataclass(frozen=True)
class TimeSplit:
  """Frame ranges `[start, end)` of the two parts of a film split by time."""
  train: tuple[int, int]
  validation: tuple[int, int]


def time_split(num_frames: int, validation_fraction: float, guard_frames: int) -> TimeSplit:
  """Validation = the last `validation_fraction` of the frames; `guard_frames` unused before it."""
  if not 0 < validation_fraction < 1:
    raise InputError(f'validation_fraction must be in (0,1), got {validation_fraction}')
  validation_start = num_frames - int(round(num_frames * validation_fraction))
  train_end = validation_start - guard_frames
  if guard_frames < 0 or train_end <= 0:
    raise InputError(f'guard of {guard_frames} frames leaves no training frames out of '
                     f'{num_frames}: use a smaller --guard_frames or --validation_fraction')
  return TimeSplit(train=(0, train_end), validation=(validation_start, num_frames))


def build_time_split(video_path: str, output_dir: str, *, num_frames: Optional[int] = None,
                     validation_fraction: float = 0.1, guard_frames: int = 48,
                     options: triplets_lib.WindowOptions = triplets_lib.WindowOptions(),
                     transform: frames_lib.FrameTransform = frames_lib.FrameTransform(),
                     train_shards: int = 8, validation_shards: int = 1,
                     chunk_frames: int = beam_pipeline.DEFAULT_CHUNK_FRAMES,
                     pipeline_args: Optional[Sequence[str]] = None, overwrite: bool = False
                     ) -> dict[str, Any]:
  """Writes `output_dir/train` and `output_dir/validation` triplet records; returns manifests."""
  num_frames = num_frames or frames_lib.count_video_frames(video_path)
  split = time_split(num_frames, validation_fraction, guard_frames)
  manifests = {}
  for name, (start, end), shards in (('train', split.train, train_shards),
                                     ('validation', split.validation, validation_shards)):
    clip = layouts.Clip(name='bbb', kind='video', path=video_path, start=start, end=end)
    manifests[name] = beam_pipeline.create_clip_records(
        [clip], os.path.join(output_dir, name), options=options, transform=transform,
        num_shards=shards, chunk_frames=chunk_frames, pipeline_args=pipeline_args,
        overwrite=overwrite, dataset=f'big_buck_bunny_{name}',
        extra={'split': dataclasses.asdict(split), 'guard_frames': guard_frames})
  return manifests
