// A Chromium publisher behind a bottleneck (tc htb on the UDP toward the relay's media ports), allowed 8 Mbit/s, with the relay's ceiling far above (20 Mbit/s). Only the relay's
// transport-cc feedback tells Chromium's estimator where the path ends. Run by
// test/publish-bitrate.test.mjs inside a network namespace holding only lo:
//   node publisher-limited-run.mjs <kbit/s> <seconds> [remb]
// Prints JSON lines: {event: 'sample', ...} each second, then {event: 'done'} or {event: 'error'}.
import { spawnSync } from 'node:child_process';
import { createRelay } from '../../dist/index.js';
import { startNetnsRelay } from '../netns.mjs';
import { launchChromium } from '../browser-helpers.mjs';
import { publishNoise, senderView } from '../publish-noise.mjs';
import { say, sleep, watchdog } from './runner.mjs';

watchdog(70_000);

const kbps = Number(process.argv[2] ?? 2500);
const seconds = Number(process.argv[3] ?? 20);
// 'remb': the answer's transport-cc lines are dropped in the page, for a comparison by hand.
const rembOnly = process.argv[4] === 'remb';
const PORT_MIN = 42432; // 16-aligned: one u32 match covers the relay's media ports
const TC = '/usr/sbin/tc';

function tc(...args) {
  const r = spawnSync(TC, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tc ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const { relay, base } = await startNetnsRelay(createRelay, '127.0.0.1', PORT_MIN, { workers: 1, rtcTcpPort: 0 });
let chromium;
try {
  // UDP to the relay's media ports goes through an HTB class at the link rate with a ~200 ms
  // byte FIFO (the publisher's uplink); everything else on lo is unlimited.
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '100000');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', `${kbps}kbit`, 'ceil', `${kbps}kbit`, 'burst', '20kb');
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'bfifo', 'limit', String(Math.round((kbps * 1000) / 8 / 5)));
  tc('filter', 'add', 'dev', 'lo', 'protocol', 'ip', 'parent', '1:0', 'prio', '1', 'u32', 'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', String(PORT_MIN), '0xfff0', 'flowid', '1:20');
  chromium = await launchChromium({ limitMs: 65_000 });
  const context = await chromium.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const pub = await page.evaluate(publishNoise, { stream: 'limited', maxBitrate: 8_000_000, stripTransportCc: rembOnly });
  if (pub.status !== 201) throw new Error(`publish: ${pub.status} ${pub.answer}`);
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const detail = await (await fetch(`${base}/api/streams/limited`)).json();
    const stats = relay.stats();
    say({ event: 'sample', relayKbps: detail.bitrate?.layers[0]?.kbps ?? 0, chromium: await page.evaluate(senderView), nacksSent: stats.workers.reduce((a, w) => a + w.nacksSent, 0), feedback: stats.workers.reduce((a, w) => a + w.transportCcSent, 0) });
  }
  say({ event: 'done', link: tc('-s', 'class', 'show', 'dev', 'lo', 'classid', '1:20') });
} catch (err) {
  say({ event: 'error', error: String(err?.stack ?? err) });
} finally {
  await chromium?.close();
  await relay.close();
  process.exit(0);
}
