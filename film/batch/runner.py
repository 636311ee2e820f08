"""The driver of a batch job: builds the Beam pipeline over `film.batch.jobs` items and runs it.

`run_batch` checks its arguments, skips finished items (resume), runs the rest through
`film.batch.beam.InterpolateItemFn` (the model loaded once per worker), shows progress from the
rows the workers write, and writes the manifest. Module dependencies run one way:
`batch_runner` -> `batch_beam` -> `batch`; Beam is imported only when a job runs.

    items = batch.find_items(['clips/*.mp4', 'shots/*/'], list_files=['pairs.txt'])
    summary = run_batch(items, 'out', model=None, options=pipeline.Options(times_to_interpolate=2))
"""
from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from typing import Any, Optional, Sequence

from absl import logging

from film.media import atomic
from film import cli
from film.inference import pipeline
from film.batch import storage
from film.batch.jobs import (DEFAULT_MEMORY_FRACTION, DONE, FAILED, ITEM_RECORD, MANIFEST_FIELDS,
                        MANIFEST_NAME, METRICS_NAMESPACE, OUTPUTS, RUN_DIR_PREFIX, RUN_DRIVER,
                        SKIPPED, VIDEO_FORMATS, BatchJob, Item, check_model, is_finished,
                        item_dir, quiet_imports, this_process)
from film.batch.models import shared_interpolator


def _read_rows(run_dir: str, rows: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
  """Adds the rows written by workers to `run_dir` since the last call to `rows`; returns it."""
  names = ([p.rsplit('/', 1)[-1] for p in storage.match(storage.join(run_dir, '*.json'))]
           if storage.is_url(run_dir) else os.listdir(run_dir))
  for name in names:
    if name.endswith('.json') and name[:-5].isdigit() and int(name[:-5]) not in rows:
      try:
        rows[int(name[:-5])] = json.loads(storage.read_bytes(storage.join(run_dir, name)))
      except (OSError, ValueError):
        continue  # Vanished or foreign (rows are published whole, never half-written).
  return rows


class _ProgressBar:
  """tqdm over items (frames written and failures in the postfix), fed by polling the run dir."""

  def __init__(self, run_dir: str, total: int, initial: int, disable: bool):
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    self._run_dir = run_dir
    self._bar = tqdm(total=total, initial=initial, unit='item', desc='film-interpolate-batch',
                     disable=disable, dynamic_ncols=True)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._poll, daemon=True)
    self._seen = 0
    self.rows: dict[int, dict[str, Any]] = {}

  def _update(self) -> None:
    rows = _read_rows(self._run_dir, self.rows)
    if len(rows) != self._seen:
      self._bar.update(len(rows) - self._seen)
      self._seen = len(rows)
      self._bar.set_postfix(frames=sum(r['frames'] for r in rows.values()),
                            failed=sum(r['status'] == FAILED for r in rows.values()))

  def _poll(self) -> None:
    while not self._stop.wait(0.5):
      self._update()

  def __enter__(self) -> '_ProgressBar':
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._stop.set()
    self._thread.join()
    self._update()
    self._bar.close()


def write_manifest(rows: Sequence[dict[str, Any]], path: str) -> None:
  """Writes the rows as JSON lines (.jsonl) or CSV (.csv, lists joined by ';'), atomically."""
  if path.lower().endswith('.csv'):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, extrasaction='ignore')
    writer.writeheader()
    for row in rows:
      writer.writerow({**row, 'inputs': ';'.join(row['inputs']),
                       'outputs': ';'.join(row['outputs']), 'reason': row['reason'] or ''})
    text = buffer.getvalue()
  else:
    text = ''.join(json.dumps({k: row.get(k) for k in MANIFEST_FIELDS}) + '\n' for row in rows)
  storage.write_bytes(path, text.encode())


def _skipped_row(output_root: str, item: Item) -> dict[str, Any]:
  record = json.loads(storage.read_bytes(storage.join(item_dir(output_root, item), ITEM_RECORD)))
  return {'item': item.name, 'status': SKIPPED, 'frames': record.get('frames', 0), 'seconds': 0.0,
          'reason': 'finished in an earlier run', 'kind': item.kind, 'inputs': list(item.inputs),
          'outputs': record.get('outputs', [])}


