import { randomBytes } from 'node:crypto';
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { badRequest, HttpError } from '../ops/errors.js';

export type MediaKind = 'audio' | 'video';
export type OfferRole = 'publisher' | 'viewer';

/** A codec as negotiated with one peer (payload type numbers are that peer's). */
export interface Codec {
  payloadType: number;
  name: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

export interface OfferedTrack {
  kind: MediaKind;
  mid: string;
  index: number;
  codecs: Codec[];
  rtcpFb: { payload: number | string; type: string; subtype?: string }[];
  extensions: { id: number; uri: string }[];
  /** Simulcast layers the publisher sends (`a=simulcast:send`), in its order; empty without simulcast. */
  rids: string[];
  /** Header extension ids the data plane needs to tell simulcast layers apart. */
  ridExtensionId?: number;
  repairedRidExtensionId?: number;
}

export interface ParsedOffer {
  iceUfrag: string;
  icePwd: string;
  fingerprintAlgorithm: string;
  fingerprint: string;
  /** Accepted media sections, at most one per kind. */
  tracks: OfferedTrack[];
  /** Every m-section of the offer, in order, so the answer can mirror them. */
  sections: { mid: string; type: string; accepted: boolean }[];
  raw: SessionDescription;
}

/** Codecs the relay forwards, in the order it prefers them (H.264 first: Safari plays it). */
export const SUPPORTED_VIDEO = ['H264', 'VP8', 'VP9', 'AV1'] as const;
export const SUPPORTED_AUDIO = ['opus'] as const;

export const RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
export const REPAIRED_RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

/** Header extensions the relay accepts from a publisher (the data plane strips them on the way out). */
const ACCEPTED_EXTENSIONS = new Set(['urn:ietf:params:rtp-hdrext:sdes:mid', RID_EXTENSION, REPAIRED_RID_EXTENSION]);

const MAX_SDP_LINES = 2000;
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

function fail(msg: string): never {
  throw badRequest(msg);
}

/** Parses an offer and checks everything the relay relies on. Throws HttpError(400) with a reason. */
export function parseOffer(text: string, role: OfferRole): ParsedOffer {
  if (!text.trim().startsWith('v=0')) fail('body is not an SDP offer (it must start with v=0)');
  if (text.split('\n').length > MAX_SDP_LINES) fail(`SDP has more than ${MAX_SDP_LINES} lines`);
  let raw: SessionDescription;
  try {
    raw = sdpTransform.parse(text);
  } catch (err) {
    fail(`SDP could not be parsed: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw.media) || raw.media.length === 0) fail('SDP offer has no media sections');
  if (raw.media.length > 16) fail('SDP offer has more than 16 media sections');

  const bundle = raw.groups?.find((g) => g.type === 'BUNDLE');
  const bundled = new Set(bundle ? String(bundle.mids).split(' ') : []);
  const tracks: OfferedTrack[] = [];
  const sections: ParsedOffer['sections'] = [];
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let fp: { type: string; hash: string } | undefined;

  raw.media.forEach((m, index) => {
    const mid = m.mid !== undefined ? String(m.mid) : String(index);
    const kind = m.type === 'audio' || m.type === 'video' ? m.type : undefined;
    const usable = kind !== undefined && m.port !== 0 && !tracks.some((t) => t.kind === kind);
    sections.push({ mid, type: m.type, accepted: false });
    if (!usable || !kind) return;
    if (!/^UDP\/TLS\/RTP\/SAVPF?$/.test(m.protocol)) fail(`m=${m.type} uses ${m.protocol}; only UDP/TLS/RTP/SAVPF is supported`);
    const dir = m.direction ?? raw.direction ?? 'sendrecv';
    if (role === 'publisher' && dir !== 'sendonly' && dir !== 'sendrecv') return;
    if (role === 'viewer' && dir !== 'recvonly' && dir !== 'sendrecv') return;
    if (!m.rtcpMux) fail(`m=${m.type} (mid ${mid}) lacks a=rtcp-mux; rtcp-mux is required`);
    if (raw.media.length > 1 && !bundled.has(mid)) fail(`m=${m.type} (mid ${mid}) is not in an a=group:BUNDLE; BUNDLE is required`);
    ufrag ??= m.iceUfrag ?? raw.iceUfrag;
    pwd ??= m.icePwd ?? raw.icePwd;
    fp ??= m.fingerprint ?? raw.fingerprint;
    const setup = m.setup ?? raw.setup ?? 'actpass';
    if (setup === 'passive') fail('a=setup:passive is not supported; offer actpass or active (the relay is the DTLS server)');
    const extensions = (m.ext ?? []).map((e) => ({ id: e.value, uri: e.uri }));
    const track: OfferedTrack = { kind, mid, index, codecs: codecsOf(m), rtcpFb: m.rtcpFb ?? [], extensions, rids: role === 'publisher' ? simulcastSendRids(m) : [] };
    const ridExt = extensions.find((e) => e.uri === RID_EXTENSION);
    const repairedExt = extensions.find((e) => e.uri === REPAIRED_RID_EXTENSION);
    if (ridExt) track.ridExtensionId = ridExt.id;
    if (repairedExt) track.repairedRidExtensionId = repairedExt.id;
    if (track.rids.length > 0 && !ridExt) fail(`m=${m.type} (mid ${mid}) offers simulcast without the ${RID_EXTENSION} header extension`);
    tracks.push(track);
    sections[index]!.accepted = true;
  });

  if (tracks.length === 0) {
    fail(role === 'publisher' ? 'offer has no audio or video section the relay can receive (sendonly or sendrecv)' : 'offer has no audio or video section the relay can send to (recvonly or sendrecv)');
  }
  if (ufrag === undefined || pwd === undefined || ufrag === '' || pwd === '') fail('offer lacks a=ice-ufrag / a=ice-pwd');
  // A numeric ufrag ("1234" is valid ICE) arrives as a number from sdp-transform.
  ufrag = String(ufrag);
  pwd = String(pwd);
  if (ufrag.length < 4 || ufrag.length > 256 || !ICE_CHARS.test(ufrag)) fail('a=ice-ufrag must be 4-256 ice-chars');
  if (pwd.length < 22 || pwd.length > 256 || !ICE_CHARS.test(pwd)) fail('a=ice-pwd must be 22-256 ice-chars');
  if (!fp) fail('offer lacks a=fingerprint; DTLS-SRTP needs it');
  const alg = String(fp.type).toLowerCase();
  if (!['sha-1', 'sha-256', 'sha-384', 'sha-512'].includes(alg)) fail(`unsupported fingerprint algorithm ${fp.type}`);
  if (!/^([0-9A-Fa-f]{2}:)+[0-9A-Fa-f]{2}$/.test(String(fp.hash))) fail('a=fingerprint is not colon-separated hex');
  return { iceUfrag: ufrag, icePwd: pwd, fingerprintAlgorithm: alg, fingerprint: fp.hash.toUpperCase(), tracks, sections, raw };
}

/**
 * The rids of `a=simulcast:send` (RFC 8853), first alternative of each layer, '~' (paused) removed,
 * keeping only rids declared with `a=rid:<id> send`. A lone `a=rid` without `a=simulcast` is not
 * simulcast, so it yields none.
 */
function simulcastSendRids(m: MediaDescription): string[] {
  const sc = m.simulcast;
  if (!sc) return [];
  const list = sc.dir1 === 'send' ? sc.list1 : sc.dir2 === 'send' ? sc.list2 : undefined;
  if (!list) return [];
  const declared = new Set((m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id)));
  const rids: string[] = [];
  for (const layer of list.split(';')) {
    const first = layer.split(',')[0]!.trim().replace(/^~/, '');
    if (first && declared.has(first) && !rids.includes(first)) rids.push(first);
  }
  if (rids.length > 8) fail('offer has more than 8 simulcast layers');
  return rids;
}

function codecsOf(m: MediaDescription): Codec[] {
  return (m.rtp ?? []).map((r) => {
    // sdp-transform turns numeric-looking tokens into numbers and leaves others ("00096", "")
    // as strings, whatever the type declarations say: normalize before the native side sees them.
    const pt: unknown = r.payload;
    if (typeof pt !== 'number' || !Number.isInteger(pt) || pt < 0 || pt > 127) fail(`a=rtpmap payload type ${String(pt).slice(0, 20)} is not 0-127`);
    const rate: unknown = r.rate ?? 90000;
    if (typeof rate !== 'number' || !Number.isSafeInteger(rate) || rate <= 0) fail(`a=rtpmap:${pt} clock rate ${String(rate).slice(0, 20)} is not a positive integer`);
    const fmtp = m.fmtp?.find((f) => f.payload === r.payload)?.config;
    const c: Codec = { payloadType: pt, name: String(r.codec), clockRate: rate };
    if (r.encoding !== undefined) c.channels = Number(r.encoding);
    if (fmtp !== undefined) c.fmtp = fmtp;
    return c;
  });
}

export function fmtpParams(fmtp: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (fmtp ?? '').split(';')) {
    const [k, v] = part.split('=');
    if (k && v !== undefined) out.set(k.trim().toLowerCase(), v.trim());
  }
  return out;
}

function h264Score(c: Codec): number {
  const p = fmtpParams(c.fmtp);
  const mode = p.get('packetization-mode') ?? '0';
  const profile = (p.get('profile-level-id') ?? '42001f').toLowerCase();
  // Packetization mode 1 is what browsers send; 42e01f (constrained baseline) plays everywhere,
  // including Safari, which rejects 42001f.
  return (mode === '1' ? 10 : 0) + (profile.startsWith('42e0') ? 2 : profile.startsWith('4200') ? 1 : 0);
}

/** Picks the codec a publisher will send: the relay's preference order, then the best H.264 variant. */
export function choosePublisherCodec(track: OfferedTrack): Codec | undefined {
  const order: readonly string[] = track.kind === 'video' ? SUPPORTED_VIDEO : SUPPORTED_AUDIO;
  for (const name of order) {
    const candidates = track.codecs.filter((c) => c.name.toLowerCase() === name.toLowerCase());
    if (candidates.length === 0) continue;
    if (name === 'H264') return candidates.sort((a, b) => h264Score(b) - h264Score(a))[0];
    if (name === 'VP9') return candidates.find((c) => (fmtpParams(c.fmtp).get('profile-id') ?? '0') === '0') ?? candidates[0];
    return candidates[0];
  }
  return undefined;
}

/** The viewer's payload type for what the publisher sends, or undefined when the viewer can't take it. */
export function matchViewerCodec(track: OfferedTrack, source: Codec): Codec | undefined {
  const same = track.codecs.filter((c) => c.name.toLowerCase() === source.name.toLowerCase() && c.clockRate === source.clockRate);
  if (source.name.toLowerCase() !== 'h264') {
    if (source.name.toLowerCase() === 'vp9') {
      const pid = fmtpParams(source.fmtp).get('profile-id') ?? '0';
      return same.find((c) => (fmtpParams(c.fmtp).get('profile-id') ?? '0') === pid);
    }
    return same[0];
  }
  const sp = fmtpParams(source.fmtp);
  const mode = sp.get('packetization-mode') ?? '0';
  const profile = (sp.get('profile-level-id') ?? '42001f').toLowerCase().slice(0, 4);
  const modeMatches = same.filter((c) => (fmtpParams(c.fmtp).get('packetization-mode') ?? '0') === mode);
  return (
    modeMatches.find((c) => (fmtpParams(c.fmtp).get('profile-level-id') ?? '42001f').toLowerCase().slice(0, 4) === profile) ??
    modeMatches.find((c) => (fmtpParams(c.fmtp).get('profile-level-id') ?? '42001f').toLowerCase().startsWith('42')) ??
    undefined
  );
}

/** The RTX format (RFC 4588) the offer pairs with payload type `pt`, if any. */
export function rtxFor(track: OfferedTrack, pt: number): Codec | undefined {
  return track.codecs.find((c) => c.name.toLowerCase() === 'rtx' && fmtpParams(c.fmtp).get('apt') === String(pt));
}

export interface IceParams {
  ufrag: string;
  pwd: string;
}

export function newIceParams(): IceParams {
  return { ufrag: randomBytes(6).toString('hex'), pwd: randomBytes(16).toString('hex') };
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
}

export interface AnswerOptions {
  role: OfferRole;
  offer: ParsedOffer;
  ice: IceParams;
  fingerprint: string;
  candidates: { ip: string; port: number }[];
  tracks: AnswerTrack[];
  streamName: string;
}

/** Builds the ICE-lite, DTLS-passive answer mirroring the offer's m-sections. */
export function buildAnswer(o: AnswerOptions): string {
  const accepted = new Set(o.tracks.map((t) => t.mid));
  const cname = `halfsec-${randomBytes(4).toString('hex')}`;
  const media = o.offer.sections.map((s, index): MediaDescription => {
    const offered = o.offer.raw.media[index]!;
    const track = o.tracks.find((t) => t.mid === s.mid);
    if (!track || !accepted.has(s.mid)) {
      // Rejected section: port 0, the first offered format, no attributes beyond mid.
      const first = offered.rtp?.[0];
      return {
        type: s.type,
        port: 0,
        protocol: offered.protocol,
        payloads: first ? String(first.payload) : String(offered.payloads ?? '0').split(' ')[0],
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
        ...(c.fmtp ? [{ payload: c.payloadType, config: c.fmtp }] : []),
        ...(rtx ? [{ payload: rtx.payloadType, config: `apt=${c.payloadType}` }] : []),
      ],
      // The relay answers NACKs from its packet cache, NACKs the publisher for its own losses,
      // merges PLI/FIR, and reads (and sends) REMB.
      rtcpFb:
        track.kind === 'video'
          ? [
              { payload: c.payloadType, type: 'nack' },
              { payload: c.payloadType, type: 'nack', subtype: 'pli' },
              { payload: c.payloadType, type: 'ccm', subtype: 'fir' },
              { payload: c.payloadType, type: 'goog-remb' },
            ]
          : [],
      mid: s.mid,
      direction: o.role === 'publisher' ? 'recvonly' : 'sendonly',
      rtcpMux: 'rtcp-mux',
      iceUfrag: o.ice.ufrag,
      icePwd: o.ice.pwd,
      fingerprint: { type: 'sha-256', hash: o.fingerprint },
      setup: 'passive',
      candidates: o.candidates.map((cand, i) => ({
        foundation: String(i + 1),
        component: 1,
        transport: 'udp',
        priority: 2130706431 - i,
        ip: cand.ip,
        port: cand.port,
        type: 'host',
      })),
      endOfCandidates: 'end-of-candidates',
    };
    if (o.role === 'publisher') {
      const offeredTrack = o.offer.tracks.find((t) => t.mid === s.mid);
      const ext = offeredTrack?.extensions.filter((e) => ACCEPTED_EXTENSIONS.has(e.uri)) ?? [];
      if (ext.length > 0) m.ext = ext.map((e) => ({ value: e.id, uri: e.uri }));
      // Browsers send no simulcast layer at all unless the answer receives every one of them.
      const rids = offeredTrack?.rids ?? [];
      if (rids.length > 0) {
        m.rids = rids.map((id) => ({ id, direction: 'recv' }));
        m.simulcast = { dir1: 'recv', list1: rids.join(';') };
      }
    }
    if (o.role === 'viewer' && track.ssrc !== undefined) {
      const msid = { id: o.streamName, appdata: `${o.streamName}-${track.kind}` };
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
    return m;
  });
  const bundleMids = o.offer.sections.filter((s) => accepted.has(s.mid)).map((s) => s.mid);
  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: randomBytes(6).readUIntBE(0, 6), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 'halfsec',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: bundleMids.join(' ') }],
    msidSemantic: { semantic: 'WMS', token: o.role === 'viewer' ? o.streamName : '*' },
    media,
  };
  return sdpTransform.write(session);
}

export function assertSdpContentType(contentType: string | undefined): void {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/sdp') throw new HttpError(415, `Content-Type must be application/sdp (got ${ct || 'none'})`);
}
