"""Reads FILM's published checkpoints (SavedModel variables or training checkpoints).

A FILM checkpoint stores each variable under an opaque key (`variables/17/.ATTRIBUTES/...`);
its `_CHECKPOINTABLE_OBJECT_GRAPH` maps every Keras `full_name` (e.g.
`predict_flow/flow_predictor_1/conv_2/kernel`) to that key. We read the graph, keep the network
variables (`feat_net/`, `predict_flow/`, `fusion/`; optimizer slots and counters are ignored),
renumber the auto-named fusion convs by creation order, and assign them to a `FilmNet`.
Everything but the pyramid depth can be read off the variable shapes; the depth comes from the
caller, a gin file beside the checkpoint, or defaults to FILM's published 7 levels
(`film_config`). Building the network from the arrays is `film.weights.model_io.load_film_checkpoint`.
"""
from __future__ import annotations

import glob
import os
import re
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import trackable_object_graph_pb2

from film.net.config import FilmConfig
from film.weights.model_errors import ModelLoadError

_NETWORK_SCOPES = ('feat_net/', 'predict_flow/', 'fusion/')
_FUSION_CONV = re.compile(r'^fusion/conv2d(?:_(\d+))?/(kernel|bias)$')


def find_checkpoint_prefix(path: str) -> str:
  """Resolves a SavedModel dir, a `variables/` dir, a training dir or a checkpoint prefix."""
  candidates = [
      os.path.join(path, 'variables', 'variables'),
      os.path.join(path, 'saved_model', 'variables', 'variables'),
      os.path.join(path, 'variables'),
  ]
  for prefix in candidates:
    if os.path.isfile(prefix + '.index'):
      return prefix
  if os.path.isfile(path + '.index'):
    return path
  if os.path.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest:
      return latest
  raise ModelLoadError(
      f'No FILM checkpoint found at {path}: expected a SavedModel directory with '
      'variables/variables.index, a training directory with a `checkpoint` file, or a checkpoint '
      'prefix (ckpt-N with ckpt-N.index beside it)')


def _read(reader, key: str, prefix: str):
  """One tensor of a checkpoint; ModelLoadError when its data file is truncated or damaged."""
  try:
    return reader.get_tensor(key)
  except Exception as e:  # pylint: disable=broad-except  (IndexError, DataLoss, ... from TF)
    raise ModelLoadError(f'Cannot read {key} from checkpoint {prefix} ({type(e).__name__}: '
                         f'{e}); the file is truncated or damaged: copy or download it again'
                         ) from e


def read_film_variables(path: str) -> dict[str, np.ndarray]:
  """Returns the network variables of a FILM checkpoint keyed by Keras full name (no ':0')."""
  prefix = find_checkpoint_prefix(path)
  try:
    reader = tf.train.load_checkpoint(prefix)
  except Exception as e:  # TF raises several types for corrupt files.
    raise ModelLoadError(f'Cannot read checkpoint {prefix}: {e}') from e
  keys = reader.get_variable_to_shape_map()
  if '_CHECKPOINTABLE_OBJECT_GRAPH' not in keys:
    raise ModelLoadError(f'{prefix} has no _CHECKPOINTABLE_OBJECT_GRAPH; it is not a TF2 '
                         'object-based checkpoint as FILM writes them')
  graph = trackable_object_graph_pb2.TrackableObjectGraph()
  graph.ParseFromString(_read(reader, '_CHECKPOINTABLE_OBJECT_GRAPH', prefix))
  arrays: dict[str, np.ndarray] = {}
  for node in graph.nodes:
    for attribute in node.attributes:
      name = attribute.full_name
      if name.endswith(':0'):
        name = name[:-2]
      if attribute.name != 'VARIABLE_VALUE' or not name.startswith(_NETWORK_SCOPES):
        continue
      if attribute.checkpoint_key not in keys:
        raise ModelLoadError(f'{prefix}: {name} is listed but its value '
                             f'{attribute.checkpoint_key} is missing (partial checkpoint)')
      arrays[name] = _read(reader, attribute.checkpoint_key, prefix)
  if not arrays:
    raise ModelLoadError(f'{prefix} holds no FILM network variables (feat_net/, predict_flow/, '
                         'fusion/); is it a FILM checkpoint?')
  return _renumber_fusion_convs(arrays)


