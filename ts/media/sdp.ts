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
  /** The section offered a=rtcp-rsize. */
  rtcpRsize: boolean;
  /** Header extension ids the data plane needs to tell simulcast layers apart. */
  ridExtensionId?: number;
  repairedRidExtensionId?: number;
}

/** The offerer's DTLS role (RFC 8842 §5): `actpass` lets the relay choose, `passive` makes the relay the DTLS client. */
export type DtlsSetup = 'actpass' | 'active' | 'passive';

export interface OfferedSection {
  mid: string;
  type: string;
  accepted: boolean;
  /** Offered with port 0 and a=bundle-only inside the BUNDLE group (RFC 8843 §6). */
  bundleOnly: boolean;
  /** Why the section is not accepted (empty when it is). */
  reason?: string;
}

export interface ParsedOffer {
  iceUfrag: string;
  icePwd: string;
  fingerprintAlgorithm: string;
  fingerprint: string;
  /** The offer's a=setup (the same on every bundled section); actpass when absent. */
  dtlsSetup: DtlsSetup;
  /** a=rtcp-rsize (RFC 5506) on the accepted sections: reduced-size RTCP may be sent. */
  rtcpRsize: boolean;
  /** Accepted media sections, at most one per kind. */
  tracks: OfferedTrack[];
  /** Every m-section of the offer, in order, so the answer can mirror them. */
  sections: OfferedSection[];
  raw: SessionDescription;
}

