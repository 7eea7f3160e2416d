#!/usr/bin/env bash
# Benchmark harness (issue 7). Not part of scripts/test.sh or .ci/run.
#
#   ./scripts/bench.sh                 # full: 1k/10k/100k users, 60 s load phases
#   BENCH_QUICK=1 ./scripts/bench.sh   # smoke: 1k/10k users, 5 s load phases
#
# Builds Release into build-release/ (server) and build-release/bench (the
# stand-in and the gRPC load client from bench/), starts the stand-in and the
# server on 127.0.0.1 with a SQLite store in a temp dir, prints one table and
# writes bench/results/bench-<UTC time>.json (and latest.json).
#
# Environment (defaults in brackets; quick values second):
#   BENCH_SIZES           users served by the stand-in ["1000 10000 100000"; "1000 10000"]
#   BENCH_SYNC_RUNS       runs per size, each on a fresh server and store [5; 3]
#   BENCH_LOAD_SECONDS    measured seconds per load phase [60; 5]
#   BENCH_LOAD_RUNS       runs per load phase [3; 3]
#   BENCH_CONCURRENCY     load client concurrency ["1 8 32"]
#   BENCH_LOAD_USERS      users on the connection ListUsers reads [1000]
#   BENCH_GZIP            1: the stand-in gzips /api/members like Workato (its
#                         compression time is then in both curl and Sync) [1]
#   BENCH_SKIP_BUILD=1    use the existing build-release/
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
  sizes=${BENCH_SIZES:-"1000 10000"}; sync_runs=${BENCH_SYNC_RUNS:-3}
  load_seconds=${BENCH_LOAD_SECONDS:-5}; load_runs=${BENCH_LOAD_RUNS:-3}
else
  sizes=${BENCH_SIZES:-"1000 10000 100000"}; sync_runs=${BENCH_SYNC_RUNS:-5}
  load_seconds=${BENCH_LOAD_SECONDS:-60}; load_runs=${BENCH_LOAD_RUNS:-3}
fi
concurrency=${BENCH_CONCURRENCY:-"1 8 32"}
load_users=${BENCH_LOAD_USERS:-1000}

build=$root/build-release
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  ./scripts/install-deps.sh
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" workato-connector-server
  cmake -S "$root/bench" -B "$build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build/bench"
fi
server_bin=$build/server/workato-connector-server
workato_bin=$build/bench/bench-workato
client_bin=$build/bench/bench-client

work=$(mktemp -d)
raw=$work/raw.jsonl
: >"$raw"
workato_pid=""
server_pid=""
stop() {  # stop PID: SIGTERM, then wait
  if [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$server_pid"
  stop "$workato_pid"
  rm -rf "$work"
}
trap cleanup EXIT

umask 077
head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$work/token"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PORT PID
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "bench: process $2 died" >&2; return 1; }
    sleep 0.05
  done
  echo "bench: port $1 never opened" >&2
  return 1
}
proc_kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }  # proc_kb PID VmRSS
now() { date +%s.%N; }

start_workato() {  # start_workato USERS
  stop "$workato_pid"
  workato_port=$(free_port)
  "$workato_bin" --port="$workato_port" --token_file="$work/token" --users="$1" \
    --gzip="$([ "${BENCH_GZIP:-1}" = 1 ] && echo true || echo false)" \
    >"$work/workato.log" 2>&1 &
  workato_pid=$!
  wait_port "$workato_port" "$workato_pid"
  changes=0
}
change_one_percent() {
  changes=$((changes + 1))
  kill -USR1 "$workato_pid"
  for _ in $(seq 1 600); do
    grep -q "^changed $changes " "$work/workato.log" && return 0
    sleep 0.05
  done
  echo "bench: stand-in did not apply change $changes" >&2
  return 1
}
start_server() {  # fresh store each time
  stop "$server_pid"
  rm -rf "$work/store"
  grpc_port=$(free_port)
  # Rate limits lifted: the harness measures the service, not Workato's pacing.
  "$server_bin" --listen="127.0.0.1:$grpc_port" --store="sqlite:$work/store/connector.db" \
    --workato_url_override="US=http://127.0.0.1:$workato_port" --metrics_listen= \
    --workato_rate_limit_per_minute=1000000 --workato_rate_limit_burst=100000 \
    --log_level=warning >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_port "$grpc_port" "$server_pid"
  sleep 0.2
  idle_rss=$(proc_kb "$server_pid" VmRSS)
}
client() { "$client_bin" --target="127.0.0.1:$grpc_port" "$@"; }
sync_once() {  # sync_once SIZE RUN KIND
  local out
  out=$(client --mode=sync --connection="$conn")
  # seconds=S active=N added=N updated=N removed=N
  eval "local $out"
  printf '{"bench":"sync","users":%s,"run":%s,"kind":"%s","seconds":%s,"active":%s,"added":%s,"updated":%s,"removed":%s,"hwm_kb":%s,"rss_kb":%s}\n' \
    "$1" "$2" "$3" "$seconds" "$active" "$added" "$updated" "$removed" \
    "$(proc_kb "$server_pid" VmHWM)" "$(proc_kb "$server_pid" VmRSS)" >>"$raw"
}

