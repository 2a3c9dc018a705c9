// Offers the load generator's clients send, and what it needs from the answers.
import * as sdpTransform from 'sdp-transform';

export interface OfferParams {
  role: 'viewer' | 'publisher';
  ufrag: string;
  pwd: string;
  fingerprint: string;
  ip: string;
  port: number;
  /** DTLS role we offer; halfsec (always the DTLS server) refuses 'passive'. */
  setup?: 'active' | 'actpass';
  /** Publisher: the SSRC of its video. */
  ssrc?: number;
}

export const VIDEO_PT = 102;
export const RTX_PT = 103;
export const AUDIO_PT = 111;

/**
 * What Chromium and Firefox offer with H.264 (RTCP feedback, RFC 4588 RTX, header extensions):
 * a relay answering the load generator pays for the same features it would for browsers.
 */
const VIDEO_FEEDBACK = ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli'];
// Ids as Chromium numbers them: one id per URI across the BUNDLE group.
const VIDEO_EXTENSIONS: [number, string][] = [
  [14, 'urn:ietf:params:rtp-hdrext:toffset'],
  [2, 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'],
  [13, 'urn:3gpp:video-orientation'],
  [3, 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'],
  [4, 'urn:ietf:params:rtp-hdrext:sdes:mid'],
];
const AUDIO_EXTENSIONS: [number, string][] = [
  [1, 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'],
  [2, 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'],
  [3, 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'],
  [4, 'urn:ietf:params:rtp-hdrext:sdes:mid'],
];
const extmaps = (exts: [number, string][]): string[] => exts.map(([id, uri]) => `a=extmap:${id} ${uri}`);

/** A recvonly H.264 + Opus viewer offer, or a sendonly H.264 publisher offer; BUNDLE, rtcp-mux. */
export function buildOffer(o: OfferParams): string {
  const setup = o.setup ?? 'active';
  const transport = [
    'a=rtcp-mux',
    `a=ice-ufrag:${o.ufrag}`,
    `a=ice-pwd:${o.pwd}`,
    'a=ice-options:ice2',
    `a=fingerprint:sha-256 ${o.fingerprint}`,
    `a=setup:${setup}`,
    `a=candidate:1 1 udp 2130706431 ${o.ip} ${o.port} typ host`,
    'a=end-of-candidates',
  ];
  const video = [
    `m=video 9 UDP/TLS/RTP/SAVPF ${VIDEO_PT} ${RTX_PT}`,
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    ...transport,
    ...extmaps(VIDEO_EXTENSIONS),
    'a=mid:0',
    o.role === 'viewer' ? 'a=recvonly' : 'a=sendonly',
    'a=rtcp-rsize',
    `a=rtpmap:${VIDEO_PT} H264/90000`,
    ...VIDEO_FEEDBACK.map((fb) => `a=rtcp-fb:${VIDEO_PT} ${fb}`),
    `a=fmtp:${VIDEO_PT} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f`,
    `a=rtpmap:${RTX_PT} rtx/90000`,
    `a=fmtp:${RTX_PT} apt=${VIDEO_PT}`,
  ];
  if (o.role === 'publisher' && o.ssrc !== undefined) {
    video.push('a=msid:bench bench-video', `a=ssrc:${o.ssrc} cname:halfsec-load`, `a=ssrc:${o.ssrc} msid:bench bench-video`);
  }
  const audio = [
    `m=audio 9 UDP/TLS/RTP/SAVPF ${AUDIO_PT}`,
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    ...transport,
    ...extmaps(AUDIO_EXTENSIONS),
    'a=mid:1',
    'a=recvonly',
    'a=rtcp-rsize',
    `a=rtpmap:${AUDIO_PT} opus/48000/2`,
    `a=rtcp-fb:${AUDIO_PT} transport-cc`,
    `a=fmtp:${AUDIO_PT} minptime=10;useinbandfec=1`,
  ];
  const mids = o.role === 'viewer' ? '0 1' : '0';
  const lines = [
    'v=0',
    `o=- ${Date.now()} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${mids}`,
    'a=msid-semantic: WMS',
    ...video,
    ...(o.role === 'viewer' ? audio : []),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

export interface AnswerParams {
  ufrag: string;
  pwd: string;
  fingerprintAlgorithm: string;
  fingerprint: string;
  /** Our DTLS role, opposite to the answer's a=setup. */
  dtlsRole: 'client' | 'server';
  ip: string;
  port: number;
  /** The answered video payload type. */
  videoPt: number;
}

/** Reads the answer; throws when it lacks something a client needs or points off loopback. */
export function parseAnswer(text: string, transport: 'udp' | 'tcp' = 'udp'): AnswerParams {
  const s = sdpTransform.parse(text);
  const m = (s.media ?? []).find((x) => x.port !== 0 && x.type === 'video') ?? (s.media ?? []).find((x) => x.port !== 0);
  if (!m) throw new Error('answer accepts no media section');
  const ufrag = m.iceUfrag ?? s.iceUfrag;
  const pwd = m.icePwd ?? s.icePwd;
  const fp = m.fingerprint ?? s.fingerprint;
  const setup = m.setup ?? s.setup ?? 'passive';
  if (!ufrag || !pwd || !fp) throw new Error('answer lacks ICE credentials or a fingerprint');
  const cands = (s.media ?? []).flatMap((x) => x.candidates ?? []);
  const cand = cands.find((c) => c.transport.toLowerCase() === transport && c.component === 1 && /^127\.\d+\.\d+\.\d+$/.test(c.ip) && (transport === 'udp' || c.tcptype === 'passive'));
  if (!cand) throw new Error(`answer has no ${transport === 'udp' ? 'UDP' : 'passive TCP'} host candidate in 127.0.0.0/8 (the load generator stays on loopback)`);
  return {
    ufrag: String(ufrag),
    pwd: String(pwd),
    fingerprintAlgorithm: fp.type.toLowerCase(),
    fingerprint: fp.hash.toUpperCase(),
    dtlsRole: setup === 'active' ? 'server' : 'client',
    ip: cand.ip,
    port: Number(cand.port),
    videoPt: m.rtp?.[0]?.payload ?? VIDEO_PT,
  };
}
