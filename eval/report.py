"""Evaluation outputs: per-sample CSV, markdown summaries and labelled comparison sheets.

A *row* is one (benchmark, sample, method) result: a dict with keys `benchmark`, `sample`,
`method`, `t`, `height`, `width`, `seconds` (wall time of the method on that sample) and one key
per metric (`psnr`, `ssim`, `lpips_vgg`, ...). Frames handed to the sheet are `[H,W,3]` float32
RGB in [0,1]. Every file is written atomically (temporary file in the target folder, then
`os.replace`), so a reader never sees a half-written report.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from typing import Dict, List, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from film.media import atomic
from film.eval import metrics as metrics_lib

Row = Dict[str, Union[str, float, int]]

CSV_FILE = 'samples.csv'
SUMMARY_FILE = 'summary.md'
RESULTS_TABLE_FILE = 'results_table.md'
RUN_INFO_FILE = 'run_info.json'
SHEET_PATTERN = 'comparison_{benchmark}.png'

BASE_COLUMNS = ('benchmark', 'sample', 'method', 't', 'height', 'width', 'seconds')
# Benchmarks with more samples than this get no per-sequence table in the summary (see CSV).
MAX_PER_SEQUENCE_ROWS = 100


# ------------------------------------------------------------------------------ atomic files

# Every report file is written with the package's one atomic-output helper.
atomic_write = atomic.write_bytes


def encode_png(image: np.ndarray) -> bytes:
  """`[H,W,3]` uint8 RGB (or float in [0,1]) -> PNG bytes."""
  if image.dtype != np.uint8:
    image = to_uint8(image)
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format='PNG')
  return buffer.getvalue()


def to_uint8(image: np.ndarray) -> np.ndarray:
  """Float image in [0,1] -> uint8 (clipped, rounded)."""
  return np.clip(np.rint(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------- tables


def _format(value: float, metric: str) -> str:
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return 'n/a'
  if math.isinf(value):
    return 'inf'
  return f'{value:.2f}' if metric == 'psnr' else f'{value:.4f}'


def _ordered(values: Sequence[str]) -> List[str]:
  """Unique values in first-seen order."""
  return list(dict.fromkeys(values))


def csv_text(rows: Sequence[Row], metric_names: Sequence[str]) -> str:
  """The per-sample CSV: one line per (benchmark, sample, method)."""
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(BASE_COLUMNS) + list(metric_names),
                          extrasaction='ignore', lineterminator='\n')
  writer.writeheader()
  for row in rows:
    out = dict(row)
    for key in list(metric_names) + ['seconds']:
      if isinstance(out.get(key), float):
        out[key] = f'{out[key]:.6g}'
    writer.writerow(out)
  return buffer.getvalue()


def mean_table(rows: Sequence[Row], metric_names: Sequence[str]) -> Dict[str, Dict[str, Dict]]:
  """Means per benchmark and method: `{benchmark: {method: {metric: mean, 'n': count}}}`."""
  table: Dict[str, Dict[str, Dict]] = {}
  for benchmark in _ordered([r['benchmark'] for r in rows]):
    table[benchmark] = {}
    for method in _ordered([r['method'] for r in rows]):
      selected = [r for r in rows if r['benchmark'] == benchmark and r['method'] == method]
      if not selected:
        continue
      entry = {'n': len(selected),
               'seconds': float(np.mean([float(r['seconds']) for r in selected]))}
      for metric in metric_names:
        values = [float(r[metric]) for r in selected if metric in r]
        entry[metric] = float(np.mean(values)) if values else float('nan')
      table[benchmark][method] = entry
  return table


def _best(entries: Mapping[str, Mapping[str, float]], metric: str) -> Optional[str]:
  """Method with the best finite mean of `metric`, or None."""
  finite = {m: e[metric] for m, e in entries.items()
            if metric in e and math.isfinite(e[metric])}
  if not finite:
    return None
  pick = max if metrics_lib.higher_is_better(metric) else min
  return pick(finite, key=finite.get)


def _arrow(metric: str) -> str:
  return '↑' if metrics_lib.higher_is_better(metric) else '↓'


def summary_markdown(rows: Sequence[Row], metric_names: Sequence[str],
                     command: Optional[str] = None) -> str:
  """Markdown with, per benchmark, the mean of every metric per method and per-sequence values.

  Best means are in bold. Per-sequence tables (PSNR / SSIM per method) are left out for
  benchmarks with more than `MAX_PER_SEQUENCE_ROWS` samples.
  """
  table = mean_table(rows, metric_names)
  lines = ['# Frame-interpolation evaluation summary', '']
  if command:
    lines += ['Command:', '', '```', command, '```', '']
  for benchmark, entries in table.items():
    count = max(e['n'] for e in entries.values())
    lines += [f'## {benchmark} ({count} samples)', '', '### Mean per method', '']
    header = ['method', 'n'] + [f'{m} {_arrow(m)}' for m in metric_names] + ['s/frame']
    lines += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    best = {m: _best(entries, m) for m in metric_names}
    for method, entry in entries.items():
      cells = [method, str(entry['n'])]
      for metric in metric_names:
        text = _format(entry[metric], metric)
        cells.append(f'**{text}**' if best[metric] == method else text)
      cells.append(f'{entry["seconds"]:.3f}')
      lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
    samples = _ordered([r['sample'] for r in rows if r['benchmark'] == benchmark])
    methods = list(entries)
    shown = [m for m in ('psnr', 'ssim') if m in metric_names]
    if not shown:
      continue
    if len(samples) > MAX_PER_SEQUENCE_ROWS:
      lines += [f'Per-sequence values: {len(samples)} samples, see `{CSV_FILE}`.', '']
      continue
    lines += [f'### Per sequence ({" / ".join(m.upper() for m in shown)})', '']
    lines += ['| sample | ' + ' | '.join(methods) + ' |', '|' + '---|' * (len(methods) + 1)]
    by_key = {(r['sample'], r['method']): r for r in rows if r['benchmark'] == benchmark}
    for sample in samples:
      cells = [str(sample)]
      for method in methods:
        row = by_key.get((sample, method))
        cells.append(' / '.join(_format(float(row[m]), m) for m in shown) if row else '')
      lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
  return '\n'.join(lines)


def results_table_markdown(rows: Sequence[Row], metric_names: Sequence[str]) -> str:
  """README-ready table: methods as rows, benchmarks as columns, cells `PSNR / SSIM` (means).

  The best value per benchmark is bold. When LPIPS metrics are present a second table lists
  them the same way.
  """
  table = mean_table(rows, metric_names)
  benchmarks = list(table)
  methods = _ordered([r['method'] for r in rows])
  lines = []
  groups = [[m for m in ('psnr', 'ssim') if m in metric_names],
            [m for m in metric_names if m.startswith('lpips')]]
  for group in groups:
    if not group:
      continue
    title = ' / '.join(f'{m.upper().replace("_", " ")} {_arrow(m)}' for m in group)
    lines += [f'| Method | ' + ' | '.join(f'{b} ({title})' for b in benchmarks) + ' |',
              '|---|' + '---:|' * len(benchmarks)]
    best = {(b, m): _best(table[b], m) for b in benchmarks for m in group}
    for method in methods:
      cells = [method]
      for benchmark in benchmarks:
        entry = table[benchmark].get(method)
        if entry is None:
          cells.append('–')
          continue
        parts = []
        for metric in group:
          text = _format(entry[metric], metric)
          parts.append(f'**{text}**' if best[(benchmark, metric)] == method else text)
        cells.append(' / '.join(parts))
      lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
  return '\n'.join(lines)


# --------------------------------------------------------------------------- comparison sheet


@dataclasses.dataclass
class SheetSample:
  """What a comparison-sheet row shows for one sample.

  Attributes:
    name: sample id.
    t: interpolation time.
    x0, y, x1: `[H,W,3]` float32 in [0,1] (inputs and ground truth).
    predictions: `{method: [H,W,3] float32 in [0,1]}` in display order.
    scores: `{method: {metric: value}}` shown in the labels (PSNR/SSIM).
  """
  name: str
  t: float
  x0: np.ndarray
  y: np.ndarray
  x1: np.ndarray
  predictions: Dict[str, np.ndarray]
  scores: Dict[str, Dict[str, float]]


def _font(size: int) -> ImageFont.ImageFont:
  try:
    return ImageFont.truetype('DejaVuSans.ttf', size)
  except OSError:
    return ImageFont.load_default(size=size)


def error_map(prediction: np.ndarray, target: np.ndarray, amplify: float) -> np.ndarray:
  """Colour-mapped absolute error.

  Args:
    prediction, target: `[H,W,3]` float32 in [0,1].
    amplify: gain; a mean-over-channels error of `1/amplify` saturates the colour map.

  Returns:
    `[H,W,3]` uint8 RGB (inferno colour map: black = exact, yellow = large error).
  """
  error = np.abs(np.clip(prediction, 0, 1) - np.clip(target, 0, 1)).mean(axis=-1)
  levels = to_uint8(np.clip(error * amplify, 0.0, 1.0))
  return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _colour_bar(width: int, height: int, amplify: float, font) -> np.ndarray:
  """A labelled legend tile for `error_map`, `[height,width,3]` uint8."""
  tile = Image.new('RGB', (width, height), (255, 255, 255))
  bar_h = max(12, height // 6)
  ramp = np.tile(np.linspace(0, 255, width - 40).astype(np.uint8)[None], (bar_h, 1))
  ramp = cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
  top = height // 2 - bar_h // 2
  tile.paste(Image.fromarray(ramp), (20, top))
  draw = ImageDraw.Draw(tile)
  draw.text((20, top - 24), f'|error| x{amplify:g} (mean over RGB)', fill=(0, 0, 0), font=font)
  draw.text((20, top + bar_h + 4), '0', fill=(0, 0, 0), font=font)
  end = f'>= {1.0 / amplify:.2f}'
  draw.text((width - 20 - draw.textlength(end, font=font), top + bar_h + 4), end,
            fill=(0, 0, 0), font=font)
  return np.asarray(tile)


def comparison_sheet(samples: Sequence[SheetSample], title: str, amplify: float = 4.0,
                     tile_width: int = 320) -> np.ndarray:
  """Renders a labelled comparison sheet.

  For each sample two rows of tiles: `x0 | x1 | ground truth | method...` with PSNR/SSIM in the
  method labels, then `x0/x1 overlay | |x1-x0| | colour legend | error map per method`.

  Args:
    samples: the samples to show, all with the same methods.
    title: heading drawn at the top.
    amplify: error-map gain (see `error_map`).
    tile_width: width of each tile in pixels (frames are resized keeping their aspect).

  Returns:
    `[H,W,3]` uint8 RGB image.
  """
  if not samples:
    raise ValueError('comparison_sheet needs at least one sample')
  methods = list(samples[0].predictions)
  columns = 3 + len(methods)
  label_h, gap, title_h, heading_h = 24, 6, 40, 30
  font, title_font = _font(15), _font(22)
  blocks = []
  for sample in samples:
    height, width = sample.y.shape[:2]
    tile_h = max(1, round(height * tile_width / width))

    def fit(image: np.ndarray) -> np.ndarray:
      image = image if image.dtype == np.uint8 else to_uint8(image)
      return cv2.resize(image, (tile_width, tile_h), interpolation=cv2.INTER_AREA)

    top = [('x0 (input, t=0)', fit(sample.x0)), ('x1 (input, t=1)', fit(sample.x1)),
           (f'ground truth (t={sample.t:g})', fit(sample.y))]
    bottom = [('x0/x1 overlay', fit(0.5 * (sample.x0 + sample.x1))),
              (f'|x1 - x0| x{amplify:g}', fit(error_map(sample.x0, sample.x1, amplify))),
              ('', _colour_bar(tile_width, tile_h, amplify, font))]
    for method in methods:
      score = sample.scores.get(method, {})
      label = method
      if 'psnr' in score:
        label += f'  {_format(score["psnr"], "psnr")} dB'
      if 'ssim' in score:
        label += f' / {_format(score["ssim"], "ssim")}'
      top.append((label, fit(sample.predictions[method])))
      bottom.append((f'{method} error', fit(error_map(sample.predictions[method], sample.y,
                                                       amplify))))
    block_h = heading_h + 2 * (label_h + tile_h) + gap
    block = Image.new('RGB', (columns * (tile_width + gap) + gap, block_h), (255, 255, 255))
    draw = ImageDraw.Draw(block)
    draw.text((gap, 6), f'{sample.name}   ({width}x{height}, t={sample.t:g})',
              fill=(0, 0, 0), font=_font(18))
    for row_index, row in enumerate((top, bottom)):
      y0 = heading_h + row_index * (label_h + tile_h)
      for col, (label, tile) in enumerate(row):
        x0 = gap + col * (tile_width + gap)
        text = label
        while text and draw.textlength(text, font=font) > tile_width:
          text = text[:-1]
        draw.text((x0, y0 + 3), text, fill=(0, 0, 0), font=font)
        block.paste(Image.fromarray(tile), (x0, y0 + label_h))
    blocks.append(np.asarray(block))
  sheet_w = blocks[0].shape[1]
  header = Image.new('RGB', (sheet_w, title_h), (255, 255, 255))
  ImageDraw.Draw(header).text((gap, 8), title, fill=(0, 0, 0), font=title_font)
  separator = np.full((4, sheet_w, 3), 200, dtype=np.uint8)
  parts = [np.asarray(header)]
  for block in blocks:
    parts += [separator, block]
  return np.concatenate(parts, axis=0)


def pick_sheet_indices(count: int, wanted: int) -> List[int]:
  """`wanted` sample indices spread evenly over `count` samples (first and last included)."""
  if count <= 0 or wanted <= 0:
    return []
  if wanted >= count:
    return list(range(count))
  return sorted({int(round(i)) for i in np.linspace(0, count - 1, wanted)})
