"""Apache Beam jobs that write triplet TFRecords (format: `datasets/schema.py`).

Two job shapes cover every dataset:

* `create_triplet_records`: items that already are triplets (Vimeo-90K, Middlebury, UCF101).
  PNG files that are 8-bit RGB are copied into the records byte for byte (no re-encode) unless
  a resize/crop is asked for.
* `create_clip_records`: videos and frame folders, cut into windows (`datasets/triplets.py`).
  Each clip is split into chunks of `chunk_frames` window starts so long videos decode in
  parallel; a chunk seeks to its first frame and streams, holding `gap + 1` frames at a time.

Runners. `pipeline_args` are standard Beam pipeline options and pass through unchanged, so the
same job runs on Dataflow, Flink or Spark (e.g. `--runner=DataflowRunner --project=...
--region=... --temp_location=gs://...`, with gs:// inputs and output). Without `--runner` we
use `FnApiRunner`: the local engine of Beam's DirectRunner. (In Beam 2.77 `DirectRunner` first
tries the Prism runner, which downloads a binary at run time; offline that fails and it falls
back to the same FnApiRunner, so `--runner=DirectRunner` also works, after a failed download.)
Local parallelism: `--direct_num_workers=2 --direct_running_mode=multi_processing` (the CLIs
default to that with one worker per core). The local runner buffers the records of a stage in
memory before the sharded write: budget about the size of the output.

Outputs are never partial: shards go to a hidden temporary folder next to `output_dir`, which
is renamed to `output_dir` only after the job succeeded, with `manifest.json` beside the shards
(record counts, drop counts, options, elapsed time).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid
from typing import Any, Callable, Optional, Sequence

import apache_beam as beam
from absl import logging
from tqdm import tqdm
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from film.media import atomic
from film.datasets import frames as frames_lib
from film.datasets import schema
from film.datasets import triplets as triplets_lib
from film.datasets.frames import InputError
from film.datasets.layouts import Clip, TripletFiles

METRICS_NAMESPACE = 'film_datasets'
SHARD_PREFIX = 'data'
SHARD_SUFFIX = '.tfrecord'
MANIFEST = 'manifest.json'
DEFAULT_CHUNK_FRAMES = 480


def pipeline_options(pipeline_args: Optional[Sequence[str]] = None) -> PipelineOptions:
  """Beam options from command-line style args; local FnApiRunner when no `--runner` is given."""
  args = list(pipeline_args or [])
  if not any(a == '--runner' or a.startswith('--runner=') for a in args):
    args.append('--runner=FnApiRunner')
  return PipelineOptions(args)


def local_parallel_args(num_workers: Optional[int] = None) -> list[str]:
  """Pipeline args for multi-process local running, one worker per core by default."""
  workers = num_workers or os.cpu_count() or 1
  return [f'--direct_num_workers={workers}', '--direct_running_mode=multi_processing']


# ------------------------------------------------------------------------------ DoFns

def _counter(name: str):
  return Metrics.counter(METRICS_NAMESPACE, name)


class TripletFilesToRecordFn(beam.DoFn):
  """`TripletFiles` -> one serialized record (bytes)."""

  def __init__(self, transform: frames_lib.FrameTransform, png_compression: int = 3):
    self._transform = transform
    self._compression = png_compression
    self._records = _counter('records')

  def process(self, item: TripletFiles):
    encoded = []
    for path in item.files:
      data = frames_lib.read_bytes(path)
      if not (self._transform.is_identity and schema.is_rgb8_png(data)):
        pixels = self._transform(frames_lib.decode_image(data, path))
        data = schema.encode_png(pixels, self._compression)
      encoded.append(data)
    self._records.inc()
    yield schema.make_example(*encoded, path=item.name, time=item.time).SerializeToString()


@dataclasses.dataclass(frozen=True)
class ClipChunk:
  """Windows of `clip` starting in `[first_start, end_start)`; `end_start=None`: to the end."""
  clip: Clip
  first_start: int
  end_start: Optional[int]


def split_clip(clip: Clip, options: triplets_lib.WindowOptions,
               chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> list[ClipChunk]:
  """Splits a clip into chunks of about `chunk_frames` window starts (0: one chunk)."""
  if clip.kind == 'folder':
    length = len(clip.files)
  else:
    length = frames_lib.video_info(clip.path).num_frames  # Exact (packets counted).
  end = length if clip.end is None else min(clip.end, length)
  last_start = end - 1 - options.gap
  open_end = None if clip.end is None else last_start + 1  # None: read to the end of the clip.
  if chunk_frames <= 0 or last_start - clip.start < chunk_frames:
    return [ClipChunk(clip, clip.start, open_end)]
  size = -(-chunk_frames // options.stride) * options.stride  # Keeps starts stride-aligned.
  chunks = []
  for first in range(clip.start, last_start + 1, size):
    is_last = first + size > last_start
    chunks.append(ClipChunk(clip, first, open_end if is_last else first + size))
  return chunks


class ClipChunkToRecordsFn(beam.DoFn):
  """`ClipChunk` -> serialized records of its kept windows, counting verdicts."""

  def __init__(self, options: triplets_lib.WindowOptions, transform: frames_lib.FrameTransform):
    self._options = options
    self._transform = transform
    self._counters = {v: _counter(f'windows_{v}') for v in (
        triplets_lib.KEPT, triplets_lib.DROP_SCENE_CUT, triplets_lib.DROP_STATIC,
        triplets_lib.DROP_BLACK)}
    self._records = _counter('records')
    self._chunks = _counter('clip_chunks')

  def process(self, chunk: ClipChunk):
    self._chunks.inc()
    clip = chunk.clip
    count = (None if chunk.end_start is None
             else chunk.end_start - chunk.first_start + self._options.gap)
    if clip.kind == 'video':
      stream = frames_lib.iter_video_frames(clip.path, chunk.first_start, count)
    else:
      stream = frames_lib.iter_folder_frames(clip.files, chunk.first_start, count)
    windows = triplets_lib.iter_windows(stream, clip.name, self._options, chunk.first_start,
                                        chunk.end_start, self._transform)
    for verdict, triplets in windows:
      self._counters[verdict].inc()
      for triplet in triplets:
        self._records.inc()
        yield triplet.serialize()


# ------------------------------------------------------------------------------ running

def beam_args(args: Sequence[str]) -> list[str]:
  """The Beam pipeline options a CLI got after `--` (absl leaves them as positional arguments).

  Anything else positional is a mistake: InputError (so a mistyped flag of ours is never
  silently handed to Beam)."""
  stray = [a for a in args if not a.startswith('-')]
  if stray:
    raise InputError(f'unexpected arguments {stray}; pass Beam pipeline options after "--" '
                     '(e.g. -- --runner=DataflowRunner --project=P)')
  return list(args)


def _remove(path: str) -> None:
  if frames_lib.is_local(path):
    shutil.rmtree(path, ignore_errors=True)
  elif FileSystems.exists(path):
    FileSystems.delete([path])


def metric_counters(result, namespace: str = METRICS_NAMESPACE) -> dict[str, int]:
  """The metric counters of `namespace` summed over steps; {} when the runner reports none."""
  counts: dict[str, int] = {}
  try:
    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
  except (NotImplementedError, AttributeError):
    return counts
  for counter in query['counters']:
    value = counter.committed if counter.committed is not None else counter.attempted
    counts[counter.key.metric.name] = counts.get(counter.key.metric.name, 0) + int(value or 0)
  return counts


def check_num_shards(num_shards: int) -> None:
  """InputError unless `num_shards` >= 0 (the `--num_shards` of the record jobs)."""
  if num_shards < 0:
    raise InputError(f'--num_shards must be >= 0 (0 lets the runner choose), got {num_shards}')


def run_records_pipeline(build: Callable[[beam.Pipeline], beam.PCollection], output_dir: str, *,
                         num_shards: int, pipeline_args: Optional[Sequence[str]] = None,
                         overwrite: bool = False, description: Optional[dict[str, Any]] = None
                         ) -> dict[str, Any]:
  """Runs `build(pipeline) -> PCollection[bytes]` and writes it as `num_shards` TFRecord shards.

  Returns:
    The manifest dict (also written to `output_dir/manifest.json`).
  """
  output_dir = output_dir.rstrip('/')
  check_num_shards(num_shards)
  if frames_lib.exists(output_dir) and not overwrite:
    raise InputError(f'output {output_dir} already exists: remove it or pass --overwrite')
  parent, base = os.path.split(output_dir)
  if frames_lib.is_local(output_dir):
    os.makedirs(parent or '.', exist_ok=True)
  if frames_lib.is_local(output_dir):  # hidden, named by host and pid (film.media.atomic)
    temp_dir = atomic.temp_sibling(output_dir, directory=True)
  else:
    temp_dir = frames_lib.join(parent or '.', f'.{base}.tmp-{uuid.uuid4().hex[:8]}')
  # Local worker processes inherit this: gRPC's fork handlers can break the ffmpeg
  # subprocesses that decode videos (Beam's own tests turn them off the same way).
  os.environ.setdefault('GRPC_ENABLE_FORK_SUPPORT', 'false')
  started = time.time()
  try:
    pipeline = beam.Pipeline(options=pipeline_options(pipeline_args))
    records = build(pipeline)
    _ = records | 'WriteTFRecords' >> beam.io.WriteToTFRecord(
        frames_lib.join(temp_dir, SHARD_PREFIX), file_name_suffix=SHARD_SUFFIX,
        num_shards=num_shards)
    result = pipeline.run()
    result.wait_until_finish()
    elapsed = time.time() - started
    counts = metric_counters(result)
    shards = sorted(m.path for m in FileSystems.match(
        [frames_lib.join(temp_dir, f'{SHARD_PREFIX}-*{SHARD_SUFFIX}')])[0].metadata_list)
    if counts and not counts.get('records'):  # Counters are there, but none was written.
      raise InputError(f'no triplets were kept for {output_dir} ({counts}): check the input, '
                       'or lower the drop thresholds / gap')
    manifest = {
        'format': 'film triplet TFRecords, see datasets/schema.py',
        'num_records': counts.get('records'),
        'num_shards': len(shards),
        'shards': [s.rsplit('/', 1)[-1] for s in shards],
        'counters': counts,
        'elapsed_seconds': round(elapsed, 2),
        'records_per_second': (round(counts['records'] / elapsed, 2)
                               if counts.get('records') else None),
        'pipeline_args': list(pipeline_args or []),
        'created': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        **(description or {}),
    }
    with FileSystems.create(frames_lib.join(temp_dir, MANIFEST)) as f:
      f.write(json.dumps(manifest, indent=2, default=str).encode('utf-8'))
    _publish(temp_dir, output_dir, shards, overwrite)
  finally:
    _remove(temp_dir)
  logging.info('Wrote %s records in %d shards to %s in %.1f s (%s).', manifest['num_records'],
               len(shards), output_dir, elapsed, counts)
  return manifest


def _publish(temp_dir: str, output_dir: str, shards: list[str], overwrite: bool) -> None:
  """Moves the finished temp folder into place (a single rename on local disks)."""
  if frames_lib.is_local(output_dir):
    atomic.publish(temp_dir, output_dir, overwrite)  # never replaces without `overwrite`
    return
  if overwrite and FileSystems.exists(output_dir):
    FileSystems.delete([output_dir])
  sources = shards + [frames_lib.join(temp_dir, MANIFEST)]  # The manifest last: done marker.
  FileSystems.rename(sources, [frames_lib.join(output_dir, s.rsplit('/', 1)[-1]) for s in sources])


def create_triplet_records(items: Sequence[TripletFiles], output_dir: str, *, num_shards: int = 1,
                           transform: frames_lib.FrameTransform = frames_lib.FrameTransform(),
                           png_compression: int = 3, pipeline_args: Optional[Sequence[str]] = None,
                           overwrite: bool = False, dataset: str = 'triplets') -> dict[str, Any]:
  """Writes one record per `TripletFiles` item; returns the manifest."""
  if not items:
    raise InputError(f'no triplets to write to {output_dir}: check the input folder')

  def build(pipeline: beam.Pipeline) -> beam.PCollection:
    return (pipeline
            | 'Triplets' >> beam.Create(list(items), reshuffle=True)
            | 'ToRecord' >> beam.ParDo(TripletFilesToRecordFn(transform, png_compression)))

  return run_records_pipeline(
      build, output_dir, num_shards=num_shards, pipeline_args=pipeline_args, overwrite=overwrite,
      description={'dataset': dataset, 'num_inputs': len(items),
                   'transform': dataclasses.asdict(transform)})


def create_clip_records(clips: Sequence[Clip], output_dir: str, *,
                        options: triplets_lib.WindowOptions = triplets_lib.WindowOptions(),
                        transform: frames_lib.FrameTransform = frames_lib.FrameTransform(),
                        num_shards: int = 1, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                        pipeline_args: Optional[Sequence[str]] = None, overwrite: bool = False,
                        dataset: str = 'clips', extra: Optional[dict[str, Any]] = None
                        ) -> dict[str, Any]:
  """Cuts windows from videos / frame folders and writes their triplets; returns the manifest."""
  if not clips:
    raise InputError(f'no clips to write to {output_dir}: check the input')
  videos = [c.path for c in clips if c.kind == 'video' and frames_lib.is_local(c.path)]
  for path in tqdm(videos, desc='checking videos', disable=len(videos) < 20):
    frames_lib.video_info(path)  # Fails here, in one line, rather than inside a worker.

  def build(pipeline: beam.Pipeline) -> beam.PCollection:
    return (pipeline
            | 'Clips' >> beam.Create(list(clips))
            | 'SplitClips' >> beam.FlatMap(split_clip, options, chunk_frames)
            | 'SpreadChunks' >> beam.Reshuffle()
            | 'ToRecords' >> beam.ParDo(ClipChunkToRecordsFn(options, transform)))

  return run_records_pipeline(
      build, output_dir, num_shards=num_shards, pipeline_args=pipeline_args, overwrite=overwrite,
      description={'dataset': dataset, 'clips': [c.path for c in clips][:100],
                   'num_clips': len(clips), 'window_options': dataclasses.asdict(options),
                   'transform': dataclasses.asdict(transform), 'chunk_frames': chunk_frames,
                   'frame_ranges': {c.name: [c.start, c.end] for c in clips[:100]},
                   **(extra or {})})
