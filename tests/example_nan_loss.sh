#!/usr/bin/env bash
# A run whose loss turns nan stops naming the epoch and the step, exits non-zero and keeps the
# last good checkpoint: one epoch at a sane learning rate writes run.ckpt; a run at an absurd one
# (SGD, --lr 1e30) on the same checkpoint path must fail with "loss is nan at epoch E, step S; the
# last checkpoint ... is kept", leave run.ckpt byte for byte as it was, and the file must still
# resume. Runs on a made-up MNIST folder (256 random images), so it needs no data.
# Usage: example_nan_loss.sh path/to/mnist_mlp|mnist_cnn
set -euo pipefail
exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
idx() {  # idx FILE TYPE NDIM DIMS... : a u8 IDX header, big-endian dims
  local file=$1 ndim=$2
  shift 2
  printf "\\x00\\x00\\x08\\x$(printf %02x "$ndim")" >"$file"
  for d in "$@"; do printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((d >> 24 & 255)) $((d >> 16 & 255)) $((d >> 8 & 255)) $((d & 255)))" >>"$file"; done
}
n=256
for split in train t10k; do
  idx "$dir/$split-images-idx3-ubyte" 3 $n 28 28
  head -c $((n * 784)) /dev/urandom >>"$dir/$split-images-idx3-ubyte"
  idx "$dir/$split-labels-idx1-ubyte" 1 $n
  for ((i = 0; i < n; i++)); do printf "\\x0$((i % 10))"; done >>"$dir/$split-labels-idx1-ubyte"
done
flags=(--data "$dir" --threads 1 --optimizer sgd --checkpoint "$dir/run.ckpt")
"$exe" "${flags[@]}" --lr 0.01 --epochs 1 >/dev/null
cp "$dir/run.ckpt" "$dir/good.ckpt"
if "$exe" "${flags[@]}" --lr 1e30 --epochs 3 >"$dir/out" 2>"$dir/err"; then
  echo "the run at --lr 1e30 did not fail"
  exit 1
fi
cat "$dir/err"
grep -Eq "error: loss is nan at epoch [0-9]+, step [0-9]+; the last checkpoint $dir/run.ckpt is kept" "$dir/err"
cmp "$dir/run.ckpt" "$dir/good.ckpt"
"$exe" "${flags[@]}" --epochs 2 --resume "$dir/run.ckpt" | grep "resumed from $dir/run.ckpt after epoch 1"
echo "the nan stopped the run and the last checkpoint was kept and resumes"
