#!/usr/bin/env bash
# The built binaries end to end: fake-workato and workato-connector-server on
# loopback, driven by workato-connector-cli. Checks output, exit codes, every
# way of passing the token, and that the token never reaches the server's log.
# Usage: tests/cli_test.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: cli_test.sh BUILD_DIR}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
check() {  # check NAME COMMAND...: passes when COMMAND succeeds.
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

token="cli-test-token-$RANDOM$RANDOM"
printf '%s\n' "$token" >"$work/token"
wport=$(free_port)
gport=$(free_port)
"$build/tests/fake_workato/fake-workato" --port="$wport" --token_file="$work/token" --users=12 \
  >"$work/workato.log" 2>&1 &
pids+=($!)
start_server() {  # start_server [EXTRA_FLAGS...]
  # The store comes from the environment, as a ConfigMap would give it.
  WORKATO_CONNECTOR_STORE="sqlite:$work/data/connector.db" \
    "$build/server/workato-connector-server" --listen="127.0.0.1:$gport" --metrics_listen= \
    --workato_url_override="US=http://127.0.0.1:$wport" "$@" 2>>"$work/server.log" &
  server_pid=$!
  pids+=($server_pid)
  for _ in $(seq 1 100); do
    cli connections >/dev/null 2>&1 && break
    sleep 0.1
  done
}
cli() { "$build/client/workato-connector-cli" --server="127.0.0.1:$gport" "$@"; }
start_server
for _ in $(seq 1 100); do
  grep -q listening "$work/workato.log" && break
  sleep 0.1
done

check "health is SERVING" test "$(cli health)" = SERVING

# Token from a file; table output.
cli connect --data_center=US --token_file="$work/token" >"$work/connect.txt"
check "connect prints the connection" grep -q "ACTIVE" "$work/connect.txt"
id=$(awk 'NR==2 {print $1}' "$work/connect.txt")
check "connection id" test -n "$id"
# Token from the environment and from stdin reconnect the same workspace.
WORKATO_API_TOKEN="$token" cli connect --data_center=us --json >"$work/env.json"
check "token from env, same id" grep -q "\"id\": \"$id\"" "$work/env.json"
cli connect --data_center=US <"$work/token" >"$work/stdin.txt" 2>/dev/null
check "token from stdin, same id" grep -q "$id" "$work/stdin.txt"

cli sync "$id" >"$work/sync.txt"
check "sync reports 12 active" grep -q "12 active" "$work/sync.txt"
cli users "$id" >"$work/users.txt"
check "users lists 12" grep -q "^12 users" "$work/users.txt"
check "users have the license" test "$(grep -c ' Workato$' "$work/users.txt")" -eq 12
cli --json users "$id" --page_size=5 >"$work/users.json"
check "json users" python3 -c "
import json,sys; d=json.load(open('$work/users.json'))
assert len(d['users'])==12, d
assert all(u['licenses']==['Workato'] and u['state']=='ACTIVE' for u in d['users'])"

# Errors: non-zero exit and the server's code and reason.
printf 'wrong-token\n' >"$work/bad"
cli connect --data_center=US --token_file="$work/bad" 2>"$work/err.txt"
check "bad token exits 1" test $? -eq 1
check "bad token says UNAUTHENTICATED" grep -q "UNAUTHENTICATED (TOKEN_REJECTED)" "$work/err.txt"
cli connect --data_center=MARS --token_file="$work/token" 2>/dev/null
check "unknown data center exits 2" test $? -eq 2
cli sync conn_missing 2>"$work/err.txt"
check "missing connection exits 1" test $? -eq 1
check "missing connection is NOT_FOUND" grep -q "NOT_FOUND (CONNECTION_NOT_FOUND)" "$work/err.txt"
cli users 2>/dev/null
check "users without id exits 2" test $? -eq 2

cli runs "$id" >"$work/runs.txt"
check "runs lists the sync" grep -q "SUCCEEDED" "$work/runs.txt"

# Durable store: a clean restart keeps everything.
cli --json users "$id" --show_removed >"$work/before.json"
kill -TERM "$server_pid"
wait "$server_pid"
check "server exits 0 on SIGTERM" test $? -eq 0
start_server
cli --json users "$id" --show_removed >"$work/after.json"
check "users identical after a restart" cmp -s "$work/before.json" "$work/after.json"

# kill -9 during a slow sync of a changed workspace: the previous snapshot stays.
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
"$build/tests/fake_workato/fake-workato" --port="$wport" --token_file="$work/token" --users=5 \
  --members_delay=3s >"$work/workato2.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$work/workato2.log" && break; sleep 0.1; done
cli sync "$id" >/dev/null 2>&1 &
sleep 1
kill -KILL "$server_pid"
wait "$server_pid" 2>/dev/null
start_server
cli --json users "$id" --show_removed >"$work/crashed.json"
check "users identical after kill -9 mid-sync" cmp -s "$work/before.json" "$work/crashed.json"
check "the token is nowhere on disk" bash -c "! grep -rqa '$token' '$work/data'"
check "the key file is private" test "$(stat -c %a "$work/data/token.key")" = 600

check "the store came from WORKATO_CONNECTOR_STORE" test -f "$work/data/connector.db"

restart_fake() {  # restart_fake USERS DELAY
  pkill -f "fake-workato --port=$wport" 2>/dev/null || true
  sleep 0.2
  "$build/tests/fake_workato/fake-workato" --port="$wport" --token_file="$work/token" \
    --users="$1" --members_delay="$2" >"$work/workato3.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q listening "$work/workato3.log" && break; sleep 0.1; done
}

# Graceful shutdown, a call in flight that fits in the drain: it completes,
# health stops saying SERVING at once, and the server exits 0.
restart_fake 12 1500ms
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null
start_server --drain_timeout=10s
cli sync "$id" >"$work/drained.txt" 2>&1 &
sync_pid=$!
sleep 0.5
kill -TERM "$server_pid"
sleep 0.2
check "health is not SERVING while draining" bash -c "! $build/client/workato-connector-cli --server=127.0.0.1:$gport --timeout=2s health >/dev/null 2>&1"
wait "$sync_pid"
check "the sync in flight finished during the drain" test $? -eq 0
wait "$server_pid"
check "server exits 0 after draining" test $? -eq 0

# A sync longer than the drain: cancelled cleanly, nothing half-stored.
start_server
cli --json users "$id" --show_removed >"$work/before-drain.json"
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null
restart_fake 3 30s
start_server --drain_timeout=1s
cli sync "$id" >/dev/null 2>&1 &
sync_pid=$!
sleep 0.5
started=$(date +%s)
kill -TERM "$server_pid"
wait "$server_pid"
check "server exits 0 when the drain runs out" test $? -eq 0
check "the drain deadline is kept" test $(( $(date +%s) - started )) -le 5
wait "$sync_pid"
check "the cut-off sync failed" test $? -ne 0
restart_fake 12 0s
start_server
cli --json users "$id" --show_removed >"$work/after-drain.json"
check "a sync cut by shutdown stored nothing" cmp -s "$work/before-drain.json" "$work/after-drain.json"

cli disconnect "$id" >/dev/null
check "disconnect" test $? -eq 0
cli connections >"$work/list.txt"
check "no connections left" test "$(wc -l <"$work/list.txt")" -eq 1

kill -TERM "$server_pid"
wait "$server_pid"
check "server log is JSON lines" python3 -c "
import json; [json.loads(l) for l in open('$work/server.log')]"
check "token never in the server log" bash -c "! grep -q '$token' '$work/server.log'"

# Caller security: TLS with a generated CA, caller tokens with both scopes.
"$build/server/workato-connector-server" --listen=0.0.0.0:0 --store=memory --metrics_listen= \
  2>"$work/exposed.log"
check "non-loopback without TLS or tokens refuses to start" test $? -eq 2
check "the refusal says why" grep -q "refusing to listen on 0.0.0.0:0" "$work/exposed.log"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=cli test CA" -keyout "$work/ca.key" -out "$work/ca.pem" >/dev/null 2>&1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$work/tls.key" -out "$work/tls.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$work/tls.ext"
openssl x509 -req -days 1 -in "$work/tls.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -extfile "$work/tls.ext" -out "$work/tls.crt" >/dev/null 2>&1
admin_token="cli-admin-$RANDOM$RANDOM-0123456789"
reader_token="cli-reader-$RANDOM$RANDOM-0123456789"
printf 'ops admin %s\nreporting read %s\n' "$admin_token" "$reader_token" >"$work/callers.txt"
printf '%s\n' "$admin_token" >"$work/admin_token"
"$build/server/workato-connector-server" --listen="127.0.0.1:$gport" --store=memory \
  --metrics_listen= --workato_url_override="US=http://127.0.0.1:$wport" \
  --tls_cert_file="$work/tls.crt" --tls_key_file="$work/tls.key" \
  --caller_tokens_file="$work/callers.txt" 2>>"$work/secure.log" &
server_pid=$!
pids+=($server_pid)
tcli() { cli --tls_ca_file="$work/ca.pem" "$@"; }
for _ in $(seq 1 100); do tcli health >/dev/null 2>&1 && break; sleep 0.1; done
check "health over TLS needs no caller token" test "$(tcli health)" = SERVING
cli --timeout=3s health >/dev/null 2>&1
check "plaintext client is refused by the TLS server" test $? -eq 1
tcli connections 2>"$work/err.txt"
check "no caller token exits 1" test $? -eq 1
check "no caller token is CALLER_UNAUTHENTICATED" \
  grep -q "UNAUTHENTICATED (CALLER_UNAUTHENTICATED)" "$work/err.txt"
tcli --caller_token_file="$work/admin_token" connect --data_center=US \
  --token_file="$work/token" >"$work/secure-connect.txt"
check "admin token from a file connects" grep -q ACTIVE "$work/secure-connect.txt"
secure_id=$(awk 'NR==2 {print $1}' "$work/secure-connect.txt")
WORKATO_CONNECTOR_CALLER_TOKEN="$reader_token" tcli --tls_server_name=localhost connections \
  >"$work/secure-list.txt"
check "read token from the environment lists" grep -q "$secure_id" "$work/secure-list.txt"
WORKATO_CONNECTOR_CALLER_TOKEN="$reader_token" tcli sync "$secure_id" 2>"$work/err.txt"
check "read token cannot sync" grep -q "PERMISSION_DENIED (CALLER_PERMISSION_DENIED)" "$work/err.txt"
kill -TERM "$server_pid"
wait "$server_pid"
check "caller name logged" grep -q '"caller":"reporting"' "$work/secure.log"
check "caller tokens never logged" \
  bash -c "! grep -q -e '$admin_token' -e '$reader_token' '$work/secure.log'"

echo "$passed passed, $failed failed"
test "$failed" -eq 0
