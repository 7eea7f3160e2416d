#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/k8s offline (no cluster needed):
#   1. renders the kustomize base with `kubectl kustomize`;
#   2. checks every rendered object against the Kubernetes API schemas, rejects
#      unknown fields and unknown kinds, and asserts this service's policy
#      (one replica, hardened pod, gRPC probes, drain time, network policy),
#      with the node program in deploy/k8s/validate (its npm packages are
#      pinned by package-lock.json and installed with `npm ci`).
#
# Usage: scripts/validate-k8s.sh [--self-test] [--output FILE]
#   --self-test    then render deliberately broken variants of the base (as
#                  kustomize overlays in a temporary directory; the base is not
#                  touched) and fail unless the validator rejects every one.
#   --output FILE  keep the rendered manifests in FILE.
# Environment: KUBECTL (default: kubectl), or a kustomize v5 binary on PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${root}/deploy/k8s"
validator="${base}/validate"

self_test=false
output=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --self-test) self_test=true ;;
    --output) output="${2:?--output needs a file}"; shift ;;
    --output=*) output="${1#--output=}" ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "validate-k8s: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "validate-k8s: $*" >&2; exit 1; }

# --- Tools -----------------------------------------------------------------

# The base uses kustomize v5 features (labels with includeTemplates, env-file
# generators), so kubectl must bundle kustomize v5 (kubectl >= 1.27).
kubectl_bin="${KUBECTL:-kubectl}"
render=()
if command -v "${kubectl_bin}" >/dev/null 2>&1; then
  kustomize_version="$("${kubectl_bin}" version --client 2>/dev/null |
                       sed -n 's/^Kustomize Version: v\{0,1\}\([0-9][0-9.]*\).*/\1/p')"
  if [[ "${kustomize_version%%.*}" =~ ^[0-9]+$ ]] && (( ${kustomize_version%%.*} >= 5 )); then
    render=("${kubectl_bin}" kustomize)
    echo "kubectl: $(command -v "${kubectl_bin}") (kustomize v${kustomize_version})"
  fi
