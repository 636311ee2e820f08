"""Periodic evaluation during training: PSNR / SSIM / L1 on validation records, and its history.

Metrics are `film.media.image_metrics` (the same PSNR / SSIM as `film-eval`), averaged over the
examples. The history is appended to
`eval_history.csv` and `eval_history.jsonl` in the run folder (one row per dataset and step).
"""
from __future__ import annotations

import csv
import json
import os
import time
from typing import Any, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from film.media.image_metrics import image_metrics
from film.net.model import FilmNet
from film.training import teacher_flow as teacher_lib

HISTORY_CSV = 'eval_history.csv'
HISTORY_JSONL = 'eval_history.jsonl'
HISTORY_FIELDS = ('step', 'dataset', 'psnr', 'ssim', 'l1', 'num_examples', 'seconds', 'wall_time')


class Evaluator:
  """Runs `model` over an evaluation dataset and averages `film.media.image_metrics.image_metrics`.

  The forward pass is a `tf.function` with relaxed shapes (full frames of different sizes
  trace once or twice, not once per size). It runs in cross-replica context on the host's
  default device, reading (mirrored) variables directly.
  """

  def __init__(self, model: FilmNet, compute_dtype: Optional[tf.DType] = None):
    self.model = model
    self.compute_dtype = compute_dtype

    @tf.function(reduce_retracing=True)
    def _metrics(x0, x1, time_, y):
      prior = (teacher_lib.batch_prior_flows(x0, x1) if self.model.config.has_flow_prior
               else None)
      prediction = self.model(x0, x1, time_, compute_dtype=self.compute_dtype,
                              prior_flows=prior)['image']
      return image_metrics(prediction, y)

    self._metrics = _metrics

  def evaluate(self, dataset: tf.data.Dataset, max_examples: int = -1) -> dict[str, float]:
    """Averages the metrics over `dataset` batches (`x0`, `x1`, `y`, `time`).

    Args:
      dataset: finite dataset of batches, e.g. `input_pipeline.create_eval_dataset(...)`.
      max_examples: stop after this many examples (-1: all).

    Returns:
      {'psnr', 'ssim', 'l1': means, 'num_examples', 'seconds'}.
    """
    start = time.time()
    sums = {'psnr': 0.0, 'ssim': 0.0, 'l1': 0.0}
    count = 0
    for batch in dataset:
      if 0 <= max_examples <= count:
        break
      values = self._metrics(batch['x0'], batch['x1'], batch['time'], batch['y'])
      take = values['psnr'].shape[0]
      if max_examples >= 0:
        take = min(take, max_examples - count)
      for key in sums:
        sums[key] += float(np.sum(values[key].numpy()[:take]))
      count += take
    if count == 0:
      raise ValueError('the evaluation dataset is empty')
    result: dict[str, float] = {k: v / count for k, v in sums.items()}
    result['num_examples'] = count
    result['seconds'] = time.time() - start
    return result


def append_history(run_dir: str, step: int, dataset_name: str, result: dict[str, Any]) -> None:
  """Appends one evaluation result to the CSV and JSON-lines histories in `run_dir`."""
  row = {'step': int(step), 'dataset': dataset_name, 'wall_time': time.time()}
  row.update({k: result[k] for k in ('psnr', 'ssim', 'l1', 'num_examples', 'seconds')})
  csv_path = os.path.join(run_dir, HISTORY_CSV)
  new_file = not os.path.exists(csv_path)
  with open(csv_path, 'a', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
    if new_file:
      writer.writeheader()
    writer.writerow(row)
  with open(os.path.join(run_dir, HISTORY_JSONL), 'a') as f:
    f.write(json.dumps(row) + '\n')
  logging.info('eval step %d %s: PSNR %.3f dB, SSIM %.4f, L1 %.4f (%d examples, %.1f s)', step,
               dataset_name, result['psnr'], result['ssim'], result['l1'],
               result['num_examples'], result['seconds'])


def read_history(run_dir: str) -> list[dict[str, Any]]:
  """The evaluation history of a run (JSON-lines file), oldest first; [] when there is none."""
  path = os.path.join(run_dir, HISTORY_JSONL)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]
