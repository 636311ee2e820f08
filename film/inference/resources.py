"""Memory available to this process: the host's, capped by container (cgroup) limits.

A Docker / Kubernetes container sees the host's /proc/meminfo, but the kernel kills it at its
cgroup limit; so the default memory cap (`film-interpolate` without `--max_memory_gb`) is
computed (`film.inference.interpolator`: 75% of `available_memory_bytes()`) from the smaller of:

* host: `MemAvailable` of /proc/meminfo;
* cgroup v2: `memory.max - memory.current` of this process's cgroup (from /proc/self/cgroup,
  mounted at /sys/fs/cgroup), also over its parents' `memory.max`;
* cgroup v1: `memory.limit_in_bytes - memory.usage_in_bytes` of the memory controller;
usage minus the reclaimable `inactive_file` page cache of `memory.stat`.

No TensorFlow import (the CLIs call this before loading the model).
"""
from __future__ import annotations

import os
from typing import Optional

FALLBACK_BYTES = 8 * 2**30  # when nothing can be read (non-Linux)
_UNLIMITED = 2**60        # cgroup v1 reports "no limit" as ~2**63 rounded to pages


def _read_int(path: str) -> Optional[int]:
  try:
    with open(path) as f:
      text = f.read().strip()
  except OSError:
    return None
  if text == 'max' or not text.lstrip('-').isdigit():
    return None
  value = int(text)
  return None if value >= _UNLIMITED else value


def meminfo_available(path: str = '/proc/meminfo') -> Optional[int]:
  """MemAvailable in bytes, or None."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  return None


def _usage(folder: str, usage_file: str, inactive_key: str) -> int:
  """Usage minus reclaimable inactive page cache (as `docker stats` counts it)."""
  usage = _read_int(os.path.join(folder, usage_file)) or 0
  try:
    with open(os.path.join(folder, 'memory.stat')) as f:
      for line in f:
        key, _, value = line.partition(' ')
        if key == inactive_key and value.strip().isdigit():
          return max(usage - int(value), 0)
  except OSError:
    pass
  return usage


def _cgroup_paths(proc_cgroup: str) -> dict[str, str]:
  """{controller or '' (v2): path} from /proc/self/cgroup lines `id:controllers:path`."""
  paths = {}
  try:
    with open(proc_cgroup) as f:
      for line in f:
        parts = line.strip().split(':', 2)
        if len(parts) == 3:
          for controller in parts[1].split(',') if parts[1] else ['']:
            paths[controller] = parts[2]
  except OSError:
    pass
  return paths


def cgroup_available(root: str = '/sys/fs/cgroup',
                     proc_cgroup: str = '/proc/self/cgroup') -> Optional[int]:
  """Bytes this process's cgroup may still allocate (limit - usage), or None if unlimited."""
  paths = _cgroup_paths(proc_cgroup)
  best = None
  if '' in paths:  # v2: walk from this cgroup up to the root; the tightest limit wins
    relative = paths[''].strip('/')
    while True:
      folder = os.path.join(root, relative) if relative else root
      limit = _read_int(os.path.join(folder, 'memory.max'))
      if limit is not None:
        usage = _usage(folder, 'memory.current', 'inactive_file')
        best = min(best, limit - usage) if best is not None else limit - usage
      if not relative:
        break
      relative = os.path.dirname(relative)
  for base in (os.path.join(root, 'memory'), root):  # v1 (controller mount, or only one)
    relative = paths.get('memory', '').strip('/')
    for folder in dict.fromkeys([os.path.join(base, relative), base]):
      limit = _read_int(os.path.join(folder, 'memory.limit_in_bytes'))
      if limit is not None:
        usage = _usage(folder, 'memory.usage_in_bytes', 'total_inactive_file')
        best = min(best, limit - usage) if best is not None else limit - usage
  return None if best is None else max(best, 0)


def available_memory_bytes(root: str = '/sys/fs/cgroup', proc_cgroup: str = '/proc/self/cgroup',
                           meminfo: str = '/proc/meminfo') -> int:
  """min(host MemAvailable, cgroup limit - usage) in bytes; 8 GiB if neither is known."""
  values = [v for v in (meminfo_available(meminfo), cgroup_available(root, proc_cgroup))
            if v is not None]
  return min(values) if values else FALLBACK_BYTES
