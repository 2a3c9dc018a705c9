// A local RTSP "camera" for ingest tests: GStreamer's RTSP server (test/peers/rtsp-server.py,
// H.264 + AAC, and video-only / audio-only mounts) in a process group of its own, killed at
// teardown. Its JSON-lines events (ready, client, ...) are collected in the returned array.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

export const hasRtspServer = spawnSync('/usr/bin/python3', ['-c', "import gi; gi.require_version('GstRtspServer','1.0')"]).status === 0;

/** Starts the camera on `port`; returns its events so far (an array), with kill() and stop() (SIGSTOP: a stalled camera). */
export function camera(t, port) {
  const p = spawn('timeout', ['-s', 'KILL', '55', '/usr/bin/python3', new URL('./peers/rtsp-server.py', import.meta.url).pathname, String(port)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const events = [];
  events.kill = () => process.kill(-p.pid, 'SIGKILL');
  events.stop = () => process.kill(-p.pid, 'SIGSTOP');  // teardown's SIGKILL still ends it
  createInterface({ input: p.stdout }).on('line', (l) => {
    try {
      events.push(JSON.parse(l).event);
    } catch {}
  });
  t.teardown(() => {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
  });
  return events;
}
