#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createRelay } from './relay.js';
import { DEFAULTS } from './options.js';
import type { RelayOptions } from './options.js';

const HELP = `halfsec serve [options]   start a relay (WHIP in, WHEP out)

  --host <ip>             HTTP listen address            (default ${DEFAULTS.host})
  --port <n>              HTTP port                      (default ${DEFAULTS.port})
  --rtc-bind <ip>         media UDP bind address         (default ${DEFAULTS.rtcBindAddress})
  --rtc-ports <min-max>   media UDP port range           (default ${DEFAULTS.rtcPortMin}-${DEFAULTS.rtcPortMax})
  --announce-ip <ip>      IP put in ICE candidates; repeat for several
                          (default: the bind address, or every non-internal IPv4 when bound to 0.0.0.0)
  --workers <n>           data-plane threads, 0 = one per core (default 0)
  --log-level <level>     fatal|error|warn|info|debug|trace|silent (default ${DEFAULTS.logLevel})
  -h, --help              this text

Environment: HALFSEC_PORT, HALFSEC_ANNOUNCE_IP (comma-separated) are read when the flags are absent.`;

function fail(msg: string): never {
  process.stderr.write(`halfsec: ${msg}\n\n${HELP}\n`);
  process.exit(2);
}

function toInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) fail(`${name} must be an integer (got "${v}")`);
  return n;
}

async function serve(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'rtc-bind': { type: 'string' },
        'rtc-ports': { type: 'string' },
        'announce-ip': { type: 'string', multiple: true },
        workers: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const opts: RelayOptions = {};
  if (values.host) opts.host = values.host;
  const port = toInt(values.port ?? process.env.HALFSEC_PORT, '--port');
  if (port !== undefined) opts.port = port;
  if (values['rtc-bind']) opts.rtcBindAddress = values['rtc-bind'];
  if (values['rtc-ports']) {
    const m = /^(\d+)-(\d+)$/.exec(values['rtc-ports']);
    if (!m) fail('--rtc-ports must look like 40000-40099');
    opts.rtcPortMin = Number(m[1]);
    opts.rtcPortMax = Number(m[2]);
  }
  const announce = values['announce-ip'] ?? process.env.HALFSEC_ANNOUNCE_IP?.split(',').filter(Boolean);
  if (announce && announce.length > 0) opts.announcedIps = announce;
  const workers = toInt(values.workers, '--workers');
  if (workers !== undefined) opts.workers = workers;
  if (values['log-level']) opts.logLevel = values['log-level'];

  let relay;
  try {
    relay = createRelay(opts);
    await relay.listen();
  } catch (err) {
    process.stderr.write(`halfsec: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const stop = (): void => {
    void relay.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'serve' || cmd === undefined) {
  await serve(rest);
} else if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
  process.stdout.write(`${HELP}\n`);
} else {
  fail(`unknown command "${cmd}"`);
}
