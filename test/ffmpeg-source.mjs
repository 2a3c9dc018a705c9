// FFmpeg as a test encoder: a lavfi source encoded the way the ingest docs recommend, in a
// process group of its own that the test's teardown kills.
import { spawn } from 'node:child_process';
import { killTimeoutGroup } from './netns.mjs';

/** H.264 as a low-latency encoder sends it: no B-frames, a keyframe a second at 30 fps. */
export const X264_LOW_LATENCY = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', '30', '-pix_fmt', 'yuv420p'];

/**
 * Runs `ffmpeg -hide_banner -loglevel error args` (SIGKILLed `seconds` + 10 s after start at the
 * latest). Returns { p, exited (its exit code), stderr }.
 */
export function ffmpegSource(t, args, seconds) {
  const p = spawn('timeout', ['-s', 'KILL', String(seconds + 10), 'ffmpeg', '-hide_banner', '-loglevel', 'error', ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => p.on('exit', (code) => r(code)));
  t.teardown(() => killTimeoutGroup(p));
  return { p, exited, get stderr() { return stderr; } };
}
