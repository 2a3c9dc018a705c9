// The relay's SDP answer (ICE-lite, every candidate, its DTLS role) mirroring the offer's m-sections.
import * as sdpTransform from 'sdp-transform';
import { randomHex, randomUint48 } from './random-pool.js';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { DEPENDENCY_DESCRIPTOR_EXTENSION, REPAIRED_RID_EXTENSION, RID_EXTENSION, TRANSPORT_CC_EXTENSION } from './sdp.js';
import type { Codec, DtlsSetup, MediaKind, OfferRole, ParsedOffer } from './sdp.js';

/** The relay's a=setup in its answer (RFC 8842 §5.2): passive unless the offerer insists on being passive. */
export function answerSetup(offer: DtlsSetup): 'active' | 'passive' {
  return offer === 'passive' ? 'active' : 'passive';
}

/** Header extensions the relay accepts from a publisher (the data plane strips them on the way out). */
const ACCEPTED_EXTENSIONS = new Set(['urn:ietf:params:rtp-hdrext:sdes:mid', RID_EXTENSION, REPAIRED_RID_EXTENSION]);

export interface IceParams {
  ufrag: string;
  pwd: string;
}

export function newIceParams(): IceParams {
  return { ufrag: randomHex(6), pwd: randomHex(16) };
}

export interface AnswerTrack {
  kind: MediaKind;
  mid: string;
  codec: Codec;
  /** Viewer answers: the SSRC the relay sends this track with. */
  ssrc?: number;
  /** Retransmission format paired with `codec`, when both sides offered it. */
  rtx?: Codec;
  /** Viewer answers: the SSRC of the RTX stream. */
  rtxSsrc?: number;
  /**
   * Publisher answers: the relay sends transport-cc feedback for this section (the offer had the
   * transport-wide-cc extension and `a=rtcp-fb:<pt> transport-cc`); the answer keeps both.
   */
  transportCc?: boolean;
  /** Publisher answers: the most the section may send, bit/s, written as b=AS and b=TIAS (RFC 3890). */
  maxBitrate?: number;
  /**
   * Publisher answers: where libwebrtc's estimator starts, bit/s (its `x-google-start-bitrate`
   * format parameter, read from the remote description; others ignore it). Its own default is
   * 300 kbit/s, at which it first encodes 640x360 and up at a reduced size.
   */
  startBitrate?: number;
  /**
   * Viewer answers: the transport-wide-cc extension id the viewer offered (with `transport-cc`
   * feedback); the answer keeps both and the data plane stamps every packet to the viewer.
   */
  twccExtId?: number;
  /**
   * The AV1 dependency descriptor extension id (AV1 RTP spec) the peer offered: the publisher
   * sends it, a viewer receives it. The answer keeps it and, when the offer allowed it,
   * a=extmap-allow-mixed (RFC 8285 §6), since a descriptor with its structure needs the
   * two-byte form.
   */
  ddExtId?: number;
  /**
   * Viewer answers to a layered pull (docs/cluster.md): every simulcast layer on its own SSRC,
   * lowest first, written as `a=rid:<id> send`, `a=simulcast:send` and `a=ssrc-group:SIM`.
   */
  layers?: { rids: string[]; ssrcs: number[] };
}

export interface AnswerOptions {
  role: OfferRole;
  offer: ParsedOffer;
  ice: IceParams;
  fingerprint: string;
  /** `tcp`: an ICE-TCP passive candidate (RFC 6544), always below every UDP one in priority. */
  candidates: { ip: string; port: number; tcp?: boolean }[];
  tracks: AnswerTrack[];
  streamName: string;
  /** The relay's DTLS role; by default what answerSetup() gives for the offer's a=setup. */
  setup?: 'active' | 'passive';
  /** The o= line's sess-id (RFC 8866 §5.2); random by default. */
  sessionId?: number;
}

/**
 * The relay's RTCP CNAME toward one peer (RFC 7022: unique per session, revealing nothing): from
 * the session's random ICE ufrag, so the answer's a=ssrc cname and the SDES the data plane sends
 * agree without another value to carry.
 */
export function cnameFor(ice: IceParams): string {
  return `halfsec-${ice.ufrag}`;
}

function withStartBitrate(fmtp: string | undefined, bps: number | undefined): string {
  if (!bps) return fmtp ?? '';
  const p = `x-google-start-bitrate=${Math.max(1, Math.round(bps / 1000))}`;
  return fmtp ? `${fmtp};${p}` : p;
}

