#!/usr/bin/python3
"""GStreamer's RTSP server (gst-rtsp-server) serving an MJPEG file and a WAV file as one
presentation of two tracks — rtpjpegpay (pay0) and rtpL16pay (pay1, dynamic payload type,
`a=rtpmap:96 L16/<rate>/<channels>`) — for client/tests/gst_audio.rs. The same way as
tools/scripts/gst-rtsp-server.py serves video alone: the MJPEG file is remuxed without
re-encoding (`ffmpeg -c copy`) into Matroska at --fps so the frames carry timestamps, and the
server's sinks pace both tracks on one pipeline clock.

Run with Debian's python3 (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good):

    /usr/bin/python3 client/tests/gst_av_server.py --mjpeg clip.mjpeg --wav clip.wav --port 0

Prints `URL rtsp://127.0.0.1:<n>/<mount>` on stdout once it listens; serves until killed.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mjpeg", required=True, help="plain (concatenated JPEG) MJPEG file")
    parser.add_argument("--wav", required=True, help="16-bit PCM WAV file")
    parser.add_argument("--fps", type=int, default=30, help="frame rate (default 30)")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port, 0 for any (default 8554)")
    parser.add_argument("--mount", default="stream", help="URL path (default 'stream')")
    args = parser.parse_args()
    for path in (args.mjpeg, args.wav):
        if not os.path.isfile(path):
            sys.exit(f"no such file: {path}")
    tmp = tempfile.mkdtemp(prefix="hdstream-gst-av-")
    try:
        mkv = os.path.join(tmp, "video.mkv")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-framerate", str(args.fps), "-f", "mjpeg",
             "-i", args.mjpeg, "-c", "copy", mkv],
            check=True,
        )
        serve(args, mkv, os.path.abspath(args.wav))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def serve(args, mkv, wav):
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{mkv}" ! matroskademux ! rtpjpegpay name=pay0 pt=26 mtu=1400 '
        f'filesrc location="{wav}" ! wavparse ! audioconvert ! audio/x-raw,format=S16BE '
        f'! rtpL16pay name=pay1 pt=96 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/" + args.mount.lstrip("/"), factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    port = server.get_bound_port()
    print(f"URL rtsp://127.0.0.1:{port}/{args.mount.lstrip('/')}", flush=True)
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
