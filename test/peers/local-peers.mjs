// Helpers for runner scripts that drive several local peers from one process (inside a test's
// network namespace): node peer scripts of this folder, and the Chromium processes it started.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A child peer script speaking JSON lines; `waitFor(event)` resolves with its next such message. */
export function peer(script, args, env = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const waiting = [];
  const seen = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      return;
    }
    const i = waiting.findIndex((w) => w.event === m.event);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(m);
    else seen.push(m);
  });
  return {
    child,
    send: (cmd) => child.stdin.write(`${cmd}\n`),
    waitFor: (event, ms = 30_000) => {
      const i = seen.findIndex((m) => m.event === event);
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        waiting.push({ event, resolve });
        setTimeout(() => reject(new Error(`${script}: no ${event} in ${ms} ms`)), ms).unref();
      });
    },
  };
}

/** Every descendant of this process whose command is Chromium's. */
export function chromiumPids() {
  const parent = new Map();
  const comm = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      parent.set(Number(d), Number(stat.slice(close + 2).split(' ')[1]));
      comm.set(Number(d), stat.slice(stat.indexOf('(') + 1, close));
    } catch {
      // gone
    }
  }
  const mine = (pid) => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...parent.keys()].filter((pid) => mine(pid) && /chrom/i.test(comm.get(pid) ?? ''));
}

/**
 * In a page of the relay (Chromium): watches `path` with web/whip-whep.js after removing the
 * answer's UDP candidates (unless `strip` is false: then something else, e.g. nftables, must
 * block UDP), so the viewer can only connect over ICE-TCP; waits (15 s at most) for
 * "connected". Then `window.__look()` gives { packets, bytes, transport, state } from getStats.
 */
export async function watchOverTcp(page, path, { strip = true } = {}) {
  await page.evaluate(async ([path, strip]) => {
    const real = RTCPeerConnection.prototype.setRemoteDescription;
    RTCPeerConnection.prototype.setRemoteDescription = function (d) {
      if (!strip) return real.call(this, d);
      const sdp = d.sdp.split('\r\n').filter((l) => !/^a=candidate:\S+ \d+ udp /i.test(l)).join('\r\n');
      return real.call(this, { type: d.type, sdp });
    };
    const lib = await import('/web/whip-whep.js');
    window.__v = await lib.watch(path);
    window.__look = async () => {
      const stats = await window.__v.pc.getStats();
      const out = { packets: 0, bytes: 0, transport: null, state: window.__v.pc.connectionState };
      for (const x of stats.values()) {
        if (x.type === 'inbound-rtp' && x.kind === 'video') {
          out.packets = x.packetsReceived ?? 0;
          out.bytes = x.bytesReceived ?? 0;
        }
        if (x.type === 'transport' && x.selectedCandidatePairId) {
          const pair = stats.get(x.selectedCandidatePairId);
          out.transport = stats.get(pair?.remoteCandidateId)?.protocol ?? null;
        }
      }
      return out;
    };
    const t0 = Date.now();
    while (window.__v.pc.connectionState !== 'connected' && Date.now() - t0 < 15000) await new Promise((r) => setTimeout(r, 100));
  }, [path, strip]);
}
