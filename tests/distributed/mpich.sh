#!/usr/bin/env bash
# <ember/distributed.hpp> against MPICH (Debian: libmpich-dev mpich, beside Open MPI): the test
# program compiled by MPICH's mpicxx and run by its mpiexec, 2 ranks (equivalence) and 4 (a rank
# that throws). Registered by tests/CMakeLists.txt when mpicxx.mpich and mpiexec.mpich are here.
# Usage: mpich.sh SOURCE_DIR EIGEN_INCLUDE_DIR
set -euo pipefail
src=$1 eigen=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpicxx.mpich -std=c++20 -O1 -fopenmp -DMPICH_SKIP_MPICXX -DEIGEN_DONT_PARALLELIZE -DEIGEN_STACK_ALLOCATION_LIMIT=524288 \
  -I"$src/include" -I"$src/tests/support" -I"$eigen" "$src/tests/distributed/distributed.cpp" -o "$out/distributed"
export OMP_NUM_THREADS=1
mpiexec.mpich -n 2 "$out/distributed" equivalence
set +e
timeout 60 mpiexec.mpich -n 4 "$out/distributed" throw >"$out/log" 2>&1
rc=$?
set -e
cat "$out/log"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "rank 3: MNIST: cannot open" "$out/log" ||
  { echo "mpich.sh: FAILED: a rank that throws must end the MPICH job with its message (exit $rc)"; exit 1; }
echo "mpich.sh: built and ran against MPICH"
