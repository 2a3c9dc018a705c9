// Hand-made SDP offers for tests that need a session but no real peer.

/** An offer as a browser would send it; options make it wrong in one chosen way. */
export function offer({ video = 'H264', rtcpMux = true, kinds = ['video', 'audio'], direction = 'sendonly', app = false } = {}) {
  const lines = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0'];
  const mids = kinds.map((_, i) => String(i));
  if (app) mids.push(String(kinds.length));
  lines.push(`a=group:BUNDLE ${mids.join(' ')}`);
  kinds.forEach((kind, i) => {
    const [pt, rtpmap, fmtp] =
      kind === 'audio'
        ? [111, 'opus/48000/2', 'minptime=10;useinbandfec=1']
        : video === 'H264'
          ? [102, 'H264/90000', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f']
          : video === 'VP8'
            ? [96, 'VP8/90000', null]
            : [31, `${video}/90000`, null];
    lines.push(`m=${kind} 9 UDP/TLS/RTP/SAVPF ${pt}`, 'c=IN IP4 0.0.0.0', `a=mid:${i}`, `a=${direction}`);
    lines.push('a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijklmn', `a=fingerprint:sha-256 ${Array(32).fill('AB').join(':')}`, 'a=setup:actpass');
    if (rtcpMux) lines.push('a=rtcp-mux');
    lines.push(`a=rtpmap:${pt} ${rtpmap}`);
    if (fmtp) lines.push(`a=fmtp:${pt} ${fmtp}`);
  });
  if (app) lines.push(`m=application 9 UDP/DTLS/SCTP webrtc-datachannel`, 'c=IN IP4 0.0.0.0', `a=mid:${kinds.length}`, 'a=sctp-port:5000');
  return `${lines.join('\r\n')}\r\n`;
}
