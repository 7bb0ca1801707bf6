#!/usr/bin/env python3
"""A headless stand-in for the course's Python RTSP clients ("Streaming video with RTSP and
RTP" lab), written from their protocol, for interop tests of hdstream-server's course
dialect. The course ships three clients, chosen with --variant; this one plays like the
chosen one but, instead of drawing frames, records every frame it would hand to its picture
widget.

RTSP, all variants (one TCP connection; each request in one send):
- requests are `SETUP <file> RTSP/1.0\\nCSeq: n\\nTransport: RTP/UDP; client_port= N`, then
  `PLAY`/`TEARDOWN <file> RTSP/1.0\\nCSeq: n\\nSession: id` (bare LF, no trailing line end or
  blank line); CSeq starts at 1 and goes up by one;
- a reply is read by line position: line 0 must be `RTSP/1.0 200 OK`, line 1 `CSeq: n` with
  the request's n, line 2 `Session: id` with an integer id (taken from the SETUP reply, and
  the same in later replies); the caching client also reads `Total-Frames: N` from line 3
  when present (its progress bar), the others ignore lines past 2.
- the RTP port is bound before SETUP (0 = any free port, and the real one is sent); a
  datagram is read with one recv(size) on it, so a larger one is cut to that size; the RTP
  header is the first 12 bytes, the payload the rest.

Playing, by variant:
`basic` (recv(20480)): each packet's payload is a whole JPEG; a packet is shown when its
  sequence number is above the last shown one (no wrap handling), others are dropped late.
  Frame number = sequence number.
`hd` (recv(20480)): pieces are gathered by RTP timestamp. A piece with a higher timestamp
  than the current one starts a new frame (the old buffer is dropped, counted lost if it was
  not shown); pieces with lower timestamps are ignored. A frame is shown once its gathered
  bytes start with FF D8 and contain FF D9 (shown: all bytes gathered so far); later pieces
  of a shown frame are ignored. Frame number = timestamp.
`caching` (recv(65536)): pieces are gathered by timestamp; a frame ends on the marker bit or
  when the timestamp changes; frames under 100 bytes are ignored. Playing starts once 20
  frames are buffered, then a tick every 50 ms (fixed 20 fps schedule) shows the next
  buffered frame; a tick that comes k whole intervals late first drops k buffered frames
  unshown. Frame number = (timestamp - first timestamp) / step + 1, where step is the
  smallest positive timestamp difference between consecutive frames seen so far.

--show-ms MS models what showing a frame costs the course client (decoding the JPEG and
drawing it into its Tk widget, on the thread that also reads the socket, which holds
Python's GIL): each frame shown keeps the reading loop busy for MS milliseconds, during which
datagrams wait in the socket's receive buffer (the default size: it is never enlarged) and
what does not fit is dropped by the kernel. Default 0: the stand-in's own cost only.

It stops once --seconds (default 20) have passed since PLAY, or when no packet has come for
1.5 s after at least one did (and, for caching, its buffer is played out); then it sends
TEARDOWN, reads that reply and writes a JSON report (to --json, else stdout):
  {"variant": str, "session": int, "total_frames": int|null,
   "shown": [{"number": int, "crc32": int, "length": int, "ok": bool}, ...],
   "lost": int, "skipped": int, "packets": int, "bytes": int, "drops": int|null,
   "replies": [str, ...]}
`shown` is in showing order; crc32 is zlib.crc32 of the exact bytes shown; ok = those bytes
start with FF D8 and end with FF D9. `packets`/`bytes` count datagrams and the bytes recv
returned (headers included). `lost`: basic - sequence numbers jumped over between shown
frames; hd - frame buffers dropped unshown (including the last one at the stop); caching -
frame numbers up to the highest buffered that were never buffered (under 100 bytes
included), plus an unfinished frame at the stop. `skipped`: basic - late packets dropped;
hd - late pieces ignored; caching - buffered frames dropped by late ticks. `drops`: datagrams
the kernel dropped for want of room in the RTP socket's receive buffer (the `drops` column of
/proc/net/udp; null where it cannot be read).

Never hangs: a missing, malformed or non-200 reply (or no connection) ends it within 5 s
with a message on stderr and exit code 2 (no report). Standard library only.

Usage: course-client.py --variant basic|hd|caching HOST PORT RTP_PORT FILE
                        [--seconds S] [--show-ms MS] [--json OUT]
"""
import argparse
import collections
import json
import select
import socket
import struct
import sys
import time
import zlib

VARIANTS = ("basic", "hd", "caching")
RECV_SIZE = {"basic": 20480, "hd": 20480, "caching": 65536}
REPLY_TIMEOUT = 4.0  # connect and each reply; a missing reply fails within 5 s
IDLE_STOP = 1.5  # seconds without a packet (after the first) that end the play
SOI, EOI = b"\xff\xd8", b"\xff\xd9"


class ProtocolError(Exception):
    pass


# --- RTSP -------------------------------------------------------------------------------

