"""FILM network hyperparameters: a frozen, validated dataclass (gin binds it as `model.*` in the
training entry point, `training/configs.py`)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any


# Ways to make the flows from time t to the inputs (FilmConfig.time_flows).
TIME_FLOWS = ('film', 'both')
# Classical-flow priors of the flow estimator (FilmConfig.flow_prior) and where they enter.
FLOW_PRIORS = ('none', 'dis')
FLOW_PRIOR_LEVELS = ('all', 'coarsest')


@dataclasses.dataclass(frozen=True)
class FilmConfig:
  """Hyperparameters of the FILM network (names as in FILM's gin configs).

  Attributes:
    pyramid_levels: levels of the image/feature pyramids and the flow estimator.
    fusion_pyramid_levels: finest levels that are warped and fused (<= pyramid_levels).
    specialized_levels: finest flow levels with their own estimator weights; the deeper
      levels share one estimator. Also caps the channel doubling of the fusion decoder.
    sub_levels: depth of the cascaded (scale-agnostic) feature extractor.
    flow_convs: 3x3 convolutions per flow estimator, `specialized_levels + 1` entries
      (the last one is for the shared estimator).
    flow_filters: channels per flow estimator, same length as `flow_convs`.
    filters: base channel count of the feature extractor and fusion decoder.
    residual_fusion: not in FILM (False reproduces FILM exactly). When True the fusion
      decoder's output is a correction added to the time-weighted blend
      `(1-t) * x0_warped + t * x1_warped` instead of the frame itself, so a model whose
      decoder has not learnt to pass pixels through still returns the aligned frames.
    time_flows: how the flows from time t back to the inputs are made from the two estimated
      flows. 'film' (FILM): `F_t0 = t F_10`, `F_t1 = (1-t) F_01`. 'both' (not in FILM; Super
      SloMo's linear-motion combination, Jiang et al. 2018): `F_t0 = t^2 F_10 - t(1-t) F_01`,
      `F_t1 = (1-t)^2 F_01 - t(1-t) F_10`, which averages the two directions' estimates (at
      t = 0.5 each flow counts half) and so halves independent flow errors' variance.
    flow_prior: not in FILM ('none' reproduces FILM exactly). 'dis': the model takes classical
      bidirectional flows (OpenCV DIS, `film.inference.classical_flow`) as an extra input and its
      flow estimator predicts residuals over them, each level's residual scaled by a learned
      gate `predict_flow/prior_gate` [pyramid_levels] that starts at 0, so that an untrained
      prior model's flows are exactly the prior's pyramid (2x2 average pooling, values halved
      per level).
    flow_prior_levels: where the prior enters ('dis' only). 'all': at every level the prior's
      own detail is added to the upsampled coarser flow and the residual there is gated;
      'coarsest': the prior initialises the coarsest level only (gated there), the finer levels
      refine it as FILM does (ungated), so step 0 is the coarse prior upsampled.
  """
  pyramid_levels: int = 7
  fusion_pyramid_levels: int = 5
  specialized_levels: int = 3
  sub_levels: int = 4
  flow_convs: tuple[int, ...] = (3, 3, 3, 3)
  flow_filters: tuple[int, ...] = (32, 64, 128, 256)
  filters: int = 64
  residual_fusion: bool = False
  time_flows: str = 'film'
  flow_prior: str = 'none'
  flow_prior_levels: str = 'all'

  def __post_init__(self) -> None:
    object.__setattr__(self, 'flow_convs', tuple(int(v) for v in self.flow_convs))
    object.__setattr__(self, 'flow_filters', tuple(int(v) for v in self.flow_filters))
    problems = []
    for field in ('pyramid_levels', 'fusion_pyramid_levels', 'specialized_levels',
                  'sub_levels', 'filters'):
      if int(getattr(self, field)) < 1:
        problems.append(f'{field} must be >= 1 (got {getattr(self, field)})')
    if self.fusion_pyramid_levels > self.pyramid_levels:
      problems.append('fusion_pyramid_levels must be <= pyramid_levels '
                      f'({self.fusion_pyramid_levels} > {self.pyramid_levels})')
    if self.specialized_levels > self.pyramid_levels:
      problems.append('specialized_levels must be <= pyramid_levels')
    if self.fusion_pyramid_levels < 2:
      problems.append('fusion_pyramid_levels must be >= 2')
    need = self.specialized_levels + 1
    if len(self.flow_convs) < need or len(self.flow_filters) < need:
      problems.append(f'flow_convs and flow_filters need specialized_levels + 1 = {need} '
                      f'entries (got {len(self.flow_convs)} and {len(self.flow_filters)})')
    if (self.pyramid_levels > self.specialized_levels and
        self.specialized_levels < self.sub_levels - 1):
      problems.append('specialized_levels must be >= sub_levels - 1 so that the levels sharing '
                      'one flow estimator have the same feature width')
    if any(v < 1 for v in self.flow_convs) or any(v < 2 for v in self.flow_filters):
      problems.append('flow_convs entries must be >= 1 and flow_filters entries >= 2')
    if self.time_flows not in TIME_FLOWS:
      problems.append(f'time_flows must be one of {", ".join(TIME_FLOWS)} '
                      f'(got {self.time_flows!r})')
    if self.flow_prior not in FLOW_PRIORS:
      problems.append(f'flow_prior must be one of {", ".join(FLOW_PRIORS)} '
                      f'(got {self.flow_prior!r})')
    if self.flow_prior_levels not in FLOW_PRIOR_LEVELS:
      problems.append(f'flow_prior_levels must be one of {", ".join(FLOW_PRIOR_LEVELS)} '
                      f'(got {self.flow_prior_levels!r})')
    if problems:
      raise ValueError('Invalid FILM config: ' + '; '.join(problems))

  @property
  def has_flow_prior(self) -> bool:
    """True when the model takes classical prior flows as an input."""
    return self.flow_prior != 'none'

  @property
  def alignment(self) -> int:
    """Input H and W are padded to a multiple of this: 2**(pyramid_levels-1)."""
    return 2 ** (self.pyramid_levels - 1)

  def to_dict(self) -> dict[str, Any]:
    d = dataclasses.asdict(self)
    d['flow_convs'] = list(self.flow_convs)
    d['flow_filters'] = list(self.flow_filters)
    return d

  @classmethod
  def from_dict(cls, d: dict[str, Any]) -> 'FilmConfig':
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
      raise ValueError(f'Unknown FILM config keys {unknown}; expected a subset of {sorted(known)}')
    return cls(**d)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=1, sort_keys=True)


# FILM's published configuration (the released L1/VGG/Style models; 34,436,667 parameters).
PUBLISHED = FilmConfig()
# Small configuration for CPU work and tests (4,756,587 parameters).
SMALL = FilmConfig(pyramid_levels=5, fusion_pyramid_levels=5, filters=16)

