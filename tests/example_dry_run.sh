#!/usr/bin/env bash
# mnist_convnet --dry-run: one training batch and the whole test set, printed in main.py's format.
# Usage: example_dry_run.sh path/to/mnist_convnet [flags...]; skipped (77) without MNIST_DIR.
set -euo pipefail
exe=$1
shift
if [ -z "${MNIST_DIR:-}" ] || [ ! -e "$MNIST_DIR" ]; then
  echo "MNIST_DIR not set: skipped"
  exit 77
fi
out=$("$exe" --dry-run --epochs 1 --threads 2 "$@")
echo "$out"
grep -q $'^Train Epoch: 1 \\[0/60000 (0%)\\]\tLoss: [0-9.]*$' <<<"$out"
grep -q '^Test set: Average loss: [0-9.]*, Accuracy: [0-9]*/10000 ([0-9]*%)$' <<<"$out"
[ "$(grep -c '^Train Epoch' <<<"$out")" = 1 ]  # --dry-run stops after the first logged batch
