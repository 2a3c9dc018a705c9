// SDP offers of a flash crowd differ only in a few per-session lines: every viewer on the same
// browser sends the same m-sections, codecs, feedback and header extensions, with its own ICE
// credentials, DTLS fingerprint, candidates, origin and (sendrecv) SSRCs. Parsing the whole offer
// with sdp-transform was the largest part of the relay's JavaScript per join (~100 µs of a
// ~1 ms join on this machine), so the rest (the offer's "shape") is parsed once and kept; each
// offer then parses only its per-session lines. The result is what sdp-transform would return for
// the whole text (test/offer-cache.test.mjs compares them), as objects of its own except the
// shape's, which are shared between sessions and frozen so that no session can change another's.
import { createRequire } from 'node:module';
import * as sdpTransform from 'sdp-transform';
import type { SessionDescription } from 'sdp-transform';

/** Lines whose values are the session's own; every other line is part of the cached shape. */
const PER_SESSION = /^(?:o=|a=(?:ice-ufrag|ice-pwd|fingerprint|candidate|ssrc|ssrc-group|msid):)/;
/** Shapes kept (oldest dropped first) and the longest offer cached: bounded whatever peers send. */
const MAX_SHAPES = 32;
const MAX_CACHED_CHARS = 32 * 1024;
/** Fields of an m= line: in both the shape and the per-session parse, always equal. */
const M_LINE_FIELDS = new Set(['type', 'port', 'protocol', 'payloads']);

/** One rule of sdp-transform's grammar (lib/grammar.js), as its parser reads it. */
interface GrammarRule {
  name?: string;
  push?: string;
  reg: RegExp;
  names?: string[];
}
const grammar = createRequire(import.meta.url)('sdp-transform/lib/grammar.js') as Record<string, GrammarRule[]>;
const ruleNamed = (type: string, key: string): GrammarRule | undefined => grammar[type]?.find((r) => (r.push ?? r.name) === key);
/**
 * The grammar rule for each per-session attribute. sdp-transform tries a line against its
 * type's rules in order (a=candidate against ~20 a= rules first); every a= rule is anchored on
 * its own attribute name, so the first rule that matches an a=NAME:... line is NAME's, and
 * applying it directly gives the same result. A line its rule does not match goes to
 * sdp-transform whole.
 */
const ORIGIN_RULE = ruleNamed('o', 'origin');
const SESSION_RULES = new Map<string, GrammarRule>(
  (
    [
      ['ice-ufrag', 'iceUfrag'],
      ['ice-pwd', 'icePwd'],
      ['fingerprint', 'fingerprint'],
      ['candidate', 'candidates'],
      ['ssrc', 'ssrcs'],
      ['ssrc-group', 'ssrcGroups'],
      ['msid', 'msid'],
    ] as const
  ).flatMap(([attr, key]) => {
    const rule = ruleNamed('a', key);
    return rule ? [[attr, rule] as const] : [];
  }),
);

/** sdp-transform's toIntIfInt. */
const toIntIfInt = (v: string): string | number => (String(Number(v)) === v ? Number(v) : v);

/** What sdp-transform's parseReg does with a line its rule matched. */
function applyRule(rule: GrammarRule, location: Record<string, unknown>, match: RegExpMatchArray): void {
  const needsBlank = rule.name !== undefined && rule.names !== undefined;
  if (rule.push !== undefined && !location[rule.push]) location[rule.push] = [];
  else if (needsBlank && !location[rule.name!]) location[rule.name!] = {};
  const into = (rule.push !== undefined ? {} : needsBlank ? location[rule.name!] : location) as Record<string, unknown>;
  if (rule.name !== undefined && rule.names === undefined) {
    into[rule.name] = toIntIfInt(match[1]!);
  } else {
    const names = rule.names ?? [];
    for (let i = 0; i < names.length; i++) if (match[i + 1] != null) into[names[i]!] = toIntIfInt(match[i + 1]!);
  }
  if (rule.push !== undefined) (location[rule.push] as unknown[]).push(into);
}

/**
 * sdpTransform.parse of the per-session lines (and the m= lines between them, which only open
 * sections here: their fields are the shape's), or undefined when a line needs the generic parser.
 */
