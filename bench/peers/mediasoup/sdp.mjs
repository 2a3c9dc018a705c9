// SDP <-> mediasoup 3.x parameters for the benchmark's WHIP/WHEP front end (sdp-transform parses;
// answers are written line by line). Only what the benchmark's peers and browsers send: BUNDLE,
// rtcp-mux, one transport per session, one SSRC (plus RTX) per m-line.
import sdpTransform from 'sdp-transform';

const fmtpParams = (config) => {
  const out = {};
  for (const kv of String(config ?? '').split(';')) {
    const [k, v] = kv.split('=').map((x) => x?.trim());
    if (!k) continue;
    out[k] = v !== undefined && /^\d+$/.test(v) ? Number(v) : v;
  }
  return out;
};

/** The offer's transport (ICE, DTLS) and its m-lines. Throws on what the front end cannot serve. */
export function parseOffer(text) {
  const s = sdpTransform.parse(text);
  const media = s.media ?? [];
  if (!media.length) throw new Error('offer has no m-line');
  const first = media[0];
  const fp = first.fingerprint ?? s.fingerprint;
  const ufrag = first.iceUfrag ?? s.iceUfrag;
  const pwd = first.icePwd ?? s.icePwd;
  if (!fp || !ufrag || !pwd) throw new Error('offer lacks a fingerprint or ICE credentials');
  const setup = first.setup ?? s.setup ?? 'actpass';
  return {
    // mediasoup's connect() takes the remote DTLS role; the answer says the opposite.
    remoteDtlsRole: setup === 'passive' ? 'server' : 'client',
    answerSetup: setup === 'passive' ? 'active' : 'passive',
    fingerprints: [{ algorithm: fp.type.toLowerCase(), value: fp.hash.toUpperCase() }],
    media: media.map((m) => parseMedia(m)),
  };
}

function parseMedia(m) {
  const fbs = m.rtcpFb ?? [];
  const codecs = (m.rtp ?? []).map((r) => {
    const mimeType = `${m.type}/${r.codec}`;
    const params = fmtpParams((m.fmtp ?? []).find((f) => f.payload === r.payload)?.config);
    return {
      mimeType,
      kind: m.type,
      payloadType: r.payload,
      clockRate: r.rate,
      ...(r.encoding ? { channels: Number(r.encoding) } : {}),
      parameters: params,
      rtcpFeedback: fbs.filter((f) => f.payload === r.payload || f.payload === '*').map((f) => ({ type: f.type, parameter: f.subtype ?? '' })),
    };
  });
  const ssrcs = m.ssrcs ?? [];
  const fid = (m.ssrcGroups ?? []).find((g) => g.semantics === 'FID');
  const ssrc = fid ? Number(fid.ssrcs.split(' ')[0]) : ssrcs[0] ? Number(ssrcs[0].id) : undefined;
  return {
    kind: m.type,
    mid: String(m.mid ?? ''),
    direction: m.direction ?? 'sendrecv',
    codecs,
    extensions: (m.ext ?? []).map((e) => ({ id: e.value, uri: e.uri })),
    ssrc,
    rtxSsrc: fid ? Number(fid.ssrcs.split(' ')[1]) : undefined,
    cname: ssrcs.find((x) => x.attribute === 'cname')?.value,
  };
}

/** A publisher's m-line as mediasoup produce() rtpParameters (only codecs the router has). */
export function producerParameters(m, routerCodecs) {
  const media = m.codecs.filter((c) => routerCodecs.some((r) => r.mimeType.toLowerCase() === c.mimeType.toLowerCase()));
  const main = media.find((c) => !/\/rtx$/i.test(c.mimeType));
  if (!main) throw new Error(`no codec of the ${m.kind} m-line is one the router has`);
  const rtx = m.codecs.find((c) => /\/rtx$/i.test(c.mimeType) && Number(c.parameters.apt) === main.payloadType);
  const strip = ({ kind, ...c }) => c;
  return {
    mid: m.mid,
    codecs: [strip(main), ...(rtx ? [strip(rtx)] : [])],
    headerExtensions: m.extensions.map((e) => ({ uri: e.uri, id: e.id })),
    encodings: [{ ssrc: m.ssrc, ...(m.rtxSsrc ? { rtx: { ssrc: m.rtxSsrc } } : {}) }],
    rtcp: { cname: m.cname ?? 'publisher', reducedSize: true },
  };
}

