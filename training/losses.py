"""Training losses as the reference FILM defines them, swappable by name.

Every loss has one signature::

    loss(example, prediction) -> scalar float32 tf.Tensor

with `example['y']` the ground-truth frame and `prediction['image']` the interpolated frame,
both `[B,H,W,3]` float32 in [0,1] (`l1_warped` reads `prediction['x0_warped' / 'x1_warped']`).
`get_loss(name)` returns one of:

* `l1`: mean |image - y|;  `l2`: mean (image - y)^2;
* `l1_warped`: l1 of each warped input frame present in the prediction, summed;
* `vgg`: FILM's perceptual loss  sum_l w_l * mean|s*phi_l(y) - s*phi_l(image)|;
* `style`: FILM's Gram-matrix loss  sum_l w_l * mean((G(s*phi_l(y)) - G(s*phi_l(image)))^2),
  with `G(F) = F^T F / (h*w)` for `F` reshaped to `[B, h*w, C]` (`[B,C,C]`);
* `flow_teacher`: flow distillation (not in FILM): the mean end-point error, in full-resolution
  pixels and over every level of both predicted flow pyramids, to the DIS flows of
  `example['teacher_flow']` (`training/teacher_flow.py`), counting only pixels that pass the
  teacher's forward-backward check;
* `psnr`, `ssim`: FILM's test "losses" (metrics, higher is better): `film.media.image_metrics` (the
  prediction clipped to [0,1], as in every evaluation), averaged over the batch.

The perceptual backbones and the `vgg` / `style` math live in `film.training.perceptual_losses`.

Loss weights follow FILM's recipes: piecewise-constant schedules over the training step
(`PiecewiseConstant`, same semantics as `tf.keras.optimizers.schedules.PiecewiseConstantDecay`:
`values[i]` while `step <= boundaries[i]`). `RECIPES` holds FILM's three (film_net-L1/VGG/Style
gin files); `training_losses` takes the same keys (`loss_names`, `loss_weights`,
`loss_weight_parameters`) and `WeightedLoss` sums the weighted terms. Nothing here reads gin;
the training entry point binds `training_losses` and
`perceptual_losses.PerceptualConfig` (`training/configs.py`;
FILM's Style recipe as gin bindings: `gin_configs/film_net-Style.gin`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional, Sequence

import tensorflow as tf

from film.media import image_metrics
from film.training.perceptual_losses import (FILM_LAYER_WEIGHTS, PerceptualBackbone,
                                             PerceptualConfig, load_backbone, make_style_loss,
                                             make_vgg_loss, perceptual_distance, style_distance)

Example = Mapping[str, tf.Tensor]
Prediction = Mapping[str, tf.Tensor]
LossFn = Callable[[Example, Prediction], tf.Tensor]

def l1_loss(example: Example, prediction: Prediction) -> tf.Tensor:
  """Mean absolute error between `prediction['image']` and `example['y']`."""
  return tf.reduce_mean(tf.abs(prediction['image'] - example['y']))


def l2_loss(example: Example, prediction: Prediction) -> tf.Tensor:
  """Mean squared error between `prediction['image']` and `example['y']`."""
  return tf.reduce_mean(tf.square(prediction['image'] - example['y']))


def l1_warped_loss(example: Example, prediction: Prediction) -> tf.Tensor:
  """Sum of the l1 losses of `prediction['x0_warped']` / `['x1_warped']` (those present)."""
  loss = tf.constant(0.0)
  for key in ('x0_warped', 'x1_warped'):
    if key in prediction:
      loss += tf.reduce_mean(tf.abs(prediction[key] - example['y']))
  return loss


def flow_teacher_loss(example: Example, prediction: Prediction) -> tf.Tensor:
  """Masked end-point error of the predicted flow pyramids to the teacher's flows.

  `example['teacher_flow']` is `[B,H,W,6]` (flow 0->1, flow 1->0, valid0, valid1; see
  `training.teacher_flow`); `prediction['forward_flow_pyramid']` / `['backward_flow_pyramid']`
  hold `[B,H/2^i,W/2^i,2]` flows in level-i pixels (H, W multiples of the model alignment, so
  no padding). At level i the teacher is 2^i x 2^i average-pooled, the prediction is scaled by
  2^i to full-resolution pixels and pixels weigh by the pooled validity; the result is the mean
  over levels and both directions of sum(valid * |pred - teacher|_2) / sum(valid).
  """
  teacher = tf.cast(example['teacher_flow'], tf.float32)
  terms = []
  for key, flow_slice, valid_slice in (('forward_flow_pyramid', slice(0, 2), slice(4, 5)),
                                       ('backward_flow_pyramid', slice(2, 4), slice(5, 6))):
    for level, predicted in enumerate(prediction[key]):
      scale = 2 ** level
      target = teacher[..., flow_slice]
      valid = teacher[..., valid_slice]
      if scale > 1:
        target = tf.nn.avg_pool2d(target, scale, scale, 'VALID')
        valid = tf.nn.avg_pool2d(valid, scale, scale, 'VALID')
      error = tf.sqrt(tf.reduce_sum(tf.square(tf.cast(predicted, tf.float32) * scale - target),
                                    axis=-1, keepdims=True) + 1e-6)
      terms.append(tf.reduce_sum(valid * error) / (tf.reduce_sum(valid) + 1e-6))
  return tf.add_n(terms) / len(terms)


def psnr_metric(example: Example, prediction: Prediction) -> tf.Tensor:
  """Batch-mean `film.media.image_metrics.psnr` (FILM's 'psnr' test loss; higher is better)."""
  return tf.reduce_mean(image_metrics.psnr(prediction['image'], example['y']))


def ssim_metric(example: Example, prediction: Prediction) -> tf.Tensor:
  """Batch-mean `film.media.image_metrics.ssim` (FILM's 'ssim' test loss; higher is better)."""
  return tf.reduce_mean(image_metrics.ssim(prediction['image'], example['y']))


_SIMPLE_LOSSES: dict[str, LossFn] = {
    'l1': l1_loss, 'l2': l2_loss, 'l1_warped': l1_warped_loss, 'flow_teacher': flow_teacher_loss,
    'psnr': psnr_metric, 'ssim': ssim_metric,
}
PERCEPTUAL_LOSSES = ('vgg', 'style')
# Losses that read the model's auxiliary outputs (warped frames, flow pyramids).
AUX_OUTPUT_LOSSES = ('l1_warped', 'flow_teacher')
# Losses that need `example['teacher_flow']` from the input pipeline.
TEACHER_LOSSES = ('flow_teacher',)
LOSS_NAMES = tuple(_SIMPLE_LOSSES) + PERCEPTUAL_LOSSES


def get_loss(name: str, perceptual: Optional[PerceptualConfig] = None) -> LossFn:
  """Returns the loss `fn(example, prediction) -> scalar` registered as `name`.

  Args:
    name: one of `LOSS_NAMES`.
    perceptual: backbone settings, required for 'vgg' / 'style'; the backbone is loaded here,
      so missing weights fail immediately.

  Raises:
    KeyError: unknown name.
    film.training.pretrained.MissingWeightsError: 'vgg'/'style' without the backbone's weight file.
  """
  if name in _SIMPLE_LOSSES:
    return _SIMPLE_LOSSES[name]
  if name not in PERCEPTUAL_LOSSES:
    raise KeyError(f'unknown loss {name!r}; choose from {LOSS_NAMES}')
  if perceptual is None:
    raise ValueError(f'the {name!r} loss needs a PerceptualConfig (its VGG backbone)')
  backbone = load_backbone(perceptual.backbone, perceptual.weights_path)
  if name == 'vgg':
    return make_vgg_loss(backbone, perceptual.vgg_layer_weights)
  return make_style_loss(backbone, perceptual.style_layer_weights)


# ----------------------------------------------------------------------------------------------
# Weight schedules and recipes.
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PiecewiseConstant:
  """`values[i]` for `boundaries[i-1] < step <= boundaries[i]` (as Keras' PiecewiseConstantDecay).

  Attributes:
    boundaries: strictly increasing steps, length n.
    values: n + 1 weights.
  """
  boundaries: tuple[int, ...] = (0,)
  values: tuple[float, ...] = (1.0, 1.0)

  def __post_init__(self):
    boundaries = tuple(int(b) for b in self.boundaries)
    values = tuple(float(v) for v in self.values)
    if len(values) != len(boundaries) + 1:
      raise ValueError(f'need len(values) == len(boundaries) + 1, got {values} / {boundaries}')
    if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:])):
      raise ValueError(f'boundaries must be strictly increasing, got {boundaries}')
    object.__setattr__(self, 'boundaries', boundaries)
    object.__setattr__(self, 'values', values)

  def value_at(self, step: int) -> float:
    """The weight at a Python integer step."""
    return self.values[sum(step > b for b in self.boundaries)]

  def __call__(self, step: Any) -> tf.Tensor:
    """The weight at `step` (int or scalar integer tensor; works inside `tf.function`)."""
    step = tf.cast(step, tf.int64)
    index = tf.reduce_sum(tf.cast(step > tf.constant(self.boundaries, tf.int64), tf.int32))
    return tf.gather(tf.constant(self.values, tf.float32), index)


