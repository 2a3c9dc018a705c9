// A strict checker of the SDP the relay writes, against the grammar of RFC 8866 (SDP) and the
// attribute RFCs: rtpmap/fmtp (RFC 8866 §6.6, §6.15), rtcp-fb (RFC 4585 §4.2), extmap (RFC 8285
// §7), ssrc/ssrc-group (RFC 5576), msid (RFC 8830), candidate (RFC 8839 §5.1), ice-ufrag/pwd
// (RFC 8839 §5.4), fingerprint/setup (RFC 8122, RFC 8842), group/mid (RFC 5888), bundle-only
// (RFC 8843), rid/simulcast (RFC 8851, RFC 8853), rtcp-mux/rtcp-rsize (RFC 5761, RFC 5506).
// checkSdp(text) returns a list of problems, empty when the text conforms.

const TOKEN = "[!#$%&'*+\\-.0-9A-Z^_`a-z{|}~]+";
const token = new RegExp(`^${TOKEN}$`);
const BYTE_STRING = /^[^\0\r\n]+$/;
const IP4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IP6 = /^[0-9A-Fa-f:.]+$/;
const FQDN = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const ICE_CHAR = /^[A-Za-z0-9+/]+$/;
const U32 = (s) => /^\d{1,10}$/.test(s) && Number(s) <= 0xffffffff;
const PT = (s) => /^\d{1,3}$/.test(s) && Number(s) <= 127;

const address = (addrtype, a) => (addrtype === 'IP4' ? IP4.test(a) || FQDN.test(a) : IP6.test(a) || FQDN.test(a));

/** Session-level order (RFC 8866 §9): v o s i? u? e* p* c? b* (t r*)+ z? k? a* then m sections. */
const SESSION_ORDER = ['v', 'o', 's', 'i', 'u', 'e', 'p', 'c', 'b', 't', 'r', 'z', 'k', 'a'];
const MEDIA_ORDER = ['m', 'i', 'c', 'b', 'k', 'a'];
const ONCE = new Set(['v', 'o', 's', 'i', 'u', 'z', 'k', 'm']);

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const FLAGS = new Set([...DIRECTIONS, 'rtcp-mux', 'rtcp-mux-only', 'rtcp-rsize', 'bundle-only', 'ice-lite', 'end-of-candidates', 'extmap-allow-mixed']);
const SESSION_ONLY = new Set(['ice-lite', 'group', 'msid-semantic']);
const MEDIA_ONLY = new Set(['rtpmap', 'fmtp', 'rtcp-fb', 'ssrc', 'ssrc-group', 'msid', 'mid', 'candidate', 'end-of-candidates', 'rtcp-mux', 'rtcp-rsize', 'bundle-only', 'rid', 'simulcast']);

