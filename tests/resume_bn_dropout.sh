#!/usr/bin/env bash
# A BatchNorm + Dropout model trained 3 epochs straight, and trained 1 epoch, checkpointed and
# resumed for 2 in a fresh process whose generators were disturbed, must end with the same
# state_dict (weights, running statistics, num_batches_tracked), byte for byte.
# Usage: resume_bn_dropout.sh path/to/ember_resume_bn_dropout
set -euo pipefail
exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$exe" straight "$dir/straight.safetensors"
"$exe" first "$dir/run.ckpt"
"$exe" resume "$dir/run.ckpt" "$dir/resumed.safetensors"
cmp "$dir/straight.safetensors" "$dir/resumed.safetensors"
echo "resumed run ends with the same state_dict, byte for byte"
