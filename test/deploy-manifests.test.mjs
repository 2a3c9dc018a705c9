// deploy/kubernetes: every object validated against the Kubernetes OpenAPI schemas that ship in
// the kubernetes-models package (offline), and wired to the relay as it is (ports, /healthz,
// drain vs. grace period, HALFSEC_* names, the autoscaler's metric in a live /metrics).
// deploy/systemd: `systemd-analyze verify` finds nothing to say about the unit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { CONFIG, envOf } from '../dist/ops/config.js';
import { DEFAULTS } from '../dist/ops/options.js';
import { startRelay } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const K8S = join(root, 'deploy/kubernetes');

function manifests() {
  const out = [];
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(K8S, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      out.push({ file, obj: doc.toJS() });
    }
  }
  return out;
}

/** The kubernetes-models class for an object: `kubernetes-models/<group>/<version>`, export `kind`. */
async function modelFor({ apiVersion, kind }) {
  const mod = await import(`kubernetes-models/${apiVersion}`);
  if (!mod[kind]) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return mod[kind];
}

const find = (all, kind, name) => all.find((m) => m.obj.kind === kind && (name === undefined || m.obj.metadata.name === name))?.obj;

test('every Kubernetes object is valid against its schema, and the validator catches mistakes', async (t) => {
  const all = manifests();
  t.true(all.length >= 8, `${all.length} objects`);
  for (const { file, obj } of all) {
    const Model = await modelFor(obj);
    t.notThrows(() => new Model(obj).validate(), `${file}: ${obj.kind}/${obj.metadata.name}`);
  }
  // The same validator on broken copies: a wrong type and a missing required field.
  const dep = structuredClone(find(all, 'Deployment', 'halfsec'));
  const Deployment = await modelFor(dep);
  dep.spec.template.spec.terminationGracePeriodSeconds = 'soon';
  t.throws(() => new Deployment(dep).validate(), { message: /terminationGracePeriodSeconds/ });
  const noName = structuredClone(find(all, 'Deployment', 'halfsec'));
  delete noName.spec.template.spec.containers[0].name;
  t.throws(() => new Deployment(noName).validate(), { message: /name/ });
});

test('the relay Deployment matches the relay: ports, /healthz, drain within the grace period, known HALFSEC_* names', (t) => {
  const all = manifests();
  const dep = find(all, 'Deployment', 'halfsec');
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
  const known = new Set(CONFIG.map(envOf));
  for (const name of Object.keys(env).filter((n) => n.startsWith('HALFSEC_'))) t.true(known.has(name), `${name} is a relay setting`);

  const http = c.ports.find((p) => p.name === 'http');
  t.is(http.containerPort, Number(env.HALFSEC_PORT ?? DEFAULTS.port));
  for (const probe of [c.readinessProbe, c.livenessProbe]) t.like(probe.httpGet, { path: '/healthz', port: 'http' });
  const [min] = (env.HALFSEC_RTC_PORTS ?? `${DEFAULTS.rtcPortMin}-${DEFAULTS.rtcPortMax}`).split('-').map(Number);
  t.truthy(c.ports.find((p) => p.protocol === 'UDP' && p.containerPort === min), 'the first media port is declared');

  const drainMs = Number(env.HALFSEC_DRAIN_TIMEOUT_MS ?? DEFAULTS.drainTimeoutMs);
  t.true(pod.terminationGracePeriodSeconds * 1000 >= drainMs + 5000, `grace ${pod.terminationGracePeriodSeconds} s covers the drain (${drainMs} ms) with room to exit`);

  // Host networking: one relay per node, or two would fight over the same ports.
  t.true(pod.hostNetwork);
  t.is(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  t.is(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname');
  t.is(dep.spec.strategy.rollingUpdate.maxSurge, 0, 'a rollout never puts a second relay on a node');
  t.true(pod.securityContext.runAsNonRoot);
  t.false(c.securityContext.allowPrivilegeEscalation);

  // The pieces point at each other.
  const svc = find(all, 'Service', 'halfsec');
  t.like(dep.spec.template.metadata.labels, svc.spec.selector);
  const redisSvc = find(all, 'Service', 'halfsec-redis');
  const redisUrl = new URL(env.HALFSEC_REDIS);
  t.is(redisUrl.hostname, redisSvc.metadata.name);
  t.is(Number(redisUrl.port), redisSvc.spec.ports[0].port);
  const hpa = find(all, 'HorizontalPodAutoscaler', 'halfsec');
  t.like(hpa.spec.scaleTargetRef, { kind: 'Deployment', name: dep.metadata.name });
  t.is(env.HALFSEC_ADMIN_TOKEN, undefined, 'no token in the manifest');
  t.is(c.env.find((e) => e.name === 'HALFSEC_ADMIN_TOKEN').valueFrom.secretKeyRef.name, 'halfsec');
});

test.serial("the autoscaler's metric and the adapter rule name a metric a live relay exports", async (t) => {
  const all = manifests();
  const metric = find(all, 'HorizontalPodAutoscaler', 'halfsec').spec.metrics[0].pods.metric.name;
  const rules = find(all, 'ConfigMap', 'halfsec-prometheus-adapter').data['config.yaml'];
  t.true(rules.includes(`"^${metric}$"`), 'the adapter serves the metric the HPA asks for');
  const { url } = await startRelay(t);
  const text = await (await fetch(`${url}/metrics`)).text();
  t.regex(text, new RegExp(`^# TYPE ${metric} gauge$`, 'm'));
});

test('the systemd unit passes systemd-analyze verify', (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.error) return t.pass(`systemd-analyze is not installed (${probe.error.code}): the unit is not checked here`);
  const unit = readFileSync(join(root, 'deploy/systemd/halfsec.service'), 'utf8');
  const m = /^ExecStart=(\S+) (\S+) serve$/m.exec(unit);
  t.truthy(m, 'ExecStart runs the CLI with serve');
  t.is(m[2], '/opt/halfsec/dist/cli.js', 'the layout scripts/build-release.sh and the Dockerfile make');
  const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)[1]);
  t.true(stopSec * 1000 >= DEFAULTS.drainTimeoutMs + 5000, `stop timeout ${stopSec} s covers the default drain`);

  const dir = mkdtempSync(join(tmpdir(), 'halfsec-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's program exists: point it at this machine's node.
  const verify = (text) => {
    writeFileSync(join(dir, 'halfsec.service'), text.replace(m[1], process.execPath));
    const r = spawnSync('timeout', ['30', 'systemd-analyze', 'verify', '--man=no', join(dir, 'halfsec.service')], { encoding: 'utf8' });
    return { status: r.status, said: `${r.stdout}${r.stderr}`.trim() };
  };
  t.deepEqual(verify(unit), { status: 0, said: '' }, 'no warnings');
  t.regex(verify(unit.replace('NoNewPrivileges=', 'NoNewPrivilege=')).said, /Unknown key/, 'verify does catch a misspelt directive');
});
