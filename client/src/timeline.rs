//! Media time of the frames received: the timestamps the playout clock runs on.
//!
//! - **Usable RTP timestamps** (RFC 3550 §5.1: media time, advancing at the sender): a frame's
//!   time is its extended timestamp, shifted by an offset that changes only at a restart.
//! - **A sender that restarts** — a timestamp that goes back, or leaps ahead by more than
//!   [`MAX_LEAP`] beyond the time that passed between the two arrivals: the frame is re-anchored
//!   one frame interval after the previous one, and the frames after it follow on, so the clock
//!   neither stalls waiting for a far future nor drops everything as late.
//! - **Unusable timestamps** — two frames in a row, each ended by its marker, with one timestamp
//!   (a `filesrc ! jpegparse ! rtpjpegpay` sender stamps nothing) — and the course's senders,
//!   whose frames are numbered, not timed: frame *n* is `n − m` intervals after frame *m*. The
//!   interval is the stream's own frame rate where it has one (SDP `a=framerate`, or `--fps`),
//!   else the pace at which the frames arrive, else — before that pace is known, or when frames
//!   come faster than [`MAX_PACED_FPS`], a burst that no sender paced — the default rate.
//!
//! Sans-IO: arrival instants come in with each frame.

use std::time::{Duration, Instant};

/// A forward leap of the timestamps larger than this beyond the arrival gap is a restart.
pub const MAX_LEAP: Duration = Duration::from_millis(250);
/// Frames arriving faster than this are a burst, not a pace to show them at.
pub const MAX_PACED_FPS: f64 = 120.0;
/// Frames the arrival pace is measured over before it is used.
const PACE_FRAMES: i64 = 3;
/// An arrival gap longer than this (a pause, a stall) starts the pace measurement afresh.
const PACE_GAP: Duration = Duration::from_secs(1);

/// What a frame brings to be placed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderTime {
    /// Its extended RTP timestamp.
    Rtp(i64),
    /// Its frame number (the course's senders).
    Number(i64),
}

/// The previous frame placed.
#[derive(Debug, Clone, Copy)]
struct Last {
    raw: Option<i64>,
    placed: i64,
    number: i64,
    arrival: Instant,
}

/// Places frames on the media clock (see the module documentation).
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The media clock, Hz (SDP `a=rtpmap`).
    clock_rate: u32,
    /// Seconds per frame, when the stream says.
    fixed: Option<f64>,
    /// Seconds per frame before the pace is known, or when frames burst.
    fallback: f64,
    /// Timestamps found unusable (sticky: a sender that stamps nothing keeps doing so).
    synthetic: bool,
    offset: i64,
    /// Smallest positive timestamp step seen.
    step: Option<i64>,
    last: Option<Last>,
    /// Where the arrival pace is measured from: (frame number, arrival).
    pace_from: Option<(i64, Instant)>,
    /// The last pace measured, kept while a new measurement starts (after a pause).
    measured: Option<f64>,
    restarts: u64,
}

impl Timeline {
    /// A timeline at `clock_rate` Hz; `fps` is the stream's frame rate when it says, and
    /// `fallback_fps` the rate assumed when nothing else tells.
    pub fn new(clock_rate: u32, fps: Option<f64>, fallback_fps: f64) -> Timeline {
        let valid = |f: f64| f.is_finite() && f > 0.0;
        Timeline {
            clock_rate: clock_rate.max(1),
            fixed: fps.filter(|f| valid(*f)).map(|f| 1.0 / f),
            fallback: 1.0
                / if valid(fallback_fps) {
                    fallback_fps
                } else {
                    30.0
                },
            synthetic: false,
            offset: 0,
            step: None,
            last: None,
            pace_from: None,
            measured: None,
            restarts: 0,
        }
    }

    /// The media clock's rate, Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// The stream's own frame rate, when it says (SDP `a=framerate`, or `--fps`).
    pub fn described_fps(&self) -> Option<f64> {
        self.fixed.map(|interval| 1.0 / interval)
    }

    /// The stream moved (a PLAY with a new position): the next frame is placed as the first.
    pub fn reset(&mut self) {
        self.offset = 0;
        self.last = None;
        self.pace_from = None;
    }

