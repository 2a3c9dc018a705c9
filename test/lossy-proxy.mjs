import dgram from 'node:dgram';
import { seeded } from './prng.mjs';


const isRtpOrRtcp = (msg) => msg.length >= 12 && msg[0] >= 128 && msg[0] <= 191;

/**
 * A UDP proxy on 127.0.0.1 in front of one relay port: each client address gets its own
 * upstream socket, so the relay still sees one address per peer. RTP/RTCP are dropped with the
 * given probabilities (seeded); STUN and DTLS always pass, so handshakes are not what is tested,
 * unless `dropToClient(msg)` (any relay-to-client datagram) returns true for one.
 */
export async function startLossyProxy(t, { target, toClientLoss = 0, toRelayLoss = 0, seed = 1, host = '127.0.0.1', port = 0, dropToClient = null }) {
  const rand = seeded(seed);
  const front = dgram.createSocket('udp4');
  const upstreams = new Map();
  const stats = { toClient: 0, toClientDropped: 0, toRelay: 0, toRelayDropped: 0 };
  await new Promise((r) => front.bind(port, host, r));
  // Each client's address, to open a new upstream for it on rebind().
  const clients = new Map();
  const openUpstream = (rinfo) => {
    const up = dgram.createSocket('udp4');
    up.bind(0, '127.0.0.1');
    up.on('message', (back) => {
      if (dropToClient?.(back)) {
        stats.toClientDropped++;
        return;
      }
      if (isRtpOrRtcp(back)) {
        stats.toClient++;
        if (rand() < toClientLoss) {
          stats.toClientDropped++;
          return;
        }
      }
      front.send(back, rinfo.port, rinfo.address);
    });
    return up;
  };
  front.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = upstreams.get(key);
    if (!up) {
      up = openUpstream(rinfo);
      upstreams.set(key, up);
    }
    clients.set(key, rinfo);
    if (isRtpOrRtcp(msg)) {
      stats.toRelay++;
      if (rand() < toRelayLoss) {
        stats.toRelayDropped++;
        return;
      }
    }
    up.send(msg, target.port, target.host);
  });
  const close = () => {
    front.close();
    for (const u of upstreams.values()) u.close();
  };
  t?.teardown(close);
  /** Sends `msg` to the relay from the (first) client's upstream port, as a spoofer would. */
  const inject = (msg) => {
    const up = upstreams.values().next().value;
    if (up) up.send(msg, target.port, target.host);
  };
  /**
   * A NAT rebinding: every client's upstream moves to a new port, and nothing else happens: the
   * client does not know, and its next connectivity check comes at its own pace (seconds).
   */
  const rebind = () => {
    for (const [key, old] of upstreams) {
      old.close();
      upstreams.set(key, openUpstream(clients.get(key)));
    }
  };
  return { port: front.address().port, stats, close, inject, rebind };
}

/** Points the answer's host candidates at the proxy. */
export function viaProxy(answer, port) {
  return answer.replace(/(a=candidate:\S+ 1 udp \d+ )127\.0\.0\.1 \d+/g, `$1127.0.0.1 ${port}`);
}
