#!/usr/bin/env bash
# Configures and builds one build directory: scripts/build.sh [DIR [CMAKE_ARGS...]].
# Shared by demo.sh and test.sh so that every entry point builds the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
else
  cmake "$dir" "$@" >/dev/null
fi
ninja -C "$dir"
