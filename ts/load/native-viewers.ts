// Viewers hosted by the native load engine: one loopback address each, on the engine's threads.
import { summarizeLatency } from './histogram.js';
import type { LatencySummary } from './histogram.js';
import { loadNative } from './native.js';
import type { ClientParams, NativeLoadEngine } from './native.js';
import { buildOffer, parseAnswer } from './sdp.js';
import { deleteSession, iceCredentials, postOffer } from './whip.js';
import type { ViewerCounters, ViewerPool } from './viewers.js';

export interface PublisherOptions {
  rateKbps: number;
  fps: number;
  packetSize: number;
  /** A frame's packets back to back at each frame time (unpaced encoders), not evenly spaced. */
  burst?: boolean;
  /** A PLI or FIR from the relay makes the next frame an IDR (encoders do); default: ignored. */
  keyframeOnRequest?: boolean;
}

interface Joined {
  postNs: number;
  location: string;
}

export class NativeClients implements ViewerPool {
  readonly kind = 'native' as const;
  private readonly joined = new Map<number, Joined>();
  private publisherId: number | undefined;
  private publisherLocation: string | undefined;

  constructor(
    readonly engine: NativeLoadEngine,
    /** How viewers reach the relay (the publisher always uses UDP). */
    readonly transport: 'udp' | 'tcp' = 'udp',
  ) {}

  static create(threads: number, ipOctet: number, transport: 'udp' | 'tcp' = 'udp', ownCertificates = true): NativeClients {
    return new NativeClients(new loadNative.LoadEngine({ threads, ipOctet, ownCertificates }), transport);
  }

  private async signal(role: 'viewer' | 'publisher', url: string, extra: Partial<ClientParams>, ssrc?: number): Promise<{ id: number; postNs: number; location: string }> {
    const slot = this.engine.allocate(role);
    const ice = iceCredentials();
    const offer = buildOffer({ role, ufrag: ice.ufrag, pwd: ice.pwd, fingerprint: slot.fingerprint, ip: slot.ip, port: slot.port, ...(ssrc !== undefined ? { ssrc } : {}) });
    const postNs = loadNative.LoadEngine.nowNs();
    const { answer, location } = await postOffer(url, offer);
    const tcp = role === 'viewer' && this.transport === 'tcp';
    let a: ReturnType<typeof parseAnswer>;
    try {
      a = parseAnswer(answer, tcp ? 'tcp' : 'udp');
    } catch (err) {
      // The relay made a session for this answer: end it, or it waits out connectTimeoutMs (and a
      // publisher's retry is refused as a second publisher).
      await deleteSession(location);
      throw err;
    }
    this.engine.connect(slot.id, {
      localUfrag: ice.ufrag,
      localPwd: ice.pwd,
      remoteUfrag: a.ufrag,
      remotePwd: a.pwd,
      fingerprintAlgorithm: a.fingerprintAlgorithm,
      fingerprint: a.fingerprint,
      dtlsRole: a.dtlsRole,
      remoteIp: a.ip,
      remotePort: a.port,
      payloadType: a.videoPt,
      tcp,
      ...extra,
    });
    return { id: slot.id, postNs, location };
  }

  /**
   * WHIP-publishes the synthetic stream and resolves once DTLS is up (media then flows). Throws
   * when the POST is refused, or when the publisher fails or is not connected within `timeoutMs`;
   * then its session is DELETEd first, so that a retry is not refused as a second publisher.
   */
  async publish(whipUrl: string, o: PublisherOptions, timeoutMs = 15000): Promise<void> {
    const ssrc = (Math.random() * 0xfffffffe + 1) >>> 0;
    const { id, location } = await this.signal('publisher', whipUrl, { ssrc, rateKbps: o.rateKbps, fps: o.fps, packetSize: o.packetSize, burst: o.burst ?? false, keyframeOnRequest: o.keyframeOnRequest ?? false }, ssrc);
    this.publisherId = id;
    this.publisherLocation = location;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.publisherStats();
      if (s?.state === 'connected') return;
      const failure = s?.state === 'failed' ? `publisher failed: ${s.error ?? 'unknown'}` : Date.now() > deadline ? `publisher did not connect within ${timeoutMs} ms (state ${s?.state})` : null;
      if (failure) {
        await deleteSession(location);
        this.publisherLocation = undefined;
        throw new Error(failure);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  setPublisherPaused(paused: boolean): void {
    if (this.publisherId !== undefined) this.engine.pause(this.publisherId, paused);
  }

  publisherStats(): { state: string; txPackets: number; error?: string } | undefined {
    if (this.publisherId === undefined) return undefined;
    return this.engine.clientStats().find((c) => c.id === this.publisherId);
  }

  async join(whepUrl: string): Promise<void> {
    const { id, postNs, location } = await this.signal('viewer', whepUrl, {});
    this.joined.set(id, { postNs, location });
  }

  counters(): ViewerCounters[] {
    const out: ViewerCounters[] = [];
    for (const c of this.engine.clientStats()) {
      const j = this.joined.get(c.id);
      if (!j) continue;
      const state = c.state === 'connected' ? 'connected' : c.state === 'failed' ? 'failed' : c.state === 'closed' ? 'closed' : 'joining';
      out.push({
        key: c.id,
        state,
        rxPackets: c.rxPackets,
        authChecked: c.authChecked,
        authFailed: c.authFailed,
        badPayload: c.badPayload,
        ...(c.firstMediaNs > 0 ? { joinMs: (c.firstMediaNs - j.postNs) / 1e6 } : {}),
        ...(c.error !== undefined ? { error: c.error } : {}),
      });
    }
    return out;
  }

  latencyMark(): unknown {
    return this.engine.latencyBuckets();
  }

  latencySince(mark: unknown): LatencySummary {
    return summarizeLatency(this.engine.latencyBuckets(), mark as Float64Array);
  }

  /** Ends every joined viewer's session (WHEP DELETE, 20 at a time), keeping the publisher: how many were sent. */
  async leaveViewers(): Promise<number> {
    const locations = [...this.joined.values()].map((j) => j.location);
    for (let i = 0; i < locations.length; i += 20) await Promise.all(locations.slice(i, i + 20).map(deleteSession));
    return locations.length;
  }

  async close(deleteSessions: boolean): Promise<void> {
    if (deleteSessions) {
      const locations = [...this.joined.values()].map((j) => j.location);
      for (let i = 0; i < locations.length; i += 20) await Promise.all(locations.slice(i, i + 20).map(deleteSession));
      if (this.publisherLocation) await deleteSession(this.publisherLocation);
    }
    this.engine.close();
  }
}
