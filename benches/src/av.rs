//! `playback --av`, the lip-sync benchmark: a file whose picture flashes at each whole second
//! and whose sound clicks at each flash ([`crate::media::ensure_av`]) is served by
//! hdstream-server and played, per transport, by our client and by the peers:
//!
//! - `hdstream-client --headless --audio-out`: the offset of the sound heard from each picture
//!   shown, as the client measures it (`audio_video_offset_ms`), its underruns and concealed
//!   and lost audio packets; and the clicks in the WAV of what it played against the flashes'
//!   media times (the WAV is in media-time order from the first sound played; the client's
//!   JSON has no per-frame display times, so this checks the sound it played, not when);
//! - `ffmpeg -i URL -map 0:v -map 0:a -c copy out.mkv` and GStreamer (`rtspsrc`, whose rtpbin
//!   lines the tracks up by their sender reports, into `matroskamux`): the flash frames' times
//!   in the Matroska file against its clicks' times, as `server/tests/lipsync.rs` measures them.
//!
//! Offsets are in ms, positive when the sound comes later than its picture. ITU-R BT.1359
//! puts the detectable offset at 45 ms with the sound early and 125 ms with it late.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdstream_common::audio::{l16, wav};
use hdstream_tools::{flash, tone};
use serde::Serialize;

use crate::media::Resolution;
use crate::peers::{self, Transport};
use crate::process::Measured;

/// Who plays the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Player {
    /// `hdstream-client --headless --audio-out`.
    Ours,
    /// `ffmpeg -c copy` into Matroska.
    Ffmpeg,
    /// `rtspsrc` (rtpbin) into `matroskamux`.
    Gstreamer,
}

impl Player {
    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Player::Ours => "hdstream-client",
            Player::Ffmpeg => "ffmpeg",
            Player::Gstreamer => "gstreamer",
        }
    }
}

/// One row: a resolution, a transport, a player.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AvRow {
    pub resolution: String,
    pub transport: String,
    pub player: String,
    /// Frames shown (ours) or written (the peers).
    pub frames: u64,
    /// Flash frames found (the peers: in the Matroska file; ours: the number of whole seconds
    /// the WAV covers).
    pub flashes: u64,
    /// Clicks found in the sound.
    pub clicks: u64,
    /// Offsets measured: pictures shown (ours), flash–click pairs (the peers).
    pub offset_count: u64,
    /// 1st percentile of the offset, ms (the sound's earliest, the picture's latest).
    pub offset_p1_ms: Option<f64>,
    /// Median offset, ms (sound later: positive).
    pub offset_p50_ms: Option<f64>,
    /// 99th percentile of the offset, ms.
    pub offset_p99_ms: Option<f64>,
    /// The largest offset either way, ms (its sign kept).
    pub offset_max_ms: Option<f64>,
    /// Ours: each flash picture shown against the click heard nearest it, on the output's
    /// clock (`--record-frames`: where the sound output was when the picture went on screen;
    /// the click's place in the WAV of what was played), median.
    pub flash_click_p50_ms: Option<f64>,
    /// Ours: the largest of those, either way.
    pub flash_click_max_ms: Option<f64>,
    /// Ours: the clicks in the WAV it played, from the nearest whole second of media time.
    pub wav_click_p50_ms: Option<f64>,
    /// Ours: the largest of those, either way.
    pub wav_click_max_ms: Option<f64>,
    /// Ours: times the sound ran dry.
    pub audio_underruns: Option<u64>,
    /// Ours: lost audio packets played as silence.
    pub audio_concealed_packets: Option<u64>,
    /// Ours: audio packets lost.
    pub audio_packets_lost: Option<i64>,
    pub note: String,
}

