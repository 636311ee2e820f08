#!/usr/bin/env bash
# The README's main job on a fresh machine: a virtualenv with the package and CPU TensorFlow,
# then the bundled sample pair to a 4x-recursive slow-motion mp4 with the bundled default model.
# Usage: bash scripts/setup_and_run.sh [OUTPUT.mp4]   (needs Python >= 3.10 with venv, and PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPUT="${1:-slowmo.mp4}"
# shellcheck source=scripts/make_venv.sh
. scripts/make_venv.sh cpu
film-interpolate --frame0 film/samples/one.jpg --frame1 film/samples/two.jpg \
  --times_to_interpolate 4 --output_video "$OUTPUT" --fps 30
