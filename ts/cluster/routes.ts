// What the HTTP routes (ts/http/routes.ts) ask of the cluster, kept narrow so routes need not know it.
import type { DirectorAnswer, GateResult, ClusterStats } from './node.js';
import type { NodeRecord } from './registry.js';

export interface ClusterRoutes {
  gate(role: 'publisher' | 'viewer', stream: string, headers: Record<string, string | undefined>, sdp: string): Promise<GateResult>;
  director(stream: string, region: string, role: 'viewer' | 'publisher'): Promise<DirectorAnswer | undefined>;
  describe(): Promise<ClusterStats & { nodes: NodeRecord[] }>;
}