echo "bench: sizes [$sizes], $sync_runs sync runs, load ${load_seconds}s x $load_runs runs at [$concurrency]" >&2
for n in $sizes; do
  start_workato "$n"
  for run in $(seq 1 "$sync_runs"); do
    # Baseline: the same /api/members body from the same stand-in, gzip as the
    # server asks for it.
    t=$(curl -s -o /dev/null --compressed -w '%{time_total}' -H "Authorization: Bearer $(cat "$work/token")" \
      "http://127.0.0.1:$workato_port/api/members")
    bytes=$(curl -s --compressed -H "Authorization: Bearer $(cat "$work/token")" \
      "http://127.0.0.1:$workato_port/api/members" | wc -c)
    printf '{"bench":"curl","users":%s,"run":%s,"seconds":%s,"bytes":%s}\n' "$n" "$run" "$t" "$bytes" >>"$raw"

    start_server
    printf '{"bench":"idle","users":%s,"run":%s,"rss_kb":%s}\n' "$n" "$run" "$idle_rss" >>"$raw"
    conn=$(client --mode=connect --token_file="$work/token")
    sync_once "$n" "$run" first
    sync_once "$n" "$run" unchanged
    change_one_percent
    sync_once "$n" "$run" changed1pct
    db_bytes=$(du -sb "$work/store" | cut -f1)
    printf '{"bench":"store","users":%s,"run":%s,"db_bytes":%s}\n' "$n" "$run" "$db_bytes" >>"$raw"
    echo "bench: sync $n users run $run done" >&2
  done
done

# ListUsers under load on one synced connection, against Health.Check on the
# same server through the same client.
start_workato "$load_users"
start_server
conn=$(client --mode=connect --token_file="$work/token")
client --mode=sync --connection="$conn" >/dev/null
for run in $(seq 1 "$load_runs"); do
  for c in $concurrency; do
    for method in health list; do
      out=$(client --mode=load --method="$method" --connection="$conn" --concurrency="$c" \
        --duration="${load_seconds}s" --warmup=1s)
      eval "$out"
      printf '{"bench":"load","method":"%s","concurrency":%s,"run":%s,"qps":%s,"p50_ms":%s,"p99_ms":%s,"calls":%s,"errors":%s}\n' \
        "$method" "$c" "$run" "$qps" "$p50_ms" "$p99_ms" "$calls" "$errors" >>"$raw"
      echo "bench: load $method c=$c run $run: $out" >&2
    done
  done
done
printf '{"bench":"after_load","rss_kb":%s,"hwm_kb":%s}\n' "$(proc_kb "$server_pid" VmRSS)" "$(proc_kb "$server_pid" VmHWM)" >>"$raw"
stop "$server_pid"; server_pid=""
stop "$workato_pid"; workato_pid=""

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out_json=bench/results/bench-$stamp.json
BENCH_QUICK=$quick LOAD_SECONDS=$load_seconds python3 bench/report.py "$raw" "$out_json"
cp "$out_json" bench/results/latest.json
echo "bench: wrote $out_json" >&2
