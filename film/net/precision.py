"""Inference precision: 'auto' | 'float32' | 'bfloat16', and whether this CPU has bfloat16.

bfloat16 convolutions run in hardware on x86 CPUs with `avx512_bf16` or `amx_bf16` (oneDNN uses
them: ~2x faster than float32 for FILM, notes/inference.md "Session 5"); on other CPUs oneDNN
emulates bfloat16 ~10x *slower* than float32, so 'auto' picks bfloat16 only when one of those
flags is in /proc/cpuinfo. Warps, flow accumulation and outputs stay float32 in either case.
"""
from __future__ import annotations

from typing import Optional

import tensorflow as tf

# /proc/cpuinfo flags of x86 CPUs with bfloat16 arithmetic in hardware.
NATIVE_BFLOAT16_CPU_FLAGS = frozenset({'avx512_bf16', 'amx_bf16'})
PRECISIONS = ('auto', 'float32', 'bfloat16')


def cpu_flags(cpuinfo_path: str = '/proc/cpuinfo') -> frozenset[str]:
  """The feature flags of the first CPU in `cpuinfo_path` (empty if unreadable, e.g. not Linux)."""
  try:
    with open(cpuinfo_path, encoding='utf-8', errors='replace') as f:
      for line in f:
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
          return frozenset(value.split())
  except OSError:
    pass
  return frozenset()


def resolve_precision(precision: str, flags: Optional[frozenset[str]] = None) -> str:
  """'auto' -> 'bfloat16' if `flags` (default: this CPU's) has native bfloat16, else 'float32';
  'float32' / 'bfloat16' are returned as they are; anything else is a ValueError."""
  if precision not in PRECISIONS:
    raise ValueError(f'precision must be one of {", ".join(PRECISIONS)} (got {precision!r})')
  if precision != 'auto':
    return precision
  flags = cpu_flags() if flags is None else flags
  return 'bfloat16' if flags & NATIVE_BFLOAT16_CPU_FLAGS else 'float32'


def compute_dtype(precision: str, flags: Optional[frozenset[str]] = None) -> Optional[tf.DType]:
  """The `compute_dtype` for `FilmNet`: None (float32) or tf.bfloat16, see `resolve_precision`."""
  return tf.bfloat16 if resolve_precision(precision, flags) == 'bfloat16' else None
