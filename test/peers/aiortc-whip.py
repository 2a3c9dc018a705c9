#!/usr/bin/python3
# An aiortc publisher (Debian's python3-aiortc 1.4 under /usr/bin/python3, not a pyenv python):
# a synthetic moving pattern (640x360, 30 fps) sent as H.264 (forced through the transceiver's
# codec preferences; VP8 with --codec vp8) plus, unless --audio 0, an Opus track of silence.
#   aiortc-whip.py --whip URL [--codec h264|vp8] [--seconds N] [--audio 0|1]
# aioice never gathers 127.0.0.1: run it where another address exists (test/netns.mjs's veth).
# Prints JSON lines, each with "t" (time.time() in ms):
#   {"event":"offer","sdp"} once ICE gathering is complete, {"event":"answer","status","sdp"},
#   {"event":"state","state"} on every connection state change, {"event":"connected"},
#   {"event":"encoder","bitrate"} each time aiortc (re)creates its H.264 encoder (it does so when
#     a REMB moves the target bitrate by more than 10 %: a new encoder starts with an IDR),
#   {"event":"keyframe","rtpTs","packets","stapA","fuA","single","nals","idrSlices","forced"} per
#     H.264 keyframe picture sent (what aiortc's packetizer made of it),
#   {"event":"pli","count"} per PLI received (aiortc's RTCRtpSender._send_keyframe),
#   {"event":"stats", ...} once a second (frames, packets by packetization, PLIs),
#   {"event":"error","error"}, and {"event":"done"} after N seconds. Exits 2 on a failure.
import argparse
import asyncio
import fractions
import json
import sys
import threading
import time

from whip_post import post_offer

ap = argparse.ArgumentParser()
ap.add_argument('--whip', required=True)
ap.add_argument('--codec', default='h264')
ap.add_argument('--seconds', type=float, default=20)
ap.add_argument('--audio', type=int, default=1)
ap.add_argument('--width', type=int, default=640)
ap.add_argument('--height', type=int, default=360)
args = ap.parse_args()

_lock = threading.Lock()


def say(**m):
    m['t'] = round(time.time() * 1000, 1)
    with _lock:
        print(json.dumps(m), flush=True)


try:
    import av
    import numpy as np
    from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
    from aiortc.codecs import h264
    from aiortc.mediastreams import AudioStreamTrack
    from aiortc.rtcrtpsender import RTCRtpSender
except Exception as e:  # noqa: BLE001
    say(event='error', error=f'import: {e!r}')
    sys.exit(2)

stats = {'frames': 0, 'keyframes': 0, 'plis': 0, 'forced': 0, 'stapA': 0, 'fuA': 0, 'single': 0, 'encoders': 0}

# ---------------------------------------------------------------- instrumentation (no behaviour change)

_orig_create = h264.create_encoder_context


def create_encoder_context(name, width, height, bitrate):
    ctx = _orig_create(name, width, height, bitrate)
    stats['encoders'] += 1
    say(event='encoder', codec=name, bitrate=bitrate, width=width, height=height)
    return ctx


h264.create_encoder_context = create_encoder_context


def describe(payloads):
    """NAL types in one encoded picture's RTP payloads, as aiortc packetized them (RFC 6184)."""
    nals, kinds, idr = [], {'stapA': 0, 'fuA': 0, 'single': 0}, 0
    for p in payloads:
        t = p[0] & 0x1F
        if t == 24:
            kinds['stapA'] += 1
            off, inner = 1, []
            while off + 2 <= len(p):
                size = (p[off] << 8) | p[off + 1]
                if off + 2 + size > len(p) or size == 0:
                    break
                inner.append(p[off + 2] & 0x1F)
                idr += inner[-1] == 5
                off += 2 + size
            nals.append('stapA(' + ','.join(map(str, inner)) + ')')
        elif t == 28:
            kinds['fuA'] += 1
            if p[1] & 0x80:
                nals.append(f'fuA({p[1] & 0x1F})')
                idr += (p[1] & 0x1F) == 5
        else:
            kinds['single'] += 1
            nals.append(str(t))
            idr += t == 5
    return nals, kinds, idr


