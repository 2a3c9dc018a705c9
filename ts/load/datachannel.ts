// node-datachannel viewers, for small runs that are fully independent of the native code (they
// cost ~20-25 µs of CPU per packet, as much as a relay: see shared/PEERS.md). node-datachannel is
// a development dependency, loaded only when this pool is used.
import { summarizeSamples } from './histogram.js';
import type { LatencySummary } from './histogram.js';
import { loadNative } from './native.js';
import { AUDIO_PT, VIDEO_PT } from './sdp.js';
import { deleteSession, postOffer } from './whip.js';
import type { ViewerCounters, ViewerPool } from './viewers.js';

type Ndc = typeof import('node-datachannel');
type PeerConnection = InstanceType<Ndc['PeerConnection']>;

const MAGIC = 0x4853424e;
const CHECK_EVERY = 64;

interface DcViewer {
  key: number;
  pc: PeerConnection;
  postNs: number;
  location?: string;
  state: ViewerCounters['state'];
  rx: number;
  checked: number;
  bad: number;
  firstNs: number;
  error?: string;
  /** Held so that the tracks (and their onMessage callbacks) are not garbage-collected. */
  tracks: unknown[];
}

export class DatachannelViewers implements ViewerPool {
  readonly kind = 'datachannel' as const;
  private readonly viewers: DcViewer[] = [];
  private readonly samples: number[] = [];
  private portBase = 30000 + (process.pid % 20) * 1000;

  private constructor(private readonly ndc: Ndc) {}

  static async create(): Promise<DatachannelViewers> {
    let mod: Ndc;
    try {
      mod = (await import('node-datachannel')) as Ndc;
    } catch {
      throw new Error('--peer datachannel needs the node-datachannel package (a development dependency)');
    }
    return new DatachannelViewers(mod);
  }

  async join(whepUrl: string): Promise<void> {
    const { PeerConnection, Video, Audio } = this.ndc;
    const key = this.viewers.length;
    const base = this.portBase;
    this.portBase += 4;
    const pc = new PeerConnection(`load${key}`, { iceServers: [], bindAddress: '127.0.0.1', portRangeBegin: base, portRangeEnd: base + 3 });
    const v: DcViewer = { key, pc, postNs: 0, state: 'joining', rx: 0, checked: 0, bad: 0, firstNs: 0, tracks: [] };
    this.viewers.push(v);
    const video = new Video('0', 'RecvOnly');
    video.addH264Codec(VIDEO_PT);
    const audio = new Audio('1', 'RecvOnly');
    audio.addOpusCodec(AUDIO_PT);
    const onMessage = (msg: Buffer): void => {
      if (msg.length < 12 || msg[0]! >> 6 !== 2 || (msg[1]! >= 192 && msg[1]! <= 223)) return;
      const now = loadNative.LoadEngine.nowNs();
      if (v.rx++ === 0) v.firstNs = now;
      if ((v.rx - 1) % CHECK_EVERY !== 0) return;
      v.checked++;
      const off = 12 + 4 * (msg[0]! & 0x0f) + (msg[0]! & 0x10 ? 4 + 4 * msg.readUInt16BE(12 + 4 * (msg[0]! & 0x0f) + 2) : 0);
      // The payload leads with an H.264 NAL header byte (see native/load/bench_client.h).
      if (msg.length < off + 17 || msg.readUInt32BE(off + 1) !== MAGIC) {
        v.bad++;
        return;
      }
      const sent = Number(msg.readBigUInt64BE(off + 9));
      if (now >= sent) this.samples.push((now - sent) / 1000);
    };
    const vt = pc.addTrack(video);
    const at = pc.addTrack(audio);
    v.tracks.push(vt, at);
    vt.onMessage(onMessage);
    at.onMessage(() => undefined);
    pc.onStateChange((s) => {
      if (s === 'connected') v.state = 'connected';
      else if (s === 'failed') v.state = 'failed';
      else if (s === 'closed' && v.state !== 'failed') v.state = 'closed';
    });
    const offer = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('ICE gathering timed out')), 5000);
      pc.onGatheringStateChange((st) => {
        if (st === 'complete') {
          clearTimeout(t);
          resolve(pc.localDescription()?.sdp ?? '');
        }
      });
      pc.setLocalDescription();
    });
    v.postNs = loadNative.LoadEngine.nowNs();
    try {
      const { answer, location } = await postOffer(whepUrl, offer);
      v.location = location;
      pc.setRemoteDescription(answer, 'answer');
    } catch (err) {
      v.state = 'failed';
      v.error = (err as Error).message;
      throw err;
    }
  }

  counters(): ViewerCounters[] {
    return this.viewers.map((v) => ({
      key: v.key,
      state: v.state,
      rxPackets: v.rx,
      // libdatachannel authenticates every packet itself and drops failures unseen.
      authChecked: v.checked,
      authFailed: 0,
      badPayload: v.bad,
      ...(v.firstNs > 0 ? { joinMs: (v.firstNs - v.postNs) / 1e6 } : {}),
      ...(v.error !== undefined ? { error: v.error } : {}),
    }));
  }

  latencyMark(): unknown {
    return this.samples.length;
  }

  latencySince(mark: unknown): LatencySummary {
    return summarizeSamples(this.samples.slice(mark as number));
  }

  async close(deleteSessions: boolean): Promise<void> {
    if (deleteSessions) {
      const locs = this.viewers.flatMap((v) => (v.location ? [v.location] : []));
      for (let i = 0; i < locs.length; i += 20) await Promise.all(locs.slice(i, i + 20).map(deleteSession));
    }
    for (const v of this.viewers) v.pc.close();
  }
}
