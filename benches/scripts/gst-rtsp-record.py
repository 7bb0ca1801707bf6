#!/usr/bin/python3
"""gst-rtsp-server taking a published RFC 2435 (RTP/JPEG) stream in RECORD mode, for the live
benchmark's record-only comparison (`playback --live`): a publisher ANNOUNCEs, SETs UP with
mode=record and RECORDs into rtsp://127.0.0.1:<port>/<mount>, and the server depayloads the
frames into a fakesink, counting them. gst-rtsp-server cannot pass a recorded stream on to
viewers of the same path (a RECORD media factory only takes), so there is nothing to watch.

Run with Debian's python3 (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good):

    /usr/bin/python3 benches/scripts/gst-rtsp-record.py --port 0

Prints `PORT <n>` and `URL rtsp://127.0.0.1:<n>/<mount>` on stdout once it listens, then
`TAKEN {"frames": F, "bytes": B, "records": R}` (frames out of the depayloader so far, their JPEG
bytes, RECORD media prepared) whenever those change, within 200 ms; the last line is the count.
Ends on SIGINT or SIGTERM.
"""
import argparse
import json
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8554, help="RTSP port, 0 for any (default 8554)")
    parser.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--mount", default="live/cam", help="URL path (default 'live/cam')")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
    factory.set_launch("( rtpjpegdepay name=depay0 ! fakesink name=taken sync=false async=false )")
    factory.set_latency(0)
    counts = {"frames": 0, "bytes": 0, "records": 0}

    def on_buffer(_pad, info):
        buf = info.get_buffer()
        counts["frames"] += 1
        counts["bytes"] += buf.get_size()
        return Gst.PadProbeReturn.OK

    def on_configure(_factory, media):
        counts["records"] += 1
        sink = media.get_element().get_by_name("taken")
        if sink is not None:
            sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    factory.connect("media-configure", on_configure)
    server.get_mount_points().add_factory("/" + args.mount.strip("/"), factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.address}:{args.port}")
    port = server.get_bound_port()
    print(f"PORT {port}", flush=True)
    print(f"URL rtsp://{args.address}:{port}/{args.mount.strip('/')}", flush=True)
    loop = GLib.MainLoop()
    printed = {}

    def report():
        if counts != printed:
            printed.update(counts)
            print("TAKEN " + json.dumps(counts), flush=True)

    # The counts go out whenever they change (checked five times a second), not only at the
    # end: after a refused DESCRIBE on the RECORD path this process was seen to die of the
    # SIGTERM instead of running its handler (Python reset SIGTERM to the default and raised
    # it again), and with GLib.unix_signal_add it sometimes did so after a RECORD session alone.
    def tick():
        report()
        return True

    def on_signal(_sig, _frame):
        loop.quit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    GLib.timeout_add(200, tick)
    loop.run()
    report()

if __name__ == "__main__":
    main()
