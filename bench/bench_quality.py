"""Quality cost of the speed options on held-out real footage (issue 15), default model.

* `--time_modes`: frames i and i+4 of a clip in, frames i+1, i+2, i+3 (t = 1/4, 1/2, 3/4) as
  ground truth: PSNR of `time_mode='recursive'` (k=2 midpoints) vs `'direct'` (the network's
  time input, one flow estimate for the three times), both at the default precision.
* `--flow_scales`: consecutive triplets (i, i+1, i+2) of a clip at its native size, flows at
  full, half and quarter resolution (`flow_scale` 1, 0.5, 0.25): PSNR of frame i+1. With
  `--upscales 1,1.5,3` each clip is also measured enlarged (Lanczos) to 2K / 4K-sized frames:
  the only way to get 2K/4K motion here, as no real footage wider than 1280 px is available.
  Enlarged frames carry 4K-sized motion but no detail beyond the clip's own, so they test the
  motion range of the coarse flows, not fine detail; results carry their `upscale`.

Clips are decoded with `film.media.video_io`, starting at the frame nearest `start` seconds
(`PATH[@START_SECONDS]`); frames are only resized by `--upscales` (labelled in the results).

  python -m bench.bench_quality --time_mode_videos ../shared/samples/videos/car-turn.mp4 \
      --flow_scale_videos /work/data/bbb/bbb.mp4@540 --output bench/results/quality.json
"""
from __future__ import annotations

import json
import os
import time
from typing import Iterator, Optional

from absl import app, flags, logging
import numpy as np

_TIME_VIDEOS = flags.DEFINE_list('time_mode_videos', [], 'Clips (PATH[@START_SECONDS]) for the '
                                 'recursive-vs-direct comparison at t = 1/4, 1/2, 3/4.')
_SCALE_VIDEOS = flags.DEFINE_list('flow_scale_videos', [], 'Clips (PATH[@START_SECONDS]) for '
                                  'the flow_scale comparison on consecutive triplets.')
_GAPS = flags.DEFINE_integer('gaps', 20, 'Samples per clip (4-frame gaps or triplets).')
_STRIDE = flags.DEFINE_integer('stride', 4, 'Input frames between the starts of two samples.')
_SCALES = flags.DEFINE_list('scales', ['1', '0.5', '0.25'], 'flow_scale values to compare.')
_UPSCALES = flags.DEFINE_list('upscales', ['1'], 'Enlargement factors (Lanczos) of the '
                              'flow_scale clips, e.g. 1,1.5,3 for 720p, 1080p and 4K frames.')
_PRECISION = flags.DEFINE_enum('precision', 'auto', ['auto', 'float32', 'bfloat16'],
                               'Interpolator precision for all runs.')
_MODEL = flags.DEFINE_string('model', None, 'Model folder (default: the bundled default model).')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file for the results.')


def read_clip(spec: str, count: int, upscale: float = 1.0) -> Iterator[np.ndarray]:
  """Up to `count` frames [H,W,3] float32 in [0,1] of `PATH[@START_SECONDS]`.

  Read with `film.media.video_io` (its checks and colour handling); native size, or enlarged by
  `upscale` > 1 (Lanczos, rounded to whole pixels, clipped to [0,1]).
  """
  import cv2
  from film.media import video_io
  path, _, start = spec.partition('@')
  info = video_io.probe_video(path)
  scale = np.float32(65535.0 if info.bit_depth > 8 else 255.0)
  size = (round(info.width * upscale), round(info.height * upscale))
  for raw in video_io.iter_raw_frames(info, round(float(start or 0) * info.fps), count):
    frame = raw.astype(np.float32) / scale
    if upscale != 1.0:
      frame = np.clip(cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4), 0.0, 1.0)
    yield frame


def _psnr(prediction: np.ndarray, target: np.ndarray) -> float:
  from eval import metrics
  return float(metrics.psnr(prediction, target)[0])


