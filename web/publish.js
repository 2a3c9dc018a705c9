// /publish/<stream>: camera, screen or test pattern → WHIP. Query parameters pre-fill the form
// (source, size, codec, simulcast=1, audio=0, stamp=0) and autostart=1 starts at once, which is
// how tests and the latency bench drive it.
import { availableVideoCodecs, publish, tokenFromFragment } from './whip-whep.js';
import { clockNow, drawClock } from './clock-code.js';

const streamName = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const $ = (id) => document.getElementById(id);
const form = $('form');
const preview = $('preview');
const params = new URLSearchParams(location.search);

/** What the page is doing, for people (rendered) and for tests (read through page.evaluate). */
const status = { state: 'idle', error: null, codec: null, kbps: 0, layers: [], resource: null, connection: null };
window.halfsecPublish = status;

let session = null;
let media = [];
let timers = [];

$('stream').textContent = streamName;
$('watch-link').href = `/watch/${encodeURIComponent(streamName)}`;

for (const c of availableVideoCodecs()) form.codec.add(new Option(c.label, c.id));
for (const [name, value] of params) {
  const field = form.elements.namedItem(name);
  if (!field) continue;
  if (field.type === 'checkbox') field.checked = value === '1' || value === 'true';
  else field.value = value;
}

function setState(state, error = null) {
  status.state = state;
  status.error = error;
  $('status').textContent = error ? `${state}: ${error}` : state;
  $('status').classList.toggle('error', Boolean(error));
}

async function sourceVideo(source, width, height) {
  if (source === 'pattern') return null;
  const video = { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 } };
  const s = source === 'screen' ? await navigator.mediaDevices.getDisplayMedia({ video }) : await navigator.mediaDevices.getUserMedia({ video });
  media.push(s);
  return s.getVideoTracks()[0];
}

/**
 * Routes the source through a canvas that draws the clock stamp (or is the test pattern).
 * A timer, not requestAnimationFrame, paces it: rAF stops entirely in a background tab.
 */
function stampedTrack(sourceTrack, width, height, stamp) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  let video = null;
  if (sourceTrack) {
    video = document.createElement('video');
    video.muted = true;
    video.srcObject = new MediaStream([sourceTrack]);
    video.play().catch(() => {});
  }
  const started = performance.now();
  const draw = () => {
    if (video && video.readyState >= 2) {
      ctx.drawImage(video, 0, 0, width, height);
    } else if (!video) {
      const t = (performance.now() - started) / 1000;
      ctx.fillStyle = `hsl(${(t * 40) % 360} 45% 35%)`;
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = '#fff';
      ctx.fillRect(((t * 0.25) % 1) * width, height * 0.8, width / 20, height / 10);
      ctx.font = `${Math.round(height / 12)}px system-ui, sans-serif`;
      ctx.fillText(new Date().toISOString().slice(11, 23), width * 0.55, height * 0.2);
    }
    if (stamp) drawClock(ctx, height, clockNow());
  };
  draw();
  timers.push(setInterval(draw, 1000 / 30));
  const track = canvas.captureStream(30).getVideoTracks()[0];
  // 'detail' makes the encoder drop frames rather than resolution under pressure: the stamp's
  // blocks stay readable and viewers keep the size they were promised.
  track.contentHint = 'detail';
  return track;
}

async function start() {
  const source = form.source.value;
  const [width, height] = form.size.value.split('x').map(Number);
  setState('starting');
  try {
    let video = await sourceVideo(source, width, height);
    if (!video || form.stamp.checked) video = stampedTrack(video, width, height, form.stamp.checked);
    const tracks = [video];
    if (form.audio.checked) {
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      media.push(mic);
      tracks.push(...mic.getAudioTracks());
    }
    const stream = new MediaStream(tracks);
    media.push(stream);
    preview.srcObject = stream;
    session = await publish(`/whip/${encodeURIComponent(streamName)}`, stream, {
      videoCodec: form.codec.value || undefined,
      simulcast: form.simulcast.checked,
      token: tokenFromFragment(), // a publish token (#token=), when the relay wants one
    });
    status.resource = session.resource;
    session.pc.addEventListener('connectionstatechange', () => {
      status.connection = session?.pc.connectionState ?? 'closed';
      $('connection').textContent = status.connection;
      if (status.connection === 'failed') setState('disconnected', 'the relay stopped answering');
    });
    timers.push(setInterval(showStats, 1000));
    $('start').disabled = true;
    $('stop').disabled = false;
    setState('live');
  } catch (err) {
    await stop();
    setState('failed', err.message ?? String(err));
  }
}

async function stop() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const s = session;
  session = null;
  if (s) await s.stop();
  for (const m of media) for (const t of m.getTracks()) t.stop();
  media = [];
  preview.srcObject = null;
  status.resource = null;
  $('start').disabled = false;
  $('stop').disabled = true;
  setState('stopped');
}

let previous = new Map();
async function showStats() {
  if (!session) return;
  const report = await session.pc.getStats();
  const now = new Map();
  const layers = [];
  let bits = 0;
  let codec = null;
  for (const s of report.values()) {
    if (s.type !== 'outbound-rtp') continue;
    const before = previous.get(s.id);
    const kbps = before ? ((s.bytesSent - before.bytesSent) * 8) / (s.timestamp - before.timestamp) : 0;
    now.set(s.id, s);
    bits += kbps;
    if (s.kind !== 'video') continue;
    codec = report.get(s.codecId)?.mimeType?.replace('video/', '') ?? codec;
    layers.push({ rid: s.rid ?? '-', width: s.frameWidth ?? 0, height: s.frameHeight ?? 0, fps: s.framesPerSecond ?? 0, kbps: Math.round(kbps), active: s.active !== false });
  }
  previous = now;
  layers.sort((a, b) => a.rid.localeCompare(b.rid));
  Object.assign(status, { kbps: Math.round(bits), codec, layers });
  $('bitrate').textContent = `${status.kbps} kbit/s`;
  $('codec').textContent = codec ?? '–';
  $('layers').tBodies[0].replaceChildren(
    ...layers.map((l) => {
      const tr = document.createElement('tr');
      for (const v of [l.rid, l.width ? `${l.width}×${l.height}` : '–', l.fps, l.kbps]) tr.insertCell().textContent = String(v);
      return tr;
    }),
  );
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  start();
});
$('stop').addEventListener('click', () => stop());
// The relay would otherwise keep the stream "live" until its consent timeout.
addEventListener('pagehide', () => session?.stop());

window.halfsecPublishControl = { start, stop };
if (params.get('autostart') === '1') start();
