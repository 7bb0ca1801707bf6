#!/usr/bin/env bash
# Self-check of the course stand-ins (course-server.py and course-client.py) against each
# other, on 127.0.0.1 only. Needs python3 and ffmpeg (setup-deps.sh); takes about 2 minutes.
#
# For each variant (basic, hd, caching) it plays a 10 s 384x288 `movie.Mjpeg` (5-digit
# length prefixes) and a 10 s 1280x720 file of concatenated JPEGs, and checks that the client
# shows at least 95 % of the frames the server says it sent (`SENT <frames> <packets>`), each
# the exact bytes of the file's frame with that number, as far as the variant's recv size
# lets them through: the basic client's recv(20480) cuts the 720p frames (about 60 kB each),
# as the course client does, so there the shown frames must be exactly those cut bytes (and
# not ok). Then a missing file: basic/hd answer 200 and send nothing; caching stays silent,
# so its client gives up with exit code 2 within 5 s.
#
# Usage: course-selftest.sh [WORK_DIR]   (media are made there, default a temporary dir)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
server_pid=""
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

# --- media: ffmpeg also writes each frame to its own file, the reference for the checks ---
if [ ! -f "$work/media/hd.mjpeg" ]; then
  mkdir -p "$work/media" "$work/sd-frames" "$work/hd-frames"
  ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=384x288:rate=30 -t 10 -c:v mjpeg -q:v 3 \
    "$work/sd-frames/f%04d.jpg"
  ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -t 10 -c:v mjpeg -q:v 3 \
    -f mjpeg "$work/media/hd.mjpeg"
  ffmpeg -loglevel error -y -i "$work/media/hd.mjpeg" -c copy -f image2 "$work/hd-frames/f%04d.jpg"
  python3 - "$work" <<'EOF'
import glob, sys
work = sys.argv[1]
with open(f"{work}/media/movie.Mjpeg", "wb") as out:
    for name in sorted(glob.glob(f"{work}/sd-frames/*.jpg")):
        frame = open(name, "rb").read()
        out.write(b"%05d" % len(frame) + frame)
EOF
fi

start_server() { # variant -> sets server_pid, port
  python3 "$here/course-server.py" 0 --variant "$1" --media-dir "$work/media" \
    >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 200); do grep -q '^PORT ' "$work/server.out" && break; sleep 0.1; done
  port=$(awk '/^PORT /{print $2}' "$work/server.out")
  if [ -z "$port" ]; then echo "the $1 server did not start:" >&2; cat "$work/server.err" >&2; exit 1; fi
}

stop_server() {
  sleep 0.5  # lets the server print its TEARDOWN line
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

failed=0
for variant in basic hd caching; do
  for case in sd:movie.Mjpeg hd:hd.mjpeg; do
    frames=${case%%:*} file=${case#*:}
    start_server "$variant"
    python3 "$here/course-client.py" --variant "$variant" 127.0.0.1 "$port" 0 "$file" \
      --seconds 60 --json "$work/client.json" || true
    stop_server
    python3 - "$variant" "$work/$frames-frames" "$work/server.out" "$work/client.json" <<'EOF' || failed=1
import glob, json, sys, zlib
variant, frames_dir, server_out, client_json = sys.argv[1:]
frames = [open(f, "rb").read() for f in sorted(glob.glob(f"{frames_dir}/*.jpg"))]
sent_lines = [l.split() for l in open(server_out) if l.startswith("SENT ")]
sent = int(sent_lines[-1][1])
report = json.load(open(client_json))
shown = report["shown"]
limit = {"basic": 20480 - 12, "hd": None, "caching": None}[variant]  # recv size - RTP header
wrong = [s["number"] for s in shown
         if not 1 <= s["number"] <= len(frames)
         or zlib.crc32(frames[s["number"] - 1][:limit]) != s["crc32"]]
cut = limit is not None and max(map(len, frames)) > limit
ok = sum(s["ok"] for s in shown)
good = (not wrong and len(shown) >= 0.95 * sent
        and ok == (0 if cut else len(shown)) and sent == len(frames))
print(f"{'PASS' if good else 'FAIL'} {variant:8} {frames_dir.rsplit('/', 1)[1][:2]}: "
      f"sent {sent} frames ({sent_lines[-1][2]} packets), shown {len(shown)}, ok {ok}"
      f"{' (cut by recv)' if cut else ''}, lost {report['lost']}, skipped {report['skipped']}, "
      f"wrong bytes {len(wrong)}, total_frames {report['total_frames']}")
sys.exit(0 if good else 1)
EOF
  done
done

# --- a missing file -----------------------------------------------------------------------
for variant in basic hd caching; do
  start_server "$variant"
  t0=$(date +%s.%N)
  rc=0
  python3 "$here/course-client.py" --variant "$variant" 127.0.0.1 "$port" 0 missing.Mjpeg \
    --seconds 2 --json "$work/client.json" 2>"$work/client.err" || rc=$?
  t1=$(date +%s.%N)
  stop_server
  sent=$(grep '^SENT ' "$work/server.out" | tail -1 || true)
  if [ "$variant" = caching ]; then
    expect="exit 2 within 5 s, nothing sent"
    good=$(python3 -c "print($rc == 2 and $t1 - $t0 < 5 and not '$sent')")
  else
    expect="exit 0, nothing shown, SENT 0 0"
    good=$(python3 -c "import json; print($rc == 0 and json.load(open('$work/client.json'))['shown'] == [] and '$sent' == 'SENT 0 0')")
  fi
  if [ "$good" = True ]; then echo "PASS $variant missing file: $expect"; else
    echo "FAIL $variant missing file: expected $expect, got exit $rc, '$sent'"; failed=1; fi
done

exit $failed
