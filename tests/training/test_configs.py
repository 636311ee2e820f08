"""training/configs.py: every gin recipe parses into valid configs; gin binds the dataclasses
(FILM's keys included) and a misspelt binding is an error."""
from __future__ import annotations

import dataclasses
import glob
import os

import gin
import pytest

from film.net import config as film_config
from film.training import configs
from film.training import input_pipeline
from film.training import losses
from film.training import perceptual_losses

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _clear_gin():
  yield
  gin.clear_config()  # Other test modules must not see these bindings.


@pytest.mark.parametrize('name', ['film_net-L1.gin', 'film_net-VGG.gin', 'film_net-Style.gin',
                                  'film_net-small-cpu.gin', 'film_net-small-cpu-residual.gin',
                                  'film_net-small-cpu-residual-l6.gin',
                                  'film_net-small-cpu-residual-l6-v2.gin', 'film_net-smoke.gin'])
def test_gin_recipes_parse(name):
  warm = ["training.init_model = '/models/stage1'"] if 'residual' in name else []
  run = configs.load([os.path.join(REPO_ROOT, 'gin_configs', name)],
                     ["training_dataset.files = '/data/train'"] + warm)
  model, training, data, terms = run.model, run.training, run.data, run.losses
  assert data.crop_size % model.alignment == 0
  if name in ('film_net-L1.gin', 'film_net-VGG.gin', 'film_net-Style.gin'):
    assert model == film_config.PUBLISHED
    assert (training.learning_rate, training.learning_rate_decay_steps,
            training.learning_rate_staircase, training.num_steps) == (1e-4, 750000, True, 3000000)
    assert (data.batch_size, data.crop_size) == (8, 256)
    recipe = name.split('-')[1][:-4]
    assert terms == losses.RECIPES[recipe]
  if name == 'film_net-small-cpu.gin':
    assert model == film_config.SMALL
  if name == 'film_net-small-cpu-residual.gin':
    assert model == dataclasses.replace(film_config.SMALL, residual_fusion=True)
    assert [t.name for t in terms] == ['l1', 'l1_warped', 'flow_teacher']
    assert training.init_reset_output and training.init_model == '/models/stage1'
    configs.parse_gin([os.path.join(REPO_ROOT, 'gin_configs', name)])
    with pytest.raises(ValueError, match='init_model'):
      configs.from_gin()  # The warm start needs a stage-one model.
  if name == 'film_net-small-cpu-residual-l6.gin':
    # Same variables as the 5-level residual model it warm-starts from, one pyramid level more.
    assert model == dataclasses.replace(film_config.SMALL, residual_fusion=True, pyramid_levels=6,
                                        time_flows='both')
    assert not training.init_reset_output and training.init_model == '/models/stage1'
  if 'small-cpu' in name:
    assert training.compute_dtype == 'auto'


def test_gin_binds_film_style_keys():
  try:
    gin.parse_config("""
        training_dataset.files = '/data/train'
        training_losses.loss_names = ['l1', 'vgg', 'style']
        training_losses.loss_weight_parameters = [
            {'boundaries': [0], 'values': [1.0, 1.0]},
            {'boundaries': [1500000], 'values': [1.0, 0.25]},
            {'boundaries': [1500000], 'values': [0.0, 40.0]}]
        PerceptualConfig.backbone = 'vgg16'
        PerceptualConfig.weights_path = '/nonexistent'
    """)
    run = configs.from_gin()
    assert run.losses == losses.RECIPES['Style']
    config = run.perceptual
    assert (config.backbone, config.weights_path) == ('vgg16', '/nonexistent')
    assert config.vgg_layer_weights == pytest.approx(perceptual_losses.FILM_LAYER_WEIGHTS)
  finally:
    gin.clear_config()


def test_gin_binds_the_augmentation():
  run = configs.load([], ["training_dataset.files = '/data/train'", 'Augmentation.rot90 = False'])
  assert run.augmentation.rot90 is False
  assert run.augmentation == dataclasses.replace(input_pipeline.Augmentation(), rot90=False)


@pytest.mark.parametrize('binding, message', [
    ('training.num_step = 5', "doesn't have a parameter named 'num_step'"),
    ('trainig.num_steps = 5', 'trainig'),
    ('model.pyramid_level = 5', "doesn't have a parameter named 'pyramid_level'"),
    ('Augmentation.rot_90 = False', "doesn't have a parameter named 'rot_90'"),
    ('create_dataset.crop_size = (4, 6)', 'create_dataset'),  # Not configurable: one crop size.
])
def test_a_misspelt_binding_is_an_error(binding, message):
  from film.cli import UserError, user_error_message
  with pytest.raises(ValueError, match=message) as error:
    configs.load([], ["training_dataset.files = '/data/train'", binding])
  # A user's error: film-train reports it in one line with exit status 2 (film.cli).
  assert isinstance(error.value, UserError)
  assert '\n' not in user_error_message(error.value)


def test_a_bad_gin_value_or_file_is_a_user_error(tmp_path):
  from film.cli import UserError
  with pytest.raises(UserError, match="only 'film_net'"):
    configs.load([], ["training_dataset.files = '/data/train'", "model.name = 'rife'"])
  broken = tmp_path / 'broken.gin'
  broken.write_text('training.num_steps = (\n')
  with pytest.raises(UserError, match='broken.gin'):
    configs.load([str(broken)])


def test_defaults_live_in_the_dataclasses():
  run = configs.load([], ["training_dataset.files = '/data/train'"])
  assert run.model == film_config.PUBLISHED
  assert run.training == configs.TrainingConfig()
  assert run.data == configs.DatasetConfig(files='/data/train')
  assert run.perceptual == perceptual_losses.PerceptualConfig()
  assert 'training.num_steps = 3000000' in gin.operative_config_str()
  with pytest.raises(ValueError, match="only 'film_net'"):
    configs.load([], ["training_dataset.files = '/data/train'", "model.name = 'rife'"])


def test_recorded_operative_configs_still_parse():
  """The operative configs in training_runs/ (written before the binding moved here) load."""
  recorded = sorted(glob.glob(os.path.join(REPO_ROOT, 'training_runs', '*',
                                           'operative_config*.gin')))
  assert recorded
  for path in recorded:
    run = configs.load([path], ["training_dataset.files = '/data/train'",
                                "training.init_model = '/models/stage1'"])
    assert run.data.crop_size % run.model.alignment == 0, path