/** The relay's a=setup in its answer (RFC 8842 §5.2): passive unless the offerer insists on being passive. */
export function answerSetup(offer: DtlsSetup): 'active' | 'passive' {
  return offer === 'passive' ? 'active' : 'passive';
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
  const bundleMids = bundle ? String(bundle.mids).split(' ').filter((x) => x !== '') : [];
  const bundled = new Set(bundleMids);
  const tracks: OfferedTrack[] = [];
  const sections: ParsedOffer['sections'] = [];
  let ufrag: string | undefined;
  let pwd: string | undefined;
  let fp: { type: string; hash: string } | undefined;
  let setup: string | undefined;
  let rsize: boolean | undefined;

  raw.media.forEach((m, index) => {
    const mid = m.mid !== undefined ? String(m.mid) : String(index);
    const kind = m.type === 'audio' || m.type === 'video' ? m.type : undefined;
    // RFC 8843 §6: port 0 with a=bundle-only inside the BUNDLE group asks to be bundled, not to be rejected.
    const bundleOnly = m.port === 0 && (m as { bundleOnly?: string }).bundleOnly !== undefined && bundled.has(mid);
    const section: OfferedSection = { mid, type: m.type, accepted: false, bundleOnly };
    sections.push(section);
    const reject = (reason: string): void => {
      section.reason = reason;
    };
    if (!kind) return reject(`m=${m.type} is not audio or video`);
    if (m.port === 0 && !bundleOnly) return reject('the offer disabled it (port 0)');
    if (tracks.some((t) => t.kind === kind)) return reject(`the relay takes one ${kind} section per session`);
    if (!/^UDP\/TLS\/RTP\/SAVPF?$/.test(m.protocol)) fail(`m=${m.type} uses ${m.protocol}; only UDP/TLS/RTP/SAVPF is supported`);
    const dir = m.direction ?? raw.direction ?? 'sendrecv';
    if (role === 'publisher' && dir !== 'sendonly' && dir !== 'sendrecv') return reject(`it is ${dir}; a publisher's sections must send`);
    if (role === 'viewer' && dir !== 'recvonly' && dir !== 'sendrecv') return reject(`it is ${dir}; a viewer's sections must receive`);
    if (!m.rtcpMux) fail(`m=${m.type} (mid ${mid}) lacks a=rtcp-mux; rtcp-mux is required`);
    if (raw.media.length > 1 && !bundled.has(mid)) fail(`m=${m.type} (mid ${mid}) is not in an a=group:BUNDLE; BUNDLE is required`);
    // Bundled sections share one transport (RFC 8843 §7; RFC 8859: setup and rtcp-rsize are
    // IDENTICAL/TRANSPORT attributes): the first accepted section that states them decides.
    ufrag ??= m.iceUfrag ?? raw.iceUfrag;
    pwd ??= m.icePwd ?? raw.icePwd;
    fp ??= m.fingerprint ?? raw.fingerprint;
    const sectionSetup = m.setup ?? raw.setup;
    if (sectionSetup !== undefined) {
      if (setup !== undefined && sectionSetup !== setup) fail(`m=${m.type} (mid ${mid}) says a=setup:${sectionSetup}, another bundled section a=setup:${setup}`);
      setup = sectionSetup;
    }
    const sectionRsize = (m as { rtcpRsize?: string }).rtcpRsize !== undefined;
    rsize = rsize === undefined ? sectionRsize : rsize && sectionRsize;
    const extensions = (m.ext ?? []).map((e) => ({ id: e.value, uri: e.uri }));
    const track: OfferedTrack = { kind, mid, index, codecs: codecsOf(m), rtcpFb: m.rtcpFb ?? [], extensions, rids: role === 'publisher' ? simulcastSendRids(m) : [], rtcpRsize: sectionRsize };
    const ridExt = extensions.find((e) => e.uri === RID_EXTENSION);
    const repairedExt = extensions.find((e) => e.uri === REPAIRED_RID_EXTENSION);
    if (ridExt) track.ridExtensionId = ridExt.id;
    if (repairedExt) track.repairedRidExtensionId = repairedExt.id;
    if (track.rids.length > 0 && !ridExt) fail(`m=${m.type} (mid ${mid}) offers simulcast without the ${RID_EXTENSION} header extension`);
    tracks.push(track);
    section.accepted = true;
  });

  // A bundle-only section may carry no transport attributes of its own: take them from the
  // offerer-tagged section (the first mid of the group) when the accepted ones lack them.
  const tagged = raw.media.find((m, i) => (m.mid !== undefined ? String(m.mid) : String(i)) === bundleMids[0]);
  if (tagged) {
    ufrag ??= tagged.iceUfrag;
    pwd ??= tagged.icePwd;
    fp ??= tagged.fingerprint;
    setup ??= tagged.setup;
  }
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
  const dtlsSetup = String(setup ?? 'actpass');
  if (dtlsSetup !== 'actpass' && dtlsSetup !== 'active' && dtlsSetup !== 'passive') fail(`a=setup:${dtlsSetup.slice(0, 20)} is not actpass, active or passive`);
  return { iceUfrag: ufrag, icePwd: pwd, fingerprintAlgorithm: alg, fingerprint: fp.hash.toUpperCase(), dtlsSetup, rtcpRsize: rsize === true, tracks, sections, raw };
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

/**
 * H.264 profiles as WebRTC tells them apart (RFC 6184 §8.1 profile-level-id = profile_idc,
 * profile-iop, level_idc; the patterns of libwebrtc's h264_profile_level_id): profile_idc plus
 * the constraint flags that change what a decoder must support. 'x' is a bit that does not matter.
 */
const H264_PROFILES: { idc: number; iop: string; name: string }[] = [
  { idc: 0x42, iop: 'x1xx0000', name: 'constrained baseline' },
  { idc: 0x4d, iop: '1xxx0000', name: 'constrained baseline' },
  { idc: 0x58, iop: '11xx0000', name: 'constrained baseline' },
  { idc: 0x42, iop: 'x0xx0000', name: 'baseline' },
  { idc: 0x58, iop: '10xx0000', name: 'baseline' },
  { idc: 0x4d, iop: '0x0x0000', name: 'main' },
  { idc: 0x64, iop: '00000000', name: 'high' },
  { idc: 0x64, iop: '00001100', name: 'constrained high' },
  { idc: 0xf4, iop: '00000000', name: 'predictive high 4:4:4' },
];

/** RFC 6184 §8.1: without profile-level-id, Baseline at level 1 is implied. */
const H264_DEFAULT_PLID = '42000a';

/** The profile of an H.264 profile-level-id ("42e01f" → "constrained baseline"); unknown ones by their hex. */
export function h264Profile(profileLevelId: string | undefined): string {
  const plid = (profileLevelId ?? H264_DEFAULT_PLID).toLowerCase();
  if (!/^[0-9a-f]{6}$/.test(plid)) return `profile-level-id ${plid.slice(0, 12)}`;
  const idc = parseInt(plid.slice(0, 2), 16);
  const iop = parseInt(plid.slice(2, 4), 16).toString(2).padStart(8, '0');
  const hit = H264_PROFILES.find((p) => p.idc === idc && [...p.iop].every((b, i) => b === 'x' || b === iop[i]));
  return hit?.name ?? `profile ${plid.slice(0, 4)}`;
}

/**
 * Profiles whose decoders also decode a stream of `profile`, best first: the profile itself, then
 * its supersets (H.264 Annex A: constrained baseline is in baseline, main and the highs; main and
 * constrained high are in high; high is in high 4:4:4 predictive, which Chromium offers as f4001f).
 */
function h264Decoders(profile: string): string[] {
  const highs = ['high', 'predictive high 4:4:4'];
  switch (profile) {
    case 'constrained baseline':
      return [profile, 'baseline', 'main', 'constrained high', ...highs];
    case 'main':
    case 'constrained high':
      return [profile, ...highs];
    case 'high':
      return highs;
    default:
      return [profile];
  }
}

function h264Of(c: Codec): { profile: string; plid: string; mode: string } {
  const p = fmtpParams(c.fmtp);
  const plid = (p.get('profile-level-id') ?? H264_DEFAULT_PLID).toLowerCase();
  return { profile: h264Profile(plid), plid, mode: p.get('packetization-mode') ?? '0' };
}

/** VP9 profile-id (RFC 9628) and AV1 profile (AV1 RTP spec), both 0 when absent. */
function profileParam(c: Codec): string | undefined {
  const name = c.name.toLowerCase();
  if (name === 'vp9') return fmtpParams(c.fmtp).get('profile-id') ?? '0';
  if (name === 'av1') return fmtpParams(c.fmtp).get('profile') ?? '0';
  return undefined;
}

/** A format as people read it: "H264 high (profile-level-id 640028, packetization-mode 1)". */
export function describeFormat(c: Codec): string {
  const name = c.name.toLowerCase();
  if (name === 'h264') {
    const h = h264Of(c);
    return `H264 ${h.profile} (profile-level-id ${h.plid}, packetization-mode ${h.mode})`;
  }
  if (name === 'vp9') return `VP9 profile-id ${profileParam(c)}`;
  if (name === 'av1') return `AV1 profile ${profileParam(c)}`;
  return `${c.name}/${c.clockRate}${c.channels ? `/${c.channels}` : ''}`;
}

function h264Score(c: Codec): number {
  const h = h264Of(c);
  // Packetization mode 1 is what browsers send; constrained baseline plays everywhere (Safari
  // included, which rejects 42001f).
  return (h.mode === '1' ? 10 : 0) + (h.profile === 'constrained baseline' ? 2 : h.profile === 'baseline' ? 1 : 0);
}

/** Picks the codec a publisher will send: the relay's preference order, then the best H.264 variant. */
export function choosePublisherCodec(track: OfferedTrack): Codec | undefined {
  const order: readonly string[] = track.kind === 'video' ? SUPPORTED_VIDEO : SUPPORTED_AUDIO;
  for (const name of order) {
    const candidates = track.codecs.filter((c) => c.name.toLowerCase() === name.toLowerCase());
    if (candidates.length === 0) continue;
    if (name === 'H264') return [...candidates].sort((a, b) => h264Score(b) - h264Score(a))[0];
    if (name === 'VP9' || name === 'AV1') return candidates.find((c) => profileParam(c) === '0') ?? candidates[0];
    return candidates[0];
  }
  return undefined;
}

/** The publisher's codec for a section, or a 400 naming the section and what it offered. */
export function requirePublisherCodec(track: OfferedTrack): Codec {
  const codec = choosePublisherCodec(track);
  if (codec) return codec;
  const offered = track.codecs.filter((c) => !['rtx', 'red', 'ulpfec', 'flexfec-03', 'telephone-event', 'cn'].includes(c.name.toLowerCase()));
  const supported = track.kind === 'video' ? SUPPORTED_VIDEO.join(', ') : SUPPORTED_AUDIO.join(', ');
  throw badRequest(
    `m=${track.kind} (mid ${track.mid}) offers no codec the relay supports (${offered.map(describeFormat).join(', ') || 'no formats'}); ${track.kind}: ${supported}`,
  );
}

/**
 * The viewer's own format (its payload type and its fmtp line) for what the publisher sends, or
 * undefined when it offered none that fits. H.264 matches by profile (level is not a criterion:
 * the relay forwards, it does not encode) and packetization mode; VP9 by profile-id, AV1 by profile.
 */
export function matchViewerCodec(track: OfferedTrack, source: Codec): Codec | undefined {
  const same = track.codecs.filter((c) => c.name.toLowerCase() === source.name.toLowerCase() && c.clockRate === source.clockRate);
  const name = source.name.toLowerCase();
  if (name === 'h264') {
    const s = h264Of(source);
    const usable = same.filter((c) => h264Of(c).mode === s.mode);
    for (const profile of h264Decoders(s.profile)) {
      const hit = usable.find((c) => h264Of(c).profile === profile);
      if (hit) return hit;
    }
    return undefined;
  }
  if (name === 'vp9' || name === 'av1') return same.find((c) => profileParam(c) === profileParam(source));
  return same[0];
}

/** Like matchViewerCodec, but a 406 naming the codec and profile when the viewer offered nothing that fits. */
export function requireViewerCodec(track: OfferedTrack, source: Codec, stream: string): Codec {
  const mine = matchViewerCodec(track, source);
  if (mine) return mine;
  const offered = track.codecs.filter((c) => !['rtx', 'red', 'ulpfec', 'flexfec-03', 'telephone-event', 'cn'].includes(c.name.toLowerCase()));
  throw new HttpError(
    406,
    `m=${track.kind} (mid ${track.mid}) accepts no format for what stream "${stream}" carries: ${describeFormat(source)}; the section offers ${offered.map(describeFormat).join(', ') || 'no formats'}`,
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
  /** The relay's DTLS role; by default what answerSetup() gives for the offer's a=setup. */
  setup?: 'active' | 'passive';
}

/** msid-id and msid-appdata are 1-64 token characters (RFC 8830 §2). */
const msidToken = (s: string): string => s.slice(0, 64);

/** Builds the ICE-lite answer mirroring the offer's m-sections (DTLS passive unless the offer is passive). */
export function buildAnswer(o: AnswerOptions): string {
  const accepted = new Set(o.tracks.map((t) => t.mid));
  const cname = `halfsec-${randomBytes(4).toString('hex')}`;
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
      setup,
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
    if (o.offer.tracks.find((t) => t.mid === s.mid)?.rtcpRsize) (m as { rtcpRsize?: string }).rtcpRsize = 'rtcp-rsize';
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
    return m;
  });
  const bundleMids = o.offer.sections.filter((s) => accepted.has(s.mid)).map((s) => s.mid);
  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: randomBytes(6).readUIntBE(0, 6), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 'halfsec',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: bundleMids.length > 0 ? [{ type: 'BUNDLE', mids: bundleMids.join(' ') }] : [],
    msidSemantic: { semantic: 'WMS', token: o.role === 'viewer' ? msidToken(o.streamName) : '*' },
    media,
  };
  return sdpTransform.write(session);
}

export function assertSdpContentType(contentType: string | undefined): void {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/sdp') throw new HttpError(415, `Content-Type must be application/sdp (got ${ct || 'none'})`);
}
