// The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics a live relay
// exports: every PromQL expression is parsed with Prometheus's own grammar (@prometheus-io/lezer-promql)
// and each vector selector's metric name is looked up in /metrics.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { spawnPeer, startRelay } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (p) => readFileSync(`${root}${p}`, 'utf8');

/** Series Prometheus makes itself for a scrape job; no exporter has them. */
const PROMETHEUS_OWN = new Set(['up']);

/** Grafana's variables stand where PromQL wants a duration or a regex; give them values first. */
function grafanaToPromql(expr) {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?instance\}?/g, '.*');
}

/** The metric names an expression selects; throws when the expression does not parse. */
export function metricNames(expr) {
  const tree = parser.parse(expr);
  const names = new Set();
  const errors = [];
  tree.iterate({
    enter(n) {
      if (n.type.isError) errors.push(n.from);
      if (n.name === 'VectorSelector') {
        const id = n.node.getChild('Identifier');
        if (id) names.add(expr.slice(id.from, id.to));
        // {__name__="x"} selects by name too.
        const m = /__name__\s*=\s*"([^"]+)"/.exec(expr.slice(n.from, n.to));
        if (m) names.add(m[1]);
      }
    },
  });
  if (errors.length) throw new Error(`PromQL does not parse at ${errors.join(', ')}: ${expr}`);
  return [...names];
}

/** A histogram's series (_bucket, _sum, _count) belong to its family; the family is what # TYPE names. */
function family(name, types) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ['histogram', 'summary'].includes(types.get(base))) return base;
  }
  return name;
}

function dashboardExpressions() {
  const d = JSON.parse(read('deploy/grafana/halfsec-dashboard.json'));
  const out = [];
  const visit = (panels) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      visit(p.panels);
    }
  };
  visit(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^label_values\((.+),\s*\w+\)$/.exec(q ?? '');
    if (m) out.push({ where: `variable ${v.name}`, expr: m[1] });
  }
  return out;
}

function alertExpressions() {
  const doc = parseYaml(read('deploy/prometheus/halfsec-alerts.yml'));
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr, rule: r })));
}

test('the expression parser finds metric names and refuses what Prometheus would refuse', (t) => {
  t.deepEqual(metricNames('sum by (le) (rate(a_bucket{x="y"}[5m])) / on(instance) b + c offset 1m').sort(), ['a_bucket', 'b', 'c']);
  t.deepEqual(metricNames('{__name__="d"} > 1'), ['d']);
  t.deepEqual(metricNames('histogram_quantile(0.9, rate(x[5m]))'), ['x'], 'function names are not metrics');
  t.throws(() => metricNames('sum(rate(x[5m])'), { message: /does not parse/ });
  t.throws(() => metricNames('rate(x[$__rate_interval])'), { message: /does not parse/ }, 'Grafana variables must be substituted first');
});

test.serial('every metric the Grafana dashboard and the alert rules name exists in a live relay\'s /metrics', async (t) => {
  const { url } = await startRelay(t);
  // A stream with a viewer, so that every per-worker series and the join histogram have samples.
  const pub = spawnPeer(t, 'publisher.mjs', [`${url}/whip/obs`, '100', '10', 'video']);
  await pub.waitFor('open');
  const viewers = spawnPeer(t, 'viewers.mjs', [`${url}/whep/obs`, '1']);
  await viewers.waitFor('ready', 30000);
  pub.send('start');
  await pub.waitFor('sent', 30000);
  const text = await (await fetch(`${url}/metrics`)).text();
  const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  t.true(types.size > 40, `${types.size} metric families exported`);

  const exprs = [...dashboardExpressions().map((e) => ({ ...e, expr: grafanaToPromql(e.expr) })), ...alertExpressions()];
  t.true(exprs.length >= 25, `${exprs.length} expressions checked`);
  const missing = [];
  const used = new Set();
  for (const { where, expr } of exprs) {
    for (const name of metricNames(expr)) {
      if (PROMETHEUS_OWN.has(name)) continue;
      used.add(name);
      if (!types.has(family(name, types))) missing.push(`${where}: ${name}`);
    }
  }
  t.deepEqual(missing, [], 'metrics named but not exported');
  for (const must of ['halfsec_node_load_ratio', 'halfsec_srtp_errors_total', 'halfsec_fanout_queue_full_total', 'halfsec_cluster_registry_up', 'halfsec_join_seconds_bucket']) {
    t.true(used.has(must), `${must} is used`);
  }
  t.regex(text, /halfsec_join_seconds_count 1\b/, 'the join histogram the panels read has a sample');
});

test('alert rules carry what Alertmanager routes on', (t) => {
  const rules = alertExpressions().map((e) => e.rule);
  const names = rules.map((r) => r.alert);
  for (const wanted of ['HalfsecNodeNearCapacity', 'HalfsecSrtpErrors', 'HalfsecEgressDrops', 'HalfsecRegistryLost']) t.true(names.includes(wanted), wanted);
  t.is(new Set(names).size, names.length, 'alert names are unique');
  for (const r of rules) {
    t.regex(r.for ?? '', /^\d+[smh]$/, `${r.alert}: a "for" duration`);
    t.true(['warning', 'critical'].includes(r.labels?.severity), `${r.alert}: severity`);
    t.truthy(r.annotations?.summary, `${r.alert}: summary`);
  }
});

test('the Grafana dashboard is importable: unique panel ids, a datasource variable, no fixed datasource uid', (t) => {
  const d = JSON.parse(read('deploy/grafana/halfsec-dashboard.json'));
  const ids = d.panels.map((p) => p.id);
  t.is(new Set(ids).size, ids.length);
  t.true(d.templating.list.some((v) => v.type === 'datasource' && v.query === 'prometheus'));
  const uids = JSON.stringify(d).match(/"uid":\s*"[^"]*"/g).filter((u) => !u.includes('${datasource}') && !u.includes('halfsec-relay'));
  t.deepEqual(uids, [], 'panels use the ${datasource} variable');
  for (const p of d.panels) {
    const g = p.gridPos;
    t.true(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `panel "${p.title}" fits the 24-column grid`);
  }
});
