#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, built by clang 14
# (the CMake preset asan-ubsan in CMakePresets.json): installs what is missing, configures,
# builds and runs ctest. Any sanitizer report fails the test that caused it
# (-fno-sanitize-recover=all). Build folder: build-asan-ubsan/.
#   JOBS=2 scripts/test_sanitizers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# clang 14, its sanitizer runtimes and its OpenMP (libomp), if missing.
packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "ember: installing ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ -z "${MNIST_DIR:-}" ] && [ -f data/mnist/train-labels-idx1-ubyte ]; then export MNIST_DIR=$PWD/data/mnist; fi
jobs=${JOBS:-$(nproc)}
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j"$jobs"
ctest --preset asan-ubsan -j"$jobs"
