#!/usr/bin/env python3
r"""How far a model's time flows are from DIS flows computed from the true middle frame (issue 17).

  python scripts/diagnose_time_flows.py --model film/default_model \
      --benchmark vtest=DATA/validation/real/vtest --benchmark tree=DATA/validation/real/tree \
      --benchmark train_box=DATA/natural/records_box --max_samples 16 --output_dir OUT

For every triplet (x0, y, x1, t) it computes, with the package's DIS helpers
(`film.inference.classical_flow`, the same settings as the `dis_flow` baseline and the training teacher):

* the reference time flows G_t0 = DIS(y -> x0), G_t1 = DIS(y -> x1) (backward-warping
  convention: y[p] ~ x0[p + G_t0(p)]); their forward-backward check marks occluded or wrong
  pixels;
* the model's time flows (its full-resolution flows combined as `model.time_flows` says) and the
  `dis_flow` baseline's (DIS x0 <-> x1, linear motion);
* end-point errors (px, mean over both directions) against G, overall and by region: motion
  |G| (mean of both directions) < 1, 1-4, 4-16, >= 16 px; occluded (either check fails);
  low texture (|grad y| < 0.02 on grey, after a 3x3 Sobel /8);
* PSNR of the model's output, of the plain blend of its warped frames, of the `dis_flow`
  baseline and of the blend of x0, x1 warped with G (the headroom of better time flows);
* where the model's squared error sits (share per region) and its colour bias (mean pred - y).

Writes `samples.csv` (one row per triplet) and `summary.md` (means per benchmark) in
`--output_dir`. Selection never uses this; it is a diagnosis.
"""
from __future__ import annotations

import argparse
import csv
import os

import cv2
import numpy as np
import tensorflow as tf

from film.inference import classical_flow
from film.weights import model_io
from film.eval import benchmarks as benchmarks_lib
from film.eval import metrics

MOTION_BINS = ((0.0, 1.0), (1.0, 4.0), (4.0, 16.0), (16.0, 1e9))


def _time_flows(flow_01, flow_10, t, mode):
  if mode == 'both':
    return (t * t * flow_10 - t * (1 - t) * flow_01,
            (1 - t) * (1 - t) * flow_01 - t * (1 - t) * flow_10)
  return t * flow_10, (1 - t) * flow_01


def _psnr(a, b):
  return float(metrics.psnr(np.clip(a, 0, 1), b)[0])


