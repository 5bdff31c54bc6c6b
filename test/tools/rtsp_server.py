#!/usr/bin/python3
"""RTSP server for the test suite (GStreamer gst-rtsp-server through PyGObject).

    /usr/bin/python3 test/tools/rtsp_server.py PORT synthetic [WIDTHxHEIGHT]
    /usr/bin/python3 test/tools/rtsp_server.py PORT clip /abs/path/clip.mp4

Serves rtsp://127.0.0.1:PORT/live on loopback only. `synthetic` is one live
H.264 test pattern shared by every client; `clip` plays an H.264 MP4 once per
client. Prints READY once bound; SIGTERM or SIGINT stop it cleanly.
"""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def pipeline_for(kind: str, arg: str) -> tuple[str, bool]:
    if kind in ("synthetic", "test"):
        width, height = (arg or "640x480").split("x")
        encode = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0"
        return (
            f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate=25/1 "
            f"! {encode} ! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )",
            True,
        )
    if kind in ("clip", "file"):
        return f"( filesrc location={arg} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )", False
    sys.exit(f"unknown source kind {kind!r}; use synthetic or clip")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, kind = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    launch, shared = pipeline_for(kind, arg)
    factory.set_launch(launch)
    factory.set_shared(shared)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot bind 127.0.0.1:{port}")
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
