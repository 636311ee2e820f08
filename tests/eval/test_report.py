"""Tests for eval/report.py: tables, CSV, atomic writes and the comparison sheet."""
import csv
import io
import os

import numpy as np

from film.eval import report


def _rows():
  rows = []
  for benchmark, offset in (('bench_a', 0.0), ('bench_b', 1.0)):
    for sample in ('s1', 's2'):
      for method, psnr in (('average', 30.0), ('dis_flow', 33.0)):
        rows.append({'benchmark': benchmark, 'sample': sample, 'method': method, 't': 0.5,
                     'height': 8, 'width': 8, 'seconds': 0.1, 'psnr': psnr + offset,
                     'ssim': 0.9 if method == 'average' else 0.95})
  return rows


def test_csv_has_one_line_per_row():
  text = report.csv_text(_rows(), ['psnr', 'ssim'])
  parsed = list(csv.DictReader(io.StringIO(text)))
  assert len(parsed) == 8
  assert list(parsed[0]) == list(report.BASE_COLUMNS) + ['psnr', 'ssim']
  assert float(parsed[-1]['psnr']) == 34.0


def test_results_table_has_methods_as_rows_and_benchmarks_as_columns():
  lines = report.results_table_markdown(_rows(), ['psnr', 'ssim']).splitlines()
  assert lines[0].startswith('| Method | bench_a') and 'bench_b' in lines[0]
  assert lines[2] == '| average | 30.00 / 0.9000 | 31.00 / 0.9000 |'
  assert lines[3] == '| dis_flow | **33.00** / **0.9500** | **34.00** / **0.9500** |'


def test_summary_has_means_and_per_sequence_values():
  text = report.summary_markdown(_rows(), ['psnr', 'ssim'], command='film-eval --x')
  assert '## bench_a (2 samples)' in text and 'film-eval --x' in text
  assert '| dis_flow | 2 | **33.00** | **0.9500** | 0.100 |' in text
  assert '| s1 | 30.00 / 0.9000 | 33.00 / 0.9500 |' in text


def test_atomic_write_replaces_without_leftovers(tmp_path):
  path = str(tmp_path / 'out' / 'table.md')
  report.atomic_write(path, 'first')
  report.atomic_write(path, b'second')
  assert open(path).read() == 'second'
  assert os.listdir(tmp_path / 'out') == ['table.md']


def test_comparison_sheet_and_error_map():
  rng = np.random.default_rng(0)
  frame = lambda: rng.random((30, 40, 3)).astype(np.float32)
  samples = [report.SheetSample(f's{i}', 0.5, frame(), frame(), frame(),
                                {'average': frame(), 'dis_flow': frame()},
                                {'average': {'psnr': 20.0, 'ssim': 0.5}})
             for i in range(2)]
  sheet = report.comparison_sheet(samples, 'title', tile_width=80)
  assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
  assert sheet.shape[1] == 5 * (80 + 6) + 6  # x0, x1, ground truth + 2 methods.
  exact = report.error_map(samples[0].y, samples[0].y, 4.0)
  assert exact.shape == (30, 40, 3) and exact.max() < 10  # inferno(0) is (near) black.
  assert report.pick_sheet_indices(12, 4) == [0, 4, 7, 11]
  assert report.pick_sheet_indices(2, 4) == [0, 1]
