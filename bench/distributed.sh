#!/usr/bin/env bash
# Data-parallel training on this machine, side by side in one run (docs/distributed.md):
#   1. ember_bench_distributed (allreduce latency and bandwidth, DDP epochs, the overlap) as
#      1 process x 2 threads and as 2 ranks x 1 thread;
#   2. mnist_distributed trained both ways: the seed CNN for 10 epochs and LeNet-5 for 3, each
#      epoch's test accuracy and seconds, and the training time until the test accuracy first
#      reached 98%.
# Usage: MNIST_DIR=... bash bench/distributed.sh [BUILD_DIR]   (default build/)
set -euo pipefail
build=${1:-build}
: "${MNIST_DIR:?set MNIST_DIR to the MNIST files}"
export MNIST_DIR OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # as root, Open MPI asks for both
bench=$build/bench/ember_bench_distributed example=$build/examples/mnist_distributed
# One process with 2 threads needs both cores: no binding (mpirun binds a 1- or 2-rank job's ranks
# to a core each by default, which would put both threads on one core). Two ranks of one thread:
# Open MPI's default, a core each (--report-bindings shows it).
one=(mpirun -n 1 --bind-to none env OMP_NUM_THREADS=2)
two=(mpirun -n 2 --bind-to core --report-bindings env OMP_NUM_THREADS=1)

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(mpirun --version | head -1)"
echo "== ember_bench_distributed, 1 process x 2 threads"
"${one[@]}" "$bench" --benchmark_filter='ddp_epoch|ddp_overlap'
echo "== ember_bench_distributed, 2 ranks x 1 thread"
"${two[@]}" "$bench"

# Cumulative training seconds until the first epoch at >= 98% test accuracy.
to98() { awk '/^epoch/ { t += $(NF-1); if ($8 + 0 >= 98 && !done) { printf "time to 98%%: %.2f s (epoch %d)\n", t, $2; done = 1 } }
              END { if (!done) print "time to 98%: not reached" }'; }
for run in "cnn 10" "lenet 3"; do
  set -- $run
  for way in one two; do
    if [ $way = one ]; then cmd=("${one[@]}" "$example" --threads 2); else cmd=("${two[@]}" "$example" --threads 1); fi
    echo "== mnist_distributed --model $1 --epochs $2, $([ $way = one ] && echo '1 process x 2 threads' || echo '2 ranks x 1 thread')"
    out=$("${cmd[@]}" --model "$1" --epochs "$2" 2>&1 | grep -v "bound to")
    echo "$out"
    echo "$out" | to98
  done
done
