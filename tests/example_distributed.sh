#!/usr/bin/env bash
# mnist_distributed end to end on MNIST: one epoch of the seed CNN on 2 ranks x 1 thread gives the
# test accuracy of 1 process x 1 thread (to 0.1%: the gradients' sums are added in another order),
# and its checkpoint, written by rank 0, is resumed by a run on 1 rank for a second epoch.
# Usage: example_distributed.sh MPIEXEC path/to/mnist_distributed; skipped (77) without MNIST_DIR.
set -euo pipefail
mpiexec=$1 exe=$2
if [ -z "${MNIST_DIR:-}" ] || [ ! -e "$MNIST_DIR" ]; then
  echo "MNIST_DIR not set: skipped"
  exit 77
fi
flags=()
if grep -q -E "Open MPI|OpenRTE" <<<"$("$mpiexec" --version 2>&1)"; then
  flags+=(--oversubscribe)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
accuracy() { grep "^epoch  1" | sed 's/.*test accuracy \([0-9.]*\)%.*/\1/'; }
one=$("$exe" --threads 1 --epochs 1 | tee /dev/stderr | accuracy)
two=$("$mpiexec" "${flags[@]}" -n 2 "$exe" --threads 1 --epochs 1 --checkpoint "$dir/run.ckpt" | tee /dev/stderr | accuracy)
echo "epoch 1 test accuracy: 1 process $one%, 2 ranks $two%"
awk -v a="$one" -v b="$two" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 90 && d <= 0.1) }' ||
  { echo "FAILED: the accuracies differ by more than 0.1% (or are below 90%)"; exit 1; }
"$exe" --threads 1 --epochs 2 --checkpoint "$dir/run.ckpt" | tee /dev/stderr | grep "resumed from .* after epoch 1" >/dev/null ||
  { echo "FAILED: the run on 1 rank did not resume the 2 ranks' checkpoint"; exit 1; }
echo "2 ranks match 1 process; their checkpoint resumes on 1 rank"
