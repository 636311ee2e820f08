"""Classical frame-interpolation baselines, swappable by name with one signature.

Every method is::

    method(x0, x1, t) -> frame

with `x0`, `x1` numpy `[H,W,3]` float32 in [0,1] (RGB) and `t` a float in [0,1] (0 gives `x0`,
1 gives `x1`); the result is `[H,W,3]` float32 in [0,1] of the same size.

* `repeat`: the nearest input frame (`x0` for t <= 0.5) -- the frame-duplication floor.
* `average`: the linear blend `(1-t) x0 + t x1` (ghosting, no motion).
* `dis_flow`: OpenCV DIS optical flow in both directions (`film.inference.classical_flow`), flows to
  time t under a linear-motion approximation, backward warping of both inputs with `cv2.remap`,
  and a `(1-t), t` blend (optionally down-weighting samples whose flow fails the
  forward-backward check). Settings: `film.inference.classical_flow.DEFAULT_DIS_CONFIG`.
* `ffmpeg_minterpolate`: ffmpeg's motion-compensated `minterpolate` filter (mci, aobmc, bidir,
  vsbmc) run on a lossless PNG clip in a temporary directory.
"""
from __future__ import annotations

import fractions
import os
import subprocess
import tempfile
from typing import Callable, Dict

import numpy as np
from absl import logging
from PIL import Image

from film.inference import classical_flow
from film.media import video_io
from film.inference.classical_flow import backward_sample

# Signature shared by all methods: ([H,W,3], [H,W,3], t) in [0,1] -> [H,W,3] in [0,1].
MethodFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _check_pair(x0: np.ndarray, x1: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, float]:
  """Validates inputs; returns `[H,W,3]` float32 frames and a float `t` in [0,1]."""
  x0 = np.asarray(x0, dtype=np.float32)
  x1 = np.asarray(x1, dtype=np.float32)
  if x0.shape != x1.shape or x0.ndim != 3 or x0.shape[-1] != 3:
    raise ValueError(f'baselines need two [H,W,3] frames of the same shape, got {x0.shape} and '
                     f'{x1.shape}')
  t = float(np.asarray(t).reshape(-1)[0])
  if not 0.0 <= t <= 1.0:
    raise ValueError(f'time t must be in [0,1], got {t}')
  return x0, x1, t


def repeat(x0: np.ndarray, x1: np.ndarray, t: float) -> np.ndarray:
  """A copy of the input frame nearest in time (`x0` when t <= 0.5, else `x1`); `MethodFn`."""
  x0, x1, t = _check_pair(x0, x1, t)
  return (x0 if t <= 0.5 else x1).copy()


def average(x0: np.ndarray, x1: np.ndarray, t: float) -> np.ndarray:
  """The linear blend `(1-t) x0 + t x1`; `MethodFn` (`[H,W,3]` float32 in [0,1] in and out)."""
  x0, x1, t = _check_pair(x0, x1, t)
  return ((1.0 - t) * x0 + t * x1).astype(np.float32)


# ------------------------------------------------------------------------------------ DIS flow


def warp_to_time(x0: np.ndarray, x1: np.ndarray, t: float, flow_01: np.ndarray,
                 flow_10: np.ndarray, occlusion_sigma: float = 0.0) -> np.ndarray:
  """Synthesises the frame at time t from both inputs and their bidirectional flows.

  Flows from time t back to the inputs follow the linear-motion approximation of Super SloMo
  (Jiang et al. 2018), evaluated at the output pixel:
  `F_t0 = -(1-t) t F_01 + t^2 F_10` and `F_t1 = (1-t)^2 F_01 - t (1-t) F_10`.
  Both inputs are backward-warped with `cv2.remap` and blended with weights `(1-t)` and `t`;
  with `occlusion_sigma > 0` each weight is multiplied by `exp(-e / occlusion_sigma)`, where
  `e` is the forward-backward flow error (pixels) at the sampled input location, so samples
  from regions the other frame cannot see count less.

  Args:
    x0, x1: `[H,W,3]` float32 in [0,1].
    t: time in [0,1].
    flow_01, flow_10: `[H,W,2]` float32 (dx, dy) flows from `classical_flow.bidirectional_flows`.
    occlusion_sigma: pixels; 0 disables the forward-backward weighting.

  Returns:
    `[H,W,3]` float32 in [0,1].
  """
  flow_t0 = -(1.0 - t) * t * flow_01 + t * t * flow_10
  flow_t1 = (1.0 - t) * (1.0 - t) * flow_01 - t * (1.0 - t) * flow_10
  warped0 = backward_sample(x0, flow_t0)
  warped1 = backward_sample(x1, flow_t1)
  weight0 = np.full(x0.shape[:2], 1.0 - t, dtype=np.float32)
  weight1 = np.full(x0.shape[:2], t, dtype=np.float32)
  if occlusion_sigma > 0:
    # Forward-backward error of each input's flow, at every pixel of that input.
    error0 = np.linalg.norm(flow_01 + classical_flow.flow_at_target(flow_01, flow_10), axis=-1)
    error1 = np.linalg.norm(flow_10 + classical_flow.flow_at_target(flow_10, flow_01), axis=-1)
    weight0 = weight0 * np.exp(-backward_sample(error0, flow_t0) / occlusion_sigma)
    weight1 = weight1 * np.exp(-backward_sample(error1, flow_t1) / occlusion_sigma)
    # Where both are unreliable fall back to the plain temporal blend.
    total = weight0 + weight1
    fallback = total < 1e-6
    weight0 = np.where(fallback, 1.0 - t, weight0)
    weight1 = np.where(fallback, t, weight1)
  total = (weight0 + weight1)[..., None]
  frame = (weight0[..., None] * warped0 + weight1[..., None] * warped1) / total
  return np.clip(frame, 0.0, 1.0).astype(np.float32)


