// WHIP (publish) and WHEP (watch) client for browsers. No dependencies; import it from any page.
//
// The relay is ICE-lite and supports neither trickle ICE nor PATCH, so the offer is posted once,
// after ICE gathering has finished, with every candidate in it.

/** An HTTP error from the relay, with its status and the relay's JSON error message. */
export class RelayError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'RelayError';
    this.status = status;
  }
}

/**
 * Video codecs a publisher can ask for. `match` picks entries of RTCRtpSender.getCapabilities();
 * the relay takes whatever single codec family it is offered.
 */
export const VIDEO_CODECS = [
  { id: 'h264-cb', label: 'H.264 constrained baseline', mimeType: 'video/H264', match: (f) => /profile-level-id=42e0/i.test(f) && /packetization-mode=1/.test(f) },
  { id: 'h264-main', label: 'H.264 main', mimeType: 'video/H264', match: (f) => /profile-level-id=4d/i.test(f) && /packetization-mode=1/.test(f) },
  { id: 'h264-high', label: 'H.264 high', mimeType: 'video/H264', match: (f) => /profile-level-id=64/i.test(f) && /packetization-mode=1/.test(f) },
  { id: 'vp8', label: 'VP8', mimeType: 'video/VP8', match: () => true },
  { id: 'vp9', label: 'VP9', mimeType: 'video/VP9', match: (f) => !/profile-id=[^0]/.test(f) },
  { id: 'av1', label: 'AV1', mimeType: 'video/AV1', match: (f) => !/profile=[^0]/.test(f) },
];

function sameCodec(a, b) {
  return a.mimeType.toLowerCase() === b.mimeType.toLowerCase() && (a.sdpFmtpLine ?? '') === (b.sdpFmtpLine ?? '');
}

/** Codec ids this browser can both encode and negotiate, in VIDEO_CODECS order. */
export function availableVideoCodecs() {
  const send = globalThis.RTCRtpSender?.getCapabilities?.('video')?.codecs ?? [];
  return VIDEO_CODECS.filter((c) => send.some((s) => s.mimeType.toLowerCase() === c.mimeType.toLowerCase() && c.match(s.sdpFmtpLine ?? '')));
}

/**
 * Restricts a video transceiver to one codec family (plus rtx), so that the relay, which answers
 * with its own preference among what is offered, ends up with the one chosen here.
 */
export function preferVideoCodec(transceiver, codecId) {
  const choice = VIDEO_CODECS.find((c) => c.id === codecId);
  if (!choice || typeof transceiver.setCodecPreferences !== 'function') return false;
  const send = RTCRtpSender.getCapabilities('video')?.codecs ?? [];
  // Chromium validates preferences against the receive capabilities; keep the ones we can also send.
  const recv = RTCRtpReceiver.getCapabilities('video')?.codecs ?? send;
  const chosen = recv.filter((c) => c.mimeType.toLowerCase() === choice.mimeType.toLowerCase() && choice.match(c.sdpFmtpLine ?? '') && send.some((s) => sameCodec(s, c)));
  if (chosen.length === 0) return false;
  const rtx = recv.filter((c) => c.mimeType.toLowerCase() === 'video/rtx');
  transceiver.setCodecPreferences([...chosen, ...rtx]);
  return true;
}

/** Resolves once ICE gathering is complete, or after `timeoutMs` with what has been gathered. */
export function iceGatheringDone(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * Sends the local offer to a WHIP or WHEP endpoint and applies the answer.
 * Returns { resource, postedAt }: the session's resource URL (the Location to DELETE) and
 * performance.now() when the offer was posted. When anything fails after the relay created the
 * session (the answer does not apply), the session is DELETEd before the error is thrown, so a
 * caller that retries leaves nothing behind.
 */
export async function negotiate(pc, endpoint, { signal, token } = {}) {
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringDone(pc);
  const url = new URL(endpoint, globalThis.location?.href);
  const postedAt = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    // A publish or view token (README "Tokens"), sent as WHIP/WHEP bearer authentication.
    headers: { 'Content-Type': 'application/sdp', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: pc.localDescription.sdp,
    signal,
  });
  const body = await res.text();
  if (res.status !== 201) {
    let message = body;
    try {
      message = JSON.parse(body).error ?? body;
    } catch {
      // Not JSON: keep the text as it came.
    }
    throw new RelayError(res.status, message || `HTTP ${res.status}`);
  }
  const location = res.headers.get('Location');
  if (!location) throw new RelayError(res.status, 'the relay answered without a Location');
  const resource = new URL(location, url).toString();
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
  } catch (err) {
    await endSession(resource);
    throw err;
  }
  return { resource, postedAt };
}

