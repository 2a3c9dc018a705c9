// /watch/<stream>: WHEP player. Starts muted (browsers only autoplay muted video), waits for the
// stream while it is not live, reconnects when it stalls or comes back, and shows glass-to-glass
// latency when the publisher stamps its clock into the video (see clock-code.js).
import { RelayError, tokenFromFragment, watch } from './whip-whep.js';
import { ClockReader, latencyOf } from './clock-code.js';
import { watchOverWebSocket, webSocketUrlOf } from './ws-view.js';

const streamName = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const endpoint = `/whep/${encodeURIComponent(streamName)}`;
const token = tokenFromFragment(); // a view token (#token=), when the relay wants one
// ?signal=ws: view over the WebSocket signaling (docs/websocket.md) instead of WHEP, on the node
// the director names, the same way (reconnecting when the socket closes or the media stalls).
const overWebSocket = new URLSearchParams(location.search).get('signal') === 'ws';
const $ = (id) => document.getElementById(id);
const video = $('player');

const RETRY_MS = 1000;
const STALL_MS = 4000; // nothing received for this long: the stream ended or the path broke
const CONNECT_MS = 10000;
const KEEP_SAMPLES = 900;

/** What the player is doing, for people (rendered) and for tests/bench (read through page.evaluate). */
const status = {
  state: 'starting',
  error: null,
  connects: 0,
  // The cluster node the director sent this session to (null: the page's own relay, no director).
  node: null,
  joinMs: null,
  joins: [],
  latencyMs: null,
  latencies: [], // { clock, latency } per decoded frame carrying a new stamp
  width: 0,
  height: 0,
  fps: 0,
  framesDecoded: 0,
  // Loss recovery as the browser sees it (inbound-rtp): freezes, NACKs sent, packets lost.
  freezeCount: 0,
  nackCount: 0,
  packetsLost: 0,
  codec: null,
  // The selected ICE candidate pair: 'udp' or 'tcp' (ICE-TCP, when UDP is blocked), and the relay's end.
  transport: null,
  remoteCandidate: null,
  // What the page shows: 'UDP', 'TCP' or 'relay (TURN/…)'.
  path: null,
  // This page's end of the pair (its UDP port), so a test can shape exactly this viewer's path.
  localPort: null,
  // 'whep' or 'websocket' (?signal=ws).
  signaling: overWebSocket ? 'websocket' : 'whep',
};
window.halfsecWatch = status;
// For tests that read getStats themselves (frameHeight, freezeCount at the moment they ask).
window.halfsecPeer = () => session?.pc ?? null;

let session = null;
const reader = new ClockReader();
let lastClock = null;

$('stream').textContent = streamName;