def _inside(path: str, folder: str) -> bool:
  if storage.is_url(path) or storage.is_url(folder):
    return path.rstrip('/') == folder.rstrip('/') or path.startswith(folder.rstrip('/') + '/')
  path, folder = os.path.realpath(path), os.path.realpath(folder)
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _remove_stale_run_dirs(output_root: str) -> None:
  """Removes run folders left by killed jobs of this host (their driver process is gone)."""
  host = socket.gethostname()
  for run_dir in glob.glob(os.path.join(glob.escape(output_root), RUN_DIR_PREFIX + '*')):
    try:
      with open(os.path.join(run_dir, RUN_DRIVER)) as f:
        driver_host, pid = f.read().rsplit(':', 1)
      if driver_host != host:
        continue
      os.kill(int(pid), 0)  # Raises if no such process.
    except ProcessLookupError:
      shutil.rmtree(run_dir, ignore_errors=True)
    except (OSError, ValueError):
      continue  # Being created, or not ours to judge.


def _children(pid: int) -> list[int]:
  out = []
  for task in glob.glob(f'/proc/{pid}/task/*/children'):
    try:
      with open(task) as f:
        out += [int(p) for p in f.read().split()]
    except OSError:
      continue
  return out


def _local_worker_pids() -> list[int]:
  """This process's descendants that are Beam SDK workers (local multi-process runs start them
  through `/bin/sh -c`, so they are grandchildren)."""
  todo, workers = _children(os.getpid()), []
  while todo:
    pid = todo.pop()
    try:
      with open(f'/proc/{pid}/cmdline', 'rb') as f:
        if b'apache_beam' in f.read():
          workers.append(pid)
          todo += _children(pid)
    except OSError:
      continue
  return workers


def _kill_local_workers() -> None:
  """On a stop signal: ends the local Beam workers at once (they would finish their bundle
  and log their shutdown); their item temporaries are removed by `_remove_item_temporaries`."""
  for pid in _local_worker_pids():
    with contextlib.suppress(OSError):
      os.kill(pid, signal.SIGKILL)


def _remove_item_temporaries(output_root: str, items: Sequence[Item]) -> None:
  """Removes the temporaries of `items` whose process is gone (killed workers included)."""
  deadline = time.time() + 10
  for item in items:
    final = item_dir(output_root, item)
    while True:
      left = [t for t in glob.glob(os.path.join(glob.escape(os.path.dirname(final)),
                                                f'.{glob.escape(os.path.basename(final))}'
                                                f'{atomic.TEMP_MARK}*'))
              if t not in atomic.stale_temporaries(final) and f'-{os.getpid()}-' not in t]
      atomic.remove_stale_temporaries(final)
      if not left or time.time() > deadline:
        break
      time.sleep(0.05)  # A killed worker not reaped yet, or one still stopping.


def _is_local_runner(pipeline_args: Sequence[str]) -> bool:
  runner = next((a.split('=', 1)[1] for a in pipeline_args if a.startswith('--runner=')), None)
  if runner is None and '--runner' in pipeline_args:
    runner = pipeline_args[list(pipeline_args).index('--runner') + 1]
  return runner is None or runner.lower().replace('runner', '') in ('direct', 'fnapi', 'prism')


