"""The training job end to end on tiny synthetic records (gin_configs/film_net-smoke.gin).

* a CLI training process is SIGKILLed mid-run, then resumed: same step, optimizer state and
  learning-rate schedule; it finishes, evaluates, writes summaries and exports a model that
  loads and runs;
* a NaN/Inf loss stops the run with a clear error and no checkpoint after it;
* MirroredStrategy over 2 logical CPUs makes the same first update as one device;
* warm starts, flow distillation and the automatic compute dtype.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import gin
import mediapy
import numpy as np
import pytest
import tensorflow as tf

from film.datasets import beam_pipeline, layouts, schema, triplets
from film.weights import model_io
from film.net.model import FilmNet, named_variables
from film.training import configs
from film.training import checkpoint_export
from film.training import losses
from film.training import run_records
from film.training import train as train_lib
from film.training import trainer as trainer_lib
from tests.tiny import TINY_TRAINABLE

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE_GIN = os.path.join(REPO_ROOT, 'gin_configs', 'film_net-smoke.gin')


@pytest.fixture(autouse=True)
def _clear_gin():
  yield
  gin.clear_config()  # Other test modules must not see these bindings.


@pytest.fixture(scope='module')
def records(tmp_path_factory) -> dict[str, str]:
  """The whole data path: a short synthetic mp4 -> the Beam clip job -> TFRecords.

  Training records are multi-time windows (t = 1/4, 1/2, 3/4) from the first part of the clip,
  validation records midpoint triplets from the rest (a split by time, as for real footage).
  """
  folder = tmp_path_factory.mktemp('clip_data')
  rng = np.random.default_rng(7)
  texture = rng.random((56, 200, 3))
  for _ in range(3):  # Smooth the noise a little so the motion is learnable.
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1)) / 3
  frames = [(np.roll(texture, 2 * i, axis=1)[:, :56] * 255).astype(np.uint8) for i in range(24)]
  video = str(folder / 'pan.mp4')
  mediapy.write_video(video, frames, fps=24, crf=12)
  train_dir, val_dir = str(folder / 'train'), str(folder / 'val')
  beam_pipeline.create_clip_records(
      [layouts.Clip('pan', 'video', video, start=0, end=14)], train_dir,
      options=triplets.WindowOptions(gap=4, stride=2, multi_time=True), num_shards=2)
  beam_pipeline.create_clip_records(
      [layouts.Clip('pan', 'video', video, start=16, end=24)], val_dir,
      options=triplets.WindowOptions(gap=2, stride=3), num_shards=1)
  return {'train': train_dir, 'val': val_dir}


def test_beam_records_feed_training(records):
  files = sorted(glob.glob(os.path.join(records['train'], '*.tfrecord')))
  examples = [schema.parse_example_numpy(r.numpy()) for r in tf.data.TFRecordDataset(files)]
  assert sorted({float(e['time']) for e in examples}) == [0.25, 0.5, 0.75]
  assert len(examples) == 3 * len(range(0, 14 - 4, 2))


def _data_params(records: dict[str, str]) -> list[str]:
  return [f"training_dataset.files = '{records['train']}'",
          f"eval_datasets.files = ['{records['val']}']"]


def _subprocess_env() -> dict[str, str]:
  env = dict(os.environ)
  env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  return env


def _latest_step(checkpoint_dir: str) -> int:
  latest = tf.train.latest_checkpoint(checkpoint_dir)
  return -1 if latest is None else int(latest.rsplit('-', 1)[1])


def _summary_values(folder: str):
  """Every summary value (tag, tensor) in the event files of `folder`."""
  for path in glob.glob(os.path.join(folder, 'events.out.tfevents.*')):
    for record in tf.data.TFRecordDataset(path):
      yield from tf.compat.v1.Event.FromString(record.numpy()).summary.value


def _event_tags(folder: str) -> set[str]:
  return {v.tag for v in _summary_values(folder)}


def test_sigkill_resume_and_export(records, tmp_path):
  base = str(tmp_path / 'runs')
  run_dir = os.path.join(base, 'killed')
  checkpoint_dir = os.path.join(run_dir, run_records.CHECKPOINT_SUBDIR)
  command = [sys.executable, '-m', 'film.training.train_cli', '--gin_config', SMOKE_GIN,
             '--base_folder', base, '--label', 'killed', '--train_data', records['train'],
             '--eval_data', records['val'],
             '--num_steps', '100000', '--gin_params', 'training.checkpoint_every = 1',
             '--gin_params', 'training.eval_every = 0',
             '--gin_params', 'training.image_summary_every = 0']
  process = subprocess.Popen(command, cwd=REPO_ROOT, env=_subprocess_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  try:
    deadline = time.time() + 240
    while _latest_step(checkpoint_dir) < 3:
      assert process.poll() is None, process.stderr.read().decode()[-3000:]
      assert time.time() < deadline, 'the training process wrote no checkpoint in time'
      time.sleep(0.2)
    process.send_signal(signal.SIGKILL)  # Mid-run: it checkpoints after every step.
    process.wait(timeout=30)
  finally:
    if process.poll() is None:
      process.kill()
    process.stderr.close()
  assert process.returncode == -signal.SIGKILL

  killed_at = _latest_step(checkpoint_dir)
  assert killed_at >= 3
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(checkpoint_dir))
  saved = {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(
      tf.train.latest_checkpoint(checkpoint_dir))}
  assert int(saved['step/.ATTRIBUTES/VARIABLE_VALUE']) == killed_at
  assert int(saved['optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE']) == killed_at

  # Restore on its own: step, optimizer iterations, Adam moments and learning rate continue.
  smoke = configs.load([SMOKE_GIN], _data_params(records))
  training = smoke.training
  schedule = trainer_lib.learning_rate_schedule(
      training.learning_rate, training.learning_rate_decay_steps,
      training.learning_rate_decay_rate, training.learning_rate_staircase)
  restored = trainer_lib.Trainer(
      tf.distribute.get_strategy(), smoke.model,
      losses.WeightedLoss(smoke.losses, smoke.perceptual), schedule, global_batch_size=2,
      checkpoint_dir=checkpoint_dir, seed=None)
  assert restored.restore_or_initialize() is not None
  assert restored.current_step == killed_at
  assert restored.iterations == killed_at
  assert restored.learning_rate == pytest.approx(1e-3 * 0.5 ** (killed_at // 2))
  # Keras numbers optimizer names per process (adam, adam_1, ...) when other tests made one.
  moments = [v for v in restored.optimizer.variables if re.match(r'adam(_\d+)?/', v.path)
             and 'iteration' not in v.path and 'learning_rate' not in v.path]
  assert moments and any(np.abs(v.numpy()).sum() > 0 for v in moments)
  slot_values = sorted(float(np.abs(v.numpy()).sum()) for v in moments)
  saved_slots = sorted(float(np.abs(value).sum()) for name, value in saved.items()
                       if name.startswith('optimizer/_variables/'))
  np.testing.assert_allclose(slot_values, saved_slots, rtol=1e-6)

  # Resume through the library: two more steps, evaluation, summaries, export.
  result = train_lib.run_from_gin(
      [SMOKE_GIN], _data_params(records) + [f'training.num_steps = {killed_at + 2}',
                                           'training.image_summary_every = 2'],
      base_folder=base, label='killed', mode='cpu')
  assert result.restored_from is not None and result.restored_from.endswith(f'ckpt-{killed_at}')
  assert result.start_step == killed_at
  assert result.final_step == result.iterations == killed_at + 2
  assert result.learning_rate == pytest.approx(1e-3 * 0.5 ** ((killed_at + 2) // 2))
  assert np.isfinite(result.last_loss)
  assert _latest_step(checkpoint_dir) == killed_at + 2

  # The run folder records what made it.
  info = json.load(open(os.path.join(run_dir, run_records.RUN_INFO)))
  assert [s['step'] for s in info['starts']] == [0, killed_at]
  assert info['configs']['model']['filters'] == 4 and 'tensorflow' in info['versions']
  manifest = json.load(open(os.path.join(run_dir, run_records.DATA_MANIFEST)))
  assert len(manifest['train']) == 2 and manifest['eval']['smoke_val'][0]['bytes'] > 0
  assert 'model.filters = 4' in open(os.path.join(run_dir, run_records.OPERATIVE_CONFIG)).read()
  history = [json.loads(line) for line in open(os.path.join(run_dir, 'eval_history.jsonl'))]
  assert history[-1]['step'] == killed_at + 2 and history[-1]['dataset'] == 'smoke_val'
  assert 5 < history[-1]['psnr'] < 60 and 0 < history[-1]['ssim'] <= 1
  assert 'step,dataset,psnr' in open(os.path.join(run_dir, 'eval_history.csv')).readline()
  train_tags = _event_tags(os.path.join(run_dir, 'summaries', 'train'))
  assert {'training/loss', 'training/learning_rate', 'training/steps_per_second',
          'training/prediction', 'training/forward_flow'} <= train_tags
  assert 'eval/smoke_val/psnr' in _event_tags(os.path.join(run_dir, 'summaries', 'eval'))

  # The export loads and runs, with the final checkpoint's weights.
  model = model_io.load_model(result.export_dir)
  manifest = model_io.read_manifest(result.export_dir)
  assert manifest['metadata']['step'] == killed_at + 2
  from_checkpoint = FilmNet(model.config)
  tf.train.Checkpoint(model=from_checkpoint).read(result.last_checkpoint).expect_partial()
  exported = named_variables(model)
  for name, v in named_variables(from_checkpoint).items():
    np.testing.assert_array_equal(exported[name].numpy(), v.numpy(), err_msg=name)
  x0 = tf.random.uniform([1, 36, 44, 3], seed=1)
  out = model(x0, x0, tf.fill([1, 1], 0.5))['image']
  assert out.shape == (1, 36, 44, 3) and np.all(np.isfinite(out.numpy()))

  # The SavedModel export (film/weights/export.py) serves the same model.
  assert result.saved_model_dir and os.path.isdir(result.saved_model_dir)
  served = tf.saved_model.load(result.saved_model_dir).signatures['serving_default'](
      x0=x0, x1=x0, time=tf.fill([1, 1], 0.5))['image']
  np.testing.assert_allclose(served.numpy(), np.clip(out.numpy(), 0, 1), atol=1e-5)

  # --export_only path: re-exports the latest checkpoint.
  model_dir, _ = checkpoint_export.export_checkpoint(
      run_dir, output_dir=str(tmp_path / 'reexport'), saved_model=False)
  again = model_io.load_model(model_dir)
  for name, v in named_variables(again).items():
    np.testing.assert_array_equal(exported[name].numpy(), v.numpy(), err_msg=name)


def test_non_finite_loss_stops_without_checkpoint(records, tmp_path):
  base = str(tmp_path / 'runs')
  params = _data_params(records) + ['training.learning_rate = 1e10',
                                    'training.learning_rate_decay_steps = 1000',
                                    'training.checkpoint_every = 1', 'training.num_steps = 6',
                                    'training.eval_every = 0', 'training.image_summary_every = 0']
  with pytest.raises(trainer_lib.NonFiniteLossError, match='Non-finite training loss at step') \
      as error:
    train_lib.run_from_gin([SMOKE_GIN], params, base_folder=base, label='nan', mode='cpu')
  failed_at = int(str(error.value).split('at step ')[1].split()[0])
  assert 'no checkpoint was written' in str(error.value)
  checkpoint_dir = os.path.join(base, 'nan', run_records.CHECKPOINT_SUBDIR)
  # Checkpoints exist only for the steps before the failing one, none after it.
  assert _latest_step(checkpoint_dir) == failed_at
  assert not os.path.exists(os.path.join(base, 'nan', 'export'))


def test_poisoned_batch_is_not_applied(tmp_path):
  config = TINY_TRAINABLE
  trainer = trainer_lib.Trainer(
      tf.distribute.get_strategy(), config, losses.WeightedLoss(losses.training_losses(['l1'])),
      trainer_lib.learning_rate_schedule(1e-3, 10, 0.5, True), global_batch_size=2,
      checkpoint_dir=str(tmp_path / 'ckpt'), seed=3)
  rng = np.random.default_rng(0)
  batch = {k: tf.constant(rng.uniform(size=(2, 16, 16, 3)), tf.float32) for k in ('x0', 'x1', 'y')}
  batch['time'] = tf.fill([2, 1], 0.5)
  assert np.isfinite(trainer.train_step(batch)['loss'])
  trainer.save()
  before = [v.numpy().copy() for v in trainer.model.trainable_variables]
  for key in ('y', 'x0'):  # NaN in the loss only / NaN flows inside the network.
    poisoned = dict(batch)
    poisoned[key] = tf.where(tf.range(16)[None, :, None, None] == 5, np.nan, batch[key])
    with pytest.raises(trainer_lib.NonFiniteLossError, match='at step 1'):
      trainer.train_step(poisoned)
    assert trainer.current_step == 1 and trainer.iterations == 1
    for old, v in zip(before, trainer.model.trainable_variables):
      np.testing.assert_array_equal(old, v.numpy())
  assert _latest_step(str(tmp_path / 'ckpt')) == 1


MIRRORED_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    from film.training import distribute
    devices = distribute.split_cpu(2)
    import tensorflow as tf
    from film.training import losses, trainer as trainer_lib
    from tests.tiny import TINY_TRAINABLE as config
    rng = np.random.default_rng(0)
    batch = {k: rng.uniform(size=(4, 16, 16, 3)).astype(np.float32) for k in ('x0', 'x1', 'y')}
    batch['time'] = np.full((4, 1), 0.5, np.float32)
    out = {'devices': devices}
    for name, strategy in (('one', tf.distribute.OneDeviceStrategy('/cpu:0')),
                           ('mirrored', distribute.get_strategy('mirrored', logical_cpus=2))):
      trainer = trainer_lib.Trainer(
          strategy, config, losses.WeightedLoss(losses.training_losses(['l1'])),
          trainer_lib.learning_rate_schedule(1e-3, 100, 0.5, True), global_batch_size=4,
          checkpoint_dir=sys.argv[1] + '/' + name, seed=7)
      initial = [v.numpy() for v in trainer.model.trainable_variables]
      data = strategy.experimental_distribute_dataset(
          tf.data.Dataset.from_tensors(batch).repeat())
      loss = trainer.train_step(next(iter(data)))['loss']
      out[name] = {'replicas': strategy.num_replicas_in_sync, 'loss': loss,
                   'updates': [(v.numpy() - i).ravel().tolist() for v, i in
                               zip(trainer.model.trainable_variables, initial)]}
    print('RESULT' + json.dumps(out))
''')


def test_mirrored_matches_one_device(tmp_path):
  completed = subprocess.run([sys.executable, '-c', MIRRORED_SCRIPT, str(tmp_path)],
                             cwd=REPO_ROOT, env=_subprocess_env(), capture_output=True,
                             text=True, timeout=400)
  assert completed.returncode == 0, completed.stderr[-3000:]
  line = next(l for l in completed.stdout.splitlines() if l.startswith('RESULT'))
  result = json.loads(line[len('RESULT'):])
  assert len(result['devices']) == 2
  one, mirrored = result['one'], result['mirrored']
  assert one['replicas'] == 1 and mirrored['replicas'] == 2
  assert mirrored['loss'] == pytest.approx(one['loss'], rel=1e-5)
  a = np.concatenate([np.asarray(u) for u in one['updates']])
  b = np.concatenate([np.asarray(u) for u in mirrored['updates']])
  # Adam's first step is lr * g / (|g| + eps): about +-1e-3 wherever the gradient is not tiny.
  assert np.mean(np.abs(a) > 5e-4) > 0.5
  np.testing.assert_allclose(b, a, atol=2e-5)


def test_auto_compute_dtype_picks_bfloat16_only_on_cpus_that_have_it(tmp_path):
  avx2_only = tmp_path / 'cpuinfo_avx2'
  avx2_only.write_text('processor\t: 0\nmodel name\t: AMD EPYC\n'
                       'flags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n')
  sapphire = tmp_path / 'cpuinfo_amx'
  sapphire.write_text('processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n')
  assert trainer_lib.cpu_flags(str(avx2_only)) == {'fpu', 'sse2', 'avx', 'avx2', 'fma'}
  assert trainer_lib.cpu_flags(str(tmp_path / 'missing')) == frozenset()
  resolve = trainer_lib.resolve_compute_dtype
  assert resolve('auto', trainer_lib.cpu_flags(str(avx2_only))) == 'float32'
  assert resolve('auto', trainer_lib.cpu_flags(str(sapphire))) == 'bfloat16'
  assert resolve('auto', frozenset({'avx512_bf16'})) == 'bfloat16'
  assert resolve('float16', frozenset()) == 'float16'  # Explicit choices are kept.
  assert trainer_lib.parse_compute_dtype('auto') in (None, tf.bfloat16)
  with pytest.raises(ValueError, match='auto'):
    trainer_lib.parse_compute_dtype('bf16')


def test_flow_distillation_runs_in_the_training_job(records, tmp_path):
  """'flow_teacher' in the loss list switches on the DIS teacher in the input pipeline and the
  model's aux outputs by itself; its loss is logged every step and finite."""
  base = str(tmp_path / 'runs')
  params = _data_params(records) + [
      "training_losses.loss_names = ['l1', 'flow_teacher']",
      'training_losses.loss_weights = [1.0, 0.1]', 'training.num_steps = 4',
      'training.checkpoint_every = 100', 'training.eval_every = 0',
      'training.image_summary_every = 0', 'training.log_every = 1']
  result = train_lib.run_from_gin([SMOKE_GIN], params, base_folder=base, label='teach', mode='cpu')
  assert result.final_step == 4 and np.isfinite(result.last_loss)
  values = {}
  for path in glob.glob(os.path.join(base, 'teach', 'summaries', 'train', 'events.out.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for v in event.summary.value:
        if v.tag.endswith('flow_teacher'):
          values[event.step] = float(tf.make_ndarray(v.tensor))
  assert len(values) == 4 and all(0 < v < 100 for v in values.values())


def test_warm_start_into_residual_fusion_starts_from_the_warped_blend(tmp_path):
  config = TINY_TRAINABLE
  source = FilmNet(config)
  path = model_io.save_model(source, str(tmp_path / 'src'))
  target = FilmNet(dataclasses.replace(config, residual_fusion=True))
  train_lib.warm_start(target, path, reset_output=True)
  for name, variable in named_variables(target).items():
    if 'fusion' not in name:
      np.testing.assert_array_equal(variable.numpy(), named_variables(source)[name].numpy())
  rng = np.random.default_rng(4)
  x0, x1 = (rng.random((1, 16, 24, 3)).astype(np.float32) for _ in range(2))
  out = target(x0, x1, np.array([[0.25]], np.float32), aux_outputs=True)
  blend = 0.75 * out['x0_warped'].numpy() + 0.25 * out['x1_warped'].numpy()
  np.testing.assert_allclose(out['image'].numpy(), blend, atol=1e-6)
  other = FilmNet(dataclasses.replace(config, filters=8))
  with pytest.raises(model_io.ModelLoadError, match='expected'):
    train_lib.warm_start(other, path)


def test_flow_prior_model_trains_previews_and_evaluates(records, tmp_path):
  """A 'dis' flow-prior model runs every path of the job that calls the model (train step,
  image previews, in-training evaluation), each fed DIS flows; its prior gates get gradients."""
  base = str(tmp_path / 'runs')
  params = _data_params(records) + [
      "model.flow_prior = 'dis'", 'training.num_steps = 3', 'training.checkpoint_every = 100',
      'training.eval_every = 3', 'training.image_summary_every = 3', 'training.log_every = 1']
  result = train_lib.run_from_gin([SMOKE_GIN], params, base_folder=base, label='prior', mode='cpu')
  assert result.final_step == 3 and np.isfinite(result.last_loss)
  tags = set()
  for path in glob.glob(os.path.join(base, 'prior', 'summaries', '*', 'events.out.*')):
    for record in tf.data.TFRecordDataset(path):
      tags.update(v.tag for v in tf.compat.v1.Event.FromString(record.numpy()).summary.value)
  assert 'training/prediction' in tags and 'training/forward_flow' in tags
  assert any(t.startswith('smoke_val') or 'smoke_val' in t for t in tags), sorted(tags)
  assert result.export_dir, 'the run exports its final weights'
  model = model_io.load_model(result.export_dir)
  gates = [v for n, v in named_variables(model).items() if 'prior_gate' in n]
  assert gates and any(np.any(g.numpy() != 0) for g in gates)


@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signal_writes_a_final_checkpoint(records, tmp_path, signum, code):
  """SIGTERM / SIGHUP mid-run: a checkpoint of the step reached, exit 128 + signal, one line
  naming the checkpoint, and no temporary in the run folder (checkpoints only every 1000)."""
  base = str(tmp_path / 'runs')
  checkpoint_dir = os.path.join(base, 'stopped', run_records.CHECKPOINT_SUBDIR)
  command = [sys.executable, '-m', 'film.training.train_cli', '--gin_config', SMOKE_GIN,
             '--base_folder', base, '--label', 'stopped', '--train_data', records['train'],
             '--eval_data', records['val'], '--num_steps', '100000',
             '--gin_params', 'training.checkpoint_every = 1000',
             '--gin_params', 'training.eval_every = 0',
             '--gin_params', 'training.image_summary_every = 0']
  process = subprocess.Popen(command, cwd=REPO_ROOT, env=_subprocess_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  lines: list[str] = []
  reader = threading.Thread(target=lambda: lines.extend(
      line.decode(errors='replace') for line in process.stderr), daemon=True)
  reader.start()
  deadline = time.time() + 240
  while not any('step 2/' in line for line in lines):
    assert process.poll() is None, ''.join(lines)[-3000:]
    assert time.time() < deadline, 'the training process made no steps in time'
    time.sleep(0.1)
  process.send_signal(signum)
  process.wait(timeout=120)
  reader.join(timeout=30)
  err = ''.join(lines)
  assert process.returncode == code, err[-3000:]
  last = err.strip().splitlines()[-1]
  assert 'interrupted by' in last and 'is kept' in last and 'resumes' in last, last
  step = _latest_step(checkpoint_dir)
  assert step >= 1 and f'step {step}' in last
  hidden = [n for _, dirs, files in os.walk(os.path.join(base, 'stopped'))
            for n in dirs + files if '.tmp-' in n or n.endswith('.tempstate')]
  assert not hidden, hidden


@pytest.mark.parametrize('loadavg, logged', [((3.14159, 2.0, 1.0), 'load 3.14'), (None, 'load n/a')])
def test_log_line_and_summaries_carry_the_load_average(tmp_path, monkeypatch, loadavg, logged):
  """Run records say how much the run shared the CPU: the 1-minute load average goes into the log
  line and the summaries (none where the OS has no load average)."""
  def getloadavg():
    if loadavg is None:
      raise OSError('no load average')
    return loadavg
  monkeypatch.setattr(train_lib.os, 'getloadavg', getloadavg)
  lines = []
  monkeypatch.setattr(train_lib.logging, 'info', lambda fmt, *args: lines.append(fmt % args))
  training = dataclasses.replace(configs.TrainingConfig(), log_every=5, summary_every=5)
  throughput = train_lib._Throughput()  # pylint: disable=protected-access
  throughput.add_step(0.0)
  writer = tf.summary.create_file_writer(str(tmp_path))
  trainer = type('FakeTrainer', (), {'learning_rate': 1e-4})()
  train_lib._report(10, {'loss': 0.5, 'loss/l1': 0.5}, trainer, training,  # pylint: disable=protected-access
                    throughput, writer)
  writer.flush()
  assert len(lines) == 1 and lines[0].startswith('step 10/') and lines[0].endswith(logged)
  values = {v.tag: float(tf.make_ndarray(v.tensor)) for v in _summary_values(str(tmp_path))}
  if loadavg is None:
    assert 'training/load_average_1min' not in values and 'training/loss' in values
  else:
    assert values['training/load_average_1min'] == pytest.approx(3.14159, rel=1e-6)
