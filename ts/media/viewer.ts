// A viewer's side of a stream: which of the stream's codecs its offer accepts (with the viewer's
// own payload types and SSRCs), and how its preferences cap its simulcast layer.
import { randomInt } from 'node:crypto';
import type { PeerConfig } from '../native.js';
import { HttpError } from '../ops/errors.js';
import type { AnswerTrack } from './answer.js';
import { requireViewerCodec, rtxFor } from './codecs.js';
import { dependencyDescriptorId, transportCcId } from './sdp.js';
import type { Codec, ParsedOffer } from './sdp.js';
import type { StreamState, ViewerPreferences } from './streams.js';

const newSsrc = (): number => randomInt(1, 2 ** 32 - 1);

/** What the relay sends a viewer. */
export interface ViewerPlan {
  tracks: AnswerTrack[];
  /** The viewer-only fields of its native peer: payload-type map, SSRCs, RTX. */
  peer: Partial<PeerConfig>;
}

/**
 * Matches a viewer's offer against the stream's codecs; a 406 when it accepts none of them.
 * `layered`: a pull that takes every simulcast layer at once (docs/cluster.md); without
 * simulcast on the stream it is an ordinary viewer.
 */
export function planViewer(offer: ParsedOffer, st: StreamState, layered = false): ViewerPlan {
  const tracks: AnswerTrack[] = [];
  const outPtByPt: [number, number][] = [];
  const peer: Partial<PeerConfig> = { outPtByPt };
  for (const t of offer.tracks) {
    const source = st.codecs[t.kind];
    if (!source) continue;
    const mine = requireViewerCodec(t, source, st.name);
    const ssrc = newSsrc();
    if (t.kind === 'audio') peer.audioSsrc = ssrc;
    else peer.videoSsrc = ssrc;
    // The viewer's own format line: never one it did not offer.
    const codec: Codec = { ...mine };
    const track: AnswerTrack = { kind: t.kind, mid: t.mid, codec, ssrc };
    const twcc = transportCcId(t, mine.payloadType);
    if (twcc !== undefined) {
      track.twccExtId = twcc;
      if (t.kind === 'audio') peer.audioTwccExtId = twcc;
      else peer.videoTwccExtId = twcc;
    }
    // AV1: the dependency descriptor goes to viewers that offer it and two-byte header extensions
    // (a descriptor with its template structure exceeds the one-byte form); with it their layers
    // are filtered like VP8/VP9 ones. Others get the stream whole.
    const dd = t.kind === 'video' && mine.name.toUpperCase() === 'AV1' && offer.extmapAllowMixed ? dependencyDescriptorId(t) : undefined;
    if (dd !== undefined) {
      track.ddExtId = dd;
      peer.ddExtId = dd;
    }
    if (t.kind === 'video' && layered && st.rids.length >= 2) {
      // Each layer its own SSRC; retransmissions go on it too (no RTX between relays).
      const ssrcs = st.rids.map(() => newSsrc());
      track.layers = { rids: [...st.rids], ssrcs };
      peer.layerSsrcs = ssrcs;
      tracks.push(track);
      outPtByPt.push([source.payloadType, mine.payloadType]);
      continue;
    }
    const rtx = t.kind === 'video' ? rtxFor(t, mine.payloadType) : undefined;
    if (rtx) {
      track.rtx = rtx;
      track.rtxSsrc = newSsrc();
      peer.rtxPt = rtx.payloadType;
      peer.rtxSsrc = track.rtxSsrc;
    }
    tracks.push(track);
    outPtByPt.push([source.payloadType, mine.payloadType]);
  }
  if (tracks.length === 0) {
    const have = Object.values(st.codecs).map((c) => c.name).join(', ');
    throw new HttpError(406, `offer accepts none of the codecs stream "${st.name}" carries (${have})`);
  }
  return { tracks, peer };
}

/** A pinned layer (by rid) or a bit-rate ceiling as a cap on a viewer's layer; undefined: no cap. */
export function layerCap(st: StreamState, p: ViewerPreferences): number | undefined {
  let cap: number | undefined;
  if (p.layer !== undefined && st.rids.includes(p.layer)) cap = st.rids.indexOf(p.layer);
  if (p.maxBitrate !== undefined) {
    let fit = 0;
    st.layerBitrates.forEach((rate, i) => {
      if (rate <= p.maxBitrate!) fit = i;
    });
    cap = cap === undefined ? fit : Math.min(cap, fit);
  }
  return cap;
}
