//! The receivers and senders the benchmark runs: ours (`hdstream-client`, `hdstream-server`) and
//! the peers (GStreamer's `rtspsrc` pipeline, `ffmpeg`, gst-rtsp-server), each as a measured
//! child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::{Measured, Usage, bin_dir, free_port, wait_for_port};

/// Which lower transport the receiver asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// RTP over UDP.
    Udp,
    /// RTP interleaved in the RTSP connection.
    Tcp,
}

impl Transport {
    /// `udp` / `tcp`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// What one receiver reported.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// Frames shown (or decoded, for peers that do not show).
    pub frames_displayed: u64,
    /// Our client's JSON report, when the receiver is ours.
    pub report: Option<serde_json::Value>,
    /// The receiver process's cost.
    pub usage: Usage,
    /// A problem worth a note in the table.
    pub note: Option<String>,
    /// Live streams, peers: the frames due over the span the receiver showed frames in (by their
    /// timestamps), so that `frames_due - frames_displayed` frames were missed.
    pub frames_due: Option<u64>,
}

/// A running sender.
#[derive(Debug)]
pub struct Sender {
    /// The URL to play.
    pub url: String,
    /// `None` once stopped.
    process: Option<Measured>,
    /// The log lines kept ([`our_live_server`]), or the lines after `URL` (gst-rtsp-server).
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Sender {
    /// Stops the sender and returns its cost.
    pub fn stop(self) -> Result<Usage> {
        self.stop_with_log().map(|(usage, _)| usage)
    }

    /// Stops the sender and returns its cost and the lines of its output that were kept.
    pub fn stop_with_log(mut self) -> Result<(Usage, Vec<String>)> {
        let usage = match self.process.take() {
            Some(p) => p.stop()?,
            None => Usage::default(),
        };
        let log = self
            .log
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        Ok((usage, log))
    }

    /// The sender's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Measured::pid)
    }
}

impl Drop for Sender {
    /// A sender left behind by an early return (an error elsewhere in the run) is stopped too.
    fn drop(&mut self) {
        if let Some(p) = self.process.take() {
            let _ = p.stop();
        }
    }
}

/// Starts `hdstream-server` serving `file` at `fps`.
pub fn our_server(file: &Path, fps: u32) -> Result<Sender> {
    start_server(file, fps, false, false)
}

/// Starts `hdstream-server` serving `file` at `fps` in a loop (for load runs).
pub fn our_server_looping(file: &Path, fps: u32) -> Result<Sender> {
    start_server(file, fps, true, false)
}

/// Starts `hdstream-server` for publishers only (an empty media directory: no file indexed or
/// mapped) and keeps its `publishing ended` and `session ended` log lines
/// ([`Sender::stop_with_log`], [`frames_taken`], [`frames_skipped`]); its warnings go to
/// stderr. [`Sender::url`] names the directory: the live
/// paths are `rtsp://<its host:port>/live/<name>`.
pub fn our_live_server() -> Result<Sender> {
    let empty = live_media_dir();
    std::fs::create_dir_all(&empty)
        .with_context(|| format!("cannot create {}", empty.display()))?;
    start_server(&empty, 30, false, true)
}

/// `key=N` in a log line.
fn log_field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// The empty media directory of [`our_live_server`] (one per benchmark process; remove it at
/// the end).
pub fn live_media_dir() -> PathBuf {
    std::env::temp_dir().join(format!("hdstream-live-{}", std::process::id()))
}

/// Frames the server took from publishers, from its `publishing ended` lines (`frames=N`),
/// and the frames it found incomplete (`frames_lost=N`).
pub fn frames_taken(log: &[String]) -> Option<(u64, u64)> {
    let ended: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("publishing ended"))
        .collect();
    if ended.is_empty() {
        return None;
    }
    let sum = |key: &str| ended.iter().filter_map(|l| log_field(l, key)).sum::<u64>();
    Some((sum("frames"), sum("frames_lost")))
}

