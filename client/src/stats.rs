//! Statistics of a playback: counters from every stage, hdrhistogram histograms of times, and
//! the [`Report`] printed as a table at exit and written as JSON with `--stats-json`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// A histogram of durations, recorded in microseconds (1 µs to 1 hour, 3 significant digits).
#[derive(Debug, Clone)]
pub struct Histogram(hdrhistogram::Histogram<u64>);

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        // The bounds are valid constants: creation cannot fail.
        let h = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .unwrap_or_else(|_| unreachable!("valid histogram bounds"));
        Histogram(h)
    }

    /// Records one duration (values beyond the range are clamped).
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(us);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        // Same bounds on both sides: addition cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The summary, in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: self.0.len(),
            mean: self.0.mean() / 1000.0,
            p50: ms(self.0.value_at_quantile(0.5)),
            p90: ms(self.0.value_at_quantile(0.9)),
            p99: ms(self.0.value_at_quantile(0.99)),
            max: ms(self.0.max()),
        }
    }
}

/// A histogram's summary, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

/// What the receive side (network thread) counted.
#[derive(Debug, Clone, Default)]
pub struct NetStats {
    /// RTP packets counted by the sequence tracker (RFC 3550 A.3 `received`).
    pub packets_received: u64,
    /// Cumulative packets lost (A.3; negative when duplicates outnumber losses).
    pub packets_lost: i64,
    /// Packets expected (A.3).
    pub packets_expected: u64,
    /// Packets that arrived after a higher-numbered one.
    pub packets_reordered: u64,
    /// Packets received twice.
    pub packets_duplicate: u64,
    /// Packets that came too late for the reorder buffer.
    pub packets_late: u64,
    /// Lost packets that came back in a retransmission (RFC 4588).
    pub packets_repaired: u64,
    /// Lost packets asked for again (RFC 4585 NACK) that never came back in time.
    pub packets_unrepaired: u64,
    /// Bytes of RTX packets received.
    pub rtx_bytes: u64,
    /// RTP packets that could not be parsed, or of another SSRC or payload type.
    pub packets_ignored: u64,
    /// RTP bytes received (headers included).
    pub bytes_received: u64,
    /// Complete frames reassembled.
    pub frames_received: u64,
    /// Frames lost: a fragment missing, or no packet of them at all.
    pub frames_lost: u64,
    /// Of the frames received, those that lost packets and were put together anyway, their
    /// lost restart intervals taken from the frame before (RFC 2435 §3.1.7).
    pub frames_concealed: u64,
    /// Frames dropped because their display time had passed.
    pub frames_late: u64,
    /// Frames refused because the cache was full.
    pub frames_overflow: u64,
    /// Frames received and still waiting in the cache when the run ended.
    pub frames_unplayed: u64,
    /// Times the cache ran dry while playing.
    pub rebuffer_count: u64,
    /// Time spent rebuffering.
    pub rebuffer_time: Duration,
    /// Seconds from the first to the last RTP packet.
    pub receive_seconds: f64,
    /// First fragment to last fragment of each frame.
    pub assembly: Histogram,
    /// Width and height of the last frame reassembled.
    pub size: Option<(u16, u16)>,
    /// RTP packets that arrived after PAUSE was sent, per pause: time of the last one after
    /// the request.
    pub pause_tails: Vec<Duration>,
    /// The sender stamped every frame alike: frames were timed by the frame rate or their
    /// arrival.
    pub timestamps_unusable: bool,
    /// Times the sender's timestamps restarted (went back or leapt ahead) mid-stream.
    pub timestamp_restarts: u64,
    /// The frame rate frames were shown at when they were timed by arrival (the course's
    /// senders, unusable timestamps).
    pub paced_fps: Option<f64>,
    /// The audio track's counts (all 0 without one).
    pub audio: crate::audio::Counters,
    /// The audio track played (`L16/48000/2 (PT 96)`) and its rate, when there is one.
    pub audio_format: Option<(String, u32)>,
    /// The captions track's counts (all 0 without one).
    pub captions: crate::captions::Counters,
}

/// One seek, as seen on screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SeekRecord {
    /// Where the seek asked to go, seconds of media.
    pub target_s: f64,
    /// The first frame shown after it, seconds of media.
    pub first_frame_s: Option<f64>,
    /// From the key press (or script step) to that frame on screen.
    pub delay_ms: Option<f64>,
}

/// One pause, as seen on screen and on the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PauseRecord {
    /// The last frame shown before the pause, seconds of media.
    pub last_frame_s: Option<f64>,
    /// The first frame shown after resuming, seconds of media.
    pub resumed_frame_s: Option<f64>,
    /// The last RTP packet after PAUSE was sent, milliseconds after it (0: none came).
    pub rtp_tail_ms: Option<f64>,
}

