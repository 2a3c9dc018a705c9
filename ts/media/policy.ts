/**
 * Bandwidth-estimation policy: which simulcast layer each viewer should get, from the feedback
 * summaries the data plane reports: the relay's own estimate of the viewer's path when the viewer
 * negotiated transport-cc (native/media/bandwidth_estimator.h: delay- and loss-based, raised only
 * by padding probes that held), else the viewer's REMB; and loss. Pure: no I/O, no clock; one
 * call per summary.
 *
 * Down fast (one bad summary), up slowly (several good ones), and every step up is a probe that
 * is undone, with a doubled wait before the next try, if loss follows it.
 */
export interface LayerFeedback {
  /** Fraction lost in the viewer's latest receiver report, 0..1. */
  loss: number;
  /** The viewer's REMB estimate in bit/s; 0 when it sends none. */
  rembBps: number;
  /** The relay's transport-cc estimate in bit/s; 0 or absent when it has none (then REMB counts). */
  estimateBps?: number;
}

export interface LayerPolicyOptions {
  /** Expected bit rate of each layer, lowest first (bit/s). */
  layerBitrates: number[];
  /** Good summaries in a row before a step up (default 3). */
  upAfter?: number;
  /** Summaries a step up stays on probation (default 2). */
  probeFor?: number;
  /** Loss at or above which the viewer steps down (default 0.1). */
  lossDown?: number;
  /** Loss below which a summary counts as good (default 0.02). */
  lossUp?: number;
  /** Estimate needed to step up, as a multiple of the next layer's bit rate (default 1.2). */
  headroom?: number;
  /** Largest multiplier of upAfter after failed probes (default 8). */
  maxBackoff?: number;
  /**
   * With the transport-cc estimate, the viewer leaves its layer only when the estimate falls
   * below this fraction of the layer's rate (default 0.8): one overuse signal on a path that
   * carries the layer fine sets the estimate to 0.85 x what arrived, and must not move it.
   */
  estimateDownMargin?: number;
}

export class LayerPolicy {
  private o: Required<LayerPolicyOptions>;
  private layer: number;
  private cap: number;
  private good = 0;
  private probing = 0;
  private backoff = 1;

  constructor(options: LayerPolicyOptions) {
    if (options.layerBitrates.length === 0) throw new RangeError('layerBitrates must name at least one layer');
    this.o = { upAfter: 3, probeFor: 2, lossDown: 0.1, lossUp: 0.02, headroom: 1.2, maxBackoff: 8, estimateDownMargin: 0.8, ...options };
    this.cap = this.top;
    this.layer = this.top;
  }

  get current(): number {
    return this.layer;
  }

  private get top(): number {
    return this.o.layerBitrates.length - 1;
  }

  /** Caps the viewer at `layer` (an API call); undefined lifts the cap. Returns the layer now. */
  setCap(layer: number | undefined): number {
    this.cap = layer === undefined ? this.top : Math.max(0, Math.min(this.top, Math.floor(layer)));
    if (this.layer > this.cap) this.layer = this.cap;
    return this.layer;
  }

  /** New rates per layer (measured); the layer count stays. */
  setLayerBitrates(rates: number[]): void {
    if (rates.length === this.o.layerBitrates.length) this.o.layerBitrates = [...rates];
  }

  private fits(layer: number, estimate: number, margin = 1): boolean {
    return estimate >= this.o.layerBitrates[layer]! * margin;
  }

  /** Feeds one summary; returns the layer the viewer should get now. */
  update(fb: LayerFeedback): number {
    const own = fb.estimateBps ?? 0;
    const estimate = own > 0 ? own : fb.rembBps > 0 ? fb.rembBps : Number.POSITIVE_INFINITY;
    const stay = own > 0 ? this.o.estimateDownMargin : 1;
    // The relay's estimate has a loss-based part of its own (sustained loss cuts it): a receiver
    // report's loss from the moment of a switch down (the old layer overflowing the queue) must
    // not move the viewer a second layer down. Without the estimate, loss steps down.
    const lossy = own <= 0 && fb.loss >= this.o.lossDown;
    if (lossy || !this.fits(this.layer, estimate, stay)) {
      if (this.probing > 0) this.backoff = Math.min(this.o.maxBackoff, this.backoff * 2);
      this.probing = 0;
      this.good = 0;
      let next = lossy ? this.layer - 1 : this.layer;
      while (next > 0 && !this.fits(next, estimate)) next--;
      this.layer = Math.max(0, next);
      return this.layer;
    }
    if (this.probing > 0) {
      this.probing--;
      if (this.probing === 0) this.backoff = 1;  // the probe held
      return this.layer;
    }
    const next = this.layer + 1;
    if (next <= this.cap && fb.loss < this.o.lossUp && this.fits(next, estimate, this.o.headroom)) {
      this.good++;
      if (this.good >= this.o.upAfter * this.backoff) {
        this.good = 0;
        this.layer = next;
        this.probing = this.o.probeFor;
      }
    } else {
      this.good = 0;
    }
    return this.layer;
  }
}
