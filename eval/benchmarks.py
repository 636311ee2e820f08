"""Benchmark readers: every layout yields `Triplet(name, x0, y, x1, t)`.

`x0`, `y` (ground truth) and `x1` are numpy `[H,W,3]` float32 RGB in [0,1]; `t` is a float in
[0,1] (0.5 for all the triplet layouts). Layouts (`LAYOUTS`, auto-detected by `detect_layout`):

* `middlebury`: `<root>/<Seq>/frame10.png, frame10i11.png (GT), frame11.png` (Middlebury-other).
* `ucf101`: `<root>/<NN>/frame0.png, frame1.png (GT), frame2.png`.
* `vimeo90k`: `<root>/tri_testlist.txt` listing `xxxxx/yyyy`, frames
  `<root>/sequences/xxxxx/yyyy/im1.png, im2.png (GT), im3.png`.
* `xiph`: consecutive numbered frames of a clip (`<root>/*.png`, or one sub-folder per clip);
  frames i, i+1, i+2 form a triplet with i+1 as ground truth, for every i (stride 1).
* `triplets`: any folder tree whose leaf folders hold one triplet named either
  `frame0/frame1/frame2` or `frame10/frame10i11/frame11` (any image extension), including a
  single triplet folder given directly.
* `tfrecord`: a `.tfrecord` file, a folder of them, or a glob; records follow
  `datasets.schema` (`parse_example` -> `x0`, `y`, `x1`, `time`, `path`); read by
  `film.eval.tfrecord_benchmark` (imported only for this layout: it needs TensorFlow).

Problems with paths or layouts raise `BenchmarkError` with a one-line message naming the
problem and the fix.
"""
from __future__ import annotations

import fnmatch
import glob
import os
import re
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from film.media import image_io
from film.cli import UserError

IMAGE_EXTENSIONS = image_io.IMAGE_EXTENSIONS
TFRECORD_PATTERNS = ('*.tfrecord', '*.tfrecord-*', '*.tfrecords', '*.tfr')

# Triplet frame-name conventions: (first, ground truth, last), without extension.
TRIPLET_NAMINGS = (('frame0', 'frame1', 'frame2'), ('frame10', 'frame10i11', 'frame11'))
MIDDLEBURY_NAMES = TRIPLET_NAMINGS[1]
UCF101_NAMES = TRIPLET_NAMINGS[0]
VIMEO_NAMES = ('im1', 'im2', 'im3')
VIMEO_LIST = 'tri_testlist.txt'

LAYOUTS = ('middlebury', 'ucf101', 'vimeo90k', 'xiph', 'triplets', 'tfrecord')


class BenchmarkError(UserError):
  """A benchmark path or layout problem; `str(error)` is one line naming problem and fix."""


class Triplet(NamedTuple):
  """One evaluation sample.

  Attributes:
    name: sample id unique within its benchmark (e.g. 'Urban2', '00001/0389', 'clip/0007').
    x0: `[H,W,3]` float32 RGB in [0,1], the frame at time 0.
    y: `[H,W,3]` float32 RGB in [0,1], ground truth at time `t`.
    x1: `[H,W,3]` float32 RGB in [0,1], the frame at time 1.
    t: time of `y` in [0,1].
  """
  name: str
  x0: np.ndarray
  y: np.ndarray
  x1: np.ndarray
  t: float


def read_image(path: str) -> np.ndarray:
  """Reads an image file as `[H,W,3]` float32 RGB in [0,1] (`film.media.image_io`: 8/16-bit, EXIF
  orientation applied, alpha dropped)."""
  return image_io.read_image(path)


def _find_image(folder: str, stem: str) -> Optional[str]:
  """Path of `<folder>/<stem>.<image extension>` or None."""
  for ext in IMAGE_EXTENSIONS:
    for candidate in (stem + ext, stem + ext.upper()):
      path = os.path.join(folder, candidate)
      if os.path.isfile(path):
        return path
  return None


