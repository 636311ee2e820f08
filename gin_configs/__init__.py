"""The training recipes (`*.gin`), installed as package data: `film.gin_configs.path(name)`."""
import os


def path(name: str) -> str:
  """Returns the installed path of recipe `name` (e.g. `film_net-small-cpu.gin`)."""
  return os.path.join(os.path.dirname(__file__), name)
