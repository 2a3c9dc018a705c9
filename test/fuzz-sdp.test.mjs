// The SDP fuzzer's regressions and a short fixed-seed pass (the long, randomly seeded pass is
// `npm run fuzz`). Each regression input once made parseOffer / buildAnswer throw something
// other than an HttpError, or hand the native side a non-number payload type or non-string
// ICE credentials.
import test from 'ava';
import { join } from 'node:path';
import { HttpError } from '../dist/ops/errors.js';
import { parseOffer } from '../dist/media/sdp.js';
import { FUZZ_DIR, exercise, fuzzLoop, loadDir } from '../fuzz/sdp_lib.mjs';

const regressions = loadDir(join(FUZZ_DIR, 'regressions', 'sdp'));
const seeds = loadDir(join(FUZZ_DIR, 'corpus', 'sdp'));

test('there are SDP seeds and regressions to replay', (t) => {
  t.true(seeds.length >= 4);
  t.true(regressions.length >= 6);
});

for (const f of [...regressions, ...seeds]) {
  test(`replay ${f.name}`, (t) => {
    for (const role of ['publisher', 'viewer']) {
      for (let source = 0; source < 4; source++) t.notThrows(() => exercise(f.text, role, source), `${role}, source ${source}`);
    }
  });
}

const byName = (name) => regressions.find((r) => r.name === name).text;

test('a numeric ice-ufrag is accepted and handed on as a string', (t) => {
  const offer = parseOffer(byName('publisher-numeric-ice-ufrag.sdp'), 'publisher');
  t.is(offer.iceUfrag, '1234');
});

test('payload types and clock rates that are not plain integers are a 400, not a 500', (t) => {
  for (const name of ['publisher-zero-padded-payload-type.sdp', 'publisher-huge-clock-rate.sdp', 'publisher-empty-clock-rate.sdp']) {
    const err = t.throws(() => parseOffer(byName(name), 'publisher'), { instanceOf: HttpError }, name);
    t.is(err.status, 400);
    t.regex(err.message, /payload type|clock rate/);
  }
});

test('a numeric fingerprint algorithm is refused with a 400 naming it', (t) => {
  const err = t.throws(() => parseOffer(byName('publisher-numeric-fingerprint-type.sdp'), 'publisher'), { instanceOf: HttpError });
  t.regex(err.message, /fingerprint algorithm 256/);
});

test('a short fixed-seed fuzz pass finds nothing', (t) => {
  const { stats, findings } = fuzzLoop({ seed: 20240607, seeds, stop: (s) => s.executions >= 3000 });
  t.is(stats.executions, 3000);
  // Both outcomes must be reached, or the mutator has stopped exploring.
  t.true(stats.accepted > 100 && stats.rejected > 100, JSON.stringify(stats));
  t.deepEqual(findings.map((f) => f.message), []);
});
