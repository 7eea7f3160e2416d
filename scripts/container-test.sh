#!/usr/bin/env bash
# Builds the container image from the Dockerfile with buildah (no Docker engine
# needed) and tests it end to end: the server runs from the image against the
# Workato stand-in on loopback, the host's CLI connects, syncs and lists users,
# and SIGTERM must stop the server cleanly (exit 0).
#
# Root, on Debian 12. Installs buildah and debootstrap if missing. Base images
# cannot be pulled: debian:bookworm and debian:bookworm-slim are made with
# debootstrap from the Debian mirror apt already uses.
#
# Environment:
#   BUILD_DIR      host build with the stand-in and the CLI (default: build)
#   WC_IMAGES_DIR  buildah storage and the debootstrapped rootfs (default: /tmp/wc-images);
#                  a rootfs or base image already there is reused
#   KEEP_IMAGES=1  keep the images and storage after a successful run
#   VERBOSE=1      stream the image build's output (else it is shown on failure)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "container-test: needs root (buildah and debootstrap)" >&2
  exit 1
fi

build_dir=${BUILD_DIR:-build}
images_dir=$(realpath -m "${WC_IMAGES_DIR:-/tmp/wc-images}")
case "$images_dir" in
  / | /tmp | /root | "$HOME") echo "container-test: WC_IMAGES_DIR=$images_dir is not a dedicated directory" >&2; exit 1 ;;
esac
image=localhost/workato-connector
base_images=(docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim)
B=(buildah --root "$images_dir/storage" --runroot "$images_dir/run" --storage-driver vfs)

work=$(mktemp -d)
container=""
grpc_port=""
buildah_pid=""
fake_pid=""
timings=()
phase_name=""
phase_start=""

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
phase() {  # phase NAME: ends the current phase (recording its time) and starts NAME.
  local t
  t=$(now)
  if [ -n "$phase_name" ]; then
    timings+=("$(printf '%-28s %7ss' "$phase_name" "$(elapsed "$phase_start" "$t")")")
  fi
  phase_name=$1
  phase_start=$t
  [ -n "$phase_name" ] && echo "== $phase_name"
  return 0
}
fail() {
  echo "container-test: FAILED: $*" >&2
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# The server's own PID: buildah's command line holds the same words, but not
# at its start.
server_pids() {
  pgrep -f "^/usr/local/bin/workato-connector-server --listen=127\\.0\\.0\\.1:$grpc_port( |\$)" || true
}
# Unmounted directories only: never remove through a mount that is still live.
remove_tree() {
  local dir=$1
  [ -e "$dir" ] || return 0
  if findmnt -rn -o TARGET | grep -q "^$dir\(/\|\$\)"; then
    echo "container-test: $dir still has mounts; left in place" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ]; then
    if [ -s "$work/server.log" ]; then
      echo "---- server log" >&2
      cat "$work/server.log" >&2
    fi
    if [ -s "$work/workato.log" ]; then
      echo "---- stand-in log (last lines)" >&2
      tail -n 30 "$work/workato.log" >&2
    fi
  fi
  if [ -n "$buildah_pid" ] && kill -0 "$buildah_pid" 2>/dev/null; then
    for pid in $(server_pids); do kill -TERM "$pid"; done
    for _ in $(seq 1 50); do kill -0 "$buildah_pid" 2>/dev/null || break; sleep 0.1; done
    for pid in $(server_pids); do kill -KILL "$pid"; done
    kill "$buildah_pid" 2>/dev/null
    wait "$buildah_pid" 2>/dev/null
  fi
  if [ -n "$fake_pid" ]; then
    kill "$fake_pid" 2>/dev/null
    wait "$fake_pid" 2>/dev/null
  fi
  if [ -n "$container" ]; then
    "${B[@]}" rm "$container" >/dev/null
  fi
  rm -rf "$work"
  if [ "$rc" -eq 0 ] && [ "${KEEP_IMAGES:-0}" != 1 ] && [ -d "$images_dir" ]; then
    "${B[@]}" rm --all >/dev/null
    "${B[@]}" rmi --all --force >/dev/null
    remove_tree "$images_dir"
  elif [ -d "$images_dir" ]; then
    echo "images and storage kept in $images_dir (remove: ${B[*]} rmi --all -f; rm -rf $images_dir)"
  fi
  exit "$rc"
}
trap cleanup EXIT

