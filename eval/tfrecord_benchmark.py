"""The `tfrecord` benchmark layout of `film.eval.benchmarks`: records in the `datasets.schema`
format streamed as `Triplet`s (x0, y, x1 `[H,W,3]` float32 in [0,1], t from the record's `time`,
0.5 without one). Imported by `benchmarks.open_benchmark` only for this layout (TensorFlow).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from film.eval.benchmarks import Benchmark, BenchmarkError, Triplet, tfrecord_files


def open_tfrecords(name: str, root: str) -> Benchmark:
  """A streaming benchmark over TFRecords in the `datasets.schema` format."""
  files = tfrecord_files(root)
  if not files:
    raise BenchmarkError(f'no TFRecord files at {root}; pass a .tfrecord file, a folder of them '
                         f'or a quoted glob')
  try:
    from film.datasets import schema  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise BenchmarkError(f'cannot read TFRecords: datasets.schema is not importable ({error}); '
                         f'install the full film package') from error
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  try:
    count = sum(1 for _ in tf.data.TFRecordDataset(files))
  except tf.errors.OpError as error:
    raise BenchmarkError(f'cannot read TFRecords at {root} ({type(error).__name__}); check that '
                         f'the files are uncompressed TFRecords') from error
  if not count:
    raise BenchmarkError(f'the TFRecord files at {root} hold no records; pass a non-empty file')

  def to_numpy(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, 'numpy') else value)

  def iterate(n: int) -> Iterator[Triplet]:
    for index, serialized in enumerate(tf.data.TFRecordDataset(files).take(n)):
      example = schema.parse_example(serialized)
      x0, y, x1 = (to_numpy(example[k]).astype(np.float32) for k in ('x0', 'y', 'x1'))
      t = float(to_numpy(example['time']).reshape(-1)[0]) if 'time' in example else 0.5
      path = to_numpy(example['path']).reshape(-1)[0] if 'path' in example else b''
      path = path.decode('utf-8') if isinstance(path, bytes) else str(path)
      yield Triplet(path or f'record_{index:05d}', x0, y, x1, t)

  return Benchmark(name, root, 'tfrecord', count, iterate)