/// Frames the server skipped for its viewers (a stream more than `MAX_LAG` behind jumps to the
/// newest frame), from its `session ended` lines: per session, in the order they ended.
pub fn frames_skipped(log: &[String]) -> Vec<u64> {
    log.iter()
        .filter(|l| l.contains("session ended"))
        .filter_map(|l| log_field(l, "skipped"))
        .collect()
}

fn start_server(file: &Path, fps: u32, looping: bool, publishing_log: bool) -> Result<Sender> {
    for _ in 0..5 {
        let port = free_port()?;
        let mut cmd = Command::new(bin_dir()?.join("hdstream-server"));
        cmd.args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--fps",
            &fps.to_string(),
            "--media",
        ])
        .arg(file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        if looping {
            cmd.arg("--loop");
        }
        if publishing_log {
            cmd.env(
                "RUST_LOG",
                "warn,hdstream_server::publish=info,hdstream_server::core=info",
            )
            .stderr(Stdio::piped());
        }
        let mut process = Measured::spawn("hdstream-server", &mut cmd)?;
        let log = process.child.stderr.take().map(|stderr| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("publishing ended") || line.contains("session ended") {
                        kept.push(line);
                    } else if !line.contains(" INFO ") && !line.contains("live paths only") {
                        eprintln!("{line}");
                    }
                }
                kept
            })
        });
        if wait_for_port(port, Duration::from_secs(10)) {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Sender {
                url: format!("rtsp://127.0.0.1:{port}/{name}"),
                process: Some(process),
                log,
            });
        }
        let _ = process.stop();
    }
    bail!("hdstream-server did not start listening")
}

/// The script that runs gst-rtsp-server.
fn gst_server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/scripts/gst-rtsp-server.py")
}

/// Starts gst-rtsp-server (through Debian's python3-gi) serving `file` at `fps`; with
/// `retransmission`, it offers RTX (RFC 4588) in the AVPF profile, kept 1000 ms.
pub fn gst_server(file: &Path, fps: u32, retransmission: bool) -> Result<Sender> {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(gst_server_script())
        .args(["--port", "0", "--fps", &fps.to_string(), "--file"])
        .arg(file);
    if retransmission {
        cmd.args(["--rtx-time", "1000"]);
    }
    start_gst_script(cmd)
}

/// Starts gst-rtsp-server taking a publisher in RECORD mode at `rtsp://…/live/bench`
/// (`tools/scripts/gst-rtsp-server.py --record`: depayloads into a fakesink and counts the
/// frames; [`gst_frames_taken`] reads the count once it is stopped).
pub fn gst_record_server() -> Result<Sender> {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(gst_server_script())
        .args(["--record", "--port", "0", "--mount", "live/bench"]);
    start_gst_script(cmd)
}

/// Frames the record script's depayloader gave out (its last `TAKEN {...}` line).
pub fn gst_frames_taken(log: &[String]) -> Option<u64> {
    log.iter()
        .rev()
        .find_map(|l| l.strip_prefix("TAKEN "))
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|v| v["frames"].as_u64())
}

/// Runs one of the gst-rtsp-server scripts until it prints its URL.
fn start_gst_script(mut cmd: Command) -> Result<Sender> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut process = Measured::spawn("gst-rtsp-server", &mut cmd)?;
    let stdout = process.child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("URL ") {
                    // The rest of its output is kept (the record script's TAKEN line).
                    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect());
                    return Ok(Sender {
                        url: url.to_owned(),
                        process: Some(process),
                        log: Some(rest),
                    });
                }
            }
            _ => break,
        }
    }
    let _ = process.stop();
    bail!(
        "gst-rtsp-server did not start (needs: apt-get install -y python3-gi gir1.2-gst-rtsp-server-1.0)"
    )
}

/// A running `hdstream-publish`.
#[derive(Debug)]
pub struct Publisher {
    process: Option<Measured>,
    summary: Option<std::thread::JoinHandle<Option<serde_json::Value>>>,
}

