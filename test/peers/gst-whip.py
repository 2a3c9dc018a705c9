#!/usr/bin/python3
# A GStreamer webrtcbin publisher (Debian's GStreamer 1.22; /usr/bin/python3 has the GI bindings).
#   gst-whip.py --codec vp8|h264 [--bundle max-bundle|balanced|max-compat] [--whip URL] [--seconds N]
# Prints JSON lines: {"event":"offer","sdp":...} once ICE gathering is complete; with --whip it
# posts that offer, applies the answer and prints {"event":"answer",...}, {"event":"connected"}
# when ICE connects, and {"event":"done"} after N seconds. Exits 2 on any failure.
import argparse, json, os, sys, threading
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import Gst, GstWebRTC, GstSdp, GLib
from whip_post import post_offer

ap = argparse.ArgumentParser()
ap.add_argument('--codec', default='vp8')
ap.add_argument('--bundle', default='max-bundle')
ap.add_argument('--whip')
ap.add_argument('--seconds', type=float, default=10)
ap.add_argument('--audio', type=int, default=1)
args = ap.parse_args()

def say(**m):
    print(json.dumps(m), flush=True)

Gst.init(None)
VIDEO = {
    'vp8': 'vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=600000 ! rtpvp8pay pt=96',
    'h264': 'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0 bitrate=600 ! video/x-h264,profile=constrained-baseline ! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency',
}[args.codec]
caps = {
    'vp8': 'application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000',
    'h264': 'application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000',
}[args.codec]
desc = (f'webrtcbin name=w bundle-policy={args.bundle} '
        f'videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! {VIDEO} ! {caps} ! w. ')
if args.audio:
    desc += ('audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 ! '
             'application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! w. ')
pipe = Gst.parse_launch(desc)
w = pipe.get_by_name('w')
loop = GLib.MainLoop()

def fail(msg):
    say(event='error', error=msg)
    sys.stdout.flush()
    os._exit(2)

def on_bus(bus, msg):
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        fail(f'{err.message} {dbg}')
pipe.get_bus().add_signal_watch()
pipe.get_bus().connect('message', on_bus)


def on_gathering(*_):
    if w.get_property('ice-gathering-state') != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
        return
    GLib.idle_add(gathered)

sent = [False]
def gathered():
    if sent[0]:
        return False
    sent[0] = True
    sdp = w.get_property('local-description').sdp.as_text()
    say(event='offer', sdp=sdp)
    if not args.whip:
        loop.quit()
        return False
    def work():
        status, body, location = post_offer(args.whip, sdp)
        say(event='answer', status=status, sdp=body, location=location)
        if status != 201:
            fail(f'WHIP answered {status}: {body}')
        GLib.idle_add(apply_answer, body)
    threading.Thread(target=work, daemon=True).start()
    return False

def apply_answer(text):
    res, msg = GstSdp.SDPMessage.new_from_text(text)
    if res != GstSdp.SDPResult.OK:
        fail('answer does not parse')
    answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
    p = Gst.Promise.new()
    w.emit('set-remote-description', answer, p)
    p.interrupt()
    GLib.timeout_add(int(args.seconds * 1000), lambda: (say(event='done'), loop.quit()))
    return False

def on_ice_state(*_):
    st = w.get_property('ice-connection-state')
    if st == GstWebRTC.WebRTCICEConnectionState.CONNECTED or st == GstWebRTC.WebRTCICEConnectionState.COMPLETED:
        say(event='connected')
    elif st == GstWebRTC.WebRTCICEConnectionState.FAILED:
        fail('ICE failed')

def on_offer(promise, _):
    reply = promise.get_reply()
    offer = reply.get_value('offer')
    p = Gst.Promise.new()
    w.emit('set-local-description', offer, p)
    p.interrupt()
    on_gathering()

def on_negotiation_needed(_):
    w.emit('create-offer', None, Gst.Promise.new_with_change_func(on_offer, None))

w.connect('on-negotiation-needed', on_negotiation_needed)
w.connect('notify::ice-gathering-state', on_gathering)
w.connect('notify::ice-connection-state', on_ice_state)
# Make every transceiver send-only (the relay takes send-only or sendrecv publishers).
def set_sendonly():
    i = 0
    while True:
        t = w.emit('get-transceiver', i)
        if t is None:
            break
        t.set_property('direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        i += 1
pipe.set_state(Gst.State.READY)
set_sendonly()
pipe.set_state(Gst.State.PLAYING)
GLib.timeout_add(int((args.seconds + 30) * 1000), lambda: fail('watchdog'))
loop.run()
# Tearing webrtcbin down has hung past the test (libnice in a namespace that is going away):
# give it a moment, then leave regardless.
threading.Timer(3.0, lambda: os._exit(0)).start()
pipe.set_state(Gst.State.NULL)
sys.stdout.flush()
os._exit(0)
