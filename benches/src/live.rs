//! The live benchmark (`playback --live`): `hdstream-publish` publishes a resolution's test file
//! (looped, in real time, over TCP) into `hdstream-server`'s `live/bench`, and N viewers watch
//! it at once. One of them decodes and shows every frame (`hdstream-client --headless`: fps,
//! loss, capture-to-display latency from the publisher's sender reports); the other N − 1 are
//! receive-only RTSP sessions ([`load::watch`]) that count complete frames by their RFC 2435
//! fragments and marker bits, and sequence gaps, so that "every viewer got every frame" is
//! checked for all N on a 2-core machine where N decoders could not run. The peers watch the same
//! kind of live path alone (GStreamer, with and without conversion to BGRx; ffmpeg up to 2040 px),
//! and a record-only comparison publishes into gst-rtsp-server (RECORD mode, which cannot relay to
//! viewers) and into ours with nobody watching.
//!
//! CPU of the server and the publisher is measured over the viewing window (`/proc/<pid>/stat`
//! at both ends), peak RSS over their whole run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::load::{self, Frames};
use crate::media::Resolution;
use crate::peers::{self, GstOutput, Received, Transport};
use crate::process::{CpuWindow, Usage};
use crate::report::{self, opt_f, opt_u};

/// The resolutions `playback --live` runs by default.
pub const DEFAULT: [&str; 4] = ["720p30", "1080p30", "1440p30", "2160p30"];
/// The resolutions `playback --live --quick` runs (3 s each).
pub const QUICK: [&str; 2] = ["720p30", "1080p30"];

/// The live path the publisher records into.
pub const PATH: &str = "live/bench";
/// Publishing before anyone watches: the publisher's first frames, the server's first sender
/// report passed on.
const WARM_UP: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Each resolution and its test file (published, looped).
    pub files: Vec<(Resolution, PathBuf)>,
    /// Viewer counts (each run has one decoding viewer and N − 1 receive-only ones).
    pub viewers: Vec<usize>,
    /// Seconds each viewer watches.
    pub seconds: u32,
    /// The viewers' lower transport(s).
    pub transports: Vec<Transport>,
    /// GStreamer's client as the only viewer (`jpegdec ! fakesink`).
    pub gstreamer: bool,
    /// GStreamer's client converting to BGRx as the only viewer.
    pub gstreamer_bgrx: bool,
    /// ffmpeg as the only viewer (frames up to 2040 px).
    pub ffmpeg: bool,
    /// The record-only comparison with gst-rtsp-server.
    pub gst_record: bool,
}

/// Who decodes and shows in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// `hdstream-client --headless`.
    Ours,
    /// `gst-launch-1.0 rtspsrc ! rtpjpegdepay ! jpegdec ! [videoconvert ! BGRx !] fakesink`.
    Gstreamer(GstOutput),
    /// `ffmpeg -f null`.
    Ffmpeg,
}

impl Decoder {
    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Decoder::Ours => "hdstream-client",
            Decoder::Gstreamer(GstOutput::Decoded) => "gstreamer",
            Decoder::Gstreamer(GstOutput::Bgrx) => "gstreamer (BGRx)",
            Decoder::Ffmpeg => "ffmpeg",
        }
    }
}

