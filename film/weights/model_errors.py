"""The one error of model loading, shared by `film.weights.model_io` and `film.weights.checkpoint_convert`."""
from film.cli import UserError


class ModelLoadError(UserError):
  """A model directory or checkpoint is missing, incomplete or does not match its config."""
