#!/usr/bin/env bash
# Quick start 2: install what is missing, build everything, and run the whole test suite.
# The end-to-end MNIST test runs when MNIST_DIR points at the data (else ctest lists it skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
if [ -z "${MNIST_DIR:-}" ] && [ -f data/mnist/train-labels-idx1-ubyte ]; then export MNIST_DIR=$PWD/data/mnist; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build -j"$(nproc)" --output-on-failure
