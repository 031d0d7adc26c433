#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, built by clang 14
# (the CMake preset asan-ubsan in CMakePresets.json): installs what is missing, configures,
# builds and runs ctest. Any sanitizer report fails the test that caused it
# (-fno-sanitize-recover=all). Build folder: build-asan-ubsan/.
#   JOBS=2 scripts/test_sanitizers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# What the build needs, and clang 14 with its sanitizer runtimes and its OpenMP (libomp).
bash scripts/deps.sh clang-14 libclang-rt-14-dev libomp-14-dev
if [ -z "${MNIST_DIR:-}" ] && [ -f data/mnist/train-labels-idx1-ubyte ]; then export MNIST_DIR=$PWD/data/mnist; fi
jobs=${JOBS:-$(nproc)}
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j"$jobs"
ctest --preset asan-ubsan -j"$jobs"
