//! The benchmark's results: one row per (resolution, transport, sender, receiver), printed as a
//! table and written as JSON and CSV.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::peers::{Received, Transport};
use crate::process::Usage;

/// One measured playback.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// e.g. `1440p60`.
    pub resolution: String,
    /// Frame width.
    pub width: u16,
    /// Frame height.
    pub height: u16,
    /// The file's frame rate.
    pub target_fps: f64,
    /// `udp` or `tcp`.
    pub transport: Transport,
    /// Who sent: `hdstream-server` or `gst-rtsp-server`.
    pub sender: String,
    /// Who received: `hdstream-client`, `gstreamer` (JPEG to I420, no colour conversion),
    /// `gstreamer (BGRx)` (JPEG to 32-bit pixels, as our client) or `ffmpeg`.
    pub receiver: String,
    /// The impairment relay's spec (`--impair`), empty on a clean loopback.
    pub impair: String,
    /// Frames in the file.
    pub frames_expected: u64,
    /// Frames shown (peers: decoded).
    pub frames_displayed: u64,
    /// Displayed frames per second of stream time.
    pub fps_displayed: f64,
    /// Frames lost in transit (ours only).
    pub frames_lost: Option<u64>,
    /// Frames shown with lost restart intervals taken from the frame before (ours only).
    pub frames_concealed: Option<u64>,
    /// Frames dropped as late (ours only).
    pub frames_late: Option<u64>,
    /// Frames that failed to decode (ours only).
    pub frames_undecodable: Option<u64>,
    /// Packet loss, % (ours only).
    pub packet_loss_pct: Option<f64>,
    /// Received video data rate, Mbit/s (ours only).
    pub data_rate_mbps: Option<f64>,
    /// Lost packets that came back in a retransmission (ours only; RFC 4588).
    pub packets_repaired: Option<u64>,
    /// Lost packets asked for again that never came back in time (ours only).
    pub packets_unrepaired: Option<u64>,
    /// RTX bytes over all RTP bytes received, % (ours only).
    pub rtx_overhead_pct: Option<f64>,
    /// Arrival-to-display latency, ms (ours only).
    pub latency_ms_p50: Option<f64>,
    /// 99th percentile.
    pub latency_ms_p99: Option<f64>,
    /// Maximum.
    pub latency_ms_max: Option<f64>,
    /// Decode time per frame, ms (ours only).
    pub decode_ms_p50: Option<f64>,
    /// 99th percentile.
    pub decode_ms_p99: Option<f64>,
    /// Receiver CPU, % of one core over its run.
    pub client_cpu_pct: f64,
    /// Receiver CPU time per frame shown, ms: all its CPU over the run (start-up and tear-down
    /// included) divided by `frames_displayed`; `None` when it showed none.
    pub client_cpu_ms_per_frame: Option<f64>,
    /// Sender CPU, % of one core over its run.
    pub server_cpu_pct: f64,
    /// Receiver peak RSS, MiB.
    pub client_rss_mib: f64,
    /// Sender peak RSS, MiB.
    pub server_rss_mib: f64,
    /// Anything odd.
    pub note: String,
}

impl Row {
    /// A row from what the receiver reported and the sender cost.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        res: crate::media::Resolution,
        transport: Transport,
        sender: &str,
        receiver: &str,
        seconds: u32,
        rx: &Received,
        server: Usage,
    ) -> Row {
        let expected = u64::from(res.fps * seconds);
        let r = rx.report.as_ref();
        let u = |k: &str| r.and_then(|r| r[k].as_u64());
        let f = |k: &str, sub: &str| r.and_then(|r| r[k][sub].as_f64());
        let packets = u("packets_received").unwrap_or(0) + u("packets_lost").unwrap_or(0);
        let loss = r.map(|_| {
            if packets == 0 {
                0.0
            } else {
                100.0 * u("packets_lost").unwrap_or(0) as f64 / packets as f64
            }
        });
        let rate = u("bytes_received").map(|b| b as f64 * 8.0 / f64::from(seconds) / 1e6);
        let rtx_overhead = u("rtx_bytes")
            .zip(u("bytes_received"))
            .map(|(rtx, all)| 100.0 * rtx as f64 / all.max(1) as f64);
        // Frames shown over the stream's length, for every receiver alike (our client's own
        // fps_displayed is over the span it showed frames in: misleading when it showed few).
        let fps = rx.frames_displayed as f64 / f64::from(seconds);
        Row {
            resolution: res.name(),
            width: res.width,
            height: res.height,
            target_fps: f64::from(res.fps),
            transport,
            sender: sender.to_owned(),
            receiver: receiver.to_owned(),
            impair: String::new(),
            frames_expected: expected,
            frames_displayed: rx.frames_displayed,
            fps_displayed: fps,
            frames_lost: u("frames_lost"),
            frames_concealed: u("frames_concealed"),
            frames_late: u("frames_late"),
            frames_undecodable: u("frames_undecodable"),
            packet_loss_pct: loss,
            data_rate_mbps: rate,
            packets_repaired: u("packets_repaired"),
            packets_unrepaired: u("packets_unrepaired"),
            rtx_overhead_pct: rtx_overhead,
            latency_ms_p50: f("latency_ms", "p50"),
            latency_ms_p99: f("latency_ms", "p99"),
            latency_ms_max: f("latency_ms", "max"),
            decode_ms_p50: f("decode_ms", "p50"),
            decode_ms_p99: f("decode_ms", "p99"),
            client_cpu_pct: rx.usage.cpu_percent(),
            client_cpu_ms_per_frame: (rx.frames_displayed > 0)
                .then(|| rx.usage.cpu.as_secs_f64() * 1000.0 / rx.frames_displayed as f64),
            server_cpu_pct: server.cpu_percent(),
            client_rss_mib: rx.usage.max_rss as f64 / 1048576.0,
            server_rss_mib: server.max_rss as f64 / 1048576.0,
            note: rx.note.clone().unwrap_or_default(),
        }
    }
}

