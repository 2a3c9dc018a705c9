# A local RTSP camera for the ingest tests: GStreamer's RTSP server (Debian
# gir1.2-gst-rtsp-server-1.0) serving H.264 (1 s GOP, no B-frames) + AAC test signals at
# rtsp://127.0.0.1:<port>/cam (and /cam-video, /cam-audio: one kind each). Prints {"event":"ready"} once listening and a line per client
# ({"event":"client"}), so a test can see when the relay pulls. Run with /usr/bin/python3.
import json, sys
import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib

port = sys.argv[1]
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
VIDEO = ('videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 '
         '! x264enc tune=zerolatency speed-preset=veryfast key-int-max=30 bframes=0 ! rtph264pay name=pay0 pt=96 config-interval=-1 ')
AUDIO = 'audiotestsrc is-live=true ! audioconvert ! audioresample ! avenc_aac ! rtpmp4gpay name=pay{} pt=97 '
# /cam: both kinds; /cam-video: a camera without a microphone; /cam-audio: audio only.
for mount, launch in [('/cam', VIDEO + AUDIO.format(1)), ('/cam-video', VIDEO), ('/cam-audio', AUDIO.format(0))]:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch('( ' + launch + ')')
    factory.set_shared(True)
    server.get_mount_points().add_factory(mount, factory)
server.connect('client-connected', lambda *a: print(json.dumps({'event': 'client'}), flush=True))
server.attach(None)
print(json.dumps({'event': 'ready'}), flush=True)
GLib.MainLoop().run()
