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

function rtpOutput(path: string, pt: number, ssrc: number): string[] {
  // One RTP stream per output (FFmpeg's RTP muxer carries one); its sender reports go to the
  // same socket, the data plane tells them apart (RFC 5761 §4).
  return ['-f', 'rtp', '-payload_type', String(pt), '-ssrc', String(ssrc), '-packetsize', String(PACKET_SIZE), '-type', 'datagram', `unix:${path}`];
}

/** The output half of the child's command line (after its `-i` input). */
export function outputArgs(o: OutputOptions): string[] {
  const args: string[] = [];
  if (o.kinds.video) {
    const gop = String(Math.max(1, Math.round(o.keyframeIntervalSec * 30)));
    const video = o.reencodeVideo
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', gop, '-keyint_min', gop, '-pix_fmt', 'yuv420p']
      // Passed through untouched; SPS/PPS put in-band before every IDR (RTMP and MP4-style
      // sources carry them out of band, WebRTC decoders need them in the stream).
      : ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb'];
    args.push('-map', '0:v:0', ...video, ...rtpOutput(o.path, INGEST_VIDEO_PT, o.videoSsrc));
  }
  if (o.kinds.audio) {
    // AAC (or anything) to Opus at 48 kHz stereo, 20 ms frames, the low-delay mode.
    args.push('-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '96k', '-application', 'lowdelay', '-frame_duration', '20',
      ...rtpOutput(o.path, INGEST_AUDIO_PT, o.audioSsrc));
  }
  return args;
}

/** Flags every child starts with: quiet, no stdin, low-delay demuxing. */
export const CHILD_PREFIX = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-fflags', '+nobuffer', '-flags', 'low_delay'];