_orig_encode = h264.H264Encoder.encode


def encode(self, frame, force_keyframe=False):
    payloads, ts = _orig_encode(self, frame, force_keyframe)
    stats['frames'] += 1
    if force_keyframe:
        stats['forced'] += 1
    nals, kinds, idr = describe(payloads)
    for k, v in kinds.items():
        stats[k] += v
    if idr:
        stats['keyframes'] += 1
        say(event='keyframe', rtpTs=ts, packets=len(payloads), nals=nals, idrSlices=idr, forced=force_keyframe,
            bytes=sum(len(p) for p in payloads), **kinds)
    elif force_keyframe:
        say(event='keyframe-ignored', rtpTs=ts)
    return payloads, ts


h264.H264Encoder.encode = encode

_orig_send_keyframe = RTCRtpSender._send_keyframe


def _send_keyframe(self):
    stats['plis'] += 1
    say(event='pli', count=stats['plis'])
    return _orig_send_keyframe(self)


RTCRtpSender._send_keyframe = _send_keyframe

# ---------------------------------------------------------------- the synthetic source


class Pattern(VideoStreamTrack):
    """A moving gradient with a bouncing box: every frame differs, like a camera."""

    def __init__(self, width, height):
        super().__init__()
        self.w, self.h, self.n = width, height, 0
        y, x = np.mgrid[0:height, 0:width]
        self.base = ((x + y) % 256).astype(np.uint8)

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        n = self.n
        self.n += 1
        img = np.empty((self.h, self.w, 3), np.uint8)
        shifted = np.roll(self.base, n * 4, axis=1)
        img[:, :, 0] = shifted
        img[:, :, 1] = np.roll(self.base, n * 2, axis=0)
        img[:, :, 2] = 255 - shifted
        bx = (n * 7) % (self.w - 80)
        by = (n * 5) % (self.h - 80)
        img[by:by + 80, bx:bx + 80] = (255, 255, 255)
        frame = av.VideoFrame.from_ndarray(img, format='rgb24')
        frame.pts = pts
        frame.time_base = time_base
        return frame


# ---------------------------------------------------------------- WHIP




async def main():
    pc = RTCPeerConnection()
    connected = asyncio.Event()

    @pc.on('connectionstatechange')
    async def on_state():
        say(event='state', state=pc.connectionState)
        if pc.connectionState == 'connected':
            say(event='connected')
            connected.set()
        elif pc.connectionState == 'failed':
            say(event='error', error='connection failed')

    video = pc.addTransceiver(Pattern(args.width, args.height), direction='sendonly')
    mime = 'video/H264' if args.codec == 'h264' else 'video/VP8'
    prefs = [c for c in RTCRtpSender.getCapabilities('video').codecs if c.mimeType == mime]
    video.setCodecPreferences(prefs)
    if args.audio:
        pc.addTransceiver(AudioStreamTrack(), direction='sendonly')
    # aiortc gathers every candidate inside setLocalDescription: the offer is complete after it.
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    say(event='offer', sdp=offer)
    status, body, location = await asyncio.get_running_loop().run_in_executor(None, post_offer, args.whip, offer)
    say(event='answer', status=status, sdp=body, location=location)
    if status != 201:
        say(event='error', error=f'WHIP POST answered {status}: {body[:300]}')
        await pc.close()
        return 2
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type='answer'))
    deadline = time.time() + args.seconds
    try:
        await asyncio.wait_for(connected.wait(), timeout=15)
    except asyncio.TimeoutError:
        say(event='error', error=f'not connected after 15 s ({pc.connectionState})')
        await pc.close()
        return 2
    while time.time() < deadline:
        await asyncio.sleep(1)
        say(event='stats', **stats)
    say(event='done', **stats)
    await pc.close()
    return 0


try:
    code = asyncio.run(main())
except Exception as e:  # noqa: BLE001
    say(event='error', error=repr(e))
    code = 2
sys.exit(code)
