// The layering of ts/ (docs/architecture.md, "Map of ts/"): a file imports from its own folder or
// from a lower layer, never from a layer above nor from another folder of the same layer. Files
// stay near or below 400 lines. Reads the sources, not dist/, so it needs no build.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const TS = fileURLToPath(new URL('../ts/', import.meta.url));
const MAX_LINES = 450;

/** Layer of each folder of ts/, lowest first; root files are placed one by one. */
const LAYERS = {
  'native.ts': 0, // the data-plane boundary: the addon's types and loader
  'ops/': 1, // errors, options, config, metrics, rates
  'load/': 1, // the load generator: a separate tool that talks to a relay over HTTP only
  'access/': 2, // tokens, rate and viewer limits
  'media/': 2, // SDP, sessions (publishers, viewers, streams), layer policy
  'cluster/': 3, // registry, edges and pulls, director
  'ingest/': 3, // RTMP, SRT and RTSP sources through supervised FFmpeg children
  'signaling/': 4, // the WebSocket signaling protocol, transport-neutral
  'http/': 5, // routes and their uWebSockets.js and node:http adapters, web pages
  'relay.ts': 6, // createRelay: wires every layer together
  'index.ts': 7, // the public API (package.json "exports")
  'cli.ts': 7, // the `halfsec` command
};

function sources(dir = TS) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [path.relative(TS, p).split(path.sep).join('/')] : [];
  });
}

/** 'media/' for 'media/sdp.ts', 'relay.ts' for a root file. */
const unitOf = (file) => (file.includes('/') ? `${file.split('/')[0]}/` : file);

function layerOf(file) {
  const layer = LAYERS[unitOf(file)];
  if (layer === undefined) throw new Error(`ts/${file}: its folder has no layer; add it to LAYERS here and to docs/architecture.md`);
  return layer;
}

/** Relative imports (static, dynamic, `export … from`, `import type`) resolved to ts/-relative .ts paths. */
function importsOf(file) {
  const info = ts.preProcessFile(readFileSync(path.join(TS, file), 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts'))
    .filter((target) => !target.startsWith('..')); // outside ts/ (package.json, the addon binary)
}

test('every ts/ file imports only from its own folder or a lower layer', (t) => {
  const files = sources();
  t.true(files.length > 30, 'found the sources');
  const wrong = [];
  for (const file of files) {
    for (const target of importsOf(file)) {
      t.true(files.includes(target), `ts/${file} imports ts/${target}, which does not exist`);
      if (unitOf(target) === unitOf(file)) continue;
      if (layerOf(target) >= layerOf(file)) {
        wrong.push(`ts/${file} (layer ${layerOf(file)}) imports ts/${target} (layer ${layerOf(target)})`);
      }
    }
  }
  t.deepEqual(wrong, [], 'imports must go down a layer: see the map in docs/architecture.md');
});

test(`no ts/ file is over ${MAX_LINES} lines`, (t) => {
  const long = sources()
    .map((file) => ({ file, lines: readFileSync(path.join(TS, file), 'utf8').split('\n').length }))
    .filter((f) => f.lines > MAX_LINES)
    .map((f) => `ts/${f.file}: ${f.lines} lines`);
  t.deepEqual(long, [], 'split the file where a concept stands out');
});

test('the layering check sees upward, dynamic and re-exported imports', (t) => {
  // The check itself: preProcessFile must report every form of import the sources use.
  const info = ts.preProcessFile("import type { A } from './a.js';\nexport { B } from '../b.js';\nconst c = await import('./c.js');\nimport './d.js';", true, true);
  t.deepEqual(info.importedFiles.map((f) => f.fileName), ['./a.js', '../b.js', './c.js', './d.js']);
  t.is(layerOf('http/routes.ts'), 5);
  t.true(layerOf('ops/errors.ts') < layerOf('media/sdp.ts'));
});
