"""Learning curves (film/eval/learning_curve.py): which checkpoints are evaluated, and the best."""
import csv

from film.weights import model_io
from film.eval import learning_curve
from tests.training.test_checkpoint_tools import run_with_checkpoints


def test_curve_rows_and_best(tmp_path, monkeypatch):
  run = str(tmp_path / 'run')
  run_with_checkpoints(run, [250, 300, 500])
  seen = []

  def fake_evaluate(model_dir, benchmarks):
    value = float(model_io.load_model(model_dir).trainable_variables[0].numpy().flat[0])
    seen.append(value)
    return {f'{name}_psnr': value / 10 for name in benchmarks}

  monkeypatch.setattr(learning_curve, 'evaluate_model', fake_evaluate)
  output = str(tmp_path / 'curve.csv')
  learning_curve.curve(run, output, {'validation': 'unused', 'test': 'unused'}, every=250)
  assert seen == [250.0, 500.0]  # 300 is not a multiple of 250.
  learning_curve.curve(run, output, {'validation': 'unused'}, every=250)  # nothing new
  with open(output) as f:
    rows = list(csv.DictReader(f))
  assert [r['label'] for r in rows] == ['ckpt-250', 'ckpt-500']
  assert float(rows[1]['validation_psnr']) == 50.0
  assert learning_curve.best(output, 'validation')[0]['label'] == 'ckpt-500'
