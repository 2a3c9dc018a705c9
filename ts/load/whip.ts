// WHIP/WHEP POST and DELETE for the load generator: node:http with a keep-alive agent. (fetch,
// i.e. undici, cost more of the load generator's JavaScript per join than the rest of a join's
// signaling together in a flash crowd on this machine.)
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

export interface Posted {
  answer: string;
  location: string;
}

/** Kept connections for the POSTs in flight (the bench keeps up to a few hundred at once). */
const agent = new Agent({ keepAlive: true, maxSockets: 512 });
/** Answers are small; a relay sending more than this is not answering an offer. */
const MAX_ANSWER_BYTES = 256 * 1024;

export function postOffer(url: string, sdp: string, timeoutMs = 15000): Promise<Posted> {
  const u = new URL(url);
  if (u.protocol !== 'http:') return postOfferFetch(url, sdp, timeoutMs);
  return new Promise((resolve, reject) => {
    const body = Buffer.from(sdp);
    const req = request(
      { agent, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: 'POST', headers: { 'Content-Type': 'application/sdp', 'Content-Length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) return req.destroy(new Error(`POST ${url}: answer over ${MAX_ANSWER_BYTES} bytes`));
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 201) return reject(new Error(`POST ${url}: ${res.statusCode} ${text.slice(0, 200)}`));
          const loc = res.headers.location;
          resolve({ answer: text, location: loc ? new URL(loc, url).toString() : url });
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`POST ${url}: the answer was cut off`)));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`POST ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function postOfferFetch(url: string, sdp: string, timeoutMs: number): Promise<Posted> {
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