fi
if [[ ${#render[@]} -eq 0 ]] && command -v kustomize >/dev/null 2>&1; then
  kustomize_version="$(kustomize version 2>/dev/null | sed -n 's/^v\{0,1\}\([0-9][0-9.]*\).*/\1/p')"
  if [[ "${kustomize_version%%.*}" =~ ^[0-9]+$ ]] && (( ${kustomize_version%%.*} >= 5 )); then
    render=(kustomize build)
    echo "kustomize: $(command -v kustomize) (v${kustomize_version})"
  fi
fi
if [[ ${#render[@]} -eq 0 ]]; then
  die "needs kubectl >= 1.27 (bundling kustomize v5) or a kustomize v5 binary.
  Found: ${kubectl_bin}: $(command -v "${kubectl_bin}" >/dev/null 2>&1 &&
    "${kubectl_bin}" version --client 2>&1 | head -1 || echo 'not installed').
  Debian 12's own package (kubernetes-client, kubectl 1.20 with kustomize v2)
  is too old for this base. Install the 'kubectl' package from the Kubernetes
  project's apt repository or Google Cloud SDK's, or point KUBECTL at a
  recent kubectl."
fi

command -v node >/dev/null 2>&1 || die "needs Node.js >= 20 (node not found)"
command -v npm >/dev/null 2>&1 || die "needs npm (not found)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
(( node_major >= 20 )) || die "needs Node.js >= 20, found $(node --version)"

# npm ci only when the lock file changed since the last install: it deletes
# and re-creates node_modules every time it runs.
stamp="${validator}/node_modules/.installed-lock.sha256"
lock_sum="$(sha256sum "${validator}/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "${stamp}" 2>/dev/null || true)" != "${lock_sum}" ]]; then
  echo "npm ci in deploy/k8s/validate"
  (cd "${validator}" && npm ci --no-audit --no-fund --loglevel=error) ||
    die "npm ci failed in ${validator} (is the npm registry reachable?)"
  echo "${lock_sum}" > "${stamp}"
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# --- Render and validate the base ------------------------------------------

rendered="${output:-${work}/rendered.yaml}"
"${render[@]}" "${base}" > "${rendered}" || die "kustomize could not render ${base}"
node "${validator}/validate.mjs" "${rendered}" || die "deploy/k8s does not validate"

[[ "${self_test}" == true ]] || exit 0

# --- Self-test: broken variants must be rejected ---------------------------
#
# Each case is a kustomize overlay over the real base, in ${work}, with the
# breakage as a JSON patch (or an extra resource), and the message the
# validator must give for it.

cases=0
rejected=0
failures=()

# run_case NAME EXPECTED_REGEX: renders ${work}/NAME and expects the validator
# to fail with a message matching EXPECTED_REGEX.
run_case() {
  local name="$1" expected="$2" dir="${work}/$1" log
  cases=$((cases + 1))
  log="${dir}/validator.log"
  if ! "${render[@]}" "${dir}" > "${dir}/rendered.yaml" 2> "${log}"; then
    failures+=("${name}: the broken variant did not render: $(head -3 "${log}")")
    return
  fi
  if node "${validator}/validate.mjs" "${dir}/rendered.yaml" > "${log}" 2>&1; then
    failures+=("${name}: ACCEPTED by the validator")
  elif ! grep -Eq -- "${expected}" "${log}"; then
    failures+=("${name}: rejected, but without /${expected}/: $(grep FAIL "${log}" | head -3)")
  else
    rejected=$((rejected + 1))
    printf '  rejected %-24s %s\n' "${name}" "$(grep -E -m1 -- "${expected}" "${log}")"
  fi
}

# overlay NAME: creates ${work}/NAME/kustomization.yaml over the base, with the
# rest of the kustomization (patches, resources, ...) read from stdin.
overlay() {
  mkdir -p "${work}/$1"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    echo "- $(realpath --relative-to="${work}/$1" "${base}")"
    cat
  } > "${work}/$1/kustomization.yaml"
}

# patch_case NAME KIND EXPECTED_REGEX: JSON patch operations (YAML) on stdin,
# applied to the base's object of KIND.
patch_case() {
  local name="$1" kind="$2" expected="$3" ops
  ops="$(sed 's/^/    /')"
  overlay "${name}" <<EOF
patches:
- target:
    kind: ${kind}
  patch: |-
${ops}
EOF
  run_case "${name}" "${expected}"
}

echo "self-test: broken variants of deploy/k8s"
container=/spec/template/spec/containers/0

patch_case misspelled-field StatefulSet \
  'unknown field .*readOnlyRootFileSystem \(did you mean "readOnlyRootFilesystem"' <<EOF
- {op: add, path: ${container}/securityContext/readOnlyRootFileSystem, value: true}
EOF
patch_case wrong-type StatefulSet 'schema: spec\.replicas must be integer' <<EOF
- {op: replace, path: /spec/replicas, value: "1"}
EOF
patch_case two-replicas StatefulSet 'replicas must be exactly 1' <<EOF
- {op: replace, path: /spec/replicas, value: 2}
EOF
patch_case missing-required StatefulSet 'schema: spec must have required property selector' <<EOF
- {op: remove, path: /spec/selector}
EOF
patch_case bad-enum StatefulSet 'imagePullPolicy must be equal to one of the allowed values' <<EOF
- {op: replace, path: ${container}/imagePullPolicy, value: Sometimes}
EOF
patch_case privilege-escalation StatefulSet 'allowPrivilegeEscalation must be false' <<EOF
- {op: replace, path: ${container}/securityContext/allowPrivilegeEscalation, value: true}
EOF
patch_case run-as-root StatefulSet 'runAsUser is 0' <<EOF
- {op: replace, path: /spec/template/spec/securityContext/runAsUser, value: 0}
EOF
patch_case capability-added StatefulSet 'must add no capabilities' <<EOF
- {op: add, path: ${container}/securityContext/capabilities/add, value: [NET_ADMIN]}
EOF
patch_case no-readiness-probe StatefulSet 'readinessProbe must be a native gRPC probe' <<EOF
- {op: remove, path: ${container}/readinessProbe}
EOF
patch_case http-liveness-probe StatefulSet 'livenessProbe must be a native gRPC probe' <<EOF
- {op: replace, path: ${container}/livenessProbe, value: {httpGet: {path: /metrics, port: 9090}}}
EOF
patch_case no-limits StatefulSet 'resources\.limits\.memory must be set' <<EOF
- {op: remove, path: ${container}/resources/limits}
EOF
patch_case short-grace-period StatefulSet 'terminationGracePeriodSeconds \(20\) must exceed' <<EOF
- {op: replace, path: /spec/template/spec/terminationGracePeriodSeconds, value: 20}
EOF
patch_case service-links StatefulSet 'enableServiceLinks must be false' <<EOF
- {op: remove, path: /spec/template/spec/enableServiceLinks}
EOF
patch_case callers-not-read-only StatefulSet 'CALLER_TOKENS_FILE .* must be on a read-only Secret mount' <<EOF
- {op: remove, path: ${container}/volumeMounts/2/readOnly}
EOF
patch_case allow-insecure StatefulSet 'allow_insecure opens the API' <<EOF
- {op: add, path: ${container}/args/-, value: --allow_insecure}
EOF
patch_case egress-port-80 NetworkPolicy 'egress\[2\] allows TCP/80' <<EOF
- {op: add, path: /spec/egress/-, value: {ports: [{protocol: TCP, port: 80}]}}
EOF
patch_case ingress-from-anywhere NetworkPolicy 'ingress\[2\] allows every source' <<EOF
- {op: add, path: /spec/ingress/-, value: {ports: [{protocol: TCP, port: 50051}]}}
EOF
patch_case blocking-pdb PodDisruptionBudget 'blocks every node drain' <<EOF
- {op: remove, path: /spec/maxUnavailable}
- {op: add, path: /spec/minAvailable, value: 1}
EOF

overlay store-off-volume <<EOF
configMapGenerator:
- name: workato-connector-config
  behavior: merge
  literals: [WORKATO_CONNECTOR_STORE=sqlite:/tmp/connector.db]
EOF
run_case store-off-volume 'is not on a volumeClaimTemplate mount'

overlay unknown-kind <<EOF
- servicemonitor.yaml
EOF
cat > "${work}/unknown-kind/servicemonitor.yaml" <<EOF
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: workato-connector
spec:
  endpoints: [{port: metrics}]
EOF
run_case unknown-kind 'unknown kind monitoring\.coreos\.com/v1 ServiceMonitor'

# The example Secret must never become part of the base.
overlay committed-secret <<EOF
- token-key-secret.example.yaml
EOF
cp "${base}/token-key-secret.example.yaml" "${work}/committed-secret/"
run_case committed-secret 'must not contain Secrets'

echo "self-test: ${rejected} of ${cases} broken variants rejected"
if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'validate-k8s: self-test FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