/// Everything measured in one playback.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// What was played.
    pub url: String,
    /// `udp`, `tcp` or `course`.
    pub transport: String,
    /// Frame width in pixels (from the decoded frames).
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// The stream's frame rate (SDP `a=framerate`).
    pub fps_stream: Option<f64>,
    /// The presentation's length (SDP `a=range`), seconds.
    pub duration_s: Option<f64>,
    /// Frames in the presentation: SDP range × frame rate, when both are known, or the course
    /// server's `Total-Frames`.
    pub frames_expected: Option<u64>,
    /// Complete frames reassembled.
    pub frames_received: u64,
    /// Frames shown (or handed to the null sink).
    pub frames_displayed: u64,
    /// Frames dropped because their time had passed (in the cache or after decoding).
    pub frames_late: u64,
    /// Frames lost on the network.
    pub frames_lost: u64,
    /// Of the frames received, those shown with lost restart intervals taken from the frame
    /// before (RFC 2435 §3.1.7); the rest are intact.
    pub frames_concealed: u64,
    /// Frames that failed to decode.
    pub frames_undecodable: u64,
    /// Frames refused because the cache was full.
    pub frames_overflow: u64,
    /// Frames on their way to the screen thrown away by a seek.
    pub frames_flushed: u64,
    /// Frames received but not yet due when the run ended (`--duration`, quit, an error):
    /// with displayed, late, undecodable and flushed, every received frame is accounted for.
    pub frames_unplayed: u64,
    /// RTP packets received.
    pub packets_received: u64,
    /// RTP packets lost (RFC 3550 A.3).
    pub packets_lost: i64,
    /// RTP packets that arrived out of order.
    pub packets_reordered: u64,
    /// RTP packets received twice.
    pub packets_duplicate: u64,
    /// Lost packets that came back in a retransmission (RFC 4588); 0 without repair.
    pub packets_repaired: u64,
    /// Lost packets asked for again (RFC 4585 NACK) that never came back in time.
    pub packets_unrepaired: u64,
    /// Bytes of RTX packets received.
    pub rtx_bytes: u64,
    /// Lost packets over expected packets (after repair).
    pub loss_rate: f64,
    /// RTP bytes received.
    pub bytes_received: u64,
    /// RTP bytes per second of reception, in Mbit/s.
    pub data_rate_mbps: f64,
    /// The sender's RTP timestamps did not advance from frame to frame: frames were shown at
    /// the stream's frame rate, else at their arrival pace.
    pub timestamps_unusable: bool,
    /// Times the sender's timestamps restarted mid-stream (the playout clock was re-anchored).
    pub timestamp_restarts: u64,
    /// Times the cache ran dry.
    pub rebuffer_count: u64,
    /// Time spent rebuffering, milliseconds.
    pub rebuffer_ms: f64,
    /// Frames shown per second, first to last.
    pub fps_displayed: f64,
    /// Wall time of the whole run, seconds.
    pub elapsed_s: f64,
    /// Decode threads used.
    pub decode_threads: usize,
    /// The UDP receive buffer the kernel granted, bytes.
    pub rcvbuf_bytes: Option<usize>,
    /// Process CPU time (user + system), seconds.
    pub cpu_s: Option<f64>,
    /// Process CPU time per frame shown, milliseconds.
    pub cpu_ms_per_frame: Option<f64>,
    /// Last packet of a frame to the frame on screen.
    pub latency_ms: Percentiles,
    /// The sender's capture of a frame to the frame on screen (the NTP time of a live
    /// stream's sender reports: the publisher's capture clock); `None` for a file (its
    /// server's reports give the sending schedule, which a prefetch runs ahead of: the figure
    /// meant nothing) and without sender reports.
    pub capture_to_display_ms: Option<Percentiles>,
    /// Decoding one frame.
    pub decode_ms: Percentiles,
    /// First to last fragment of a frame.
    pub assembly_ms: Percentiles,
    /// Between consecutive frames on screen.
    pub display_interval_ms: Percentiles,
    /// Seeks made.
    pub seeks: Vec<SeekRecord>,
    /// Pauses made.
    pub pauses: Vec<PauseRecord>,
    /// NPT of every frame shown, when recording was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub displayed_npt: Vec<f64>,
    /// Pixel checksum of every frame shown ([`crate::present::pixel_checksum`]), when
    /// recording was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub displayed_checksums: Vec<u64>,
    /// Capture to display of every frame shown, ms, when recording was asked for (`null`:
    /// no capture time).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub displayed_capture_ms: Vec<Option<f64>>,
    /// Where the sound output was when each frame went on screen, ms of what `--audio-out`
    /// recorded (its sample *k* is heard at *k / rate*; `null`: no sound yet), when recording
    /// was asked for: a click in that recording lines up with the picture it belongs to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub displayed_sound_ms: Vec<Option<f64>>,
    /// The mean brightness (0–255) of every frame shown, when recording was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub displayed_brightness: Vec<u8>,
    /// The audio track: counts and the audio/video offset (fields `audio_*`).
    #[serde(flatten)]
    pub audio: crate::audio::AudioReport,
    /// Captions made from the text track's lines.
    pub captions_received: u64,
    /// Characters and packets of the text track dropped (control characters, invalid UTF-8,
    /// another source, unparsable).
    pub captions_dropped: u64,
}

