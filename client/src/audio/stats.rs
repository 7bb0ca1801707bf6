//! What the audio path counts and measures, and its part of the report (the JSON fields that
//! start with `audio_`).

use std::fmt;

use serde::Serialize;

/// Counts of the audio track's reception (network thread).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// RTP packets counted by the sequence tracker (RFC 3550 A.3 `received`).
    pub packets_received: u64,
    /// Packets lost (A.3; negative when duplicates outnumber losses).
    pub packets_lost: i64,
    /// Packets that came after their time was played (their samples were passed over).
    pub packets_late: u64,
    /// Packets dropped as bad: unparsable, another payload type, a payload that is not whole
    /// sample frames.
    pub packets_dropped: u64,
    /// Packets of another SSRC while the followed one was alive, or beyond the gate.
    pub packets_ignored: u64,
    /// Packets dropped because the store was full (30 s of sound waiting).
    pub packets_overflow: u64,
    /// Lost packets whose time was played as silence.
    pub concealed_packets: u64,
    /// Times the output ran dry while sound was due (silence played until more came).
    pub underruns: u64,
    /// Times the followed SSRC changed (after [`super::receive::SSRC_SILENCE`]).
    pub ssrc_changes: u64,
    /// Sample frames played (silence included).
    pub frames_played: u64,
    /// Of those, frames of silence (concealment, underruns, before the sound, across seeks).
    pub frames_silent: u64,
}

/// Signed durations (the audio/video offset), kept as values (µs precision) so their
/// quantiles are exact: up to [`OFFSETS_KEPT`]; past that every other one is kept, and from
/// then on every second one recorded (and so on), which thins them evenly.
#[derive(Debug, Clone)]
pub struct Offsets {
    values: Vec<f32>,
    /// Values recorded.
    seen: u64,
    /// One value in this many is kept.
    stride: u64,
}

/// Offsets kept at most (9 hours of pictures at 30 fps).
pub const OFFSETS_KEPT: usize = 1 << 20;

impl Default for Offsets {
    fn default() -> Self {
        Offsets {
            values: Vec::new(),
            seen: 0,
            stride: 1,
        }
    }
}

impl Offsets {
    /// Records one offset in seconds (not-a-number is ignored).
    pub fn record(&mut self, seconds: f64) {
        if !seconds.is_finite() {
            return;
        }
        self.seen += 1;
        if !self.seen.is_multiple_of(self.stride) {
            return;
        }
        self.values.push(seconds as f32);
        if self.values.len() >= OFFSETS_KEPT {
            let mut i = 0;
            self.values.retain(|_| {
                i += 1;
                i % 2 == 0
            });
            self.stride *= 2;
        }
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.seen
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// The summary, in milliseconds; `None` when empty.
    pub fn summary(&self) -> Option<OffsetSummary> {
        let mut v: Vec<f64> = self.values.iter().map(|&x| f64::from(x) * 1000.0).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        // Nearest rank.
        let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(OffsetSummary {
            count: self.seen,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            min: v[0],
            p1: at(0.01),
            p50: at(0.5),
            p99: at(0.99),
            max: v[v.len() - 1],
        })
    }
}

/// A signed distribution's summary, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OffsetSummary {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// 1st percentile.
    pub p1: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

/// The audio part of the report (flattened into it: every field starts with `audio_`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AudioReport {
    /// The audio track played, `L16/48000/2` and its payload type; `None` without one.
    pub audio_format: Option<String>,
    /// Audio RTP packets received.
    pub audio_packets_received: u64,
    /// Audio RTP packets lost (RFC 3550 A.3).
    pub audio_packets_lost: i64,
    /// Audio packets that came after their time was played.
    pub audio_packets_late: u64,
    /// Audio packets dropped as bad (another payload type, odd lengths, unparsable).
    pub audio_packets_dropped: u64,
    /// Lost audio packets played as silence.
    pub audio_concealed_packets: u64,
    /// Times the audio output ran dry while sound was due.
    pub audio_underruns: u64,
    /// Times the audio SSRC changed mid-stream.
    pub audio_ssrc_changes: u64,
    /// Seconds of audio played (silence included): what `--audio-out` holds.
    pub audio_seconds_played: f64,
    /// Seconds of that which were silence.
    pub audio_seconds_silent: f64,
    /// For each picture shown: its media time less the media time of the sound heard at that
    /// moment by the playout clock ([`super::Playhead`]), in ms. Positive: the picture is
    /// ahead of the sound. With no sound device the audio output follows the playout clock,
    /// so this measures how far from its time each picture was shown, plus how far the
    /// sound's own timestamps put it from the pictures' (RTP-Info or sender reports); `None`
    /// when no picture was shown while sound was heard.
    pub audio_video_offset_ms: Option<OffsetSummary>,
}