/// What `hdstream-publish` said it did (its JSON summary).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Published {
    /// Frames sent whole.
    pub frames: u64,
    /// Frames not sent (the server away, or the publisher behind).
    pub skipped: u64,
    /// Sessions with the server.
    pub connections: u64,
}

impl Publisher {
    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Measured::pid)
    }

    /// Stops it (SIGTERM: it tears down and prints its summary) and returns its cost and
    /// summary.
    pub fn stop(mut self) -> Result<(Usage, Option<Published>)> {
        let usage = match self.process.take() {
            Some(p) => p.stop()?,
            None => Usage::default(),
        };
        let summary = self
            .summary
            .take()
            .and_then(|h| h.join().ok())
            .flatten()
            .map(|v| {
                let n = |k: &str| v[k].as_u64().unwrap_or(0);
                Published {
                    frames: n("frames"),
                    skipped: n("skipped"),
                    connections: n("connections"),
                }
            });
        Ok((usage, summary))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(p) = self.process.take() {
            let _ = p.stop();
        }
    }
}

/// Starts `hdstream-publish FILE URL --fps FPS --transport tcp` (the file looped, in real
/// time).
pub fn publisher(file: &Path, url: &str, fps: u32) -> Result<Publisher> {
    let mut cmd = Command::new(bin_dir()?.join("hdstream-publish"));
    cmd.arg(file)
        .args([url, "--fps", &fps.to_string(), "--transport", "tcp"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut process = Measured::spawn("hdstream-publish", &mut cmd)?;
    let stdout = process.child.stdout.take().context("no stdout")?;
    let summary = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .last()
    });
    Ok(Publisher {
        process: Some(process),
        summary: Some(summary),
    })
}

/// Plays `url` with `hdstream-client --headless` and reads its JSON report.
pub fn our_client(
    url: &str,
    transport: Transport,
    seconds: u32,
    json: &Path,
    more: &[&str],
) -> Result<Received> {
    let _ = std::fs::remove_file(json);
    let mut cmd = Command::new(bin_dir()?.join("hdstream-client"));
    cmd.arg(url)
        .args(more)
        .args([
            "--headless",
            "--transport",
            transport.name(),
            "--stats-json",
        ])
        .arg(json)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let process = Measured::spawn("hdstream-client", &mut cmd)?;
    let usage =
        process.wait_until(Instant::now() + Duration::from_secs(u64::from(seconds) + 30))?;
    let text = std::fs::read_to_string(json)
        .with_context(|| format!("hdstream-client wrote no {}", json.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text).context("bad client JSON")?;
    let frames = report["frames_displayed"].as_u64().unwrap_or(0);
    let note = (usage.code != Some(0)).then(|| format!("client exit {:?}", usage.code));
    Ok(Received {
        frames_displayed: frames,
        report: Some(report),
        usage,
        note,
        frames_due: None,
    })
}

/// How long past the stream's length GStreamer's client may run at most when the link is clean.
/// It should end on the server's RTCP BYE, and did until the server offered retransmission:
/// since then (`rtspsrc` `do-retransmission`, its default, and over TCP too) it takes the BYE,
/// lets its last frames out and sends EOS into its session, but the EOS never reaches the sink
/// and it runs on — and SIGINT (`-e`: an EOS from the top) does not end it either. So it is
/// stopped once the stream has played ([`GST_PLAYED`]); this is the bound for a pipeline that
/// fell behind real time.
const GST_GRACE_CLEAN: Duration = Duration::from_secs(20);
/// On a clean link GStreamer's client is stopped as soon as every frame of the stream has
/// reached its sink, or else once the stream's length has passed since its first frame reached
/// the sink, plus this, and no frame has come for [`GST_QUIET`]: first SIGINT (`-e`: an EOS
/// that lets out frames its jitter buffer still holds), then SIGKILL 3 s later. The server sent
/// its last packet about `latency` (500 ms) after the first frame was shown plus the stream's
/// length, so everything has arrived by then.
const GST_PLAYED: Duration = Duration::from_millis(1500);
/// See [`GST_PLAYED`]: a pipeline still passing frames (behind real time) is left to go on.
const GST_QUIET: Duration = Duration::from_millis(500);
/// From SIGINT to SIGKILL when every frame has reached the sink: nothing is left to let out.
const GST_ALL_SHOWN_KILL: Duration = Duration::from_millis(300);
/// The same through a lossy or reordering link. There `rtspsrc` does get the BYE (RFC 3550
/// §6.6) and sends EOS into its `rtpjitterbuffer`, but the jitter buffer never lets the EOS out
/// once sequence numbers are missing — seen with gst-rtsp-server as the sender too (GStreamer
/// 1.22) — so the pipeline is stopped with SIGINT (`-e`: a clean EOS) soon after the end.
const GST_GRACE_IMPAIRED: Duration = Duration::from_secs(5);

/// What GStreamer's client does with the decoded frames before its sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GstOutput {
    /// `jpegdec ! fakesink`: the decoder's own planes (I420 for 4:2:0 JPEG), no colour
    /// conversion — less work than our client, which converts every frame to 0RGB pixels.
    Decoded,
    /// `jpegdec ! videoconvert ! video/x-raw,format=BGRx ! fakesink`: converted to 32-bit
    /// pixels, the work our client does (its 0RGB `u32`s are B, G, R, x in memory).
    Bgrx,
}

