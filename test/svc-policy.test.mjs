import test from 'ava';
import { SVC_ALL, SvcPolicies, svcLadder, svcStepRates } from '../dist/media/svc-policy.js';

const layers = (s) => s && { spatial: s.spatial, temporal: s.temporal };

const fb = (estimateBps, layers = [1, 3]) => ({
  loss: 0, rttMs: 20, rembBps: 0, nacks: 0, retransmits: 0, layer: 0, packets: 100, estimateBps, ackedBps: 0,
  svcSpatialLayers: layers[0], svcTemporalLayers: layers[1], svcSpatial: 7, svcTemporal: 7,
});

test('the ladder: every temporal layer of spatial layer 0, then each spatial layer with all of them', (t) => {
  t.deepEqual(svcLadder(1, 3).map(layers), [{ spatial: 0, temporal: 0 }, { spatial: 0, temporal: 1 }, { spatial: 0, temporal: 2 }]);
  t.deepEqual(svcLadder(3, 3).slice(2).map(layers), [{ spatial: 0, temporal: 2 }, { spatial: 1, temporal: 2 }, { spatial: 2, temporal: 2 }]);
  const rates = svcStepRates(3, 3, 1_400_000);
  t.true(rates.every((r, i) => i === 0 || r > rates[i - 1]), `rates rise: ${rates}`);
  t.is(rates.at(-1), 1_400_000);
  t.deepEqual(svcStepRates(1, 3, 1_000_000), [400_000, 600_000, 1_000_000]);
});

test('a stream without layers gets no SVC decision', (t) => {
  const p = new SvcPolicies();
  t.is(p.update('a', fb(0, [0, 0]), 1e6), undefined);
  t.is(p.update('a', fb(0, [1, 1]), 1e6), undefined);
});

test('an open viewer gets every layer; an estimate under the stream moves it down the ladder at once', (t) => {
  const p = new SvcPolicies();
  t.deepEqual(p.update('a', fb(0), 1_000_000), { spatial: SVC_ALL, temporal: SVC_ALL, nextBps: 0 });
  t.is(p.update('a', fb(0), 1_000_000), undefined, 'no change, no command');
  // 500 kbit/s: T0+T1 (600 k) does not fit, T0 (400 k) does.
  t.deepEqual(p.update('a', fb(500_000), 1_000_000), { spatial: 0, temporal: 0, nextBps: 600_000 }, 'probes aim at the next step');
  // The stream's rate moving the next step's price by more than a quarter is told again.
  t.is(p.update('a', fb(500_000), 1_100_000), undefined);
  t.deepEqual(p.update('a', fb(500_000), 700_000), { spatial: 0, temporal: 0, nextBps: 420_000 });
  // Up one step at a time after two good summaries with headroom, back to all at the top.
  const seen = [];
  for (let i = 0; i < 8; i++) seen.push(p.update('a', fb(2_000_000), 1_000_000));
  const steps = seen.filter(Boolean).map(layers);
  t.deepEqual(steps, [{ spatial: 0, temporal: 0 }, { spatial: 0, temporal: 1 }, { spatial: SVC_ALL, temporal: SVC_ALL }]);
});

test('maxBitrate caps the ladder; the cap lifted lets it climb', (t) => {
  const p = new SvcPolicies();
  t.deepEqual(layers(p.update('a', fb(0, [3, 3]), 1_400_000, 10_000)), { spatial: 0, temporal: 0 });
  t.is(p.update('a', fb(0, [3, 3]), 1_400_000, 10_000), undefined);
  // Cap at 700 kbit/s: the S1 step (3/7 of 1.4 M = 600 k) fits, S2 does not.
  let last;
  for (let i = 0; i < 12; i++) last = p.update('a', fb(0, [3, 3]), 1_400_000, 700_000) ?? last;
  t.deepEqual(layers(last), { spatial: 1, temporal: 2 });
  p.forget('a');
  t.deepEqual(layers(p.update('a', fb(0, [3, 3]), 1_400_000)), { spatial: SVC_ALL, temporal: SVC_ALL });
});
