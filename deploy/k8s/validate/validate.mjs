// Offline validation of the rendered workato-connector manifests.
//
//   node validate.mjs RENDERED.yaml
//
// Three layers, all without a cluster:
//   1. schema: each object is built as its kubernetes-models class (chosen by
//      apiVersion and kind) and validated against the Kubernetes OpenAPI JSON
//      schema (types, required fields, enums, formats). A kind with no model
//      (a CRD, a typo in apiVersion) is an error, never skipped.
//   2. fields: kubernetes-models' schemas accept unknown properties, so a
//      misspelled field (readOnlyRootFileSystem) would pass and silently
//      disable what it meant to set. Every key is therefore looked up in the
//      field catalogue of the official Kubernetes client's generated models
//      (@kubernetes/client-node), as `kubectl apply --validate=strict` would
//      against a live API server.
//   3. policy: what this service needs beyond a valid object (one SQLite
//      writer, hardened pods, gRPC probes, drain time, network policy).
// Exits 1 with every problem found, by kind/name, or prints a summary.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
// The generated models (one class per API type, each with its attribute map),
// without the client's network code.
import * as clientModels from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

// What the server is, as the manifests must reflect it (see README.md).
const GRPC_PORT = 50051;
const METRICS_PORT = 9090;
const CLIENT_LABEL = ['workato-connector/client', 'true'];
const EGRESS_PORTS = new Set(['UDP/53', 'TCP/53', 'TCP/443']);
const STORE_VAR = 'WORKATO_CONNECTOR_STORE';
const TOKEN_KEY_FILE_VAR = 'WORKATO_CONNECTOR_TOKEN_KEY_FILE';
const CALLER_TOKENS_FILE_VAR = 'WORKATO_CONNECTOR_CALLER_TOKENS_FILE';
const DRAIN_VAR = 'WORKATO_CONNECTOR_DRAIN_TIMEOUT';
const WORKLOAD_KINDS = new Set([
  'Pod', 'Deployment', 'ReplicaSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController',
]);

const problems = [];
const describe = (obj) => `${obj?.kind ?? '?'}/${obj?.metadata?.name ?? '?'}`;
const problem = (obj, message) => problems.push(`${describe(obj)}: ${message}`);

// ---------------------------------------------------------------------------
// 1. Schema: kubernetes-models.

function modelClass(apiVersion, kind) {
  const match = /^(?:([a-z0-9.-]+)\/)?(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)$/.exec(apiVersion ?? '');
  if (!match || !/^[A-Z][A-Za-z0-9]*$/.test(kind ?? '')) return undefined;
  const [, group, version] = match;
  let exports;
  try {
    exports = require(`kubernetes-models/${group ? `${group}/` : ''}${version}`);
  } catch {
    return undefined;
  }
  const cls = exports[kind];
  // The group modules also export nested types (PodSpec, ...): only a
  // top-level kind carries its own apiVersion and kind.
  return cls && cls.apiVersion === apiVersion && cls.kind === kind ? cls : undefined;
}