impl GstOutput {
    /// The pipeline's elements between `jpegdec` and `fakesink`.
    fn elements(self) -> &'static [&'static str] {
        match self {
            GstOutput::Decoded => &[],
            GstOutput::Bgrx => &["videoconvert", "!", "video/x-raw,format=BGRx", "!"],
        }
    }
}

/// Plays `url` (`seconds` at `fps`) with GStreamer: `rtspsrc ! rtpjpegdepay ! jpegdec !
/// fakesink sync=true`, with `videoconvert ! video/x-raw,format=BGRx` before the sink for
/// [`GstOutput::Bgrx`], counting the frames that reach the sink. `impaired`: the link loses or
/// reorders packets.
pub fn gst_client(
    url: &str,
    transport: Transport,
    (seconds, fps): (u32, u32),
    impaired: bool,
    output: GstOutput,
    retransmission: bool,
) -> Result<Received> {
    let grace = if impaired {
        GST_GRACE_IMPAIRED
    } else {
        GST_GRACE_CLEAN
    };
    let length = Duration::from_secs(u64::from(seconds));
    let due = u64::from(seconds) * u64::from(fps);
    let bound = Instant::now() + length + grace;
    let kill = Duration::from_secs(3);
    let stop = move |sink: &SinkTimes| -> (Instant, Duration) {
        match (impaired, sink.first, sink.last) {
            (false, Some(_), Some(last)) if sink.frames >= due => (last, GST_ALL_SHOWN_KILL),
            (false, Some(first), Some(last)) => (
                (first + length + GST_PLAYED)
                    .max(last + GST_QUIET)
                    .min(bound),
                kill,
            ),
            _ => (bound, kill),
        }
    };
    gst_run(url, transport, output, retransmission, stop).map(|(rx, _)| rx)
}

/// The frames that reached GStreamer's sink so far, and when the first and the latest did.
#[derive(Debug, Clone, Copy, Default)]
struct SinkTimes {
    frames: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// GStreamer's client (as [`gst_client`]) on a live stream of `fps` frames per second, stopped
/// (SIGINT, a clean EOS) after `seconds`. [`Received::frames_due`]: the frames between the first
/// and the last at the sink by their timestamps (PTS), so what it missed in between is
/// `frames_due - frames_displayed`.
pub fn gst_live_client(
    url: &str,
    transport: Transport,
    seconds: u32,
    output: GstOutput,
    fps: u32,
) -> Result<Received> {
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds));
    let stop = |_: &SinkTimes| (deadline, Duration::from_secs(3));
    let (mut rx, pts) = gst_run(url, transport, output, true, stop)?;
    rx.frames_due = pts.map(|(first, last)| ((last - first) * f64::from(fps)).round() as u64 + 1);
    Ok(rx)
}