/** msid-id and msid-appdata are 1-64 token characters (RFC 8830 §2). */
const msidToken = (s: string): string => s.slice(0, 64);

/** Builds the ICE-lite answer mirroring the offer's m-sections (DTLS passive unless the offer is passive). */
/**
 * One host candidate. Priorities follow RFC 8445 §5.1.2.1 / RFC 6544 §4.2: UDP with type
 * preference 126; ICE-TCP passive with type preference 90 (as libwebrtc gives TCP host
 * candidates) and direction preference 4 (passive), so every UDP pair outranks every TCP pair
 * and a browser picks TCP only when no UDP pair works. Each transport has its own foundation.
 */
function candidateLine(cand: { ip: string; port: number; tcp?: boolean }, i: number) {
  if (!cand.tcp) {
    return { foundation: `${i + 1}`, component: 1, transport: 'udp', priority: 2130706431 - i, ip: cand.ip, port: cand.port, type: 'host' };
  }
  const localPref = (4 << 13) + Math.max(0, 8191 - i);
  return {
    foundation: `${i + 1}`,
    component: 1,
    transport: 'tcp',
    priority: 90 * 2 ** 24 + localPref * 2 ** 8 + 255,
    ip: cand.ip,
    port: cand.port,
    type: 'host',
    tcptype: 'passive',
  };
}

