"""The configs of a training run, and the one place gin binds them (`film-train`).

Every config is a frozen dataclass whose defaults live in the dataclass only:

    gin name            dataclass                                 defined in
    model.*             film.net.config.FilmConfig (+ `name`)          film/net/config.py
    training.*          TrainingConfig                            here
    training_dataset.*  DatasetConfig                             here
    eval_datasets.*     EvalConfig                                here
    Augmentation.*      film.training.input_pipeline.Augmentation training/input_pipeline.py
    PerceptualConfig.*  film.training.perceptual_losses.PerceptualConfig  training/perceptual_losses.py
    training_losses.*   film.training.losses.training_losses      (FILM's loss-list keys)

Library code takes these objects as plain arguments and never reads gin. `from_gin` builds them
all once, from the bindings parsed by `parse_gin`, into one `RunConfig`. Each gin name takes
exactly the fields of its dataclass, so a misspelt parameter (`training.num_step`) or
configurable (`trainig.num_steps`) is an error when the bindings are parsed, and the operative
config (`gin.operative_config_str()`) records every field, bound or default.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import tokenize
from typing import Any, Callable, Optional, Sequence, Union

import gin

from film.cli import UserError
from film.net.config import FilmConfig
from film.training.input_pipeline import Augmentation
from film.training.losses import LossTerm, training_losses
from film.training.perceptual_losses import PerceptualConfig
from film.training.trainer import parse_compute_dtype


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """Optimisation, checkpointing and logging of a run (gin: `training.*`).

  Attributes:
    learning_rate, learning_rate_decay_steps, learning_rate_decay_rate,
      learning_rate_staircase: Adam's `ExponentialDecay` schedule (FILM: 1e-4, 750000,
      0.464158 = 10**(-1/3), staircase).
    num_steps: train until the step counter reaches this.
    compute_dtype: 'float32', 'bfloat16' (CPU with AVX512-BF16 or AMX, TPU), 'float16' (GPU;
      adds dynamic loss scaling) or 'auto' (bfloat16 where the CPU computes it natively, else
      float32: emulated bfloat16 is many times slower).
    seed: weight initialisation and data order/augmentation (resumed runs use seed + step
      so they do not replay the first batches); None: random.
    checkpoint_every: steps between checkpoints (one is also written on exit).
    checkpoint_max_to_keep: checkpoints kept.
    log_every: steps between log lines (loss, learning rate, steps/s).
    summary_every: steps between scalar summaries.
    image_summary_every: steps between image summaries (0: never).
    eval_every: steps between evaluations (0: only at the end; needs eval files).
    max_images: examples shown per image summary.
    init_model: weights a new run starts from (a film model directory or a FILM SavedModel /
      checkpoint, as `film.weights.model_io.load_model` reads them); ignored when the run already has
      a checkpoint (resuming wins). The optimizer starts fresh.
    init_reset_output: after `init_model`, zero the fusion decoder's output convolution. With
      `model.residual_fusion = True` the run then starts exactly from the blend of the warped
      frames (how a FILM-style model is switched to residual fusion).
  """
  learning_rate: float = 1e-4
  learning_rate_decay_steps: int = 750000
  learning_rate_decay_rate: float = 0.464158
  learning_rate_staircase: bool = True
  num_steps: int = 3000000
  compute_dtype: str = 'float32'
  seed: Optional[int] = 0
  checkpoint_every: int = 5000
  checkpoint_max_to_keep: int = 5
  log_every: int = 10
  summary_every: int = 100
  image_summary_every: int = 5000
  eval_every: int = 50000
  max_images: int = 2
  init_model: str = ''
  init_reset_output: bool = False

  def __post_init__(self):
    parse_compute_dtype(self.compute_dtype)
    if self.init_reset_output and not self.init_model:
      raise ValueError('training.init_reset_output needs training.init_model')
    for field in ('num_steps', 'checkpoint_every', 'log_every', 'summary_every',
                  'learning_rate_decay_steps', 'checkpoint_max_to_keep', 'max_images'):
      if int(getattr(self, field)) < 1:
        raise ValueError(f'training.{field} must be >= 1, got {getattr(self, field)}')
    if self.image_summary_every < 0 or self.eval_every < 0:
      raise ValueError('training.image_summary_every and eval_every must be >= 0')
    if not self.learning_rate > 0:
      raise ValueError(f'training.learning_rate must be > 0, got {self.learning_rate}')


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
  """Training data (gin: `training_dataset.*`).

  Attributes:
    files: a records folder, glob pattern or list of shards (see `input_pipeline`).
    batch_size: the global batch (split over replicas; must be divisible by their number).
    crop_size: square crop side in pixels (must be a multiple of the model's alignment).
    augment: apply the run's `Augmentation` (else none).
    shuffle_buffer: records in the shuffle buffer.
  """
  files: Union[str, tuple[str, ...]] = ''
  batch_size: int = 8
  crop_size: int = 256
  augment: bool = True
  shuffle_buffer: int = 1024

  def __post_init__(self):
    if not isinstance(self.files, str):
      object.__setattr__(self, 'files', tuple(self.files))
    if not self.files:
      raise ValueError('training_dataset.files is empty: pass --train_data or '
                       "--gin_params=\"training_dataset.files='/path/to/records'\"")
    if self.batch_size < 1 or self.crop_size < 1:
      raise ValueError('training_dataset.batch_size and crop_size must be >= 1')


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """Validation data evaluated during training (gin: `eval_datasets.*`).

  Attributes:
    files: one records folder / pattern / shard per dataset (empty: no evaluation).
    names: a name per dataset (default: the files' base names; ignored without files).
    batch_size: keep 1 for full frames of different sizes.
    max_examples: examples per dataset and evaluation (-1: all).
    crop_size: center crop side (0: full frames).
  """
  files: tuple[str, ...] = ()
  names: tuple[str, ...] = ()
  batch_size: int = 1
  max_examples: int = -1
  crop_size: int = 0

  def __post_init__(self):
    files = (self.files,) if isinstance(self.files, str) else tuple(self.files)
    names = () if not files else tuple(self.names) or tuple(
        os.path.basename(os.path.normpath(f)).split('*')[0].split('.tfrecord')[0] or f'eval{i}'
        for i, f in enumerate(files))
    if len(names) != len(files):
      raise ValueError(f'eval_datasets: {len(files)} files but {len(names)} names')
    object.__setattr__(self, 'files', files)
    object.__setattr__(self, 'names', names)


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Everything a training run is made of (what `train.train` takes)."""
  model: FilmConfig
  training: TrainingConfig
  data: DatasetConfig
  evaluation: EvalConfig
  losses: tuple[LossTerm, ...]
  perceptual: PerceptualConfig
  augmentation: Augmentation

  def records(self) -> dict[str, Any]:
    """The configs as run_info.json records them (names as in gin)."""
    return {'model': self.model.to_dict(), 'training': self.training,
            'training_dataset': self.data, 'eval_datasets': self.evaluation,
            'losses': list(self.losses), 'perceptual': self.perceptual,
            'augmentation': self.augmentation}


# ------------------------------------------------------------------------------ gin binding

def _binder(name: str, cls: type, extra: Sequence[inspect.Parameter] = (),
            check: Optional[Callable[[dict[str, Any]], None]] = None) -> Callable[[], Any]:
  """Registers gin configurable `name` whose parameters are exactly `cls`'s fields (+ `extra`).

  The defaults are read off the dataclass, so they live there only; calling the returned
  function builds `cls` from the bound values.
  """
  fields = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
            for f in dataclasses.fields(cls)]

  def build(**kwargs: Any) -> Any:
    if check is not None:
      check(kwargs)
    return cls(**{k: v for k, v in kwargs.items() if k not in {p.name for p in extra}})

  build.__name__ = name
  build.__signature__ = inspect.Signature(list(extra) + fields)
  return gin.external_configurable(build, name=name)


def _check_model_name(kwargs: dict[str, Any]) -> None:
  if kwargs.get('name', 'film_net') != 'film_net':
    raise ValueError(f"Unknown model name {kwargs['name']!r}; only 'film_net' is supported")


_MODEL_NAME = inspect.Parameter('name', inspect.Parameter.KEYWORD_ONLY, default='film_net')
_model = _binder('model', FilmConfig, extra=[_MODEL_NAME], check=_check_model_name)
_training = _binder('training', TrainingConfig)
_training_dataset = _binder('training_dataset', DatasetConfig)
_eval_datasets = _binder('eval_datasets', EvalConfig)
_augmentation = _binder('Augmentation', Augmentation)
_perceptual = _binder('PerceptualConfig', PerceptualConfig)
_training_losses = gin.external_configurable(training_losses, name='training_losses')


class GinConfigError(UserError):
  """A gin file or binding that does not parse, names what does not exist, or sets a value its
  config refuses (one line and exit status 2 in `film-train`, `film.cli`)."""


_SOURCES: list[str] = []  # The files and overrides parse_gin last read, for error messages.


def _gin_error(error: Exception) -> GinConfigError:
  return GinConfigError(f'gin config {" + ".join(_SOURCES) or "(none)"}: {error}; fix the '
                        'binding (configurables and parameters: training/configs.py)')


def parse_gin(gin_configs: Sequence[str], gin_params: Sequence[str] = ()) -> None:
  """Clears gin and parses the config files and `name.param = value` overrides.

  Raises:
    GinConfigError: an unknown configurable or parameter (a typo), with the offending line, or
      a file that does not parse.
  """
  gin.clear_config()
  _SOURCES[:] = list(gin_configs) + (['--gin_params'] if gin_params else [])
  try:
    gin.parse_config_files_and_bindings(list(gin_configs), list(gin_params),
                                        finalize_config=False)
  except (ValueError, SyntaxError, tokenize.TokenError) as error:
    raise _gin_error(error) from error


def model_from_gin() -> FilmConfig:
  """The network config from the parsed `model.*` bindings."""
  try:
    return _model()
  except ValueError as error:  # a value the config's checks refuse
    raise _gin_error(error) from error


def from_gin() -> RunConfig:
  """Every config of a run from the parsed bindings (each dataclass validates itself)."""
  try:
    return RunConfig(model=_model(), training=_training(), data=_training_dataset(),
                     evaluation=_eval_datasets(), losses=_training_losses(),
                     perceptual=_perceptual(), augmentation=_augmentation())
  except ValueError as error:  # a value the config's checks refuse
    raise _gin_error(error) from error


def operative_config() -> str:
  """The resolved gin config of the configs built so far (what `run_records` keeps)."""
  return gin.operative_config_str()


def load(gin_configs: Sequence[str], gin_params: Sequence[str] = ()) -> RunConfig:
  """`parse_gin` then `from_gin`."""
  parse_gin(gin_configs, gin_params)
  return from_gin()
