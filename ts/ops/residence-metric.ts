// halfsec_packet_residence_seconds: how long forwarded packets stay in the relay, per worker.
// The data plane fills fixed buckets (native/base/residence_histogram.h) without touching
// JavaScript; this histogram republishes them at scrape time instead of observing values.
import { Histogram, type MetricObjectWithValues, type MetricType, type MetricValueWithName, type Registry } from 'prom-client';
import { native, type WorkerStats } from '../native.js';

type Labels = 'worker' | 'le';
const HELP =
  'forwarded packets: kernel receive timestamp of the datagram they came in to the return of the sendmmsg that carried them out, one sample per datagram sent to a viewer, per data-plane worker';

/** A prom-client histogram whose buckets are the workers' native residence counts. */
class NativeResidenceHistogram extends Histogram<Labels> {
  constructor(
    registry: Registry,
    private readonly bounds: number[],
    private readonly workers: () => WorkerStats[],
  ) {
    super({
      name: 'halfsec_packet_residence_seconds',
      help: HELP,
      labelNames: ['worker'],
      buckets: bounds,
      registers: [registry],
    });
  }

  /** What the registry's text exposition reads (prom-client calls it in place of get()). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<Labels>>> {
    return this.get();
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<Labels>>> {
    const name = 'halfsec_packet_residence_seconds';
    const values: MetricValueWithName<Labels>[] = [];
    this.workers().forEach((w, i) => {
      const worker = String(i);
      let acc = 0;
      this.bounds.forEach((le, b) => {
        acc += w.residenceBuckets[b] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { worker, le }, value: acc });
      });
      acc += w.residenceBuckets[this.bounds.length] ?? 0;
      values.push({ metricName: `${name}_bucket`, labels: { worker, le: '+Inf' }, value: acc });
      values.push({ metricName: `${name}_sum`, labels: { worker }, value: w.residenceSumSeconds });
      values.push({ metricName: `${name}_count`, labels: { worker }, value: acc });
    });
    // prom-client's .d.ts types `type` as a numeric enum; at run time (and in the exposition) it is the string.
    return { name, help: HELP, type: 'histogram' as unknown as MetricType, aggregator: 'sum', collect: () => undefined, values };
  }
}

/** Registers halfsec_packet_residence_seconds on `registry`, read from `workers()` when scraped. */
export function registerResidenceHistogram(registry: Registry, workers: () => WorkerStats[]): void {
  new NativeResidenceHistogram(registry, native.residenceBucketsSeconds, workers);
}
