"""The installed distribution: one import name, working console scripts, no-TensorFlow message."""
import ast
import importlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys

import film

DISTRIBUTION = 'film-interpolation'
# Where the `film` package lives (the checkout, or site-packages for an installed wheel).
FILM_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(film.__file__)))


def _run_without_tensorflow(program: str) -> subprocess.CompletedProcess:
  """Imports `film` in a Python without site-packages (so no TensorFlow), as `program`."""
  code = (f'import sys; sys.argv = [{program!r}]; sys.path.insert(0, {FILM_PARENT!r}); '
          'import film')
  return subprocess.run([sys.executable, '-S', '-c', code], capture_output=True, text=True,
                        timeout=60, check=False)


def test_console_script_without_tensorflow_is_one_line_and_exit_2():
  result = _run_without_tensorflow('/usr/bin/film-interpolate')
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1, result.stderr
  assert 'TensorFlow is not installed' in lines[0]
  assert "film-interpolation[cpu]" in lines[0] and "film-interpolation[and-cuda]" in lines[0]


def test_library_import_without_tensorflow_raises_import_error_naming_the_extras():
  result = _run_without_tensorflow('-c')
  assert result.returncode == 1
  assert 'ImportError: film: TensorFlow is not installed' in result.stderr
  assert "film-interpolation[cpu]" in result.stderr


def test_repository_folders_are_subpackages_of_film():
  for name in ('training', 'eval', 'datasets', 'gin_configs'):
    module = importlib.import_module(f'film.{name}')
    assert module.__name__ == f'film.{name}'
  import film.gin_configs
  assert os.path.isfile(film.gin_configs.path('film_net-smoke.gin'))


def test_every_console_script_points_at_a_callable():
  scripts = [ep for ep in importlib.metadata.distribution(DISTRIBUTION).entry_points
             if ep.group == 'console_scripts']
  names = {ep.name for ep in scripts}
  assert {'film-interpolate', 'film-eval', 'film-train', 'film-fetch-weights'} <= names
  for ep in scripts:
    assert ep.value.startswith('film.'), f'{ep.name} -> {ep.value}: outside the film namespace'
    # Checked without importing: each CLI module defines its absl flags at import.
    spec = importlib.util.find_spec(ep.module)
    assert spec is not None and spec.origin, f'{ep.name}: module {ep.module} not found'
    with open(spec.origin, encoding='utf-8') as source:
      tree = ast.parse(source.read())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    defined |= {target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert ep.attr in defined, f'{ep.name}: {ep.module} defines no {ep.attr}'


def test_distribution_needs_no_tensorflow_without_an_extra():
  requirements = importlib.metadata.requires(DISTRIBUTION) or []
  core = [r for r in requirements if 'extra ==' not in r]
  assert not [r for r in core if r.lower().startswith('tensorflow')], core
  cpu = [r for r in requirements if 'extra == "cpu"' in r]
  cuda = [r for r in requirements if 'extra == "and-cuda"' in r]
  assert any(r.startswith('tensorflow-cpu') for r in cpu), cpu
  assert any(r.startswith('tensorflow[and-cuda]') for r in cuda), cuda
  assert not any('==' in r.split(';')[0] for r in requirements), 'exact pins in the metadata'