/** Value syntax per attribute; `ctx` carries the section's formats for payload type checks. */
const VALUE_RULES = {
  rtpmap: (v, ctx) => {
    const m = /^(\d+) ([^/ ]+)\/(\d+)(?:\/(\d+))?$/.exec(v);
    if (!m) return 'is not "<pt> <encoding>/<clock rate>[/<channels>]"';
    if (!ctx.formats.includes(m[1])) return `payload type ${m[1]} is not a format of its m= line`;
    return null;
  },
  fmtp: (v, ctx) => {
    const m = /^(\d+) (\S.*)$/.exec(v);
    if (!m) return 'is not "<format> <parameters>"';
    if (!ctx.formats.includes(m[1])) return `format ${m[1]} is not a format of its m= line`;
    if (!BYTE_STRING.test(m[2]) || /;\s*;|^;|;$/.test(m[2].trim())) return 'has an empty parameter';
    return null;
  },
  'rtcp-fb': (v, ctx) => {
    const m = /^(\d+|\*) (ack|nack|trr-int|ccm|goog-remb|transport-cc)(?: (\S+))*$/.exec(v);
    if (!m) return 'is not "<pt|*> <ack|nack|trr-int|ccm|goog-remb|transport-cc> [params]"';
    if (m[1] !== '*' && !ctx.formats.includes(m[1])) return `payload type ${m[1]} is not a format of its m= line`;
    if (m[2] === 'ccm' && !/ (fir|tmmbr|tstr|vbcm)( |$)/.test(v)) return 'ccm without a ccm parameter';
    return null;
  },
  extmap: (v, ctx) => {
    const m = /^(\d+)(?:\/(sendrecv|sendonly|recvonly|inactive))? (\S+)(?: (.+))?$/.exec(v);
    if (!m) return 'is not "<id>[/<direction>] <URI> [attributes]"';
    const id = Number(m[1]);
    const max = ctx.allowMixed ? 255 : 14;
    if (id < 1 || id > max || id === 15) return `id ${id} is outside 1-${max}`;
    if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(m[3])) return `${m[3]} is not a URI`;
    return null;
  },
  ssrc: (v) => {
    const m = /^(\d+) ([^: ]+)(?::(.*))?$/.exec(v);
    if (!m || !U32(m[1])) return 'is not "<ssrc-id> <attribute>[:<value>]" with a 32-bit ssrc-id';
    if (!token.test(m[2])) return `attribute ${m[2]} is not a token`;
    if (m[2] === 'cname' && !(m[3] && BYTE_STRING.test(m[3]))) return 'cname is empty';
    if (m[2] === 'msid' && !msidValue(m[3] ?? '')) return 'msid value is not "<msid-id> [<msid-appdata>]"';
    return null;
  },
  'ssrc-group': (v) => (/^[A-Za-z0-9-]+( \d{1,10})+$/.test(v) && v.split(' ').slice(1).every(U32) ? null : 'is not "<semantics> <ssrc-id>..."'),
  msid: (v) => (msidValue(v) ? null : 'is not "<msid-id> [<msid-appdata>]" of 1-64 token characters'),
  'msid-semantic': (v) => (/^ ?WMS( \S+)*$/.test(v) ? null : 'is not "WMS [ids]"'),
  mid: (v) => (token.test(v) && v.length <= 255 ? null : 'is not a token'),
  group: (v) => (/^[A-Z]+( \S+)*$/.test(v) && v.split(' ').slice(1).every((t) => token.test(t)) ? null : 'is not "<semantics> <mid>..."'),
  setup: (v) => (['actpass', 'active', 'passive', 'holdconn'].includes(v) ? null : 'is not actpass, active, passive or holdconn'),
  fingerprint: (v) => (/^(sha-1|sha-224|sha-256|sha-384|sha-512|md5|md2) [0-9A-F]{2}(:[0-9A-F]{2})+$/.test(v) ? null : 'is not "<hash-func> <upper-case hex pairs>"'),
  'ice-ufrag': (v) => (ICE_CHAR.test(v) && v.length >= 4 && v.length <= 256 ? null : 'is not 4-256 ice-chars'),
  'ice-pwd': (v) => (ICE_CHAR.test(v) && v.length >= 22 && v.length <= 256 ? null : 'is not 22-256 ice-chars'),
  'ice-options': (v) => (v.split(' ').every((t) => ICE_CHAR.test(t) || /^[A-Za-z0-9+/-]+$/.test(t)) ? null : 'is not a list of ice-option tags'),
  candidate: (v) => {
    const p = v.split(' ');
    if (p.length < 8) return 'has fewer than 8 fields';
    const [foundation, component, transport, priority, addr, port, typ, type] = p;
    if (!/^[A-Za-z0-9+/]{1,32}$/.test(foundation)) return `foundation ${foundation} is not 1-32 ice-chars`;
    if (!/^\d{1,3}$/.test(component) || Number(component) < 1 || Number(component) > 256) return 'component is not 1-256';
    if (!token.test(transport)) return 'transport is not a token';
    if (!/^\d{1,10}$/.test(priority) || Number(priority) < 1 || Number(priority) > 2 ** 31 - 1) return 'priority is not 1 to 2^31-1';
    if (!(IP4.test(addr) || IP6.test(addr) || FQDN.test(addr))) return `connection-address ${addr} is not an address`;
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return 'port is not 0-65535';
    if (typ !== 'typ' || !['host', 'srflx', 'prflx', 'relay'].includes(type)) return 'lacks "typ host|srflx|prflx|relay"';
    const rest = p.slice(8);
    if (rest.length % 2 !== 0) return 'extension attributes are not name/value pairs';
    return null;
  },
  rid: (v) => (/^[A-Za-z0-9_-]{1,255} (send|recv)( \S+)?$/.test(v) ? null : 'is not "<rid-id> send|recv [params]"'),
  simulcast: (v) => (/^(send|recv) \S+( (send|recv) \S+)?$/.test(v) ? null : 'is not "send|recv <list>"'),
  'rtcp': (v) => (/^\d{1,5}( IN IP[46] \S+)?$/.test(v) ? null : 'is not "<port> [IN IP4|IP6 <address>]"'),
};

