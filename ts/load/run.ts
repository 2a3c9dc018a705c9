// One load run: an optional native publisher, N viewers joined with bounded concurrency, and
// measurements over a window. Used by `halfsec load` and by bench/fanout/.
import { DatachannelViewers } from './datachannel.js';
import { percentile } from './histogram.js';
import type { LatencySummary } from './histogram.js';
import { loadNative } from './native.js';
import { NativeClients } from './native-viewers.js';
import { pool } from './whip.js';
import type { ViewerCounters, ViewerPool } from './viewers.js';

export interface LoadConfig {
  url: string;
  stream: string;
  viewers: number;
  rateKbps: number;
  fps: number;
  packetSize: number;
  /** The publisher sends each frame's packets back to back (unpaced encoders) instead of evenly spaced. */
  burst?: boolean;
  /** The publisher answers the relay's PLI/FIR with an IDR (encoders do); default: it ignores them. */
  keyframeOnRequest?: boolean;
  publish: boolean;
  peer: 'native' | 'datachannel';
  /** WHEP POSTs in flight at once. */
  concurrency: number;
  /** How native viewers reach the relay: UDP (default) or ICE-TCP. */
  transport?: 'udp' | 'tcp';
  /** Native viewer threads (the publisher has its own). */
  threads: number;
  /** Clients get 127.<ipOctet>.x.y; default derived from the pid so that parallel runs differ. */
  ipOctet?: number;
  /** Native clients all present the engine's one certificate instead of one each (for comparisons with older runs). */
  sharedCertificate?: boolean;
  /** How long a viewer may take to connect (ms); the publisher gets this too, at most 15 s. */
  joinTimeoutMs: number;
  /** The publisher holds its media while viewers join (joins then measure an idle relay). */
  holdWhileJoining?: boolean;
  /** With holdWhileJoining: runs once every viewer has joined, before the publisher resumes. */
  onJoinedHeld?: () => Promise<void>;
  /** Called about twice a second with a one-line status. */
  onProgress?: (line: string) => void;
}

export interface WindowMark {
  atNs: number;
  publisherTx: number;
  counters: Map<number, ViewerCounters>;
  latency: unknown;
}