function validateSchema(obj) {
  const cls = modelClass(obj.apiVersion, obj.kind);
  if (!cls) {
    problem(obj, `unknown kind ${obj.apiVersion} ${obj.kind}: no schema to validate it against`);
    return false;
  }
  try {
    new cls(obj).validate();
  } catch (error) {
    for (const e of error.errors ?? [{ instancePath: '', message: error.message }]) {
      const allowed = e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : '';
      const where = e.instancePath
        ? e.instancePath.slice(1).split('/')
            .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('').slice(1)
        : '(object)';
      problem(obj, `schema: ${where} ${e.message}${allowed}`);
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// 2. Fields: @kubernetes/client-node's generated attribute maps.

function clientTypeName(apiVersion, kind) {
  const version = apiVersion.split('/').pop();
  return version[0].toUpperCase() + version.slice(1) + kind;
}

function editDistance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1,
                        diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

function checkFields(obj, value, type, where) {
  if (value === null || value === undefined) return;
  let inner;
  if ((inner = /^Array<(.+)>$/.exec(type))) {
    if (Array.isArray(value)) value.forEach((v, i) => checkFields(obj, v, inner[1], `${where}[${i}]`));
    return;
  }
  if ((inner = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) checkFields(obj, v, inner[1], `${where}.${k}`);
    }
    return;
  }
  const model = clientModels[type];
  if (typeof model?.getAttributeTypeMap !== 'function') return;  // string, number, IntOrString, any
  if (typeof value !== 'object' || Array.isArray(value)) return;  // wrong types: the schema's job
  const attributes = model.getAttributeTypeMap();
  for (const [key, child] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    const at = where ? `${where}.${key}` : key;
    if (attribute) {
      checkFields(obj, child, attribute.type, at);
      continue;
    }
    const closest = attributes
      .map((a) => [editDistance(key, a.baseName), a.baseName])
      .sort((x, y) => x[0] - y[0])[0];
    const hint = closest && closest[0] <= 3 ? ` (did you mean "${closest[1]}"?)` : '';
    problem(obj, `unknown field ${at}${hint}`);
  }
}

function validateFields(obj) {
  const type = clientTypeName(obj.apiVersion, obj.kind);
  if (typeof clientModels[type]?.getAttributeTypeMap !== 'function') {
    problem(obj, `no field catalogue for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  checkFields(obj, obj, type, '');
}

// ---------------------------------------------------------------------------
// 3. Policy.

const labelsMatch = (selector, labels) =>
  !!selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

// Go/absl duration ("20s", "1m30s", "500ms") in seconds, or NaN.
function durationSeconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  const parts = String(text).match(/^(?:\d+(?:\.\d+)?(?:h|ms|us|ns|m|s))+$/) &&
                String(text).match(/\d+(?:\.\d+)?(?:h|ms|us|ns|m|s)/g);
  if (!parts) return NaN;
  return parts.reduce((sum, p) => {
    const [, n, unit] = /^(\d+(?:\.\d+)?)(\w+)$/.exec(p);
    return sum + Number(n) * units[unit];
  }, 0);
}

// The directory a file path lies in, if it is under one of the mounts.
const mountFor = (mounts, file) =>
  mounts.find((m) => file.startsWith(m.mountPath.replace(/\/?$/, '/')));

// Security and resources for every container; probes, ports and volumes for
// the server (the regular containers: init containers take no probes).
function checkContainer(sts, pod, container, config, isInit) {
  const c = `${isInit ? 'init container' : 'container'} ${container.name}`;
  const podSecurity = pod.securityContext ?? {};
  const security = container.securityContext ?? {};
  if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) !== true) {
    problem(sts, `${c}: runAsNonRoot must be true (pod or container securityContext)`);
  }
  if ((security.runAsUser ?? podSecurity.runAsUser) === 0) problem(sts, `${c}: runAsUser is 0 (root)`);
  if (security.readOnlyRootFilesystem !== true) problem(sts, `${c}: readOnlyRootFilesystem must be true`);
  if (security.allowPrivilegeEscalation !== false) {
    problem(sts, `${c}: allowPrivilegeEscalation must be false`);
  }
  if (security.privileged === true) problem(sts, `${c}: must not be privileged`);
  if (!(security.capabilities?.drop ?? []).includes('ALL')) {
    problem(sts, `${c}: capabilities.drop must include ALL`);
  }
  if ((security.capabilities?.add ?? []).length > 0) problem(sts, `${c}: must add no capabilities`);
  const seccomp = security.seccompProfile?.type ?? podSecurity.seccompProfile?.type;
  if (seccomp !== 'RuntimeDefault') problem(sts, `${c}: seccompProfile must be RuntimeDefault`);
  for (const kind of ['requests', 'limits']) {
    for (const resource of ['cpu', 'memory']) {
      if (container.resources?.[kind]?.[resource] === undefined) {
        problem(sts, `${c}: resources.${kind}.${resource} must be set`);
      }
    }
  }
  if (isInit) return;
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    if (container[probe]?.grpc?.port !== GRPC_PORT) {
      problem(sts, `${c}: ${probe} must be a native gRPC probe on port ${GRPC_PORT}`);
    }
  }
  const ports = (container.ports ?? []).map((p) => p.containerPort);
  for (const port of [GRPC_PORT, METRICS_PORT]) {
    if (!ports.includes(port)) problem(sts, `${c}: must declare containerPort ${port}`);
  }

  // The configuration must point at the volumes that make it work.
  const mounts = container.volumeMounts ?? [];
  const claims = new Set((sts.spec.volumeClaimTemplates ?? []).map((t) => t.metadata?.name));
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const store = config[STORE_VAR];
  if (!store?.startsWith('sqlite:/')) {
    problem(sts, `${c}: ${STORE_VAR} must be sqlite:/ABSOLUTE/PATH (got ${store})`);
  } else {
    const mount = mountFor(mounts, store.slice('sqlite:'.length));
    if (!mount || !claims.has(mount.name)) {
      problem(sts, `${c}: ${store} is not on a volumeClaimTemplate mount: the database would be lost`);
    }
  }
  const keyFile = config[TOKEN_KEY_FILE_VAR];
  const keyMount = keyFile && mountFor(mounts, keyFile);
  const keyVolume = keyMount && volumes.get(keyMount.name);
  if (!keyVolume?.secret || keyMount.readOnly !== true) {
    problem(sts, `${c}: ${TOKEN_KEY_FILE_VAR} (${keyFile}) must be on a read-only Secret mount`);
  }
  // The gRPC port listens on every interface: callers must authenticate, with
  // tokens from a Secret (the server would refuse to start open anyway).
  const callersFile = config[CALLER_TOKENS_FILE_VAR];
  const callersMount = callersFile && mountFor(mounts, callersFile);
  const callersVolume = callersMount && volumes.get(callersMount.name);
  if (!callersVolume?.secret || callersMount.readOnly !== true) {
    problem(sts, `${c}: ${CALLER_TOKENS_FILE_VAR} (${callersFile}) must be on a read-only Secret mount`);
  }
  if ((container.args ?? []).includes('--allow_insecure')) {
    problem(sts, `${c}: --allow_insecure opens the API to anyone who reaches the port`);
  }
  if (!mounts.some((m) => m.mountPath === '/tmp' && volumes.get(m.name)?.emptyDir)) {
    problem(sts, `${c}: /tmp must be an emptyDir (the root filesystem is read-only)`);
  }
}

function checkStatefulSet(sts, byKind) {
  const spec = sts.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const podLabels = spec.template?.metadata?.labels ?? {};
  if (spec.replicas !== 1) {
    problem(sts, `replicas must be exactly 1 (SQLite allows one writer), got ${spec.replicas}`);
  }
  if (!labelsMatch(spec.selector?.matchLabels, podLabels)) {
    problem(sts, 'selector.matchLabels must match the pod template labels');
  }
  const governing = byKind('Service').find((s) => s.metadata.name === spec.serviceName);
  if (governing?.spec?.clusterIP !== 'None') {
    problem(sts, `serviceName ${spec.serviceName} must name a headless Service in the base`);
  }
  const claims = spec.volumeClaimTemplates ?? [];
  if (claims.length === 0) problem(sts, 'needs a volumeClaimTemplate for /data');
  for (const claim of claims) {
    const modes = claim.spec?.accessModes ?? [];
    if (!modes.includes('ReadWriteOnce') && !modes.includes('ReadWriteOncePod')) {
      problem(sts, `volumeClaimTemplate ${claim.metadata?.name} must be ReadWriteOnce(Pod)`);
    }
  }
  if (pod.automountServiceAccountToken !== false) {
    problem(sts, 'automountServiceAccountToken must be false (the server never calls the API)');
  }
  if (pod.enableServiceLinks !== false) {
    problem(sts, 'enableServiceLinks must be false (service links inject WORKATO_CONNECTOR_* variables)');
  }
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problem(sts, 'must not share host namespaces');

  const configs = byKind('ConfigMap');
  const config = {};
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    for (const source of container.envFrom ?? []) {
      const name = source.configMapRef?.name;
      if (!name) continue;
      const map = configs.find((m) => m.metadata.name === name);
      if (!map) problem(sts, `envFrom ConfigMap ${name} is not in the base`);
      Object.assign(config, map?.data ?? {});
    }
    for (const env of container.env ?? []) if (env.value !== undefined) config[env.name] = env.value;
  }
  const drain = durationSeconds(config[DRAIN_VAR]);
  if (Number.isNaN(drain)) {
    problem(sts, `${DRAIN_VAR} must be set to a duration in the ConfigMap (got ${config[DRAIN_VAR]})`);
  } else if (!((pod.terminationGracePeriodSeconds ?? 30) > drain)) {
    problem(sts, `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) must exceed ` +
                 `the ${drain} s drain (${DRAIN_VAR})`);
  }
  if ((pod.containers ?? []).length === 0) problem(sts, 'has no containers');
  for (const container of pod.initContainers ?? []) checkContainer(sts, pod, container, config, true);
  for (const container of pod.containers ?? []) checkContainer(sts, pod, container, config, false);
  return { podLabels, pod };
}

function checkService(service, workload) {
  if (!labelsMatch(service.spec?.selector, workload.podLabels)) {
    problem(service, 'selector must match the StatefulSet pod labels');
  }
  const containerPorts = (workload.pod.containers ?? []).flatMap((c) => c.ports ?? []);
  for (const port of service.spec?.ports ?? []) {
    const target = port.targetPort ?? port.port;
    if (!containerPorts.some((p) => p.name === target || p.containerPort === target)) {
      problem(service, `port ${port.name}: targetPort ${target} is no container port`);
    }
    if (port.port === GRPC_PORT && port.appProtocol !== 'grpc') {
      problem(service, `port ${port.name}: appProtocol must be grpc`);
    }
  }
}

function checkNetworkPolicy(policy, workload) {
  const spec = policy.spec ?? {};
  if (!labelsMatch(spec.podSelector?.matchLabels, workload.podLabels)) {
    problem(policy, 'podSelector must select the StatefulSet pods');
  }
  for (const type of ['Ingress', 'Egress']) {
    if (!(spec.policyTypes ?? []).includes(type)) problem(policy, `policyTypes must include ${type}`);
  }
  (spec.egress ?? []).forEach((rule, i) => {
    if (!rule.ports?.length) problem(policy, `egress[${i}] allows every port: list ports`);
    for (const port of rule.ports ?? []) {
      const key = `${port.protocol ?? 'TCP'}/${port.port}`;
      if (!EGRESS_PORTS.has(key) || port.endPort !== undefined) {
        problem(policy, `egress[${i}] allows ${key}: only DNS (UDP/TCP 53) and TCP 443 are allowed`);
      }
    }
  });
  (spec.ingress ?? []).forEach((rule, i) => {
    if (!rule.from?.length) problem(policy, `ingress[${i}] allows every source: list from`);
    if (!rule.ports?.length) problem(policy, `ingress[${i}] allows every port: list ports`);
    for (const port of rule.ports ?? []) {
      if (![GRPC_PORT, METRICS_PORT, 'grpc', 'metrics'].includes(port.port)) {
        problem(policy, `ingress[${i}] opens port ${port.port}`);
      }
      if (port.port === GRPC_PORT || port.port === 'grpc') {
        for (const peer of rule.from ?? []) {
          if (peer.podSelector?.matchLabels?.[CLIENT_LABEL[0]] !== CLIENT_LABEL[1] || peer.ipBlock) {
            problem(policy, `ingress[${i}]: gRPC only from pods labelled ${CLIENT_LABEL.join('=')}`);
          }
        }
      }
    }
  });
}

function checkDisruptionBudget(pdb, workload, replicas) {
  if (!labelsMatch(pdb.spec?.selector?.matchLabels, workload.podLabels)) {
    problem(pdb, 'selector must select the StatefulSet pods');
  }
  // Percentages round up for minAvailable and down for maxUnavailable.
  const count = (value, round) =>
    typeof value === 'string' && value.endsWith('%')
      ? round((parseFloat(value) * replicas) / 100) : value;
  const minAvailable = count(pdb.spec?.minAvailable, Math.ceil);
  const maxUnavailable = count(pdb.spec?.maxUnavailable, Math.floor);
  const blocks = (minAvailable !== undefined && minAvailable >= replicas) || maxUnavailable === 0;
  if (blocks) problem(pdb, `with ${replicas} replica(s) this budget blocks every node drain`);
}

function checkPolicy(objects) {
  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  for (const obj of objects) {
    if (obj.metadata?.labels?.['app.kubernetes.io/name'] !== 'workato-connector') {
      problem(obj, 'must carry the label app.kubernetes.io/name: workato-connector');
    }
    if (obj.metadata?.namespace !== undefined) {
      problem(obj, 'must not hard-code a namespace (overlays or -n choose it)');
    }
    if (obj.kind === 'Secret') {
      problem(obj, 'the base must not contain Secrets: create the token key out of band');
    }
    if (WORKLOAD_KINDS.has(obj.kind)) {
      problem(obj, 'only the StatefulSet may run the server (one SQLite writer)');
    }
    if (obj.kind === 'ServiceAccount' && obj.automountServiceAccountToken !== false) {
      problem(obj, 'automountServiceAccountToken must be false');
    }
  }
  const sets = byKind('StatefulSet');
  if (sets.length !== 1) {
    problems.push(`base: expected exactly one StatefulSet, found ${sets.length}`);
    return;
  }
  const workload = checkStatefulSet(sets[0], byKind);
  for (const kind of ['Service', 'NetworkPolicy', 'PodDisruptionBudget', 'ServiceAccount']) {
    if (byKind(kind).length === 0) problems.push(`base: expected a ${kind}`);
  }
  byKind('Service').forEach((s) => checkService(s, workload));
  byKind('NetworkPolicy').forEach((p) => checkNetworkPolicy(p, workload));
  byKind('PodDisruptionBudget').forEach((p) => checkDisruptionBudget(p, workload, sets[0].spec?.replicas));
  const account = workload.pod.serviceAccountName;
  if (!byKind('ServiceAccount').some((a) => a.metadata.name === account)) {
    problem(sets[0], `serviceAccountName ${account} is not in the base`);
  }
}

// ---------------------------------------------------------------------------

function versionOf(name) {
  return JSON.parse(fs.readFileSync(path.join(here, 'node_modules', name, 'package.json'))).version;
}

function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node validate.mjs RENDERED.yaml');
    process.exit(2);
  }
  const documents = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const objects = [];
  documents.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      problems.push(`document ${i + 1}: YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) return;  // empty document
    if (typeof obj !== 'object' || Array.isArray(obj) || !obj.apiVersion || !obj.kind) {
      problems.push(`document ${i + 1}: not a Kubernetes object (no apiVersion/kind)`);
      return;
    }
    objects.push(obj);
  });
  for (const obj of objects) {
    if (validateSchema(obj)) validateFields(obj);
  }
  if (objects.length === 0) problems.push(`${file}: no objects`);
  else checkPolicy(objects);

  if (problems.length > 0) {
    for (const p of problems) console.error(`FAIL ${p}`);
    console.error(`${problems.length} problem(s) in ${objects.length} objects from ${file}`);
    process.exit(1);
  }
  for (const obj of objects) console.log(`ok   ${describe(obj)}`);
  console.log(`validated ${objects.length} objects ` +
              `(schema: kubernetes-models ${versionOf('kubernetes-models')}; ` +
              `fields: @kubernetes/client-node ${versionOf('@kubernetes/client-node')}; policy checks)`);
}

main();