function parseSessionLines(lines: string[]): SessionDescription | undefined {
  const session: Record<string, unknown> = {};
  const media: Record<string, unknown>[] = [];
  let location = session;
  for (const l of lines) {
    if (l.startsWith('m=')) {
      location = { rtp: [], fmtp: [] };
      media.push(location);
      continue;
    }
    const content = l.slice(2);
    const rule = l[0] === 'o' ? ORIGIN_RULE : SESSION_RULES.get(content.slice(0, content.indexOf(':')));
    const match = rule ? content.match(rule.reg) : null;
    if (!rule || !match) return undefined;
    applyRule(rule, location, match);
  }
  session.media = media;
  return session as unknown as SessionDescription;
}

const shapes = new Map<string, SessionDescription>();
/** The shape last found: a crowd sends one shape, and comparing two strings is cheaper than hashing one. */
let lastShape: { key: string; shape: SessionDescription } | undefined;
/** Which shape each cached parse came from (for caches further down, e.g. the answer's). */
const shapeOf = new WeakMap<object, number>();
const shapeIds = new WeakMap<object, number>();
let nextShapeId = 1;

/** An id of the shape of a result of parseOfferSdp (undefined when it was parsed whole). */
export function offerShapeKey(raw: SessionDescription): number | undefined {
  return shapeOf.get(raw);
}
let hits = 0;
let misses = 0;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** The cache's counters since start (hits: offers whose shape was known). */
export function offerShapeCacheStats(): { hits: number; misses: number; shapes: number } {
  return { hits, misses, shapes: shapes.size };
}

/** Merges `own` into a copy of `shape`; undefined when a field is in both (then parse the whole). */
function merge(shape: object, own: object, skip: (k: string) => boolean): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = { ...shape };
  for (const [k, v] of Object.entries(own)) {
    if (skip(k)) continue;
    if (k in out) return undefined;
    out[k] = v;
  }
  return out;
}

/**
 * sdpTransform.parse(text), reusing the parse of an earlier offer with the same shape. Objects of
 * the shape are frozen: callers must not modify the result's nested objects in place.
 */
export function parseOfferSdp(text: string): SessionDescription {
  if (text.length > MAX_CACHED_CHARS) return sdpTransform.parse(text);
  // Split as sdp-transform does; lines it ignores (blank, malformed) stay in the shape's key.
  const lines = text.split(/\r\n|\r|\n/);
  const shapeLines: string[] = [];
  const ownLines: string[] = [];
  for (const l of lines) {
    if (PER_SESSION.test(l)) {
      ownLines.push(l);
    } else {
      shapeLines.push(l);
      if (l.startsWith('m=')) ownLines.push(l);
    }
  }
  const key = shapeLines.join('\n');
  let shape = lastShape?.key === key ? lastShape.shape : shapes.get(key);
  if (!shape) {
    misses++;
    shape = deepFreeze(sdpTransform.parse(key));
    shapeIds.set(shape, nextShapeId++);
    if (shapes.size >= MAX_SHAPES) shapes.delete(shapes.keys().next().value as string);
    shapes.set(key, shape);
  } else {
    hits++;
  }
  lastShape = { key, shape };
  const own = parseSessionLines(ownLines);
  if (!own) return sdpTransform.parse(text);
  const shapeMedia = shape.media ?? [];
  const ownMedia = own.media ?? [];
  if (shapeMedia.length !== ownMedia.length) return sdpTransform.parse(text);
  const top = merge(shape, own, (k) => k === 'media');
  if (!top) return sdpTransform.parse(text);
  const media: unknown[] = [];
  for (let i = 0; i < shapeMedia.length; i++) {
    const o = ownMedia[i]!;
    // sdp-transform starts every section with empty rtp and fmtp lists; the per-session lines
    // never fill them (a=rtpmap and a=fmtp belong to the shape).
    const m = merge(shapeMedia[i]!, o, (k) => M_LINE_FIELDS.has(k) || ((k === 'rtp' || k === 'fmtp') && (o[k] ?? []).length === 0));
    if (!m) return sdpTransform.parse(text);
    media.push(m);
  }
  if (shape.media !== undefined) top.media = media;
  shapeOf.set(top, shapeIds.get(shape)!);
  return top as unknown as SessionDescription;
}
