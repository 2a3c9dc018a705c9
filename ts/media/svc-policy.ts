/**
 * SVC policy: which VP8/VP9 spatial and temporal layers each viewer of a single-encoding stream
 * gets (native/media/svc_filter.h does the dropping), from the same feedback summaries as the
 * simulcast policy. The layers form a ladder, lowest first: every temporal layer of spatial
 * layer 0, then each higher spatial layer with every temporal layer; a LayerPolicy walks it.
 *
 * The price of a step is the stream's measured video rate times a share: per temporal layer
 * about libwebrtc's allocation (2 layers 60/40, 3 layers 40/20/40 of the rate), per spatial
 * layer about 1:2:4. The shares only need to order the steps and be roughly right: the
 * estimate decides, and a too-low guess is undone by the policy's probation.
 */
import type { NativeEngine, ViewerFeedback } from '../native.js';
import type { Session } from './streams.js';
import { LayerPolicy } from './policy.js';

/** The highest spatial and temporal layer to forward (7 each: every layer). */
export interface SvcStep {
  spatial: number;
  temporal: number;
  /** The expected rate of the step above (bit/s; 0 at the top): the viewer's probes aim at it. */
  nextBps: number;
}

export const SVC_ALL = 7;

const TEMPORAL_SHARE: Record<number, number[]> = { 1: [1], 2: [0.6, 1], 3: [0.4, 0.6, 1], 4: [0.25, 0.4, 0.6, 1] };

function spatialShare(count: number, s: number): number {
  // Cumulative 1:2:4..., normalised to the top layer.
  return (2 ** (s + 1) - 1) / (2 ** count - 1);
}

/** The ladder for a stream with `spatial` x `temporal` layers, lowest step first. */
export function svcLadder(spatial: number, temporal: number): SvcStep[] {
  const steps: SvcStep[] = [];
  for (let t = 0; t < temporal; t++) steps.push({ spatial: 0, temporal: t, nextBps: 0 });
  for (let s = 1; s < spatial; s++) steps.push({ spatial: s, temporal: temporal - 1, nextBps: 0 });
  return steps;
}

/** Each step's expected bit rate when the whole stream runs at `streamBps`. */
export function svcStepRates(spatial: number, temporal: number, streamBps: number): number[] {
  const tShare = TEMPORAL_SHARE[temporal] ?? TEMPORAL_SHARE[4]!;
  return svcLadder(spatial, temporal).map((st) => streamBps * spatialShare(spatial, st.spatial) * (tShare[st.temporal] ?? 1));
}

interface ViewerSvc {
  spatial: number;
  temporal: number;
  policy: LayerPolicy;
  step: number;
  nextBps: number;  // the probe rate last told to the engine
}

/** Per-viewer SVC policies of one relay (keyed by session id). */
export class SvcPolicies {
  private readonly viewers = new Map<string, ViewerSvc>();

  /**
   * One feedback summary of viewer `id` of a stream whose video runs at `streamBps` (bit/s),
   * with the viewer's `maxBitrate` preference (bit/s) as a cap. Returns the layers to set when
   * they change, else undefined (also for a stream without layer information).
   */
  update(id: string, fb: ViewerFeedback, streamBps: number, maxBitrate?: number): SvcStep | undefined {
    const spatial = Math.min(8, Math.max(0, Math.floor(fb.svcSpatialLayers ?? 0)));
    const temporal = Math.min(4, Math.max(0, Math.floor(fb.svcTemporalLayers ?? 0)));
    if (spatial * temporal <= 1) return undefined;
    const rates = svcStepRates(spatial, temporal, streamBps);
    let v = this.viewers.get(id);
    if (!v || v.spatial !== spatial || v.temporal !== temporal) {
      // The steps are finer than simulcast layers (a temporal layer adds a fifth to a half of the
      // rate): a shorter wait before each step up and a shorter probation.
      v = { spatial, temporal, policy: new LayerPolicy({ layerBitrates: rates, upAfter: 2, probeFor: 1 }), step: -1, nextBps: 0 };
      this.viewers.set(id, v);
    } else {
      v.policy.setLayerBitrates(rates);
    }
    let cap: number | undefined;
    if (maxBitrate !== undefined) {
      cap = 0;
      rates.forEach((r, i) => {
        if (r <= maxBitrate) cap = i;
      });
    }
    v.policy.setCap(cap);
    const step = v.policy.update(fb);
    const nextBps = step === rates.length - 1 ? 0 : rates[step + 1]!;
    // Unchanged, unless the stream's rate moved the next step's price by more than a quarter.
    if (step === v.step && Math.abs(nextBps - v.nextBps) <= 0.25 * v.nextBps) return undefined;
    v.step = step;
    v.nextBps = nextBps;
    const s = svcLadder(spatial, temporal)[step]!;
    return nextBps === 0 ? { spatial: SVC_ALL, temporal: SVC_ALL, nextBps } : { ...s, nextBps };
  }

  /** update() for viewer session `s`, setting the layers on the engine when they change. */
  apply(engine: Pick<NativeEngine, 'setViewerSvc'>, s: Session, fb: ViewerFeedback, streamBps: number): void {
    const step = this.update(s.id, fb, streamBps, s.preferences?.maxBitrate);
    if (step) engine.setViewerSvc(s.peerId, step.spatial, step.temporal, Math.round(step.nextBps / 1000));
  }

  forget(id: string): void {
    this.viewers.delete(id);
  }
}
