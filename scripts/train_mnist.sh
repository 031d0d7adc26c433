#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and train the seed MLP on MNIST.
# Data: $MNIST_DIR if set, else data/mnist (downloaded there when absent). Extra arguments go to
# the example, e.g. scripts/train_mnist.sh --epochs 3.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
if [ -z "${MNIST_DIR:-}" ]; then
  bash scripts/download_mnist.sh data/mnist
  export MNIST_DIR=data/mnist
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target mnist_mlp
./build/examples/mnist_mlp "$@"
