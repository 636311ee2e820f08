"""Finding the triplets or clips of each supported dataset layout on disk.

Each `find_*` function checks the layout and returns plain work items for the Beam jobs:
`TripletFiles` (three image files that already form a triplet) or `Clip` (a video or a frame
folder that windows are cut from). A wrong layout raises `frames.InputError` with a one-line
message naming the problem and the fix.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from absl import logging

from film.datasets import frames as frames_lib
from film.datasets.frames import InputError

VIMEO_LISTS = {'train': 'tri_trainlist.txt', 'test': 'tri_testlist.txt'}
VIMEO_FRAMES = ('im1.png', 'im2.png', 'im3.png')
MIDDLEBURY_FRAMES = ('frame10.png', 'frame10i11.png', 'frame11.png')
UCF101_FRAMES = ('frame0.png', 'frame1.png', 'frame2.png')


@dataclasses.dataclass(frozen=True)
class TripletFiles:
  """Three image files (x0, y, x1) forming one record named `name`, y at `time`."""
  name: str
  files: tuple[str, str, str]
  time: float = 0.5


@dataclasses.dataclass(frozen=True)
class Clip:
  """A video file (`kind='video'`) or frame folder (`kind='folder'`, `files` in order).

  Windows start in `[start, end - gap)`; `end=None` means the end of the clip.
  """
  name: str
  kind: str
  path: str
  files: tuple[str, ...] = ()
  start: int = 0
  end: Optional[int] = None


def _require_dir(path: str, what: str, fix: str) -> None:
  if not frames_lib.is_dir(path):
    raise InputError(f'{what} {path} is not a folder: {fix}')


def _check_files(name: str, files: tuple[str, ...], fix: str) -> None:
  if frames_lib.is_local(files[0]):
    missing = [f for f in files if not frames_lib.exists(f)]
    if missing:
      raise InputError(f'{name} lacks {missing[0]}: {fix}')


def find_vimeo_triplets(root: str, split: str = 'train') -> list[TripletFiles]:
  """Vimeo-90K: `root/tri_{train,test}list.txt` + `root/sequences/xxxxx/yyyy/im{1,2,3}.png`."""
  if split not in VIMEO_LISTS:
    raise InputError(f'unknown Vimeo split {split!r}: use one of {sorted(VIMEO_LISTS)}')
  _require_dir(root, 'Vimeo-90K root',
               'pass the folder that holds tri_trainlist.txt and sequences/')
  list_file = frames_lib.join(root, VIMEO_LISTS[split])
  if not frames_lib.exists(list_file):
    raise InputError(f'{list_file} is missing: pass the unzipped vimeo_triplet folder as the input')
  names = [line.strip() for line in frames_lib.read_bytes(list_file).decode('utf-8').splitlines()]
  names = [n for n in names if n]
  if not names:
    raise InputError(f'{list_file} lists no triplets: restore the original list file')
  sequences = frames_lib.join(root, 'sequences')
  _require_dir(sequences, 'Vimeo-90K sequences folder', 'unzip the sequences next to the list file')
  items = []
  for name in names:
    files = tuple(frames_lib.join(sequences, name, f) for f in VIMEO_FRAMES)
    _check_files(f'Vimeo-90K triplet {name}', files,
                 'restore the sequence or remove it from the list')
    items.append(TripletFiles(name=name, files=files))
  return items


def find_middlebury_triplets(root: str) -> list[TripletFiles]:
  """Middlebury "other": `root/<Seq>/frame10.png, frame10i11.png, frame11.png`.

  Also accepts the two official archives unpacked side by side:
  `root/other-data/<Seq>/frame1{0,1}.png` and `root/other-gt-interp/<Seq>/frame10i11.png`. Sequences without a ground truth are skipped.
  """
  _require_dir(root, 'Middlebury root', 'pass the folder that holds one folder per sequence')
  data_dir = gt_dir = root
  if frames_lib.is_dir(frames_lib.join(root, 'other-data')):
    data_dir = frames_lib.join(root, 'other-data')
    gt_dir = frames_lib.join(root, 'other-gt-interp')
    _require_dir(gt_dir, 'Middlebury ground-truth folder',
                 'unpack other-gt-interp next to other-data')
  items = []
  for seq in frames_lib.list_dir(data_dir):
    x0, x1 = (frames_lib.join(data_dir, seq, MIDDLEBURY_FRAMES[i]) for i in (0, 2))
    y = frames_lib.join(gt_dir, seq, MIDDLEBURY_FRAMES[1])
    if not (frames_lib.exists(x0) and frames_lib.exists(x1)):
      continue
    if not frames_lib.exists(y):
      logging.warning('Middlebury sequence %s has no %s; skipped.', seq, MIDDLEBURY_FRAMES[1])
      continue
    items.append(TripletFiles(name=seq, files=(x0, y, x1)))
  if not items:
    raise InputError(f'no Middlebury sequence with {"/".join(MIDDLEBURY_FRAMES)} under {root}: '
                     'pass the folder of <Seq>/ folders (merge other-data and other-gt-interp)')
  return items


def find_ucf101_triplets(root: str) -> list[TripletFiles]:
  """UCF101 interpolation triplets: `root/<NN>/frame0.png, frame1.png, frame2.png`."""
  _require_dir(root, 'UCF101 root', 'pass the folder that holds one folder per triplet')
  items = []
  for name in frames_lib.list_dir(root):
    files = tuple(frames_lib.join(root, name, f) for f in UCF101_FRAMES)
    if frames_lib.is_dir(frames_lib.join(root, name)):
      _check_files(f'UCF101 triplet {name}', files, 'restore its frames or remove the folder')
      items.append(TripletFiles(name=name, files=files))
  if not items:
    raise InputError(f'no UCF101 triplet folders under {root}: pass the folder of '
                     f'<NN>/{"/".join(UCF101_FRAMES)} folders')
  return items


def _folder_clip(name: str, folder: str) -> Clip:
  return Clip(name=name, kind='folder', path=folder,
              files=tuple(frames_lib.list_frame_files(folder)))


def find_frame_folder_clips(root: str) -> list[Clip]:
  """Xiph-style clips: `root/<clip>/<numbered frames>`, or `root` itself as one frame folder."""
  _require_dir(root, 'frame-folder root', 'pass a folder of clip folders of numbered frames')
  names = frames_lib.list_dir(root)
  if any(n.lower().endswith(frames_lib.IMAGE_EXTENSIONS) for n in names):
    return [_folder_clip(root.rstrip('/').split('/')[-1], root)]
  clips = [_folder_clip(n, frames_lib.join(root, n)) for n in names
           if frames_lib.is_dir(frames_lib.join(root, n))]
  if not clips:
    raise InputError(f'no clip folders in {root}: pass a folder whose sub-folders hold '
                     'numbered frames')
  return clips


def find_clips(input_path: str) -> list[Clip]:
  """Any video file, folder of videos, frame folder, or folder of frame folders."""
  if frames_lib.is_video_file(input_path):
    if not frames_lib.exists(input_path):
      raise InputError(f'video {input_path} does not exist: check the path')
    name = input_path.rstrip('/').split('/')[-1].rsplit('.', 1)[0]
    return [Clip(name=name, kind='video', path=input_path)]
  if not frames_lib.is_dir(input_path):
    raise InputError(f'{input_path} is neither a video file '
                     f'({"/".join(frames_lib.VIDEO_EXTENSIONS)}) '
                     'nor a folder: pass a video or a folder of frames or videos')
  names = frames_lib.list_dir(input_path)
  videos = [n for n in names if frames_lib.is_video_file(n)]
  if videos and not any(n.lower().endswith(frames_lib.IMAGE_EXTENSIONS) for n in names):
    return [Clip(name=n.rsplit('.', 1)[0], kind='video', path=frames_lib.join(input_path, n))
            for n in videos]
  return find_frame_folder_clips(input_path)
