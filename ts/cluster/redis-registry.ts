// The registry on Redis (ioredis). Node records and stream origins are keys with a TTL, so a
// node that dies without deregistering disappears when its heartbeat stops. Redis being down is
// a degraded mode, not an error: calls reject quickly (no offline queue), the caller carries on
// with its local streams, and ioredis keeps reconnecting.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { NodeRecord, Registry, StreamOrigin } from './registry.js';

const NODE = (id: string): string => `halfsec:node:${id}`;
const STREAM = (name: string): string => `halfsec:stream:${name}`;
/** Index of node ids, scored by when their record expires, so listing needs no SCAN. */
const NODES = 'halfsec:nodes';

// Deletes a stream's origin only if it is still ours: a publisher that moved to another node
// must not be erased by the old node's late cleanup.
const CLEAR_IF_OURS = `local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v).node == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export type RedisTarget = { url: string } | { sentinels: string[]; name: string };

/** "host:port" (or "[v6]:port") as ioredis wants it. */
function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

export class RedisRegistry implements Registry {
  readonly kind = 'redis' as const;
  private readonly redis: Redis;
  private everUp = false;
  private downLogged = false;
  private closing = false;

  /**
   * `target`: one server (`url`, redis:// or rediss://, credentials allowed), or Redis Sentinel
   * (`sentinels` host:port list and the monitored `name`): then ioredis asks the sentinels for the
   * primary, follows their +switch-master at once, and asks again whenever its connection drops,
   * so a failover of the primary costs the registry a few failed calls, never the media.
   */
  constructor(target: RedisTarget, private readonly log: Logger) {
    const common = {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      // Keep trying for as long as the node runs, at most every 2 s.
      retryStrategy: (times: number) => Math.min(100 * times, 2000),
    };
    const url = 'url' in target ? target.url : `sentinel://${target.sentinels.join(',')}/${target.name}`;
    this.redis =
      'url' in target
        ? new Redis(target.url, common)
        : new Redis({
            ...common,
            sentinels: target.sentinels.map(hostPort),
            name: target.name,
            sentinelRetryStrategy: (times: number) => Math.min(100 * times, 2000),
            failoverDetector: true,
          });
    this.redis.on('ready', () => {
      this.log.info({ redis: redact(url) }, this.everUp ? 'redis reconnected: cluster registry back' : 'redis connected: cluster registry up');
      this.everUp = true;
      this.downLogged = false;
    });
    // ioredis stops for good (status 'end') when a connect attempt is cut short: its failover
    // detector's disconnect on +switch-master lands while a reconnect (after the old primary
    // died) is still asking the sentinels, a race seen after about one Sentinel failover in five
    // in the 7-node tree test. Its retryStrategy never ends it otherwise: start it again.
    this.redis.on('end', () => {
      if (this.closing) return;
      this.log.warn({ redis: redact(url) }, 'redis client stopped reconnecting; starting it again');
      const again = setTimeout(() => void this.redis.connect().catch(() => undefined), 500);
      again.unref();
    });
    this.redis.on('error', (err: Error) => {
      // Said once per outage, not once per reconnect attempt.
      if (this.downLogged) return;
      this.downLogged = true;
      this.log.error({ redis: redact(url), err: err.message }, 'redis unavailable: cluster registry degraded, serving local streams only; retrying');
    });
  }

  healthy(): boolean {
    // The connection's own state: an 'error' may also come from a sentinel connection (the
    // failover detector's) while the connection to the primary is ready.
    return this.redis.status === 'ready';
  }

  async heartbeat(self: NodeRecord, origins: string[], ttlMs: number): Promise<void> {
    const m = this.redis.multi();
    m.set(NODE(self.id), JSON.stringify(self), 'PX', ttlMs);
    m.zadd(NODES, Date.now() + ttlMs, self.id);
    // Ids whose records expired long ago leave the index (their keys are gone already).
    m.zremrangebyscore(NODES, '-inf', Date.now() - 60_000);
    for (const s of origins) m.set(STREAM(s), JSON.stringify({ node: self.id, url: self.url }), 'PX', ttlMs);
    await m.exec();
  }

  async setOrigin(stream: string, self: NodeRecord, ttlMs: number): Promise<void> {
    await this.redis.set(STREAM(stream), JSON.stringify({ node: self.id, url: self.url }), 'PX', ttlMs);
  }

  async clearOrigin(stream: string, nodeId: string): Promise<void> {
    await this.redis.eval(CLEAR_IF_OURS, 1, STREAM(stream), nodeId);
  }

  async deregister(nodeId: string): Promise<void> {
    await this.redis.multi().del(NODE(nodeId)).zrem(NODES, nodeId).exec();
  }

  async nodes(): Promise<NodeRecord[]> {
    const ids = await this.redis.zrangebyscore(NODES, Date.now() - 60_000, '+inf');
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map(NODE));
    const out: NodeRecord[] = [];
    for (const v of values) {
      const rec = v ? parseJson<NodeRecord>(v) : undefined;
      if (rec && typeof rec.id === 'string' && typeof rec.url === 'string') out.push(rec);
    }
    return out;
  }

  async origin(stream: string): Promise<StreamOrigin | undefined> {
    const v = await this.redis.get(STREAM(stream));
    const o = v ? parseJson<{ node: string; url: string }>(v) : undefined;
    return o && typeof o.node === 'string' && typeof o.url === 'string' ? { stream, node: o.node, url: o.url } : undefined;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.redis.disconnect();
  }
}

function parseJson<T>(s: string): T | undefined {
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}

/** A Redis URL without its password, for logs. */
function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
