// What the HTTP routes (ts/http/routes.ts) ask of the cluster, kept narrow so routes need not know it.
import type { DirectorAnswer, GateResult, ClusterStats } from './node.js';
import type { NodeRecord } from './registry.js';

export interface ClusterRoutes {
  /**
   * True when this node checks pull credentials (a cluster secret is set): the gate then verifies a
   * pull before pulling anything, and a verified pull needs no view token. False: a pull is a
   * viewer like any other, whose view token is checked before the gate.
   */
  readonly verifiesPulls: boolean;
  gate(role: 'publisher' | 'viewer', stream: string, headers: Record<string, string | undefined>, sdp: string): Promise<GateResult>;
  director(stream: string, region: string, role: 'viewer' | 'publisher'): Promise<DirectorAnswer | undefined>;
  describe(): Promise<ClusterStats & { nodes: NodeRecord[] }>;
}
