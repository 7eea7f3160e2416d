#!/usr/bin/env bash
# Installs dependencies, builds and runs the test suite.
#   ./scripts/test.sh          quick: one RelWithDebInfo build, every test
#   ./scripts/test.sh --full   also the whole suite under ASan+UBSan and under TSan,
#                              and the libFuzzer targets (FUZZ_SECONDS each, default 30)
# Build directories are reused between runs (build/, build-asan/, build-tsan/).
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

if [ "$full" -eq 1 ]; then ./scripts/install-deps.sh --full; else ./scripts/install-deps.sh; fi

run_suite() {  # run_suite BUILD_DIR CTEST_ARGS -- [CMAKE_ARGS...]
  local dir=$1 ctest_args=$2
  shift 3
  echo "== build $dir $*"
  ./scripts/build.sh "$dir" "$@" | tail -1
  echo "== test $dir $ctest_args"
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j2 --timeout 300 $ctest_args
}

run_suite build "" --
if [ "$full" -eq 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
  run_suite build-asan "" -- -DWC_SANITIZE_ADDRESS=ON
  # Debian's prebuilt gRPC and Abseil hide their synchronisation from TSan
  # (thousands of false reports): the gRPC tests run under ASan only, and our
  # own concurrency is exercised without gRPC in tests/integration/concurrency_test.cc.
  run_suite build-tsan "-LE grpc" -- -DWC_SANITIZE_THREAD=ON
  echo "== fuzz"
  ./scripts/fuzz.sh
fi
