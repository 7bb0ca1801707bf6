#!/usr/bin/env python3
"""A stand-in for the course's Python RTSP/RTP servers ("Streaming video with RTSP and RTP"
lab), written from their protocol, for interop tests of hdstream's course dialect. The course
ships three servers, chosen here with --variant (default `basic`):

All variants, on the wire:
- each request is read with one recv(256) (a longer request is cut there, and its rest is
  read as the next request) and parsed by line position: line 0 `METHOD file RTSP/1.0`,
  line 1 `CSeq: n`, line 2 `Transport: RTP/UDP; client_port= N` (SETUP) or `Session: id`;
- replies are exactly `RTSP/1.0 200 OK\\nCSeq: n\\nSession: id` (bare LF, no blank line, one
  send); the session id is a random 6-digit integer chosen at SETUP;
- media files come in two containers, told apart by their first bytes: the course's
  `movie.Mjpeg` (each JPEG preceded by its length as 5 ASCII digits) and plain concatenated
  JPEGs (FF D8 ...; a frame is split off by walking its marker segments up to SOS, then the
  first FF D9 after SOS ends it);
- PAUSE stops the sender, PLAY resumes it (from the next frame), TEARDOWN ends it; at the end
  of the file the sender stops sending. RTP packets go to the client's TCP address at the
  client port given in SETUP, with V=2 and PT 26.

`basic`: the client port is the 4th space-separated word of line 2. One whole JPEG per RTP
  packet (a frame over the UDP limit fails to send, as in the course), marker 0, sequence
  number = frame number (from 1), timestamp = int(wall-clock seconds), SSRC 0, a frame every
  50 ms. A missing file still gets 200 to SETUP and PLAY; the sender then sends nothing.
`hd`: as basic for RTSP (missing file included), but each frame's raw JPEG bytes (no RFC 2435
  header) are cut into 1500-byte pieces, one per packet, sent back to back: sequence number
  +1 per piece (from 1), marker 0 on every piece, timestamp = frame number (1, 2, 3, ...),
  SSRC 0, a frame every 50 ms.
`caching`: the client port is found with the regex `client[_-]?port\\s*=\\s*(\\d+)` anywhere
  in the request; replies carry a 4th line `Total-Frames: N` (frames in the file); a missing
  file gets no reply at all. Raw JPEG bytes in 1400-byte pieces, marker 1 on the last piece
  of a frame, 90 kHz timestamps advancing 3000 per frame (from 0), SSRC 12345, sequence +1
  per piece, time.sleep(0.001) between pieces, frames on a 30 fps schedule (frame k of a
  PLAY due at its start + k/30 s; when behind, the next frame leaves at once, none skipped).

For tests (not course behaviour): the server prints `SENT <frames> <packets>` on stdout,
flushed, when a session's sender reaches the end of the file, and again on TEARDOWN (or on
connection close without TEARDOWN). A frame counts as sent when all its packets went out.
Debug output goes to stderr.

Usage: course-server.py PORT [--variant basic|hd|caching] [--media-dir DIR] [--address A]
(prints `PORT <n>` once listening; 0 = any port). One thread per connection. Standard
library only.
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import traceback

VARIANTS = ("basic", "hd", "caching")
PAYLOAD_TYPE = 26
BASIC_PERIOD = 0.05  # basic and hd: wait 50 ms, then send a frame
HD_PIECE = 1500
CACHING_PIECE = 1400
CACHING_FPS = 30
CACHING_TS_STEP = 3000  # 90 kHz / 30 fps
CACHING_SSRC = 12345
CACHING_PORT = re.compile(r"client[_-]?port\s*=\s*(\d+)")

_stdout_lock = threading.Lock()


def log(message):
    print(message, file=sys.stderr, flush=True)


def report_sent(frames, packets):
    """The test hook: one flushed `SENT <frames> <packets>` line on stdout (skipped when
    nobody reads stdout any more, e.g. a test that read only the PORT line)."""
    with _stdout_lock:
        try:
            print(f"SENT {frames} {packets}", flush=True)
        except OSError:
            pass


# --- media ------------------------------------------------------------------------------

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
STANDALONE = {0x01, SOI} | set(range(0xD0, 0xD8))  # TEM, SOI, RST0-7: no length field


def jpeg_end(data, start):
    """End offset (just past EOI) of the JPEG whose SOI is at `start`, or None when the data
    is cut short or is not a marker segment where one should be. Walks the marker segments up
    to SOS, then the first FF D9 after SOS ends the frame (entropy-coded data never holds
    FF D9: an FF there is followed by 00 or a restart marker)."""
    p = start + 2
    while p + 2 <= len(data):
        if data[p] != 0xFF:
            return None
        marker = data[p + 1]
        if marker == 0xFF:  # fill byte
            p += 1
        elif marker in STANDALONE:
            p += 2
        elif marker == EOI:
            return p + 2
        else:
            if p + 4 > len(data):
                return None
            p += 2 + int.from_bytes(data[p + 2:p + 4], "big")
            if marker == SOS:
                eoi = data.find(b"\xff\xd9", p)
                return None if eoi < 0 else eoi + 2
    return None


def split_plain(data):
    """The frames of concatenated JPEGs; bytes between frames are skipped, a cut-short last
    frame is dropped."""
    frames, pos = [], 0
    while True:
        start = data.find(b"\xff\xd8", pos)
        if start < 0:
            return frames
        end = jpeg_end(data, start)
        if end is None:
            pos = start + 2  # not a JPEG after all (or cut short): look further
        else:
            frames.append(data[start:end])
            pos = end


def split_course(data):
    """The frames of a `movie.Mjpeg`: 5 ASCII digits of length, then that many bytes. Like the
    course's VideoStream, a cut-short last frame is returned as far as it goes."""
    frames, pos = [], 0
    while pos + 5 <= len(data) and data[pos:pos + 5].isdigit():
        length = int(data[pos:pos + 5])
        frames.append(data[pos + 5:pos + 5 + length])
        pos += 5 + length
    return frames


