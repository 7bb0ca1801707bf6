//! `playback --call`, the two-way call benchmark: two `hdstream-call` processes (release
//! builds) on loopback, each with its embedded server, calling each other at one resolution
//! with its tone (which clicks at each flash), headless, for the run's seconds. The camera is
//! the resolution's MJPEG test file, looped — as a USB camera delivers MJPEG, nothing is
//! encoded on the host — or (`Camera::Pattern`) the test pattern drawn and JPEG-encoded live
//! on the host, showing its capture time. One row per direction:
//!
//! - frames the far side captured and sent (and skipped, falling behind), shown here, lost,
//!   late;
//! - capture to display: the far publisher's capture clock (its RTCP sender reports; one
//!   machine, one clock) to this side's screen, p50/p99/max;
//! - the sound against the picture (`audio_video_offset_ms`: + the picture ahead), underruns;
//! - each process's CPU over the call (it encodes its camera, serves it, and decodes the far
//!   side's).
//!
//! ITU-T G.114 puts the bound for interactive talk at 150 ms one way.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::media::Resolution;
use crate::process::{self, Measured, Usage};

/// Where each side's pictures come from.
#[derive(Debug, Clone)]
pub enum Camera {
    /// An MJPEG file, looped (what a USB camera sends: no encoding on the host).
    File(std::path::PathBuf),
    /// The test pattern, drawn and encoded on the host as it is captured.
    Pattern,
}

impl Camera {
    /// The name in the table.
    pub fn name(&self) -> &'static str {
        match self {
            Camera::File(_) => "mjpeg file",
            Camera::Pattern => "encoded live",
        }
    }
}

/// One direction of a call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallRow {
    pub resolution: String,
    /// [`Camera::name`].
    pub camera: String,
    /// `a ← b`: b's camera shown on a's screen.
    pub direction: String,
    /// Frames the far side sent whole.
    pub frames_sent: u64,
    /// Frames the far side skipped, behind its schedule.
    pub frames_skipped: u64,
    /// Frames shown here.
    pub frames_shown: u64,
    /// Frames missing (timestamp gaps) and late here.
    pub frames_lost: u64,
    pub frames_late: u64,
    /// Capture to display, ms.
    pub capture_p50_ms: Option<f64>,
    pub capture_p99_ms: Option<f64>,
    pub capture_max_ms: Option<f64>,
    /// Arrival of a frame's last packet to display, ms (the playout's part of the above).
    pub arrival_p50_ms: Option<f64>,
    /// The sound against the picture, ms (+: the picture ahead).
    pub offset_p50_ms: Option<f64>,
    /// The largest offset either way, ms (its sign kept).
    pub offset_max_ms: Option<f64>,
    pub audio_underruns: Option<u64>,
    /// This side's process: CPU, % of one core, over the call.
    pub cpu_percent: f64,
    pub note: String,
}

/// Runs a call of `seconds` at `res` between two local processes; `work` is a scratch
/// directory. Two rows: each side's view of the other.
pub fn run(res: Resolution, camera: &Camera, seconds: u32, work: &Path) -> Vec<CallRow> {
    match call(res, camera, seconds, work) {
        Ok(rows) => rows,
        Err(e) => vec![CallRow {
            resolution: res.name(),
            camera: camera.name().into(),
            note: format!("failed: {e:#}"),
            ..CallRow::default()
        }],
    }
}

