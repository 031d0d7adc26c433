#!/usr/bin/env bash
# examples/predict on pictures of digits, with a CNN trained 2 epochs by mnist_cnn --save: the
# first 25 MNIST test digits as PNGs (>= 24 right) and drawn dark on a larger, off-centre light
# canvas (>= 22 right); bad files give one line and a non-zero exit.
# Usage: predict.sh path/to/mnist_cnn path/to/predict path/to/predict_digits; skipped (77) without MNIST_DIR.
set -euo pipefail
cnn=$1 predict=$2 digits=$3
if [ -z "${MNIST_DIR:-}" ] || [ ! -e "$MNIST_DIR" ]; then
  echo "MNIST_DIR not set: skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$cnn" --threads 2 --epochs 2 --quiet --save "$dir/cnn.safetensors"
"$digits" "$MNIST_DIR" "$dir"

# Lines "DIR/NN_L.png: D (P%), ...": right when D is L.
right() {
  "$predict" --weights "$dir/cnn.safetensors" "$dir/$1"/*.png | tee "$dir/$1.txt" >&2
  awk -F': ' '{ n = split($1, parts, "_"); label = substr(parts[n], 1, 1); if (substr($2, 1, 1) == label) right++ }
              END { print right + 0 }' "$dir/$1.txt"
}
as_mnist=$(right mnist)
on_canvas=$(right canvas)
echo "right: $as_mnist of 25 as MNIST has them, $on_canvas of 25 drawn dark on light canvas"
[ "$as_mnist" -ge 24 ] && [ "$on_canvas" -ge 22 ]

# Bad files: one line on stderr each, a non-zero exit, and the good pictures still classified.
fails_with() {  # fails_with "expected text" predict-arguments...
  local want=$1
  shift
  if "$predict" "$@" >"$dir/out.txt" 2>"$dir/err.txt"; then
    echo "predict $* succeeded, expected a failure"
    exit 1
  fi
  cat "$dir/err.txt"
  grep -q -- "$want" "$dir/err.txt" || { echo "expected '$want'"; exit 1; }
  [ "$(wc -l <"$dir/err.txt")" -eq 1 ] || { echo "expected one line"; exit 1; }
}
echo "not a picture" >"$dir/note.png"
fails_with "missing.png: no such file" --weights "$dir/cnn.safetensors" "$dir/missing.png" "$dir/mnist/00_7.png"
grep -q "00_7.png: [0-9] (" "$dir/out.txt"  # the good picture is still classified
fails_with "note.png: not an image" --weights "$dir/cnn.safetensors" "$dir/note.png"
fails_with "not a safetensors file" --weights "$dir/note.png" "$dir/mnist/00_7.png"
# A safetensors file without the examples' metadata (as PyTorch's save_file writes).
printf '\x20\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{"format":"pt"}}' >"$dir/plain.safetensors"
fails_with "no \"ember.model\" in its metadata" --weights "$dir/plain.safetensors" "$dir/mnist/00_7.png"
echo "bad files: one line each and a non-zero exit"