fn row(f: &mut fmt::Formatter<'_>, name: &str, p: &Percentiles) -> fmt::Result {
    writeln!(
        f,
        "  {name:<22} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8}",
        p.mean, p.p50, p.p90, p.p99, p.max, p.count
    )
}

impl fmt::Display for Report {
    /// The table printed at exit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
        writeln!(f, "hdstream-client: {} ({})", self.url, self.transport)?;
        writeln!(
            f,
            "  picture                {}x{}, stream {} fps, shown {:.2} fps, {:.2} s",
            self.width,
            self.height,
            self.fps_stream
                .map_or_else(|| "?".to_owned(), |v| format!("{v:.2}")),
            self.fps_displayed,
            self.elapsed_s
        )?;
        writeln!(
            f,
            "  frames                 expected {}, received {} ({} concealed), displayed {}, late {}, lost {}, undecodable {}, overflow {}, flushed {}, unplayed {}",
            opt(self.frames_expected),
            self.frames_received,
            self.frames_concealed,
            self.frames_displayed,
            self.frames_late,
            self.frames_lost,
            self.frames_undecodable,
            self.frames_overflow,
            self.frames_flushed,
            self.frames_unplayed
        )?;
        writeln!(
            f,
            "  packets                received {}, lost {} ({:.3}%), reordered {}, duplicate {}",
            self.packets_received,
            self.packets_lost,
            self.loss_rate * 100.0,
            self.packets_reordered,
            self.packets_duplicate
        )?;
        if self.packets_repaired + self.packets_unrepaired > 0 {
            writeln!(
                f,
                "  repair                 {} packets repaired, {} not in time, {} RTX bytes",
                self.packets_repaired, self.packets_unrepaired, self.rtx_bytes
            )?;
        }
        writeln!(
            f,
            "  data                   {} bytes, {:.2} Mbit/s",
            self.bytes_received, self.data_rate_mbps
        )?;
        writeln!(
            f,
            "  rebuffering            {} times, {:.1} ms",
            self.rebuffer_count, self.rebuffer_ms
        )?;
        write!(f, "{}", self.audio)?;
        if self.captions_received + self.captions_dropped > 0 {
            writeln!(
                f,
                "  captions               received {}, dropped {}",
                self.captions_received, self.captions_dropped
            )?;
        }
        if self.timestamps_unusable {
            writeln!(
                f,
                "  timing                 the sender's RTP timestamps were unusable (one for every frame): frames shown at {}",
                self.fps_stream.map_or_else(
                    || "their arrival pace".to_owned(),
                    |v| format!("{v:.2} fps")
                )
            )?;
        }
        if self.timestamp_restarts > 0 {
            writeln!(
                f,
                "  timing                 the sender's timestamps restarted {} time(s): clock re-anchored",
                self.timestamp_restarts
            )?;
        }
        if let (Some(cpu), Some(per_frame)) = (self.cpu_s, self.cpu_ms_per_frame) {
            writeln!(
                f,
                "  CPU                    {cpu:.2} s, {per_frame:.2} ms per frame, {} decode thread(s)",
                self.decode_threads
            )?;
        }
        writeln!(
            f,
            "  {:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "times (ms)", "mean", "p50", "p90", "p99", "max", "count"
        )?;
        if let Some(capture) = &self.capture_to_display_ms {
            row(f, "capture to display", capture)?;
        }
        row(f, "arrival to display", &self.latency_ms)?;
        row(f, "decode", &self.decode_ms)?;
        row(f, "frame assembly", &self.assembly_ms)?;
        row(f, "display interval", &self.display_interval_ms)
    }
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (Linux).
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI hdstream runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = Histogram::new();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let p = h.percentiles();
        assert_eq!(p.count, 100);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
        let mut other = Histogram::new();
        other.record(Duration::from_secs(2));
        h.merge(&other);
        assert!((h.percentiles().max - 2000.0).abs() < 2.0);
    }

    #[test]
    fn the_json_report_has_the_documented_fields() {
        let report = Report {
            frames_expected: Some(300),
            ..Report::default()
        };
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        for key in [
            "frames_expected",
            "frames_displayed",
            "frames_late",
            "frames_lost",
            "frames_concealed",
            "frames_undecodable",
            "frames_unplayed",
            "packets_received",
            "packets_lost",
            "packets_repaired",
            "packets_unrepaired",
            "rtx_bytes",
            "bytes_received",
            "rebuffer_count",
            "width",
            "height",
            "fps_displayed",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        for key in ["p50", "p99", "max"] {
            assert!(json["latency_ms"].get(key).is_some());
            assert!(json["decode_ms"].get(key).is_some());
        }
        assert!(json.get("displayed_npt").is_none(), "empty list left out");
    }

    #[test]
    fn cpu_time_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_time().is_some());
        }
    }
}
