//! The playout clock: the one owner of pause, of the seek epoch and of lateness, shared by the
//! network thread (the client core pauses and seeks it, the playout releases frames against
//! it) and the presentation (which shows pictures against it and skips those of an older
//! epoch). See docs/architecture.md, "Where state lives".
//!
//! Frames are timed in *play time*: wall time less every pause so far. A pause therefore moves
//! nothing — the cache's anchor and every picture's due time stay as they are; play time stops,
//! and goes on from where it stopped on resume. It reads no clock itself: callers pass `now`.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The shared playout clock (hold it in an `Arc`).
#[derive(Debug, Default)]
pub struct Clock {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    /// When the current pause began.
    paused_at: Option<Instant>,
    /// Every finished pause, added up.
    paused: Duration,
    /// Seeks so far: frames of an older epoch are not shown.
    epoch: u64,
    /// Frames dropped because their time had passed, wherever that was found.
    late: u64,
}

impl Clock {
    /// A running clock at epoch 0.
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Play time at wall time `now`: `now` less the pauses; while paused, the moment the pause
    /// began (less the earlier ones).
    pub fn play_time(&self, now: Instant) -> Instant {
        let s = *self.state.lock();
        let at = s.paused_at.map_or(now, |p| p.min(now));
        at.checked_sub(s.paused).unwrap_or(at)
    }

    /// The wall time at which play time reaches `t`; `None` while paused (it never does).
    pub fn wall_time(&self, t: Instant) -> Option<Instant> {
        let s = *self.state.lock();
        match s.paused_at {
            Some(_) => None,
            None => Some(t + s.paused),
        }
    }

    /// Stops play time at `now`; false if it was stopped already.
    pub fn pause(&self, now: Instant) -> bool {
        let mut s = self.state.lock();
        if s.paused_at.is_some() {
            return false;
        }
        s.paused_at = Some(now);
        true
    }

    /// Lets play time go on from where it stopped; false if it was running.
    pub fn resume(&self, now: Instant) -> bool {
        let mut s = self.state.lock();
        let Some(at) = s.paused_at.take() else {
            return false;
        };
        s.paused += now.saturating_duration_since(at);
        true
    }

    /// Whether play time is stopped.
    pub fn is_paused(&self) -> bool {
        self.state.lock().paused_at.is_some()
    }

    /// The current epoch: frames of an older one are from before a seek.
    pub fn epoch(&self) -> u64 {
        self.state.lock().epoch
    }

    /// A seek at `now`: a new epoch begins (returned) and play time runs again.
    pub fn seek(&self, now: Instant) -> u64 {
        self.resume(now);
        let mut s = self.state.lock();
        s.epoch += 1;
        s.epoch
    }

    /// Whether a frame due at play time `due`, which may still be shown `grace` after that, is
    /// late at wall time `now`.
    pub fn is_late(&self, due: Instant, grace: Duration, now: Instant) -> bool {
        self.play_time(now) > due + grace
    }

    /// Counts a frame dropped as late.
    pub fn count_late(&self) {
        self.state.lock().late += 1;
    }

    /// Frames dropped as late so far (before decoding and after).
    pub fn late(&self) -> u64 {
        self.state.lock().late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn play_time_stands_still_while_paused_and_goes_on_from_there() {
        let t0 = Instant::now();
        let c = Clock::new();
        assert_eq!(c.play_time(t0 + 10 * MS), t0 + 10 * MS);
        assert!(c.pause(t0 + 10 * MS));
        assert!(!c.pause(t0 + 20 * MS), "paused already");
        assert_eq!(c.play_time(t0 + 500 * MS), t0 + 10 * MS);
        assert_eq!(c.wall_time(t0 + 30 * MS), None);
        assert!(c.resume(t0 + 510 * MS));
        assert_eq!(c.play_time(t0 + 520 * MS), t0 + 20 * MS);
        // A frame due at play time 30 ms is now due at wall time 530 ms.
        assert_eq!(c.wall_time(t0 + 30 * MS), Some(t0 + 530 * MS));
        assert!(!c.is_late(t0 + 30 * MS, 33 * MS, t0 + 560 * MS));
        assert!(c.is_late(t0 + 30 * MS, 33 * MS, t0 + 570 * MS));
    }

    #[test]
    fn a_seek_starts_a_new_epoch_and_ends_a_pause() {
        let t0 = Instant::now();
        let c = Clock::new();
        c.pause(t0);
        assert_eq!(c.seek(t0 + 100 * MS), 1);
        assert!(!c.is_paused());
        assert_eq!(c.epoch(), 1);
        assert_eq!(c.play_time(t0 + 100 * MS), t0);
        c.count_late();
        c.count_late();
        assert_eq!(c.late(), 2);
    }
}
