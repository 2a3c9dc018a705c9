// In-page helpers for a hard-to-compress Chromium publisher (test/publish-bitrate.test.mjs and
// test/peers/publisher-limited-run.mjs): pass them to page.evaluate.

/**
 * In the page: a 1280x720 canvas of noise, drawn from a random offset of a larger noise image
 * every frame (no encoder predicts it, so VP8 spends whatever rate it is given), published over
 * WHIP with VP8 only.
 * `stripBandwidth` drops the answer's b= lines (then only REMB carries the ceiling);
 * `stripTransportCc` drops transport-cc from it (the publisher then has REMB only, for
 * comparisons); `overWebSocket` publishes through /ws instead of WHIP.
 */
export function publishNoise({ stream, maxBitrate, stripBandwidth, stripTransportCc, overWebSocket }) {
  return (async () => {
    const W = 1280, H = 720;
    const noise = document.createElement('canvas');
    noise.width = W * 2;
    noise.height = H * 2;
    const nctx = noise.getContext('2d');
    const img = nctx.createImageData(noise.width, noise.height);
    for (let off = 0; off < img.data.length; off += 65536) crypto.getRandomValues(img.data.subarray(off, Math.min(off + 65536, img.data.length)));
    for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
    nctx.putImageData(img, 0, 0);
    const canvas = document.createElement('canvas');
    canvas.width = W;
    canvas.height = H;
    const ctx = canvas.getContext('2d');
    const draw = () => {
      ctx.drawImage(noise, -Math.floor(Math.random() * W), -Math.floor(Math.random() * H));
    };
    draw();
    window.noiseTimer = setInterval(draw, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0];
    const pc = new RTCPeerConnection();
    window.pc = pc;
    const tr = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: [{ maxBitrate }] });
    const codecs = RTCRtpSender.getCapabilities('video').codecs.filter((c) => /vp8|rtx/i.test(c.mimeType));
    tr.setCodecPreferences(codecs);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 3000);
    });
    let status, answer;
    if (overWebSocket) {
      // The WebSocket signaling path (docs/websocket.md): hello, then publish.
      const ws = new WebSocket(`ws://${location.host}/ws`);
      window.ws = ws;
      const replies = new Map();
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.id) replies.get(m.id)?.(m);
      };
      const request = (msg) => new Promise((resolve) => {
        replies.set(msg.id, resolve);
        ws.send(JSON.stringify(msg));
      });
      await new Promise((resolve) => { ws.onopen = resolve; });
      await request({ type: 'hello', id: 'h', version: 1 });
      const m = await request({ type: 'publish', id: 'p', stream, sdp: pc.localDescription.sdp });
      [status, answer] = m.type === 'answer' ? [201, m.sdp] : [400, JSON.stringify(m)];
    } else {
      const res = await fetch(`/whip/${stream}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
      [status, answer] = [res.status, await res.text()];
    }
    if (status !== 201) return { status, answer };
    if (stripBandwidth) answer = answer.replace(/^b=.*\r\n/gm, '');
    if (stripTransportCc) answer = answer.replace(/^a=(rtcp-fb:\d+ transport-cc|extmap:\d+ http:\/\/www\.ietf\.org\/id\/draft-holmer\S*)\r\n/gm, '');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    // Keep 1280x720 under CPU pressure: frames may drop, the resolution may not.
    const params = tr.sender.getParameters();
    params.degradationPreference = 'maintain-resolution';
    await tr.sender.setParameters(params).catch(() => {});
    return { status, answer, offer: pc.localDescription.sdp };
  })();
}

/** Chromium's own view: its estimate and what it sends (for the log only; assertions use the relay). */
export function senderView() {
  return (async () => {
    const out = {};
    (await window.pc.getStats()).forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated) out.availableOutgoingBitrate = r.availableOutgoingBitrate;
      if (r.type === 'outbound-rtp' && r.kind === 'video') Object.assign(out, { frameWidth: r.frameWidth, fps: r.framesPerSecond, limitation: r.qualityLimitationReason, targetBitrate: r.targetBitrate, packetsSent: r.packetsSent, retransmittedPacketsSent: r.retransmittedPacketsSent });
      if (r.type === 'remote-inbound-rtp' && r.kind === 'video') Object.assign(out, { fractionLost: r.fractionLost, packetsLost: r.packetsLost, roundTripTime: r.roundTripTime });
    });
    return out;
  })();
}
