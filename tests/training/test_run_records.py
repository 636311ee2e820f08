"""Run records name no absolute path of the machine that wrote them."""
import json
import os

from film.training import run_records


def test_portable_rewrites_absolute_paths_relative_to_the_base():
  base = '/machine/work/main'
  record = {'files': ['/machine/data/a.tfrecord', 'records/b.tfrecord'],
            'argv': ['film-train', '--train_data=/machine/data/x,/machine/work/main/y',
                     '--label', 'run/1'],
            'url': 'https://pypi.org/simple/pkg/', 'step': 3, 'nested': ('/machine/work/main',)}
  assert run_records.portable(record, base) == {
      'files': ['../../data/a.tfrecord', 'records/b.tfrecord'],
      'argv': ['film-train', '--train_data=../../data/x,y', '--label', 'run/1'],
      'url': 'https://pypi.org/simple/pkg/', 'step': 3, 'nested': ['.']}


def test_written_records_hold_no_absolute_paths(tmp_path, monkeypatch):
  data = tmp_path / 'data'
  data.mkdir()
  (data / 'train.tfrecord').write_bytes(b'12345')
  work = tmp_path / 'work'
  work.mkdir()
  monkeypatch.chdir(work)
  run_dir = str(work / 'runs' / 'label')
  start = {'time': '2026-12-02T13:00:00', 'step': 0,
           'command_line': ['film-train', f'--base_folder={work / "runs"}']}
  run_records.write_run_records(run_dir, start, {'files': [str(data / 'train.tfrecord')]},
                                [str(data / 'train.tfrecord')], {'val': []}, 'a = 1\n')
  for name in (run_records.RUN_INFO, run_records.DATA_MANIFEST):
    text = open(os.path.join(run_dir, name)).read()
    assert str(tmp_path) not in text, text
  manifest = json.load(open(os.path.join(run_dir, run_records.DATA_MANIFEST)))
  assert manifest['train'] == [{'path': '../data/train.tfrecord', 'bytes': 5}]
  info = json.load(open(os.path.join(run_dir, run_records.RUN_INFO)))
  assert info['starts'][0]['command_line'][1] == '--base_folder=runs'
