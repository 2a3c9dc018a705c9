// At startup, when any ingest is configured: does the FFmpeg ingest children run exist, and does
// its build have what they use? A relay whose FFmpeg is missing (a slim container image, a
// wrong --ffmpeg-path) would otherwise learn it at the first publisher, which would just see its
// connection close. The relay runs either way; this only says so in the log.
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

export interface FfmpegCheck {
  /** False when FFmpeg could not be run at all (not installed, not executable, timed out). */
  runnable: boolean;
  /** FFmpeg's own version string ("5.1.9-0+deb12u1"), when it ran. */
  version?: string;
  /** What the ingest children need that this build lacks ("protocol rtmp (input)", ...). */
  missing: string[];
  /** Why it could not run. */
  error?: string;
}

/**
 * What the ingest children use: RTMP input (RTMP publishers), the RTSP demuxer (camera pulls),
 * the MPEG-TS demuxer (SRT callers' media), unix datagram output (the ingest peer's socket), the
 * RTP muxer, and libopus (audio to Opus).
 */
const NEEDS = {
  protocols: [['rtmp', 'input'], ['unix', 'output']],
  formats: [['rtsp', 'D'], ['mpegts', 'D'], ['flv', 'D'], ['rtp', 'E']],
  encoders: ['libopus'],
} as const;

// FFmpeg loads ~150 shared libraries before printing anything: seconds on a loaded machine.
const TIMEOUT_MS = 15000;
const MAX_OUTPUT = 1 << 20;

function run(path: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(err);
      else resolve({ stdout, stderr });
    });
  });
}

/** The names listed in one section ("Input:"/"Output:") of `ffmpeg -protocols`. */
function protocolSection(text: string, section: 'input' | 'output'): Set<string> {
  const m = section === 'input' ? /Input:\s*([\s\S]*?)Output:/.exec(text) : /Output:\s*([\s\S]*)$/.exec(text);
  return new Set((m?.[1] ?? '').split(/\s+/).filter(Boolean));
}

/** Runs `ffmpeg -protocols`, `-formats` and `-encoders` (at most 15 s each) and says what is missing. */
export async function checkFfmpeg(path: string): Promise<FfmpegCheck> {
  let outs: [{ stdout: string; stderr: string }, { stdout: string; stderr: string }, { stdout: string; stderr: string }];
  try {
    outs = await Promise.all([run(path, ['-protocols']), run(path, ['-hide_banner', '-formats']), run(path, ['-hide_banner', '-encoders'])]);
  } catch (err) {
    return { runnable: false, missing: [], error: (err as Error).message.split('\n')[0] ?? 'failed' };
  }
  const [protocols, formats, encoders] = outs;
  const version = /version (\S+)/.exec(protocols.stderr)?.[1];
  const missing: string[] = [];
  for (const [name, section] of NEEDS.protocols) {
    if (!protocolSection(protocols.stdout, section).has(name)) missing.push(`protocol ${name} (${section})`);
  }
  for (const [name, flag] of NEEDS.formats) {
    // Lines like " DE rtsp            RTSP output": the flags, then the names (comma-separated).
    const ok = formats.stdout.split('\n').some((l) => {
      const m = /^\s*([D ][E ])\s+(\S+)/.exec(l);
      return m !== null && m[1]!.includes(flag) && m[2]!.split(',').includes(name);
    });
    if (!ok) missing.push(`${flag === 'D' ? 'demuxer' : 'muxer'} ${name}`);
  }
  for (const name of NEEDS.encoders) {
    if (!new RegExp(`^\\s*\\S{6}\\s+${name}\\s`, 'm').test(encoders.stdout)) missing.push(`encoder ${name}`);
  }
  return { runnable: true, ...(version !== undefined ? { version } : {}), missing };
}

/** Logs the check's outcome: info when FFmpeg has everything, an error naming what it lacks. */
export async function logFfmpegCheck(path: string, log: Logger): Promise<FfmpegCheck> {
  const c = await checkFfmpeg(path);
  if (!c.runnable) log.error({ ffmpeg: path, reason: c.error }, 'ingest unavailable: FFmpeg could not run (Debian: apt-get install ffmpeg, or set --ffmpeg-path); RTMP, SRT and RTSP streams cannot start');
  else if (c.missing.length > 0) log.error({ ffmpeg: path, version: c.version, missing: c.missing }, 'ingest: this FFmpeg build lacks what ingest children use; those ingests will fail');
  else log.info({ ffmpeg: path, version: c.version }, 'ingest: FFmpeg available');
  return c;
}