/// Plays `file` (served by a fresh hdstream-server) with `player` over `transport` for
/// `seconds`; `work` is a scratch directory.
pub fn run(
    res: Resolution,
    file: &Path,
    transport: Transport,
    seconds: u32,
    player: Player,
    work: &Path,
) -> AvRow {
    let mut row = AvRow {
        resolution: res.name(),
        transport: transport.name().into(),
        player: player.name().into(),
        ..AvRow::default()
    };
    let stem = format!("{}-{}-{}", res.name(), transport.name(), player.name());
    let result = peers::our_server(file, res.fps).and_then(|server| {
        let played = match player {
            Player::Ours => ours(&server.url, transport, seconds, work, &stem, &mut row),
            Player::Ffmpeg | Player::Gstreamer => {
                let mkv = work.join(format!("{stem}.mkv"));
                record(player, &server.url, transport, seconds, &mkv)
                    .and_then(|()| analyse(&mkv, &mut row))
            }
        };
        server.stop()?;
        played
    });
    if let Err(e) = result {
        row.note = format!("failed: {e:#}");
    }
    row
}

/// Our client, with its JSON report and the WAV of what it played.
fn ours(
    url: &str,
    transport: Transport,
    seconds: u32,
    work: &Path,
    stem: &str,
    row: &mut AvRow,
) -> Result<()> {
    let json = work.join(format!("{stem}.json"));
    let out = work.join(format!("{stem}.wav"));
    let out_arg = out.to_string_lossy().into_owned();
    let rx = peers::our_client(
        url,
        transport,
        seconds,
        &json,
        &["--audio-out", &out_arg, "--record-frames"],
    )?;
    let report = rx.report.context("no report")?;
    row.frames = rx.frames_displayed;
    if let Some(note) = rx.note {
        row.note = note;
    }
    let offsets = &report["audio_video_offset_ms"];
    row.offset_count = offsets["count"].as_u64().unwrap_or(0);
    row.offset_p1_ms = offsets["p1"].as_f64();
    row.offset_p50_ms = offsets["p50"].as_f64();
    row.offset_p99_ms = offsets["p99"].as_f64();
    row.offset_max_ms = match (offsets["min"].as_f64(), offsets["max"].as_f64()) {
        (Some(lo), Some(hi)) => Some(if lo.abs() > hi.abs() { lo } else { hi }),
        (lo, hi) => lo.or(hi),
    };
    row.audio_underruns = report["audio_underruns"].as_u64();
    row.audio_concealed_packets = report["audio_concealed_packets"].as_u64();
    row.audio_packets_lost = report["audio_packets_lost"].as_i64();
    let bytes = std::fs::read(&out).with_context(|| format!("no {}", out.display()))?;
    let parsed = wav::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let mut pcm = Vec::new();
    parsed.read_samples(&bytes, &mut pcm);
    let rate = f64::from(parsed.sample_rate.max(1));
    let clicks = tone::find_clicks(&pcm, parsed.channels, parsed.sample_rate);
    row.clicks = clicks.len() as u64;
    row.flashes = (parsed.frames() as f64 / rate).ceil() as u64;
    let from_second: Vec<f64> = clicks
        .iter()
        .map(|&k| {
            let t = k as f64 / rate;
            (t - t.round()) * 1000.0
        })
        .collect();
    let s = Summary::of(&from_second);
    row.wav_click_p50_ms = s.map(|s| s.p50);
    row.wav_click_max_ms = s.map(|s| s.max);
    // Each flash on screen against its click in what was played, on the output's clock.
    let shown = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let flashes: Vec<f64> = shown("displayed_brightness")
        .iter()
        .zip(shown("displayed_sound_ms"))
        .filter(|(bright, _)| bright.as_f64().is_some_and(|b| b >= flash::BRIGHT_MEAN))
        .filter_map(|(_, at)| at.as_f64())
        .collect();
    let click_ms: Vec<f64> = clicks.iter().map(|&k| k as f64 * 1000.0 / rate).collect();
    let (offsets, _) = tone::pair_clicks(&flashes, &click_ms, 45.0);
    let s = Summary::of(&offsets);
    row.flash_click_p50_ms = s.map(|s| s.p50);
    row.flash_click_max_ms = s.map(|s| s.max);
    Ok(())
}

