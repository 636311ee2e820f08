"""Batch interpolation: many frame folders, videos and image pairs in one Apache Beam job.

The library behind `film-interpolate-batch` (`film/batch/batch_cli.py`): items, their discovery,
resume checks and the work on one item. Notebooks and services call `find_items` here and
`film.batch.runner.run_batch` (the Beam job) directly:

    items = find_items(['clips/*.mp4', 'shots/*/'], list_files=['pairs.txt'])
    summary = batch_runner.run_batch(items, 'out', options=pipeline.Options(times_to_interpolate=2))

Items (`Item`): a frame folder, a video file, or two or more image files (a "pair" line of a
list file). Each item is interpolated exactly as `film-interpolate` would (`film.inference.pipeline.run`
with an `Interpolator` built from the same arguments: streaming, tiling, memory cap, scene cuts).

Output layout, mirroring the input names under `output_root`:

    <output_root>/<name>/frames/frame_000000.png ...    (PNG frames, when asked for)
    <output_root>/<name>/<last part of name>.mp4        (video, when asked for)
    <output_root>/<name>/film_batch_item.json           (result record: the "finished" marker)
    <output_root>/batch_manifest.jsonl                  (one row per item of the last run)

An item is built in a hidden temporary sibling `.<name>.tmp-*` and renamed into place when
complete, so `<output_root>/<name>/` exists only for finished items (a killed job leaves only
hidden temporaries, removed when the item is redone); with a URL output root it is built on
the worker's disk and uploaded with its result record last, the record being the marker. A rerun skips finished items (resume);
`overwrite=True` redoes them. An item that fails (corrupt file, too few frames, ...) gets a
one-line reason in the manifest and does not stop the others.

Beam: the model is loaded (and its graphs traced) once per worker process, in `DoFn.setup`, and
shared by the DoFn instances of that process. Without `--runner` the job runs in this process
on Beam's local FnApiRunner (TensorFlow's own threads use every core for each item);
`num_workers > 1` runs that many local worker processes, each with its share of the cores and
of the memory cap. Other runners (Dataflow, Flink, Spark) get the pipeline args unchanged; the
inputs, the model and `output_root` must then be reachable from every worker: URLs of a Beam
filesystem (gs://, s3://, ...; staged through local scratch space, see `film.batch.storage`)
or paths on a filesystem every worker mounts at the same place. Beam counters (namespace `film_batch`): `items_done`, `items_failed`, `frames_written`,
`model_loads` (`film.batch.models`), and the distribution `item_milliseconds`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import logging as std_logging
import os
import shutil
import socket
import tempfile
import time
from typing import Any, Iterator, Optional, Sequence

from absl import logging

from film.media import atomic, image_io, video_io
from film import cli
from film.inference import pipeline
from film.weights import model_files
from film.batch import storage

METRICS_NAMESPACE = 'film_batch'
ITEM_RECORD = 'film_batch_item.json'
FRAMES_DIR = 'frames'
MANIFEST_NAME = 'batch_manifest.jsonl'
OUTPUTS = ('auto', 'frames', 'video', 'both')
VIDEO_FORMATS = ('mp4', 'gif', 'mov', 'mkv')
RUN_DIR_PREFIX = '.film-batch-run-'
RUN_DRIVER = 'driver'  # host:pid of the job's driver, in its run folder
MANIFEST_FIELDS = ('item', 'status', 'frames', 'seconds', 'reason', 'kind', 'inputs', 'outputs')
DONE, SKIPPED, FAILED = 'done', 'skipped', 'failed'
# Share of the available memory that local workers split (film.inference.interpolator's default cap).
DEFAULT_MEMORY_FRACTION = 0.75


@dataclasses.dataclass(frozen=True)
class Item:
  """One unit of work.

  name: output name relative to the output root, '/'-separated (e.g. 'shots/a' for
    'in/shots/a.mp4' globbed from 'in/*/*.mp4').
  kind: 'folder' (a frame folder), 'video' (a video file) or 'pair' (two or more image files,
    interpolated in the given order).
  inputs: the input paths (one for folders and videos).
  """
  name: str
  kind: str
  inputs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BatchJob:
  """Everything a worker needs (picklable plain data).

  model: model directory / FILM SavedModel, or None for the default model.
  interpolator_kwargs: keyword arguments of `Interpolator.from_path` (memory cap, tiling, ...).
  options: `film.inference.pipeline.Options` template; its output paths are set per item.
  outputs: 'auto' (frames for folders and pairs, a video for videos), 'frames', 'video', 'both'.
  video_format: container of video outputs ('mp4', 'gif', 'mov', 'mkv').
  output_root: where the items' folders go.
  run_dir: this run's scratch folder (per-item result records, read by the driver).
  intra_op_threads: TensorFlow intra-op threads per worker process (None: TensorFlow's default).
  """
  model: Optional[str]
  interpolator_kwargs: dict[str, Any]
  options: pipeline.Options
  outputs: str
  video_format: str
  output_root: str
  run_dir: str
  intra_op_threads: Optional[int] = None


# ------------------------------------------------------------------------------ finding items

def _glob_base(pattern: str) -> str:
  """The leading folders of `pattern` that contain no wildcard ('' for the current folder)."""
  parts = pattern.rstrip('/').split('/')
  fixed = []
  for part in parts[:-1]:
    if glob.has_magic(part):
      break
    fixed.append(part)
  if len(fixed) == len(parts) - 1 and not glob.has_magic(parts[-1]):
    return '/'.join(fixed)  # No wildcard at all: names are relative to the parent.
  return '/'.join(fixed) or ('/' if pattern.startswith('/') else '')


def _relative_name(path: str, base: str) -> str:
  if storage.is_url(path):
    prefix = base.rstrip('/') + '/'
    return path[len(prefix):] if path.startswith(prefix) else path.rstrip('/').rsplit('/', 1)[-1]
  rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base or '.'))
  if rel.startswith('..') or os.path.isabs(rel) or rel == '.':
    rel = os.path.basename(os.path.normpath(path))
  return rel.replace(os.sep, '/')


def _is_video(path: str) -> bool:
  return path.lower().endswith(video_io.VIDEO_EXTENSIONS)


def _item_for_path(path: str, base: str, folders: bool = True) -> Optional[Item]:
  """A folder or video item for `path`, or None (with a warning) for other files. URLs are
  videos by extension, else folders (`folders=False`: skipped, e.g. files a URL glob matched)."""
  if storage.is_url(path):
    if _is_video(path):
      return Item(os.path.splitext(_relative_name(path, base))[0], 'video', (path,))
    if folders:
      return Item(_relative_name(path, base), 'folder', (path.rstrip('/'),))
    logging.warning('Skipping %s: not a video (frame folders at URLs: list them in --input_list)',
                    path)
    return None
  path = os.path.abspath(path)  # Workers may run elsewhere (another current folder).
  if _is_video(path) and not os.path.isdir(path):
    return Item(os.path.splitext(_relative_name(path, base))[0], 'video', (path,))
  if os.path.isdir(path) or not os.path.exists(path):  # A missing path fails as its item.
    return Item(_relative_name(path, base), 'folder', (path,))
  logging.warning('Skipping %s: not a folder or a video%s', path,
                  ' (list image pairs in --input_list)' if path.lower().endswith(
                      image_io.IMAGE_EXTENSIONS) else '')
  return None


def _list_file_items(list_file: str) -> list[Item]:
  """Items of a list file: one per line, `PATH` (folder or video) or image paths separated by
  tabs (or by spaces when no tab is present and the line is not itself a path). Relative paths
  are relative to the list file's folder; blank lines and lines starting with '#' are ignored."""
  if not os.path.isfile(list_file):
    raise pipeline.InputError(f'--input_list {list_file} does not exist; check the path')
  base = os.path.dirname(list_file)
  items = []
  with open(list_file, encoding='utf-8') as f:
    for line in f:
      line = line.strip()
      if not line or line.startswith('#'):
        continue
      if '\t' in line:
        fields = [p.strip() for p in line.split('\t') if p.strip()]
      elif storage.is_url(line) or os.path.exists(os.path.join(base, line)):
        fields = [line]
      else:
        fields = line.split()
      paths = [p if storage.is_url(p) else os.path.abspath(os.path.join(base, p)) for p in fields]
      if len(paths) == 1:
        item = _item_for_path(paths[0], base)
        if item:
          items.append(item)
        continue
      stems = [os.path.splitext(p.rsplit('/', 1)[-1])[0] for p in paths]
      folder = os.path.dirname(_relative_name(paths[0], base))
      name = '/'.join(filter(None, [folder, f'{stems[0]}-{stems[-1]}']))
      items.append(Item(name, 'pair', tuple(paths)))
  return items


def find_items(patterns: Sequence[str] = (), list_files: Sequence[str] = ()) -> list[Item]:
  """Items from glob patterns (each match: a frame folder or a video) and list files.

  Glob matches are named relative to the pattern's leading wildcard-free folders
  ('in/*/*.mp4' -> 'shots/a' for 'in/shots/a.mp4'; video extensions are dropped); other files
  are skipped with a warning. Raises `film.inference.pipeline.InputError` when a pattern matches nothing,
  nothing is found at all, or two items would write the same output name.
  """
  items: list[Item] = []
  for pattern in patterns:
    found = storage.match(pattern) if storage.is_url(pattern) else glob.glob(pattern,
                                                                              recursive=True)
    matches = sorted(found, key=lambda p: [image_io.natural_key(part) for part in p.split('/')])
    if not matches:
      raise pipeline.InputError(f'--inputs {pattern} matches nothing; check the pattern (quote it '
                                'so that the shell does not expand it)')
    base = _glob_base(pattern)
    if not storage.is_url(pattern):  # '**' also matches the folder itself
      matches = [m for m in matches if os.path.abspath(m) != os.path.abspath(base or '.')]
    items.extend(i for i in (_item_for_path(m.rstrip('/'), base, folders=not storage.is_url(m))
                             for m in matches) if i)
  for list_file in list_files:
    items.extend(_list_file_items(list_file))
  unique, by_name = [], {}
  for item in items:
    previous = by_name.get(item.name)
    if previous is None:
      by_name[item.name] = item
      unique.append(item)
    elif previous.inputs != item.inputs:  # (Local inputs are absolute already.)
      raise pipeline.InputError(f'{", ".join(previous.inputs)} and {", ".join(item.inputs)} would '
                                f'both write {item.name}; rename one of them')
  if not unique:
    raise pipeline.InputError('no items found; pass --inputs GLOB (frame folders or videos) and/or '
                              '--input_list FILE')
  for name in by_name:
    parts = name.split('/')
    outer = next((o for o in ('/'.join(parts[:k]) for k in range(1, len(parts))) if o in by_name),
                 None)
    if outer is not None:
      raise pipeline.InputError(f'items {outer} and {name} would write one inside the other; '
                                'glob one level of folders, or list the items in --input_list')
  return unique


# ------------------------------------------------------------------------------ one item

def item_dir(output_root: str, item: Item) -> str:
  return storage.join(output_root, *item.name.split('/'))


def is_finished(output_root: str, item: Item) -> bool:
  """True if the item's folder holds its result record (published only when complete)."""
  return storage.exists(storage.join(item_dir(output_root, item), ITEM_RECORD))


def item_options(job: BatchJob, item: Item, folder: str) -> pipeline.Options:
  """The `film.inference.pipeline.Options` of `item`, writing into `folder`."""
  outputs = job.outputs
  if outputs == 'auto':
    outputs = 'video' if item.kind == 'video' else 'frames'
  video_name = f'{item.name.rsplit("/", 1)[-1]}.{job.video_format}'
  return dataclasses.replace(
      job.options, quiet=True, overwrite=False,
      output_dir=os.path.join(folder, FRAMES_DIR) if outputs in ('frames', 'both') else None,
      output_video=os.path.join(folder, video_name) if outputs in ('video', 'both') else None)


def one_line_reason(error: BaseException) -> str:
  """A one-line reason for a failed item: the message of a user error (`film.cli`: corrupt or
  unreadable input, full disk, ...), else `Type: message`."""
  message = cli.user_error_message(error)
  if message is not None:
    return message
  text = cli.one_line(str(error))
  return f'{type(error).__name__}: {text}' if text else type(error).__name__


def write_json(path: str, record: dict[str, Any]) -> None:
  """Writes `record` to `path` (local: atomically; URL: one object)."""
  storage.write_bytes(path, json.dumps(record, indent=1, default=str).encode())  # Fraction fps


def _build_item(job: BatchJob, item: Item, inputs: list[str], output_root: str, interpolator,
                overwrite: bool, row: dict[str, Any], started: float) -> None:
  """Interpolates `inputs` into the local `<output_root>/<name>/`, atomically (temporary
  sibling, renamed when complete, result record inside); fills `row`."""
  final = item_dir(output_root, item)
  if os.path.exists(final) and not overwrite:
    raise pipeline.InputError(f'output {final} exists but is not a finished batch item; remove '
                              'it or pass --overwrite')
  # (Also removes the temporaries of this item left by killed runs, never a live run's.)
  tmp = atomic.temp_sibling(final, directory=True)
  try:
    source = pipeline.resolve_inputs(inputs)
    options = item_options(job, item, tmp)
    pipeline.validate_options(source, options)
    interpolator.tiles(source.height, source.width)  # Raises if no tile fits the memory cap.
    summary = pipeline.run(source, options, interpolator)
    row.update(status=DONE, frames=summary['frames'],
               outputs=[os.path.relpath(p, tmp) for p in summary['outputs']])
    row['seconds'] = round(time.time() - started, 3)
    write_json(os.path.join(tmp, ITEM_RECORD), {
        **row, 'fps': summary.get('fps'), 'gaps': summary.get('gaps'),
        'worker': this_process(), 'finished': time.strftime('%Y-%m-%dT%H:%M:%S%z')})
    atomic.publish(tmp, final, overwrite)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def process_item(job: BatchJob, item: Item, interpolator, overwrite: bool = False
                 ) -> dict[str, Any]:
  """Interpolates `item` into `<output_root>/<name>/`; returns its manifest row.

  Local output root: built in a temporary sibling and renamed into place. URL output root (or
  URL inputs): inputs are copied to a local scratch folder, the item is built there, then
  uploaded with its result record last (`film.batch.storage`). Failures of the item are caught
  and returned as a 'failed' row with a one-line reason; a failed item leaves no output.
  """
  started = time.time()
  row = {'item': item.name, 'status': FAILED, 'frames': 0, 'seconds': 0.0, 'reason': None,
         'kind': item.kind, 'inputs': list(item.inputs), 'outputs': []}
  remote_root = storage.is_url(job.output_root)
  staged: dict[str, str] = {}  # local copy -> URL, to name the URL in failure reasons
  try:
    with contextlib.ExitStack() as stack:
      inputs, root = list(item.inputs), job.output_root
      if remote_root or any(storage.is_url(p) for p in inputs):
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix='film-batch-'))
        inputs = storage.stage_inputs(item.kind, item.inputs, os.path.join(scratch, 'in'))
        staged = {a: b for a, b in zip(inputs, item.inputs) if a != b}
        if remote_root:
          root = os.path.join(scratch, 'out')
          record = storage.join(item_dir(job.output_root, item), ITEM_RECORD)
          if overwrite and storage.exists(record):
            storage.remove_tree(item_dir(job.output_root, item))  # Never a half overwrite.
      _build_item(job, item, inputs, root, interpolator, overwrite, row, started)
      if remote_root:
        storage.upload_tree(item_dir(root, item), item_dir(job.output_root, item), ITEM_RECORD)
  except Exception as e:  # pylint: disable=broad-except  (isolate the item's failure)
    reason = one_line_reason(e)
    for local, url in staged.items():
      reason = reason.replace(local, url)
    row.update(status=FAILED, frames=0, outputs=[], reason=reason)
    logging.warning('Item %s failed: %s', item.name, row['reason'])
  row['seconds'] = round(time.time() - started, 3)
  return row