@dataclasses.dataclass(frozen=True)
class LossTerm:
  """One named loss with its weight schedule."""
  name: str
  weight: PiecewiseConstant = PiecewiseConstant()

  def __post_init__(self):
    if self.name not in LOSS_NAMES:
      raise KeyError(f'unknown loss {self.name!r}; choose from {LOSS_NAMES}')


# FILM's training recipes (training/config/film_net-{L1,VGG,Style}.gin).
RECIPES: dict[str, tuple[LossTerm, ...]] = {
    'L1': (LossTerm('l1', PiecewiseConstant((0,), (1.0, 1.0))),),
    'VGG': (LossTerm('l1', PiecewiseConstant((0,), (1.0, 1.0))),
            LossTerm('vgg', PiecewiseConstant((1500000,), (1.0, 0.25)))),
    'Style': (LossTerm('l1', PiecewiseConstant((0,), (1.0, 1.0))),
              LossTerm('vgg', PiecewiseConstant((1500000,), (1.0, 0.25))),
              LossTerm('style', PiecewiseConstant((1500000,), (0.0, 40.0)))),
}


def training_losses(loss_names: Sequence[str] = ('l1',),
                    loss_weights: Optional[Sequence[float]] = None,
                    loss_weight_parameters: Optional[Sequence[Mapping[str, Sequence[Any]]]] = None
                    ) -> tuple[LossTerm, ...]:
  """Loss terms from FILM's gin keys (constant `loss_weights` or piecewise parameters).

  Args:
    loss_names: names from `LOSS_NAMES`.
    loss_weights: one constant weight per loss, or None.
    loss_weight_parameters: one `{'boundaries': [...], 'values': [...]}` per loss, used when
      `loss_weights` is None (all weights 1 when both are None).

  Returns:
    The `LossTerm`s, in order.
  """
  names = tuple(loss_names)
  if loss_weights:
    schedules = [PiecewiseConstant((0,), (float(w), float(w))) for w in loss_weights]
  elif loss_weight_parameters:
    schedules = [PiecewiseConstant(tuple(p['boundaries']), tuple(p['values']))
                 for p in loss_weight_parameters]
  else:
    schedules = [PiecewiseConstant() for _ in names]
  if len(schedules) != len(names):
    raise ValueError(f'{len(names)} losses but {len(schedules)} weights/schedules')
  return tuple(LossTerm(n, s) for n, s in zip(names, schedules))