def time_modes(spec: str, gaps: int, stride: int, model, precision: str) -> dict:
  """Mean PSNR per target time for recursive vs direct time mode on 4-frame gaps of a clip."""
  from film.inference.interpolator import Interpolator
  modes = {mode: Interpolator(model, time_mode=mode, precision=precision)
           for mode in ('recursive', 'direct')}
  frames = list(read_clip(spec, (gaps - 1) * stride + 5))
  scores = {mode: {t: [] for t in (0.25, 0.5, 0.75)} for mode in modes}
  seconds = {mode: 0.0 for mode in modes}
  for start in range(0, len(frames) - 4, stride):
    x0, x1 = frames[start], frames[start + 4]
    for mode, interp in modes.items():
      begin = time.perf_counter()
      outputs = interp.interpolate_at(x0, x1, [0.25, 0.5, 0.75])
      seconds[mode] += time.perf_counter() - begin
      for j, (t, out) in enumerate(zip((0.25, 0.5, 0.75), outputs)):
        scores[mode][t].append(_psnr(out, frames[start + 1 + j]))
  result = {'clip': spec, 'size': list(frames[0].shape[:2]), 'gaps': len(scores['direct'][0.5]),
            'precision': modes['direct'].precision}
  for mode in modes:
    result[mode] = {str(t): float(np.mean(v)) for t, v in scores[mode].items()}
    result[mode]['mean'] = float(np.mean([v for vs in scores[mode].values() for v in vs]))
    result[mode]['seconds'] = seconds[mode]
  result['direct_minus_recursive_db'] = result['direct']['mean'] - result['recursive']['mean']
  logging.info('%s', json.dumps(result))
  return result


def flow_scales(spec: str, samples: int, stride: int, model, precision: str,
                scales: list[float], upscale: float = 1.0) -> dict:
  """Mean PSNR of the middle frame of consecutive triplets per flow_scale (frames x upscale)."""
  from film.inference.interpolator import Interpolator
  interps = {s: Interpolator(model, flow_scale=s, precision=precision) for s in scales}
  frames = list(read_clip(spec, (samples - 1) * stride + 3, upscale))
  scores = {s: [] for s in scales}
  seconds = {s: 0.0 for s in scales}
  for start in range(0, len(frames) - 2, stride):
    for s, interp in interps.items():
      begin = time.perf_counter()
      out = interp.interpolate(frames[start], frames[start + 2], 0.5)
      seconds[s] += time.perf_counter() - begin
      scores[s].append(_psnr(out, frames[start + 1]))
  result = {'clip': spec, 'upscale': upscale, 'size': list(frames[0].shape[:2]),
            'samples': len(scores[scales[0]]), 'precision': interps[scales[0]].precision,
            'psnr': {str(s): float(np.mean(v)) for s, v in scores.items()},
            'seconds': {str(s): v for s, v in seconds.items()}}
  result['minus_full_db'] = {str(s): result['psnr'][str(s)] - result['psnr'][str(scales[0])]
                             for s in scales}
  logging.info('%s', json.dumps(result))
  return result


def main(argv: list[str]) -> None:
  del argv
  from film.weights import model_io
  from film.weights.defaults import DEFAULT_MODEL_DIR
  model = model_io.load_model(_MODEL.value or DEFAULT_MODEL_DIR)
  results: dict[str, list] = {'time_modes': [], 'flow_scales': []}

  def save() -> None:
    if _OUTPUT.value:
      os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
      with open(_OUTPUT.value, 'w') as f:
        json.dump(results, f, indent=1)

  for spec in _TIME_VIDEOS.value:
    results['time_modes'].append(time_modes(spec, _GAPS.value, _STRIDE.value, model,
                                            _PRECISION.value))
    save()
  scales = [float(s) for s in _SCALES.value]
  for spec in _SCALE_VIDEOS.value:
    for upscale in (float(u) for u in _UPSCALES.value):
      results['flow_scales'].append(flow_scales(spec, _GAPS.value, _STRIDE.value, model,
                                                _PRECISION.value, scales, upscale))
      save()
  print(json.dumps(results, indent=1))


if __name__ == '__main__':
  from film import cli
  cli.run(main, 'bench_quality')