function msidValue(v) {
  const parts = v.split(' ');
  if (parts.length < 1 || parts.length > 2) return false;
  return parts.every((x) => token.test(x) && x.length >= 1 && x.length <= 64);
}

/** Returns the problems found in `text` (empty when it conforms). */
export function checkSdp(text) {
  const errors = [];
  if (typeof text !== 'string' || text.length === 0) return ['empty SDP'];
  if (!text.endsWith('\r\n')) errors.push('does not end with CRLF');
  const raw = text.split('\r\n');
  if (raw[raw.length - 1] === '') raw.pop();
  const bad = (i, msg) => errors.push(`line ${i + 1} "${raw[i].slice(0, 60)}": ${msg}`);

  let section = null; // null: session level
  let sessionC = false;
  let order = 0;
  const seen = new Set();
  const mids = [];
  const sections = [];
  let allowMixed = false;
  let groups = [];
  raw.forEach((line, i) => {
    if (/\n|\r/.test(line)) return bad(i, 'stray CR or LF');
    const m = /^([a-z])=(.*)$/.exec(line);
    if (!m) return bad(i, 'is not <type>=<value>');
    const [, type, value] = m;
    if (i === 0 && type !== 'v') bad(i, 'SDP must start with v=');
    if (type === 'm') {
      section = { index: sections.length, formats: [], c: false, attrs: new Map(), line: i, port: -1, allowMixed };
      sections.push(section);
      order = 0;
      seen.clear();
    }
    const list = section ? MEDIA_ORDER : SESSION_ORDER;
    const pos = list.indexOf(type);
    if (pos < 0) return bad(i, `${type}= is not allowed ${section ? 'in a media section' : 'at session level'}`);
    // t= may repeat with r= after each; everything else keeps order.
    if (pos < order && !(type === 't' && list[order] === 'r')) return bad(i, `${type}= is out of order`);
    if (ONCE.has(type) && seen.has(type) && type !== 'm') return bad(i, `${type}= appears twice`);
    if (type === 'c' && section && seen.has('c')) return bad(i, 'c= appears twice (multicast only)');
    seen.add(type);
    order = pos;
    switch (type) {
      case 'v':
        if (value !== '0') bad(i, 'version is not 0');
        break;
      case 'o': {
        const p = value.split(' ');
        if (p.length !== 6) return bad(i, 'o= needs 6 fields');
        if (!/^\S+$/.test(p[0])) bad(i, 'username has spaces');
        if (!/^\d{1,20}$/.test(p[1]) || !/^\d{1,20}$/.test(p[2])) bad(i, 'sess-id / sess-version are not digits');
        if (p[3] !== 'IN' || !['IP4', 'IP6'].includes(p[4]) || !address(p[4], p[5])) bad(i, 'not "IN IP4|IP6 <address>"');
        break;
      }
      case 's':
        if (value.length === 0) bad(i, 's= must not be empty (use "-")');
        break;
      case 'c': {
        const p = value.split(' ');
        if (p.length !== 3 || p[0] !== 'IN' || !['IP4', 'IP6'].includes(p[1]) || !address(p[1], p[2].split('/')[0])) bad(i, 'is not "IN IP4|IP6 <address>"');
        if (section) section.c = true;
        else sessionC = true;
        break;
      }
      case 'b':
        if (!/^[A-Za-z0-9-]+:\d+$/.test(value)) bad(i, 'is not <bwtype>:<bandwidth>');
        break;
      case 't':
        if (!/^\d+ \d+$/.test(value)) bad(i, 'is not "<start> <stop>"');
        break;
      case 'm': {
        const p = value.split(' ');
        if (p.length < 4) return bad(i, 'm= needs <media> <port> <proto> <fmt>...');
        if (!token.test(p[0])) bad(i, 'media is not a token');
        if (!/^\d{1,5}(\/\d+)?$/.test(p[1]) || Number(p[1].split('/')[0]) > 65535) bad(i, 'port is not 0-65535');
        if (!/^[A-Za-z0-9-]+(\/[A-Za-z0-9-]+)*$/.test(p[2])) bad(i, 'proto is not token/token...');
        section.port = Number(p[1].split('/')[0]);
        section.formats = p.slice(3);
        section.proto = p[2];
        if (/RTP\/(S)?AVPF?$/.test(p[2]) && !section.formats.every(PT)) bad(i, 'an RTP format is not a payload type 0-127');
        if (!section.formats.every((f) => token.test(f))) bad(i, 'a format is not a token');
        break;
      }
      case 'a': {
        const am = /^([!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+)(?::(.*))?$/.exec(value);
        if (!am) return bad(i, 'attribute name is not a token');
        const [, name, v] = am;
        if (SESSION_ONLY.has(name) && section) bad(i, `a=${name} is a session-level attribute`);
        if (MEDIA_ONLY.has(name) && !section) bad(i, `a=${name} is a media-level attribute`);
        if (FLAGS.has(name) && v !== undefined) bad(i, `a=${name} takes no value`);
        if (name === 'extmap-allow-mixed') allowMixed = true;
        const rule = VALUE_RULES[name];
        if (rule) {
          if (v === undefined || v === '') bad(i, `a=${name} needs a value`);
          else {
            const err = rule(v, { formats: section?.formats ?? [], allowMixed: section?.allowMixed || allowMixed });
            if (err) bad(i, `a=${name} ${err}`);
          }
        }
        if (section) {
          if (!section.attrs.has(name)) section.attrs.set(name, []);
          section.attrs.get(name).push(v ?? '');
        }
        if (name === 'mid' && section) mids.push(v);
        if (name === 'group' && v) groups.push(v.split(' '));
        break;
      }
    }
  });
  // RFC 8866 §5.7: a c= in every media section or one at session level.
  for (const s of sections) {
    if (!s.c && !sessionC) errors.push(`m= section ${s.index} (line ${s.line + 1}) has no c= line and the session has none`);
    const dirs = [...s.attrs.keys()].filter((k) => DIRECTIONS.has(k));
    if (dirs.length > 1) errors.push(`m= section ${s.index} has more than one direction attribute`);
    for (const name of ['mid', 'setup', 'ice-ufrag', 'ice-pwd', 'rtcp-mux', 'rtcp-rsize']) {
      if ((s.attrs.get(name)?.length ?? 0) > 1) errors.push(`m= section ${s.index} has a=${name} more than once`);
    }
    const rtpmaps = (s.attrs.get('rtpmap') ?? []).map((x) => x.split(' ')[0]);
    if (new Set(rtpmaps).size !== rtpmaps.length) errors.push(`m= section ${s.index} maps a payload type twice`);
    // Dynamic payload types (96-127) mean nothing without an rtpmap (RFC 8866 §6.6).
    if (s.port !== 0 && /RTP\//.test(s.proto ?? '')) {
      for (const f of s.formats) if (Number(f) >= 96 && !rtpmaps.includes(f)) errors.push(`m= section ${s.index}: dynamic payload type ${f} has no a=rtpmap`);
    }
    const ids = (s.attrs.get('extmap') ?? []).map((x) => x.split(/[ /]/)[0]);
    if (new Set(ids).size !== ids.length) errors.push(`m= section ${s.index} uses an extmap id twice`);
  }
  if (new Set(mids).size !== mids.length) errors.push('a mid is used twice');
  for (const g of groups) {
    for (const id of g.slice(1)) if (!mids.includes(id)) errors.push(`a=group:${g[0]} names mid ${id}, which no section has`);
  }
  if (sections.length === 0 && !errors.length) {
    // A session without media is valid SDP; nothing more to check.
  }
  return errors;
}
