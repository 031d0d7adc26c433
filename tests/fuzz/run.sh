#!/usr/bin/env bash
# Builds ember's libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default
# 45) from its committed seed corpus; exits non-zero on any finding (a crash, a sanitizer report,
# an exception other than ember::Error, a load that changed what it failed to load into, more
# than RSS_MB of memory or TIMEOUT seconds on one input).
#   JOBS=2 tests/fuzz/run.sh [SECONDS] [TARGET...]   (targets: idx idx_gzip mnist safetensors checkpoint)
# JOBS (default 1) fuzzers are built and run at a time. Needs clang-14 and libclang-rt-14-dev
# (scripts/test_sanitizers.sh installs them).
# Everything it writes (binaries, new corpus units, crash reproducers, logs) goes under
# $EMBER_FUZZ_DIR (default: a folder in $TMPDIR or /tmp), never into the repository; the
# binaries are kept there and rebuilt only when a source or header is newer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-45}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx idx_gzip mnist safetensors checkpoint)
work=${EMBER_FUZZ_DIR:-${TMPDIR:-/tmp}/ember_fuzz}
rss_mb=${RSS_MB:-1536}   # per process; the issue's bound is 1.5 GB per input
timeout_s=${TIMEOUT:-10} # per input
CXX=${CXX_FUZZ:-clang++-14}
command -v "$CXX" >/dev/null || CXX=clang++
mkdir -p "$work"

# Input size limits: a few times the largest seed (the checkpoints' two generator states in the
# metadata make them ~15 KB).
declare -A max_len=([idx]=1024 [idx_gzip]=1024 [mnist]=2048 [safetensors]=4096 [checkpoint]=20000)
declare -A dict=([safetensors]=safetensors.dict [checkpoint]=safetensors.dict)

build() {
  local t=$1 bin=$work/fuzz_$1
  if [ -x "$bin" ] && [ -z "$(find "$here" "$root/include" -newer "$bin" \( -name '*.cpp' -o -name '*.hpp' \) -print -quit)" ]; then
    return
  fi
  echo "fuzz: building $t"
  nice -n 10 "$CXX" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$root/include" -I/usr/include/eigen3 -DEIGEN_STACK_ALLOCATION_LIMIT=524288 -DEIGEN_DONT_PARALLELIZE \
    -DEMBER_HAVE_ZLIB "$here/fuzz_$t.cpp" -lz -o "$bin.tmp"
  mv "$bin.tmp" "$bin"
}
command -v "$CXX" >/dev/null || { echo "fuzz: no clang++ (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }

# One target: its run's log and exit status go to $work/<target>.log and .rc.
fuzz_one() {
  local t=$1 corpus=$work/corpus_$1 artifacts=$work/artifacts_$1 log=$work/$1.log
  mkdir -p "$corpus" "$artifacts"  # new units go to corpus_<t>; the committed seeds are only read
  local args=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb="$rss_mb" -timeout="$timeout_s"
              -artifact_prefix="$artifacts/" -print_final_stats=1)
  [ -n "${dict[$t]:-}" ] && args+=(-dict="$here/${dict[$t]}")
  echo "fuzz: $t for ${seconds}s (max_len ${max_len[$t]}, ${rss_mb} MB, ${timeout_s} s per input)"
  local rc=0
  (cd "$work" && UBSAN_OPTIONS=print_stacktrace=1 nice -n 10 "$work/fuzz_$t" "${args[@]}" "$corpus" "$here/corpus/$t") \
    >"$log" 2>&1 || rc=$?
  echo $rc >"$work/$t.rc"
}

# Build, then run, up to $JOBS at a time (CI: JOBS=2 on its 2 cores).
jobs=${JOBS:-1}
for t in "${targets[@]}"; do
  [ -f "$here/fuzz_$t.cpp" ] || { echo "fuzz: no target $t" >&2; exit 2; }
done
for phase in build fuzz_one; do
  pids=()
  for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    $phase "$t" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { [ $phase = build ] && { echo "fuzz: build failed" >&2; exit 2; }; }; done
done

status=0
for t in "${targets[@]}"; do
  rc=$(cat "$work/$t.rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  echo "fuzz: $t: ${execs:-?} executions in ${seconds}s, exit $rc"
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fuzz: $t FAILED; log $work/$t.log, reproducer in $work/artifacts_$t/:" >&2
    grep -aE '==ember fuzz==|ERROR: |runtime error|SUMMARY' "$work/$t.log" | head -20 >&2 || true
    ls "$work/artifacts_$t" >&2
  fi
done
exit $status
