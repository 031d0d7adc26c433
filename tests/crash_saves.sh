#!/usr/bin/env bash
# kill -9 during checkpoint saves: a process saving DIR/run.ckpt in a loop is killed at a random
# moment, TRIALS times (default 50); after each kill the file must load and be one whole save (the
# old state or the new one, never a mix or an older one), and the next save must leave no
# temporary file behind (those of the killed saves included).
# Usage: crash_saves.sh path/to/ember_crash_saves [TRIALS]
set -euo pipefail
exe=$1
trials=${2:-50}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$exe" save "$dir" 1 1  # the first checkpoint, whole
last=1  # the step of the last save known to be complete
mid_save=0
for ((t = 1; t <= trials; t++)); do
  "$exe" save "$dir" $((last + 1)) &
  pid=$!
  sleep "0.$(printf '%03d' $((50 + RANDOM % 150)))"  # 50-199 ms: the end of startup, then saves
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  read -r step temporaries < <("$exe" check "$dir") || { echo "trial $t: the checkpoint did not load"; exit 1; }
  if ((step < last)); then
    echo "trial $t: the checkpoint went back from step $last to $step"
    exit 1
  fi
  last=$((step + 1))  # check saved step + 1
  mid_save=$((mid_save + (temporaries > 0)))
done
echo "$trials kills: the checkpoint loaded whole every time (last step $last); $mid_save kills left a temporary file, removed by the next save"
