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
