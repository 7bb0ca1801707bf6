#!/usr/bin/env python3
"""A stand-in for the course's Python RTSP/RTP server ("Streaming video with RTSP and RTP"
lab), written from its protocol, for interop tests of hdstream-client's course dialect.

It behaves the way the course server does on the wire:
- requests are read with one recv(256) each and parsed by line position: line 0
  `METHOD file RTSP/1.0`, line 1 `CSeq: n`, line 2 `Transport: RTP/UDP; client_port= N`
  (SETUP: the port is the 4th space-separated word) or `Session: id`;
- replies are exactly `RTSP/1.0 200 OK\\nCSeq: n\\nSession: id` (LF, no blank line); a
  missing file gets no reply, as in the course code;
- media is the course's `movie.Mjpeg` container (5 ASCII digits of length before each JPEG),
  one whole JPEG per RTP packet: V=2, PT 26, marker 0, sequence number = frame number (from
  1), timestamp = wall-clock seconds, SSRC 0, one packet every 50 ms (20 fps);
- PAUSE stops the sender, PLAY resumes it, TEARDOWN ends it; at the end of the file the
  sender keeps running and sends nothing, as the course server does.

Usage: course-server.py PORT [--media-dir DIR]   (prints `PORT <n>` once listening; 0 = any)
Standard library only.
"""
import argparse
import os
import random
import socket
import struct
import sys
import threading
import time

FRAME_PERIOD = 0.05


class Stream:
    def __init__(self, path):
        self.file = open(path, "rb")
        self.number = 0

    def next_frame(self):
        length = self.file.read(5)
        if len(length) < 5:
            return None
        data = self.file.read(int(length))
        self.number += 1
        return data


def rtp_packet(seq, payload):
    header = struct.pack("!BBHII", 0x80, 26, seq & 0xFFFF, int(time.time()) & 0xFFFFFFFF, 0)
    return header + payload


class Worker(threading.Thread):
    def __init__(self, conn, addr, media_dir):
        super().__init__(daemon=True)
        self.conn, self.addr, self.media_dir = conn, addr, media_dir
        self.state = "INIT"
        self.session = 0
        self.stream = None
        self.rtp_port = None
        self.stop = None
        self.udp = None

    def run(self):
        while True:
            try:
                data = self.conn.recv(256)
            except OSError:
                break
            if not data:
                break
            self.handle(data.decode("utf-8", "replace"))
        if self.stop:
            self.stop.set()

    def reply(self, seq):
        msg = f"RTSP/1.0 200 OK\nCSeq: {seq}\nSession: {self.session}"
        self.conn.send(msg.encode())

    def handle(self, text):
        lines = text.split("\n")
        first = lines[0].split(" ")
        if len(lines) < 2 or len(first) < 2:
            return
        method, name = first[0], first[1]
        seq = lines[1].split(" ")[1] if len(lines[1].split(" ")) > 1 else "0"
        if method == "SETUP" and self.state == "INIT":
            path = os.path.join(self.media_dir, os.path.basename(name))
            try:
                self.stream = Stream(path)
            except OSError:
                print(f"404 NOT FOUND: {name}", file=sys.stderr)
                return
            self.state = "READY"
            self.session = random.randint(100000, 999999)
            self.rtp_port = int(lines[2].split(" ")[3])
            self.reply(seq)
        elif method == "PLAY" and self.state == "READY":
            self.state = "PLAYING"
            self.udp = self.udp or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.reply(seq)
            self.stop = threading.Event()
            threading.Thread(target=self.send, args=(self.stop,), daemon=True).start()
        elif method == "PAUSE" and self.state == "PLAYING":
            self.state = "READY"
            self.stop.set()
            self.reply(seq)
        elif method == "TEARDOWN":
            if self.stop:
                self.stop.set()
            self.reply(seq)

    def send(self, stop):
        while not stop.wait(FRAME_PERIOD):
            data = self.stream.next_frame()
            if data:
                try:
                    self.udp.sendto(rtp_packet(self.stream.number, data), (self.addr[0], self.rtp_port))
                except OSError as e:
                    print(f"send failed: {e}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
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
        Worker(conn, addr, args.media_dir).start()


if __name__ == "__main__":
    main()