def make_dis_flow(config: classical_flow.DisConfig = classical_flow.DEFAULT_DIS_CONFIG
                  ) -> MethodFn:
  """Returns a `dis_flow` method with the given DIS settings."""

  def dis_flow(x0: np.ndarray, x1: np.ndarray, t: float) -> np.ndarray:
    """DIS bidirectional-flow interpolation; `[H,W,3]` float32 in [0,1] in and out."""
    x0, x1, t = _check_pair(x0, x1, t)
    flow_01, flow_10 = classical_flow.bidirectional_flows(x0, x1, config)
    return warp_to_time(x0, x1, t, flow_01, flow_10, config.occlusion_sigma)

  return dis_flow


dis_flow = make_dis_flow()

# ---------------------------------------------------------------------- ffmpeg minterpolate

# minterpolate works on blocks of mb_size (16) pixels in YUV; inputs are padded to a multiple of
# this (edge replication) and the result cropped back, so any size (including odd) works.
_MINTERPOLATE_BLOCK = 16
# Largest denominator used to express t as a frame index at an integer output rate.
_MAX_TIME_DENOMINATOR = 100


# The static ffmpeg bundled with `imageio-ffmpeg` (has the `minterpolate` filter).
ffmpeg_exe = video_io.ffmpeg_exe


def _write_png(path: str, image: np.ndarray) -> None:
  Image.fromarray(np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)).save(path)


def ffmpeg_minterpolate(x0: np.ndarray, x1: np.ndarray, t: float) -> np.ndarray:
  """Interpolates with ffmpeg's `minterpolate` (mi_mode=mci, mc_mode=aobmc, me_mode=bidir,
  vsbmc=1, scene-change detection off so it never falls back to frame duplication).

  The pair is written as a lossless 1-fps PNG sequence `x0, x0, x1, x1` (minterpolate needs
  four frames of context before it emits anything), rendered at `q` fps where `t ~ p/q`, and the
  frame at time `1 + t` (index `q + p`) is read back. Frames go through 8-bit YUV 4:4:4 (the
  filter has no RGB mode), which alone costs ~50 dB PSNR on a round trip.

  Args:
    x0, x1: `[H,W,3]` float32 in [0,1], any size.
    t: time in [0,1].

  Returns:
    `[H,W,3]` float32 in [0,1].

  Raises:
    RuntimeError: ffmpeg failed or did not produce the expected frame (message has its stderr).
  """
  x0, x1, t = _check_pair(x0, x1, t)
  if t == 0.0:
    return x0.copy()
  if t == 1.0:
    return x1.copy()
  height, width = x0.shape[:2]
  pad_h = -height % _MINTERPOLATE_BLOCK
  pad_w = -width % _MINTERPOLATE_BLOCK
  pad = ((0, pad_h), (0, pad_w), (0, 0))
  frames = [np.pad(x, pad, mode='edge') for x in (x0, x0, x1, x1)]
  fraction = fractions.Fraction(t).limit_denominator(_MAX_TIME_DENOMINATOR)
  fps, index = fraction.denominator, fraction.denominator + fraction.numerator
  if abs(float(fraction) - t) > 1e-6:
    logging.log_first_n(logging.WARNING, 'ffmpeg_minterpolate: t=%g rounded to %s.', 1, t,
                        fraction)
  with tempfile.TemporaryDirectory(prefix='film_minterpolate_') as tmp:
    for i, frame in enumerate(frames):
      _write_png(os.path.join(tmp, f'in_{i:03d}.png'), frame)
    filters = (f'format=yuv444p,minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:'
               f'me_mode=bidir:vsbmc=1:scd=none')
    command = [ffmpeg_exe(), '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
               '-framerate', '1', '-start_number', '0', '-i', os.path.join(tmp, 'in_%03d.png'),
               '-vf', filters, '-pix_fmt', 'rgb24', '-start_number', '0',
               os.path.join(tmp, 'out_%04d.png')]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    out_path = os.path.join(tmp, f'out_{index:04d}.png')
    if result.returncode != 0 or not os.path.exists(out_path):
      raise RuntimeError(f'ffmpeg minterpolate failed (exit {result.returncode}, expected frame '
                         f'{index} at {fps} fps): {result.stderr.strip()[-500:]}')
    with Image.open(out_path) as image:
      frame = np.asarray(image.convert('RGB'), dtype=np.float32) / 255.0
  return frame[:height, :width].copy()


# ------------------------------------------------------------------------------------ registry

BASELINES: Dict[str, MethodFn] = {
    'repeat': repeat,
    'average': average,
    'dis_flow': dis_flow,
    'ffmpeg_minterpolate': ffmpeg_minterpolate,
}


def get_baseline(name: str) -> MethodFn:
  """Returns the baseline `name` (see `BASELINES`); raises `KeyError` listing the choices."""
  if name not in BASELINES:
    raise KeyError(f'unknown baseline {name!r}; choose from {sorted(BASELINES)}')
  return BASELINES[name]
