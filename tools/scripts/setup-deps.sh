#!/usr/bin/env bash
# Installs the Debian packages hdstream's tests and benchmark talk to: ffmpeg/ffprobe,
# GStreamer (gst-launch-1.0, rtspsrc, rtpjpegpay/depay, gst-rtsp-server through python3-gi,
# rtspclientsink for publishing),
# Xvfb for the window test, nftables for the in-kernel loss tests, a TrueType font for plots,
# openssl (test certificates), glib-networking (GStreamer's TLS for rtsps://), ca-certificates.
# curl: a Digest client of the HTTP port (server/tests/http.rs).
# chromium and python3-websocket: the browser tests drive headless Chromium over its DevTools
# protocol (tools/scripts/browser.py).
# python3-prometheus-client: a real Prometheus text-format parser for /metrics (server/tests/ops.rs).
# libopus-dev and pkg-config: hdstream-codec links Debian's libopus (Opus, RFC 7587).
# libasound2-dev: the client's sound device (cpal on ALSA; libasound2 and its alsa.conf come with
# it). Its test needs no sound card and no alsa-utils: it plays on ALSA's file and null plugins.
# Safe to run again: it installs only what is missing. Needs root (or sudo) the first time.
# `setup-deps.sh --list` prints the package names (CI installs them from that list).
# `setup-deps.sh --tests` also builds cargo-nextest, the README's test runner, where it is
# missing (a few minutes, once): the main job does not need it.
set -euo pipefail

PACKAGES=(
  ffmpeg
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-rtsp
  xvfb xauth libx11-6 libxcursor1 xdotool
  nftables iproute2
  fonts-dejavu-core
  openssl glib-networking ca-certificates curl python3-prometheus-client
  libopus-dev pkg-config
  libasound2-dev
  pocketsphinx pocketsphinx-en-us flite
  chromium python3-websocket
)

if [ "${1:-}" = "--list" ]; then
  echo "${PACKAGES[*]}"
  exit 0
fi

# The README's test command runs the tests with cargo-nextest (on this project's machines with
# the Rust toolchain); built from crates.io where it is missing.
if [ "${1:-}" = "--tests" ] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest from crates.io" >&2
  cargo install --locked cargo-nextest
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "hdstream needs these Debian packages: ${missing[*]}" >&2
    echo "install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
