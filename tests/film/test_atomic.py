"""Tests for film/media/atomic.py: outputs appear whole or not at all; output paths checked first."""
import os

import pytest

from film.media import atomic


def test_output_file_and_dir_publish_only_on_success(tmp_path):
  target = tmp_path / 'a.txt'
  with pytest.raises(RuntimeError):
    with atomic.output_file(str(target)) as tmp:
      open(tmp, 'w').write('half')
      raise RuntimeError('interrupted')
  assert os.listdir(tmp_path) == []
  atomic.write_text(str(target), 'whole')
  assert target.read_text() == 'whole' and os.listdir(tmp_path) == ['a.txt']
  assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # published with the umask's mode
  folder = tmp_path / 'out'
  with atomic.output_dir(str(folder)) as tmp:
    open(os.path.join(tmp, 'x'), 'w').write('1')
    assert not folder.exists()
  assert os.listdir(folder) == ['x']
  with pytest.raises(FileExistsError):  # also an atomic.OutputError (a user error)
    with atomic.output_dir(str(folder)):
      pass
  with pytest.raises(ValueError):
    with atomic.output_dir(str(folder), overwrite=True) as tmp:
      raise ValueError('boom')
  assert os.listdir(folder) == ['x'] and sorted(os.listdir(tmp_path)) == ['a.txt', 'out']


def test_check_output(tmp_path):
  (tmp_path / 'in').mkdir()
  (tmp_path / 'in' / 'a.png').write_bytes(b'x')
  inputs = [str(tmp_path / 'in' / 'a.png')]
  atomic.check_output(str(tmp_path / 'new' / 'deeper' / 'o'), inputs=inputs, directory=True)
  atomic.check_output(str(tmp_path / 'in' / 'sub'), inputs=inputs, directory=True)  # beside
  for path, directory, message in (
      (tmp_path / 'in', True, 'holds the input'),
      (tmp_path / 'in' / '..' / 'in' / 'a.png', False, 'is the input'),
      (tmp_path / 'in' / 'a.png' / 'o', True, 'is a file, not a folder'),
      (tmp_path / 'in' / 'a.png', True, 'is a file; pass a folder')):
    with pytest.raises(atomic.OutputError, match=message):
      atomic.check_output(str(path), inputs=inputs if 'input' in message else (),
                          directory=directory)
  (tmp_path / 'old.mp4').write_bytes(b'keep')
  with pytest.raises(atomic.OutputExistsError, match='--overwrite'):
    atomic.check_output(str(tmp_path / 'old.mp4'))
  atomic.check_output(str(tmp_path / 'old.mp4'), overwrite=True)
  assert not [n for n in os.listdir(tmp_path) if n.startswith('.')]  # the probe file is gone


def test_publish_without_overwrite_never_replaces(tmp_path):
  final = tmp_path / 'out.txt'
  first = atomic.temp_sibling(str(final))
  open(first, 'w').write('first')
  second = atomic.temp_sibling(str(final))
  open(second, 'w').write('second')
  atomic.publish(first, str(final))
  with pytest.raises(atomic.OutputAppearedError, match='appeared while this run'):
    atomic.publish(second, str(final))
  assert final.read_text() == 'first' and os.path.exists(second)  # the loser keeps its temp
  atomic.publish(second, str(final), overwrite=True)  # the last finished run wins
  assert final.read_text() == 'second' and not os.path.exists(second)
  assert oct(os.stat(final).st_mode & 0o777) != oct(0o600)  # umask permissions, not mkstemp's


def test_publish_folders(tmp_path):
  final = tmp_path / 'frames'

  def folder(text):
    tmp = atomic.temp_sibling(str(final), directory=True)
    open(os.path.join(tmp, 'a.txt'), 'w').write(text)
    return tmp

  os.makedirs(final)  # an existing empty folder may be the output
  atomic.publish(folder('one'), str(final))
  loser = folder('two')
  with pytest.raises(atomic.OutputAppearedError):
    atomic.publish(loser, str(final))
  assert (final / 'a.txt').read_text() == 'one'
  atomic.publish(loser, str(final), overwrite=True)  # exchanged: the old folder is removed
  assert (final / 'a.txt').read_text() == 'two'
  assert sorted(os.listdir(tmp_path)) == ['frames']


def test_stale_temporaries_are_those_of_dead_processes_of_this_host(tmp_path):
  import subprocess
  import sys
  dead = subprocess.Popen([sys.executable, '-c', 'pass'])
  dead.wait()
  zombie = subprocess.Popen([sys.executable, '-c', 'pass'])  # exited, not reaped yet
  alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
  try:
    import time
    deadline = time.time() + 20
    while atomic.process_alive(zombie.pid) and time.time() < deadline:
      time.sleep(0.05)
    assert not atomic.process_alive(zombie.pid) and atomic.process_alive(alive.pid)
    host = atomic._HOST  # pylint: disable=protected-access
    names = {pid: f'.out.mp4{atomic.TEMP_MARK}{host}-{pid}-x.mp4'
             for pid in (dead.pid, zombie.pid, alive.pid, os.getpid())}
    for name in names.values():
      (tmp_path / name).write_text('')
    (tmp_path / f'.out.mp4{atomic.TEMP_MARK}00000000-{dead.pid}-x.mp4').write_text('')
    (tmp_path / '.out.mp4.tmp-abc').write_text('')
    expected = sorted(str(tmp_path / names[p]) for p in (dead.pid, zombie.pid))
    assert atomic.stale_temporaries(str(tmp_path / 'out.mp4')) == expected
    assert atomic.remove_stale_temporaries(str(tmp_path / 'out.mp4')) == expected
    assert len(os.listdir(tmp_path)) == 4
  finally:
    alive.kill()
    alive.wait()
    zombie.wait()