/// One live run: a publisher, our server, N viewers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveRow {
    /// e.g. `1080p30`.
    pub resolution: String,
    /// Frame width.
    pub width: u16,
    /// Frame height.
    pub height: u16,
    /// The publisher's frame rate.
    pub target_fps: f64,
    /// The viewers' lower transport (the publisher always uses TCP).
    pub transport: String,
    /// Viewers in all: the decoding one and the receive-only ones.
    pub viewers: usize,
    /// Who decodes and shows: `hdstream-client`, `gstreamer`, `gstreamer (BGRx)`, `ffmpeg`.
    pub decoder: String,
    /// Seconds each viewer watched.
    pub seconds: u32,
    /// Frames the publisher sent whole over its run (warm-up and tear-down included).
    pub frames_published: Option<u64>,
    /// Frames the publisher did not send (it fell behind, or the server was away).
    pub publisher_skipped: Option<u64>,
    /// The decoding viewer's frames shown (peers: decoded).
    pub frames_shown: u64,
    /// Frames due to the decoding viewer in its window (ours: its frames received and lost,
    /// and at least seconds × fps − 2; peers: by their first and last frames' timestamps).
    pub frames_due: Option<u64>,
    /// Frames shown over frames due, %.
    pub shown_pct: Option<f64>,
    /// The decoding viewer's frames received whole (ours).
    pub frames_received: Option<u64>,
    /// Frames shown per second, first to last (ours: its report; peers: shown / due × fps).
    pub fps: Option<f64>,
    /// Frames lost (ours: its report; peers: due − shown).
    pub frames_lost: Option<u64>,
    /// Frames dropped as late (ours).
    pub frames_late: Option<u64>,
    /// The publisher's capture to the frame on screen, ms (ours).
    pub capture_to_display_ms_p50: Option<f64>,
    /// 99th percentile.
    pub capture_to_display_ms_p99: Option<f64>,
    /// Maximum.
    pub capture_to_display_ms_max: Option<f64>,
    /// Arrival of a frame's last packet to the frame on screen, ms (ours).
    pub latency_ms_p50: Option<f64>,
    /// 99th percentile.
    pub latency_ms_p99: Option<f64>,
    /// The decoding viewer's CPU, % of one core over its run (start-up and tear-down
    /// included, which differ between viewers: compare them by `decoder_cpu_ms_per_frame`).
    pub decoder_cpu_pct: f64,
    /// The decoding viewer's CPU time over its run divided by the frames it showed, ms.
    pub decoder_cpu_ms_per_frame: Option<f64>,
    /// The decoding viewer's peak RSS, MiB.
    pub decoder_rss_mib: f64,
    /// Receive-only viewers (N − 1).
    pub receivers: usize,
    /// Receive-only viewers that could not set up or play.
    pub receivers_failed: usize,
    /// The receive-only viewer with the fewest frames: complete frames.
    pub worst_receiver_frames: Option<u64>,
    /// Its frames due.
    pub worst_receiver_due: Option<u64>,
    /// Its complete frames over frames due, %.
    pub worst_receiver_pct: Option<f64>,
    /// Mean over the receive-only viewers, %.
    pub mean_receiver_pct: Option<f64>,
    /// Packets missing by sequence number, summed over the receive-only viewers.
    pub receiver_sequence_gaps: u64,
    /// Receive-only viewers whose first packet was not a frame's first fragment.
    pub receivers_joined_mid_frame: usize,
    /// The worst of every viewer (the decoding one's frames received included), %.
    pub worst_viewer_pct: Option<f64>,
    /// Every viewer got every frame due, whole, with no sequence gap (ours).
    pub every_viewer_every_frame: Option<bool>,
    /// Frames the server skipped for its viewers (a viewer's stream more than 200 ms behind
    /// jumps to the newest frame), summed over the sessions, from its log.
    pub server_skipped_frames: Option<u64>,
    /// The most it skipped for one viewer.
    pub server_skipped_max: Option<u64>,
    /// Server CPU over the viewing window, % of one core.
    pub server_cpu_pct: Option<f64>,
    /// Publisher CPU over the viewing window, % of one core.
    pub publisher_cpu_pct: Option<f64>,
    /// The receive-only viewers' CPU over the window (the benchmark process, whose threads
    /// they are), % of one core.
    pub receivers_cpu_pct: Option<f64>,
    /// Server peak RSS, MiB.
    pub server_rss_mib: f64,
    /// Publisher peak RSS, MiB.
    pub publisher_rss_mib: f64,
    /// Anything odd.
    pub note: String,
    /// Each receive-only viewer's counts (in live.json's `extra.receivers`, not the CSV).
    #[serde(skip)]
    pub receiver_counts: Vec<Frames>,
}

/// One record-only run: the publisher into a server, nobody watching.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordRow {
    /// e.g. `1080p30`.
    pub resolution: String,
    /// `hdstream-server` or `gst-rtsp-server`.
    pub server: String,
    /// Seconds measured (after the warm-up).
    pub seconds: u32,
    /// Frames the publisher sent whole over its run.
    pub frames_published: Option<u64>,
    /// Frames the server put back together from them (ours: its log; gst-rtsp-server: buffers
    /// out of its `rtpjpegdepay`).
    pub frames_taken: Option<u64>,
    /// Taken over published, %.
    pub taken_pct: Option<f64>,
    /// Server CPU over the window, % of one core.
    pub server_cpu_pct: Option<f64>,
    /// Publisher CPU over the window, % of one core.
    pub publisher_cpu_pct: Option<f64>,
    /// Server peak RSS, MiB.
    pub server_rss_mib: f64,
    /// Publisher peak RSS, MiB.
    pub publisher_rss_mib: f64,
    /// Anything odd.
    pub note: String,
}