function setState(state, error = null) {
  status.state = state;
  status.error = error;
  $('status').textContent = error ? `${state}: ${error}` : state;
  $('status').classList.toggle('error', Boolean(error));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(values) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Called for every frame the player presents: join time, resolution, the stamped clock. */
function onFrame() {
  const now = performance.now();
  if (session && !session.firstFrameAt) {
    session.firstFrameAt = now;
    status.joinMs = Math.round(now - session.postedAt);
    status.joins.push(status.joinMs);
    $('join').textContent = `${status.joinMs} ms`;
    setState('playing');
  }
  status.width = video.videoWidth;
  status.height = video.videoHeight;
  const clock = reader.read(video);
  if (clock !== null && clock !== lastClock) {
    lastClock = clock;
    const latency = latencyOf(clock);
    status.latencies.push({ clock, latency });
    if (status.latencies.length > KEEP_SAMPLES) status.latencies.splice(0, status.latencies.length - KEEP_SAMPLES);
    status.latencyMs = median(status.latencies.slice(-30).map((s) => s.latency));
  }
  scheduleFrame();
}

function scheduleFrame() {
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
  else setTimeout(onFrame, 33);
}

/** Polls receiver stats; resolves when the session should be replaced (stalled or never started). */
async function superviseSession(s) {
  let lastBytes = -1;
  let lastProgress = performance.now();
  for (;;) {
    await sleep(1000);
    if (session !== s || s.ended) return;
    const state = s.pc.connectionState;
    if (state === 'failed' || state === 'closed') return;
    let bytes = 0;
    const report = await s.pc.getStats();
    for (const r of report.values()) {
      if (r.type !== 'inbound-rtp') continue;
      bytes += r.bytesReceived ?? 0;
      if (r.kind !== 'video') continue;
      status.framesDecoded = r.framesDecoded ?? 0;
      status.freezeCount = r.freezeCount ?? 0;
      status.nackCount = r.nackCount ?? 0;
      status.packetsLost = r.packetsLost ?? 0;
      status.fps = Math.round(r.framesPerSecond ?? 0);
      status.codec = report.get(r.codecId)?.mimeType?.replace('video/', '') ?? status.codec;
    }
    const pair = selectedPair(report);
    const remote = pair && report.get(pair.remoteCandidateId);
    const local = pair && report.get(pair.localCandidateId);
    if (local) status.localPort = local.port ?? null;
    if (remote) {
      status.transport = remote.protocol;
      status.remoteCandidate = `${remote.address ?? remote.ip}:${remote.port}${remote.tcpType ? ` tcptype ${remote.tcpType}` : ''}`;
      // Through a TURN server, the local end is a relay candidate; relayProtocol is how this
      // browser reaches the TURN server (Chromium reports it; Firefox may not).
      status.path = local?.candidateType === 'relay' ? `relay${local.relayProtocol ? ` (TURN/${local.relayProtocol.toUpperCase()})` : ''}` : remote.protocol.toUpperCase();
    }
    render();
    const t = performance.now();
    if (bytes !== lastBytes) {
      lastBytes = bytes;
      lastProgress = t;
    }
    const limit = s.firstFrameAt ? STALL_MS : CONNECT_MS;
    if (t - lastProgress > limit) return;
  }
}

// The candidate pair ICE selected. Chromium names it on the transport stats
// (selectedCandidatePairId); Firefox has no transport stats and marks the pair itself (`selected`,
// or nominated and succeeded).
function selectedPair(report) {
  for (const r of report.values()) {
    if (r.type === 'transport' && r.selectedCandidatePairId) return report.get(r.selectedCandidatePairId);
  }
  let nominated = null;
  for (const r of report.values()) {
    if (r.type !== 'candidate-pair') continue;
    if (r.selected) return r;
    if (r.nominated && r.state === 'succeeded') nominated ??= r;
  }
  return nominated;
}

function render() {
  $('latency').textContent = status.latencyMs === null ? 'no clock stamp' : `${status.latencyMs} ms`;
  $('resolution').textContent = status.width ? `${status.width}×${status.height}` : '–';
  $('fps').textContent = String(status.fps);
  $('frames').textContent = String(status.framesDecoded);
  $('codec').textContent = status.codec ?? '–';
  $('path').textContent = status.path ?? '–';
}

/**
 * Where to watch from: in a cluster the director (GET /api/director/<stream> on the page's own
 * relay) names the node, asked again before every (re)connect, so a viewer whose edge died goes
 * to a live one. Without an answer, the page's own relay.
 */
async function whereToWatch() {
  try {
    const res = await fetch(`/api/director/${encodeURIComponent(streamName)}`, { signal: AbortSignal.timeout(3000) });
    if (res.ok) {
      const choice = await res.json();
      // This relay itself: its own endpoint, as the page reached it (its public URL may differ).
      if (choice.local === true) {
        status.node = choice.node ?? null;
        return { whep: endpoint, base: location.origin };
      }
      if (typeof choice.whep === 'string' && /^https?:\/\//.test(choice.whep)) {
        status.node = choice.node ?? null;
        return { whep: choice.whep, base: new URL(choice.whep).origin };
      }
    }
  } catch {
    // The page's relay is unreachable or answers no director: try its own WHEP.
  }
  status.node = null;
  return { whep: endpoint, base: location.origin };
}

async function run() {
  scheduleFrame();
  for (;;) {
    setState('connecting');
    try {
      const where = await whereToWatch();
      session = overWebSocket ? await watchOverWebSocket(webSocketUrlOf(where.base), streamName, { token }) : await watch(where.whep, { token });
    } catch (err) {
      session = null;
      if (err instanceof RelayError && err.status === 404) setState('waiting for the stream');
      else setState('retrying', err.message ?? String(err));
      await sleep(RETRY_MS);
      continue;
    }
    status.connects++;
    video.srcObject = session.stream;
    video.play().catch(() => {});
    await superviseSession(session);
    const ended = session;
    session = null;
    setState('reconnecting');
    // No frame of the old session may count as the new session's first one (join time).
    video.srcObject = null;
    await ended.stop();
  }
}

$('unmute').addEventListener('click', () => {
  video.muted = !video.muted;
  $('unmute').textContent = video.muted ? 'Unmute' : 'Mute';
  video.play().catch(() => {});
});
addEventListener('pagehide', () => session?.stop());
setInterval(render, 1000);
run();
