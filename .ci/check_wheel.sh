#!/usr/bin/env bash
# CI's packaging check: the package as a user gets it, not the editable checkout.
#  1. Builds the wheel with a second Python (3.13, .ci/build_python.sh) and checks that its only
#     top-level import name is `film` and that it carries the package data.
#  2. Installs Hugging Face `datasets`, then the wheel with `[cpu,test]`, into a fresh 3.13 venv:
#     both must import and work, `pip check` must pass, and no CUDA wheel may be installed.
#  3. Runs the README's main command (sample pair -> slow-motion mp4 with the bundled model) and a
#     smoke subset of the tests from outside the repository, against the installed wheel.
#  4. Resolves (dry run) `[and-cuda]`: exactly one TensorFlow distribution, the CUDA build.
#  5. Installs the wheel at the lower ends of setup.py's ranges (constraints-lowest.txt, Python
#     3.11) and runs the smoke subset there too.
# Usage: bash .ci/check_wheel.sh   (from anywhere; needs PyPI)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${FILM_SHARED_DIR:-$(dirname "$REPO")/shared}"
SMOKE_TESTS=(film/test_warp.py film/test_model.py film/test_default_model.py)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Everything runs from a folder outside the checkout, as a user's would.
mkdir -p "$WORK/user"
cd "$WORK/user"

PY313="$(bash "$REPO/.ci/build_python.sh")"
echo "== wheel check with $("$PY313" --version)"

# 1. Build and inspect the wheel.
"$PY313" -m venv "$WORK/build"
"$WORK/build/bin/python" -m pip install --quiet --upgrade pip
"$WORK/build/bin/python" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$REPO"
WHEEL="$(ls "$WORK"/dist/film_interpolation-*.whl)"
"$WORK/build/bin/python" - "$WHEEL" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
top = sorted({n.split('/')[0] for n in names if not n.split('/')[0].endswith('.dist-info')})
assert top == ['film'], f'wheel top-level names {top}, expected only film'
needed = ['film/default_model/weights.npz', 'film/default_model/film_model.json',
          'film/samples/one.jpg', 'film/samples/two.jpg', 'film/gin_configs/film_net-smoke.gin',
          'film/datasets/create_tfrecords_cli.py']
# Every console script's module must be in the wheel (the list follows setup.py, not this file).
entry_points = next(n for n in names if n.endswith('.dist-info/entry_points.txt'))
scripts = zipfile.ZipFile(sys.argv[1]).read(entry_points).decode().split('[console_scripts]')[1]
for line in scripts.split('[')[0].splitlines():
    if '=' in line:
        module = line.split('=', 1)[1].split(':')[0].strip()
        needed.append(module.replace('.', '/') + '.py')
assert len(needed) > 8, f'entry points not found in {entry_points}'
missing = [n for n in needed if n not in names]
assert not missing, f'wheel lacks {missing}'
print(f'wheel OK: top-level {top}, {len(names)} files')
EOF

# 2. A fresh venv that already has Hugging Face `datasets`, then the wheel.
"$PY313" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
"$VPY" -m pip install --quiet datasets
"$VPY" -m pip install --quiet "$WHEEL[cpu,test]"
"$VPY" -m pip check
"$VPY" - <<'EOF'
import importlib.metadata as md
installed = {d.metadata['Name'].lower().replace('_', '-') for d in md.distributions()}
cuda = sorted(n for n in installed if n.startswith('nvidia-'))
assert not cuda, f'CPU install pulled CUDA wheels: {cuda}'
tf = sorted(n for n in installed if n in ('tensorflow', 'tensorflow-cpu'))
assert tf == ['tensorflow-cpu'], f'TensorFlow distributions: {tf}'
import datasets  # Hugging Face's, untouched by ours.
assert 'site-packages/datasets' in datasets.__file__, datasets.__file__
table = datasets.Dataset.from_dict({'frame': [0, 1, 2]}).map(lambda r: {'twice': 2 * r['frame']})
assert table['twice'] == [0, 2, 4]
import film.datasets.schema, film.inference.interpolate_cli, film.training.train_cli  # ours
print('coexistence OK: Hugging Face datasets', datasets.__version__, 'beside film.datasets')
EOF

# 3. The README's main command and the smoke tests, from outside the repository.
SAMPLES="$("$VPY" -c 'import film.samples; print(list(film.samples.__path__)[0])')"
"$WORK/venv/bin/film-interpolate" --frame0 "$SAMPLES/one.jpg" --frame1 "$SAMPLES/two.jpg" \
  --times_to_interpolate 4 --output_video slowmo.mp4 --fps 30
"$VPY" - <<'EOF'
import imageio_ffmpeg
frames, seconds = imageio_ffmpeg.count_frames_and_secs('slowmo.mp4')
assert frames == 17, f'slowmo.mp4 has {frames} frames, expected 2 + 15 in-betweens'
print(f'main command OK: slowmo.mp4, {frames} frames, {seconds:.2f} s')
EOF
cp -r "$REPO/tests" "$WORK/user/tests"
smoke() {  # $1: python of a venv with the wheel installed
  (cd "$WORK/user" && FILM_SHARED_DIR="$SHARED" "$1" -m pytest -q -p no:cacheprovider \
    "${SMOKE_TESTS[@]/#/tests/}")
  "$1" -c 'import film, sys; assert "site-packages" in film.__file__, film.__file__'
}
smoke "$VPY"

# 4. The GPU extra resolves to the CUDA build alone.
"$VPY" -m pip install --quiet --dry-run --ignore-installed --report "$WORK/cuda.json" "$WHEEL[and-cuda]"
"$VPY" - "$WORK/cuda.json" <<'EOF'
import json, sys
names = {i['metadata']['name'].lower().replace('_', '-') for i in json.load(open(sys.argv[1]))['install']}
tf = sorted(n for n in names if n in ('tensorflow', 'tensorflow-cpu'))
assert tf == ['tensorflow'], f'[and-cuda] resolves to TensorFlow distributions {tf}'
assert any(n.startswith('nvidia-cudnn') for n in names), '[and-cuda] pulls no cuDNN'
print('[and-cuda] OK: tensorflow (CUDA build) only, with', sum(n.startswith('nvidia-') for n in names), 'CUDA wheels')
EOF

# 5. The lower ends of the ranges.
python3.11 -m venv "$WORK/lowest"
"$WORK/lowest/bin/python" -m pip install --quiet --upgrade pip
"$WORK/lowest/bin/python" -m pip install --quiet -c "$REPO/constraints-lowest.txt" "$WHEEL[cpu]" pytest scikit-image mediapy
smoke "$WORK/lowest/bin/python"
echo "== wheel check passed"
