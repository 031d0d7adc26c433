#!/usr/bin/env bash
# One side-by-side run: ember's benchmarks, then PyTorch on the same work, in one go; writes
# docs/performance_table.md and docs/performance.png. Needs a Release build in build/,
# MNIST_DIR, and Debian's python3-torch, libopenblas0-openmp and python3-matplotlib.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
: "${MNIST_DIR:?set MNIST_DIR to the MNIST folder}"
cmake --build build --target ember_bench -j"$(nproc)"
EMBER_THREADS=$threads ./build/bench/ember_bench --benchmark_min_time=0.3 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_out=build/bench.json --benchmark_out_format=json
# PyTorch at its best: its CPU allocator returns large blocks to the OS, and on these VMs the page
# faults of re-touching them cost more than the kernels (conv forward at batch 64: ~9 ms instead of
# ~0.2 ms). glibc's thresholds at their maximum (32 MB) keep those blocks in the heap.
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184 \
/usr/bin/python3 bench/compare_pytorch.py --ember-json build/bench.json --threads "$threads" \
  --mnist-dir "$MNIST_DIR" --out docs/performance_table.md --plot docs/performance.png "$@"
