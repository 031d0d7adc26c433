#!/usr/bin/env bash
# Installs what ember's build, tests and examples need on Debian 12, if anything is missing; more
# packages may be named as arguments (scripts/test_sanitizers.sh adds clang's).
set -euo pipefail
packages=(cmake make g++ libeigen3-dev catch2 libcli11-dev libbenchmark-dev nlohmann-json3-dev zlib1g-dev libplplot-dev plplot-driver-cairo libstb-dev libopenmpi-dev openmpi-bin python3 curl ca-certificates "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "ember: installing ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
