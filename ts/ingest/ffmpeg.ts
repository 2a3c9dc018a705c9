// The FFmpeg side of an ingest: the arguments that turn a child's input (an RTMP, SRT or RTSP
// source, or anything FFmpeg reads) into plain RTP on the relay's local ingest socket, and the
// codecs the resulting stream announces to viewers.
import type { Codec } from '../media/sdp.js';
import type { StreamCodecs } from '../media/streams.js';

/** Payload types on the ingest socket (the data plane maps them; viewers get their own). */
export const INGEST_VIDEO_PT = 102;
export const INGEST_AUDIO_PT = 111;
/** RTP payloads stay under a 1200-byte datagram, as WebRTC's path MTU assumption wants. */
const PACKET_SIZE = 1200;

export interface IngestKinds {
  video: boolean;
  audio: boolean;
}

export interface OutputOptions {
  /** The ingest peer's AF_UNIX datagram socket. */
  path: string;
  videoSsrc: number;
  audioSsrc: number;
  kinds: IngestKinds;
  /**
   * Re-encode video with libx264 (no B-frames, a keyframe every `keyframeIntervalSec`) instead
   * of passing the source's H.264 through untouched. For sources that send B-frames.
   */
  reencodeVideo: boolean;
  keyframeIntervalSec: number;
}

/**
 * H.264 as the stream announces it: packetization mode 1. The profile-level-id is the
 * constrained-baseline one every WebRTC H.264 decoder accepts; a passed-through source may be
 * Main or High (browsers' decoders take them; see docs/ingest.md).
 */
export const INGEST_H264: Codec = {
  payloadType: INGEST_VIDEO_PT,
  name: 'H264',
  clockRate: 90000,
  fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
};
export const INGEST_OPUS: Codec = { payloadType: INGEST_AUDIO_PT, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };

export function ingestCodecs(kinds: IngestKinds): StreamCodecs {
  return { ...(kinds.video ? { video: INGEST_H264 } : {}), ...(kinds.audio ? { audio: INGEST_OPUS } : {}) };
}

/**
 * The output half of the child's command line (after its `-i` input): one `tee` output with an
 * RTP slave per kind (FFmpeg's RTP muxer carries one stream), both to the ingest socket; its
 * sender reports go there too and the data plane tells them apart (RFC 5761 §4). Each kind's
 * map is optional and its slave `onfail=ignore`: a source without audio (or video) runs with
 * what it has, and FFmpeg says "continuing with 1/2 slaves" (see missingKind).
 */
export function outputArgs(o: OutputOptions): string[] {
  const args: string[] = [];
  const slaves: string[] = [];
  // tee's slave syntax: ':' in the path escaped; the path is the relay's own (no '|', '[', ']').
  const target = `unix\\:${o.path}`;
  const slave = (select: string, pt: number, ssrc: number): string =>
    `[select=${select}:f=rtp:payload_type=${pt}:ssrc=${ssrc}:packetsize=${PACKET_SIZE}:type=datagram:onfail=ignore]${target}`;
  if (o.kinds.video) {
    const gop = String(Math.max(1, Math.round(o.keyframeIntervalSec * 30)));
    const video = o.reencodeVideo
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', gop, '-keyint_min', gop, '-pix_fmt', 'yuv420p']
      // Passed through untouched; SPS/PPS put in-band before every IDR (RTMP and MP4-style
      // sources carry them out of band, WebRTC decoders need them in the stream).
      : ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb'];
    args.push('-map', '0:v:0?', ...video);
    slaves.push(slave('v', INGEST_VIDEO_PT, o.videoSsrc));
  }
  if (o.kinds.audio) {
    // AAC (or anything) to Opus at 48 kHz stereo, 20 ms frames, the low-delay mode.
    args.push('-map', '0:a:0?', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '96k', '-application', 'lowdelay', '-frame_duration', '20');
    slaves.push(slave('a', INGEST_AUDIO_PT, o.audioSsrc));
  }
  // No waiting to interleave the kinds (each goes out as RTP on its own): a video frame would
  // otherwise wait for the audio encoder's next packet.
  args.push('-max_interleave_delta', '1', '-f', 'tee', slaves.join('|'));
  return args;
}

/** What the child's stderr says about a kind its source lacks (tee dropped that slave), if anything. */
export function missingKind(stderr: string): 'audio' | 'video' | undefined {
  const m = /Slave '\[select=([av])[^']*' ?: ?error writing header|Slave '\[select=([av])/.exec(stderr.includes('continuing with') ? stderr : '');
  const k = m?.[1] ?? m?.[2];
  return k === 'a' ? 'audio' : k === 'v' ? 'video' : undefined;
}

/** Flags every child starts with: quiet, no stdin, low-delay demuxing. */
export const CHILD_PREFIX = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-fflags', '+nobuffer', '-flags', 'low_delay'];
