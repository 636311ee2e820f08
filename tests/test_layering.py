"""The layering rule of notes/architecture.md, checked on the source: a module may import only
its own subpackage and the layers below it (top-level and function-level imports alike).

    film.cli < film.net < film.media < film.weights < film.inference < film.datasets
             < film.batch < film.training < film.eval

`film.net` is stricter: it imports nothing else of `film` (the model stands alone). `film`
itself (its `__init__`) re-exports the public API lazily and may name any layer.
"""
from __future__ import annotations

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ['film.cli', 'film.net', 'film.media', 'film.weights', 'film.inference',
          'film.datasets', 'film.batch', 'film.training', 'film.eval']
FOLDERS = {'film': 'film', 'training': 'film.training', 'datasets': 'film.datasets',
           'eval': 'film.eval'}
ONLY_ITSELF = {'film.net'}


def _module_name(path: str) -> str:
  rel = os.path.relpath(path, REPO)[:-len('.py')].split(os.sep)
  parts = FOLDERS[rel[0]].split('.') + rel[1:]
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _layer(module: str) -> str | None:
  for layer in LAYERS:
    if module == layer or module.startswith(layer + '.'):
      return layer
  return None


def _sources() -> list[str]:
  out = []
  for folder in FOLDERS:
    for root, _, files in os.walk(os.path.join(REPO, folder)):
      out += [os.path.join(root, f) for f in files if f.endswith('.py')]
  return sorted(out)


def film_imports(path: str) -> list[tuple[int, str]]:
  """(line, imported module) for every import of a `film.*` module in the file at `path`."""
  tree = ast.parse(open(path, encoding='utf-8').read(), path)
  found = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found += [(node.lineno, a.name) for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      # `from film.weights import model_io` imports film.weights.model_io.
      found += [(node.lineno, f'{node.module}.{a.name}') for a in node.names]
  return [(line, name) for line, name in found if name == 'film' or name.startswith('film.')]


def violations(path: str) -> list[str]:
  """Forbidden imports of the file at `path`, one line each."""
  module = _module_name(path)
  own = _layer(module)
  if own is None:  # film/__init__.py: the lazy public API.
    return []
  allowed = set(LAYERS[:LAYERS.index(own) + 1]) if own not in ONLY_ITSELF else {own}
  out = []
  for line, name in film_imports(path):
    target = _layer(name)
    if target is None and name.startswith('film.') and name.count('.') == 1 \
        and name != 'film.gin_configs':
      target = name  # `from film import cli` -> film.cli; anything else is unknown.
    if target not in allowed and target != 'film.gin_configs':
      out.append(f'{os.path.relpath(path, REPO)}:{line}: {module} ({own}) imports {name}')
  return out


def test_sources_found():
  names = {_module_name(p) for p in _sources()}
  assert {'film.net.model', 'film.inference.interpolator', 'film.training.train',
          'film.eval.evaluate', 'film.batch.jobs'} <= names


def test_no_layer_imports_a_higher_one():
  problems = [v for path in _sources() for v in violations(path)]
  assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('source, expected', [
    ('from film.inference import pipeline\n', 1),  # weights -> inference: up
    ('from film.media import atomic\nimport film.net.model\n', 0),  # down
    ('def f():\n  from film.batch.jobs import run\n', 1),  # lazy imports count too
    ('from film import cli\n', 0),
])
def test_rule_catches_an_upward_import(tmp_path, monkeypatch, source, expected):
  path = os.path.join(REPO, 'film', 'weights', 'layering_probe.py')
  monkeypatch.setattr('builtins.open', _fake_open(path, source))
  assert len(violations(path)) == expected


def _fake_open(path: str, text: str):
  import builtins
  import io
  real = builtins.open

  def fake(p, *args, **kwargs):
    return io.StringIO(text) if p == path else real(p, *args, **kwargs)
  return fake
