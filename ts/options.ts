import { networkInterfaces } from 'node:os';

export interface RelayOptions {
  /** HTTP listen address (default 0.0.0.0). */
  host?: string;
  /** HTTP port (default 8080; 0 picks a free one). */
  port?: number;
  /** Address the media UDP sockets bind to (default 0.0.0.0). */
  rtcBindAddress?: string;
  /** Media UDP ports: each worker takes one from [rtcPortMin, rtcPortMax] (default 40000-40099). */
  rtcPortMin?: number;
  rtcPortMax?: number;
  /** IPs written into ICE candidates (default: the bind address, or every non-internal IPv4 when bound to 0.0.0.0). */
  announcedIps?: string[];
  /** Data-plane worker threads (default: one per core). */
  workers?: number;
  /** Largest accepted HTTP body, bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** pino level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' (default 'info'). */
  logLevel?: string;
}

export type ResolvedOptions = Required<RelayOptions>;

export const DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  rtcBindAddress: '0.0.0.0',
  rtcPortMin: 40000,
  rtcPortMax: 40099,
  workers: 0,
  maxBodyBytes: 64 * 1024,
  logLevel: 'info',
} as const;

function defaultAnnouncedIps(bind: string): string[] {
  if (bind !== '0.0.0.0' && bind !== '::') return [bind];
  const ips: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) ips.push(a.address);
  }
  return ips.length > 0 ? ips : ['127.0.0.1'];
}

export function resolveOptions(o: RelayOptions = {}): ResolvedOptions {
  const r = {
    host: o.host ?? DEFAULTS.host,
    port: o.port ?? DEFAULTS.port,
    rtcBindAddress: o.rtcBindAddress ?? DEFAULTS.rtcBindAddress,
    rtcPortMin: o.rtcPortMin ?? DEFAULTS.rtcPortMin,
    rtcPortMax: o.rtcPortMax ?? DEFAULTS.rtcPortMax,
    announcedIps: o.announcedIps ?? [],
    workers: o.workers ?? DEFAULTS.workers,
    maxBodyBytes: o.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    logLevel: o.logLevel ?? DEFAULTS.logLevel,
  };
  if (r.announcedIps.length === 0) r.announcedIps = defaultAnnouncedIps(r.rtcBindAddress);
  const int = (v: number, lo: number, hi: number, name: string): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in ${lo}..${hi} (got ${v})`);
  };
  int(r.port, 0, 65535, 'port');
  int(r.rtcPortMin, 1, 65535, 'rtcPortMin');
  int(r.rtcPortMax, r.rtcPortMin, 65535, 'rtcPortMax');
  int(r.workers, 0, 64, 'workers');
  int(r.maxBodyBytes, 1024, 16 * 1024 * 1024, 'maxBodyBytes');
  return r;
}
