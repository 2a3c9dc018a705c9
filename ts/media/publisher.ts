// A stream's source: what the relay takes from a WHIP publisher's offer (tracks, codecs, simulcast
// layers), the native peer of a publisher or of a pull from another relay, and the layer rates
// the data plane measures on it.
import { CODEC_IDS } from '../native.js';
import type { PeerConfig } from '../native.js';
import { badRequest } from '../ops/errors.js';
import type { AnswerTrack } from './answer.js';
import { requirePublisherCodec, rtxFor } from './codecs.js';
import { dependencyDescriptorId, TRANSPORT_CC_EXTENSION } from './sdp.js';
import type { Codec, MediaKind, OfferedTrack, ParsedOffer } from './sdp.js';
import type { StreamCodecs, StreamState } from './streams.js';

/**
 * Where a transport-cc publisher's estimator starts: above libwebrtc's 300 kbit/s, at which it
 * first sends 640x360 and larger sources scaled down for seconds. (A REMB-only publisher takes
 * the REMB ceiling at once instead.) Its delay-based estimator backs off from here within about a
 * second on a thinner path.
 */
const START_BPS = 1_500_000;
/** Announced upstream by a pull: high, so an origin's layer policy sends its top layer. */
const PULL_REMB_BPS = 50_000_000;

const MAX_LAYERS = 4;

/** A pull from another relay, as ts/cluster/ negotiated it: what the native pull peer needs. */
export interface PullSource {
  codecs: StreamCodecs;
  localUfrag: string;
  localPwd: string;
  remoteUfrag: string;
  remotePwd: string;
  remoteIp: string;
  remotePort: number;
  fingerprintAlgorithm: string;
  fingerprint: string;
  /** The upstream sends every simulcast layer: their rids and SSRCs, lowest first (2-4). */
  layers?: { rids: string[]; ssrcs: number[] };
  /** The upstream forwards the AV1 dependency descriptor under this id (the pull reads each packet's layers). */
  ddExtId?: number;
}

/** What the relay takes from a publisher's offer. */
export interface PublisherPlan {
  tracks: AnswerTrack[];
  codecs: StreamCodecs;
  /** Simulcast rids, lowest layer first (empty without simulcast). */
  rids: string[];
  /** The publisher-only fields of its native peer. */
  peer: Partial<PeerConfig>;
}

/** [payload type, 0 = audio | 1 = video] and [payload type, codec id] for the data plane. */
function payloadTypes(tracks: [MediaKind, Codec][]): Pick<PeerConfig, 'kindByPt' | 'codecByPt'> {
  return {
    kindByPt: tracks.map(([kind, c]) => [c.payloadType, kind === 'audio' ? 0 : 1]),
    codecByPt: tracks.map(([, c]) => [c.payloadType, CODEC_IDS[c.name.toLowerCase()] ?? 0]),
  };
}

/**
 * The transport-wide-cc extension id of a track that offered transport-cc feedback for `pt`
 * (the extension and `a=rtcp-fb:<pt or *> transport-cc`, draft-holmer-rmcat-transport-wide-cc-
 * extensions-01 §4), else undefined.
 */
function transportCcExtId(t: OfferedTrack, pt: number): number | undefined {
  const fb = t.rtcpFb.some((f) => f.type === 'transport-cc' && (f.payload === '*' || Number(f.payload) === pt));
  return fb ? t.extensions.find((e) => e.uri === TRANSPORT_CC_EXTENSION)?.id : undefined;
}

/**
 * What the relay takes from a publisher's offer. `maxBps` is the ceiling on what it may send:
 * REMB (which libwebrtc also applies beside transport-cc) and b=AS / b=TIAS on its video.
 * Transport-cc is answered where offered; under BUNDLE one id serves every section, so a
 * section whose id differs from the first one's is answered without it (REMB still applies).
 */
