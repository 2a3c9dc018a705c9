import test from 'ava';
import { LayerPolicy } from '../dist/media/policy.js';

const RATES = [150_000, 500_000, 1_500_000];
const good = (rembBps = 5_000_000) => ({ loss: 0, rembBps });

function run(policy, seq) {
  return seq.map((fb) => policy.update(fb));
}

test('starts at the top layer and stays there while feedback is good', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  t.is(p.current, 2);
  t.deepEqual(run(p, [good(), good(), good()]), [2, 2, 2]);
});

test('a REMB below the layer rate moves down at once, to the highest layer that fits', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  t.deepEqual(run(p, [good(), good(400_000)]), [2, 0]);
});

test('heavy loss steps down one layer per summary', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  t.deepEqual(run(p, [{ loss: 0.2, rembBps: 0 }, { loss: 0.2, rembBps: 0 }, { loss: 0.3, rembBps: 0 }]), [1, 0, 0]);
});

test('going up waits for several good summaries and needs headroom', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  run(p, [good(200_000)]);
  t.is(p.current, 0);
  // 550 kbit/s fits layer 1 but not with 20 % headroom: stay.
  t.deepEqual(run(p, [good(550_000), good(550_000), good(550_000), good(550_000)]), [0, 0, 0, 0]);
  // 700 kbit/s: up after three good summaries in a row.
  t.deepEqual(run(p, [good(700_000), good(700_000), good(700_000)]), [0, 0, 1]);
});

test('a failed probe goes back down and doubles the wait before the next one', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES, upAfter: 2, probeFor: 2 });
  run(p, [good(200_000)]);
  t.deepEqual(run(p, [good(), good()]), [0, 1], 'probe up after 2');
  t.deepEqual(run(p, [{ loss: 0.15, rembBps: 0 }]), [0], 'loss during the probe: back down');
  t.deepEqual(run(p, [good(), good(), good()]), [0, 0, 0], 'now it takes 4 good summaries');
  t.deepEqual(run(p, [good()]), [1]);
  t.deepEqual(run(p, [good(), good()]), [1, 1], 'the probe held');
  t.deepEqual(run(p, [good(), good()]), [1, 2], 'backoff reset: 2 good summaries again');
});

test('a loss blip that is not heavy neither moves down nor counts as good', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES, upAfter: 2 });
  run(p, [good(200_000)]);
  t.deepEqual(run(p, [good(), { loss: 0.05, rembBps: 5e6 }, good(), good()]), [0, 0, 0, 1]);
});

test('the API cap holds the layer down and lifting it lets the viewer climb back', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES, upAfter: 1, probeFor: 1 });
  t.is(p.setCap(0), 0);
  t.deepEqual(run(p, [good(), good(), good()]), [0, 0, 0]);
  p.setCap(undefined);
  t.deepEqual(run(p, [good(), good(), good(), good()]), [1, 1, 2, 2]);
});

test('a recorded sequence: congestion, recovery, congestion', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  const seq = [
    good(3e6), good(3e6), { loss: 0.12, rembBps: 1.2e6 }, { loss: 0.04, rembBps: 1.1e6 }, good(1.1e6),
    good(2.5e6), good(2.5e6), good(2.5e6), good(2.5e6), good(2.5e6), good(2.5e6), { loss: 0.01, rembBps: 300_000 },
  ];
  t.deepEqual(run(p, seq), [2, 2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0]);
});

test('rejects an empty layer list', (t) => {
  t.throws(() => new LayerPolicy({ layerBitrates: [] }), { instanceOf: RangeError });
});

test('the relay\'s transport-cc estimate wins over REMB; without one REMB still counts', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  // Chromium stops sending REMB once transport-cc is negotiated: the estimate decides.
  t.is(p.update({ loss: 0, rembBps: 0, estimateBps: 400_000 }), 0);
  const q = new LayerPolicy({ layerBitrates: RATES });
  t.is(q.update({ loss: 0, rembBps: 400_000, estimateBps: 0 }), 0, 'estimate 0 (unknown): REMB');
  const r = new LayerPolicy({ layerBitrates: RATES });
  t.is(r.update({ loss: 0, rembBps: 400_000, estimateBps: 5_000_000 }), 2, 'the estimate overrides REMB');
});

test('one overuse on a path that carries the layer does not move the viewer; a real limit does', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  // 0.85 x the top layer: what a single delay-based decrease gives on an open path.
  t.deepEqual(run(p, [{ loss: 0, rembBps: 0, estimateBps: 1_275_000 }, { loss: 0, rembBps: 0, estimateBps: 1_300_000 }]), [2, 2]);
  // 600 kbit/s: down to the highest layer that fits whole.
  t.is(p.update({ loss: 0, rembBps: 0, estimateBps: 600_000 }), 1);
  // Back up only once a probe raised the estimate above the next layer with headroom.
  t.deepEqual(run(p, [1, 2, 3].map(() => ({ loss: 0, rembBps: 0, estimateBps: 1_700_000 }))), [1, 1, 1]);
  t.deepEqual(run(p, [1, 2, 3].map(() => ({ loss: 0, rembBps: 0, estimateBps: 2_000_000 }))), [1, 1, 2]);
});

test('with the relay\'s estimate, loss reported at a switch does not take the viewer a second layer down; it still blocks a step up', (t) => {
  const p = new LayerPolicy({ layerBitrates: RATES });
  t.is(p.update({ loss: 0, rembBps: 0, estimateBps: 600_000 }), 1);
  t.is(p.update({ loss: 0.5, rembBps: 0, estimateBps: 550_000 }), 1, 'the estimate (with its own loss-based part) decides');
  t.deepEqual(run(p, [1, 2, 3, 4].map(() => ({ loss: 0.05, rembBps: 0, estimateBps: 2_500_000 }))), [1, 1, 1, 1], 'no step up while loss is above lossUp');
  t.deepEqual(run(p, [1, 2, 3].map(() => ({ loss: 0, rembBps: 0, estimateBps: 2_500_000 }))), [1, 1, 2]);
});
