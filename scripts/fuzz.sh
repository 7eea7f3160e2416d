#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) in build-fuzz/ and runs
# each for FUZZ_SECONDS (default 30) from its seed corpus. Fails on any crash,
# leak or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DWC_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! ninja -C build-fuzz >build-fuzz/ninja.log 2>&1; then
  echo "fuzz: the fuzzers do not build:" >&2
  grep -E "error|undefined reference" build-fuzz/ninja.log | head -20 >&2
  exit 1
fi
tail -1 build-fuzz/ninja.log
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for name in collaborators page_token inputs; do
  corpus=$(mktemp -d)
  cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz $name for ${seconds}s"
  log=$(mktemp)
  build-fuzz/tests/fuzz/"${name}_fuzzer" -max_total_time="$seconds" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ -print_final_stats=1 "$corpus" >"$log" 2>&1 || {
    echo "fuzzer $name failed:"; grep -E '^==[0-9]+==|SUMMARY|^#' "$log" | tail -40; exit 1; }
  grep -E '^Done|stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
  rm -f "$log"
  rm -rf "$corpus"
done
