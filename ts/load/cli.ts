#!/usr/bin/env node
// `halfsec load`: drives a relay with native (or node-datachannel) viewers and an optional
// native publisher, then prints what arrived. Hook for ts/cli.ts: `if (cmd === 'load') await runLoad(rest)`.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadRun, formatSummary } from './run.js';
import type { LoadConfig } from './run.js';

const HELP = `halfsec load [options]   load a relay with WHEP viewers (and a WHIP publisher)

  --url <url>            relay HTTP base URL               (default http://127.0.0.1:8080)
  --stream <name>        stream name                       (default bench)
  --viewers <n>          viewers to join                   (default 100, at most 64000)
  --seconds <s>          measured window after joining     (default 10, at most 3600)
  --rate-kbps <n>        publisher bitrate                 (default 2500 ≈ 260 packets/s)
  --fps <n>              publisher frame rate              (default 30)
  --packet-size <n>      RTP packet size, bytes            (default 1200)
  --publish              also run the native publisher (else the stream must be live)
  --hold                 the publisher holds its media until every viewer has joined
  --burst                the publisher sends each frame's packets back to back (unpaced encoders)
  --keyframe-on-request  the publisher answers PLI/FIR with an IDR, as encoders do (default: ignores)
  --peer native|datachannel   viewer implementation        (default native)
  --concurrency <n>      WHEP POSTs in flight              (default 20)
  --threads <n>          native viewer threads             (default 1)
  --json                 print a JSON summary instead of the table
  -h, --help             this text

Every address is on loopback (127.0.0.0/8); the run stops by itself.`;

function intFlag(v: string | undefined, name: string, dflt: number, lo: number, hi: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${name} must be an integer in ${lo}..${hi} (got "${v}")`);
  return n;
}

/** Runs `halfsec load`; resolves with the process exit code. */
export async function runLoad(argv: string[]): Promise<number> {
  let cfg: LoadConfig;
  let seconds: number;
  let json: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        stream: { type: 'string' },
        viewers: { type: 'string' },
        seconds: { type: 'string' },
        'rate-kbps': { type: 'string' },
        fps: { type: 'string' },
        'packet-size': { type: 'string' },
        publish: { type: 'boolean' },
        hold: { type: 'boolean' },
        burst: { type: 'boolean' },
        'keyframe-on-request': { type: 'boolean' },
        peer: { type: 'string' },
        concurrency: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    const peer = values.peer ?? 'native';
    if (peer !== 'native' && peer !== 'datachannel') throw new Error('--peer must be native or datachannel');
    const url = (values.url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    const host = new URL(url).hostname;
    if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') throw new Error('--url must point at a loopback address (127.0.0.0/8)');
    seconds = intFlag(values.seconds, '--seconds', 10, 1, 3600);
    json = values.json ?? false;
    const tty = process.stderr.isTTY;
    let last = 0;
    cfg = {
      url,
      stream: values.stream ?? 'bench',
      viewers: intFlag(values.viewers, '--viewers', 100, 1, 64000),
      rateKbps: intFlag(values['rate-kbps'], '--rate-kbps', 2500, 1, 1000000),
      fps: intFlag(values.fps, '--fps', 30, 1, 240),
      packetSize: intFlag(values['packet-size'], '--packet-size', 1200, 28, 1400),
      publish: values.publish ?? false,
      burst: values.burst ?? false,
      keyframeOnRequest: values['keyframe-on-request'] ?? false,
      holdWhileJoining: values.hold ?? false,
      peer,
      concurrency: intFlag(values.concurrency, '--concurrency', 20, 1, 500),
      threads: intFlag(values.threads, '--threads', 1, 1, 16),
      joinTimeoutMs: 30000,
      onProgress: (line) => {
        if (tty) {
          process.stderr.write(`\r\x1b[K${line}`);
        } else if (line && Date.now() - last > 2000) {
          last = Date.now();
          process.stderr.write(`${line}\n`);
        }
      },
    };
  } catch (err) {
    process.stderr.write(`halfsec load: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  let run: LoadRun | undefined;
  try {
    run = await LoadRun.start(cfg);
    await run.joinAll();
    const [a, b] = await run.window(seconds);
    const summary = run.summarize(a, b);
    process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
    return summary.viewers.joined > 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`\nhalfsec load: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await run?.close(true);
  }
}

const invokedDirectly = ((): boolean => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (invokedDirectly) {
  const code = await runLoad(process.argv.slice(2));
  process.exit(code);
}
