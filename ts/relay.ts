import { pino } from 'pino';
import type { Logger } from 'pino';
import type { us_listen_socket } from 'uWebSockets.js';
import { buildApp, uWS } from './http.js';
import { native } from './native.js';
import type { NativeEngine, WorkerStats } from './native.js';
import { resolveOptions } from './options.js';
import type { RelayOptions, ResolvedOptions } from './options.js';
import { SessionManager } from './sessions.js';
import type { RelayEvents } from './sessions.js';

export interface RelayStats {
  streams: number;
  viewers: number;
  workers: WorkerStats[];
}

export interface Relay {
  readonly options: ResolvedOptions;
  /** Starts the HTTP server; resolves with the bound port. */
  listen(): Promise<{ port: number }>;
  stats(): RelayStats;
  /** Ends every session, stops HTTP and frees the native engine. */
  close(): Promise<void>;
  on<K extends keyof RelayEvents>(event: K, listener: (...args: RelayEvents[K]) => void): Relay;
  off<K extends keyof RelayEvents>(event: K, listener: (...args: RelayEvents[K]) => void): Relay;
}

export function createRelay(options: RelayOptions = {}, logger?: Logger): Relay {
  const opts = resolveOptions(options);
  const log = logger ?? pino({ level: opts.logLevel, base: { name: 'halfsec' } });
  let sessions: SessionManager | undefined;
  const engine: NativeEngine = new native.Engine(
    {
      workers: opts.workers,
      bindAddress: opts.rtcBindAddress,
      portBase: opts.rtcPortMin,
      portCount: opts.rtcPortMax - opts.rtcPortMin + 1,
    },
    (events) => sessions?.onEngineEvents(events),
  );
  sessions = new SessionManager(engine, opts.announcedIps, log);
  const sm = sessions;
  const app = buildApp({ sessions: sm, log, maxBodyBytes: opts.maxBodyBytes });
  let listenSocket: us_listen_socket | undefined;
  let closed = false;

  const relay: Relay = {
    options: opts,
    listen() {
      return new Promise((resolve, reject) => {
        app.listen(opts.host, opts.port, (token) => {
          if (!token) {
            reject(new Error(`could not listen on ${opts.host}:${opts.port} (in use or not permitted)`));
            return;
          }
          listenSocket = token;
          const port = uWS.us_socket_local_port(token);
          log.info({ http: `${opts.host}:${port}`, rtcPorts: engine.ports, announcedIps: opts.announcedIps }, 'halfsec relay listening');
          resolve({ port });
        });
      });
    },
    stats() {
      return { ...sm.counts(), workers: engine.stats().workers };
    },
    async close() {
      if (closed) return;
      closed = true;
      sm.closeAll();
      if (listenSocket) uWS.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
      // Let the close_notify datagrams queued above leave before the workers stop.
      await new Promise((r) => setTimeout(r, 20));
      engine.close();
    },
    on(event, listener) {
      sm.on(event, listener as never);
      return relay;
    },
    off(event, listener) {
      sm.off(event, listener as never);
      return relay;
    },
  };
  return relay;
}