/// Which server a record-only run publishes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordServer {
    Ours,
    Gst,
}

impl RecordServer {
    fn name(self) -> &'static str {
        match self {
            RecordServer::Ours => "hdstream-server",
            RecordServer::Gst => "gst-rtsp-server",
        }
    }
}

/// Runs the plan; prints progress and the tables; writes `live.json`, `live.csv` and
/// `live-record.csv` into `out`; returns the rows (the caller plots them).
pub fn run(plan: &Plan, out: &Path, started: Instant) -> Result<Vec<LiveRow>> {
    let mut jobs: Vec<(Resolution, &Path, Transport, usize, Decoder)> = Vec::new();
    for (res, file) in &plan.files {
        for &transport in &plan.transports {
            for &n in &plan.viewers {
                jobs.push((*res, file, transport, n, Decoder::Ours));
            }
            let mut peers = Vec::new();
            if plan.gstreamer {
                peers.push(Decoder::Gstreamer(GstOutput::Decoded));
            }
            if plan.gstreamer_bgrx {
                peers.push(Decoder::Gstreamer(GstOutput::Bgrx));
            }
            if plan.ffmpeg && res.width <= 2040 && res.height <= 2040 {
                peers.push(Decoder::Ffmpeg);
            }
            for peer in peers {
                jobs.push((*res, file, transport, 1, peer));
            }
        }
    }
    let mut record_jobs = Vec::new();
    for (res, file) in &plan.files {
        record_jobs.push((*res, file.as_path(), RecordServer::Ours));
        if plan.gst_record {
            record_jobs.push((*res, file.as_path(), RecordServer::Gst));
        }
    }
    let total = jobs.len() + record_jobs.len();
    let mut rows = Vec::new();
    for (i, &(res, file, transport, n, decoder)) in jobs.iter().enumerate() {
        eprintln!(
            "[{}/{total}] live {} {}: {n} viewer(s), {} decoding ({} s, {:.0} s elapsed)",
            i + 1,
            res.name(),
            transport.name(),
            decoder.name(),
            plan.seconds,
            started.elapsed().as_secs_f64()
        );
        let row = live_run(res, file, transport, n, plan.seconds, decoder).unwrap_or_else(|e| {
            eprintln!("  failed: {e:#}");
            LiveRow {
                note: format!("failed: {e:#}"),
                ..blank(res, transport, n, decoder, plan.seconds)
            }
        });
        eprintln!("  {}", summary(&row));
        rows.push(row);
    }
    let mut records = Vec::new();
    for (i, &(res, file, server)) in record_jobs.iter().enumerate() {
        eprintln!(
            "[{}/{total}] record only {}: hdstream-publish → {} ({} s, {:.0} s elapsed)",
            jobs.len() + i + 1,
            res.name(),
            server.name(),
            plan.seconds,
            started.elapsed().as_secs_f64()
        );
        let row = record_run(res, file, plan.seconds, server).unwrap_or_else(|e| {
            eprintln!("  failed: {e:#}");
            RecordRow {
                resolution: res.name(),
                server: server.name().into(),
                seconds: plan.seconds,
                note: format!("failed: {e:#}"),
                ..RecordRow::default()
            }
        });
        eprintln!(
            "  {} of {} frames taken; server CPU {}%, publisher CPU {}%",
            opt_u(row.frames_taken),
            opt_u(row.frames_published),
            opt_f(row.server_cpu_pct, 1),
            opt_f(row.publisher_cpu_pct, 1)
        );
        records.push(row);
    }
    println!("{}", table(&rows));
    println!("{}", record_table(&records));
    let details: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| !r.receiver_counts.is_empty())
        .map(|r| {
            serde_json::json!({
                "resolution": r.resolution, "transport": r.transport, "viewers": r.viewers,
                "receivers": r.receiver_counts,
            })
        })
        .collect();
    let extra = serde_json::json!({
        "mode": "live",
        "receivers": details,
        "seconds": plan.seconds,
        "viewers": plan.viewers,
        "publisher": "hdstream-publish FILE URL --fps FPS --transport tcp (the file looped)",
        "record_only": records,
        "wall_s": started.elapsed().as_secs_f64(),
    });
    let _ = std::fs::remove_dir(peers::live_media_dir());
    report::write_named(out, "live", &rows, &extra)?;
    report::write_named(out, "live-record", &records, &serde_json::json!({}))?;
    eprintln!(
        "results: {}/live.json, live.csv, live-record.csv ({:.0} s in all)",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(rows)
}

