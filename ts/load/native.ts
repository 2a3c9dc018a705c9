// Typed access to the load generator's native half (native/load/: halfsec_load.node).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type ClientState = 'new' | 'checking' | 'dtls' | 'connected' | 'failed' | 'closed';

export interface ClientParams {
  localUfrag: string;
  localPwd: string;
  remoteUfrag: string;
  remotePwd: string;
  fingerprintAlgorithm: string;
  fingerprint: string;
  /** Ours, from the answer's a=setup: 'passive' there makes us the DTLS client. */
  dtlsRole: 'client' | 'server';
  remoteIp: string;
  remotePort: number;
  /** ICE-TCP (tcptype active, RFC 4571 framing) to the answer's passive TCP candidate. */
  tcp?: boolean;
  /** Publisher only. */
  payloadType?: number;
  ssrc?: number;
  rateKbps?: number;
  fps?: number;
  packetSize?: number;
  /** Publisher: a frame's packets back to back at each frame time. */
  burst?: boolean;
  /** Publisher: a PLI or FIR makes its next frame an IDR, as real encoders do (default: ignored). */
  keyframeOnRequest?: boolean;
}

export interface ClientStats {
  id: number;
  state: ClientState;
  rxPackets: number;
  rxBytes: number;
  authChecked: number;
  authFailed: number;
  badPayload: number;
  txPackets: number;
  txBytes: number;
  rtcpIn: number;
  stunIn: number;
  /** CLOCK_MONOTONIC ns (same clock as nowNs()); 0 until it happened. */
  iceNs: number;
  connectedNs: number;
  firstMediaNs: number;
  error?: string;
}

export interface NativeLoadEngine {
  readonly fingerprint: string;
  /** A client slot; `fingerprint`: of the certificate it will present (its own, as each browser peer connection's). */
  allocate(role: 'viewer' | 'publisher'): { id: number; ip: string; port: number; fingerprint: string };
  /** Makes `n` client certificates ahead, so that making them is not part of a measured join. */
  prepareCertificates(n: number): void;
  connect(id: number, params: ClientParams): void;
  remove(id: number): boolean;
  /** A publisher holds (true) or resumes (false) its media. */
  pause(id: number, paused: boolean): boolean;
  clientStats(): ClientStats[];
  /** Latency counts (ns), every thread merged; bucket i covers [bounds[i], bounds[i+1]). */
  latencyBuckets(): Float64Array;
  close(): void;
}

export interface RawSendOptions {
  destinations: number;
  /** Rounds per second; a round is one datagram to every destination. */
  roundsPerSecond: number;
  packetSize: number;
  seconds: number;
  ipOctet?: number;
  /** One accepted TCP connection per destination, each packet an RFC 4571 frame (ICE-TCP's cost). */
  tcp?: boolean;
}

export interface RawSendResult {
  sent: number;
  received: number;
  skippedRounds: number;
  sendErrors: number;
  userSeconds: number;
  systemSeconds: number;
  elapsedSeconds: number;
}

interface LoadAddon {
  LoadEngine: {
    /** ownCertificates (default true): each client presents a certificate of its own; false: all the engine's. */
    new (options: { threads?: number; ipOctet?: number; ownCertificates?: boolean }): NativeLoadEngine;
    histogramBounds(): Float64Array;
    nowNs(): number;
  };
  rawSend(options: RawSendOptions): Promise<RawSendResult>;
}

export const loadNative: LoadAddon = require('../../build/Release/halfsec_load.node') as LoadAddon;