export function planPublisher(offer: ParsedOffer, maxBps: number): PublisherPlan {
  const tracks: AnswerTrack[] = [];
  const codecs: StreamCodecs = {};
  let tccId: number | undefined;
  let ddId: number | undefined;
  for (const t of offer.tracks) {
    const codec = requirePublisherCodec(t);
    const rtx = t.kind === 'video' ? rtxFor(t, codec.payloadType) : undefined;
    const id = transportCcExtId(t, codec.payloadType);
    tccId ??= id;
    const transportCc = id !== undefined && id === tccId;
    const rates = t.kind === 'video' ? { maxBitrate: maxBps, ...(transportCc ? { startBitrate: Math.min(maxBps, START_BPS) } : {}) } : {};
    // AV1: the dependency descriptor tells each packet's layers (native/rtp/dependency_descriptor.h).
    const dd = t.kind === 'video' && codec.name.toUpperCase() === 'AV1' ? dependencyDescriptorId(t) : undefined;
    if (dd !== undefined) ddId = dd;
    tracks.push({ kind: t.kind, mid: t.mid, codec, ...(rtx ? { rtx } : {}), ...(transportCc ? { transportCc } : {}), ...(dd !== undefined ? { ddExtId: dd } : {}), ...rates });
    codecs[t.kind] = codec;
  }
  if (tracks.length === 0) {
    throw badRequest('offer has no codec the relay supports (video: H264, VP8, VP9, AV1; audio: opus)');
  }
  const video = offer.tracks.find((t) => t.kind === 'video' && codecs.video);
  const rids = video && video.rids.length > 1 ? video.rids.slice(0, MAX_LAYERS) : [];
  const simulcast = rids.length > 1 && video?.ridExtensionId !== undefined
    ? { rids, ridExtId: video.ridExtensionId, ...(video.repairedRidExtensionId !== undefined ? { repairedRidExtId: video.repairedRidExtensionId } : {}) }
    : {};
  const peer: Partial<PeerConfig> = {
    ...payloadTypes(tracks.map((t) => [t.kind, t.codec])),
    rtxApt: tracks.flatMap((t): [number, number][] => (t.rtx ? [[t.rtx.payloadType, t.codec.payloadType]] : [])),
    rembBps: Math.round(maxBps),
    ...(tccId !== undefined ? { transportCcExtId: tccId } : {}),
    ...(ddId !== undefined ? { ddExtId: ddId } : {}),
    ...simulcast,
  };
  return { tracks, codecs, rids, peer };
}

/** The native peer that pulls a stream from another relay (ICE-controlling, DTLS client). */
export function pullPeer(streamId: number, src: PullSource): PeerConfig {
  return {
    role: 'pull',
    streamId,
    localUfrag: src.localUfrag,
    localPwd: src.localPwd,
    remoteUfrag: src.remoteUfrag,
    remotePwd: src.remotePwd,
    remoteIp: src.remoteIp,
    remotePort: src.remotePort,
    fingerprintAlgorithm: src.fingerprintAlgorithm,
    fingerprint: src.fingerprint,
    ...payloadTypes(Object.entries(src.codecs) as [MediaKind, Codec][]),
    rembBps: PULL_REMB_BPS,
    ...(src.layers ? { rids: src.layers.rids, layerSsrcs: src.layers.ssrcs } : {}),
    ...(src.ddExtId !== undefined ? { ddExtId: src.ddExtId } : {}),
  };
}

/** Takes the data plane's per-layer measurement into the stream's layer rates. */
export function measureLayers(st: StreamState, bps: number[]): void {
  st.measured = bps;
  // Smoothed, and a silent layer keeps its last rate: the policy needs a price for every layer.
  st.layerBitrates = st.layerBitrates.map((old, i) => {
    const now = bps[i] ?? 0;
    return now > 0 ? (st.measuredOnce ? old * 0.7 + now * 0.3 : now) : old;
  });
  if (bps.some((b) => b > 0)) st.measuredOnce = true;
}