/// Runs GStreamer's client until it ends or `stop`'s deadline (then SIGINT, and SIGKILL after
/// `stop`'s wait; asked again as frames reach the sink); the frames at its sink and the first
/// and last of their timestamps, seconds.
fn gst_run(
    url: &str,
    transport: Transport,
    output: GstOutput,
    retransmission: bool,
    stop: impl Fn(&SinkTimes) -> (Instant, Duration),
) -> Result<(Received, Option<(f64, f64)>)> {
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.args(["-e", "-v", "rtspsrc"])
        .arg(format!("location={url}"))
        .arg(format!("protocols={}", transport.name()))
        .arg(format!("do-retransmission={retransmission}"))
        .args(["latency=500", "!", "rtpjpegdepay", "!", "jpegdec", "!"])
        .args(output.elements())
        .args(["fakesink", "sync=true", "silent=false"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut process = Measured::spawn(
        "gst-launch-1.0 (install: apt-get install -y gstreamer1.0-tools gstreamer1.0-plugins-good)",
        &mut cmd,
    )?;
    let stdout = process.child.stdout.take().context("no stdout")?;
    let sink = std::sync::Arc::new(std::sync::Mutex::new(SinkTimes::default()));
    let times = sink.clone();
    let counter = std::thread::spawn(move || {
        let mut frames = 0u64;
        let mut pts: Option<(f64, f64)> = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("fakesink0: last-message = chain") {
                if let Ok(mut t) = times.lock() {
                    let now = Instant::now();
                    t.first.get_or_insert(now);
                    t.last = Some(now);
                    t.frames += 1;
                }
                frames += 1;
                if let Some(t) = gst_pts(&line) {
                    pts = Some(pts.map_or((t, t), |(first, _)| (first, t)));
                }
            }
        }
        (frames, pts)
    });
    let usage = process.wait_until_with(|| stop(&sink.lock().map(|t| *t).unwrap_or_default()))?;
    let (frames, pts) = counter.join().unwrap_or((0, None));
    let rx = Received {
        frames_displayed: frames,
        usage,
        ..Received::default()
    };
    Ok((rx, pts))
}

/// The `pts: H:MM:SS.NNNNNNNNN` of a fakesink `last-message` line, in seconds.
fn gst_pts(line: &str) -> Option<f64> {
    let t = line.split("pts: ").nth(1)?.split(',').next()?;
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.trim().parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Plays `url` with `ffmpeg -f null`, counting decoded frames.
pub fn ffmpeg_client(url: &str, transport: Transport, seconds: u32) -> Result<Received> {
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 20);
    ffmpeg_run(url, transport, deadline).map(|(rx, _)| rx)
}

/// `ffmpeg -f null` (as [`ffmpeg_client`]) on a live stream of `fps` frames per second,
/// stopped (SIGINT: it ends cleanly) after `seconds`. [`Received::frames_due`]: the frames its
/// output time (`time=`, the end of the last frame from the start of the first) covers.
pub fn ffmpeg_live_client(
    url: &str,
    transport: Transport,
    seconds: u32,
    fps: u32,
) -> Result<Received> {
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds));
    let (mut rx, time) = ffmpeg_run(url, transport, deadline)?;
    rx.frames_due = time.map(|t| (t * f64::from(fps)).round() as u64);
    Ok(rx)
}