/** Ends a session on the relay. `keepalive` lets it complete while the page unloads. */
export async function endSession(resourceUrl) {
  try {
    const res = await fetch(resourceUrl, { method: 'DELETE', keepalive: true });
    return res.status;
  } catch {
    return 0;
  }
}

/** Simulcast layers, lowest first: the order of `a=simulcast:send q;h;f`. */
export const SIMULCAST_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/**
 * Publishes a MediaStream with WHIP.
 * options: videoCodec (an id of VIDEO_CODECS, or absent for the relay's choice), simulcast (bool),
 * token (a publish token, sent as `Authorization: Bearer`),
 * maxBitrate (bit/s, single-layer only), bundlePolicy ('max-bundle' by default; the relay takes
 * 'balanced' offers too).
 * Returns { pc, resource, stop() }. The session is DELETEd when the connection fails.
 */
export async function publish(endpoint, stream, options = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: options.bundlePolicy ?? 'max-bundle', iceServers: [] });
  try {
    for (const track of stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [stream] };
      if (track.kind === 'video') {
        if (options.simulcast) init.sendEncodings = SIMULCAST_LAYERS.map((l) => ({ ...l }));
        else if (options.maxBitrate) init.sendEncodings = [{ maxBitrate: options.maxBitrate }];
      }
      const transceiver = pc.addTransceiver(track, init);
      if (track.kind === 'video' && options.videoCodec) preferVideoCodec(transceiver, options.videoCodec);
    }
    const { resource } = await negotiate(pc, endpoint, options);
    return { pc, resource, stop: sessionEnder(pc, resource) };
  } catch (err) {
    pc.close();
    throw err;
  }
}

/**
 * Watches a stream with WHEP. Returns { pc, resource, stream, postedAt, stop() }; `postedAt`
 * (performance.now() at the POST) lets callers measure join time. options: token (a view token,
 * sent as `Authorization: Bearer`), bundlePolicy,
 * iceServers (e.g. a TURN server: README "Viewers behind firewalls"), iceTransportPolicy.
 * The session is DELETEd when the connection fails (ICE or DTLS).
 */
export async function watch(endpoint, options = {}) {
  const pc = new RTCPeerConnection({
    bundlePolicy: options.bundlePolicy ?? 'max-bundle',
    iceServers: options.iceServers ?? [],
    iceTransportPolicy: options.iceTransportPolicy ?? 'all',
  });
  const stream = new MediaStream();
  pc.addEventListener('track', (e) => stream.addTrack(e.track));
  offerDependencyDescriptor(pc.addTransceiver('video', { direction: 'recvonly' }));
  pc.addTransceiver('audio', { direction: 'recvonly' });
  try {
    const { resource, postedAt } = await negotiate(pc, endpoint, options);
    return { pc, resource, stream, postedAt, stop: sessionEnder(pc, resource) };
  } catch (err) {
    pc.close();
    throw err;
  }
}

/**
 * Asks to receive the AV1 dependency descriptor header extension (Chromium lists it "stopped"
 * for receiving by default): with it the relay forwards an AV1 SVC stream's layers to this
 * viewer as its bandwidth allows (README "SVC"); without it the viewer gets every layer.
 * Browsers without setHeaderExtensionsToNegotiate, or that do not know the extension, are left as they are.
 */
function offerDependencyDescriptor(transceiver) {
  if (typeof transceiver.getHeaderExtensionsToNegotiate !== 'function') return;
  try {
    const uri = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';
    const exts = transceiver.getHeaderExtensionsToNegotiate();
    if (!exts.some((h) => h.uri === uri)) return;
    transceiver.setHeaderExtensionsToNegotiate(exts.map((h) => (h.uri === uri && h.direction === 'stopped' ? { ...h, direction: 'recvonly' } : h)));
  } catch {
    // An older implementation refusing the list: negotiate what it offers by default.
  }
}

/**
 * The session's stop(): closes the PeerConnection and DELETEs the resource, once. It also runs
 * by itself when the connection fails (ICE or DTLS), so a session the relay holds for a dead
 * connection is ended at once rather than when the relay's own timeout drops it.
 */
function sessionEnder(pc, resource) {
  let ended = null;
  const stop = () => {
    ended ??= (pc.close(), endSession(resource));
    return ended;
  };
  const onState = () => {
    if (pc.connectionState !== 'failed') return;
    pc.removeEventListener('connectionstatechange', onState);
    stop();
  };
  pc.addEventListener('connectionstatechange', onState);
  return stop;
}

/**
 * A token given to a page in its URL fragment (`#token=<jwt>`): the fragment never reaches a
 * server or a log, unlike a query string.
 */
export function tokenFromFragment() {
  return new URLSearchParams(globalThis.location?.hash.slice(1) ?? '').get('token') ?? undefined;
}
