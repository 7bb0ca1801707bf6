//! Which media time the audio output is playing at a given moment, shared (in an `Arc`) by the
//! output on the network thread, which writes sample frames, and the presenter on the main
//! thread, which asks at each picture it shows (the audio/video offset).
//!
//! The output is a stream of sample frames that starts at play time `origin` ([`crate::clock`]:
//! wall time less the pauses) and plays at the track's rate, as a sound device does: frame *k*
//! is heard at `origin + k / rate`. Each run of frames written is recorded with the media time
//! (NPT) of its first frame, or none for silence that stands for nothing (before the sound,
//! across a seek, an underrun). What is heard at play time *t* is the frame at
//! `(t − origin) × rate` — if it has been written; if not, the device has run dry and nothing
//! is heard.

use std::collections::VecDeque;
use std::time::Instant;

use parking_lot::Mutex;

/// Output frames kept in the record behind the newest, in seconds of sound.
const KEEP_SECONDS: u64 = 2;

/// One run of output frames.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    /// Output frame index of its first frame.
    start: u64,
    /// Frames in it.
    len: u64,
    /// Media time of its first frame; `None` for silence that stands for no media.
    npt: Option<f64>,
}

#[derive(Debug, Default)]
struct State {
    rate: u32,
    /// Play time of output frame 0.
    origin: Option<Instant>,
    runs: VecDeque<Run>,
}

/// The audio output's position, for other threads.
#[derive(Debug, Default)]
pub struct Playhead {
    state: Mutex<State>,
}

impl Playhead {
    /// A playhead that has not started (it knows no media time).
    pub fn new() -> Playhead {
        Playhead::default()
    }

    /// The output starts: frame 0 is heard at play time `origin`, frames follow at `rate`.
    pub fn begin(&self, origin: Instant, rate: u32) {
        let mut s = self.state.lock();
        s.origin = Some(origin);
        s.rate = rate.max(1);
        s.runs.clear();
    }

    /// Frames `start .. start + len` were written; the first is at media time `npt` (the rest
    /// follow at the rate), or stands for no media.
    pub fn wrote(&self, start: u64, len: u64, npt: Option<f64>) {
        if len == 0 {
            return;
        }
        let mut s = self.state.lock();
        let rate = f64::from(s.rate.max(1));
        let half_frame = 0.5 / rate;
        match s.runs.back_mut() {
            Some(last)
                if last.start + last.len == start
                    && match (last.npt, npt) {
                        (None, None) => true,
                        (Some(a), Some(b)) => (a + last.len as f64 / rate - b).abs() < half_frame,
                        _ => false,
                    } =>
            {
                last.len += len;
            }
            _ => s.runs.push_back(Run { start, len, npt }),
        }
        let keep_from = (start + len).saturating_sub(KEEP_SECONDS * u64::from(s.rate));
        while s.runs.len() > 1 && s.runs.front().is_some_and(|r| r.start + r.len <= keep_from) {
            s.runs.pop_front();
        }
    }

    /// Where the output stream is at play time `play`, seconds from its frame 0 (negative
    /// before it starts): frame *k* of what `--audio-out` records is heard at *k / rate*.
    /// `None` before the output has begun.
    pub fn position(&self, play: Instant) -> Option<f64> {
        let origin = self.state.lock().origin?;
        Some(match play.checked_duration_since(origin) {
            Some(after) => after.as_secs_f64(),
            None => -origin.duration_since(play).as_secs_f64(),
        })
    }

    /// The media time heard at play time `play`: `None` before the output starts, while it
    /// plays silence that stands for nothing, and past what was written (the device ran dry).
    pub fn media_time(&self, play: Instant) -> Option<f64> {
        let s = self.state.lock();
        let origin = s.origin?;
        let since = play.checked_duration_since(origin)?;
        let rate = f64::from(s.rate.max(1));
        let k = (since.as_secs_f64() * rate) as u64;
        let run = s
            .runs
            .iter()
            .rev()
            .find(|r| r.start <= k && k < r.start + r.len)?;
        Some(run.npt? + (k - run.start) as f64 / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn what_is_heard_is_what_was_written_at_that_frame() {
        let t0 = Instant::now();
        let p = Playhead::new();
        assert_eq!(p.media_time(t0), None, "not started");
        assert_eq!(p.position(t0), None, "not started");
        p.begin(t0 + 100 * MS, 1000);
        assert!((p.position(t0).unwrap() + 0.1).abs() < 1e-9);
        assert!((p.position(t0 + 350 * MS).unwrap() - 0.25).abs() < 1e-9);
        // 50 ms of silence, then media from NPT 2.0 in two contiguous writes, then a jump.
        p.wrote(0, 50, None);
        p.wrote(50, 30, Some(2.0));
        p.wrote(80, 20, Some(2.03));
        p.wrote(100, 10, Some(7.0));
        assert_eq!(p.media_time(t0), None, "before the origin");
        assert_eq!(p.media_time(t0 + 120 * MS), None, "silence");
        let at = |ms: u32| p.media_time(t0 + ms * MS).unwrap();
        assert!((at(150) - 2.0).abs() < 1e-9);
        assert!((at(190) - 2.04).abs() < 1e-9);
        assert!((at(205) - 7.005).abs() < 1e-9);
        assert_eq!(
            p.media_time(t0 + 210 * MS),
            None,
            "not written yet: the device ran dry"
        );
        assert_eq!(p.state.lock().runs.len(), 3, "contiguous media runs merge");
    }

    #[test]
    fn old_runs_are_forgotten() {
        let t0 = Instant::now();
        let p = Playhead::new();
        p.begin(t0, 100);
        for k in 0..100u64 {
            p.wrote(k * 10, 10, Some(k as f64 * 7.0));
        }
        let s = p.state.lock();
        assert!(s.runs.len() <= 21, "{}", s.runs.len());
        assert_eq!(s.runs.back().map(|r| r.start), Some(990));
    }
}
