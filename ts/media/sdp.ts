import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { badRequest, HttpError } from '../ops/errors.js';
import { parseOfferSdp } from './offer-cache.js';

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
  /** a=extmap-allow-mixed (RFC 8285 §6), at session level or on a section: two-byte header extensions are accepted. */
  extmapAllowMixed: boolean;
  raw: SessionDescription;
}



export const RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
export const REPAIRED_RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';
/** Transport-wide sequence numbers (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2). */
export const TRANSPORT_CC_EXTENSION = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
/** The AV1 RTP payload format's Dependency Descriptor header extension (AV1 RTP spec). */
export const DEPENDENCY_DESCRIPTOR_EXTENSION = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';

/**
 * The dependency descriptor extension id a section offers (1..255: a descriptor carrying its
 * template structure exceeds the one-byte form's 16 bytes, so the two-byte form's ids count
 * too), undefined when it offers none.
 */
export function dependencyDescriptorId(t: OfferedTrack): number | undefined {
  const ext = t.extensions.find((e) => e.uri === DEPENDENCY_DESCRIPTOR_EXTENSION);
  return ext && Number.isInteger(ext.id) && ext.id >= 1 && ext.id <= 255 ? ext.id : undefined;
}

/**
 * The transport-wide-cc extension id a section offers, when it also offers `transport-cc`
 * feedback for `payloadType` (or `*`) and the id fits the one-byte header form the data plane
 * writes (RFC 8285 §4.2: 1..14); undefined otherwise.
 */
export function transportCcId(t: OfferedTrack, payloadType: number): number | undefined {
  const ext = t.extensions.find((e) => e.uri === TRANSPORT_CC_EXTENSION);
  if (!ext || !Number.isInteger(ext.id) || ext.id < 1 || ext.id > 14) return undefined;
  const fb = t.rtcpFb.some((f) => f.type === 'transport-cc' && (String(f.payload) === '*' || Number(f.payload) === payloadType));
  return fb ? ext.id : undefined;
}


const MAX_SDP_LINES = 2000;
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

/**
 * Lines as sdp-transform splits them (CRLF, bare CR or LF), counted without splitting: an offer
 * written with bare CRs is as many lines to the parser as one written with CRLFs.
 */
function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1)) if (text.charCodeAt(i + 1) !== 10) n++;
  return n;
}

function fail(msg: string): never {
  throw badRequest(msg);
}

/** Parses an offer and checks everything the relay relies on. Throws HttpError(400) with a reason. */
export function parseOffer(text: string, role: OfferRole): ParsedOffer {
  if (!text.trim().startsWith('v=0')) fail('body is not an SDP offer (it must start with v=0)');
  if (lineCount(text) > MAX_SDP_LINES) fail(`SDP has more than ${MAX_SDP_LINES} lines`);
  let raw: SessionDescription;
  try {
    raw = parseOfferSdp(text);
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
  const extmapAllowMixed = raw.extmapAllowMixed !== undefined || raw.media.some((m) => m.extmapAllowMixed !== undefined);
  return { iceUfrag: ufrag, icePwd: pwd, fingerprintAlgorithm: alg, fingerprint: fp.hash.toUpperCase(), dtlsSetup, rtcpRsize: rsize === true, tracks, sections, extmapAllowMixed, raw };
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

export function assertSdpContentType(contentType: string | undefined): void {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/sdp') throw new HttpError(415, `Content-Type must be application/sdp (got ${ct || 'none'})`);
}
