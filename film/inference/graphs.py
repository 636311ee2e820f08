"""The `tf.function`s of inference: one set per model, precision and flow scale, with
shape-free signatures (traced once per process) and AutoGraph off (notes/inference.md)."""
from __future__ import annotations

import weakref
from typing import Callable, NamedTuple, Optional

import tensorflow as tf

from film.net.config import FilmConfig
from film.net.feature_extractor import feature_channels
from film.net.model import FilmNet, flow_levels_skipped

# AutoGraph for the inference graphs: off (the network's Python loops are over lists, never
# over tensors); True only to measure what it costs (bench/bench_speed.py, time to first frame).
AUTOGRAPH = False

_GRAPH_FUNCTIONS: 'weakref.WeakKeyDictionary[FilmNet, dict]' = weakref.WeakKeyDictionary()


class GraphFunctions(NamedTuple):
  """The `tf.function`s of one model and setting (see `graph_functions`)."""
  extract: Callable
  flows: Callable
  synthesize: Callable
  full: Callable


def extract_spec(config: FilmConfig, dtype: tf.DType, skip: int) -> dict:
  """`tf.TensorSpec`s of a `FilmNet.extract` result with any batch and size (one trace)."""
  levels = range(config.pyramid_levels)
  spec = {'image_pyramid': [tf.TensorSpec([None, None, None, 3], tf.float32) for _ in levels],
          'feature_pyramid': [tf.TensorSpec([None, None, None, feature_channels(config, i)],
                                            dtype) for i in levels],
          'box': tf.TensorSpec([4], tf.int32)}
  if skip:
    spec['flow_feature_pyramid'] = spec['feature_pyramid'][:config.pyramid_levels - skip]
  return spec


def graph_functions(model: FilmNet, compute_dtype: Optional[tf.DType] = None,
                     flow_scale: float = 1.0, batch_directions: bool = False) -> GraphFunctions:
  """`tf.function`s of `model` for one precision / flow scale, shared by all its Interpolators.
  Every signature is shape-free, so each function is traced once per process whatever the
  frame sizes and batch; AutoGraph is off (the network has no tensor-dependent Python control
  flow, and converting its source was about half of the tracing time, notes/inference.md).

  * extract(x [B,H,W,3]) -> `FilmNet.extract` dict;
  * flows(f0, f1[, prior_flows]) -> {'forward', 'backward'} flow pyramids
    (`FilmNet.estimate_flows`), time-free; flow-prior models also take the pair's classical
    flows {'forward', 'backward'} [B,H,W,2];
  * synthesize(f0, f1, flows, time [B,1]) -> clipped image [B,H,W,3]; features and flows of
    batch 1 are broadcast to B target times;
  * full(x0, x1, time) -> clipped image [B,H,W,3] (models without a flow prior).
  """
  key = (compute_dtype, float(flow_scale), bool(batch_directions), AUTOGRAPH)
  per_model = _GRAPH_FUNCTIONS.setdefault(model, {})
  if key in per_model:
    return per_model[key]
  config = model.config
  dtype = compute_dtype or tf.float32
  skip = flow_levels_skipped(flow_scale, config)
  image_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
  feature_spec = extract_spec(config, dtype, skip)
  flow_spec = [tf.TensorSpec([None, None, None, 2], tf.float32)
               for _ in range(config.fusion_pyramid_levels)]
  flows_spec = {'forward': flow_spec, 'backward': flow_spec}

  def flows(f0: dict, f1: dict, prior_flows: Optional[dict] = None) -> dict:
    out = model.estimate_flows(f0, f1, batched=batch_directions, prior_flows=prior_flows)
    return {'forward': out['forward'], 'backward': out['backward']}

  flows_signature = [feature_spec, feature_spec]
  if config.has_flow_prior:  # Full-resolution classical flows of the (tile) pair.
    prior_spec = tf.TensorSpec([None, None, None, 2], tf.float32)
    flows_signature.append({'forward': prior_spec, 'backward': prior_spec})

  def synthesize(f0: dict, f1: dict, flows: dict, time: tf.Tensor) -> tf.Tensor:
    batch = tf.shape(time)[0]

    def broadcast(d: dict) -> dict:
      rep = lambda x: tf.repeat(x, batch // tf.shape(x)[0], axis=0)
      return {k: v if k == 'box' else tf.nest.map_structure(rep, v) for k, v in d.items()}

    image = model.synthesize(broadcast(f0), broadcast(f1), broadcast(flows), time)['image']
    return tf.clip_by_value(image, 0.0, 1.0)

  functions = GraphFunctions(
      extract=tf.function(lambda x: model.extract(x, compute_dtype, flow_scale),
                          input_signature=[image_spec], autograph=AUTOGRAPH),
      flows=tf.function(flows, input_signature=flows_signature, autograph=AUTOGRAPH),
      synthesize=tf.function(synthesize, input_signature=[
          feature_spec, feature_spec, flows_spec, tf.TensorSpec([None, 1], tf.float32)],
                             autograph=AUTOGRAPH),
      full=tf.function(lambda x0, x1, t: tf.clip_by_value(
          model(x0, x1, t, compute_dtype=compute_dtype, flow_scale=flow_scale)['image'],
          0.0, 1.0), input_signature=[image_spec, image_spec, tf.TensorSpec([None, 1],
                                                                           tf.float32)],
          autograph=AUTOGRAPH))
  per_model[key] = functions
  return functions

