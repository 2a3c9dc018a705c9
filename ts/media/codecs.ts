// Codec choice: which format a publisher sends (the relay's preference order) and which of a
// viewer's formats can carry it (H.264 by profile and packetization mode, VP9 and AV1 by profile).
import { badRequest, HttpError } from '../ops/errors.js';
import type { Codec, OfferedTrack } from './sdp.js';

/** Codecs the relay forwards, in the order it prefers them (H.264 first: Safari plays it). */
export const SUPPORTED_VIDEO = ['H264', 'VP8', 'VP9', 'AV1'] as const;
export const SUPPORTED_AUDIO = ['opus'] as const;

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

/**
 * Whether `b` carries what a decoder set up for `a` decodes: same codec, clock rate and channels;
 * H.264 the same profile and packetization mode, VP9 and AV1 the same profile. Payload types
 * and other fmtp parameters (level, opus options) do not matter.
 */
export function sameFormat(a: Codec, b: Codec): boolean {
  if (a.name.toLowerCase() !== b.name.toLowerCase() || a.clockRate !== b.clockRate || (a.channels ?? 1) !== (b.channels ?? 1)) return false;
  if (a.name.toLowerCase() === 'h264') {
    const x = h264Of(a);
    const y = h264Of(b);
    return x.profile === y.profile && x.mode === y.mode;
  }
  return profileParam(a) === profileParam(b);
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
