// The native layout's rules (native/README.md): N-API headers only at the boundary, and every
// #include pointing down the layers, never up or sideways.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../native/', import.meta.url));

// A folder may include from itself and from folders of a lower rank only. load/ (the load
// generator, its own addon), tests/ (the native unit tests), srt/ (halfsec-srt, the SRT
// listener executable, built only where libsrt is installed) and splice/ (halfsec-splice, the
// RTMP connection joiner) sit beside the relay's stack.
const RANK = { base: 0, rtp: 1, ice: 1, srtp: 1, transport: 1, dtls: 2, media: 3, fanout: 4, napi: 5 };
const MAY_INCLUDE = {
  load: ['base', 'rtp', 'ice', 'srtp', 'dtls', 'transport', 'load'],
  tests: ['base', 'rtp', 'ice', 'srtp', 'dtls', 'transport', 'media', 'srt', 'tests'],
  srt: ['srt'],
  splice: ['splice'],
};
// Where the N-API headers may be included: the relay's boundary and the load generator's own.
const NAPI_OK = (file) => file.startsWith('napi/') || file === 'load/load_napi.cc';
const NAPI_HEADER = /#\s*include\s*[<"](napi\.h|node_api\.h|js_native_api\.h|node\.h|uv\.h)[>"]/;

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(cc|h|inl)$/.test(name) ? [relative(root, p)] : [];
  });
}

const files = sources(root);
const folderOf = (f) => (f.includes('/') ? f.split('/')[0] : '');
const allowed = (from, to) => {
  if (from === to) return true;
  if (MAY_INCLUDE[from]) return MAY_INCLUDE[from].includes(to);
  return to in RANK && RANK[to] < RANK[from];
};

test('every native source sits in a folder the layering knows', (t) => {
  const known = new Set([...Object.keys(RANK), ...Object.keys(MAY_INCLUDE)]);
  t.true(files.length > 20);
  t.deepEqual(files.filter((f) => !known.has(folderOf(f))), []);
});

test('only native/napi/ (and the load generator binding) includes N-API headers', (t) => {
  const offenders = files.filter((f) => !NAPI_OK(f) && NAPI_HEADER.test(readFileSync(join(root, f), 'utf8')));
  t.deepEqual(offenders, []);
  t.true(files.some((f) => NAPI_OK(f) && NAPI_HEADER.test(readFileSync(join(root, f), 'utf8'))), 'the check sees the boundary');
});

test('includes point down the layers, never up or sideways', (t) => {
  const bad = [];
  for (const f of files) {
    const from = folderOf(f);
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/^#\s*include\s*"([^"]+)"/gm)) {
      const target = m[1];
      // Includes are rooted at native/ ("media/packet.h"): a bare name would hide its layer.
      if (!target.includes('/') || !files.includes(target)) {
        bad.push(`${f}: "${target}" is not a native/-rooted path`);
      } else if (!allowed(from, folderOf(target))) {
        bad.push(`${f} (${from}) includes ${target}`);
      }
    }
  }
  t.deepEqual(bad, []);
});

test('the rule catches a higher layer included from a lower one', (t) => {
  t.false(allowed('media', 'fanout'));
  t.false(allowed('rtp', 'ice'));
  t.false(allowed('load', 'fanout'));
  t.true(allowed('fanout', 'media'));
  t.true(allowed('dtls', 'srtp'));
});