class WeightedLoss:
  """Total training loss `sum_k weight_k(step) * loss_k(example, prediction)`.

  The backbone features of `image` and `y` are computed once and shared by `vgg` and `style`.
  """

  def __init__(self, terms: Sequence[LossTerm], perceptual: Optional[PerceptualConfig] = None,
               backbone: Optional[PerceptualBackbone] = None):
    """Args: terms: the loss terms; perceptual: settings for vgg/style (required with them);
    backbone: an explicit backbone (then `perceptual` only gives the layer weights, FILM's
    when it is None)."""
    if not terms:
      raise ValueError('WeightedLoss needs at least one term')
    self.terms = tuple(terms)
    needs_backbone = any(t.name in PERCEPTUAL_LOSSES for t in self.terms)
    if needs_backbone and perceptual is None and backbone is None:
      raise ValueError('vgg / style losses need a PerceptualConfig (their VGG backbone)')
    self._config = perceptual
    self._backbone = backbone
    if backbone is None and needs_backbone:
      self._backbone = load_backbone(perceptual.backbone, perceptual.weights_path)

  def _layer_weights(self, field: str) -> tuple[float, ...]:
    return FILM_LAYER_WEIGHTS if self._config is None else getattr(self._config, field)

  def __call__(self, example: Example, prediction: Prediction,
               step: Any) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Returns the total loss and `{name: unweighted loss}` for logging."""
    values: dict[str, tf.Tensor] = {}
    feats = None
    if any(t.name in PERCEPTUAL_LOSSES for t in self.terms):
      assert self._backbone is not None
      feats = (self._backbone.features(prediction['image']), self._backbone.features(example['y']))
    total = tf.constant(0.0)
    for term in self.terms:
      if term.name == 'vgg':
        value = perceptual_distance(*feats, self._layer_weights('vgg_layer_weights'))
      elif term.name == 'style':
        value = style_distance(*feats, self._layer_weights('style_layer_weights'))
      else:
        value = _SIMPLE_LOSSES[term.name](example, prediction)
      values[term.name] = value
      total += term.weight(step) * value
    return total, values