/// A row with only what the run was.
fn blank(
    res: Resolution,
    transport: Transport,
    n: usize,
    decoder: Decoder,
    seconds: u32,
) -> LiveRow {
    LiveRow {
        resolution: res.name(),
        width: res.width,
        height: res.height,
        target_fps: f64::from(res.fps),
        transport: transport.name().into(),
        viewers: n,
        decoder: decoder.name().into(),
        seconds,
        receivers: n.saturating_sub(1),
        ..LiveRow::default()
    }
}

/// `rtsp://host:port/live/bench` on the server that serves `file_url`.
fn live_url(file_url: &str) -> Result<String> {
    let rest = file_url
        .strip_prefix("rtsp://")
        .ok_or_else(|| anyhow!("{file_url}: not rtsp://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(format!("rtsp://{authority}/{PATH}"))
}

/// A publisher into `url` once the server is up: our server's path goes live (DESCRIBE
/// answers), then the warm-up.
fn publish(file: &Path, url: &str, fps: u32, wait_live: bool) -> Result<peers::Publisher> {
    let publisher = peers::publisher(file, url, fps)?;
    if wait_live {
        load::wait_live(url, Duration::from_secs(10))?;
    }
    std::thread::sleep(WARM_UP);
    Ok(publisher)
}

/// One live run: publisher → our server → one decoding viewer and `n` − 1 receive-only ones.
fn live_run(
    res: Resolution,
    file: &Path,
    transport: Transport,
    n: usize,
    seconds: u32,
    decoder: Decoder,
) -> Result<LiveRow> {
    let server = peers::our_live_server()?;
    let url = live_url(&server.url)?;
    let publisher = publish(file, &url, res.fps, true)?;
    let pids: Vec<u32> = [server.pid(), publisher.pid(), Some(std::process::id())]
        .into_iter()
        .flatten()
        .collect();
    let cpu = CpuWindow::start(&pids);
    let json = std::env::temp_dir().join(format!("hdstream-live-{}.json", std::process::id()));
    let fps = f64::from(res.fps);
    let (decoded, receivers) = std::thread::scope(|scope| {
        let receivers = scope.spawn(|| {
            load::watchers(
                &url,
                n.saturating_sub(1),
                transport,
                f64::from(seconds),
                fps,
            )
        });
        let duration = seconds.to_string();
        let decoded = match decoder {
            Decoder::Ours => {
                peers::our_client(&url, transport, seconds, &json, &["--duration", &duration])
            }
            Decoder::Gstreamer(output) => {
                peers::gst_live_client(&url, transport, seconds, output, res.fps)
            }
            Decoder::Ffmpeg => peers::ffmpeg_live_client(&url, transport, seconds, res.fps),
        };
        (decoded, receivers.join().unwrap_or_default())
    });
    let cpu = cpu.percent();
    let _ = std::fs::remove_file(&json);
    let (publisher_usage, published) = publisher.stop()?;
    // The viewers' sessions have ended (TEARDOWN) and logged what they skipped.
    let (server_usage, log) = server.stop_with_log()?;
    let skipped = peers::frames_skipped(&log);
    let mut row = blank(res, transport, n, decoder, seconds);
    row.frames_published = published.map(|p| p.frames);
    row.publisher_skipped = published.map(|p| p.skipped);
    row.server_skipped_frames = (!skipped.is_empty()).then(|| skipped.iter().sum());
    row.server_skipped_max = skipped.iter().max().copied();
    row.server_cpu_pct = cpu.first().copied().flatten();
    row.publisher_cpu_pct = cpu.get(1).copied().flatten();
    row.receivers_cpu_pct = cpu.get(2).copied().flatten();
    row.server_rss_mib = mib(server_usage);
    row.publisher_rss_mib = mib(publisher_usage);
    match decoded {
        Ok(rx) => fill_decoder(&mut row, &rx, seconds, fps),
        Err(e) => row.note = format!("decoding viewer failed: {e:#}"),
    }
    fill_receivers(&mut row, &receivers);
    row.receiver_counts = receivers;
    if published.is_some_and(|p| p.connections != 1) {
        row.note += " publisher reconnected";
    }
    Ok(row)
}

fn mib(usage: Usage) -> f64 {
    usage.max_rss as f64 / 1_048_576.0
}

/// The decoding viewer's figures.
fn fill_decoder(row: &mut LiveRow, rx: &Received, seconds: u32, fps: f64) {
    row.frames_shown = rx.frames_displayed;
    row.decoder_cpu_pct = rx.usage.cpu_percent();
    row.decoder_cpu_ms_per_frame = (rx.frames_displayed > 0)
        .then(|| rx.usage.cpu.as_secs_f64() * 1000.0 / rx.frames_displayed as f64);
    row.decoder_rss_mib = mib(rx.usage);
    if let Some(note) = &rx.note {
        row.note = note.clone();
    }
    let by_clock = ((f64::from(seconds) * fps).floor() as u64).saturating_sub(2);
    match &rx.report {
        Some(r) => {
            let u = |k: &str| r[k].as_u64();
            let f = |k: &str, sub: &str| r[k][sub].as_f64();
            let received = u("frames_received").unwrap_or(0);
            let lost = u("frames_lost").unwrap_or(0);
            let due = (received + lost).max(by_clock);
            row.frames_received = Some(received);
            row.frames_lost = Some(lost);
            row.frames_late = u("frames_late");
            row.frames_due = Some(due);
            row.shown_pct = Some(pct(rx.frames_displayed, due));
            row.fps = r["fps_displayed"].as_f64();
            row.capture_to_display_ms_p50 = f("capture_to_display_ms", "p50");
            row.capture_to_display_ms_p99 = f("capture_to_display_ms", "p99");
            row.capture_to_display_ms_max = f("capture_to_display_ms", "max");
            row.latency_ms_p50 = f("latency_ms", "p50");
            row.latency_ms_p99 = f("latency_ms", "p99");
            if row.capture_to_display_ms_p50.is_none() {
                row.note += " no capture-to-display figures (no sender reports?)";
            }
        }
        None => {
            let due = rx.frames_due.unwrap_or(0).max(rx.frames_displayed);
            row.frames_due = Some(due);
            row.shown_pct = Some(pct(rx.frames_displayed, due));
            row.frames_lost = Some(due - rx.frames_displayed);
            row.fps = Some(fps * rx.frames_displayed as f64 / due.max(1) as f64);
        }
    }
}

/// The receive-only viewers' figures, and whether every viewer got every frame.
fn fill_receivers(row: &mut LiveRow, receivers: &[Frames]) {
    let ok: Vec<&Frames> = receivers.iter().filter(|f| !f.packets.failed).collect();
    row.receivers_failed = receivers.len() - ok.len();
    row.receiver_sequence_gaps = ok.iter().map(|f| f.packets.lost()).sum();
    row.receivers_joined_mid_frame = ok.iter().filter(|f| f.joined_mid_frame).count();
    if let Some(worst) = ok
        .iter()
        .min_by(|a, b| a.received_pct().total_cmp(&b.received_pct()))
    {
        row.worst_receiver_frames = Some(worst.complete);
        row.worst_receiver_due = Some(worst.due);
        row.worst_receiver_pct = Some(worst.received_pct());
        row.mean_receiver_pct =
            Some(ok.iter().map(|f| f.received_pct()).sum::<f64>() / ok.len() as f64);
    }
    // The decoding viewer counts with the others by the frames it received whole (peers: shown).
    let decoder_pct = match (row.frames_received, row.frames_due) {
        (Some(received), Some(due)) => Some(pct(received, due)),
        _ => row.shown_pct,
    };
    row.worst_viewer_pct = [decoder_pct, row.worst_receiver_pct]
        .into_iter()
        .flatten()
        .reduce(f64::min);
    if row.decoder == Decoder::Ours.name() {
        row.every_viewer_every_frame = Some(
            row.receivers_failed == 0
                && row.receiver_sequence_gaps == 0
                && row.frames_lost == Some(0)
                && row.server_skipped_frames.unwrap_or(0) == 0
                && row.worst_viewer_pct.is_some_and(|p| p >= 100.0),
        );
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// One record-only run: the publisher into `server` for the warm-up and `seconds`, nobody
/// watching.
fn record_run(
    res: Resolution,
    file: &Path,
    seconds: u32,
    which: RecordServer,
) -> Result<RecordRow> {
    let (server, url) = match which {
        RecordServer::Ours => {
            let server = peers::our_live_server()?;
            let url = live_url(&server.url)?;
            (server, url)
        }
        RecordServer::Gst => {
            let server = peers::gst_record_server()?;
            let url = server.url.clone();
            (server, url)
        }
    };
    // gst-rtsp-server answers no DESCRIBE on a RECORD path: the warm-up has to do.
    let publisher = publish(file, &url, res.fps, which == RecordServer::Ours)?;
    let pids: Vec<u32> = [server.pid(), publisher.pid()]
        .into_iter()
        .flatten()
        .collect();
    let cpu = CpuWindow::start(&pids);
    std::thread::sleep(Duration::from_secs(u64::from(seconds)));
    let cpu = cpu.percent();
    let (publisher_usage, published) = publisher.stop()?;
    // The TEARDOWN and the last frames reach the server before it is stopped.
    std::thread::sleep(Duration::from_millis(500));
    let (server_usage, log) = server.stop_with_log()?;
    let (taken, lost) = match which {
        RecordServer::Ours => match peers::frames_taken(&log) {
            Some((taken, lost)) => (Some(taken), Some(lost)),
            None => (None, None),
        },
        RecordServer::Gst => (peers::gst_frames_taken(&log), None),
    };
    let frames_published = published.map(|p| p.frames);
    let mut note = String::new();
    if taken.is_none() {
        note = "the server said nothing of the frames it took".into();
    }
    if let Some(lost) = lost.filter(|&l| l > 0) {
        note = format!("{lost} frames incomplete");
    }
    Ok(RecordRow {
        resolution: res.name(),
        server: which.name().into(),
        seconds,
        frames_published,
        frames_taken: taken,
        taken_pct: taken.zip(frames_published).map(|(t, p)| pct(t, p)),
        server_cpu_pct: cpu.first().copied().flatten(),
        publisher_cpu_pct: cpu.get(1).copied().flatten(),
        server_rss_mib: mib(server_usage),
        publisher_rss_mib: mib(publisher_usage),
        note,
    })
}

/// One line of progress for a finished run.
fn summary(r: &LiveRow) -> String {
    format!(
        "{} shown, capture→display p50 {} ms p99 {} ms; worst viewer {}%; server CPU {}%, publisher CPU {}%{}",
        match r.frames_due {
            Some(due) => format!("{}/{due}", r.frames_shown),
            None => r.frames_shown.to_string(),
        },
        opt_f(r.capture_to_display_ms_p50, 1),
        opt_f(r.capture_to_display_ms_p99, 1),
        opt_f(r.worst_viewer_pct, 2),
        opt_f(r.server_cpu_pct, 1),
        opt_f(r.publisher_cpu_pct, 1),
        if r.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.note.trim())
        }
    )
}

/// The live table a person reads.
pub fn table(rows: &[LiveRow]) -> String {
    let header = [
        "resolution",
        "tx",
        "viewers",
        "decoding viewer",
        "fps",
        "shown/due",
        "lost",
        "late",
        "c→d p50",
        "p99",
        "max",
        "worst rx frames/due",
        "worst rx %",
        "seq gaps",
        "srv skipped",
        "all 100%",
        "srv CPU%",
        "pub CPU%",
        "dec CPU%",
        "dec ms/frame",
        "rx CPU%",
        "srv MiB",
        "pub MiB",
    ];
    let cells = |r: &LiveRow| {
        vec![
            r.resolution.clone(),
            r.transport.clone(),
            r.viewers.to_string(),
            r.decoder.clone(),
            opt_f(r.fps, 1),
            format!("{}/{}", r.frames_shown, opt_u(r.frames_due)),
            opt_u(r.frames_lost),
            opt_u(r.frames_late),
            opt_f(r.capture_to_display_ms_p50, 1),
            opt_f(r.capture_to_display_ms_p99, 1),
            opt_f(r.capture_to_display_ms_max, 1),
            match (r.worst_receiver_frames, r.worst_receiver_due) {
                (Some(f), Some(d)) => format!("{f}/{d}"),
                _ => "-".into(),
            },
            opt_f(r.worst_receiver_pct, 2),
            if r.receivers == 0 {
                "-".into()
            } else {
                r.receiver_sequence_gaps.to_string()
            },
            match (r.server_skipped_frames, r.server_skipped_max) {
                (Some(sum), Some(max)) if sum > 0 => format!("{sum} (max {max})"),
                (Some(sum), _) => sum.to_string(),
                _ => "-".into(),
            },
            match r.every_viewer_every_frame {
                Some(true) => "yes".into(),
                Some(false) => "NO".into(),
                None => "-".into(),
            },
            opt_f(r.server_cpu_pct, 1),
            opt_f(r.publisher_cpu_pct, 1),
            format!("{:.1}", r.decoder_cpu_pct),
            opt_f(r.decoder_cpu_ms_per_frame, 2),
            if r.receivers == 0 {
                "-".into()
            } else {
                opt_f(r.receivers_cpu_pct, 1)
            },
            format!("{:.0}", r.server_rss_mib),
            format!("{:.0}", r.publisher_rss_mib),
        ]
    };
    let mut out = report::render_rows(&header, rows, cells);
    for r in rows {
        let mut notes = Vec::new();
        if !r.note.trim().is_empty() {
            notes.push(r.note.trim().to_owned());
        }
        if r.receivers_failed > 0 {
            notes.push(format!(
                "{} receive-only viewers could not set up or play",
                r.receivers_failed
            ));
        }
        if r.receivers_joined_mid_frame > 0 {
            notes.push(format!(
                "{} receive-only viewers joined mid-frame",
                r.receivers_joined_mid_frame
            ));
        }
        if r.publisher_skipped.is_some_and(|s| s > 0) {
            notes.push(format!(
                "the publisher skipped {} frames",
                r.publisher_skipped.unwrap_or(0)
            ));
        }
        if !notes.is_empty() {
            out += &format!(
                "note: {} {} {} viewers, {}: {}\n",
                r.resolution,
                r.transport,
                r.viewers,
                r.decoder,
                notes.join("; ")
            );
        }
    }
    out
}

/// The record-only table.
pub fn record_table(rows: &[RecordRow]) -> String {
    let header = [
        "resolution",
        "publisher → server (record only)",
        "published",
        "taken",
        "taken %",
        "srv CPU%",
        "pub CPU%",
        "srv MiB",
        "pub MiB",
        "note",
    ];
    let cells = |r: &RecordRow| {
        vec![
            r.resolution.clone(),
            format!("hdstream-publish → {}", r.server),
            opt_u(r.frames_published),
            opt_u(r.frames_taken),
            opt_f(r.taken_pct, 2),
            opt_f(r.server_cpu_pct, 1),
            opt_f(r.publisher_cpu_pct, 1),
            format!("{:.0}", r.server_rss_mib),
            format!("{:.0}", r.publisher_rss_mib),
            r.note.clone(),
        ]
    };
    report::render_rows(&header, rows, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_url_is_on_the_file_server() {
        assert_eq!(
            live_url("rtsp://127.0.0.1:4242/720p30-10s-q80.mjpeg").unwrap(),
            "rtsp://127.0.0.1:4242/live/bench"
        );
    }

    #[test]
    fn every_viewer_every_frame_needs_all_of_them() {
        let mut row = blank(
            Resolution::parse("720p30").unwrap(),
            Transport::Udp,
            3,
            Decoder::Ours,
            10,
        );
        row.frames_received = Some(300);
        row.frames_lost = Some(0);
        row.frames_due = Some(300);
        let whole = Frames {
            complete: 299,
            due: 299,
            ..Frames::default()
        };
        fill_receivers(&mut row, &[whole, whole]);
        assert_eq!(row.every_viewer_every_frame, Some(true));
        assert_eq!(row.worst_viewer_pct, Some(100.0));
        let short = Frames {
            complete: 290,
            due: 299,
            ..Frames::default()
        };
        fill_receivers(&mut row, &[whole, short]);
        assert_eq!(row.every_viewer_every_frame, Some(false));
        assert_eq!(row.worst_receiver_frames, Some(290));
    }
}