class Rtsp:
    """The course client's RTSP side: positional requests and replies on one connection."""

    def __init__(self, host, port, file, variant):
        self.file, self.variant = file, variant
        self.cseq = 0
        self.session = 0
        self.total_frames = None
        self.replies = []
        try:
            self.sock = socket.create_connection((host, port), timeout=REPLY_TIMEOUT)
        except OSError as e:
            raise ProtocolError(f"cannot connect to {host}:{port}: {e}")

    def request(self, method, header):
        """Sends `METHOD file RTSP/1.0\\nCSeq: n\\n<header>` and checks the reply."""
        self.cseq += 1
        text = f"{method} {self.file} RTSP/1.0\nCSeq: {self.cseq}\n{header}"
        try:
            self.sock.send(text.encode())
        except OSError as e:
            raise ProtocolError(f"{method}: send failed: {e}")
        self.check(method, self.read_reply(method))

    def read_reply(self, method):
        """Reads until the reply has its three lines (a server sends it in one send; a fourth
        line sent with it comes along), the connection closes, or REPLY_TIMEOUT passes."""
        deadline = time.monotonic() + REPLY_TIMEOUT
        data = b""
        while data.count(b"\n") < 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError(f"no reply to {method} within {REPLY_TIMEOUT} s (got {data!r})")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1024)
            except socket.timeout:
                continue
            except OSError as e:
                raise ProtocolError(f"{method}: {e}")
            if not chunk:
                if data:
                    break
                raise ProtocolError(f"connection closed without a reply to {method}")
            data += chunk
        text = data.decode("utf-8", "replace")
        self.replies.append(text)
        return text

    def check(self, method, text):
        lines = text.split("\n")
        if lines[0] != "RTSP/1.0 200 OK":
            raise ProtocolError(f"{method}: status line {lines[0]!r}, not 'RTSP/1.0 200 OK'")
        try:
            cseq = int(lines[1].split(" ")[1])
            session = int(lines[2].split(" ")[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"{method}: reply {text!r} has no `CSeq: n` / `Session: id` lines")
        if cseq != self.cseq:
            raise ProtocolError(f"{method}: reply CSeq {cseq}, request CSeq {self.cseq}")
        if method == "SETUP":
            self.session = session
        elif session != self.session:
            raise ProtocolError(f"{method}: reply session {session}, SETUP gave {self.session}")
        if self.variant == "caching" and len(lines) > 3 and lines[3].startswith("Total-Frames:"):
            try:
                self.total_frames = int(lines[3].split(":", 1)[1])
            except ValueError:
                raise ProtocolError(f"{method}: bad line {lines[3]!r}")


# --- players: what each course client does with the packets ------------------------------

def busy(ms):
    """Keeps this thread (and the GIL) busy for `ms` milliseconds, as drawing a picture does."""
    end = time.perf_counter() + ms / 1000.0
    while time.perf_counter() < end:
        pass


class Player:
    show_ms = 0.0

    def __init__(self):
        self.shown = []
        self.lost = 0
        self.skipped = 0

    def show(self, number, data):
        if self.show_ms:
            busy(self.show_ms)
        data = bytes(data)
        self.shown.append({"number": number, "crc32": zlib.crc32(data), "length": len(data),
                           "ok": data.startswith(SOI) and data.endswith(EOI)})

    def tick(self, now):
        """Runs due playback ticks; returns the time of the next one (None: not ticking)."""
        return None

    def played_out(self):
        return True

    def finish(self):
        pass


class BasicPlayer(Player):
    """One whole JPEG per packet; shows a packet whose sequence number is above the last."""

    def __init__(self):
        super().__init__()
        self.last = 0

    def packet(self, data, now):
        seq = struct.unpack("!H", data[2:4])[0]
        if seq > self.last:
            self.lost += seq - self.last - 1
            self.last = seq
            self.show(seq, data[12:])
        else:
            self.skipped += 1


class HdPlayer(Player):
    """Pieces gathered by timestamp; a frame is shown once its bytes hold SOI...EOI."""

    def __init__(self):
        super().__init__()
        self.timestamp = None
        self.buffer = bytearray()
        self.done = False  # the current frame was shown

    def packet(self, data, now):
        timestamp = struct.unpack("!I", data[4:8])[0]
        payload = data[12:]
        if self.timestamp is None or timestamp > self.timestamp:
            self.finish()
            self.timestamp, self.buffer, self.done = timestamp, bytearray(payload), False
            self.try_show(0)
        elif timestamp == self.timestamp:
            if not self.done:
                old = len(self.buffer)
                self.buffer += payload
                self.try_show(old)
        else:
            self.skipped += 1

    def try_show(self, old):
        # Only the new bytes (and the one before them) can complete an FF D9.
        if self.buffer.startswith(SOI) and self.buffer.find(EOI, max(0, old - 1)) >= 0:
            self.show(self.timestamp, self.buffer)
            self.done = True

    def finish(self):
        """Drops the current buffer, counting it lost if it was not shown."""
        if self.timestamp is not None and not self.done:
            self.lost += 1
        self.done = True


class CachingPlayer(Player):
    """Frames assembled by timestamp/marker into a buffer, played at 20 fps after 20."""

    START_AFTER = 20
    TICK = 0.05
    MIN_FRAME = 100

    def __init__(self):
        super().__init__()
        self.timestamp = None  # of the frame being assembled
        self.pending = bytearray()
        self.buffer = collections.deque()  # (timestamp, bytes)
        self.next_tick = None  # None until playing starts
        self.first = None
        self.previous = None
        self.step = None
        self.buffered = set()  # timestamps of frames that reached the buffer

    def packet(self, data, now):
        timestamp = struct.unpack("!I", data[4:8])[0]
        marker = data[1] & 0x80
        if self.timestamp is not None and timestamp != self.timestamp:
            self.complete(now)
        self.timestamp = timestamp
        self.pending += data[12:]
        if marker:
            self.complete(now)

    def complete(self, now):
        timestamp, data = self.timestamp, bytes(self.pending)
        self.timestamp, self.pending = None, bytearray()
        if self.first is None:
            self.first = timestamp
        elif self.previous is not None:
            diff = (timestamp - self.previous) & 0xFFFFFFFF
            if 0 < diff < 0x80000000 and (self.step is None or diff < self.step):
                self.step = diff
        self.previous = timestamp
        if len(data) < self.MIN_FRAME:
            return
        self.buffered.add(timestamp)
        self.buffer.append((timestamp, data))
        if self.next_tick is None and len(self.buffer) >= self.START_AFTER:
            self.next_tick = now

    def number(self, timestamp):
        if not self.step:
            return 1
        return ((timestamp - self.first) & 0xFFFFFFFF) // self.step + 1

    def tick(self, now):
        while self.next_tick is not None and now >= self.next_tick:
            late = int((now - self.next_tick) / self.TICK)  # whole intervals late
            for _ in range(min(late, len(self.buffer))):
                self.buffer.popleft()
                self.skipped += 1
            if self.buffer:
                timestamp, data = self.buffer.popleft()
                self.show(self.number(timestamp), data)
            self.next_tick += (late + 1) * self.TICK
        return self.next_tick

    def played_out(self):
        return not self.buffer

    def finish(self):
        numbers = {self.number(t) for t in self.buffered}
        if numbers:
            self.lost += max(numbers) - len(numbers)
        if self.timestamp is not None:
            self.lost += 1  # a frame never finished


PLAYERS = {"basic": BasicPlayer, "hd": HdPlayer, "caching": CachingPlayer}


# --- the session -------------------------------------------------------------------------

def kernel_drops(sock):
    """Datagrams the kernel dropped on `sock` (its receive buffer was full): the last column
    of its line in /proc/net/udp; None where that cannot be read."""
    port = sock.getsockname()[1]
    try:
        with open("/proc/net/udp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    return int(fields[-1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def play(args):
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("", args.rtp_port))
    rtp_port = rtp.getsockname()[1]
    rtsp = Rtsp(args.host, args.port, args.file, args.variant)
    rtsp.request("SETUP", f"Transport: RTP/UDP; client_port= {rtp_port}")
    rtsp.request("PLAY", f"Session: {rtsp.session}")

    player = PLAYERS[args.variant]()
    player.show_ms = args.show_ms
    size = RECV_SIZE[args.variant]
    deadline = time.monotonic() + args.seconds
    last_packet = None
    packets = received = 0
    while True:
        now = time.monotonic()
        next_tick = player.tick(now)
        if now >= deadline:
            break
        if last_packet is not None and now - last_packet >= IDLE_STOP and player.played_out():
            break
        wake = deadline
        if next_tick is not None:
            wake = min(wake, next_tick)
        if last_packet is not None and last_packet + IDLE_STOP > now:
            wake = min(wake, last_packet + IDLE_STOP)
        ready, _, _ = select.select([rtp], [], [], max(0.0, wake - now))
        if not ready:
            continue
        data = rtp.recv(size)
        packets += 1
        received += len(data)
        last_packet = time.monotonic()
        if len(data) >= 12:
            player.packet(data, last_packet)
    player.finish()
    drops = kernel_drops(rtp)

    rtsp.request("TEARDOWN", f"Session: {rtsp.session}")
    rtsp.sock.close()
    rtp.close()
    return {"variant": args.variant, "session": rtsp.session, "total_frames": rtsp.total_frames,
            "shown": player.shown, "lost": player.lost, "skipped": player.skipped,
            "packets": packets, "bytes": received, "drops": drops, "replies": rtsp.replies}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("rtp_port", type=int, help="UDP port to receive RTP on (0 = any)")
    parser.add_argument("file", help="the file name sent in the requests")
    parser.add_argument("--seconds", type=float, default=20.0, help="longest play, from PLAY")
    parser.add_argument("--show-ms", type=float, default=0.0,
                        help="milliseconds each frame shown keeps the reading loop busy")
    parser.add_argument("--json", help="write the report here instead of stdout")
    args = parser.parse_args()
    try:
        report = play(args)
    except ProtocolError as e:
        print(f"course-client: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    text = json.dumps(report)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text, flush=True)


if __name__ == "__main__":
    main()
