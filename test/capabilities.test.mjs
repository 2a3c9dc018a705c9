// Session resources are capabilities (issue: no one can take a stream down): with the default
// configuration, a client that is not on loopback learns no session id from any route, and ends
// no session it was not given the resource URL of. The probe runs in a network namespace of its
// own with a documentation address (198.51.100.1) on one end of a veth pair, so the "outsider" is a
// real non-loopback TCP peer without any traffic leaving the machine.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const canUnshare = (() => {
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

(canUnshare ? test : test.skip)('default config: no session id leaks off loopback, and no DELETE without the resource URL ends a session', (t) => {
  const script = `ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 198.51.100.1/24 dev v0 && ip link set v0 up && ip link set v1 up && exec ${process.execPath} ${here}peers/capability-probe.mjs 198.51.100.1`;
  const r = spawnSync('timeout', ['-s', 'KILL', '40', 'unshare', '-n', '--', 'bash', '-c', script], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
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