def _gradient(y):
  gray = cv2.cvtColor(np.clip(y, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
  gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 8.0
  gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 8.0
  return np.hypot(gx, gy)


def analyse(model, triplet) -> dict:
  x0, y, x1, t = triplet.x0, triplet.y, triplet.x1, float(triplet.t)
  out = model(tf.constant(x0[None]), tf.constant(x1[None]), tf.constant([[t]], tf.float32),
              aux_outputs=True)
  pred = out['image'][0].numpy()
  blend = ((1 - t) * out['x0_warped'][0] + t * out['x1_warped'][0]).numpy()
  m01, m10 = out['forward_flow'][0].numpy(), out['backward_flow'][0].numpy()
  mt0, mt1 = _time_flows(m01, m10, t, model.config.time_flows)

  d01, d10 = classical_flow.bidirectional_flows(x0, x1)
  dt0, dt1 = _time_flows(d01, d10, t, 'both')  # the dis_flow baseline's combination
  dis_frame = (1 - t) * classical_flow.backward_sample(x0, dt0) + \
      t * classical_flow.backward_sample(x1, dt1)

  g_t0, g_0t = classical_flow.bidirectional_flows(y, x0)
  g_t1, g_1t = classical_flow.bidirectional_flows(y, x1)
  gt_frame = (1 - t) * classical_flow.backward_sample(x0, g_t0) + \
      t * classical_flow.backward_sample(x1, g_t1)
  occluded = (classical_flow.consistency_mask(g_t0, g_0t) < 0.5) | \
      (classical_flow.consistency_mask(g_t1, g_1t) < 0.5)
  motion = 0.5 * (np.linalg.norm(g_t0, axis=-1) + np.linalg.norm(g_t1, axis=-1))
  flat = _gradient(y) < 0.02

  epe_model = 0.5 * (np.linalg.norm(mt0 - g_t0, axis=-1) + np.linalg.norm(mt1 - g_t1, axis=-1))
  epe_dis = 0.5 * (np.linalg.norm(dt0 - g_t0, axis=-1) + np.linalg.norm(dt1 - g_t1, axis=-1))
  sq_err = ((np.clip(pred, 0, 1) - y) ** 2).sum(axis=-1)
  total_err = max(float(sq_err.sum()), 1e-12)

  row = {'benchmark': '', 'name': triplet.name, 'size': f'{x0.shape[1]}x{x0.shape[0]}', 't': t,
         'psnr_model': _psnr(pred, y), 'psnr_model_blend': _psnr(blend, y),
         'psnr_dis': _psnr(dis_frame, y), 'psnr_gt_flow_blend': _psnr(gt_frame, y),
         'epe_model': float(epe_model.mean()), 'epe_dis': float(epe_dis.mean()),
         'motion_mean_px': float(motion.mean()), 'motion_p95_px': float(np.percentile(motion, 95)),
         'occluded_frac': float(occluded.mean()), 'flat_frac': float(flat.mean())}
  regions = {f'motion_{lo:g}_{hi:g}' if hi < 1e8 else f'motion_{lo:g}+':
             (motion >= lo) & (motion < hi) for lo, hi in MOTION_BINS}
  regions.update({'occluded': occluded, 'flat': flat, 'textured': ~flat})
  for name, mask in regions.items():
    n = int(mask.sum())
    row[f'frac_{name}'] = n / mask.size
    row[f'epe_model_{name}'] = float(epe_model[mask].mean()) if n else ''
    row[f'epe_dis_{name}'] = float(epe_dis[mask].mean()) if n else ''
    row[f'err_share_{name}'] = float(sq_err[mask].sum()) / total_err
  for c, channel in enumerate('rgb'):
    row[f'bias_{channel}'] = float((np.clip(pred, 0, 1) - y)[..., c].mean())
  return row


def _mean(rows, key):
  values = [float(r[key]) for r in rows if r.get(key) not in ('', None)]
  return float(np.mean(values)) if values else float('nan')


def summary(rows) -> str:
  benches = list(dict.fromkeys(r['benchmark'] for r in rows))
  region_names = [k[len('frac_'):] for k in rows[0] if k.startswith('frac_')]
  lines = ['| benchmark | n | model | blend of own warps | DIS x0<->x1 | DIS-from-GT blend | '
           'EPE model (px) | EPE DIS (px) | motion mean / p95 (px) | occluded | bias r/g/b (1e-3) |',
           '|---|---|---|---|---|---|---|---|---|---|---|']
  for b in benches:
    rs = [r for r in rows if r['benchmark'] == b]
    lines.append(
        f'| {b} | {len(rs)} | {_mean(rs, "psnr_model"):.2f} | {_mean(rs, "psnr_model_blend"):.2f} '
        f'| {_mean(rs, "psnr_dis"):.2f} | {_mean(rs, "psnr_gt_flow_blend"):.2f} '
        f'| {_mean(rs, "epe_model"):.2f} | {_mean(rs, "epe_dis"):.2f} '
        f'| {_mean(rs, "motion_mean_px"):.1f} / {_mean(rs, "motion_p95_px"):.1f} '
        f'| {100 * _mean(rs, "occluded_frac"):.1f} % '
        f'| {1e3 * _mean(rs, "bias_r"):+.1f} / {1e3 * _mean(rs, "bias_g"):+.1f} / '
        f'{1e3 * _mean(rs, "bias_b"):+.1f} |')
  lines += ['', 'EPE against DIS-from-GT time flows by region, model / DIS x0<->x1 (px), and '
            'the region\'s share of pixels and of the model\'s squared error:', '',
            '| benchmark | ' + ' | '.join(region_names) + ' |',
            '|---|' + '---|' * len(region_names)]
  for b in benches:
    rs = [r for r in rows if r['benchmark'] == b]
    cells = [f'{_mean(rs, "epe_model_" + n):.2f} / {_mean(rs, "epe_dis_" + n):.2f} '
             f'({100 * _mean(rs, "frac_" + n):.0f} % px, {100 * _mean(rs, "err_share_" + n):.0f} % err)'
             for n in region_names]
    lines.append(f'| {b} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', required=True)
  parser.add_argument('--benchmark', action='append', required=True, help='NAME=PATH')
  parser.add_argument('--max_samples', type=int, default=None)
  parser.add_argument('--output_dir', required=True)
  args = parser.parse_args()
  model = model_io.load_model(args.model)
  os.makedirs(args.output_dir, exist_ok=True)
  rows = []
  for item in args.benchmark:
    name, _, path = item.partition('=')
    for triplet in benchmarks_lib.open_benchmark(path, None, max_samples=args.max_samples):
      row = analyse(model, triplet)
      row['benchmark'] = name
      rows.append(row)
      print(f'{name} {triplet.name}: model {row["psnr_model"]:.2f} dis {row["psnr_dis"]:.2f} '
            f'gt-flow {row["psnr_gt_flow_blend"]:.2f} epe {row["epe_model"]:.2f}/'
            f'{row["epe_dis"]:.2f}', flush=True)
  fields = list(rows[0])
  with open(os.path.join(args.output_dir, 'samples.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  text = summary(rows)
  with open(os.path.join(args.output_dir, 'summary.md'), 'w') as f:
    f.write(text)
  print(text)


if __name__ == '__main__':
  main()