/// Records `url` into `mkv` with ffmpeg or GStreamer, each track with its own timestamps.
fn record(player: Player, url: &str, transport: Transport, seconds: u32, mkv: &Path) -> Result<()> {
    let _ = std::fs::remove_file(mkv);
    let mut cmd = match player {
        Player::Ffmpeg => {
            let mut c = Command::new("ffmpeg");
            c.args([
                "-nostdin",
                "-v",
                "error",
                "-rtsp_transport",
                transport.name(),
            ])
            .args(["-i", url, "-map", "0:v", "-map", "0:a", "-c", "copy", "-y"])
            .arg(mkv);
            c
        }
        Player::Gstreamer => {
            let mut c = Command::new("gst-launch-1.0");
            c.args(["-q", "-e", "rtspsrc", "latency=300", "name=s"])
                .arg(format!("location={url}"))
                .arg(format!("protocols={}", transport.name()))
                .args(["s.", "!", "application/x-rtp,media=video", "!"])
                .args(["rtpjpegdepay", "!", "jpegparse", "!", "queue", "!", "mux."])
                .args(["s.", "!", "application/x-rtp,media=audio", "!"])
                .args([
                    "rtpL16depay",
                    "!",
                    "audioconvert",
                    "!",
                    "queue",
                    "!",
                    "mux.",
                ])
                .args(["matroskamux", "name=mux", "!", "filesink"])
                .arg(format!("location={}", mkv.display()));
            c
        }
        Player::Ours => bail!("ours does not record"),
    };
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let process = Measured::spawn(player.name(), &mut cmd)?;
    // Both end on the server's RTCP BYE; SIGINT (a clean end of the file) if they do not.
    let usage =
        process.wait_until(Instant::now() + Duration::from_secs(u64::from(seconds) + 15))?;
    if !mkv.is_file() {
        bail!("{} wrote no file (exit {:?})", player.name(), usage.code);
    }
    Ok(())
}

/// Reads the flashes and clicks back from `mkv` and pairs them.
fn analyse(mkv: &Path, row: &mut AvRow) -> Result<()> {
    let (frames, flashes) = flash_times(mkv)?;
    let clicks = click_times(mkv)?;
    row.frames = frames;
    row.flashes = flashes.len() as u64;
    row.clicks = clicks.len() as u64;
    let offsets = pair(&flashes, &clicks);
    row.offset_count = offsets.len() as u64;
    if let Some(s) = Summary::of(&offsets) {
        row.offset_p1_ms = Some(s.p1);
        row.offset_p50_ms = Some(s.p50);
        row.offset_p99_ms = Some(s.p99);
        row.offset_max_ms = Some(s.max);
    } else {
        row.note = format!(
            "no flash–click pairs ({} flashes, {} clicks)",
            flashes.len(),
            clicks.len()
        );
    }
    Ok(())
}

/// Each flash's offset to its nearest click within 500 ms, ms (positive: the sound later).
pub fn pair(flashes: &[f64], clicks: &[f64]) -> Vec<f64> {
    let ms = |s: &[f64]| s.iter().map(|v| v * 1000.0).collect::<Vec<_>>();
    let (offsets, _) = tone::pair_clicks(&ms(flashes), &ms(clicks), 500.0);
    offsets.into_iter().filter(|o| o.abs() < 500.0).collect()
}

/// The video frames in `mkv`, and the times (s) of the flash frames: those whose mean luma
/// (ffmpeg's `showinfo`) is at least [`flash::BRIGHT_MEAN`]. (The pattern's frames all differ,
/// so their hashes cannot tell a flash from the rest, as they do in the black test video of
/// `server/tests/lipsync.rs`.)
fn flash_times(mkv: &Path) -> Result<(u64, Vec<f64>)> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "info", "-i"])
        .arg(mkv)
        .args(["-map", "0:v", "-vf", "showinfo", "-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run ffmpeg")?;
    let text = String::from_utf8_lossy(&out.stderr);
    let mut frames = 0;
    let mut flashes = Vec::new();
    for line in text.lines().filter(|l| l.contains("Parsed_showinfo")) {
        let Some(t) = showinfo_field(line, "pts_time:") else {
            continue;
        };
        frames += 1;
        let mean = line
            .split("mean:[")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.trim_end_matches(']').parse::<f64>().ok());
        if mean.is_some_and(|m| m >= flash::BRIGHT_MEAN) {
            flashes.push(t);
        }
    }
    if frames == 0 {
        bail!("no video frames in {}", mkv.display());
    }
    Ok((frames, flashes))
}