fn call(res: Resolution, camera: &Camera, seconds: u32, work: &Path) -> Result<Vec<CallRow>> {
    let bin = process::bin_dir()?.join("hdstream-call");
    let ports = [process::free_port()?, process::free_port()?];
    let jsons = [
        work.join(format!("call-{}-a.json", res.name())),
        work.join(format!("call-{}-b.json", res.name())),
    ];
    let side = |me: usize| -> Result<Measured> {
        let mut c = Command::new(&bin);
        c.args(["--headless", "--duration", &seconds.to_string()])
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", ports[me]))
            .arg("--camera")
            .arg(match camera {
                Camera::File(path) => path.as_os_str().to_owned(),
                Camera::Pattern => format!("pattern:{}x{}", res.width, res.height).into(),
            })
            .args(["--fps", &res.fps.to_string()])
            .arg("--stats-json")
            .arg(&jsons[me])
            .arg(format!("127.0.0.1:{}", ports[1 - me]))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Measured::spawn("hdstream-call", &mut c)
    };
    let (a, b) = (side(0)?, side(1)?);
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 20);
    let usage: [Usage; 2] = [a.wait_until(deadline)?, b.wait_until(deadline)?];
    let read = |i: usize| -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(&jsons[i])
            .with_context(|| format!("no summary from side {i} (exit {:?})", usage[i].code))?;
        Ok(serde_json::from_str(&text)?)
    };
    let summaries = [read(0)?, read(1)?];
    Ok([(0, "a ← b"), (1, "b ← a")]
        .iter()
        .map(|&(here, direction)| {
            row(
                res,
                camera,
                direction,
                &summaries[here],
                &summaries[1 - here],
                usage[here],
            )
        })
        .collect())
}

fn row(
    res: Resolution,
    camera: &Camera,
    direction: &str,
    here: &serde_json::Value,
    far: &serde_json::Value,
    usage: Usage,
) -> CallRow {
    let got = &here["received"];
    let sent = &far["sent"];
    let u = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let offset = &got["audio_video_offset_ms"];
    CallRow {
        resolution: res.name(),
        camera: camera.name().into(),
        direction: direction.into(),
        frames_sent: u(&sent["frames"]),
        frames_skipped: u(&sent["skipped"]),
        frames_shown: u(&got["frames_displayed"]),
        frames_lost: u(&got["frames_lost"]),
        frames_late: u(&got["frames_late"]),
        capture_p50_ms: got["capture_to_display_ms"]["p50"].as_f64(),
        capture_p99_ms: got["capture_to_display_ms"]["p99"].as_f64(),
        capture_max_ms: got["capture_to_display_ms"]["max"].as_f64(),
        arrival_p50_ms: got["latency_ms"]["p50"].as_f64(),
        offset_p50_ms: offset["p50"].as_f64(),
        offset_max_ms: match (offset["min"].as_f64(), offset["max"].as_f64()) {
            (Some(lo), Some(hi)) => Some(if lo.abs() > hi.abs() { lo } else { hi }),
            (lo, hi) => lo.or(hi),
        },
        audio_underruns: got["audio_underruns"].as_u64(),
        cpu_percent: usage.cpu_percent(),
        note: String::new(),
    }
}

/// The rows as a text table.
pub fn table(rows: &[CallRow]) -> String {
    use crate::report::{opt_f, opt_signed, opt_u};
    let ms = |v: Option<f64>| opt_f(v, 1);
    let signed = |v: Option<f64>| opt_signed(v, 1);
    let cells = |r: &CallRow| {
        vec![
            r.resolution.clone(),
            r.camera.clone(),
            r.direction.clone(),
            format!("{} ({} skipped)", r.frames_sent, r.frames_skipped),
            r.frames_shown.to_string(),
            format!("{}/{}", r.frames_lost, r.frames_late),
            ms(r.capture_p50_ms),
            ms(r.capture_p99_ms),
            ms(r.capture_max_ms),
            ms(r.arrival_p50_ms),
            signed(r.offset_p50_ms),
            signed(r.offset_max_ms),
            opt_u(r.audio_underruns),
            format!("{:.0}", r.cpu_percent),
            r.note.clone(),
        ]
    };
    crate::report::render_rows(
        &[
            "res",
            "camera",
            "direction",
            "sent",
            "shown",
            "lost/late",
            "capture p50",
            "p99",
            "max",
            "arrival p50",
            "a/v p50",
            "a/v max",
            "underruns",
            "CPU %",
            "note",
        ],
        rows,
        cells,
    )
}
