// In-page helpers for the SVC browser test (test/svc-browser.test.mjs): pass them to
// page.evaluate. A canvas publisher with a scalability mode, and a viewer over /ws that can
// send `select` (the cap the relay's SVC policy obeys).

/**
 * In the page: a 640x360 canvas with moving bars and a frame counter (every frame differs, so
 * every temporal layer carries frames), published over WHIP with `codec` ('VP8' or 'VP9') only
 * and `scalabilityMode` (e.g. 'L1T3', 'L3T3_KEY'). Resolves { status, mode } with the mode the
 * sender reports back.
 */
export function publishLayered({ stream, codec, scalabilityMode }) {
  return (async () => {
    const W = 640, H = 360;
    const canvas = document.createElement('canvas');
    canvas.width = W;
    canvas.height = H;
    const ctx = canvas.getContext('2d');
    let n = 0;
    window.drawTimer = setInterval(() => {
      n++;
      for (let i = 0; i < 8; i++) {
        ctx.fillStyle = `hsl(${(n * 7 + i * 45) % 360} 80% 50%)`;
        ctx.fillRect(((n * 6 + i * 80) % (W + 80)) - 80, 0, 80, H);
      }
      ctx.fillStyle = '#000';
      ctx.font = '48px sans-serif';
      ctx.fillText(String(n), 20, 60);
    }, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0];
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: [{ scalabilityMode }] });
    const re = new RegExp(`video/(${codec}|rtx)$`, 'i');
    const codecs = RTCRtpSender.getCapabilities('video').codecs.filter((c) => re.test(c.mimeType) && !/profile-id=[123]/.test(c.sdpFmtpLine ?? ''));
    tr.setCodecPreferences(codecs);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 3000);
    });
    const res = await fetch(`/whip/${stream}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
    const answer = await res.text();
    if (res.status !== 201) return { status: res.status, answer };
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    const params = tr.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await tr.sender.setParameters(params).catch(() => {});
    return { status: res.status, mode: tr.sender.getParameters().encodings[0]?.scalabilityMode ?? null };
  })();
}

/** In the publisher page: what its video sender reports (codec, size, fps, mode). */
export function senderStats() {
  return (async () => {
    const out = {};
    const stats = await window.pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') {
        Object.assign(out, { width: r.frameWidth, height: r.frameHeight, fps: r.framesPerSecond, mode: r.scalabilityMode, framesEncoded: r.framesEncoded });
        out.codec = stats.get(r.codecId)?.mimeType;
      }
    });
    return out;
  })();
}

/**
 * In the page: a viewer of `stream` over /ws (hello, view), video only, playing into a muted
 * <video>. `dependencyDescriptor`: offer the AV1 dependency descriptor extension too (Chromium
 * lists it as "stopped" for receiving until the page asks for it).
 */
export function viewOverWs({ stream, dependencyDescriptor = false }) {
  return (async () => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    window.ws = ws;
    const replies = new Map();
    const early = new Map();  // replies nobody waits for yet (an answer after `inactive`)
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (!m.id) return;
      const waiter = replies.get(m.id);
      replies.delete(m.id);
      if (waiter) waiter(m);
      else early.set(m.id, m);
    };
    const next = (id) => new Promise((resolve) => (early.has(id) ? resolve(early.get(id)) : replies.set(id, resolve)));
    window.request = (msg) => new Promise((resolve) => {
      replies.set(msg.id, resolve);
      ws.send(JSON.stringify(msg));
    });
    await new Promise((resolve) => { ws.onopen = resolve; });
    await window.request({ type: 'hello', id: 'h', version: 1 });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    if (dependencyDescriptor) {
      tr.setHeaderExtensionsToNegotiate(tr.getHeaderExtensionsToNegotiate().map((h) => (/#dependency-descriptor-rtp-header-extension$/.test(h.uri) ? { ...h, direction: 'recvonly' } : h)));
    }
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    document.body.append(video);
    pc.ontrack = (e) => {
      if (e.track.kind === 'video') video.srcObject = new MediaStream([e.track]);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 3000);
    });
    let m = await window.request({ type: 'view', id: 'v', stream, sdp: pc.localDescription.sdp });
    // On an edge the stream may not be here yet: the answer follows once the pull is up.
    if (m.type === 'inactive') m = await next('v');
    if (m.type !== 'answer') return { error: JSON.stringify(m) };
    await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    return { ok: true };
  })();
}

/** In a viewer page: `select` with `maxBitrate` (bit/s, or null to lift the cap). */
export function selectMaxBitrate(maxBitrate) {
  return window.request({ type: 'select', id: `s${Date.now()}`, maxBitrate });
}

/** In a viewer page: the inbound video as getStats reports it now. */
export function receiverStats() {
  return (async () => {
    const out = { framesDecoded: 0 };
    const stats = await window.pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        Object.assign(out, { framesDecoded: r.framesDecoded ?? 0, height: r.frameHeight ?? 0, width: r.frameWidth ?? 0, freezeCount: r.freezeCount ?? 0, packetsLost: r.packetsLost ?? 0, nackCount: r.nackCount ?? 0, keyFramesDecoded: r.keyFramesDecoded ?? 0 });
        out.codec = stats.get(r.codecId)?.mimeType;
      }
    });
    return out;
  })();
}

/** In a viewer page: the local UDP port of its selected candidate pair (0 if none yet). */
export function localPort() {
  return (async () => {
    const stats = await window.pc.getStats();
    for (const r of stats.values()) {
      if (r.type === 'transport' && r.selectedCandidatePairId) {
        const pair = stats.get(r.selectedCandidatePairId);
        return stats.get(pair?.localCandidateId)?.port ?? 0;
      }
    }
    return 0;
  })();
}

/** In the publisher page: bytes of video sent so far (outbound-rtp, media and header). */
export function videoBytesSent() {
  return (async () => {
    let n = 0;
    (await window.pc.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') n += (r.bytesSent ?? 0) + (r.headerBytesSent ?? 0);
    });
    return n;
  })();
}
