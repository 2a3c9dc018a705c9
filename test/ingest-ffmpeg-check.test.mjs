// The startup check of the FFmpeg ingest children run (ts/ingest/ffmpeg-check.ts): Debian's
// FFmpeg has everything they use; a missing one says so; a build lacking RTMP input and libopus
// is named precisely. That last FFmpeg is a shell script printing a trimmed listing (no such
// FFmpeg build can be installed here next to Debian's); the other two cases run the real thing.
import test from 'ava';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFfmpeg, logFfmpegCheck } from '../dist/ingest/ffmpeg-check.js';

test('Debian\'s FFmpeg: runnable, its version read, nothing ingest uses missing', async (t) => {
  const c = await checkFfmpeg('ffmpeg');
  t.log(`loadavg ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
  t.true(c.runnable, c.error);
  t.regex(c.version ?? '', /^\d+\.\d+/);
  t.deepEqual(c.missing, []);
});

test('no FFmpeg at the path: logged as an error naming the fix, not thrown', async (t) => {
  const errors = [];
  const log = { error: (o, msg) => errors.push({ ...o, msg }), info() {} };
  const c = await logFfmpegCheck('/nonexistent/ffmpeg', log);
  t.false(c.runnable);
  t.is(errors.length, 1);
  t.regex(errors[0].msg, /ingest unavailable: FFmpeg could not run .*apt-get install ffmpeg.*--ffmpeg-path/);
  t.regex(errors[0].reason, /ENOENT/);
});

test('an FFmpeg build without RTMP input or libopus: each missing part named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'halfsec-ffcheck-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fake = join(dir, 'ffmpeg');
  writeFileSync(fake, `#!/bin/sh
case "$1" in
  -protocols) echo "ffmpeg version 9.9-trimmed Copyright" >&2; printf 'Supported file protocols:\\nInput:\\n  file\\n  tcp\\nOutput:\\n  file\\n  unix\\n' ;;
esac
case "$2" in
  -formats) printf 'File formats:\\n --\\n D  flv             FLV\\n D  mpegts          MPEG-TS\\n DE rtsp            RTSP output\\n DE rtp             RTP output\\n' ;;
  -encoders) printf 'Encoders:\\n ------\\n A..... opus                 Opus\\n' ;;
esac
`);
  chmodSync(fake, 0o755);
  const errors = [];
  const log = { error: (o, msg) => errors.push({ ...o, msg }), info() {} };
  const c = await logFfmpegCheck(fake, log);
  t.true(c.runnable);
  t.is(c.version, '9.9-trimmed');
  t.deepEqual(c.missing, ['protocol rtmp (input)', 'encoder libopus']);
  t.regex(errors[0]?.msg ?? '', /lacks what ingest children use/);
});