def _triplet_paths(folder: str, names: Sequence[str]) -> Optional[Tuple[str, str, str]]:
  """The three image paths of `folder` for naming `names`, or None if any is missing."""
  paths = [_find_image(folder, stem) for stem in names]
  return None if None in paths else tuple(paths)  # type: ignore[return-value]


def _folder_naming(folder: str) -> Optional[Tuple[str, str, str]]:
  """Which `TRIPLET_NAMINGS` entry `folder` holds completely, or None."""
  for names in TRIPLET_NAMINGS:
    if _triplet_paths(folder, names) is not None:
      return names
  return None


def _subdirs(folder: str) -> List[str]:
  return sorted(entry.path for entry in os.scandir(folder)
                if entry.is_dir() and not entry.name.startswith('.'))


def _images(folder: str) -> List[str]:
  return sorted(entry.path for entry in os.scandir(folder)
                if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS))


_NUMBERED = re.compile(r'^(.*?)(\d+)$')


def _numbered_frames(folder: str) -> List[str]:
  """Image files of `folder` whose stem ends in digits, sorted by that number; [] if < 3."""
  numbered = []
  for path in _images(folder):
    match = _NUMBERED.match(os.path.splitext(os.path.basename(path))[0])
    if match:
      numbered.append((match.group(1), int(match.group(2)), path))
  prefixes = {prefix for prefix, _, _ in numbered}
  if len(numbered) < 3 or len(prefixes) != 1:
    return []
  return [path for _, _, path in sorted(numbered)]


class Benchmark:
  """A lazily loaded benchmark: `len()` samples; iterating yields `Triplet`s.

  Attributes:
    name: benchmark name (folder basename by default), used in reports.
    root: the path given.
    layout: one of `LAYOUTS`.
  """

  def __init__(self, name: str, root: str, layout: str, count: int,
               iterate: Callable[[int], Iterator[Triplet]]):
    """`iterate(n)` must yield the first `n` samples, reading frames only as it goes."""
    self.name = name
    self.root = root
    self.layout = layout
    self._count = count
    self._iterate = iterate

  @classmethod
  def from_loaders(cls, name: str, root: str, layout: str,
                   loaders: Sequence[Callable[[], Triplet]]) -> 'Benchmark':
    """A benchmark over per-sample loader functions."""
    loaders = list(loaders)
    return cls(name, root, layout, len(loaders), lambda n: (load() for load in loaders[:n]))

  def __len__(self) -> int:
    return self._count

  def __iter__(self) -> Iterator[Triplet]:
    return iter(self._iterate(self._count))

  def limit(self, max_samples: Optional[int]) -> 'Benchmark':
    """A benchmark with only the first `max_samples` samples (all if None)."""
    if max_samples is None or max_samples >= self._count:
      return self
    return Benchmark(self.name, self.root, self.layout, max(0, max_samples), self._iterate)


def _load_triplet(name: str, paths: Tuple[str, str, str], t: float = 0.5) -> Triplet:
  """Reads three image files into a checked `Triplet`."""
  x0, y, x1 = (read_image(path) for path in paths)
  if not x0.shape == y.shape == x1.shape:
    raise BenchmarkError(f'sample {name}: frames differ in size ({x0.shape[:2]}, {y.shape[:2]}, '
                         f'{x1.shape[:2]}); all three frames of a triplet must match')
  return Triplet(name, x0, y, x1, t)


def _loader(name: str, paths: Tuple[str, str, str]) -> Callable[[], Triplet]:
  return lambda: _load_triplet(name, paths)


# --------------------------------------------------------------------------------- detection


def _is_tfrecord_name(path: str) -> bool:
  return any(fnmatch.fnmatch(os.path.basename(path), p) for p in TFRECORD_PATTERNS)


def tfrecord_files(path: str) -> List[str]:
  """TFRecord files named by a file, a folder of them, or a glob pattern."""
  if os.path.isfile(path):
    return [path] if _is_tfrecord_name(path) else []
  if os.path.isdir(path):
    return sorted(entry.path for entry in os.scandir(path)
                  if entry.is_file() and _is_tfrecord_name(entry.path))
  if glob.has_magic(path):
    return sorted(p for p in glob.glob(path) if os.path.isfile(p))
  return []


