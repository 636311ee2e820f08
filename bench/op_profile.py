"""Per-op-type CPU time of a TensorFlow call, from the TF profiler's XPlane trace.

Imports only TensorFlow (any 2.x with `tf.profiler.experimental`), so that the reference worker
(TF 2.15) and ours (TF 2.21) measure the same way. The host plane of the trace holds one line
per thread; every executed op is an event named "name:Type" on an executor thread (function
calls, which enclose their ops, are skipped). Time is summed per Type over all threads (inter-op parallel ops add up, so the total can exceed the wall time).
"""
import collections
import glob
import os
import re
import tempfile
from typing import Callable


def profile_op_types(call: Callable[[], object]) -> dict[str, float]:
  """Runs `call()` once under the profiler; returns {op type: summed seconds}, sorted."""
  import tensorflow as tf
  logdir = tempfile.mkdtemp(prefix='film-profile-')
  tf.profiler.experimental.start(logdir)
  try:
    call()
  finally:
    tf.profiler.experimental.stop()
  paths = glob.glob(os.path.join(logdir, '**', '*.xplane.pb'), recursive=True)
  if not paths:
    raise RuntimeError(f'the profiler wrote no .xplane.pb under {logdir}')
  return _op_type_seconds(paths[0])


_OP_EVENT = re.compile(r'^[^\s:]+:([A-Za-z_]\w*)$')  # 'conv2d/Conv2D:_MklNativeConv2D'


def _is_call(op_type: str) -> bool:
  """Function-call ops enclose the ops they run: counting them would count time twice."""
  return op_type.startswith('__inference') or op_type.endswith('PartitionedCall') or \
      op_type in ('While', 'StatelessWhile', 'If', 'StatelessIf')


def _op_type_seconds(path: str) -> dict[str, float]:
  try:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
  except ImportError:  # older layouts
    from tensorflow.core.profiler.protobuf import xplane_pb2
  space = xplane_pb2.XSpace()
  with open(path, 'rb') as f:
    space.ParseFromString(f.read())
  totals: dict[str, float] = collections.defaultdict(float)
  for plane in space.planes:
    if not plane.name.startswith('/host:CPU'):
      continue
    for line in plane.lines:
      if line.name == 'python':  # the caller's thread: eager and function-call wrappers only
        continue
      for event in line.events:
        match = _OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
        if match and not _is_call(match.group(1)):
          totals[match.group(1)] += event.duration_ps * 1e-12
  return dict(sorted(totals.items(), key=lambda kv: -kv[1]))
