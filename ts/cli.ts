#!/usr/bin/env node
import { ConfigError, loadConfig, renderHelp, renderMarkdownTable } from './ops/config.js';
import type { Relay } from './relay.js';

const USAGE = `halfsec serve [options]     start a relay (halfsec serve --help lists the options)
halfsec load [options]      load generator: native WebRTC viewers (and publisher) against a relay
halfsec config-table        print the README's configuration table (Markdown)`;

/** Exit code 2 means "fix your command line or configuration"; 1 means the relay could not start. */
function configFailure(lines: string[]): never {
  process.stderr.write(`halfsec: invalid configuration\n${lines.map((l) => `  ${l}`).join('\n')}\n\nRun "halfsec serve --help" for the options.\n`);
  process.exit(2);
}

async function serve(argv: string[]): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) configFailure(err.issues);
    throw err;
  }
  if (loaded.help) {
    process.stdout.write(`${renderHelp()}\n`);
    return;
  }
  let relay: Relay;
  try {
    // Loaded only now: a configuration error is reported without loading the native addon.
    const { createRelay } = await import('./relay.js');
    relay = createRelay(loaded.options);
    await relay.listen();
  } catch (err) {
    process.stderr.write(`halfsec: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const stop = (): void => {
    void relay.close().then(() => process.exit(0));
  };
  // SIGTERM (what orchestrators send before a kill): drain, so viewers finish or move on.
  const drain = (): void => {
    process.once('SIGTERM', stop);
    void relay.drain().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', drain);
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'serve' || cmd === undefined || (cmd.startsWith('--') && cmd !== '--help')) {
  await serve(cmd === 'serve' || cmd === undefined ? rest : [cmd, ...rest]);
} else if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
  process.stdout.write(`${USAGE}\n\n${renderHelp()}\n`);
} else if (cmd === 'load') {
  // The load generator lives apart: it loads only when asked for.
  process.exit(await (await import('./load/cli.js')).runLoad(rest));
} else if (cmd === 'config-table') {
  process.stdout.write(`${renderMarkdownTable()}\n`);
} else {
  process.stderr.write(`halfsec: unknown command "${cmd}"\n\n${USAGE}\n`);
  process.exit(2);
}
