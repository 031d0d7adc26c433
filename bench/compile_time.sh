#!/usr/bin/env bash
# How long the README's first program (the seed MLP, `## The program`) takes to compile, as a user
# compiles it (issue 24, point 6): g++ -O2, the flags ember::ember gives, three runs, the fastest
# kept; then the same with -march=native and with EMBER_NO_DISPATCH (the kernels for the flags'
# instruction set only), to show what the run-time dispatch costs at compile time.
# With clang installed, clang++ -ftime-trace writes where the time goes to /tmp/ember-compile/*.json
# (open it in chrome://tracing or https://ui.perfetto.dev).
# Usage: bash bench/compile_time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=/tmp/ember-compile
rm -rf "$out" && mkdir -p "$out"
python3 tests/docs_blocks/extract_cpp.py "$out" README.md >/dev/null
program=$out/README_0.cpp
flags=(-std=c++20 -fopenmp -Iinclude -I/usr/include/eigen3 -DEIGEN_STACK_ALLOCATION_LIMIT=524288 -DEIGEN_DONT_PARALLELIZE -DNDEBUG)
best() {  # the fastest of three compiles and links, in seconds
  for _ in 1 2 3; do
    local start=$(date +%s%N)
    "$@" "$program" -o "$out/a.out"
    echo $(( ($(date +%s%N) - start) / 1000000 ))
  done | sort -n | head -1 | awk '{ printf "%.2f", $1 / 1000 }'
}
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(g++ --version | head -1), the README's first program"
printf 'g++ -O2                         %s s\n' "$(best g++ -O2 "${flags[@]}")"
printf 'g++ -O2 -march=native           %s s\n' "$(best g++ -O2 -march=native "${flags[@]}")"
printf 'g++ -O2 -DEMBER_NO_DISPATCH     %s s\n' "$(best g++ -O2 -DEMBER_NO_DISPATCH "${flags[@]}")"
printf 'g++ -O3 -march=native           %s s\n' "$(best g++ -O3 -march=native "${flags[@]}")"
if command -v clang++-14 >/dev/null; then
  clang++-14 -O2 -ftime-trace "${flags[@]/-fopenmp/-fopenmp=libgomp}" -c "$program" -o "$out/README_0.o"
  echo "clang++-14 -ftime-trace: $out/README_0.json"
fi