/// Runs `ffmpeg -f null` until it ends or `deadline` (then SIGINT): frames decoded, and the
/// last `time=` of its progress lines, seconds.
fn ffmpeg_run(
    url: &str,
    transport: Transport,
    deadline: Instant,
) -> Result<(Received, Option<f64>)> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-nostdin",
        "-hide_banner",
        "-rtsp_transport",
        transport.name(),
        "-i",
        url,
        "-f",
        "null",
        "-",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut process = Measured::spawn("ffmpeg (install: apt-get install -y ffmpeg)", &mut cmd)?;
    let stderr = process.child.stderr.take().context("no stderr")?;
    let reader = std::thread::spawn(move || {
        let mut last = 0u64;
        let mut time = None;
        let mut buf = Vec::new();
        let mut r = BufReader::new(stderr);
        // Progress lines end in '\r'.
        while r
            .read_until(b'\r', &mut buf)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            let s = String::from_utf8_lossy(&buf);
            for part in s.split("frame=").skip(1) {
                if let Some(n) = part.split_whitespace().next().and_then(|n| n.parse().ok()) {
                    last = n;
                }
                if let Some(t) = part
                    .split("time=")
                    .nth(1)
                    .and_then(|t| t.split_whitespace().next())
                    .and_then(ffmpeg_time)
                {
                    time = Some(t);
                }
            }
            buf.clear();
        }
        (last, time)
    });
    let usage = process.wait_until(deadline)?;
    let (frames, time) = reader.join().unwrap_or((0, None));
    let rx = Received {
        frames_displayed: frames,
        usage,
        ..Received::default()
    };
    Ok((rx, time))
}

/// ffmpeg's `HH:MM:SS.ss`, in seconds.
fn ffmpeg_time(t: &str) -> Option<f64> {
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// Whether `program` runs here.
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether gst-rtsp-server can be loaded through Debian's python3-gi.
pub fn gst_server_available() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running impairment relay in front of a server; stopped when dropped.
#[derive(Debug)]
pub struct Relay {
    /// The URL to play through the relay.
    pub url: String,
    process: Option<Measured>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(p) = self.process.take() {
            let _ = p.stop();
        }
    }
}

/// Starts the `impair` relay in front of `url` with `spec` and `seed`.
pub fn relay(url: &str, spec: &str, seed: u64) -> Result<Relay> {
    let rest = url.strip_prefix("rtsp://").context("rtsp:// URL")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut cmd = Command::new(bin_dir()?.join("impair"));
    cmd.args([
        "--upstream",
        authority,
        "--listen",
        "127.0.0.1:0",
        "--spec",
        spec,
        "--seed",
        &seed.to_string(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut process = Measured::spawn("impair", &mut cmd)?;
    let stdout = process.child.stdout.take().context("no stdout")?;
    let line = BufReader::new(stdout)
        .lines()
        .next()
        .transpose()?
        .unwrap_or_default();
    let Some(listen) = line.strip_prefix("LISTEN ") else {
        let _ = process.stop();
        bail!("impair did not start: {line:?}");
    };
    Ok(Relay {
        url: format!("rtsp://{listen}/{path}"),
        process: Some(process),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gstreamer_and_ffmpeg_times_parse() {
        let line = "/GstPipeline:pipeline0/GstFakeSink:fakesink0: last-message = chain   ******* \
                    (fakesink0:sink) (1382400 bytes, dts: none, pts: 0:00:03.933574877, duration: \
                    0:00:00.033333333, offset: -1)";
        assert!((gst_pts(line).unwrap() - 3.933_574_877).abs() < 1e-9);
        assert_eq!(ffmpeg_time("00:01:04.63"), Some(64.63));
        assert_eq!(ffmpeg_time("N/A"), None);
    }

    #[test]
    fn the_servers_log_says_what_it_took_and_skipped() {
        let log = [
            "2026-11-29T15:52:21Z  INFO hdstream_server::core: session ended session=1 peer=127.0.0.1:1 \
             media=live/bench reason=\"teardown\" frames=150 packets=8996 bytes=1 skipped=3 unsendable=0"
                .to_owned(),
            "2026-11-29T15:52:23Z  INFO hdstream_server::publish: publishing ended path=\"live/bench\" \
             why=\"teardown\" frames=241 frames_lost=2 packets=14429"
                .to_owned(),
        ];
        assert_eq!(frames_taken(&log), Some((241, 2)));
        assert_eq!(frames_skipped(&log), vec![3]);
        assert_eq!(frames_taken(&log[..1]), None);
        assert_eq!(
            gst_frames_taken(&["TAKEN {\"frames\": 60, \"bytes\": 1, \"records\": 1}".to_owned()]),
            Some(60)
        );
    }
}
