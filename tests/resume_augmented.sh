#!/usr/bin/env bash
# A run with RandomCrop + RandomAffine + Normalize, shuffling, Dropout and OneCycleLR per batch,
# 21 steps (3 epochs of 7 batches) straight, and checkpointed at step 10 (mid-epoch: batch 3 of
# the second epoch), 7 (an epoch's end) and 1 (after the first batch), resumed to 21 in a fresh
# process whose generators were disturbed, must end with the same checkpoint, byte for byte:
# state_dict, optimizer state, schedule, Dropout's generators, the loader's order and generator.
# With SGD (momentum) and Adam.
# Usage: resume_augmented.sh path/to/ember_resume_augmented
set -euo pipefail
exe=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for opt in sgd adam; do
  "$exe" straight $opt "$dir/straight.ckpt"
  for stop in 10 7 1; do
    out=$("$exe" first $opt $stop "$dir/run.ckpt")
    echo "$out"
    case $stop in  # the checkpoints are where they are meant to be
      10) grep -q "the epoch goes on with batch 3$" <<<"$out" ;;
      7) grep -q "no epoch under way$" <<<"$out" ;;
      1) grep -q "the epoch goes on with batch 1$" <<<"$out" ;;
    esac
    "$exe" resume $opt "$dir/run.ckpt" "$dir/resumed.ckpt"
    cmp "$dir/straight.ckpt" "$dir/resumed.ckpt"
    echo "$opt, resumed after step $stop: the same checkpoint at step 21, byte for byte"
  done
done
