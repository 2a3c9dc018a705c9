// Session resources are capabilities (issue: no one can take a stream down): with the default
// configuration, a client that is not on loopback learns no session id from any route, and ends
// no session it was not given the resource URL of. The probe runs in a veth network namespace
// (test/netns.mjs), so the "outsider" is a real TCP peer from a documentation address.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable, runInNetns, VETH_ADDR } from './netns.mjs';

const probe = fileURLToPath(new URL('./peers/capability-probe.mjs', import.meta.url));
const why = netnsUnavailable();
if (why) test('capability tests are skipped', (t) => t.log(why) || t.pass());

(why ? test.skip : test)('default config: no session id leaks off loopback, and no DELETE without the resource URL ends a session', async (t) => {
  const r = await runInNetns(process.execPath, [probe, VETH_ADDR], { veth: true, limitSec: 40 });
  t.is(r.code, 0, r.stderr);
  const out = r.messages.at(-1);
  for (const [path, s] of Object.entries(out.seen)) t.false(s.leaks, `${path} (${s.status}) shows a session id to a non-loopback client`);
  t.is(out.seen['/api/streams'].status, 200, 'the stream list stays open');
  t.is(out.seen['/api/streams/cam'].status, 200, 'a stream summary stays open');
  t.is(out.seen['/api/stats'].status, 403);
  t.false(out.wsLeaks, 'WebSocket frames name no session but the connection\'s own');
  t.deepEqual(out.deletes, [404, 404, 404, 404]);
  t.is(out.alive, 3, 'publisher, WHEP viewer and WebSocket viewer all still there');
  t.true(out.adminSeesIds, 'an operator on loopback still sees session ids');
  t.is(out.ownDelete, 200, 'the resource URL ends its own session');
  t.is(out.after, 2);
});