def _renumber_fusion_convs(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Keras numbers auto-named convs per process; we renumber them 0..n-1 by creation order."""
  indices = sorted({int(m.group(1) or 0) for n in arrays if (m := _FUSION_CONV.match(n))})
  rank = {index: r for r, index in enumerate(indices)}
  out = {}
  for name, value in arrays.items():
    m = _FUSION_CONV.match(name)
    if m:
      r = rank[int(m.group(1) or 0)]
      name = f'fusion/{"conv2d" if r == 0 else f"conv2d_{r}"}/{m.group(2)}'
    out[name] = value
  return out


def infer_config(arrays: dict[str, np.ndarray], pyramid_levels: int) -> FilmConfig:
  """Reads the FILM hyperparameters off the variable shapes (all but `pyramid_levels`)."""
  try:
    filters = arrays['feat_net/sub_extractor/cfeat_conv_0/kernel'].shape[-1]
    sub_levels = len([n for n in arrays if n.startswith('feat_net/sub_extractor/cfeat_conv_')
                      and n.endswith('/kernel')]) // 2
    specialized = len({n.split('/')[1] for n in arrays
                       if re.match(r'^predict_flow/flow_predictor_\d+/', n)})
    flow_convs, flow_filters = [], []
    for predictor in [f'flow_predictor_{i}' for i in range(specialized)] + ['flow_predictor_shared']:
      kernels = [n for n in arrays if n.startswith(f'predict_flow/{predictor}/conv_')
                 and n.endswith('/kernel')]
      if not kernels and predictor == 'flow_predictor_shared':
        flow_convs.append(flow_convs[-1])
        flow_filters.append(flow_filters[-1])
        continue
      flow_convs.append(len(kernels) - 2)
      flow_filters.append(arrays[f'predict_flow/{predictor}/conv_0/kernel'].shape[-1])
    fusion_kernels = len([n for n in arrays if _FUSION_CONV.match(n) and n.endswith('kernel')])
    fusion_levels = (fusion_kernels - 1) // 3 + 1
    return FilmConfig(pyramid_levels=pyramid_levels, fusion_pyramid_levels=fusion_levels,
                      specialized_levels=specialized, sub_levels=sub_levels,
                      flow_convs=tuple(flow_convs), flow_filters=tuple(flow_filters),
                      filters=int(filters))
  except (KeyError, IndexError, ValueError) as e:
    raise ModelLoadError(f'Cannot infer the FILM configuration from the checkpoint variables '
                         f'({e}); pass the config explicitly') from e


def _pyramid_levels_from_gin(path: str) -> Optional[int]:
  """Looks for `model.pyramid_levels = N` in gin files next to (or above) a checkpoint."""
  folder = path if os.path.isdir(path) else os.path.dirname(path)
  for _ in range(3):
    for gin_file in sorted(glob.glob(os.path.join(folder, '*.gin'))):
      with open(gin_file) as f:
        m = re.search(r'^\s*model\.pyramid_levels\s*=\s*(\d+)', f.read(), re.MULTILINE)
      if m:
        logging.info('pyramid_levels=%s from %s', m.group(1), gin_file)
        return int(m.group(1))
    folder = os.path.dirname(folder)
  return None


def film_config(path: str, arrays: dict[str, np.ndarray],
                pyramid_levels: Optional[int] = None) -> FilmConfig:
  """The config of the FILM checkpoint at `path` with variables `arrays`.

  The one place the pyramid depth (not stored in checkpoints) is decided: `pyramid_levels`
  when given, else a `model.pyramid_levels` binding in a gin file beside the checkpoint, else
  FILM's published 7. The rest is read off the variable shapes (`infer_config`).
  """
  levels = pyramid_levels
  if levels is None:
    levels = _pyramid_levels_from_gin(path)
  if levels is None:
    levels = 7
    logging.info('No pyramid_levels given for %s: using FILM\'s published 7', path)
  return infer_config(arrays, levels)
