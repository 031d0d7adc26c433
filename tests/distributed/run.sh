#!/usr/bin/env bash
# The data-parallel tests under mpirun (registered in tests/CMakeLists.txt):
#   run.sh MPIEXEC PROGRAM CASE
# CASE: equivalence_1 | equivalence_2 | equivalence_4 | resume_2_to_4 | resume_2_to_1 |
#       failing_rank_throw | failing_rank_uncaught | failing_rank_kill
set -euo pipefail
mpiexec=$1 program=$2 case=$3
flags=()
if grep -q -E "Open MPI|OpenRTE" <<<"$("$mpiexec" --version 2>&1)"; then
  flags+=(--oversubscribe)  # 4 ranks on 2 cores
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # CI runs as root
  export OMPI_MCA_rmaps_base_oversubscribe=1
fi
export OMP_NUM_THREADS=1
run() {
  local n=$1
  shift
  "$mpiexec" "${flags[@]}" -n "$n" "$program" "$@"
}
case $case in
  equivalence_[124]) run "${case#equivalence_}" equivalence ;;
  resume_2_to_[14])
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    run 2 save "$dir" 5
    run "${case#resume_2_to_}" resume "$dir"
    ;;
  failing_rank_*)
    how=${case#failing_rank_}
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    start=$SECONDS
    set +e
    timeout 120 "$mpiexec" "${flags[@]}" -n 4 "$program" "$how" >"$log" 2>&1
    rc=$?
    set -e
    seconds=$((SECONDS - start))
    cat "$log"
    echo "run.sh: $how on rank 3 of 4: exit $rc after $seconds s"
    [ "$rc" -ne 0 ] || { echo "run.sh: FAILED: the job exited 0"; exit 1; }
    [ "$rc" -ne 124 ] || { echo "run.sh: FAILED: the job hung (killed by timeout after 120 s)"; exit 1; }
    [ "$seconds" -lt 30 ] || { echo "run.sh: FAILED: the job took $seconds s to end (30 s at most)"; exit 1; }
    grep -q "rank 3" "$log" || { echo "run.sh: FAILED: no message names rank 3"; exit 1; }
    if [ "$how" != kill ]; then
      grep -q "a file missing on one rank" "$log" || { echo "run.sh: FAILED: the cause is not in the output"; exit 1; }
    fi
    ;;
  *) echo "run.sh: unknown case $case" >&2; exit 2 ;;
esac
