#!/usr/bin/env bash
# Builds and checks what a student installs: the abi3 wheel (CPython 3.9 and
# later) for manylinux2014 x86_64 (glibc 2.17 and later), linked and its C
# compiled by Zig, and the sdist, into target/dist/ (emptied first).
# python/run_tests.sh and bench/run call it. From the repository:
#   bash python/build_wheel.sh
# Needs cargo and python3. Steps:
#  1. target/build-venv: maturin, ziglang, twine, auditwheel, pinned
#     (python/requirements-build.txt).
#  2. `maturin build --release --zig --compatibility manylinux2014` and
#     `maturin sdist`; `auditwheel show` prints the tag the wheel qualifies
#     for; `twine check --strict` both; the sdist must carry the path
#     dependencies (core/, host/), the site's files the host crate compiles
#     in, and the static files the package ships.
# The wheel's cargo target directory is target/wheel-build, kept between
# runs (a rerun with no change takes seconds): not the workspace's own
# target/release, because Zig's C compiler and the glibc-2.17 target rebuild
# the C crates (SQLite, ring) and the interpreter's configuration differs,
# so the two would rebuild each other's crates in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
step() { printf -- '-- [%(%H:%M:%S)T] %s\n' -1 "$*"; }

# 1. The build tools.
build_venv=$root/target/build-venv
if [ ! -x "$build_venv/bin/python" ]; then
  python3 -m venv "$build_venv"
fi
"$build_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-build.txt

# 2. The wheel and the sdist. maturin finds Zig as `python3 -m ziglang`:
# the build venv's python3, first on PATH.
dist=$root/target/dist
rm -rf "$dist"
step "wheel: maturin build --release --zig --compatibility manylinux2014"
(
  cd python
  export PATH="$build_venv/bin:$PATH" CARGO_TARGET_DIR="$root/target/wheel-build"
  maturin build --quiet --release --zig --compatibility manylinux2014 --out "$dist"
  # `cargo package --list` of each crate warns that its manifest names no
  # repository or documentation (none is published): shown on failure only.
  if ! maturin sdist --out "$dist" >"$root/target/sdist.log" 2>&1; then
    cat "$root/target/sdist.log" >&2
    exit 1
  fi
  tail -n 1 "$root/target/sdist.log"
)
wheels=("$dist"/reseau-*-cp39-abi3-manylinux*_x86_64.whl)
sdists=("$dist"/reseau-*.tar.gz)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ] || [ "${#sdists[@]}" -ne 1 ] || [ ! -f "${sdists[0]}" ]; then
  echo "error: expected one abi3 manylinux wheel and one sdist in $dist:" >&2
  ls -l "$dist" >&2
  exit 1
fi
wheel=${wheels[0]} sdist=${sdists[0]}
step "auditwheel show (the platform tag the wheel's symbols allow)"
"$build_venv/bin/auditwheel" show "$wheel"
step "twine check --strict"
"$build_venv/bin/twine" --no-color check --strict "$wheel" "$sdist"
listing=$(tar tzf "$sdist")
top=${listing%%/*}
for needed in pyproject.toml Cargo.toml Cargo.lock core/Cargo.toml core/src/lib.rs host/Cargo.toml \
  host/src/lib.rs python/Cargo.toml python/src/lib.rs pysrc/reseau/__init__.py \
  web/templates/index.html web/openapi.json pysrc/reseau/public/style.css; do
  if ! grep -qxF "$top/$needed" <<<"$listing"; then
    echo "error: the sdist has no $needed: pip install of it could not build" >&2
    exit 1
  fi
done
echo "sdist: ${sdist##*/} carries core/, host/, python/, web/'s compiled-in files and the static files"