    /// Whether the sender's timestamps were found unusable.
    pub fn timestamps_unusable(&self) -> bool {
        self.synthetic
    }

    /// Restarts of the sender's timestamps that re-anchored the clock.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Seconds from one frame to the next when frames are numbered: the stream's rate, else
    /// the arrival pace measured so far, else the fallback.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval_secs())
    }

    fn interval_secs(&self) -> f64 {
        self.fixed
            .or(self.pace())
            .or(self.measured)
            .unwrap_or(self.fallback)
    }

    /// The pace of arrivals since `pace_from`, once it spans enough frames; `None` for a
    /// burst.
    fn pace(&self) -> Option<f64> {
        let ((from, t0), last) = (self.pace_from?, self.last?);
        let frames = last.number - from;
        if frames < PACE_FRAMES {
            return None;
        }
        let pace = last.arrival.saturating_duration_since(t0).as_secs_f64() / frames as f64;
        (pace >= 1.0 / MAX_PACED_FPS).then_some(pace)
    }

    fn ticks(&self, secs: f64) -> i64 {
        (secs * f64::from(self.clock_rate)).round().max(1.0) as i64
    }

    /// The media time of a frame that arrived at `arrival`, in clock ticks.
    pub fn place(&mut self, stamp: SenderTime, arrival: Instant) -> i64 {
        if self
            .last
            .is_some_and(|l| arrival.saturating_duration_since(l.arrival) > PACE_GAP)
        {
            // A pause or a stall: keep the pace measured so far, measure afresh from here.
            self.measured = self.pace().or(self.measured);
            self.pace_from = None;
        }
        let (placed, number, raw) = match (stamp, self.last) {
            (SenderTime::Rtp(raw), None) => (raw + self.offset, 0, Some(raw)),
            (SenderTime::Number(n), None) => (0, n, None),
            (SenderTime::Rtp(raw), Some(last)) if !self.synthetic => {
                let delta = raw - last.raw.unwrap_or(raw);
                if delta == 0 {
                    tracing::warn!(
                        timestamp = raw,
                        "two frames with one RTP timestamp: the sender's timestamps are unusable; \
                         frames are timed by the frame rate or their arrival"
                    );
                    self.synthetic = true;
                    self.pace_from = self.pace_from.or(Some((last.number, last.arrival)));
                    (self.after(last, 1), last.number + 1, Some(raw))
                } else {
                    let arrived = arrival
                        .saturating_duration_since(last.arrival)
                        .as_secs_f64();
                    let leap = delta as f64 / f64::from(self.clock_rate) - arrived;
                    if delta < 0 || leap > MAX_LEAP.as_secs_f64() {
                        self.restarts += 1;
                        let next = last.placed + self.frame_ticks();
                        tracing::info!(
                            from = last.raw,
                            to = raw,
                            "the sender's timestamps restarted: the playout clock is re-anchored"
                        );
                        self.offset = next - raw;
                    } else if self.step.is_none_or(|s| delta < s) {
                        self.step = Some(delta);
                    }
                    (raw + self.offset, last.number + 1, Some(raw))
                }
            }
            (SenderTime::Rtp(raw), Some(last)) => (self.after(last, 1), last.number + 1, Some(raw)),
            (SenderTime::Number(n), Some(last)) => {
                // A number that goes back (a sender that started over) is the next frame.
                let frames = (n - last.number).clamp(1, 1 << 20);
                (self.after(last, frames), last.number + frames, None)
            }
        };
        if matches!(stamp, SenderTime::Number(_)) || self.synthetic {
            self.pace_from.get_or_insert((number, arrival));
        }
        self.last = Some(Last {
            raw,
            placed,
            number,
            arrival,
        });
        placed
    }

    /// `frames` intervals after `last`.
    fn after(&self, last: Last, frames: i64) -> i64 {
        last.placed + frames * self.ticks(self.interval_secs())
    }

    /// One frame interval in ticks: the stream's rate, else the smallest step seen.
    fn frame_ticks(&self) -> i64 {
        match (self.fixed, self.step) {
            (Some(f), _) => self.ticks(f),
            (None, Some(step)) => step,
            (None, None) => self.ticks(self.fallback),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn usable_timestamps_are_kept() {
        let t0 = Instant::now();
        let mut t = Timeline::new(90_000, Some(30.0), 30.0);
        let placed: Vec<i64> = (0..5)
            .map(|n| t.place(SenderTime::Rtp(1000 + 3000 * n), t0 + 33 * MS * n as u32))
            .collect();
        assert_eq!(placed, [1000, 4000, 7000, 10_000, 13_000]);
        assert!(!t.timestamps_unusable());
        assert_eq!(t.restarts(), 0);
    }

    #[test]
    fn a_restart_backwards_or_far_ahead_continues_the_clock() {
        let t0 = Instant::now();
        let mut t = Timeline::new(90_000, None, 30.0);
        let at = |n: u32| t0 + 33 * MS * n;
        let mut placed = Vec::new();
        for n in 0..3 {
            placed.push(t.place(SenderTime::Rtp(900_000 + 3000 * i64::from(n)), at(n)));
        }
        // Back to 0, then on from there.
        for n in 3..6 {
            placed.push(t.place(SenderTime::Rtp(3000 * i64::from(n - 3)), at(n)));
        }
        // Ten hours ahead.
        for n in 6..8 {
            placed.push(t.place(
                SenderTime::Rtp(3_240_000_000 + 3000 * i64::from(n - 6)),
                at(n),
            ));
        }
        let steps: Vec<i64> = placed.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(steps, [3000; 7], "{placed:?}");
        assert_eq!(t.restarts(), 2);
        // A gap in arrival explains a leap: frames lost for a second, not a restart.
        let before = t.restarts();
        t.place(
            SenderTime::Rtp(3_240_003_000 + 90_000),
            at(8) + Duration::from_secs(1),
        );
        assert_eq!(t.restarts(), before);
    }

    #[test]
    fn one_timestamp_for_every_frame_is_timed_by_the_frame_rate() {
        let t0 = Instant::now();
        let mut t = Timeline::new(90_000, Some(25.0), 30.0);
        let placed: Vec<i64> = (0..4).map(|_| t.place(SenderTime::Rtp(77), t0)).collect();
        assert_eq!(placed, [77, 77 + 3600, 77 + 7200, 77 + 10_800]);
        assert!(t.timestamps_unusable());
    }

    #[test]
    fn without_a_frame_rate_frames_follow_their_arrival_pace() {
        let t0 = Instant::now();
        let mut t = Timeline::new(90_000, None, 30.0);
        let placed: Vec<i64> = (0..10)
            .map(|n| t.place(SenderTime::Rtp(5), t0 + 50 * MS * n))
            .collect();
        // The first frames at the fallback (30 fps), then 20 fps as measured.
        let last_steps: Vec<i64> = placed[6..].windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(last_steps, [4500; 3]);
        assert!((t.interval().as_secs_f64() - 0.05).abs() < 1e-9);
    }

    #[test]
    fn a_burst_is_shown_at_the_default_rate() {
        let t0 = Instant::now();
        let mut t = Timeline::new(90_000, None, 30.0);
        let placed: Vec<i64> = (0..300)
            .map(|n| t.place(SenderTime::Rtp(0), t0 + Duration::from_micros(500 * n)))
            .collect();
        assert!(placed.windows(2).all(|w| w[1] - w[0] == 3000));
    }

    #[test]
    fn numbered_frames_leave_room_for_the_missing_and_measure_the_pace() {
        let t0 = Instant::now();
        let mut t = Timeline::new(90_000, None, 20.0);
        let mut placed = Vec::new();
        for n in [1i64, 2, 3, 4, 5, 7, 8] {
            placed.push(t.place(SenderTime::Number(n), t0 + 40 * MS * (n as u32 - 1)));
        }
        // 25 fps measured from arrivals: 3600 ticks a frame; frame 6 keeps its slot.
        assert_eq!(placed[6] - placed[5], 3600);
        assert_eq!(placed[5] - placed[4], 7200);
        // After a pause, the pace is measured afresh and the clock goes on by one frame.
        let resumed = t0 + Duration::from_secs(10);
        let after = t.place(SenderTime::Number(9), resumed);
        assert_eq!(after - placed[6], 3600);
    }
}