# ------------------------------------------------------------------------------ the job

def check_model(model: Optional[str]) -> None:
  from film.weights import defaults, published  # pylint: disable=g-import-not-at-top
  model = published.model_argument(model)
  if model is None or published.is_model_name(model):
    model_files.check_model_argument(model)
    return
  path = model
  if storage.is_url(path):
    if not storage.exists(storage.join(path, defaults.MODEL_MANIFEST)):
      raise pipeline.InputError(f'model {path} has no {defaults.MODEL_MANIFEST}; from a URL only '
                                'film model folders (film-convert output) can be read')
    return
  if not os.path.exists(path):
    raise pipeline.InputError(f'model {path} does not exist; pass --model with a film model '
                              'directory or a FILM SavedModel')
  model_files.check_model_files(path)


@contextlib.contextmanager
def quiet_imports() -> Iterator[None]:
  """Hides the start-up lines of importing TensorFlow and Beam (C++ lines on fd 2, and Beam's
  Python INFO/WARNING notices about optional GCP clients); errors still show."""
  with cli.quiet_native_stderr():
    std_logging.disable(std_logging.WARNING)
    try:
      yield
    finally:
      std_logging.disable(std_logging.NOTSET)

def this_process() -> str:
  """`host:pid` of this process (who drives a job, who built an item)."""
  return f'{socket.gethostname()}:{os.getpid()}'
