//! A token bucket for paced sending.
//!
//! The server asks the bucket when each RTP packet may leave, so a frame's packets spread over
//! time at the stream's rate (with headroom) instead of leaving in one burst that overflows a
//! switch or a receiver's socket buffer. Sans-IO: every method takes `now`, none reads a clock.

use std::time::{Duration, Instant};

/// Token units per byte: tokens are kept in nanobyte units, so refilling at any byte rate over
/// any whole number of nanoseconds is exact.
const UNITS: i128 = 1_000_000_000;

/// The furthest ahead [`TokenBucket::ready_at`] answers; a caller told to wait this long should
/// simply ask again then.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A token bucket: tokens (bytes) accrue at `rate` bytes per second up to `burst`; sending a
/// packet of n bytes spends n.
///
/// A packet larger than the burst can never find n tokens in the bucket. It may leave when the
/// bucket is full instead, and spending it drives the bucket into debt (negative tokens) that
/// the rate repays before anything else may leave: such packets still go out, and the long-run
/// rate still holds.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Refill rate, bytes per second (at least 1).
    rate: u64,
    /// Capacity, bytes (at least 1).
    burst: u64,
    /// Tokens at `updated`, in nanobytes; negative while in debt, at most `burst` bytes.
    tokens: i128,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket refilling at `rate_bytes_per_sec` up to `burst_bytes`. Zero for either is
    /// taken as 1.
    pub fn new(rate_bytes_per_sec: u64, burst_bytes: u64, now: Instant) -> TokenBucket {
        let burst = burst_bytes.max(1);
        TokenBucket {
            rate: rate_bytes_per_sec.max(1),
            burst,
            tokens: i128::from(burst) * UNITS,
            updated: now,
        }
    }

    /// The refill rate, bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// The capacity, bytes.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Tokens in the bucket at `now` (nanobytes) and the instant they are counted at, which is
    /// `now` unless `now` is earlier than a previous call's (time never runs back).
    fn tokens_at(&self, now: Instant) -> (i128, Instant) {
        let Some(elapsed) = now.checked_duration_since(self.updated) else {
            return (self.tokens, self.updated);
        };
        let full = i128::from(self.burst) * UNITS;
        let room = u128::try_from(full - self.tokens).unwrap_or(0);
        let refill = elapsed.as_nanos().saturating_mul(u128::from(self.rate));
        // `refill.min(room)` is at most `room`, which came from an i128.
        let refill = i128::try_from(refill.min(room)).unwrap_or(0);
        (self.tokens + refill, now)
    }

    /// Brings the stored tokens up to `now`.
    fn refill(&mut self, now: Instant) {
        (self.tokens, self.updated) = self.tokens_at(now);
    }

    /// Whole bytes of tokens at `now`; negative while in debt after a packet larger than the
    /// burst or a forced [`TokenBucket::take`].
    pub fn available(&self, now: Instant) -> i64 {
        let bytes = self.tokens_at(now).0.div_euclid(UNITS);
        i64::try_from(bytes).unwrap_or(if bytes < 0 { i64::MIN } else { i64::MAX })
    }

    /// When a packet of `n` bytes may leave: `now` if it may now, else the instant enough tokens
    /// will have accrued (never more than [`MAX_WAIT`] ahead). A packet larger than the burst
    /// may leave when the bucket is full.
    pub fn ready_at(&self, n: usize, now: Instant) -> Instant {
        let (tokens, at) = self.tokens_at(now);
        let needed = i128::from(u64::try_from(n).unwrap_or(u64::MAX).min(self.burst)) * UNITS;
        let deficit = needed - tokens;
        if deficit <= 0 {
            return at;
        }
        let rate = i128::from(self.rate);
        // Round up: at the instant returned, the tokens are there.
        let wait_nanos = (deficit + rate - 1) / rate;
        let wait = u64::try_from(wait_nanos)
            .map(Duration::from_nanos)
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT);
        at.checked_add(wait).unwrap_or(at)
    }

    /// Spends `n` bytes if a packet of that size may leave at `now` ([`TokenBucket::ready_at`]);
    /// otherwise spends nothing and returns when it may.
    pub fn try_take(&mut self, n: usize, now: Instant) -> Result<(), Instant> {
        let ready = self.ready_at(n, now);
        if ready > now {
            return Err(ready);
        }
        self.take(n, now);
        Ok(())
    }

    /// Spends `n` bytes at `now` whether or not they are there (the packet was sent anyway, e.g.
    /// an RTCP packet); any shortfall becomes debt that delays what follows.
    pub fn take(&mut self, n: usize, now: Instant) {
        self.refill(now);
        let n = i128::try_from(n).unwrap_or(i128::MAX / UNITS);
        self.tokens = self.tokens.saturating_sub(n.saturating_mul(UNITS));
    }

    /// Changes the refill rate from `now` on; tokens accrued until `now` are kept.
    pub fn set_rate(&mut self, rate_bytes_per_sec: u64, now: Instant) {
        self.refill(now);
        self.rate = rate_bytes_per_sec.max(1);
    }

    /// Changes the capacity from `now` on; tokens above the new capacity are dropped.
    pub fn set_burst(&mut self, burst_bytes: u64, now: Instant) {
        self.refill(now);
        self.burst = burst_bytes.max(1);
        self.tokens = self.tokens.min(i128::from(self.burst) * UNITS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1000, 3000, t0);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(1000, t0), Ok(()));
        }
        assert_eq!(bucket.try_take(1000, t0), Err(t0 + ms(1000)));
        assert_eq!(bucket.try_take(500, t0 + ms(200)), Err(t0 + ms(500)));
        assert_eq!(bucket.try_take(500, t0 + ms(500)), Ok(()));
        assert_eq!(bucket.available(t0 + ms(500)), 0);
        // Idle for long: the bucket fills to the burst, no further.
        assert_eq!(bucket.available(t0 + Duration::from_secs(60)), 3000);
    }

    #[test]
    fn sends_at_the_rate_in_the_long_run() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1_000_000, 10_000, t0);
        let mut now = t0;
        let mut sent = 0u64;
        while now < t0 + Duration::from_secs(2) {
            match bucket.try_take(1400, now) {
                Ok(()) => sent += 1400,
                Err(ready) => {
                    assert!(ready > now);
                    now = ready;
                }
            }
        }
        // Two seconds at 1 MB/s plus the initial burst, within one packet.
        assert!(sent.abs_diff(2_010_000) <= 1400, "sent {sent}");
    }

    #[test]
    fn packet_larger_than_burst_leaves_when_full_then_repays() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1000, 1500, t0);
        assert_eq!(bucket.ready_at(10_000, t0), t0, "a full bucket lets it go");
        bucket.take(10_000, t0);
        assert_eq!(bucket.available(t0), -8500);
        // The debt is repaid before a small packet may leave: (8500 + 100) bytes at 1000 B/s.
        assert_eq!(bucket.ready_at(100, t0), t0 + ms(8600));
        // Another large packet waits for a full bucket: (8500 + 1500) bytes.
        assert_eq!(bucket.ready_at(10_000, t0), t0 + ms(10_000));
        assert_eq!(bucket.try_take(10_000, t0 + ms(9999)), Err(t0 + ms(10_000)));
        assert_eq!(bucket.try_take(10_000, t0 + ms(10_000)), Ok(()));
    }

    #[test]
    fn rate_change_keeps_accrued_tokens() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1000, 1000, t0);
        bucket.take(1000, t0);
        // Half a second at 1000 B/s, then the rate doubles.
        bucket.set_rate(2000, t0 + ms(500));
        assert_eq!(bucket.available(t0 + ms(500)), 500);
        assert_eq!(bucket.ready_at(1000, t0 + ms(500)), t0 + ms(750));
        assert_eq!(bucket.rate(), 2000);
        bucket.set_burst(200, t0 + ms(500));
        assert_eq!((bucket.burst(), bucket.available(t0 + ms(500))), (200, 200));
    }

    #[test]
    fn time_running_back_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(1000, 1000, t0);
        bucket.take(1000, t0);
        let earlier = t0 - Duration::from_secs(5);
        assert_eq!(bucket.ready_at(500, earlier), t0 + ms(500));
        assert!(bucket.try_take(500, earlier).is_err());
        assert_eq!(bucket.available(earlier), 0);
    }

    #[test]
    fn zero_rate_and_huge_debt_stay_bounded() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(0, 0, t0);
        assert_eq!((bucket.rate(), bucket.burst()), (1, 1));
        bucket.take(usize::MAX, t0);
        assert_eq!(bucket.ready_at(1, t0), t0 + MAX_WAIT);
    }
}