def _triplet_leaves(root: str) -> List[Tuple[str, Tuple[str, str, str]]]:
  """All folders under `root` (recursively, root included) that hold a complete triplet."""
  leaves = []
  for folder, dirs, _ in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    for names in TRIPLET_NAMINGS:
      paths = _triplet_paths(folder, names)
      if paths is not None:
        leaves.append((folder, paths))
        break
  return sorted(leaves)


def detect_layout(root: str) -> str:
  """Guesses the layout of `root` (see module docstring).

  Args:
    root: a benchmark folder, TFRecord file or glob.

  Returns:
    One of `LAYOUTS`.

  Raises:
    BenchmarkError: `root` does not exist or matches no layout.
  """
  if tfrecord_files(root):
    return 'tfrecord'
  if not os.path.exists(root):
    raise BenchmarkError(f'benchmark path {root} does not exist; pass an existing folder to '
                         f'--benchmark_dir')
  if not os.path.isdir(root):
    raise BenchmarkError(f'benchmark path {root} is a file but not a TFRecord; pass a benchmark '
                         f'folder or a .tfrecord file to --benchmark_dir')
  if os.path.isfile(os.path.join(root, VIMEO_LIST)):
    return 'vimeo90k'
  children = _subdirs(root)
  namings = {_folder_naming(child) for child in children}
  if children and namings == {MIDDLEBURY_NAMES}:
    return 'middlebury'
  if children and namings == {UCF101_NAMES}:
    return 'ucf101'
  if _triplet_leaves(root):
    return 'triplets'
  if _numbered_frames(root) or (children and all(_numbered_frames(c) for c in children)):
    return 'xiph'
  raise BenchmarkError(
      f'no known benchmark layout in {root} (expected <seq>/frame10,frame10i11,frame11 or '
      f'<seq>/frame0,frame1,frame2 images, tri_testlist.txt + sequences/, numbered frames, or '
      f'.tfrecord files); fix the path or pass --layout')


# ----------------------------------------------------------------------------------- readers


def _require_folder(root: str, layout: str, what: str) -> None:
  if not os.path.isdir(root):
    raise BenchmarkError(f'benchmark path {root} is not a folder; pass {what} for the {layout} '
                         f'layout')


def _found(loaders: List[Callable[[], Triplet]], missing: str) -> List[Callable[[], Triplet]]:
  """`loaders`, or a `BenchmarkError(missing)` when a layout reader found no sample."""
  if not loaders:
    raise BenchmarkError(missing)
  return loaders


def _read_named_subfolders(root: str, names: Sequence[str],
                           layout: str) -> List[Callable[[], Triplet]]:
  """Samples of the `<root>/<sample>/{names}` layouts (Middlebury, UCF101)."""
  _require_folder(root, layout, f'the folder of <sample>/{",".join(names)} folders')
  loaders = []
  for child in _subdirs(root):
    paths = _triplet_paths(child, names)
    if paths is None:
      raise BenchmarkError(f'{child} lacks one of the {"/".join(names)} images, so {root} is not '
                           f'{layout} layout; fix the folder or pass another --layout')
    loaders.append(_loader(os.path.basename(child), paths))
  return _found(loaders, f'{root} has no sample sub-folders, so it is not {layout} layout; fix '
                f'the path or pass another --layout')


def _read_vimeo(root: str) -> List[Callable[[], Triplet]]:
  _require_folder(root, 'vimeo90k', 'the folder holding tri_testlist.txt and sequences/')
  list_path = os.path.join(root, VIMEO_LIST)
  if not os.path.isfile(list_path):
    raise BenchmarkError(f'{list_path} not found, so {root} is not vimeo90k layout; pass the '
                         f'folder that holds tri_testlist.txt and sequences/')
  with open(list_path, encoding='utf-8') as f:
    entries = [line.strip() for line in f if line.strip()]
  loaders = []
  for entry in entries:
    folder = os.path.join(root, 'sequences', entry)
    paths = _triplet_paths(folder, VIMEO_NAMES)
    if paths is None:
      raise BenchmarkError(f'{VIMEO_LIST} lists {entry} but {folder}/im1,im2,im3 images are '
                           f'missing; restore the sequences or trim the list')
    loaders.append(_loader(entry, paths))
  return _found(loaders, f'{list_path} is empty; list sequences as xxxxx/yyyy, one per line')


