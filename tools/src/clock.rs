//! The publisher's one media clock: every track's RTP timestamps and every sender report's NTP
//! time come from it (RFC 3550 §6.4.1), so that a receiver lines the tracks up by their sender
//! reports — a click and a flash stamped with the same media time are shown together.
//!
//! ```text
//!   media time m (a Duration since the publication began)
//!     ├─ RTP timestamp of track t = base_t + m × rate_t      (wrapping at 2^32)
//!     └─ NTP time                  = wall + m                (the same for every track)
//! ```

use std::time::{Duration, Instant, SystemTime};

/// Media time 0 on the monotonic clock (`origin`) and on the wall clock (`wall`). It outlives
/// the sessions: a publisher that connects again keeps its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// When media time 0 was, on the monotonic clock.
    pub origin: Instant,
    /// When media time 0 was, on the wall clock (the NTP time of sender reports).
    pub wall: SystemTime,
}

impl Clock {
    /// A clock whose media time 0 is `now` (and `wall` on the wall clock).
    pub fn new(now: Instant, wall: SystemTime) -> Clock {
        Clock { origin: now, wall }
    }

    /// The media time at `now` (0 before the origin).
    pub fn media_time(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
    }

    /// When media time `at` is, on the monotonic clock.
    pub fn instant(&self, at: Duration) -> Instant {
        self.origin + at
    }

    /// The wall-clock time of media time `at`: what a sender report's NTP timestamp says.
    pub fn wall_time(&self, at: Duration) -> SystemTime {
        self.wall + at
    }
}

/// The RTP timestamp of media time `at` on a track of `rate` Hz whose timestamps start at
/// `base` (RFC 3550 §5.1: a random start). Rounded to the nearest tick, so that sample `k` of a
/// sound at `rate` ([`media_time`]) comes back as `base + k` exactly.
pub fn timestamp(base: u32, at: Duration, rate: u32) -> u32 {
    let ticks = (at.as_nanos() * u128::from(rate) + 500_000_000) / 1_000_000_000;
    // Keeping the low 32 bits is the wrap.
    base.wrapping_add(ticks as u32)
}

/// The media time of tick `ticks` of a clock of `rate` Hz (a sample index, say), to the
/// nanosecond below.
pub fn media_time(ticks: u64, rate: u32) -> Duration {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_come_back_as_the_same_ticks() {
        for rate in [8_000, 44_100, 48_000, 90_000] {
            for k in [0, 1, 340, 44_099, 48_000, 1 << 33] {
                let at = media_time(k, rate);
                assert_eq!(
                    timestamp(7, at, rate),
                    7u32.wrapping_add(k as u32),
                    "{k} @ {rate}"
                );
            }
        }
    }

    #[test]
    fn timestamps_wrap() {
        let at = Duration::from_secs(1);
        assert_eq!(timestamp(u32::MAX, at, 90_000), 89_999);
        assert_eq!(timestamp(0, Duration::from_millis(20), 48_000), 960);
    }

    #[test]
    fn one_mapping_for_every_track() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = Clock::new(now, wall);
        let later = now + Duration::from_millis(1500);
        let m = clock.media_time(later);
        assert_eq!(m, Duration::from_millis(1500));
        assert_eq!(clock.instant(m), later);
        assert_eq!(clock.wall_time(m), wall + Duration::from_millis(1500));
        assert_eq!(
            clock.media_time(now - Duration::from_secs(1)),
            Duration::ZERO
        );
    }
}
