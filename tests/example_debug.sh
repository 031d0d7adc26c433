#!/usr/bin/env bash
# An example's debugging flags and its output in a pipe: --dry-run runs one batch of everything
# (one epoch line, the save loaded back) and writes no '\r' into a pipe, but redraws under a
# pseudo-terminal (script(1)); --overfit-batch 32 drives the loss near zero.
# Usage: example_debug.sh path/to/mnist_mlp [flags...]; skipped (77) without MNIST_DIR.
set -euo pipefail
exe=$1
shift
if [ -z "${MNIST_DIR:-}" ] || [ ! -e "$MNIST_DIR" ]; then
  echo "MNIST_DIR not set: skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$exe" "$@" --threads 2 --dry-run --save "$dir/w.safetensors" | tee "$dir/pipe.txt"
grep -q "^dry run: trained one batch, tested one batch, saved and loaded back" "$dir/pipe.txt"
[ "$(grep -c '^epoch ' "$dir/pipe.txt")" -eq 1 ]
grep -q "^Total params: " "$dir/pipe.txt"  # the model summary
if grep -q $'\r' "$dir/pipe.txt"; then
  echo "a '\\r' in the output to a pipe"
  exit 1
fi
"$exe" "$@" --threads 2 --dry-run --quiet >"$dir/quiet.txt"
if grep -q "Total params" "$dir/quiet.txt"; then
  echo "--quiet printed the model summary"
  exit 1
fi
if command -v script >/dev/null; then  # a pseudo-terminal: the progress line redraws
  script -qc "'$exe' $* --threads 2 --dry-run" /dev/null >"$dir/tty.txt" </dev/null
  grep -q $'\repoch  1  1/1  loss ' "$dir/tty.txt" || { echo "no progress line under a terminal"; cat -A "$dir/tty.txt"; exit 1; }
fi
"$exe" "$@" --threads 2 --overfit-batch 32 | tee "$dir/overfit.txt"
grep -q "the model can fit a batch" "$dir/overfit.txt"
echo "dry run, pipe, terminal and overfit-batch behave"
