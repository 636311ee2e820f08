"""The machine a benchmark ran on, for its report: CPU model, cores and the convolution flags."""
from __future__ import annotations

import os

# Flags that decide which convolution kernels oneDNN / OpenVINO can use.
CONV_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_tile')


def cpu_description(cpuinfo_path: str = '/proc/cpuinfo') -> dict:
  """{'model': CPU model name, 'cores': os.cpu_count(), 'flags': the CONV_FLAGS it has}."""
  from film.net.precision import cpu_flags
  model = ''
  try:
    with open(cpuinfo_path, encoding='utf-8', errors='replace') as f:
      for line in f:
        if line.startswith('model name'):
          model = line.split(':', 1)[1].strip()
          break
  except OSError:
    pass
  have = cpu_flags(cpuinfo_path)
  return {'model': model, 'cores': os.cpu_count(), 'flags': [f for f in CONV_FLAGS if f in have]}
