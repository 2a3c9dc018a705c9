// Viewer answers of a flash crowd differ only in the session's own values: ICE credentials (and
// the CNAME made from them), SSRCs, the o= line's sess-id. Writing the answer with sdp-transform
// was, after the offer's parse, the largest part of the relay's JavaScript per join, so the text
// is written once per answer shape with stand-in values and each answer is that text with the
// session's values put in. A shape's text is kept only if putting in a second set of stand-ins
// gives exactly what writing with them gives (so no stand-in also appears by chance, e.g. in a
// format parameter copied from the offer); otherwise that shape is always written whole.
import { buildAnswer } from './answer.js';
import type { AnswerOptions, AnswerTrack } from './answer.js';
import { offerShapeKey } from './offer-cache.js';
import { randomUint48 } from './random-pool.js';

const MAX_SHAPES = 64;
/** Two sets of stand-ins: the template is written with the first, checked against the second. */
const STAND_INS = [
  { ufrag: 'hsStandInUfragA', pwd: 'hsStandInPwdA0000000000000', ssrcs: [3141592601, 3141592602, 3141592603, 3141592604], sessionId: 314159265301 },
  { ufrag: 'hsStandInUfragB', pwd: 'hsStandInPwdB0000000000000', ssrcs: [2718281801, 2718281802, 2718281803, 2718281804], sessionId: 271828182801 },
] as const;
const MAX_SSRCS = STAND_INS[0].ssrcs.length;

interface Template {
  /** The text split at its stand-ins: text, stand-in index, text, ...; null: written whole. */
  parts: (string | number)[] | null;
}
const templates = new Map<string, Template>();

function ssrcsOf(tracks: AnswerTrack[]): number[] {
  const out: number[] = [];
  for (const t of tracks) {
    if (t.ssrc !== undefined) out.push(t.ssrc);
    if (t.rtxSsrc !== undefined) out.push(t.rtxSsrc);
  }
  return out;
}

function withSsrcs(tracks: AnswerTrack[], ssrcs: readonly number[]): AnswerTrack[] {
  let i = 0;
  return tracks.map((t) => {
    const c = { ...t };
    if (t.ssrc !== undefined) c.ssrc = ssrcs[i++]!;
    if (t.rtxSsrc !== undefined) c.rtxSsrc = ssrcs[i++]!;
    return c;
  });
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The stand-ins of set `k` as a regexp (numbers on word boundaries) and their values in order. */
function makeStandIns(k: 0 | 1, nSsrcs: number): { re: RegExp; values: string[] } {
  const s = STAND_INS[k];
  const values = [s.ufrag, s.pwd, String(s.sessionId), ...s.ssrcs.slice(0, nSsrcs).map(String)];
  return { re: new RegExp(values.map((v, i) => (i < 2 ? escapeRe(v) : `\\b${v}\\b`)).join('|'), 'g'), values };
}
const standInSets = ([0, 1] as const).map((k) => Array.from({ length: MAX_SSRCS + 1 }, (_, n) => makeStandIns(k, n)));
const standIns = (k: 0 | 1, nSsrcs: number): { re: RegExp; values: string[] } => standInSets[k]![nSsrcs]!;

function fill(text: string, pattern: RegExp, from: string[], to: string[]): string {
  return text.replace(pattern, (m) => to[from.indexOf(m)]!);
}

/**
 * buildAnswer(o) for a viewer, from the template of its shape when it has one. Same text as
 * buildAnswer with the same ICE values, SSRCs and a random sess-id (test/offer-cache.test.mjs).
 */
export function buildViewerAnswer(o: AnswerOptions): string {
  const shape = offerShapeKey(o.offer.raw);
  const ssrcs = ssrcsOf(o.tracks);
  if (o.role !== 'viewer' || shape === undefined || ssrcs.length > MAX_SSRCS || o.tracks.some((t) => t.layers)) return buildAnswer(o);
  const key = JSON.stringify([shape, o.setup, o.fingerprint, o.candidates, o.streamName, withSsrcs(o.tracks, new Array(ssrcs.length).fill(0))]);
  let t = templates.get(key);
  const a = standIns(0, ssrcs.length);
  if (!t) {
    const write = (k: 0 | 1): string => {
      const s = STAND_INS[k];
      return buildAnswer({ ...o, ice: { ufrag: s.ufrag, pwd: s.pwd }, tracks: withSsrcs(o.tracks, s.ssrcs), sessionId: s.sessionId });
    };
    const text = write(0);
    const b = standIns(1, ssrcs.length);
    let parts: (string | number)[] | null = null;
    if (fill(text, a.re, a.values, b.values) === write(1)) {
      parts = [];
      let last = 0;
      for (const m of text.matchAll(a.re)) {
        parts.push(text.slice(last, m.index), a.values.indexOf(m[0]));
        last = m.index! + m[0].length;
      }
      parts.push(text.slice(last));
    }
    t = { parts };
    if (templates.size >= MAX_SHAPES) templates.delete(templates.keys().next().value as string);
    templates.set(key, t);
  }
  if (!t.parts) return buildAnswer(o);
  const values = [o.ice.ufrag, o.ice.pwd, String(randomUint48()), ...ssrcs.map(String)];
  let out = '';
  for (const p of t.parts) out += typeof p === 'number' ? values[p]! : p;
  return out;
}
