#!/usr/bin/python3
"""A reference RTSP server from GStreamer (gst-rtsp-server, payloader rtpjpegpay) serving one
MJPEG file without re-encoding, for interop tests and the playback benchmark; with --wav, the
file's sound as a second track; with --record, taking a published stream instead.

Run with Debian's python3 (it needs python3-gi, gir1.2-gst-rtsp-server-1.0 and
gstreamer1.0-plugins-good):

    /usr/bin/python3 tools/scripts/gst-rtsp-server.py --file clip.mjpeg --fps 30 --port 0

Prints `PORT <n>` and `URL rtsp://127.0.0.1:<n>/<mount>` on stdout once it listens; serves
until killed. A plain MJPEG stream carries no timestamps, so the file is first remuxed without
re-encoding (`ffmpeg -c copy`, the JPEG bytes unchanged) into Matroska at --fps; the server's
sinks then pace the frames on the clock. Frames above 2040 px travel with width/height 0 and
`a=x-dimensions` in the SDP, as rtpjpegpay does.

With --wav FILE (16-bit PCM) the presentation has two tracks, rtpjpegpay (pay0) and rtpL16pay
(pay1, dynamic payload type, `a=rtpmap:96 L16/<rate>/<channels>`), paced on one pipeline clock
(client/tests/gst_audio.rs).

With --rtx-time MS the server offers retransmission (RFC 4588, `a=rtpmap:96 rtx/90000`,
`a=fmtp:96 apt=26;rtx-time=MS`) in the AVPF profile only: it answers RTCP NACKs with RTX packets
on a separate SSRC, and refuses RTP/AVP SETUPs with 461.

With --untimed the pipeline is the one many people write, `filesrc ! jpegparse ! rtpjpegpay`:
the frames carry no timestamps, so every RTP packet has one timestamp, nothing paces them (the
whole file leaves in a fraction of a second) and the SDP has no `a=framerate` — a sender whose
timestamps a client cannot use.

With --record (and no --file) it takes a published RFC 2435 (RTP/JPEG) stream in RECORD mode,
for the live benchmark's record-only comparison (`playback --live`): a publisher ANNOUNCEs, SETs
UP with mode=record and RECORDs into rtsp://127.0.0.1:<port>/<mount>, and the server depayloads
the frames into a fakesink, counting them. gst-rtsp-server cannot pass a recorded stream on to
viewers of the same path (a RECORD media factory only takes), so there is nothing to watch.
After `PORT` and `URL` it prints `TAKEN {"frames": F, "bytes": B, "records": R}` (frames out of
the depayloader so far, their JPEG bytes, RECORD media prepared) whenever those change, within
200 ms; the last line is the count. Ends on SIGINT or SIGTERM.
"""
import argparse
import json
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
    parser.add_argument("--file", help="plain (concatenated JPEG) MJPEG file (needed unless --record)")
    parser.add_argument("--wav", help="16-bit PCM WAV file served as a second track (L16)")
    parser.add_argument("--fps", type=int, default=30, help="frame rate (default 30)")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port, 0 for any (default 8554)")
    parser.add_argument("--address", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--mount", help="URL path (default 'stream', with --record 'live/cam')")
    parser.add_argument("--mtu", type=int, default=1400, help="RTP MTU (default 1400)")
    parser.add_argument("--rtx-time", type=int, default=0, metavar="MS",
                        help="offer retransmission (RFC 4588) kept MS ms, in the AVPF profile "
                             "(what rtspsrc needs before it sends NACKs); 0: off (default)")
    parser.add_argument("--untimed", action="store_true",
                        help="serve `filesrc ! jpegparse ! rtpjpegpay`: no timestamps, no pacing")
    parser.add_argument("--record", action="store_true",
                        help="take a published stream (RECORD) and count its frames; serve nothing")
    args = parser.parse_args()
    if args.mount is None:
        args.mount = "live/cam" if args.record else "stream"
    args.mount = args.mount.strip("/")
    if args.record:
        if args.file or args.wav or args.untimed:
            parser.error("--record takes no --file, --wav or --untimed")
        record(args)
        return
    if args.file is None:
        parser.error("--file is needed (or --record)")
    if args.untimed and args.wav:
        parser.error("--untimed serves no --wav")
    for path in (args.file, args.wav):
        if path is not None and not os.path.isfile(path):
            sys.exit(f"no such file: {path}")
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


def listen(args, factory):
    """Mounts `factory` at --mount on a server listening on --address:--port; prints `PORT` and
    `URL` once it listens and returns the server (kept until the end: it stops when freed)."""
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory("/" + args.mount, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.address}:{args.port}")
    port = server.get_bound_port()
    print(f"PORT {port}", flush=True)
    print(f"URL rtsp://{args.address}:{port}/{args.mount}", flush=True)
    return server


def serve(args, mkv):
    """Serves --file (remuxed into `mkv`, or as it is when `mkv` is None: --untimed) and --wav
    until SIGINT or SIGTERM."""
    Gst.init(None)
    factory = GstRtspServer.RTSPMediaFactory()
    if mkv is None:
        source = f'filesrc location="{os.path.abspath(args.file)}" ! jpegparse'
    else:
        source = f'filesrc location="{mkv}" ! matroskademux'
    launch = f"{source} ! rtpjpegpay name=pay0 pt=26 mtu={args.mtu}"
    if args.wav is not None:
        launch += (f' filesrc location="{os.path.abspath(args.wav)}" ! wavparse ! audioconvert'
                   f' ! audio/x-raw,format=S16BE ! rtpL16pay name=pay1 pt=96')
    factory.set_launch(f"( {launch} )")
    factory.set_shared(False)
    if args.rtx_time > 0:
        factory.set_retransmission_time(args.rtx_time * Gst.MSECOND)
        factory.set_profiles(GstRtsp.RTSPProfile.AVPF)
    server = listen(args, factory)  # noqa: F841 (kept while the loop runs)
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


def record(args):
    """Takes what publishers RECORD at --mount, counting the frames (`TAKEN` lines), until
    SIGINT or SIGTERM."""
    Gst.init(None)
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
    server = listen(args, factory)  # noqa: F841 (kept while the loop runs)
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