class Media:
    """A media file's frames, read whole at SETUP; `number` is the last frame handed out
    (1-based), kept across PAUSE/PLAY."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\xff\xd8":
            self.frames = split_plain(data)
        elif data[:5].isdigit():
            self.frames = split_course(data)
        else:
            raise ValueError(f"{path}: neither a movie.Mjpeg nor concatenated JPEGs")
        self.number = 0

    def next_frame(self):
        if self.number >= len(self.frames):
            return None
        self.number += 1
        return self.frames[self.number - 1]


def rtp_packet(seq, timestamp, ssrc, payload, marker=False):
    """RTP header (V=2, no padding/extension/CSRC, PT 26) + payload."""
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | PAYLOAD_TYPE,
                         seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    return header + payload


# --- one RTSP connection ----------------------------------------------------------------

class Worker(threading.Thread):
    def __init__(self, conn, addr, media_dir, variant):
        super().__init__(daemon=True)
        self.conn, self.addr, self.media_dir, self.variant = conn, addr, media_dir, variant
        self.state = "INIT"
        self.session = 0
        self.media = None  # None with a session: basic/hd SETUP of a missing file
        self.rtp_port = None
        self.udp = None
        self.stop = None
        self.sender = None
        self.seq = 0  # hd/caching: last sequence number sent
        self.frames_sent = 0
        self.packets_sent = 0
        self.torn_down = False

    def run(self):
        try:
            while True:
                try:
                    data = self.conn.recv(256)
                except OSError:
                    break
                if not data:
                    break
                try:
                    self.handle(data.decode("utf-8", "replace"))
                except Exception:  # the course worker thread dies on a request it can't parse
                    log(f"request {data!r} failed:\n{traceback.format_exc()}")
                    break
        finally:
            self.stop_sender()
            if self.session and not self.torn_down:
                report_sent(self.frames_sent, self.packets_sent)
            self.conn.close()

    def reply(self, seq):
        msg = f"RTSP/1.0 200 OK\nCSeq: {seq}\nSession: {self.session}"
        if self.variant == "caching":
            msg += f"\nTotal-Frames: {len(self.media.frames) if self.media else 0}"
        self.conn.send(msg.encode())

    def client_port(self, text, lines):
        if self.variant == "caching":
            found = CACHING_PORT.search(text)
            if not found:
                raise ValueError("no client_port in SETUP")
            return int(found.group(1))
        return int(lines[2].split(" ")[3])

    def handle(self, text):
        lines = text.split("\n")
        method, name = lines[0].split(" ")[:2]
        seq = lines[1].split(" ")[1]
        log(f"{self.addr}: {method} {name} CSeq {seq}")
        if method == "SETUP" and self.state == "INIT":
            path = os.path.join(self.media_dir, os.path.basename(name))
            try:
                self.media = Media(path)
            except (OSError, ValueError) as e:
                log(f"404 NOT FOUND: {e}")
                if self.variant == "caching":
                    return  # no reply at all
                self.media = None  # basic/hd: answered anyway; the sender fails later
            self.state = "READY"
            self.session = random.randint(100000, 999999)
            self.rtp_port = self.client_port(text, lines)
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.reply(seq)
        elif method == "PLAY" and self.state == "READY":
            self.state = "PLAYING"
            self.reply(seq)
            self.stop_sender()
            self.stop = threading.Event()
            target = {"basic": self.send_basic, "hd": self.send_hd, "caching": self.send_caching}
            self.sender = threading.Thread(target=self.send_loop, args=(target[self.variant], self.stop),
                                           daemon=True)
            self.sender.start()
        elif method == "PAUSE" and self.state == "PLAYING":
            self.state = "READY"
            self.stop_sender()
            self.reply(seq)
        elif method == "TEARDOWN":
            self.stop_sender()
            self.reply(seq)
            if self.session:
                self.torn_down = True
                report_sent(self.frames_sent, self.packets_sent)

    def stop_sender(self):
        if self.stop:
            self.stop.set()
        if self.sender:
            self.sender.join(5)
            self.sender = None

    # --- senders: one thread per PLAY, stopped by its event -------------------------------

    def send_loop(self, send, stop):
        if self.media is None:
            log("sender: no video stream (the file was missing); sending nothing")
            return
        if send(stop):  # True: the end of the file was reached
            log(f"end of file after frame {self.media.number}")
            report_sent(self.frames_sent, self.packets_sent)

    def emit(self, packet):
        """Sends one datagram; False (logged) when it could not go, e.g. over the UDP limit."""
        try:
            self.udp.sendto(packet, (self.addr[0], self.rtp_port))
        except OSError as e:
            log(f"frame {self.media.number}: send failed: {e}")
            return False
        self.packets_sent += 1
        return True

    def send_basic(self, stop):
        while not stop.wait(BASIC_PERIOD):
            frame = self.media.next_frame()
            if frame is None:
                return True
            number = self.media.number
            if self.emit(rtp_packet(number, int(time.time()), 0, frame)):
                self.frames_sent += 1
        return False

    def send_hd(self, stop):
        while not stop.wait(BASIC_PERIOD):
            frame = self.media.next_frame()
            if frame is None:
                return True
            number = self.media.number
            ok = True
            for off in range(0, max(len(frame), 1), HD_PIECE):  # an empty frame: one empty piece
                self.seq += 1
                ok &= self.emit(rtp_packet(self.seq, number, 0, frame[off:off + HD_PIECE]))
            self.frames_sent += ok
        return False

    def send_caching(self, stop):
        start = time.monotonic()
        k = 0
        while not stop.wait(max(0.0, start + k / CACHING_FPS - time.monotonic())):
            frame = self.media.next_frame()
            if frame is None:
                return True
            timestamp = (self.media.number - 1) * CACHING_TS_STEP
            pieces = range(0, max(len(frame), 1), CACHING_PIECE)  # an empty frame: one empty piece
            ok = True
            for off in pieces:
                if off:
                    time.sleep(0.001)
                self.seq += 1
                last = off == pieces[-1]
                ok &= self.emit(rtp_packet(self.seq, timestamp, CACHING_SSRC,
                                           frame[off:off + CACHING_PIECE], marker=last))
            self.frames_sent += ok
            k += 1
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
    parser.add_argument("--variant", choices=VARIANTS, default="basic")
    parser.add_argument("--media-dir", default=".")
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.address, args.port))
    listener.listen(5)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        conn, addr = listener.accept()
        Worker(conn, addr, args.media_dir, args.variant).start()


if __name__ == "__main__":
    main()
