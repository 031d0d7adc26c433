#!/usr/bin/env bash
# `mnist_cnn --report DIR` writes the CSV files and the pictures; ember_report_check checks them
# against MNIST and against the saved model (see report_check.cpp).
# Usage: example_report.sh path/to/mnist_cnn path/to/ember_report_check; skipped (77) without MNIST_DIR.
set -euo pipefail
exe=$1
check=$2
if [ -z "${MNIST_DIR:-}" ] || [ ! -e "$MNIST_DIR" ]; then
  echo "MNIST_DIR not set: skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$exe" --threads 2 --epochs 1 --report "$dir" --save "$dir/model.safetensors"
"$check" "$dir" 1
