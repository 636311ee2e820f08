"""Locations shared by the inference code and its CLIs (no TensorFlow import)."""
import os

# The default model shipped with the package (our model-directory format; see film.weights.model_io).
# It lives at film/default_model/, beside the subpackages (package data of `film`).
DEFAULT_MODEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'default_model')
MODEL_MANIFEST = 'film_model.json'


def default_model_available() -> bool:
  return os.path.isfile(os.path.join(DEFAULT_MODEL_DIR, MODEL_MANIFEST))
