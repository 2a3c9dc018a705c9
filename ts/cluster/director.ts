// Where a new viewer (or an edge's pull) should go, from the registry's load figures.
import type { NodeRecord, StreamOrigin } from './registry.js';

/** Below this fraction of its capacity a node carrying the stream is preferred over the rest. */
export const HEADROOM = 0.8;

export const loadOf = (n: NodeRecord): number => (n.capacity > 0 ? n.viewers / n.capacity : 1);

function leastLoaded(list: NodeRecord[]): NodeRecord | undefined {
  // Ties go by id, so every node's director answers alike for the same registry contents.
  return [...list].sort((a, b) => loadOf(a) - loadOf(b) || a.id.localeCompare(b.id))[0];
}

/**
 * The least loaded node that already carries `stream` while it has headroom (no new pull
 * needed), else the least loaded node below capacity, else the least loaded one. Draining
 * nodes take no one. Undefined when no node is usable.
 */
export function chooseViewerNode(nodes: NodeRecord[], stream: string): NodeRecord | undefined {
  const live = nodes.filter((n) => !n.draining);
  return (
    leastLoaded(live.filter((n) => n.streams.includes(stream) && loadOf(n) < HEADROOM)) ??
    leastLoaded(live.filter((n) => loadOf(n) < 1)) ??
    leastLoaded(live)
  );
}

/**
 * Which relay an edge pulls `stream` from: the origin while it is below capacity, else the
 * least loaded node already carrying it (a tree) that is not on the pull's path.
 */
export function chooseUpstream(nodes: NodeRecord[], origin: StreamOrigin, exclude: ReadonlySet<string>): { id: string; url: string } {
  const rec = nodes.find((n) => n.id === origin.node);
  if (!rec || loadOf(rec) < 1) return { id: origin.node, url: origin.url };
  const carriers = nodes.filter((n) => n.id !== origin.node && !exclude.has(n.id) && !n.draining && n.streams.includes(origin.stream) && loadOf(n) < 1);
  const best = leastLoaded(carriers);
  return best ? { id: best.id, url: best.url } : { id: origin.node, url: origin.url };
}