def _read_xiph(root: str) -> List[Callable[[], Triplet]]:
  _require_folder(root, 'xiph', 'a folder of numbered frames (or of clip folders)')
  clips = [(None, root)] if _numbered_frames(root) else [
      (os.path.basename(c), c) for c in _subdirs(root)]
  loaders = []
  for clip_name, folder in clips:
    frames = _numbered_frames(folder)
    if not frames:
      raise BenchmarkError(f'{folder} has fewer than 3 numbered frames sharing one name prefix, '
                           f'so {root} is not xiph layout; fix it or pass another --layout')
    for i in range(len(frames) - 2):
      stem = os.path.splitext(os.path.basename(frames[i + 1]))[0]
      name = stem if clip_name is None else f'{clip_name}/{stem}'
      loaders.append(_loader(name, (frames[i], frames[i + 1], frames[i + 2])))
  return _found(loaders, f'{root} has no clip folders of numbered frames, so it is not xiph '
                f'layout; fix the path or pass another --layout')


def _read_triplets(root: str) -> List[Callable[[], Triplet]]:
  _require_folder(root, 'triplets', 'a folder of triplet folders')
  loaders = []
  for folder, paths in _triplet_leaves(root):
    name = os.path.relpath(folder, root)
    name = os.path.basename(os.path.abspath(root)) if name == '.' else name
    loaders.append(_loader(name, paths))
  return _found(loaders, f'no folder under {root} holds frame0/frame1/frame2 or '
                f'frame10/frame10i11/frame11 images; fix the path or pass --layout')


_FOLDER_READERS: Dict[str, Callable[[str], List[Callable[[], Triplet]]]] = {
    'middlebury': lambda root: _read_named_subfolders(root, MIDDLEBURY_NAMES, 'middlebury'),
    'ucf101': lambda root: _read_named_subfolders(root, UCF101_NAMES, 'ucf101'),
    'vimeo90k': _read_vimeo,
    'xiph': _read_xiph,
    'triplets': _read_triplets,
}


def default_name(root: str) -> str:
  """Benchmark name from its path: the folder basename, or a TFRecord file's stem."""
  base = root.rstrip('/\\')
  if glob.has_magic(base):
    base = os.path.dirname(base)
  name = os.path.basename(base)
  if os.path.isfile(base):
    name = name.split('.')[0]
  return name or 'benchmark'


def open_benchmark(root: str, layout: Optional[str] = None, name: Optional[str] = None,
                   max_samples: Optional[int] = None) -> Benchmark:
  """Lists the samples of a benchmark (frames are read lazily during iteration).

  Args:
    root: benchmark folder, TFRecord file or glob.
    layout: one of `LAYOUTS`, or None/'auto' to detect it.
    name: benchmark name for reports; defaults to `default_name(root)`.
    max_samples: keep only the first this many samples (all if None).

  Returns:
    A `Benchmark`.

  Raises:
    BenchmarkError: bad path, unknown layout, or a folder that does not match the layout.
  """
  if layout in (None, '', 'auto'):
    layout = detect_layout(root)
  if layout not in LAYOUTS:
    raise BenchmarkError(f'unknown layout {layout!r}; pass --layout as one of '
                         f'{", ".join(LAYOUTS)} or auto')
  name = name or default_name(root)
  if layout == 'tfrecord':
    from film.eval import tfrecord_benchmark  # TensorFlow; builds on this module's types
    return tfrecord_benchmark.open_tfrecords(name, root).limit(max_samples)
  if not os.path.exists(root):
    raise BenchmarkError(f'benchmark path {root} does not exist; pass an existing folder to '
                         f'--benchmark_dir')
  loaders = _FOLDER_READERS[layout](root)
  return Benchmark.from_loaders(name, root, layout, loaders).limit(max_samples)
