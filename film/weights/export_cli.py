"""`film-export`: model directory / FILM SavedModel -> serving SavedModel (see `film.weights.export`).

  film-export --model models/film_style --output exported/film_style
  saved_model_cli show --dir exported/film_style --tag_set serve --signature_def serving_default
"""
from __future__ import annotations

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags, logging  # noqa: E402

from film.media import atomic  # noqa: E402
from film import cli  # noqa: E402

_MODEL = flags.DEFINE_string('model', None, 'Model directory (our format), FILM SavedModel / '
                             'checkpoint, or a published name (film:style, film:l1, film:vgg). '
                             'Default: film/default_model/.')
_OUTPUT = flags.DEFINE_string('output', None, 'Output SavedModel directory.')
_LEVELS = flags.DEFINE_integer('pyramid_levels', None, 'Pyramid depth for FILM checkpoints '
                               '(not stored in them); default inferred.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace an existing output directory.')

PROG = 'film-export'


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(PROG, f'unexpected arguments {argv[1:]}')
  if not _OUTPUT.value:
    cli.fail(PROG, 'pass --output DIR (and --model DIR)')
  from film.weights import defaults, model_files, published
  # Cheap checks before TensorFlow: the model's files, and the output.
  model_files.check_model_argument(_MODEL.value)
  path = published.model_argument(_MODEL.value) or defaults.DEFAULT_MODEL_DIR
  inputs = [] if published.is_model_name(path) else [path]
  atomic.check_output(_OUTPUT.value, inputs=inputs, overwrite=_OVERWRITE.value, directory=True,
                      flag='--output')
  with cli.quiet_native_stderr():
    from film.weights import export, model_io
    model = model_io.load_model(path, pyramid_levels=_LEVELS.value)
  out = export.export_saved_model(model, _OUTPUT.value, overwrite=_OVERWRITE.value)
  logging.info('Wrote %s', out)
  print(out)


run = cli.entry_point(main, PROG)


if __name__ == '__main__':
  run()
