#!/usr/bin/env bash
# Fetches the four MNIST IDX files into data/mnist (or $1) from the public mirrors, and checks
# each file's md5 after decompression. Does nothing when the files are already there.
set -euo pipefail
dest=${1:-data/mnist}
mirrors=(https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist)
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
mkdir -p "$dest"
for name in "${!md5[@]}"; do
  file="$dest/$name"
  if [ -f "$file" ] && [ "$(md5sum < "$file" | cut -d' ' -f1)" = "${md5[$name]}" ]; then continue; fi
  ok=""
  for mirror in "${mirrors[@]}"; do
    echo "download_mnist: $mirror/$name.gz"
    if curl -fsSL --retry 2 -o "$file.gz.part" "$mirror/$name.gz" && gunzip -c "$file.gz.part" > "$file.part" &&
       [ "$(md5sum < "$file.part" | cut -d' ' -f1)" = "${md5[$name]}" ]; then
      mv "$file.part" "$file"
      rm -f "$file.gz.part"
      ok=1
      break
    fi
    rm -f "$file.part" "$file.gz.part"
  done
  [ -n "$ok" ] || { echo "download_mnist: could not fetch $name with the right checksum from any mirror" >&2; exit 1; }
done
echo "download_mnist: the four MNIST files are in $dest"
