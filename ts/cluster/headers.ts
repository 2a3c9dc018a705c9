// Headers a relay puts on the WHEP request of a pull, so the upstream can tell pulls from
// viewers and refuse one that would close a loop.

/** Comma-separated ids of the nodes a pull has passed through, the requesting node last. */
export const PATH_HEADER = 'x-halfsec-path';
/**
 * `simulcast` on a pull: send every simulcast layer on its own SSRC (the answer lists them),
 * not the one layer a viewer gets. Only honoured on a pull (with the path header).
 */
export const LAYERS_HEADER = 'x-halfsec-layers';
/** Deeper trees than this are refused: each hop adds latency, and a longer path means a bug. */
export const MAX_HOPS = 8;

export function parsePath(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[A-Za-z0-9_.-]{1,64}$/.test(s))
    .slice(0, MAX_HOPS + 1);
}
