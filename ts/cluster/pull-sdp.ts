// The SDP of a relay-to-relay pull: the edge's offer (every codec the relay forwards, receive
// only, one BUNDLE) and what the edge needs from the upstream relay's answer.
import * as sdpTransform from 'sdp-transform';
import type { IceParams } from '../media/answer.js';
import { DEPENDENCY_DESCRIPTOR_EXTENSION } from '../media/sdp.js';
import type { Codec, MediaKind } from '../media/sdp.js';

/**
 * Every format a publisher's codec may be matched against (ts/media/codecs.ts matchViewerCodec compares
 * H.264 profile and packetization mode, VP9 profile): so the upstream finds one whatever its
 * publisher sends. Payload types are the edge's; the answer picks one per kind.
 */
const VIDEO_FORMATS: Codec[] = [
  { payloadType: 96, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
  { payloadType: 97, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f' },
  { payloadType: 98, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f' },
  { payloadType: 99, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f' },
  { payloadType: 100, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f' },
  { payloadType: 101, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=64001f' },
  { payloadType: 102, name: 'VP8', clockRate: 90000 },
  { payloadType: 103, name: 'VP9', clockRate: 90000, fmtp: 'profile-id=0' },
  { payloadType: 104, name: 'VP9', clockRate: 90000, fmtp: 'profile-id=2' },
  { payloadType: 105, name: 'AV1', clockRate: 90000 },
  // Baseline (not constrained): FFmpeg's WHIP muxer signals x264 streams as 42001f.
  { payloadType: 106, name: 'H264', clockRate: 90000, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f' },
];
/**
 * The AV1 dependency descriptor's id in the edge's offer: an AV1 SVC stream's layers reach the
 * edge with it, so the edge's own viewers get layers as the origin's do (two-byte extensions
 * allowed, a=extmap-allow-mixed, since a descriptor with its structure needs them).
 */
const PULL_DD_ID = 12;
const AUDIO_FORMATS: Codec[] = [{ payloadType: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' }];

export function buildPullOffer(ice: IceParams, fingerprint: string): string {
  const section = (kind: MediaKind, mid: string, formats: Codec[]): string => {
    const lines = [
      `m=${kind} 9 UDP/TLS/RTP/SAVPF ${formats.map((f) => f.payloadType).join(' ')}`,
      'c=IN IP4 0.0.0.0',
      `a=mid:${mid}`,
      'a=recvonly',
      'a=rtcp-mux',
      `a=ice-ufrag:${ice.ufrag}`,
      `a=ice-pwd:${ice.pwd}`,
      `a=fingerprint:sha-256 ${fingerprint}`,
      // The edge is the DTLS client: the upstream relay is ICE-lite and DTLS server.
      'a=setup:active',
    ];
    for (const f of formats) {
      lines.push(`a=rtpmap:${f.payloadType} ${f.name}/${f.clockRate}${f.channels ? `/${f.channels}` : ''}`);
      if (f.fmtp) lines.push(`a=fmtp:${f.payloadType} ${f.fmtp}`);
      if (kind === 'video') lines.push(`a=rtcp-fb:${f.payloadType} nack`, `a=rtcp-fb:${f.payloadType} nack pli`, `a=rtcp-fb:${f.payloadType} goog-remb`);
    }
    if (kind === 'video') lines.push(`a=extmap:${PULL_DD_ID} ${DEPENDENCY_DESCRIPTOR_EXTENSION}`);
    return lines.join('\r\n');
  };
  return [
    'v=0',
    `o=- ${Date.now()} 1 IN IP4 127.0.0.1`,
    's=halfsec-pull',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    section('audio', '0', AUDIO_FORMATS),
    section('video', '1', VIDEO_FORMATS),
    '',
  ].join('\r\n');
}

export interface PullAnswer {
  codecs: Partial<Record<MediaKind, Codec>>;
  iceUfrag: string;
  icePwd: string;
  fingerprintAlgorithm: string;
  fingerprint: string;
  candidate: { ip: string; port: number };
  /** Every simulcast layer on its own SSRC (a layered pull), lowest first; absent: one layer. */
  layers?: { rids: string[]; ssrcs: number[] };
  /** The AV1 dependency descriptor id the upstream answered (1..255); absent: none. */
  ddExtId?: number;
}

/** Reads the upstream relay's answer; throws an Error saying what is missing. */
export function parsePullAnswer(text: string): PullAnswer {
  if (text.length > 64 * 1024) throw new Error('answer too large');
  const sdp = sdpTransform.parse(text);
  const codecs: Partial<Record<MediaKind, Codec>> = {};
  let ufrag = sdp.iceUfrag;
  let pwd = sdp.icePwd;
  let fp = sdp.fingerprint;
  let candidate: PullAnswer['candidate'] | undefined;
  let layers: PullAnswer['layers'];
  let ddExtId: number | undefined;
  for (const m of sdp.media) {
    if (m.port === 0 || (m.type !== 'audio' && m.type !== 'video')) continue;
    const first = m.rtp.find((r) => r.codec.toLowerCase() !== 'rtx');
    if (!first) continue;
    const fmtp = m.fmtp.find((f) => f.payload === first.payload)?.config;
    codecs[m.type] = {
      payloadType: first.payload,
      name: first.codec,
      clockRate: first.rate ?? (m.type === 'audio' ? 48000 : 90000),
      ...(first.encoding !== undefined ? { channels: Number(first.encoding) } : {}),
      ...(fmtp !== undefined ? { fmtp } : {}),
    };
    if (m.type === 'video') {
      layers = pullLayers(m);
      const dd = m.ext?.find((e) => e.uri === DEPENDENCY_DESCRIPTOR_EXTENSION)?.value;
      if (dd !== undefined && Number.isInteger(dd) && dd >= 1 && dd <= 255) ddExtId = dd;
    }
    ufrag ??= m.iceUfrag;
    pwd ??= m.icePwd;
    fp ??= m.fingerprint;
    // BUNDLE: one transport, so the first usable UDP IPv4 host candidate of any section serves.
    candidate ??= m.candidates?.filter((c) => c.transport.toLowerCase() === 'udp' && /^\d+\.\d+\.\d+\.\d+$/.test(c.ip)).map((c) => ({ ip: c.ip, port: c.port }))[0];
  }
  if (!codecs.video && !codecs.audio) throw new Error('the answer accepts no media section');
  if (!ufrag || !pwd) throw new Error('the answer has no ICE credentials');
  if (!fp) throw new Error('the answer has no DTLS fingerprint');
  if (!candidate) throw new Error('the answer has no UDP IPv4 candidate');
  return { codecs, iceUfrag: ufrag, icePwd: String(pwd), fingerprintAlgorithm: fp.type, fingerprint: fp.hash, candidate, ...(layers ? { layers } : {}), ...(ddExtId !== undefined ? { ddExtId } : {}) };
}

const RID = /^[A-Za-z0-9_-]{1,16}$/;

/**
 * A layered answer's video layers: `a=simulcast:send` names the rids in order (each declared
 * `a=rid:<id> send`), `a=ssrc-group:SIM` their SSRCs in the same order. Undefined when the
 * section has neither (an upstream that sends one layer); an Error when they disagree.
 */
function pullLayers(m: sdpTransform.MediaDescription): PullAnswer['layers'] {
  const sim = m.ssrcGroups?.find((g) => g.semantics === 'SIM');
  if (!m.simulcast && !sim) return undefined;
  const rids = String(m.simulcast?.list1 ?? '').split(';').filter((r) => r.length > 0);
  const ssrcs = String(sim?.ssrcs ?? '').split(' ').filter((s) => s.length > 0).map(Number);
  const declared = new Set((m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id)));
  const valid =
    m.simulcast?.dir1 === 'send' && rids.length >= 2 && rids.length <= 4 && rids.length === ssrcs.length &&
    rids.every((r) => RID.test(r) && declared.has(r)) && new Set(rids).size === rids.length &&
    ssrcs.every((s) => Number.isInteger(s) && s >= 1 && s <= 0xffffffff) && new Set(ssrcs).size === ssrcs.length;
  if (!valid) throw new Error('the answer\'s simulcast layers (a=simulcast:send, a=rid, a=ssrc-group:SIM) disagree');
  return { rids, ssrcs };
}
