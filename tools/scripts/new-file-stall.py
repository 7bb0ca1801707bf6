#!/usr/bin/env python3
"""How long a DESCRIBE of a new, large file holds up the server (issue 22).

Starts `hdstream-server` on a fresh media directory holding a small clip, plays that clip to
one viewer (RTSP SETUP/PLAY over UDP; a thread notes every RTP packet's arrival time), then
hard-links BIG into the directory under a new name (so the server has never seen it) and sends
one DESCRIBE for it. Reports how long the DESCRIBE reply took, and the viewer's largest gap
between packets in the window around it, against its largest gap in a quiet window before.

    new-file-stall.py --server target/release/hdstream-server --small small.mjpeg \
        --big /work/tmp/big.mjpeg --runs 3 [--cold]

--cold drops the page cache before each DESCRIBE (root: /proc/sys/vm/drop_caches).
BIG must be on the same filesystem as --dir (a hard link, not a copy).
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def rtsp(sock, method, url, cseq, extra=""):
    req = f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}\r\n"
    t0 = time.monotonic()
    sock.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length:\s*(\d+)", head, re.I)
    if m:
        need = int(m.group(1))
        while len(rest) < need:
            rest += sock.recv(65536)
    return time.monotonic() - t0, head.decode(errors="replace")


def largest_gap(times, start, end):
    window = [t for t in times if start <= t <= end]
    if len(window) < 2:
        return float("nan")
    return max(b - a for a, b in zip(window, window[1:]))


def one_run(args, run):
    media = tempfile.mkdtemp(prefix="stall-", dir=args.dir)
    shutil.copy(args.small, os.path.join(media, "small.mjpeg"))
    port = 20000 + (os.getpid() + run * 7) % 20000
    server = subprocess.Popen(
        [args.server, "--media", media, "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                ctl = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        base = f"rtsp://127.0.0.1:{port}"
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        rport = rtp.getsockname()[1]
        rtsp(ctl, "DESCRIBE", f"{base}/small.mjpeg", 1, "Accept: application/sdp\r\n")
        _, head = rtsp(
            ctl,
            "SETUP",
            f"{base}/small.mjpeg",
            2,
            f"Transport: RTP/AVP;unicast;client_port={rport}-{rport + 1}\r\n",
        )
        session = re.search(r"Session:\s*([^;\r\n]+)", head).group(1)
        times = []
        stop = threading.Event()

        def receive():
            rtp.settimeout(0.2)
            while not stop.is_set():
                try:
                    rtp.recv(65536)
                    times.append(time.monotonic())
                except socket.timeout:
                    pass

        thread = threading.Thread(target=receive, daemon=True)
        thread.start()
        rtsp(ctl, "PLAY", f"{base}/small.mjpeg", 3, f"Session: {session}\r\n")
        time.sleep(2.0)
        quiet = (time.monotonic() - 1.5, time.monotonic())
        name = f"big{run}.mjpeg"
        os.link(args.big, os.path.join(media, name))
        if args.cold:
            subprocess.run(["sync"])
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        other = socket.create_connection(("127.0.0.1", port))
        t0 = time.monotonic()
        took, head = rtsp(other, "DESCRIBE", f"{base}/{name}", 1, "Accept: application/sdp\r\n")
        t1 = time.monotonic()
        time.sleep(0.5)
        stop.set()
        thread.join()
        status = head.split("\r\n")[0]
        normal = largest_gap(times, *quiet)
        during = largest_gap(times, t0 - 0.1, t1 + 0.3)
        other.close()
        ctl.close()
        return took, normal, during, status
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(media, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True)
    p.add_argument("--small", required=True)
    p.add_argument("--big", required=True)
    p.add_argument("--dir", help="where the media directories go (BIG's filesystem)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cold", action="store_true")
    args = p.parse_args()
    args.dir = args.dir or os.path.dirname(os.path.abspath(args.big))
    rows = []
    for run in range(args.runs):
        took, normal, during, status = one_run(args, run)
        rows.append((took, normal, during))
        print(
            f"run {run + 1}: DESCRIBE {took * 1000:.1f} ms ({status}); viewer's largest gap "
            f"{during * 1000:.1f} ms around it, {normal * 1000:.1f} ms before",
            flush=True,
        )
    med = [statistics.median(c) * 1000 for c in zip(*rows)]
    print(
        f"median ({'cold' if args.cold else 'warm'}): DESCRIBE {med[0]:.1f} ms; largest gap "
        f"{med[2]:.1f} ms around it, {med[1]:.1f} ms before"
    )


if __name__ == "__main__":
    sys.exit(main())
