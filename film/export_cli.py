"""`film-export`: model directory / FILM SavedModel -> serving SavedModel (see `film.export`).

  film-export --model models/film_style --output exported/film_style
  saved_model_cli show --dir exported/film_style --tag_set serve --signature_def serving_default
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app, flags, logging  # noqa: E402

_MODEL = flags.DEFINE_string('model', None, 'Model directory (our format) or FILM SavedModel / '
                             'checkpoint. Default: film/default_model/.')
_OUTPUT = flags.DEFINE_string('output', None, 'Output SavedModel directory.')
_LEVELS = flags.DEFINE_integer('pyramid_levels', None, 'Pyramid depth for FILM checkpoints '
                               '(not stored in them); default inferred.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace an existing output directory.')

PROG = 'film-export'


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    sys.exit(f'{PROG}: error: unexpected arguments {argv[1:]}')
  if not _OUTPUT.value:
    sys.exit(f'{PROG}: error: pass --output DIR (and --model DIR)')
  if os.path.exists(_OUTPUT.value) and not _OVERWRITE.value:
    sys.exit(f'{PROG}: error: {_OUTPUT.value} already exists; pass --overwrite or choose another '
             '--output')
  from film import defaults
  path = _MODEL.value
  if path is None:
    if not defaults.default_model_available():
      sys.exit(f'{PROG}: error: no default model installed at {defaults.DEFAULT_MODEL_DIR}; '
               'pass --model DIR')
    path = defaults.DEFAULT_MODEL_DIR
  elif not os.path.exists(path):
    sys.exit(f'{PROG}: error: model {path} does not exist; pass --model DIR')
  from film import export, model_io
  try:
    model = model_io.load_model(path, pyramid_levels=_LEVELS.value)
    out = export.export_saved_model(model, _OUTPUT.value, overwrite=_OVERWRITE.value)
  except (ValueError, OSError) as e:
    sys.exit(f'{PROG}: error: {e}')
  logging.info('Wrote %s', out)
  print(out)


def run() -> None:
  """Console-script entry point (`film-export`)."""
  app.run(main)


if __name__ == '__main__':
  run()
