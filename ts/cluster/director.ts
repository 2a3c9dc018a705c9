// Where a new viewer (or an edge's pull) should go, from the registry's load figures, the nodes'
// regions and their pull budgets.
import type { NodeRecord, StreamOrigin } from './registry.js';

/** Below this fraction of its capacity a node carrying the stream is preferred over the rest. */
export const HEADROOM = 0.8;
/** Distance of a region pair the table does not list: farther than any listed one. */
export const UNLISTED_DISTANCE = 1e9;

export const loadOf = (n: NodeRecord): number => (n.capacity > 0 ? n.viewers / n.capacity : 1);

/** Symmetric region distances; the same region is 0. */
export type RegionDistances = ReadonlyMap<string, number>;

const pairKey = (a: string, b: string): string => (a < b ? `${a}\n${b}` : `${b}\n${a}`);

/** Parses "eu-us=80,eu-ap=200" (validated by the options schema) into a table. */
export function parseRegionDistances(text: string): RegionDistances {
  const table = new Map<string, number>();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^-=]+)-([^=]+)=(\d+)$/.exec(item);
    if (m) table.set(pairKey(m[1]!, m[2]!), Number(m[3]));
  }
  return table;
}

export function regionDistance(table: RegionDistances, a: string, b: string): number {
  if (a === b) return 0;
  return table.get(pairKey(a, b)) ?? UNLISTED_DISTANCE;
}

const regionOf = (n: NodeRecord): string => n.region ?? '';
/** The node serves fewer edge pulls than its budget (records without a budget: unlimited). */
export const hasPullRoom = (n: NodeRecord): boolean => !n.maxPulls || (n.pullsServed ?? 0) < n.maxPulls;

function leastLoaded(list: NodeRecord[]): NodeRecord | undefined {
  // Ties go by id, so every node's director answers alike for the same registry contents.
  return [...list].sort((a, b) => loadOf(a) - loadOf(b) || a.id.localeCompare(b.id))[0];
}

/**
 * Where a viewer in `region` should watch `stream`. Draining nodes take no one. By region
 * distance, nearest first; within one distance: the least loaded node that already carries the
 * stream while it has headroom (no new pull needed), else the least loaded below capacity.
 * When no node anywhere is below capacity: the least loaded. Undefined when no node is usable.
 */
export function chooseViewerNode(nodes: NodeRecord[], stream: string, region = '', table: RegionDistances = new Map()): NodeRecord | undefined {
  const live = nodes.filter((n) => !n.draining);
  const distances = [...new Set(live.map((n) => regionDistance(table, region, regionOf(n))))].sort((a, b) => a - b);
  for (const d of distances) {
    const here = live.filter((n) => regionDistance(table, region, regionOf(n)) === d);
    const pick = leastLoaded(here.filter((n) => n.streams.includes(stream) && loadOf(n) < HEADROOM)) ?? leastLoaded(here.filter((n) => loadOf(n) < 1));
    if (pick) return pick;
  }
  return leastLoaded(live);
}

/**
 * The relays an edge in `region` may pull `stream` from, best first. Candidates: the origin and
 * every node already carrying the stream that is not on the pull's path (`exclude`) and not
 * draining. Nodes with pull budget and capacity left come first, by region distance, the origin
 * before other nodes of the same distance (so the origin takes the first `maxPulls` edges and
 * later ones pull from those: a tree), then fewer pulls served, then load. Nodes whose record
 * says they are full follow (records lag; the node itself has the last word, answering 503).
 */
export function upstreamCandidates(nodes: NodeRecord[], origin: StreamOrigin, exclude: ReadonlySet<string>, region = '', table: RegionDistances = new Map()): { id: string; url: string }[] {
  const originRec = nodes.find((n) => n.id === origin.node);
  const depth = new Map<string, number>();
  for (const n of nodes) {
    if (n.id === origin.node || exclude.has(n.id) || n.draining || !n.streams.includes(origin.stream)) continue;
    const d = hopsFromOrigin(nodes, n, origin, exclude);
    if (d > 0) depth.set(n.id, d);
  }
  const carriers = nodes.filter((n) => depth.has(n.id));
  const list = originRec ? [originRec, ...carriers] : carriers;
  // Shallower first: the origin, then nodes pulling from it, and so on (each hop adds latency).
  const rank = (n: NodeRecord): number[] => [
    hasPullRoom(n) && loadOf(n) < 1 ? 0 : 1,
    regionDistance(table, region, regionOf(n)),
    n.id === origin.node ? 0 : (depth.get(n.id) ?? 9),
    n.pullsServed ?? 0,
    loadOf(n),
  ];
  const ranked = list
    .map((n) => ({ n, r: rank(n) }))
    .sort((a, b) => {
      for (let i = 0; i < a.r.length; i++) if (a.r[i] !== b.r[i]) return a.r[i]! - b.r[i]!;
      return a.n.id.localeCompare(b.n.id);
    })
    .map(({ n }) => ({ id: n.id, url: n.url }));
  // The registry may not list the origin's node record yet (or any more): its stream record names it.
  if (!originRec && !exclude.has(origin.node)) ranked.push({ id: origin.node, url: origin.url });
  return ranked;
}

/**
 * How many pulls `n`'s copy of the stream is from the origin, following the chain of upstreams
 * in the records; 0 when it is not fed from the origin: the chain passes a node in `exclude`
 * (a loop: a node below us, still connected to us while our own source is lost), a node that
 * holds the stream without a source, or one that left the registry.
 */
function hopsFromOrigin(nodes: NodeRecord[], n: NodeRecord, origin: StreamOrigin, exclude: ReadonlySet<string>): number {
  const byId = new Map(nodes.map((x) => [x.id, x]));
  let at: NodeRecord | undefined = n;
  for (let hops = 0; hops <= 8 && at; hops++) {
    if (at.id === origin.node) return hops;
    // Records from before upstreams were published: trust the stream list, depth unknown.
    if (at.upstreams === undefined) return 8;
    const up: string | undefined = at.upstreams[origin.stream];
    if (!up || exclude.has(up)) return 0;
    at = byId.get(up);
    if (at && (at.held ?? []).includes(origin.stream)) return 0;
  }
  return 0;
}
