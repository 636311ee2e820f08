"""`film-convert`: FILM SavedModel / training checkpoint -> our model directory.

  film-convert --film_saved_model /path/to/film_net/Style/saved_model --output models/film_style
"""
from __future__ import annotations

import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags, logging  # noqa: E402

from film.media import atomic  # noqa: E402
from film import cli  # noqa: E402

_FILM = flags.DEFINE_string('film_saved_model', None,
                            'FILM SavedModel directory, training directory or checkpoint prefix.')
_OUTPUT = flags.DEFINE_string('output', None, 'Output model directory (our format).')
_LEVELS = flags.DEFINE_integer('pyramid_levels', None,
                               'Pyramid depth of the FILM model (not stored in checkpoints). '
                               'Default: from a gin file beside the checkpoint, else 7.')
_CONFIG = flags.DEFINE_string('config_json', None,
                              'Optional JSON file with the full FILM config (overrides inference).')
_FP16 = flags.DEFINE_bool('float16', False, 'Store the weights as float16 (half the size).')
_OVERWRITE = flags.DEFINE_bool('overwrite', False, 'Replace an existing output directory.')


def convert(film_path: str, output: str, pyramid_levels: int | None = None,
            config_json: str | None = None, float16: bool = False,
            overwrite: bool = False) -> str:
  """Converts a FILM checkpoint to our model directory; returns the output path."""
  from film.weights import model_io
  from film.net.config import FilmConfig
  config = None
  if config_json:
    with open(config_json) as f:
      data = json.load(f)
    config = FilmConfig.from_dict(data.get('config', data))
  model = model_io.load_film_checkpoint(film_path, config=config, pyramid_levels=pyramid_levels)
  return model_io.save_model(model, output, storage_dtype='float16' if float16 else 'float32',
                             metadata={'converted_from': film_path}, overwrite=overwrite)


PROG = 'film-convert'


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(PROG, f'unexpected arguments {argv[1:]}; pass --film_saved_model DIR --output DIR')
  if not _FILM.value or not _OUTPUT.value:
    cli.fail(PROG, 'pass --film_saved_model DIR and --output DIR')
  if not os.path.exists(_FILM.value):
    cli.fail(PROG, f'{_FILM.value} does not exist; pass a FILM SavedModel or checkpoint')
  # Before TensorFlow loads anything: the output is writable and does not replace the input.
  atomic.check_output(_OUTPUT.value, inputs=[_FILM.value], overwrite=_OVERWRITE.value,
                      directory=True, flag='--output')
  with cli.quiet_native_stderr():
    path = convert(_FILM.value, _OUTPUT.value, _LEVELS.value, _CONFIG.value, _FP16.value,
                   _OVERWRITE.value)
  logging.info('Wrote %s', path)
  print(path)


run = cli.entry_point(main, PROG)


if __name__ == '__main__':
  run()