export interface LoadSummary {
  viewers: { requested: number; joined: number; failed: number; errors: string[] };
  window: {
    seconds: number;
    expectedPackets: number;
    perViewerMin: number;
    perViewerMedian: number;
    deliveredMin: number;
    deliveredTotal: number;
  };
  auth: { checked: number; failed: number; badPayload: number };
  latencyUs: LatencySummary;
  joinMs: { p50?: number; p99?: number; max?: number };
  publisher?: { txPackets: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LoadRun {
  private signalErrors: string[] = [];
  private signalFailed = 0;

  private constructor(
    readonly cfg: LoadConfig,
    readonly clients: NativeClients,
    readonly viewers: ViewerPool,
  ) {}

  static async start(cfg: LoadConfig): Promise<LoadRun> {
    const octet = cfg.ipOctet ?? 100 + (process.pid % 100);
    const clients = NativeClients.create(cfg.threads, octet, cfg.transport ?? 'udp', !cfg.sharedCertificate);
    try {
      // Each native client presents a certificate of its own (as browsers do); made now, not while joining.
      clients.engine.prepareCertificates((cfg.peer === 'native' ? cfg.viewers : 0) + (cfg.publish ? 1 : 0));
      const viewers = cfg.peer === 'native' ? clients : await DatachannelViewers.create();
      const run = new LoadRun(cfg, clients, viewers);
      if (cfg.publish) {
        await clients.publish(`${cfg.url}/whip/${encodeURIComponent(cfg.stream)}`, { rateKbps: cfg.rateKbps, fps: cfg.fps, packetSize: cfg.packetSize, burst: cfg.burst ?? false, keyframeOnRequest: cfg.keyframeOnRequest ?? false }, Math.min(15_000, cfg.joinTimeoutMs));
      }
      return run;
    } catch (err) {
      clients.engine.close();
      throw err;
    }
  }

  /** Joins every viewer, then waits (bounded) until each is connected or has failed. */
  async joinAll(): Promise<void> {
    const whep = `${this.cfg.url}/whep/${encodeURIComponent(this.cfg.stream)}`;
    let posted = 0;
    if (this.cfg.holdWhileJoining) this.clients.setPublisherPaused(true);
    const tick = setInterval(() => this.progress(`joining: posted ${posted}/${this.cfg.viewers}`), 500);
    try {
      await pool(this.cfg.viewers, this.cfg.concurrency, async () => {
        try {
          await this.viewers.join(whep);
        } catch (err) {
          this.signalFailed++;
          if (this.signalErrors.length < 5) this.signalErrors.push((err as Error).message);
        }
        posted++;
      });
      const deadline = Date.now() + this.cfg.joinTimeoutMs;
      while (Date.now() < deadline) {
        const c = this.viewers.counters();
        if (c.every((v) => v.state !== 'joining')) break;
        await sleep(100);
      }
      if (this.cfg.holdWhileJoining) await this.cfg.onJoinedHeld?.();
    } finally {
      clearInterval(tick);
      if (this.cfg.holdWhileJoining) this.clients.setPublisherPaused(false);
    }
    this.progress('');
  }

  progress(prefix: string): void {
    if (!this.cfg.onProgress) return;
    const c = this.viewers.counters();
    const connected = c.filter((v) => v.state === 'connected').length;
    const failed = c.filter((v) => v.state === 'failed').length + this.signalFailed;
    const rx = c.reduce((a, v) => a + v.rxPackets, 0);
    const tx = this.clients.publisherStats()?.txPackets ?? 0;
    this.cfg.onProgress(`${prefix ? `${prefix}  ` : ''}connected ${connected}/${this.cfg.viewers}  failed ${failed}  publisher sent ${tx}  viewers received ${rx}`);
  }

  mark(): WindowMark {
    return {
      atNs: loadNative.LoadEngine.nowNs(),
      publisherTx: this.clients.publisherStats()?.txPackets ?? 0,
      counters: new Map(this.viewers.counters().map((v) => [v.key, v])),
      latency: this.viewers.latencyMark(),
    };
  }

  /** Runs the measured window with a progress line, returning the marks at both ends. */
  async window(seconds: number): Promise<[WindowMark, WindowMark]> {
    const start = this.mark();
    const tick = setInterval(() => this.progress('running'), 500);
    await sleep(seconds * 1000);
    clearInterval(tick);
    this.progress('');
    return [start, this.mark()];
  }

  summarize(a: WindowMark, b: WindowMark): LoadSummary {
    const seconds = (b.atNs - a.atNs) / 1e9;
    const expected = this.cfg.publish ? b.publisherTx - a.publisherTx : Math.round(((this.cfg.rateKbps * 1000) / 8 / this.cfg.packetSize) * seconds);
    const all = [...b.counters.values()];
    const measured = all.filter((v) => a.counters.get(v.key)?.state === 'connected');
    const deltas = measured.map((v) => v.rxPackets - (a.counters.get(v.key)?.rxPackets ?? 0));
    const total = deltas.reduce((x, y) => x + y, 0);
    const joinMs = all.flatMap((v) => (v.joinMs !== undefined ? [v.joinMs] : []));
    const errors = [...this.signalErrors];
    for (const v of all) if (v.error && errors.length < 5 && !errors.includes(v.error)) errors.push(v.error);
    return {
      viewers: {
        requested: this.cfg.viewers,
        joined: all.filter((v) => v.state === 'connected').length,
        failed: all.filter((v) => v.state === 'failed').length + this.signalFailed,
        errors,
      },
      window: {
        seconds,
        expectedPackets: expected,
        perViewerMin: deltas.length ? Math.min(...deltas) : 0,
        perViewerMedian: percentile(deltas, 0.5) ?? 0,
        deliveredMin: expected > 0 && deltas.length ? Math.min(...deltas) / expected : 0,
        deliveredTotal: expected > 0 && this.cfg.viewers > 0 ? total / (expected * this.cfg.viewers) : 0,
      },
      auth: {
        checked: all.reduce((x, v) => x + v.authChecked, 0),
        failed: all.reduce((x, v) => x + v.authFailed, 0),
        badPayload: all.reduce((x, v) => x + v.badPayload, 0),
      },
      latencyUs: this.viewers.latencySince(a.latency),
      joinMs: { p50: percentile(joinMs, 0.5), p99: percentile(joinMs, 0.99), max: joinMs.length ? Math.max(...joinMs) : undefined },
      ...(this.cfg.publish ? { publisher: { txPackets: b.publisherTx } } : {}),
    };
  }

  async close(deleteSessions = false): Promise<void> {
    if (this.viewers !== this.clients) await this.viewers.close(deleteSessions);
    await this.clients.close(deleteSessions);
  }
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits);
}

export function formatSummary(s: LoadSummary): string {
  const rows: [string, string][] = [
    ['viewers joined / failed', `${s.viewers.joined} / ${s.viewers.failed} (of ${s.viewers.requested})`],
    ['window', `${fmt(s.window.seconds, 1)} s`],
    ['packets expected per viewer', fmt(s.window.expectedPackets)],
    ['packets per viewer min / median', `${fmt(s.window.perViewerMin)} / ${fmt(s.window.perViewerMedian)}`],
    ['delivered min / total', `${fmt(s.window.deliveredMin * 100, 2)} % / ${fmt(s.window.deliveredTotal * 100, 2)} %`],
    ['auth-checked / auth-failed / bad payload', `${s.auth.checked} / ${s.auth.failed} / ${s.auth.badPayload}`],
    ['latency p50 / p99 / max (µs)', `${fmt(s.latencyUs.p50)} / ${fmt(s.latencyUs.p99)} / ${fmt(s.latencyUs.max)} (${s.latencyUs.count} samples)`],
    ['join time p50 / p99 (ms)', `${fmt(s.joinMs.p50, 1)} / ${fmt(s.joinMs.p99, 1)}`],
  ];
  if (s.viewers.errors.length) rows.push(['first errors', s.viewers.errors.join(' | ')]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
