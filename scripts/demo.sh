#!/usr/bin/env bash
# The main job end to end: builds, starts the Workato stand-in and the server
# on loopback, connects a workspace, syncs it and prints its users.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/build.sh build >/dev/null
echo "built build/server/workato-connector-server and build/client/workato-connector-cli"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
workato_port=${DEMO_WORKATO_PORT:-$(free_port)}
grpc_port=${DEMO_GRPC_PORT:-$(free_port)}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A throwaway token for the stand-in, kept in a 0600 file, never on a command line.
umask 077
head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$work/token"

build/tests/fake_workato/fake-workato --port="$workato_port" --token_file="$work/token" \
  --users=25 --workspace_name="Acme Demo" >"$work/workato.log" 2>&1 &
pids+=($!)
build/server/workato-connector-server --listen="127.0.0.1:$grpc_port" \
  --store="sqlite:$work/data/connector.db" \
  --workato_url_override="US=http://127.0.0.1:$workato_port" >"$work/server.log" 2>&1 &
pids+=($!)

cli() { build/client/workato-connector-cli --server="127.0.0.1:$grpc_port" "$@"; }
for _ in $(seq 1 100); do
  if cli connections >/dev/null 2>&1 && grep -q listening "$work/workato.log"; then break; fi
  sleep 0.1
done

echo
echo "== connect (data center US, served by the stand-in on 127.0.0.1:$workato_port)"
cli connect --data_center=US --token_file="$work/token" --display_name="Acme (demo)" \
  | tee "$work/connect.txt"
id=$(awk 'NR==2 {print $1}' "$work/connect.txt")

echo
echo "== sync $id"
cli sync "$id"

echo
echo "== users of $id"
cli users "$id"

echo
echo "== connections"
cli connections
echo
echo "demo finished: server log lines: $(wc -l <"$work/server.log") (JSON on stderr)"
