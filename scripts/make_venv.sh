#!/usr/bin/env bash
# Sourced by setup_and_run.sh / setup_and_test.sh: creates (or reuses) the virtualenv
# $FILM_VENV (default .venv) with $PYTHON (default python3.11, else python3), activates it and
# installs the checkout editable with the extras in $1 at the versions in constraints.txt.
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${FILM_VENV:-.venv}"
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -c constraints.txt -e ".[$1]"
