// Watching over the relay's WebSocket signaling (docs/websocket.md) instead of WHEP, for browsers.
// No dependencies. The media is the same WebRTC session as with WHEP; the socket carries the offer,
// the answer and the stream's events, and its closing ends the session on the relay.
import { RelayError, iceGatheringDone } from './whip-whep.js';

const ANSWER_MS = 10000; // the view's answer (a held view waits for its publisher)

/**
 * The WebSocket URL of a relay whose base URL is `base` (http(s)://host:port, or relative to the
 * page): ws(s)://host:port/ws.
 */
export function webSocketUrlOf(base) {
  const url = new URL('/ws', new URL(base, globalThis.location?.href));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * Views `stream` through the WebSocket at `wsUrl` (protocol version 1: hello, then view).
 * options: token (a view token, sent in `hello`), iceServers, iceTransportPolicy.
 * Resolves, once the relay answered, to { pc, stream, postedAt, ended, whenEnded, stop() }, the
 * shape of whip-whep.js's watch() plus: `ended` turns true and `whenEnded` (a Promise of the
 * reason string) resolves when the session is over for the relay: the socket closed (the node
 * died or dropped it), a `stopped` event (the stream ended), or the PeerConnection failed. A caller
 * that wants to go on watching asks its director again and calls this anew (watch.js does).
 * Rejects with a RelayError (status 404 for a stream that never went live within 10 s, 403/401 for
 * a refused token, 502 when the socket closed first) or the browser's error.
 */
export function watchOverWebSocket(wsUrl, streamName, options = {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: options.iceServers ?? [], iceTransportPolicy: options.iceTransportPolicy ?? 'all' });
  const media = new MediaStream();
  pc.addEventListener('track', (e) => media.addTrack(e.track));
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });

  let endWith;
  const whenEnded = new Promise((r) => (endWith = r));
  const session = { pc, stream: media, postedAt: 0, ended: false, whenEnded, stop: () => end('stopped by the page') };
  let ws = null;
  function end(reason) {
    if (session.ended) return Promise.resolve();
    session.ended = true;
    // Closing the socket ends the session on the relay (docs/websocket.md "Rules").
    try {
      ws?.close();
    } catch {
      // Already closing.
    }
    pc.close();
    endWith(reason);
    return Promise.resolve();
  }
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'failed') end('connection failed');
  });

  return new Promise((resolve, reject) => {
    let answered = false;
    const fail = (err) => {
      clearTimeout(timer);
      end(err.message);
      reject(err);
    };
    const timer = setTimeout(() => fail(new RelayError(404, `no answer for "${streamName}" within ${ANSWER_MS} ms`)), ANSWER_MS);
    (async () => {
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringDone(pc);
      if (session.ended) return;
      ws = new WebSocket(wsUrl);
      ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'hello', version: 1, ...(options.token ? { token: options.token } : {}) })));
      ws.addEventListener('close', () => {
        if (!answered) fail(new RelayError(502, 'the WebSocket closed before the answer'));
        else end('socket closed');
      });
      ws.addEventListener('message', async ({ data }) => {
        let m;
        try {
          m = JSON.parse(data);
        } catch {
          return;
        }
        if (m.type === 'hello') {
          session.postedAt = performance.now();
          ws.send(JSON.stringify({ type: 'view', id: 'view', stream: streamName, sdp: pc.localDescription.sdp }));
        } else if (m.type === 'answer' && m.id === 'view' && !answered) {
          answered = true;
          clearTimeout(timer);
          try {
            await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
            resolve(session);
          } catch (err) {
            fail(err);
          }
        } else if (m.type === 'error' && !answered) {
          const status = { unauthorized: 401, forbidden: 403, not_found: 404, limit: 503 }[m.code] ?? 400;
          fail(new RelayError(status, `${m.code}: ${m.message}`));
        } else if (m.type === 'stopped' && answered) {
          end(`stopped: ${m.reason}`);
        }
      });
    })().catch(fail);
  });
}
