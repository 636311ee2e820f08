"""`film-models`: the published FILM models known by name, whether each is cached, and how to get
them (see `film.weights.published`).

  film-models            # a table
  film-models --json     # one JSON object per model
"""
from __future__ import annotations

import json

from absl import flags

from film import cli

_JSON = flags.DEFINE_bool('json', False, 'Print one JSON object per model instead of a table.')

PROG = 'film-models'


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    cli.fail(PROG, f'unexpected arguments {argv[1:]}')
  from film.weights import published
  rows = published.listing()
  if _JSON.value:
    for row in rows:
      print(json.dumps(row))
    return
  print(f'{"name":<11} {"cached":<14} {"licence":<11} description')
  for row in rows:
    cached = f'yes, {row["size_mb"]} MB' if row['cached'] else 'no'
    print(f'{row["name"]:<11} {cached:<14} {row["license"]:<11} {row["summary"]}')
  print(f'\nCache: {published.cache_dir()}/published (${published.CACHE_ENV}). Offline: set '
        f'${published.RELEASE_ENV} to a copy of FILM\'s release folder ({published.DRIVE_FOLDER}; '
        'it holds film_net/<Style|L1|VGG>/saved_model).')
  unpinned = [r['name'] for r in rows if not r['pinned']]
  if unpinned:
    print(f'Not downloadable from the Hub by this release (no pinned revision recorded): '
          f'{", ".join(unpinned)}.')
  print(f'Published figures (not measured here): {published.PAPER_FIGURES} ({published.PAPER}).')


run = cli.entry_point(main, PROG)


if __name__ == '__main__':
  run()