# Debian's mirror as apt on this machine uses it (deb822 sources first).
debian_mirror() {
  local uri="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" {
      for (i = 2; i <= NF; i++) {
        if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; continue }
        if ($i ~ /security/) next
        print $i; exit
      } }' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}
debian_security_mirror() {
  cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -o 'https\?://[^ ]*debian-security[^ ]*' | head -1 || true
}
slim_rootfs() {  # slim_rootfs DIR: what Debian's -slim images leave out, in the image rooted at DIR.
  local root=${1:?}
  case "$root" in
    "$images_dir"/?*) ;;
    *) fail "slim_rootfs: refusing $root" ;;
  esac
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG_CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/all_languages
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
DPKG_CFG
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{groff,info,linda,man}/* "$root/usr/share/lintian/overrides"/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 \
    -not -name all_languages -not -name locale.alias -exec rm -rf {} +
}

# ---------------------------------------------------------------------------
phase "tools"
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "installing buildah and debootstrap"
  { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q buildah debootstrap; } >"$work/apt.log" 2>&1 ||
    { tail -n 40 "$work/apt.log" >&2; fail "apt-get install buildah debootstrap"; }
fi
"${B[@]}" --version

# ---------------------------------------------------------------------------
phase "host build ($build_dir)"
./scripts/install-deps.sh
./scripts/build.sh "$build_dir" >"$work/host-build.log" 2>&1 ||
  { tail -n 60 "$work/host-build.log" >&2; fail "host build"; }
fake="$build_dir/tests/fake_workato/fake-workato"
cli_bin="$build_dir/client/workato-connector-cli"
for bin in "$fake" "$cli_bin"; do
  [ -x "$bin" ] || fail "$bin was not built"
done

# ---------------------------------------------------------------------------
phase "base images"
mkdir -p "$images_dir"
if "${B[@]}" inspect --type image "${base_images[0]}" >/dev/null 2>&1; then
  echo "reusing ${base_images[0]} from $images_dir"
else
  rootfs="$images_dir/rootfs"
  if [ ! -f "$images_dir/rootfs.complete" ]; then
    remove_tree "$rootfs"
    mirror=$(debian_mirror)
    echo "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 40 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    # The same sources as Debian's official images: the release, its
    # updates and, when this machine uses it, the security archive.
    rm -f "$rootfs/etc/apt/sources.list"
    {
      printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$mirror"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
      security=$(debian_security_mirror)
      if [ -n "$security" ]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
      fi
    } >"$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    touch "$images_dir/rootfs.complete"
  else
    echo "reusing the rootfs in $rootfs"
  fi
  # debian:bookworm is the rootfs as debootstrap left it; debian:bookworm-slim
  # drops documentation, man pages and translations, and keeps dpkg from
  # installing them again, as Debian's official -slim images do.
  for tag in "${base_images[@]}"; do
    c=$("${B[@]}" from scratch)
    m=$("${B[@]}" mount "$c")
    # Everything below writes under $m: never let it be empty or /.
    case "$m" in
      "$images_dir"/?*) [ -d "$m" ] || fail "buildah mount gave $m" ;;
      *) fail "buildah mount gave '$m', outside $images_dir" ;;
    esac
    cp -a "$rootfs/." "$m/"
    if [ "$tag" = "${base_images[1]}" ]; then
      slim_rootfs "$m"
    fi
    "${B[@]}" umount "$c" >/dev/null
    "${B[@]}" config --cmd /bin/bash "$c"
    "${B[@]}" commit -q "$c" "$tag" >/dev/null
    "${B[@]}" rm "$c" >/dev/null
  done
fi

# ---------------------------------------------------------------------------
phase "image build"
build_start=$(now)
if [ "${VERBOSE:-0}" = 1 ]; then
  "${B[@]}" bud --isolation chroot --pull=never -t "$image" . 2>&1 | tee "$work/bud.log"
else
  "${B[@]}" bud --isolation chroot --pull=never -t "$image" . >"$work/bud.log" 2>&1 ||
    { tail -n 80 "$work/bud.log" >&2; fail "buildah bud"; }
fi
echo "image $image built in $(elapsed "$build_start" "$(now)")s," \
  "size $("${B[@]}" images --format '{{.Size}}' "$image")"

# ---------------------------------------------------------------------------
phase "image checks"
container=$("${B[@]}" from --pull=never "$image")
run() { "${B[@]}" run --isolation chroot "$container" -- "$@"; }
# Every shared library of both binaries resolves inside the image.
run ldd /usr/local/bin/workato-connector-server /usr/local/bin/workato-connector-cli >"$work/ldd.txt"
if grep -q 'not found' "$work/ldd.txt"; then
  cat "$work/ldd.txt" >&2
  fail "libraries missing from the image"
fi
echo "ldd: $(grep -c '=>' "$work/ldd.txt") libraries resolve"
# Runs as uid 10001, which owns /data.
[ "$(run id -u)" = 10001 ] || fail "the image does not run as uid 10001"
[ "$(run stat -c %u /data)" = 10001 ] || fail "/data is not owned by uid 10001"
# buildah run hands back the command's exit status (the clean-shutdown check
# below relies on it).
rc=0
run sh -c 'exit 3' 2>/dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "buildah run returned $rc for a command that exited 3"
# The metrics endpoint (prometheus-cpp) listens on 0.0.0.0:9090 by default:
# when the server has it, it goes on loopback too, and is checked.
metrics=0
run /usr/local/bin/workato-connector-server --helpfull >"$work/help.txt" 2>&1 || true
if grep -q -- '-metrics_listen' "$work/help.txt"; then
  metrics=1
fi

# ---------------------------------------------------------------------------
phase "server from the image"
workato_port=$(free_port)
grpc_port=$(free_port)
metrics_args=()
if [ "$metrics" -eq 1 ]; then
  metrics_port=$(free_port)
  metrics_args=(--metrics_listen="127.0.0.1:$metrics_port")
fi
# A throwaway token for the stand-in, in a 0600 file, never on a command line.
(umask 077 && head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$work/token")
"$fake" --port="$workato_port" --token_file="$work/token" --users=25 \
  >"$work/workato.log" 2>&1 &
fake_pid=$!
"${B[@]}" run --isolation chroot "$container" -- /usr/local/bin/workato-connector-server \
  --listen="127.0.0.1:$grpc_port" --store=sqlite:/data/connector.db \
  --workato_url_override="US=http://127.0.0.1:$workato_port" "${metrics_args[@]}" \
  >"$work/server.log" 2>&1 &
buildah_pid=$!

cli() { "$cli_bin" --server="127.0.0.1:$grpc_port" "$@"; }
serving=0
for _ in $(seq 1 200); do  # ~20 s
  kill -0 "$buildah_pid" 2>/dev/null || fail "the server exited early"
  if [ "$(cli health 2>/dev/null)" = SERVING ]; then serving=1; break; fi
  sleep 0.1
done
[ "$serving" -eq 1 ] || fail "health is not SERVING after 20 s"
echo "health: SERVING"
for _ in $(seq 1 50); do grep -q listening "$work/workato.log" && break; sleep 0.1; done

cli connect --data_center=US --token_file="$work/token" >"$work/connect.txt" ||
  { cat "$work/connect.txt"; fail "connect"; }
id=$(awk 'NR == 2 { print $1 }' "$work/connect.txt")
[ -n "$id" ] || fail "connect printed no connection id"
echo "connected: $id"
cli sync "$id" >"$work/sync.txt" || { cat "$work/sync.txt"; fail "sync"; }
cat "$work/sync.txt"
cli users "$id" >"$work/users.txt" || fail "users"
grep -q '^25 users$' "$work/users.txt" || { cat "$work/users.txt"; fail "expected 25 users"; }
echo "users: 25"
if [ "$metrics" -eq 1 ]; then
  curl -fsS --max-time 5 "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.txt" ||
    fail "no /metrics on 127.0.0.1:$metrics_port"
  grep -q '^# TYPE ' "$work/metrics.txt" || fail "/metrics has no Prometheus metrics"
  echo "metrics: $(grep -c '^# TYPE ' "$work/metrics.txt") families on /metrics"
fi

# ---------------------------------------------------------------------------
phase "graceful stop"
mapfile -t pids < <(server_pids)
[ "${#pids[@]}" -eq 1 ] || fail "expected one server process, found ${#pids[@]}: ${pids[*]}"
echo "SIGTERM to the server (pid ${pids[0]})"
kill -TERM "${pids[0]}"
for _ in $(seq 1 150); do  # ~15 s
  kill -0 "$buildah_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$buildah_pid" 2>/dev/null && fail "the server did not exit within 15 s of SIGTERM"
rc=0
wait "$buildah_pid" || rc=$?
buildah_pid=""
[ "$rc" -eq 0 ] || fail "the server exited with status $rc after SIGTERM"
echo "server exited 0"

phase ""
echo "phase timings:"
printf '  %s\n' "${timings[@]}"
echo "container test passed"