/// A table cell: the count, or `-` when there is none.
pub(crate) fn opt_u<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// A table cell: the value to `digits` decimals, or `-` when there is none.
pub(crate) fn opt_f(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// A table cell: the value to `digits` decimals with its sign (`+` too), or `-` when there is
/// none.
pub(crate) fn opt_signed(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:+.digits$}"))
}

/// The table a person reads.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "resolution",
        "tx",
        "sender",
        "receiver",
        "link",
        "fps",
        "shown",
        "concealed",
        "lost",
        "late",
        "undec",
        "loss%",
        "repaired",
        "RTX%",
        "Mbit/s",
        "lat p50",
        "p99",
        "max",
        "dec p50",
        "p99",
        "cli CPU%",
        "cli ms/frame",
        "srv CPU%",
        "cli MiB",
        "srv MiB",
    ];
    let cells = |r: &Row| {
        vec![
            r.resolution.clone(),
            r.transport.name().into(),
            r.sender.clone(),
            r.receiver.clone(),
            if r.impair.is_empty() {
                "-".into()
            } else {
                r.impair.clone()
            },
            format!("{:.1}/{}", r.fps_displayed, r.target_fps),
            format!("{}/{}", r.frames_displayed, r.frames_expected),
            opt_u(r.frames_concealed),
            opt_u(r.frames_lost),
            opt_u(r.frames_late),
            opt_u(r.frames_undecodable),
            opt_f(r.packet_loss_pct, 2),
            opt_u(r.packets_repaired),
            opt_f(r.rtx_overhead_pct, 2),
            opt_f(r.data_rate_mbps, 1),
            opt_f(r.latency_ms_p50, 1),
            opt_f(r.latency_ms_p99, 1),
            opt_f(r.latency_ms_max, 1),
            opt_f(r.decode_ms_p50, 2),
            opt_f(r.decode_ms_p99, 2),
            format!("{:.1}", r.client_cpu_pct),
            opt_f(r.client_cpu_ms_per_frame, 2),
            format!("{:.1}", r.server_cpu_pct),
            format!("{:.0}", r.client_rss_mib),
            format!("{:.0}", r.server_rss_mib),
        ]
    };
    let mut out = render_rows(&header, rows, cells);
    for r in rows.iter().filter(|r| !r.note.is_empty()) {
        let _ = writeln!(
            out,
            "note: {} {} {}←{}: {}",
            r.resolution,
            r.transport.name(),
            r.receiver,
            r.sender,
            r.note
        );
    }
    out
}

/// The text table of `rows`: columns right-aligned under `header`, one line per row, of the
/// cells `cells` makes of it ([`render`]).
pub fn render_rows<T>(header: &[&str], rows: &[T], cells: impl Fn(&T) -> Vec<String>) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(cells).collect();
    render(header, &cells)
}

/// Columns right-aligned under `header`, one line per row of `cells`.
pub fn render(header: &[&str], cells: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cols: &[String]| {
        let parts: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(
        &mut out,
        &header.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    );
    for c in cells {
        line(&mut out, c);
    }
    out
}

/// Writes `results.json` and `results.csv` into `dir`.
pub fn write(dir: &Path, rows: &[Row], extra: &serde_json::Value) -> Result<()> {
    write_named(dir, "results", rows, extra)
}

/// Writes `<stem>.json` (the rows, the machine and `extra`) and `<stem>.csv` (the rows, one
/// column per field of the first) into `dir`.
pub fn write_named<T: Serialize>(
    dir: &Path,
    stem: &str,
    rows: &[T],
    extra: &serde_json::Value,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::json!({ "rows": rows, "machine": machine(), "extra": extra });
    std::fs::write(
        dir.join(format!("{stem}.json")),
        serde_json::to_string_pretty(&json)?,
    )
    .with_context(|| format!("cannot write {stem}.json"))?;
    let mut csv = String::new();
    let value = serde_json::to_value(rows)?;
    let empty = Vec::new();
    let rows_v = value.as_array().unwrap_or(&empty);
    if let Some(first) = rows_v.first().and_then(|r| r.as_object()) {
        let keys: Vec<&String> = first.keys().collect();
        let _ = writeln!(
            csv,
            "{}",
            keys.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        for r in rows_v {
            let vals: Vec<String> = keys
                .iter()
                .map(|k| match &r[k.as_str()] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => format!("\"{}\"", s.replace('"', "\"\"")),
                    v => v.to_string(),
                })
                .collect();
            let _ = writeln!(csv, "{}", vals.join(","));
        }
    }
    std::fs::write(dir.join(format!("{stem}.csv")), csv)
        .with_context(|| format!("cannot write {stem}.csv"))?;
    Ok(())
}

/// What machine the figures come from.
pub fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    serde_json::json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os": std::env::consts::OS,
    })
}
