#!/usr/bin/python3
"""Headless Chromium driven over the DevTools protocol, for the browser tests (issue 20).

    browser.py screenshots URL --size 640x360 --at 1.0 --at 2.5 --out DIR

opens URL in a fresh headless Chromium (Debian's `chromium`), its viewport exactly --size at
device scale 1, and takes a PNG screenshot --at each number of seconds after the page's load
event: DIR/shot-0.png, DIR/shot-1.png, ... It prints one JSON line: the files, the seconds each
was taken at, and what Chromium logged on the page's console.

Chromium's own `--screenshot` flag cannot do this: it captures once, as soon as the document
loads, and a `multipart/x-mixed-replace` image (an IP camera's, or hdstream's /watch) never ends.
The DevTools protocol (https://chromedevtools.github.io/devtools-protocol/) is Chromium's own
remote control: `Page.navigate`, `Page.captureScreenshot`, `Runtime.evaluate` over a WebSocket
(Debian's python3-websocket). Every wait is bounded; Chromium is killed on the way out.
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket

# As root in a container Chromium needs --no-sandbox; without the background-networking flags
# it tries Google's hosts at every start and this machine's closed network refuses them.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


class Chromium:
    """A headless Chromium and one page of it, driven over its DevTools WebSocket."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="hdstream-chromium-")
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            sys.exit("chromium is missing: apt-get install -y chromium")
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        port = self._devtools_port()
        page = self._first_page(port)
        self.ws = websocket.create_connection(page, timeout=timeout)
        self.next_id = 0
        self.console = []

    def _devtools_port(self):
        # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr.
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                if self.process.poll() is not None:
                    sys.exit(f"chromium exited ({self.process.returncode}) before listening")
                continue
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                return int(m.group(1))
        sys.exit("chromium did not open its DevTools port")

    def _first_page(self, port):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.05)
        sys.exit("chromium opened no page")

    def call(self, method, **params):
        """Sends one command and returns its result; events meanwhile are kept or dropped."""
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == mine:
                if "error" in message:
                    sys.exit(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)
        sys.exit(f"{method}: no answer in {self.timeout} s")

    def wait_event(self, name):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self._event(message)
            if message.get("method") == name:
                return message.get("params", {})
        sys.exit(f"no {name} in {self.timeout} s")

    def _event(self, message):
        if message.get("method") == "Runtime.consoleAPICalled":
            args = message["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def screenshots(args):
    width, height = (int(v) for v in args.size.split("x"))
    os.makedirs(args.out, exist_ok=True)
    browser = Chromium(args.timeout)
    try:
        browser.call("Page.enable")
        browser.call("Runtime.enable")
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.call("Page.navigate", url=args.url)
        browser.wait_event("Page.loadEventFired")
        loaded = time.monotonic()
        shots = []
        for k, at in enumerate(sorted(args.at)):
            pause = loaded + at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            taken = time.monotonic() - loaded
            data = browser.call("Page.captureScreenshot", format="png")["data"]
            path = os.path.join(args.out, f"shot-{k}.png")
            with open(path, "wb") as f:
                f.write(base64.b64decode(data))
            shots.append({"file": path, "seconds": round(taken, 3)})
        print(json.dumps({"shots": shots, "console": browser.console}))
    finally:
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    shot = commands.add_parser("screenshots", help="PNG screenshots of a page at given times")
    shot.add_argument("url")
    shot.add_argument("--size", default="1280x720", help="viewport WIDTHxHEIGHT")
    shot.add_argument("--at", type=float, action="append", required=True, help="seconds after load (repeat)")
    shot.add_argument("--out", required=True, help="directory for shot-N.png")
    shot.add_argument("--timeout", type=float, default=20.0, help="bound on every wait, seconds")
    args = parser.parse_args()
    if args.command == "screenshots":
        screenshots(args)


if __name__ == "__main__":
    main()
