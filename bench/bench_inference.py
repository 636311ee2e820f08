"""Inference benchmark: seconds per output frame and peak RSS of `film.inference.interpolator`.

Cases (PUBLISHED configuration, random weights: timing and memory do not depend on values):
  720p_k3_reuse / 720p_k3_noreuse   1280x720 pair, times_to_interpolate=3 (7 new frames)
  4k_k1_reuse / 4k_k1_noreuse       3840x2160 pair, one mid frame (tiled under --max_memory_gb)

Each case runs in a fresh subprocess; its peak RSS comes from `os.wait4` (the rusage of that
child alone; `resource.getrusage(RUSAGE_CHILDREN)` would be the maximum over all children so
far). The machine load (`uptime`) is recorded before and after each case.

  python bench/bench_inference.py --cases 720p_k3_reuse,720p_k3_noreuse,4k_k1_reuse \
      --output /tmp/bench.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '..',
                      'shared', 'samples', 'davis', 'dog-control')
CASES = {
    '720p_k3_reuse': dict(size=(720, 1280), k=3, reuse=True),
    '720p_k3_noreuse': dict(size=(720, 1280), k=3, reuse=False),
    '4k_k1_reuse': dict(size=(2160, 3840), k=1, reuse=True),
    '4k_k1_noreuse': dict(size=(2160, 3840), k=1, reuse=False),
}


def _load_pair(height: int, width: int):
  import cv2
  import numpy as np
  frames = []
  for name in ('frame10.png', 'frame11.png'):
    path = os.path.join(SAMPLE, name)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:  # No sample data: a synthetic moving pattern.
      yy, xx = np.mgrid[:height, :width]
      shift = 8 * len(frames)
      image = (127 + 127 * np.sin((xx + shift) / 17.0) * np.cos(yy / 23.0))[..., None]
      image = np.repeat(image, 3, -1).astype(np.uint8)
    image = cv2.resize(image[..., ::-1], (width, height), interpolation=cv2.INTER_CUBIC)
    frames.append(image.astype(np.float32) / 255.0)
  return frames


def worker(case: str, max_memory_gb: float) -> None:
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from film.net.config import PUBLISHED
  from film.inference.interpolator import Interpolator
  from film.net.model import FilmNet
  spec = CASES[case]
  x0, x1 = _load_pair(*spec['size'])
  interp = Interpolator(FilmNet(PUBLISHED), max_memory_gb=max_memory_gb,
                        reuse_features=spec['reuse'])
  tiles = interp.tiles(*spec['size'])
  start = time.time()
  count = 0
  for _ in interp.interpolate_recursively([x0, x1], spec['k']):
    count += 1
  seconds = time.time() - start
  new_frames = 2 ** spec['k'] - 1
  print(json.dumps({
      'case': case, 'height': spec['size'][0], 'width': spec['size'][1], 'k': spec['k'],
      'reuse': spec['reuse'], 'output_frames': count, 'new_frames': new_frames,
      'seconds_total': round(seconds, 1),
      'seconds_per_new_frame': round(seconds / new_frames, 1),
      'tiles': len(tiles), 'tile_size': [tiles[0].h, tiles[0].w],
      'max_tile_pixels': interp.max_tile_pixels, 'cache': interp.cache_stats,
      'model_evaluations': interp.model_evaluations,
      'seconds_extract': round(interp.seconds['extract'], 1),
      'seconds_pair': round(interp.seconds['flows'] + interp.seconds['synthesize'], 1),
      'note': 'includes tf.function tracing of the first call'}), flush=True)


def uptime() -> str:
  try:
    return subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()
  except OSError:
    return 'n/a'


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--cases', default='720p_k3_reuse,720p_k3_noreuse,4k_k1_reuse')
  parser.add_argument('--max_memory_gb', type=float, default=12.0)
  parser.add_argument('--output', default=None, help='JSON file for the results.')
  parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.worker:
    worker(args.worker, args.max_memory_gb)
    return
  results = []
  for case in args.cases.split(','):
    if case not in CASES:
      sys.exit(f'bench_inference: error: unknown case {case!r}; choose from {sorted(CASES)}')
    before = uptime()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--worker', case,
                             '--max_memory_gb', str(args.max_memory_gb)],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
      print(f'{case}: failed with exit code {proc.returncode}', file=sys.stderr)
      continue
    result = json.loads(out.strip().splitlines()[-1])
    result['peak_rss_gb'] = round(usage.ru_maxrss * 1024 / 2**30, 2)
    result['uptime_before'] = before
    result['uptime_after'] = uptime()
    results.append(result)
    print(json.dumps(result), flush=True)
  if args.output:
    with open(args.output, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  main()
