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
}

/// A running sender.
#[derive(Debug)]
pub struct Sender {
    /// The URL to play.
    pub url: String,
    /// `None` once stopped.
    process: Option<Measured>,
}

impl Sender {
    /// Stops the sender and returns its cost.
    pub fn stop(mut self) -> Result<Usage> {
        match self.process.take() {
            Some(p) => p.stop(),
            None => Ok(Usage::default()),
        }
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
    start_server(file, fps, false)
}

/// Starts `hdstream-server` serving `file` at `fps` in a loop (for load runs).
pub fn our_server_looping(file: &Path, fps: u32) -> Result<Sender> {
    start_server(file, fps, true)
}

fn start_server(file: &Path, fps: u32, looping: bool) -> Result<Sender> {
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
        let process = Measured::spawn("hdstream-server", &mut cmd)?;
        if wait_for_port(port, Duration::from_secs(10)) {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Sender {
                url: format!("rtsp://127.0.0.1:{port}/{name}"),
                process: Some(process),
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
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut process = Measured::spawn("gst-rtsp-server", &mut cmd)?;
    let stdout = process.child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("URL ") {
                    return Ok(Sender {
                        url: url.to_owned(),
                        process: Some(process),
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
    })
}

/// How long past the stream's length GStreamer's client may run when the link is clean: it ends
/// on the server's RTCP BYE; the margin is for a pipeline that fell behind real time.
const GST_GRACE_CLEAN: Duration = Duration::from_secs(20);
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

/// Plays `url` with GStreamer: `rtspsrc ! rtpjpegdepay ! jpegdec ! fakesink sync=true`, with
/// `videoconvert ! video/x-raw,format=BGRx` before the sink for [`GstOutput::Bgrx`], counting
/// the frames that reach the sink. `impaired`: the link loses or reorders packets.
pub fn gst_client(
    url: &str,
    transport: Transport,
    seconds: u32,
    impaired: bool,
    output: GstOutput,
    retransmission: bool,
) -> Result<Received> {
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
    let counter = std::thread::spawn(move || {
        let mut frames = 0u64;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("fakesink0: last-message = chain") {
                frames += 1;
            }
        }
        frames
    });
    let grace = if impaired {
        GST_GRACE_IMPAIRED
    } else {
        GST_GRACE_CLEAN
    };
    let usage =
        process.wait_until(Instant::now() + Duration::from_secs(u64::from(seconds)) + grace)?;
    let frames = counter.join().unwrap_or(0);
    Ok(Received {
        frames_displayed: frames,
        report: None,
        usage,
        note: None,
    })
}

/// Plays `url` with `ffmpeg -f null`, counting decoded frames.
pub fn ffmpeg_client(url: &str, transport: Transport, seconds: u32) -> Result<Received> {
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
            }
            buf.clear();
        }
        last
    });
    let usage =
        process.wait_until(Instant::now() + Duration::from_secs(u64::from(seconds) + 20))?;
    let frames = reader.join().unwrap_or(0);
    Ok(Received {
        frames_displayed: frames,
        report: None,
        usage,
        note: None,
    })
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
