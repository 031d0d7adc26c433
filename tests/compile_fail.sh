#!/usr/bin/env bash
# Each tests/compile_fail/*.cpp must compile with -DCONTROL (the right way) and fail without it,
# with the message its "EXPECT:" line names (so a typo cannot pass for the refusal).
# Usage: compile_fail.sh CXX INCLUDE_DIR... (the compiler and ember's and Eigen's include dirs)
set -uo pipefail
cxx=$1
shift
flags=(-std=c++20 -fsyntax-only -DEIGEN_DONT_PARALLELIZE)
for dir in "$@"; do flags+=(-I"$dir"); done
status=0
for file in "$(dirname "$0")"/compile_fail/*.cpp; do
  expect=$(sed -n 's/.*EXPECT: //p' "$file" | head -1)
  if ! out=$("$cxx" "${flags[@]}" -DCONTROL "$file" 2>&1); then
    echo "FAIL $(basename "$file"): the right way does not compile:"; echo "$out" | head -20; status=1; continue
  fi
  if out=$("$cxx" "${flags[@]}" "$file" 2>&1); then
    echo "FAIL $(basename "$file"): the misuse compiles"; status=1
  elif ! grep -q "$expect" <<<"$out"; then
    echo "FAIL $(basename "$file"): refused, but not with \"$expect\":"; echo "$out" | head -20; status=1
  else
    echo "ok   $(basename "$file"): refused with \"$expect\""
  fi
done
exit $status
