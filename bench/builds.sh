#!/usr/bin/env bash
# ember's speed in the builds users make (issue 24, point 5): the same epoch benchmarks compiled
# five ways, then run one after the other, twice, alternating, in one session:
#   native       ember's own:  Release with EMBER_NATIVE (-O3 -march=native)
#   haswell      an AVX2 laptop's native build: -O3 -march=haswell
#   O3           CMake's plain Release (what a find_package user gets): -O3, no -march
#   O2           -O2, no -march
#   O2-native    -O2 -march=native
# Without -march the hot kernels still run AVX2 / AVX-512 code, chosen at run time
# (kernels/isa.hpp). Prints each build's epoch times and its ratio to the native build.
# Usage: MNIST_DIR=... bash bench/builds.sh [FILTER]  (default: the seed MLP and CNN epochs)
# Builds in /tmp/ember-builds/<name> (about 40 s each on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-'^epoch/(mlp_784_128_10|cnn_seed)/'}
root=/tmp/ember-builds
declare -A flags=(
  [native]="-DEMBER_NATIVE=ON"
  [haswell]="-DEMBER_NATIVE=OFF -DCMAKE_CXX_FLAGS_RELEASE=-O3\ -DNDEBUG\ -march=haswell"
  [O3]="-DEMBER_NATIVE=OFF"
  [O2]="-DEMBER_NATIVE=OFF -DCMAKE_CXX_FLAGS_RELEASE=-O2\ -DNDEBUG"
  [O2-native]="-DEMBER_NATIVE=OFF -DCMAKE_CXX_FLAGS_RELEASE=-O2\ -DNDEBUG\ -march=native"
)
builds=(native haswell O3 O2 O2-native)
for b in "${builds[@]}"; do
  eval "extra=(${flags[$b]})"
  cmake -S . -B "$root/$b" -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_EXAMPLES=OFF \
        "${extra[@]}" >/dev/null
  echo "== building $b: $(grep -E '^CMAKE_CXX_FLAGS_RELEASE:' "$root/$b/CMakeCache.txt" | cut -d= -f2-)"
  cmake --build "$root/$b" --target ember_bench -j"$(nproc)" >/dev/null
done
declare -A times names
for round in 1 2; do
  for b in "${builds[@]}"; do
    while read -r name seconds; do
      times[$b,$name]="${times[$b,$name]:-}${times[$b,$name]:+, }$seconds"
      names[$name]=1
    done < <("$root/$b/bench/ember_bench" --benchmark_filter="$filter" --benchmark_format=csv 2>/dev/null |
             awk -F, 'NR > 1 { gsub(/"/, "", $1); split($1, n, "/iterations"); print n[1], $3 }')
  done
done
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) threads, seconds per epoch (round 1, round 2)"
for name in $(printf '%s\n' "${!names[@]}" | sort); do
  IFS=', ' read -r -a base <<< "${times[native,$name]}"
  for b in "${builds[@]}"; do
    IFS=', ' read -r -a t <<< "${times[$b,$name]}"
    ratio=$(awk -v a="${t[0]}" -v b="${t[1]}" -v c="${base[0]}" -v d="${base[1]}" 'BEGIN { printf "%.2f", (a + b) / (c + d) }')
    printf '%-24s %-10s %s s   %sx native\n' "$name" "$b" "${times[$b,$name]}" "$ratio"
  done
done