export function buildAnswer(o: AnswerOptions): string {
  const accepted = new Set(o.tracks.map((t) => t.mid));
  const cname = cnameFor(o.ice);
  const setup = o.setup ?? answerSetup(o.offer.dtlsSetup);
  const media = o.offer.sections.map((s, index): MediaDescription => {
    const offered = o.offer.raw.media[index]!;
    const track = o.tracks.find((t) => t.mid === s.mid);
    if (!track || !accepted.has(s.mid)) {
      // Rejected section (RFC 3264 §6, RFC 8843 §7.3.3): port 0, its own c= line (SDP needs one
      // per section when the session has none), the first offered format, its mid, no bundle-only,
      // and left out of the BUNDLE group.
      const first = offered.rtp?.[0];
      return {
        type: s.type,
        port: 0,
        protocol: offered.protocol,
        payloads: first ? String(first.payload) : String(offered.payloads ?? '0').split(' ')[0],
        connection: { version: 4, ip: '0.0.0.0' },
        rtp: first ? [first] : [],
        fmtp: [],
        mid: s.mid,
        direction: 'inactive',
      };
    }
    const c = track.codec;
    const rtx = track.rtx;
    const m: MediaDescription = {
      type: track.kind,
      port: 9,
      protocol: 'UDP/TLS/RTP/SAVPF',
      payloads: rtx ? `${c.payloadType} ${rtx.payloadType}` : String(c.payloadType),
      connection: { version: 4, ip: '0.0.0.0' },
      rtp: [
        { payload: c.payloadType, codec: c.name, rate: c.clockRate, ...(c.channels ? { encoding: c.channels } : {}) },
        ...(rtx ? [{ payload: rtx.payloadType, codec: 'rtx', rate: rtx.clockRate }] : []),
      ],
      fmtp: [
        ...(c.fmtp || track.startBitrate ? [{ payload: c.payloadType, config: withStartBitrate(c.fmtp, track.startBitrate) }] : []),
        ...(rtx ? [{ payload: rtx.payloadType, config: `apt=${c.payloadType}` }] : []),
      ],
      // The relay answers NACKs from its packet cache, NACKs the publisher for its own losses,
      // merges PLI/FIR, reads (and sends) REMB, and sends publishers transport-cc feedback.
      rtcpFb: [
        ...(track.kind === 'video'
          ? [
              { payload: c.payloadType, type: 'nack' },
              { payload: c.payloadType, type: 'nack', subtype: 'pli' },
              { payload: c.payloadType, type: 'ccm', subtype: 'fir' },
              { payload: c.payloadType, type: 'goog-remb' },
            ]
          : []),
        ...(o.role === 'publisher' && track.transportCc ? [{ payload: c.payloadType, type: 'transport-cc' }] : []),
      ],
      mid: s.mid,
      direction: o.role === 'publisher' ? 'recvonly' : 'sendonly',
      rtcpMux: 'rtcp-mux',
      iceUfrag: o.ice.ufrag,
      icePwd: o.ice.pwd,
      fingerprint: { type: 'sha-256', hash: o.fingerprint },
      setup,
      candidates: o.candidates.map((cand, i) => candidateLine(cand, i)),
      endOfCandidates: 'end-of-candidates',
    };
    if (o.offer.tracks.find((t) => t.mid === s.mid)?.rtcpRsize) (m as { rtcpRsize?: string }).rtcpRsize = 'rtcp-rsize';
    if (o.role === 'publisher') {
      const offeredTrack = o.offer.tracks.find((t) => t.mid === s.mid);
      const ext = offeredTrack?.extensions.filter((e) => ACCEPTED_EXTENSIONS.has(e.uri) || (track.transportCc && e.uri === TRANSPORT_CC_EXTENSION) || (track.ddExtId === e.id && e.uri === DEPENDENCY_DESCRIPTOR_EXTENSION)) ?? [];
      if (ext.length > 0) m.ext = ext.map((e) => ({ value: e.id, uri: e.uri }));
      if (track.maxBitrate) {
        m.bandwidth = [
          { type: 'AS', limit: Math.max(1, Math.round(track.maxBitrate / 1000)) },
          { type: 'TIAS', limit: Math.round(track.maxBitrate) },
        ];
      }
      // Browsers send no simulcast layer at all unless the answer receives every one of them.
      const rids = offeredTrack?.rids ?? [];
      if (rids.length > 0) {
        m.rids = rids.map((id) => ({ id, direction: 'recv' }));
        m.simulcast = { dir1: 'recv', list1: rids.join(';') };
      }
    }
    if (o.role === 'viewer' && track.twccExtId !== undefined) {
      m.ext = [{ value: track.twccExtId, uri: TRANSPORT_CC_EXTENSION }];
      m.rtcpFb = [...(m.rtcpFb ?? []), { payload: c.payloadType, type: 'transport-cc' }];
    }
    if (o.role === 'viewer' && track.ddExtId !== undefined) m.ext = [...(m.ext ?? []), { value: track.ddExtId, uri: DEPENDENCY_DESCRIPTOR_EXTENSION }];
    if (o.role === 'viewer' && track.ssrc !== undefined) {
      const msid = { id: msidToken(o.streamName), appdata: msidToken(`${o.streamName}-${track.kind}`) };
      m.msid = [msid];
      m.ssrcs = [
        { id: track.ssrc, attribute: 'cname', value: cname },
        { id: track.ssrc, attribute: 'msid', value: `${msid.id} ${msid.appdata}` },
      ];
      if (track.rtx && track.rtxSsrc !== undefined) {
        m.ssrcGroups = [{ semantics: 'FID', ssrcs: `${track.ssrc} ${track.rtxSsrc}` }];
        m.ssrcs.push(
          { id: track.rtxSsrc, attribute: 'cname', value: cname },
          { id: track.rtxSsrc, attribute: 'msid', value: `${msid.id} ${msid.appdata}` },
        );
      }
    }
    if (o.role === 'viewer' && track.layers) writeLayers(m, track.layers, cname);
    return m;
  });
  const bundleMids = o.offer.sections.filter((s) => accepted.has(s.mid)).map((s) => s.mid);
  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: o.sessionId ?? randomUint48(), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 'halfsec',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: bundleMids.length > 0 ? [{ type: 'BUNDLE', mids: bundleMids.join(' ') }] : [],
    msidSemantic: { semantic: 'WMS', token: o.role === 'viewer' ? msidToken(o.streamName) : '*' },
    media,
  };
  if (o.offer.extmapAllowMixed && o.tracks.some((t) => t.ddExtId !== undefined)) session.extmapAllowMixed = 'extmap-allow-mixed';
  return sdpTransform.write(session);
}

/**
 * The layers of a layered pull's video section: the rids in order (RFC 8851 a=rid, RFC 8853
 * a=simulcast, here in the sending direction since the upstream relay is the sender) and the
 * SSRC of each, in the same order, as an a=ssrc-group:SIM (RFC 5576 grouping).
 */
function writeLayers(m: MediaDescription, layers: { rids: string[]; ssrcs: number[] }, cname: string): void {
  m.rids = layers.rids.map((id) => ({ id, direction: 'send' }));
  m.simulcast = { dir1: 'send', list1: layers.rids.join(';') };
  m.ssrcs = layers.ssrcs.map((id) => ({ id, attribute: 'cname', value: cname }));
  m.ssrcGroups = [{ semantics: 'SIM', ssrcs: layers.ssrcs.join(' ') }];
  delete m.msid;
}
