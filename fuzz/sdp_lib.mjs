// The SDP fuzzer's parts, shared by the time-bounded CLI (sdp_fuzz.mjs) and the ava test
// that replays regressions and runs a short fixed-seed pass (test/fuzz-sdp.test.mjs).
//
// Property under test: whatever text arrives as a WHIP/WHEP body, parseOffer either returns an
// offer or throws HttpError 4xx; an accepted offer always yields an answer (buildAnswer never
// throws: that would be a 500) that is valid SDP mirroring the offer's m-sections.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sdpTransform from 'sdp-transform';
import { HttpError } from '../dist/ops/errors.js';
import { buildAnswer } from '../dist/media/answer.js';
import { choosePublisherCodec, matchViewerCodec } from '../dist/media/codecs.js';
import { parseOffer } from '../dist/media/sdp.js';

export const FUZZ_DIR = fileURLToPath(new URL('.', import.meta.url));

/** mulberry32: small, fast and seedable, so a failing run can be repeated from its seed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (arr) => arr[int(arr.length)] };
}

export function loadDir(dir) {
  let names = [];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
  return names.map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

// Lines worth splicing in: each one is something parseOffer or buildAnswer reads.
const DICTIONARY = [
  'a=group:BUNDLE 0 1', 'a=group:BUNDLE', 'a=group:BUNDLE 0 0 0', 'a=group:LS 0 1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'm=audio 0 UDP/TLS/RTP/SAVPF 111', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'm=video 9 RTP/AVP 0', 'm=video 9 UDP/TLS/RTP/SAVPF', 'm=video', 'm=text 9 UDP/TLS/RTP/SAVPF 98',
  'a=rtpmap:96 H264/90000', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:96 VP9/90000', 'a=rtpmap:96 AV1/90000',
  'a=rtpmap:111 opus/48000/2', 'a=rtpmap:111 OPUS/48000', 'a=rtpmap:96 h264', 'a=rtpmap:abc H264/90000',
  'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1', 'a=fmtp:96 profile-id=2', 'a=fmtp:96 ;;==;',
  'a=fmtp:96 apt=97', 'a=fmtp:96', 'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:* ccm fir', 'a=rtcp-mux',
  'a=mid:0', 'a=mid:1', 'a=mid:', 'a=mid:__proto__', 'a=mid:constructor',
  'a=sendonly', 'a=recvonly', 'a=sendrecv', 'a=inactive',
  'a=setup:passive', 'a=setup:active', 'a=setup:actpass', 'a=setup:',
  'a=ice-ufrag:abcd', 'a=ice-ufrag:', 'a=ice-pwd:abcdefghijklmnopqrstuvwxyz', 'a=ice-pwd:',
  'a=fingerprint:sha-256 AB:CD', 'a=fingerprint:sha-1 ZZ:ZZ', 'a=fingerprint:md5 00:11', 'a=fingerprint:',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=extmap:99999 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:4/sendonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'a=rid:q send', 'a=simulcast:send q;h;f', 'a=simulcast:', 'a=ssrc-group:FID 1 2', 'a=ssrc:1 cname:x',
  'a=msid:- -', 'a=candidate:1 1 udp 1 127.0.0.1 9 typ host', 'a=end-of-candidates', 'a=ice-lite',
  'c=IN IP6 ::1', 'b=AS:-1', 't=0 0', 's=', 'o=- 0 0 IN IP4 0.0.0.0', 'v=0', 'v=1', 'x=unknown', '', ' ', '=',
];

const NUMBERS = ['0', '-1', '1', '65535', '65536', '4294967295', '4294967296', '9007199254740993', '1e309', 'NaN', '0x10', '00096', '127', '128'];
const STRINGS = ['', ' ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '\u0000', '\u00ff\u00fe', 'é', ':', ';', '=', '/', '*', 'undefined', 'null'];

function replaceToken(line, r) {
  const tokens = line.split(/([ :;=/])/);
  const i = r.int(tokens.length);
  const roll = r.int(4);
  if (roll === 0) tokens[i] = r.pick(NUMBERS);
  else if (roll === 1) tokens[i] = r.pick(STRINGS);
  else if (roll === 2) tokens[i] = (tokens[i] ?? 'x').repeat(1 + r.int(2000));
  else tokens[i] = String(r.int(300));
  return tokens.join('');
}

function randomChar(r) {
  const roll = r.int(10);
  if (roll === 0) return '\r\n';
  if (roll === 1) return '\n';
  if (roll === 2) return String.fromCharCode(r.int(32));
  if (roll === 3) return String.fromCharCode(r.int(0x3000));
  return String.fromCharCode(32 + r.int(95));
}

/** One to six random edits: whole lines, tokens, characters, m-section copies, splices. */
export function mutate(text, seeds, r) {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  let lines = text.split(/\r?\n/);
  const edits = 1 + r.int(6);
  for (let e = 0; e < edits; e++) {
    const i = r.int(lines.length + 1);
    switch (r.int(12)) {
      case 0: lines.splice(i, 1); break;
      case 1: lines.splice(i, 0, lines[r.int(lines.length)] ?? ''); break;
      case 2: {
        const j = r.int(lines.length);
        [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
        break;
      }
      case 3: lines.splice(i, 0, r.pick(DICTIONARY)); break;
      case 4:
      case 5: if (lines[i] !== undefined) lines[i] = replaceToken(lines[i], r); break;
      case 6: {
        // Another seed's line: cross-over keeps the input realistic.
        const other = r.pick(seeds).text.split(/\r?\n/);
        lines.splice(i, 0, r.pick(other));
        break;
      }
      case 7: {
        // Copy an m-section (with all its attributes) to the end: repeated kinds and mids.
        const starts = lines.map((l, k) => (l.startsWith('m=') ? k : -1)).filter((k) => k >= 0);
        if (starts.length === 0) break;
        const s = r.pick(starts);
        const end = starts.find((k) => k > s) ?? lines.length;
        const copies = 1 + r.int(r.int(8) === 0 ? 20 : 2);
        for (let c = 0; c < copies; c++) lines.push(...lines.slice(s, end));
        break;
      }
      case 8: {
        let s = lines.join(eol);
        const at = r.int(s.length + 1);
        s = s.slice(0, at) + randomChar(r) + s.slice(at + r.int(3));
        lines = s.split(/\r?\n/);
        break;
      }
      case 9: if (lines.length > 1) lines = lines.slice(0, 1 + r.int(lines.length)); break;
      case 10: if (lines[i] !== undefined) lines[i] = lines[i].replace(/(sendonly|recvonly|sendrecv)/, r.pick(['sendonly', 'recvonly', 'sendrecv', 'inactive'])); break;
      default: if (lines[i] !== undefined) lines[i] = lines[i].toUpperCase(); break;
    }
  }
  return lines.join(r.int(8) === 0 ? '\n' : eol);
}

// A stream's codecs as a publisher's offer would set them, for matching viewers against.
const SOURCES = [
  { video: { payloadType: 102, name: 'H264', clockRate: 90000, fmtp: 'profile-level-id=42e01f;packetization-mode=1' }, audio: { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 } },
  { video: { payloadType: 96, name: 'VP8', clockRate: 90000 } },
  { video: { payloadType: 98, name: 'VP9', clockRate: 90000, fmtp: 'profile-id=2' }, audio: { payloadType: 109, name: 'opus', clockRate: 48000 } },
  { video: { payloadType: 45, name: 'AV1', clockRate: 90000 } },
];

export class Finding extends Error {
  constructor(kind, message, cause) {
    super(`${kind}: ${message}`);
    this.kind = kind;
    this.cause = cause;
  }
}

/**
 * Runs one input through what the relay does with a WHIP (publisher) or WHEP (viewer) body.
 * Returns 'rejected' or 'accepted'; throws Finding when a property breaks.
 */
export function exercise(text, role, sourceIndex = 0) {
  let offer;
  try {
    offer = parseOffer(text, role);
  } catch (err) {
    if (err instanceof HttpError && err.status >= 400 && err.status < 500 && typeof err.message === 'string' && err.message.length > 0) return 'rejected';
    throw new Finding('non-http-error', `parseOffer threw ${err?.name}: ${err?.message}`, err);
  }
  if (typeof offer.iceUfrag !== 'string' || typeof offer.icePwd !== 'string' || typeof offer.fingerprint !== 'string') {
    throw new Finding('bad-native-param', 'ICE credentials or fingerprint are not strings');
  }
  const tracks = [];
  const source = SOURCES[sourceIndex % SOURCES.length];
  for (const t of offer.tracks) {
    let codec;
    try {
      codec = role === 'publisher' ? choosePublisherCodec(t) : source[t.kind] && matchViewerCodec(t, source[t.kind]);
    } catch (err) {
      throw new Finding('codec-choice-threw', `${err?.name}: ${err?.message}`, err);
    }
    if (!codec) continue;
    // These values go to the native addPeer (payload type maps, SSRC rewrite): they must be
    // what the C++ side can take, or the request fails with a 500 instead of a 400.
    if (!Number.isInteger(codec.payloadType) || codec.payloadType < 0 || codec.payloadType > 127) {
      throw new Finding('bad-native-param', `${role} codec payload type ${JSON.stringify(codec.payloadType)}`);
    }
    if (typeof codec.name !== 'string' || !Number.isFinite(codec.clockRate)) {
      throw new Finding('bad-native-param', `${role} codec ${JSON.stringify(codec)}`);
    }
    tracks.push({ kind: t.kind, mid: t.mid, codec, ...(role === 'viewer' ? { ssrc: 0x1234 + tracks.length } : {}) });
  }
  if (tracks.length === 0) return 'rejected'; // the relay answers 400/406 itself
  let answer;
  try {
    answer = buildAnswer({
      role,
      offer,
      ice: { ufrag: 'abcd1234', pwd: 'abcdefghijklmnopqrstuvwxyz012345' },
      fingerprint: 'AB:CD:EF',
      candidates: [{ ip: '127.0.0.1', port: 40000 }],
      tracks,
      streamName: 'fuzz',
    });
  } catch (err) {
    throw new Finding('build-answer-threw', `${err?.name}: ${err?.message}`, err);
  }
  let parsed;
  try {
    parsed = sdpTransform.parse(answer);
  } catch (err) {
    throw new Finding('answer-unparsable', `${err?.message}`, err);
  }
  // The answer must have exactly the offer's m-sections, in order, with the same mids (RFC 8829
  // §5.3.1); a line break smuggled through an offer field would show up as an extra section.
  const mids = (parsed.media ?? []).map((m) => String(m.mid));
  const want = offer.sections.map((s) => s.mid);
  if (mids.length !== want.length || mids.some((m, i) => m !== want[i])) {
    throw new Finding('answer-mismatch', `answer mids [${mids.join(',')}] vs offer [${want.join(',')}]`);
  }
  const badLine = answer.split('\r\n').find((l) => l !== '' && !/^[a-z]=/.test(l));
  if (badLine !== undefined) throw new Finding('answer-bad-line', `answer line ${JSON.stringify(badLine.slice(0, 80))}`);
  return 'accepted';
}

/**
 * Mutation loop. `onInput(text)` runs before each input (the CLI keeps it for hang reports);
 * `stop()` ends the loop. Returns counts and findings (one per distinct kind + message).
 */
export function fuzzLoop({ seed, seeds, stop, onInput = () => {}, maxFindings = 20 }) {
  const r = rng(seed);
  const stats = { executions: 0, accepted: 0, rejected: 0 };
  const findings = new Map();
  let pool = seeds.slice();
  while (!stop(stats) && findings.size < maxFindings) {
    const base = r.pick(pool);
    const text = mutate(base.text, seeds, r);
    const role = r.int(2) === 0 ? 'publisher' : 'viewer';
    onInput(text, role);
    const t0 = performance.now();
    try {
      const res = exercise(text, role, r.int(4));
      stats[res]++;
      // Accepted mutants become parents: they are deeper into the code than random junk.
      if (res === 'accepted' && pool.length < 500 && r.int(4) === 0) pool.push({ name: 'mutant', text });
    } catch (err) {
      if (!(err instanceof Finding)) throw err;
      const key = err.message.split('\n')[0].slice(0, 200);
      if (!findings.has(key)) findings.set(key, { kind: err.kind, message: err.message, role, text, stack: err.cause?.stack });
    }
    const ms = performance.now() - t0;
    if (ms > 1000) {
      const key = `slow:${Math.round(ms)}`;
      findings.set(key, { kind: 'slow', message: `one input took ${Math.round(ms)} ms`, role, text });
    }
    stats.executions++;
  }
  return { stats, findings: [...findings.values()] };
}
