#!/usr/bin/python3
"""A reference RTSP server from GStreamer (gst-rtsp-server, payloader rtpjpegpay) serving one
MJPEG file without re-encoding, for interop tests and the playback benchmark.

Run with Debian's python3 (it needs python3-gi and gir1.2-gst-rtsp-server-1.0):

    /usr/bin/python3 tools/scripts/gst-rtsp-server.py --file clip.mjpeg --fps 30 --port 0

Prints `PORT <n>` and `URL rtsp://127.0.0.1:<n>/<mount>` on stdout once it listens; serves
until killed. A plain MJPEG stream carries no timestamps, so the file is first remuxed without
re-encoding (`ffmpeg -c copy`, the JPEG bytes unchanged) into Matroska at --fps; the server's
sinks then pace the frames on the clock. Frames above 2040 px travel with width/height 0 and
`a=x-dimensions` in the SDP, as rtpjpegpay does.

With --rtx-time MS the server offers retransmission (RFC 4588, `a=rtpmap:96 rtx/90000`,
`a=fmtp:96 apt=26;rtx-time=MS`) in the AVPF profile only: it answers RTCP NACKs with RTX packets
on a separate SSRC, and refuses RTP/AVP SETUPs with 461.

With --untimed the pipeline is the one many people write, `filesrc ! jpegparse ! rtpjpegpay`:
the frames carry no timestamps, so every RTP packet has one timestamp, nothing paces them (the
whole file leaves in a fraction of a second) and the SDP has no `a=framerate` — a sender whose
timestamps a client cannot use.
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
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", required=True, help="plain (concatenated JPEG) MJPEG file")
    parser.add_argument("--fps", type=int, default=30, help="frame rate (default 30)")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port, 0 for any (default 8554)")
    parser.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--mount", default="stream", help="URL path (default 'stream')")
    parser.add_argument("--mtu", type=int, default=1400, help="RTP MTU (default 1400)")
    parser.add_argument("--rtx-time", type=int, default=0, metavar="MS",
                        help="offer retransmission (RFC 4588) kept MS ms, in the AVPF profile "
                             "(what rtspsrc needs before it sends NACKs); 0: off (default)")
    parser.add_argument("--untimed", action="store_true",
                        help="serve `filesrc ! jpegparse ! rtpjpegpay`: no timestamps, no pacing")
    args = parser.parse_args()
    if not os.path.isfile(args.file):
        sys.exit(f"no such file: {args.file}")
    if args.untimed:
        serve(args, None)
        return

    tmp = tempfile.mkdtemp(prefix="hdstream-gst-")
    mkv = os.path.join(tmp, "stream.mkv")
    try:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-framerate", str(args.fps), "-f", "mjpeg",
             "-i", args.file, "-c", "copy", mkv],
            check=True,
        )
        serve(args, mkv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def serve(args, mkv):
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if mkv is None:
        source = f'filesrc location="{os.path.abspath(args.file)}" ! jpegparse'
    else:
        source = f'filesrc location="{mkv}" ! matroskademux'
    factory.set_launch(f"( {source} ! rtpjpegpay name=pay0 pt=26 mtu={args.mtu} )")
    factory.set_shared(False)
    if args.rtx_time > 0:
        factory.set_retransmission_time(args.rtx_time * Gst.MSECOND)
        factory.set_profiles(GstRtsp.RTSPProfile.AVPF)
    server.get_mount_points().add_factory("/" + args.mount.lstrip("/"), factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.address}:{args.port}")
    port = server.get_bound_port()
    print(f"PORT {port}", flush=True)
    print(f"URL rtsp://{args.address}:{port}/{args.mount.lstrip('/')}", flush=True)
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