def run_batch(items: Sequence[Item], output_root: str, *, model: Optional[str] = None,
              interpolator_kwargs: Optional[dict[str, Any]] = None,
              options: pipeline.Options = pipeline.Options(), outputs: str = 'auto',
              video_format: str = 'mp4', overwrite: bool = False, num_workers: int = 1,
              pipeline_args: Sequence[str] = (), manifest_path: Optional[str] = None,
              progress: bool = True) -> dict[str, Any]:
  """Interpolates `items` under `output_root` in one Beam job; writes and returns the manifest.

  Args:
    items: from `find_items`.
    output_root: folder for the items' outputs (created).
    model: model directory / FILM SavedModel; None: the default model.
    interpolator_kwargs: `Interpolator.from_path` arguments (max_memory_gb, tiling, ...).
    options: processing options (`film.inference.pipeline.Options`; its output paths are ignored).
    outputs: 'auto', 'frames', 'video' or 'both' (see `BatchJob`).
    video_format: 'mp4', 'gif', 'mov' or 'mkv'.
    overwrite: redo finished items (default: skip them).
    num_workers: local worker processes (1: this process); ignored with an explicit
      `--direct_*` or non-local `--runner` in `pipeline_args`.
    pipeline_args: standard Beam pipeline options, passed through unchanged.
    manifest_path: .jsonl or .csv; default `<output_root>/batch_manifest.jsonl`.
    progress: show the tqdm bar over items.

  Returns:
    {'rows': manifest rows in item order, 'counts': {status: n}, 'manifest': path,
     'seconds': wall time, 'counters': Beam counters, 'job_error': one line or None}.
  Raises:
    film.inference.pipeline.InputError (or ModelLoadError) for bad arguments, before any work.
  """
  if outputs not in OUTPUTS:
    raise pipeline.InputError(f'--outputs must be one of {", ".join(OUTPUTS)} (got {outputs!r})')
  if video_format not in VIDEO_FORMATS:
    raise pipeline.InputError(f'--video_format must be one of {", ".join(VIDEO_FORMATS)} '
                              f'(got {video_format!r})')
  if num_workers < 1:
    raise pipeline.InputError(f'--num_workers must be >= 1 (got {num_workers})')
  if not items:
    raise pipeline.InputError('no items to interpolate')
  if options.output_fps is not None and not options.input_fps and any(
      i.kind != 'video' for i in items):
    raise pipeline.InputError('--output_fps needs the frame rate of the frame folders and pairs: '
                              'pass --input_fps')
  check_model(model)
  from film.weights import published  # pylint: disable=g-import-not-at-top
  if published.is_model_name(model):  # resolved (fetched / converted) once, here, not per worker
    with quiet_imports():
      model = published.resolve(model, progress=progress)
  with quiet_imports():
    try:
      import apache_beam as beam  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise pipeline.InputError("batch interpolation needs Apache Beam; pip install "
                                "'film-interpolation[batch]'") from e
    from apache_beam.metrics.metric import MetricsFilter  # pylint: disable=g-import-not-at-top
    from film.batch import beam as batch_beam  # pylint: disable=g-import-not-at-top
    from film.datasets import beam_pipeline  # pylint: disable=g-import-not-at-top

  started = time.time()
  remote = storage.is_url(output_root)
  output_root = output_root.rstrip('/') if remote else os.path.abspath(output_root)
  inside = [i for i in items if any(_inside(p, output_root) for p in i.inputs)]
  if inside:  # E.g. a glob that also matches the outputs of an earlier run.
    if len(inside) == len(items):
      raise pipeline.InputError(f'every item is inside --output_root {output_root}; outputs '
                                'never go among the inputs: choose another output root')
    logging.warning('Ignoring %d item(s) inside --output_root (%s)', len(inside),
                    ', '.join(i.name for i in inside[:5]))
    items = [i for i in items if i not in inside]
  if not remote:
    # Up front, one line: read-only folders, /proc, a path under a regular file.
    atomic.check_output(output_root, directory=True, overwrite=True, flag='--output_root')
    os.makedirs(output_root, exist_ok=True)
  manifest_path = manifest_path or storage.join(output_root, MANIFEST_NAME)
  kwargs = dict(interpolator_kwargs or {})
  args = list(pipeline_args)
  threads = None
  workers = 1
  if num_workers > 1 and _is_local_runner(args) and not any(a.startswith('--direct_') for a in args):
    args += beam_pipeline.local_parallel_args(num_workers)
    threads = max(1, (os.cpu_count() or 1) // num_workers)
    workers = num_workers
  if workers > 1 and kwargs.get('max_memory_gb') is None:  # Each would assume all of it.
    from film.inference import resources  # pylint: disable=g-import-not-at-top
    kwargs['max_memory_gb'] = DEFAULT_MEMORY_FRACTION * resources.available_memory_bytes() / (
        workers * 2**30)

  todo = [(i, item) for i, item in enumerate(items)
          if overwrite or not is_finished(output_root, item)]
  rows: dict[int, dict[str, Any]] = {i: _skipped_row(output_root, item)
                                     for i, item in enumerate(items)
                                     if not overwrite and is_finished(output_root, item)}
  logging.info('%d items: %d to do, %d finished earlier', len(items), len(todo), len(rows))
  counters: dict[str, int] = {}
  job_error = None
  if remote:  # Rows are objects under this prefix (object stores need no folders).
    run_dir = storage.join(output_root, RUN_DIR_PREFIX + uuid.uuid4().hex[:12])
  else:
    _remove_stale_run_dirs(output_root)
    run_dir = tempfile.mkdtemp(prefix=RUN_DIR_PREFIX + uuid.uuid4().hex[:6] + '-',
                               dir=output_root)
    with open(os.path.join(run_dir, RUN_DRIVER), 'w') as f:
      f.write(this_process())
  if workers > 1:
    cli.on_stop(_kill_local_workers)
  try:
    if todo:
      job = BatchJob(model, kwargs, options, outputs, video_format, output_root, run_dir, threads)
      if workers == 1 and _is_local_runner(args) and not any(
          a.startswith('--direct_running_mode') and not a.endswith('in_memory') for a in args):
        shared_interpolator(job)  # The in-process worker reuses it; bad arguments fail here.
      # Local worker processes inherit this: gRPC's fork handlers can break ffmpeg start-up.
      os.environ.setdefault('GRPC_ENABLE_FORK_SUPPORT', 'false')
      p = beam.Pipeline(options=beam_pipeline.pipeline_options(args))
      _ = (p
           | 'Items' >> beam.Create(todo, reshuffle=True)
           | 'Interpolate' >> beam.ParDo(batch_beam.InterpolateItemFn(job, overwrite)))
      with _ProgressBar(run_dir, len(items), len(rows), not progress) as bar:
        try:
          result = p.run()
          result.wait_until_finish()
          counters = beam_pipeline.metric_counters(result, METRICS_NAMESPACE)
          try:
            millis = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
            for dist in millis['distributions']:
              value = dist.committed or dist.attempted
              if value is not None and value.count:
                counters['item_seconds_mean'] = round(value.mean / 1000, 3)
          except (NotImplementedError, AttributeError):
            pass
        except Exception as e:  # pylint: disable=broad-except  (reported; rows say what is done)
          if cli.stop_requested() or 'KeyboardInterrupt' in str(e):  # wrapped by the runner
            raise KeyboardInterrupt from e
          job_error = cli.user_error_message(e) or cli.one_line(str(e))[:500]
          logging.error('The batch job stopped: %s', job_error)
      done = bar.rows  # Complete: the bar reads the run folder once more when it closes.
      for index, item in todo:
        rows[index] = done.get(index) or {
            'item': item.name, 'status': FAILED, 'frames': 0, 'seconds': 0.0,
            'reason': f'not processed: the job stopped ({job_error})', 'kind': item.kind,
            'inputs': list(item.inputs), 'outputs': []}
  finally:
    if cli.stop_requested():  # killed workers must be gone before their run folder goes
      deadline = time.time() + 10
      while time.time() < deadline and any(atomic.process_alive(p) for p in _local_worker_pids()):
        time.sleep(0.05)
    storage.remove_tree(run_dir)
    if cli.stop_requested() and not remote:
      _remove_item_temporaries(output_root, [item for _, item in todo])
  ordered = [rows[i] for i in range(len(items))]
  write_manifest(ordered, manifest_path)
  counts = {s: sum(r['status'] == s for r in ordered) for s in (DONE, SKIPPED, FAILED)}
  return {'rows': ordered, 'counts': counts, 'manifest': manifest_path,
          'seconds': round(time.time() - started, 2), 'counters': counters,
          'job_error': job_error}
