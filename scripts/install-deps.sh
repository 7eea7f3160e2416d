#!/usr/bin/env bash
# Installs every Debian 12 package needed to build and test workato-connector.
# Used by scripts/demo.sh, scripts/test.sh, .ci/run and the Dockerfile, so a
# fresh machine and the image agree on one list. Idempotent; needs root.
#   --full  also what the sanitizer and fuzzing runs need (clang, libFuzzer)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  grpc-proto libabsl-dev
  libcurl4-openssl-dev libssl-dev
  libsimdjson-dev libsqlite3-dev prometheus-cpp-dev
  libcpp-httplib-dev
  libgtest-dev libgmock-dev
  curl python3
)
if [ "${1:-}" = "--full" ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