/** A viewer's offered m-lines as mediasoup RtpCapabilities (consume() picks from them). */
export function viewerCapabilities(media) {
  const codecs = [];
  const headerExtensions = [];
  for (const m of media) {
    for (const c of m.codecs) {
      codecs.push({ kind: m.kind, mimeType: c.mimeType, preferredPayloadType: c.payloadType, clockRate: c.clockRate, ...(c.channels ? { channels: c.channels } : {}), parameters: c.parameters, rtcpFeedback: c.rtcpFeedback });
    }
    for (const e of m.extensions) headerExtensions.push({ kind: m.kind, uri: e.uri, preferredId: e.id, preferredEncrypt: false, direction: 'sendrecv' });
  }
  return { codecs, headerExtensions };
}

/**
 * The answer: every offered m-line in order; `sections[i]` is { direction, rtpParameters } for a
 * served one, or null for a rejected one (port 0, out of BUNDLE).
 */
export function buildAnswer({ transport, setup, offer, sections }) {
  const { usernameFragment, password } = transport.iceParameters;
  const fp = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
  const bundled = offer.media.filter((_, i) => sections[i]).map((m) => m.mid);
  const lines = ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=ice-lite', `a=group:BUNDLE ${bundled.join(' ')}`, 'a=msid-semantic: WMS *'];
  offer.media.forEach((m, i) => {
    const sec = sections[i];
    if (!sec) {
      const pts = m.codecs.map((c) => c.payloadType).join(' ') || '0';
      lines.push(`m=${m.kind} 0 UDP/TLS/RTP/SAVPF ${pts}`, 'c=IN IP4 0.0.0.0', `a=mid:${m.mid}`, 'a=inactive');
      return;
    }
    const p = sec.rtpParameters;
    lines.push(`m=${m.kind} 9 UDP/TLS/RTP/SAVPF ${p.codecs.map((c) => c.payloadType).join(' ')}`, 'c=IN IP4 127.0.0.1');
    lines.push(`a=ice-ufrag:${usernameFragment}`, `a=ice-pwd:${password}`, `a=fingerprint:${fp.algorithm} ${fp.value}`, `a=setup:${setup}`);
    for (const c of transport.iceCandidates) {
      lines.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${c.tcpType ? ` tcptype ${c.tcpType}` : ''}`);
    }
    lines.push('a=end-of-candidates', `a=mid:${m.mid}`, `a=${sec.direction}`, 'a=rtcp-mux', 'a=rtcp-rsize');
    for (const e of p.headerExtensions ?? []) lines.push(`a=extmap:${e.id} ${e.uri}`);
    for (const c of p.codecs) {
      const [, name] = c.mimeType.split('/');
      lines.push(`a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${c.channels > 1 ? `/${c.channels}` : ''}`);
      for (const fb of c.rtcpFeedback ?? []) lines.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
      const fmtp = Object.entries(c.parameters ?? {}).map(([k, v]) => `${k}=${v}`).join(';');
      if (fmtp) lines.push(`a=fmtp:${c.payloadType} ${fmtp}`);
    }
    if (sec.direction === 'sendonly') {
      const enc = p.encodings[0];
      const cname = p.rtcp?.cname ?? 'mediasoup';
      lines.push(`a=msid:bench ${m.kind}`);
      if (enc.rtx?.ssrc) lines.push(`a=ssrc-group:FID ${enc.ssrc} ${enc.rtx.ssrc}`);
      lines.push(`a=ssrc:${enc.ssrc} cname:${cname}`);
      if (enc.rtx?.ssrc) lines.push(`a=ssrc:${enc.rtx.ssrc} cname:${cname}`);
    }
  });
  return `${lines.join('\r\n')}\r\n`;
}
