#!/usr/bin/env bash
# The MNIST speedrun for five seeds, ember (examples/mnist_speedrun) and its PyTorch twin
# (bench/speedrun.py) alternating, then each side's mean accuracy and times.
#   MNIST_DIR=/path/to/mnist bash bench/speedrun.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
: "${MNIST_DIR:?set MNIST_DIR to the folder of the four MNIST IDX files}"
ember_log=$(mktemp) torch_log=$(mktemp)
trap 'rm -f "$ember_log" "$torch_log"' EXIT
for seed in 0 1 2 3 4; do
  "$build/examples/mnist_speedrun" --seed "$seed" --threads 2 --data "$MNIST_DIR" | tee -a "$ember_log"
  /usr/bin/python3 bench/speedrun.py --seed "$seed" --threads 2 --data "$MNIST_DIR" | sed 's/^/torch /' | tee -a "$torch_log"
done
summary() {  # "seed S: test accuracy A%, T s" lines -> mean accuracy, slowest and mean time
  awk -v who="$1" '{gsub("%,", ""); a += $(NF-2); t += $(NF-1); if ($(NF-1) > m) m = $(NF-1); n++}
    END {printf "%s: mean test accuracy %.2f%% over %d seeds; mean %.2f s, slowest %.2f s\n", who, a / n, n, t / n, m}' "$2"
}
summary ember "$ember_log"
summary "torch 1.13" "$torch_log"
