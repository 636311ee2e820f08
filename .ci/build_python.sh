#!/usr/bin/env bash
# Prints the path of a CPython 3.13 interpreter for CI's wheel check, building it if needed.
#
# The CI machine (Debian 12) ships only Python 3.11 and reaches no download site but the package
# registries, so the second Python comes from Debian 13's source package (the upstream tarball,
# fetched with `apt-get source` from a deb-src entry) and is built once into a cache folder that
# later runs on the same machine reuse. Python 3.12 is in no Debian suite (12 has 3.11, 13 has
# 3.13), so 3.13 stands in for it. Build output goes to stderr; stdout is the interpreter's path.
set -euo pipefail
VERSION=3.13
PREFIX="${FILM_CI_PYTHON_PREFIX:-$HOME/.cache/film-ci/cpython-$VERSION}"
if [ -x "$PREFIX/bin/python$VERSION" ] && "$PREFIX/bin/python$VERSION" -c 'import ssl, zlib, sqlite3, ctypes, lzma, bz2' 2>/dev/null; then
  echo "$PREFIX/bin/python$VERSION"
  exit 0
fi
{
  export DEBIAN_FRONTEND=noninteractive
  SOURCES=/etc/apt/sources.list.d/film-ci-trixie-src.sources
  if ! grep -rqs "Types: deb-src" /etc/apt/sources.list.d/ || ! grep -rqs "trixie" /etc/apt/sources.list.d/; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$SOURCES"
  fi
  apt-get update -qq
  apt-get install -y -qq build-essential dpkg-dev libssl-dev zlib1g-dev libffi-dev libbz2-dev \
    liblzma-dev libsqlite3-dev libreadline-dev libncurses-dev uuid-dev xz-utils >/dev/null
  WORK="$(mktemp -d)"
  cd "$WORK"
  apt-get source --download-only -qq "python$VERSION"
  tar xJf python"$VERSION"_*.orig.tar.xz
  cd Python-"$VERSION".*/
  ./configure --prefix="$PREFIX" --with-ensurepip=install --without-doc-strings >/dev/null
  make -j"$(nproc)" >/dev/null
  make install >/dev/null
  cd /
  rm -rf "$WORK"
} 1>&2
echo "$PREFIX/bin/python$VERSION"
