"""How close the FILM forward is to this CPU's arithmetic ceiling (issue 27's "where the time goes").

1. Counts the multiply-accumulates (MACs) of every convolution of one forward pass of FILM's
   published configuration at `--size` (default 512x768), by stage (feature extraction, flow
   estimation, fusion), from the convolutions' real input shapes (one eager call with the
   convolution recorded; no timing from it).
2. Measures this machine's dense GEMM rate in float32 and bfloat16 (`tf.matmul` of
   `--gemm_size`-square matrices, median of `--rounds` calls after a warm-up): the rate oneDNN
   reaches when memory traffic does not matter, i.e. a practical ceiling for convolutions.
3. Times full forwards (ours, `Interpolator`, float32 and bfloat16; same rounds) and states
   the conv MACs per second they achieve and the fraction of the GEMM ceiling that is. If that
   fraction is near 1, no implementation computing the same MACs can be much faster: only
   fewer MACs can.

  python -m bench.bench_conv_roofline --output bench/results/conv_roofline.json
"""
from __future__ import annotations

import collections
import os
import statistics
import time

from absl import app, flags, logging

from bench.machine import cpu_description
from bench.report import write_report

_SIZE = flags.DEFINE_string('size', '512x768', 'HxW of the forward pair.')
_GEMM = flags.DEFINE_integer('gemm_size', 3072, 'Side of the square GEMM.')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'Timed calls per measurement (median).')
_PRECISIONS = flags.DEFINE_list('precisions', ['float32', 'bfloat16'], 'Forward precisions.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON results file (and .md beside it).')


def conv_macs(height: int, width: int) -> dict[str, int]:
  """{stage: MACs} of one forward of `FilmNet(PUBLISHED)` at height x width (batch 1).

  A `same` convolution of a [1,h,w,c] input with a [k,k,c,o] kernel costs h*w*k*k*c*o MACs
  (the fusion's upsample + 2x2 conv: 9 taps per coarse pixel, `fusion.upsample_conv2x2`); the
  stage is the convolution's top-level module (feat_net, predict_flow, fusion)."""
  import numpy as np
  import tensorflow as tf
  from film.net import conv as conv_lib
  from film.net import fusion as fusion_lib
  from film.net.config import PUBLISHED
  from film.net.model import FilmNet

  totals: dict[str, int] = collections.Counter()
  original = conv_lib.Conv2D.__call__

  def recording(self, x):
    _, h, w, c = x.shape
    k, _, cin, cout = self.kernel_shape
    assert c == cin, (c, cin)
    parts = self.kernel.name.split('/')  # '[film_net/]<stage>/.../kernel:0'
    stage = parts[1] if parts[0] == 'film_net' else parts[0]
    totals[stage] += int(h) * int(w) * k * k * cin * cout
    return original(self, x)

  upsample_conv = fusion_lib.upsample_conv2x2

  def recording_upsample(net, conv):  # four phase convs on the coarse map: 1+2+2+4 taps
    _, h, w, cin = net.shape
    totals['fusion'] += int(h) * int(w) * 9 * int(cin) * conv.kernel_shape[3]
    return upsample_conv(net, conv)

  model = FilmNet(PUBLISHED)
  x = tf.constant(np.zeros((1, height, width, 3), np.float32))
  conv_lib.Conv2D.__call__ = recording
  fusion_lib.upsample_conv2x2 = recording_upsample
  try:
    model(x, x, tf.constant([[0.5]]))
  finally:
    conv_lib.Conv2D.__call__ = original
    fusion_lib.upsample_conv2x2 = upsample_conv
  return dict(totals)


def _median_seconds(fn, rounds: int) -> float:
  fn()  # warm-up
  times = []
  for _ in range(rounds):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def gemm_rate(n: int, dtype: str, rounds: int) -> float:
  """MACs per second of an n x n x n `tf.matmul` in `dtype` on this machine."""
  import tensorflow as tf
  a = tf.random.stateless_uniform([n, n], seed=[1, 2], dtype=tf.float32)
  b = tf.random.stateless_uniform([n, n], seed=[3, 4], dtype=tf.float32)
  a, b = tf.cast(a, dtype), tf.cast(b, dtype)
  matmul = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
  return n ** 3 / _median_seconds(lambda: matmul().numpy(), rounds)


def forward_seconds(height: int, width: int, precision: str, rounds: int) -> float:
  import numpy as np
  import tensorflow as tf
  from film.inference.interpolator import Interpolator
  from film.net.config import PUBLISHED
  from film.net.model import FilmNet
  tf.keras.utils.set_random_seed(0)
  interp = Interpolator(FilmNet(PUBLISHED), precision=precision, reuse_features=False)
  rng = np.random.default_rng(0)
  x0 = rng.random((height, width, 3), dtype=np.float32)
  x1 = np.roll(x0, 4, axis=1)
  return _median_seconds(lambda: interp.interpolate(x0, x1, 0.5), rounds)


def markdown(results: dict) -> str:
  cpu = results['cpu']
  macs = results['conv_gmacs']
  lines = [f"CPU: {cpu['model']}, {cpu['cores']} cores, flags: {' '.join(cpu['flags'])}; "
           f"FILM published configuration, {results['size']} "
           f"(load {results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after).",
           '', '| stage | conv GMACs | share |', '|---|---:|---:|']
  total = sum(macs.values())
  for stage, g in sorted(macs.items(), key=lambda kv: -kv[1]):
    lines.append(f'| {stage} | {g:.1f} | {g / total:.0%} |')
  lines += [f'| all | {total:.1f} | |', '',
            '| precision | GEMM ceiling (GMAC/s) | forward s | conv GMAC/s in the forward | '
            'of the ceiling |', '|---|---:|---:|---:|---:|']
  for p, row in results['precisions'].items():
    lines.append(f"| {p} | {row['gemm_gmacs_per_s']:.1f} | {row['forward_s']:.2f} | "
                 f"{row['forward_conv_gmacs_per_s']:.1f} | {row['fraction_of_gemm']:.0%} |")
  return '\n'.join(lines) + '\n'


def main(argv: list[str]) -> None:
  del argv
  height, width = (int(v) for v in _SIZE.value.split('x'))
  results = {'cpu': cpu_description(), 'size': f'{height}x{width}', 'load_before': os.getloadavg()}
  macs = conv_macs(height, width)
  results['conv_gmacs'] = {k: v / 1e9 for k, v in macs.items()}
  total = sum(macs.values())
  results['precisions'] = {}
  for precision in _PRECISIONS.value:
    rate = gemm_rate(_GEMM.value, precision, _ROUNDS.value)
    seconds = forward_seconds(height, width, precision, _ROUNDS.value)
    results['precisions'][precision] = {
        'gemm_gmacs_per_s': rate / 1e9, 'forward_s': seconds,
        'forward_conv_gmacs_per_s': total / seconds / 1e9,
        'fraction_of_gemm': total / seconds / rate}
    logging.info('%s: %s', precision, results['precisions'][precision])
  results['load_after'] = os.getloadavg()
  write_report(results, markdown(results), _OUTPUT.value)


if __name__ == '__main__':
  app.run(main)
