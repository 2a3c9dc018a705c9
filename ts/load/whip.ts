// WHIP/WHEP POST and DELETE for the load generator (node's fetch, keep-alive).
import { randomBytes } from 'node:crypto';

export interface Posted {
  answer: string;
  location: string;
}

export async function postOffer(url: string, sdp: string, timeoutMs = 15000): Promise<Posted> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: sdp,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${body.slice(0, 200)}`);
  const loc = res.headers.get('location');
  return { answer: body, location: loc ? new URL(loc, url).toString() : url };
}

export async function deleteSession(location: string): Promise<void> {
  try {
    await fetch(location, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
  } catch {
    // Best effort: the relay also drops the peer on DTLS close_notify or consent expiry.
  }
}

export function iceCredentials(): { ufrag: string; pwd: string } {
  return { ufrag: randomBytes(4).toString('hex'), pwd: randomBytes(12).toString('hex') };
}

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
export async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}
