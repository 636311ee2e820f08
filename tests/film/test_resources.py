"""Tests for film/inference/resources.py: the default memory cap respects cgroup v1 and v2 limits."""
from film.inference import resources

GIB = 2**30


def _write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)


def _meminfo(tmp_path, gib):
  _write(tmp_path / 'meminfo',
         f'MemTotal: {64 * GIB // 1024} kB\nMemAvailable: {gib * GIB // 1024} kB\n')
  return str(tmp_path / 'meminfo')


def test_cgroup_v2_limit_wins_over_host_memory(tmp_path):
  root = tmp_path / 'cg'
  _write(tmp_path / 'self_cgroup', '0::/kubepods/pod1/ctr\n')
  _write(root / 'kubepods/pod1/ctr/memory.max', f'{4 * GIB}\n')
  _write(root / 'kubepods/pod1/ctr/memory.current', f'{1 * GIB}\n')
  _write(root / 'kubepods/pod1/ctr/memory.stat', f'anon 1\ninactive_file {GIB // 2}\n')
  _write(root / 'kubepods/memory.max', 'max\n')
  got = resources.available_memory_bytes(str(root), str(tmp_path / 'self_cgroup'),
                                         _meminfo(tmp_path, 30))
  assert got == 4 * GIB - (GIB - GIB // 2)


def test_cgroup_v2_parent_limit_is_tighter(tmp_path):
  root = tmp_path / 'cg'
  _write(tmp_path / 'self_cgroup', '0::/a/b\n')
  _write(root / 'a/b/memory.max', 'max\n')
  _write(root / 'a/memory.max', f'{2 * GIB}\n')
  _write(root / 'a/memory.current', '0\n')
  got = resources.available_memory_bytes(str(root), str(tmp_path / 'self_cgroup'),
                                         _meminfo(tmp_path, 30))
  assert got == 2 * GIB


def test_cgroup_v1_limit_and_unlimited(tmp_path):
  root = tmp_path / 'cg'
  _write(tmp_path / 'self_cgroup', '4:memory:/docker/abc\n0::/\n')
  _write(root / 'memory/docker/abc/memory.limit_in_bytes', f'{3 * GIB}\n')
  _write(root / 'memory/docker/abc/memory.usage_in_bytes', f'{GIB}\n')
  meminfo = _meminfo(tmp_path, 30)
  assert resources.available_memory_bytes(str(root), str(tmp_path / 'self_cgroup'),
                                          meminfo) == 2 * GIB
  # "No limit" in v1 is 2**63 rounded down to pages: the host figure is used.
  _write(root / 'memory/docker/abc/memory.limit_in_bytes', '9223372036854771712\n')
  assert resources.available_memory_bytes(str(root), str(tmp_path / 'self_cgroup'),
                                          meminfo) == 30 * GIB


def test_no_cgroup_uses_meminfo_and_fallback(tmp_path):
  meminfo = _meminfo(tmp_path, 5)
  missing = str(tmp_path / 'nothing')
  assert resources.available_memory_bytes(missing, missing, meminfo) == 5 * GIB
  assert resources.available_memory_bytes(missing, missing, missing) == resources.FALLBACK_BYTES


def test_interpolator_default_cap_uses_the_cgroup_aware_figure():
  from film.inference import engine
  assert engine.available_memory_bytes is resources.available_memory_bytes
