// The relay's live dashboard: polls /api/stats (admin) and /api/streams every second and plots the
// last POINTS readings with uPlot (served by the relay from the uplot package, global `uPlot`).
// Rates come from the differences of the data plane's cumulative counters between two polls.
/* global uPlot */

const POLL_MS = 1000;
const POINTS = 300;
const TOKEN_KEY = 'halfsec-admin-token';
const $ = (id) => document.getElementById(id);

// An admin token may come in the fragment (#token=…, never sent to a server); it is kept for the
// tab only and removed from the address bar.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  sessionStorage.setItem(TOKEN_KEY, fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}

const api = (path) => new URL(path, location.href);
const headers = () => {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
};

const fmtBits = (bps) => (bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${(bps / 1e3).toFixed(0)} kbit/s`);
const fmtSec = (s) => (s === null || s === undefined ? '–' : `${(s * 1000).toFixed(0)} ms`);

function setValue(id, value, text) {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text ?? String(value);
}

/** One uPlot chart over a shared time axis; `series` are labels, grown as new ones appear. */
class Chart {
  constructor(el, labels) {
    this.el = el;
    this.labels = [];
    this.data = [[]];
    this.plot = undefined;
    for (const l of labels) this.ensure(l);
  }

  ensure(label) {
    if (this.labels.includes(label)) return;
    this.labels.push(label);
    this.data.push(this.data[0].map(() => null));
    this.plot?.destroy();
    this.plot = undefined;
  }

  push(t, values) {
    for (const label of Object.keys(values)) this.ensure(label);
    this.data[0].push(t);
    this.labels.forEach((l, i) => this.data[i + 1].push(values[l] ?? null));
    if (this.data[0].length > POINTS) for (const col of this.data) col.shift();
    if (!this.plot) {
      const width = Math.max(320, this.el.clientWidth || 540);
      const palette = ['#2a7ab0', '#d9822b', '#3b9c5a', '#b0413e', '#7a5cb0', '#8c8c2a', '#2ab0a6', '#b02a8c'];
      this.plot = new uPlot(
        { width, height: 220, series: [{}, ...this.labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 1.5 }))], scales: { x: { time: true } } },
        this.data,
        this.el,
      );
    } else {
      this.plot.setData(this.data);
    }
  }
}

const charts = {
  rates: new Chart($('p-rates'), ['ingress', 'egress']),
  sessions: new Chart($('p-sessions'), ['streams', 'viewers']),
  workers: new Chart($('p-workers'), []),
  quality: new Chart($('p-quality'), ['NACKs from viewers', 'retransmits', 'NACKs upstream', 'keyframe requests', 'drops', 'not sent']),
  join: new Chart($('p-join'), ['p50', 'p90']),
  layers: new Chart($('p-layers'), []),
  residence: new Chart($('p-residence'), []),
};

/**
 * Relay-added delay (packet residence, receive → send), when /api/stats reports it as an object
 * of figures in seconds (`…Seconds`), e.g. { p50Seconds, p99Seconds }; the section stays hidden
 * on a relay without it.
 */
function residence(stats) {
  const r = stats.residence ?? stats.packetResidence;
  if (!r || typeof r !== 'object') return undefined;
  const out = {};
  for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && k.endsWith('Seconds')) out[k.slice(0, -'Seconds'.length)] = v * 1000;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Per-layer ingress as a stream entry reports it, whatever its shape: an array of layers with a
 * rate (bitrate / bitsPerSecond / bps) under `layers` or `ingressLayers`. None: undefined.
 */
function layerRates(stream) {
  const list = Array.isArray(stream.ingressLayers) ? stream.ingressLayers : Array.isArray(stream.layers) ? stream.layers : undefined;
  if (!list) return undefined;
  const out = {};
  list.forEach((l, i) => {
    const rate = typeof l === 'number' ? l : (l.bitrate ?? l.bitsPerSecond ?? l.bps ?? l.ingressBitsPerSecond);
    if (typeof rate === 'number') out[`${stream.name}/${l.rid ?? l.id ?? i}`] = rate;
  });
  return out;
}

// Streams whose per-layer detail is fetched each poll (one request each).
const MAX_DETAILED = 16;

let last;
let polls = 0;

function perSecond(now, before, dt, field) {
  return before ? Math.max(0, (now[field] - before[field]) / dt) : null;
}

function sum(workers, field) {
  return workers.reduce((a, w) => a + (w[field] ?? 0), 0);
}

function render(stats, streams, at) {
  const t = at / 1000;
  const dt = last ? (at - last.at) / 1000 : 0;
  const totals = {};
  for (const f of ['txPackets', 'nacksReceived', 'retransmits', 'nacksSent', 'keyframeRequests', 'dropped', 'sendDropped', 'srtpErrors']) totals[f] = sum(stats.workers, f);
  const rate = (f) => (last && dt > 0 ? perSecond(totals, last.totals, dt, f) : null);

  setValue('v-streams', stats.streams);
  setValue('v-viewers', stats.viewers);
  setValue('v-ingress', stats.rates.ingressBitsPerSecond, fmtBits(stats.rates.ingressBitsPerSecond));
  setValue('v-egress', stats.rates.egressBitsPerSecond, fmtBits(stats.rates.egressBitsPerSecond));
  setValue('v-tx-packets', totals.txPackets, totals.txPackets.toLocaleString());
  const joins = stats.joins ?? { count: 0 };
  setValue('v-join', joins.p50Seconds ?? '', `${fmtSec(joins.p50Seconds)} / ${fmtSec(joins.p90Seconds)}`);
  setValue('v-joins', joins.count);
  setValue('v-polls', ++polls);

  charts.rates.push(t, { ingress: stats.rates.ingressBitsPerSecond / 1e6, egress: stats.rates.egressBitsPerSecond / 1e6 });
  charts.sessions.push(t, { streams: stats.streams, viewers: stats.viewers });
  charts.quality.push(t, {
    'NACKs from viewers': rate('nacksReceived'),
    retransmits: rate('retransmits'),
    'NACKs upstream': rate('nacksSent'),
    'keyframe requests': rate('keyframeRequests'),
    drops: rate('dropped'),
    'not sent': rate('sendDropped'),
  });
  charts.join.push(t, { p50: joins.p50Seconds ?? null, p90: joins.p90Seconds ?? null });
  const res = residence(stats);
  $('residence').hidden = !res;
  if (res) charts.residence.push(t, res);

  const perWorker = {};
  const rows = stats.workers.map((w, i) => {
    const prev = last?.workers[i];
    const pps = prev && dt > 0 ? Math.max(0, (w.txPackets - prev.txPackets) / dt) : null;
    const nacks = prev && dt > 0 ? Math.max(0, (w.nacksReceived - prev.nacksReceived) / dt) : null;
    const drops = prev && dt > 0 ? Math.max(0, (w.dropped + (w.sendDropped ?? 0) - prev.dropped - (prev.sendDropped ?? 0)) / dt) : null;
    perWorker[`worker ${i}`] = pps;
    const cells = [i, w.port, w.peers, w.viewers, pps?.toFixed(0) ?? '–', nacks?.toFixed(1) ?? '–', drops?.toFixed(1) ?? '–', w.srtpErrors];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  $('workers').innerHTML = rows.join('');
  charts.workers.push(t, perWorker);

  const layers = {};
  let anyLayers = false;
  const tbody = $('streams');
  tbody.replaceChildren();
  for (const s of streams) {
    const lr = layerRates(s);
    if (lr) {
      anyLayers = true;
      for (const [k, v] of Object.entries(lr)) layers[k] = v / 1e3;
    }
    const tr = document.createElement('tr');
    // Stream names come from publishers: text only, never markup.
    const layerText = lr ? Object.entries(lr).map(([k, v]) => `${k.slice(s.name.length + 1)}: ${fmtBits(v)}`).join(', ') : 'not reported';
    for (const text of [s.name, String(s.viewers), (s.codecs ?? []).join(', '), layerText]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    tbody.append(tr);
  }
  if (anyLayers) charts.layers.push(t, layers);
  $('layers-note').textContent = anyLayers ? '' : 'no per-layer ingress reported yet (each stream\'s /api/streams/<stream> bitrate); relay-wide ingress is plotted above';
  last = { at, totals, workers: stats.workers };
}

async function poll() {
  try {
    const [statsRes, streamsRes] = await Promise.all([fetch(api('api/stats'), { headers: headers() }), fetch(api('api/streams'))]);
    if (statsRes.status === 401) {
      $('login').hidden = false;
      $('status').textContent = 'admin token needed';
      return;
    }
    if (!statsRes.ok) throw new Error(`/api/stats: ${statsRes.status} ${(await statsRes.json().catch(() => ({}))).error ?? ''}`);
    $('login').hidden = true;
    const stats = await statsRes.json();
    const streams = streamsRes.ok ? (await streamsRes.json()).streams : [];
    // Per-layer ingress is in each stream's admin detail (`bitrate`), not in the open list.
    const details = await Promise.all(
      streams.slice(0, MAX_DETAILED).map((s) =>
        fetch(api(`api/streams/${encodeURIComponent(s.name)}`), { headers: headers() })
          .then((r) => (r.ok ? r.json() : undefined))
          .catch(() => undefined),
      ),
    );
    details.forEach((d, i) => {
      const b = d?.bitrate;
      if (!b || !Array.isArray(b.layers)) return;
      streams[i].ingressLayers = [...b.layers.map((l) => ({ id: l.id, bps: l.kbps * 1000 })), ...(typeof b.audioKbps === 'number' ? [{ id: 'audio', bps: b.audioKbps * 1000 }] : [])];
    });
    render(stats, streams, Date.now());
    $('status').textContent = `live, ${new Date().toLocaleTimeString()}`;
    $('status').classList.remove('error');
  } catch (err) {
    $('status').textContent = String(err.message ?? err);
    $('status').classList.add('error');
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
});

poll();
