#!/usr/bin/env bash
# The README's main job on a fresh machine: a virtualenv with the package and CPU TensorFlow,
# then the bundled sample pair to a 4x-recursive slow-motion mp4 with the bundled default model.
# Usage: bash scripts/setup_and_run.sh [OUTPUT.mp4]   (needs Python >= 3.10 with venv, and PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${FILM_VENV:-.venv}"
OUTPUT="${1:-slowmo.mp4}"
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -c constraints.txt -e '.[cpu]'
film-interpolate --frame0 film/samples/one.jpg --frame1 film/samples/two.jpg \
  --times_to_interpolate 4 --output_video "$OUTPUT" --fps 30
