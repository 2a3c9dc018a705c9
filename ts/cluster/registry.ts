// Where the nodes of a cluster find each other: node records with their load, refreshed by a
// heartbeat and expiring without one, and which node is the origin of each live stream.

export interface NodeRecord {
  id: string;
  /** Public HTTP base URL, e.g. http://203.0.113.7:8080 (no trailing slash). */
  url: string;
  /** Viewers this node takes before the director prefers others. */
  capacity: number;
  viewers: number;
  egressMbps: number;
  /** Fraction of the machine's CPU the process used over the last heartbeat interval (0..1). */
  cpu: number;
  draining: boolean;
  /** Region label ('' = none); older records lack it. */
  region?: string;
  /** Edge pulls this node serves at most (0 = unlimited). */
  maxPulls?: number;
  /** Edge pulls this node serves now (other nodes pulling from it). */
  pullsServed?: number;
  /** The node each connected relayed stream is pulled from, by stream. */
  upstreams?: Record<string, string>;
  /** Relayed streams this node holds for its viewers while their source is gone. */
  held?: string[];
  /** Streams this node carries: published here or pulled. */
  streams: string[];
  /** Wall-clock ms of the heartbeat that wrote this record. */
  at: number;
}

export interface StreamOrigin {
  stream: string;
  node: string;
  url: string;
}

export interface Registry {
  readonly kind: 'memory' | 'redis';
  /** False while the backing store is unreachable (the node then serves its local streams only). */
  healthy(): boolean;
  /** Writes this node's record and refreshes its origin streams; both expire after `ttlMs`. */
  heartbeat(self: NodeRecord, origins: string[], ttlMs: number): Promise<void>;
  /** Records (or clears) this node as the origin of `stream`. */
  setOrigin(stream: string, self: NodeRecord, ttlMs: number): Promise<void>;
  clearOrigin(stream: string, nodeId: string): Promise<void>;
  /** Removes this node's record at once (clean shutdown). */
  deregister(nodeId: string): Promise<void>;
  nodes(): Promise<NodeRecord[]>;
  origin(stream: string): Promise<StreamOrigin | undefined>;
  close(): Promise<void>;
}

/** One node, nothing to install: the registry is this process's own memory. */
export class MemoryRegistry implements Registry {
  readonly kind = 'memory' as const;
  private readonly nodeMap = new Map<string, { rec: NodeRecord; expires: number }>();
  private readonly origins = new Map<string, { origin: StreamOrigin; expires: number }>();

  healthy(): boolean {
    return true;
  }

  async heartbeat(self: NodeRecord, origins: string[], ttlMs: number): Promise<void> {
    const expires = Date.now() + ttlMs;
    this.nodeMap.set(self.id, { rec: self, expires });
    for (const stream of origins) this.origins.set(stream, { origin: { stream, node: self.id, url: self.url }, expires });
  }

  async setOrigin(stream: string, self: NodeRecord, ttlMs: number): Promise<void> {
    this.origins.set(stream, { origin: { stream, node: self.id, url: self.url }, expires: Date.now() + ttlMs });
  }

  async clearOrigin(stream: string, nodeId: string): Promise<void> {
    if (this.origins.get(stream)?.origin.node === nodeId) this.origins.delete(stream);
  }

  async deregister(nodeId: string): Promise<void> {
    this.nodeMap.delete(nodeId);
  }

  async nodes(): Promise<NodeRecord[]> {
    const now = Date.now();
    return [...this.nodeMap.values()].filter((n) => n.expires > now).map((n) => n.rec);
  }

  async origin(stream: string): Promise<StreamOrigin | undefined> {
    const o = this.origins.get(stream);
    return o && o.expires > Date.now() ? o.origin : undefined;
  }

  async close(): Promise<void> {}
}
