#!/usr/bin/env bash
# An example trained 2 epochs straight and the same trained 1 epoch, checkpointed, then resumed
# for the second must end with the same weights, byte for byte (--save files compared).
# Usage: example_resume.sh path/to/mnist_mlp [flags...]; skipped (77) without MNIST_DIR.
set -euo pipefail
exe=$1
shift
if [ -z "${MNIST_DIR:-}" ] || [ ! -e "$MNIST_DIR" ]; then
  echo "MNIST_DIR not set: skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$exe" "$@" --threads 2 --epochs 2 --save "$dir/straight.safetensors" >/dev/null
"$exe" "$@" --threads 2 --epochs 1 --checkpoint "$dir/run.ckpt" >/dev/null
"$exe" "$@" --threads 2 --epochs 2 --resume "$dir/run.ckpt" --save "$dir/resumed.safetensors" | grep "resumed from"
cmp "$dir/straight.safetensors" "$dir/resumed.safetensors"
echo "resumed run ends with the same weights, byte for byte"