impl AudioReport {
    /// The report's audio part from the network thread's counts, the track's format and rate,
    /// and the offsets the presenter measured.
    pub fn new(format: Option<(String, u32)>, c: &Counters, offsets: &Offsets) -> AudioReport {
        let rate = format.as_ref().map_or(1.0, |(_, r)| f64::from((*r).max(1)));
        AudioReport {
            audio_format: format.map(|(name, _)| name),
            audio_packets_received: c.packets_received,
            audio_packets_lost: c.packets_lost,
            audio_packets_late: c.packets_late,
            audio_packets_dropped: c.packets_dropped,
            audio_concealed_packets: c.concealed_packets,
            audio_underruns: c.underruns,
            audio_ssrc_changes: c.ssrc_changes,
            audio_seconds_played: c.frames_played as f64 / rate,
            audio_seconds_silent: c.frames_silent as f64 / rate,
            audio_video_offset_ms: offsets.summary(),
        }
    }
}

impl fmt::Display for AudioReport {
    /// The audio lines of the table (nothing without an audio track).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(format) = &self.audio_format else {
            return Ok(());
        };
        writeln!(
            f,
            "  audio                  {format}: {:.2} s played ({:.2} s silent), packets received {}, lost {}, concealed {}, late {}, dropped {}, underruns {}, SSRC changes {}",
            self.audio_seconds_played,
            self.audio_seconds_silent,
            self.audio_packets_received,
            self.audio_packets_lost,
            self.audio_concealed_packets,
            self.audio_packets_late,
            self.audio_packets_dropped,
            self.audio_underruns,
            self.audio_ssrc_changes
        )?;
        if let Some(o) = &self.audio_video_offset_ms {
            writeln!(
                f,
                "  audio/video offset     p1 {:.2} ms, p50 {:.2} ms, p99 {:.2} ms (min {:.2}, max {:.2}, {} pictures; + = picture ahead)",
                o.p1, o.p50, o.p99, o.min, o.max, o.count
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_keep_their_sign() {
        let mut o = Offsets::default();
        assert!(o.summary().is_none());
        for ms in [-3.0, -1.0, 0.0, 2.0, 40.0] {
            o.record(ms / 1000.0);
        }
        o.record(f64::NAN);
        let s = o.summary().unwrap();
        assert_eq!(s.count, 5);
        assert!((s.p50 - 0.0).abs() < 0.01, "{s:?}");
        assert!(
            (s.min + 3.0).abs() < 0.01 && (s.max - 40.0).abs() < 0.05,
            "{s:?}"
        );
        assert!((s.mean - 7.6).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn the_table_says_nothing_without_audio() {
        assert_eq!(AudioReport::default().to_string(), "");
        let r = AudioReport::new(
            Some(("L16/48000/2 (PT 96)".into(), 48_000)),
            &Counters {
                frames_played: 96_000,
                ..Counters::default()
            },
            &Offsets::default(),
        );
        assert!(r.to_string().contains("2.00 s played"), "{r}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["audio_seconds_played"], 2.0);
        assert!(json["audio_video_offset_ms"].is_null());
    }
}