/// `key<number>` in a showinfo line.
fn showinfo_field(line: &str, key: &str) -> Option<f64> {
    line.split(key)
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The times (s) of the clicks in `mkv`'s sound: its first packet's time plus the position of
/// each click ([`tone::find_clicks`]) in the decoded sound.
fn click_times(mkv: &Path) -> Result<Vec<f64>> {
    let probe = Command::new("ffprobe")
        .args(tone::FFPROBE_FIRST_SOUND_PACKET)
        .arg(mkv)
        .stdin(Stdio::null())
        .output()
        .context("cannot run ffprobe")?;
    let start = tone::first_packet_time(&String::from_utf8_lossy(&probe.stdout))
        .with_context(|| format!("no sound in {}", mkv.display()))?;
    let decoded = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(mkv)
        .args([
            "-map", "0:a", "-ac", "2", "-ar", "48000", "-f", "s16le", "-",
        ])
        .stdin(Stdio::null())
        .output()
        .context("cannot run ffmpeg")?;
    let mut pcm = Vec::new();
    l16::read_le(&decoded.stdout, &mut pcm);
    Ok(tone::find_clicks(&pcm, 2, 48_000)
        .into_iter()
        .map(|k| start + k as f64 / 48_000.0)
        .collect())
}

/// The 1st, 50th and 99th percentiles and the largest (either way, sign kept) of some offsets.
#[derive(Debug, Clone, Copy)]
struct Summary {
    p1: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

impl Summary {
    fn of(values: &[f64]) -> Option<Summary> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        let max = v
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))?;
        Some(Summary {
            p1: at(0.01),
            p50: at(0.5),
            p99: at(0.99),
            max,
        })
    }
}

/// The table printed at the end.
pub fn table(rows: &[AvRow]) -> String {
    use crate::report::{opt_signed, opt_u};
    let ms = |v: Option<f64>| opt_signed(v, 1);
    let cells = |r: &AvRow| {
        vec![
            r.resolution.clone(),
            r.transport.clone(),
            r.player.clone(),
            r.frames.to_string(),
            format!("{}/{}", r.clicks, r.flashes),
            r.offset_count.to_string(),
            ms(r.offset_p1_ms),
            ms(r.offset_p50_ms),
            ms(r.offset_p99_ms),
            ms(r.offset_max_ms),
            ms(r.flash_click_p50_ms),
            ms(r.flash_click_max_ms),
            ms(r.wav_click_p50_ms),
            ms(r.wav_click_max_ms),
            opt_u(r.audio_underruns),
            opt_u(r.audio_concealed_packets),
            opt_u(r.audio_packets_lost),
            r.note.clone(),
        ]
    };
    crate::report::render_rows(
        &[
            "res",
            "tx",
            "player",
            "frames",
            "clicks/flashes",
            "offsets",
            "p1 ms",
            "p50 ms",
            "p99 ms",
            "max ms",
            "flash→click p50",
            "max",
            "wav p50",
            "wav max",
            "underruns",
            "concealed",
            "a.lost",
            "note",
        ],
        rows,
        cells,
    )
}

/// A scratch directory for one benchmark process (remove it at the end).
pub fn work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("hdstream-av-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashes_pair_with_their_nearest_click() {
        let o = pair(&[1.0, 2.0, 3.0], &[1.016, 1.990, 9.0]);
        assert_eq!(o.len(), 2);
        assert!((o[0] - 16.0).abs() < 1e-6 && (o[1] + 10.0).abs() < 1e-6);
        let s = Summary::of(&[-3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.p50, s.max), (1.0, -3.0));
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn showinfo_lines_give_time_and_luma() {
        let line = "[Parsed_showinfo_0 @ 0x1] n:  30 pts:   1000 pts_time:1       duration:33 \
                    fmt:yuvj420p mean:[231 128 128] stdev:[3.1 0.0 0.0]";
        assert_eq!(showinfo_field(line, "pts_time:"), Some(1.0));
    }
}
