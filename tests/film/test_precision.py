"""Tests for film/net/precision.py: 'auto' picks bfloat16 only on CPUs with it in hardware."""
import pytest
import tensorflow as tf

from film.net import precision

SAPPHIRE_RAPIDS = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n'
AVX512_ONLY = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n'


def test_cpu_flags_and_auto(tmp_path):
  (tmp_path / 'spr').write_text(SAPPHIRE_RAPIDS)
  (tmp_path / 'skx').write_text(AVX512_ONLY)
  spr = precision.cpu_flags(str(tmp_path / 'spr'))
  skx = precision.cpu_flags(str(tmp_path / 'skx'))
  assert {'avx512_bf16', 'amx_bf16'} <= spr and 'avx512_bf16' not in skx
  assert precision.cpu_flags(str(tmp_path / 'missing')) == frozenset()
  assert precision.resolve_precision('auto', spr) == 'bfloat16'
  assert precision.resolve_precision('auto', skx) == 'float32'  # emulated bf16 is ~10x slower
  assert precision.resolve_precision('auto', frozenset()) == 'float32'
  assert precision.resolve_precision('float32', spr) == 'float32'
  assert precision.resolve_precision('bfloat16', skx) == 'bfloat16'
  assert precision.compute_dtype('auto', spr) == tf.bfloat16
  assert precision.compute_dtype('auto', skx) is None


def test_bad_precision_names_the_choices():
  with pytest.raises(ValueError, match='precision must be one of auto, float32, bfloat16'):
    precision.resolve_precision('fp16')
