//! NTP timestamps and the LSR/DLSR fields of report blocks, RFC 3550 §4 and §6.4.1.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ReportBlock;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const UNIX_OFFSET: i128 = 2_208_988_800;
/// Nanoseconds per second.
const NANOS: i128 = 1_000_000_000;

/// A 64-bit NTP timestamp (§4): seconds since 1900-01-01 UTC in the high 32 bits, fraction of
/// a second in the low 32. The seconds wrap in February 2036 (era 1); conversions follow
/// RFC 4330 §3 and read a seconds value with its top bit clear as 2036–2104.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTimestamp(pub u64);

impl NtpTimestamp {
    /// The NTP timestamp of a wall-clock time the caller read (this crate reads no clock).
    pub fn from_system_time(time: SystemTime) -> NtpTimestamp {
        let unix_nanos = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX / 2),
            Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX / 2),
        };
        let nanos = unix_nanos + UNIX_OFFSET * NANOS;
        let seconds = nanos.div_euclid(NANOS).rem_euclid(1 << 32);
        // Round to the nearest 2^-32 s: every nanosecond then maps back to itself.
        let fraction = (nanos.rem_euclid(NANOS) * (1 << 32) + NANOS / 2) / NANOS;
        // Both parts are below 2^32 by construction.
        NtpTimestamp(((seconds as u64) << 32) | fraction as u64)
    }

    /// The wall-clock time, `None` if the platform's `SystemTime` cannot hold it.
    pub fn to_system_time(self) -> Option<SystemTime> {
        let mut seconds = i128::from(self.0 >> 32);
        if seconds & 0x8000_0000 == 0 {
            seconds += 1 << 32;
        }
        let fraction = i128::from(self.0 & 0xffff_ffff);
        let nanos = (seconds - UNIX_OFFSET) * NANOS + (fraction * NANOS + (1 << 31)) / (1 << 32);
        let magnitude = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).ok()?);
        if nanos >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        }
    }

    /// The middle 32 bits (low 16 of the seconds, high 16 of the fraction): the form LSR
    /// carries and round-trip times are computed in, in units of 1/65536 s.
    pub fn middle(self) -> u32 {
        // Bits 16..48 of the 64-bit value.
        (self.0 >> 16) as u32
    }
}

/// A duration in the 32-bit "compact NTP" units of DLSR: 1/65536 s, saturating at
/// `u32::MAX` (about 18 hours).
pub fn to_compact(duration: Duration) -> u32 {
    let units = duration.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// A 1/65536 s compact NTP value as a duration.
pub fn from_compact(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

/// The most recent sender report received from a source, remembered for the LSR and DLSR
/// fields of the next report block about it (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastSr {
    /// The middle 32 bits of the SR's NTP timestamp (LSR).
    pub lsr: u32,
    /// When the SR arrived, on the caller's clock.
    pub received_at: Instant,
}

impl LastSr {
    /// Remembers a sender report with NTP timestamp `ntp` that arrived at `received_at`.
    pub fn new(ntp: NtpTimestamp, received_at: Instant) -> LastSr {
        LastSr {
            lsr: ntp.middle(),
            received_at,
        }
    }

    /// DLSR: the delay from the SR's arrival to `now`, in 1/65536 s.
    pub fn dlsr(&self, now: Instant) -> u32 {
        to_compact(now.saturating_duration_since(self.received_at))
    }
}

/// The round-trip time a sender computes from a report block about its stream (§6.4.1):
/// `A - LSR - DLSR`, with `arrival` the NTP time the report arrived. `None` when the block
/// carries no LSR (no SR received yet) or the result would be negative (clock trouble).
pub fn round_trip_time(arrival: NtpTimestamp, block: &ReportBlock) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = arrival
        .middle()
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    // A negative result wraps to the top half; treat it as invalid.
    (rtt < 0x8000_0000).then(|| from_compact(rtt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_in_ntp() {
        let ntp = NtpTimestamp::from_system_time(UNIX_EPOCH);
        assert_eq!(ntp.0, 2_208_988_800u64 << 32);
        let half = NtpTimestamp::from_system_time(UNIX_EPOCH + Duration::from_millis(500));
        assert_eq!(half.0, (2_208_988_800u64 << 32) | 0x8000_0000);
        assert_eq!(
            half.to_system_time(),
            Some(UNIX_EPOCH + Duration::from_millis(500))
        );
    }

    #[test]
    fn era_one_after_2036() {
        // 2040-01-01T00:00:00Z is 2208988800 s after the Unix epoch; NTP seconds wrap.
        let t = UNIX_EPOCH + Duration::from_secs(2_208_988_800);
        let ntp = NtpTimestamp::from_system_time(t);
        assert_eq!(ntp.0 >> 32, 2 * 2_208_988_800 - (1 << 32));
        assert_eq!(ntp.to_system_time(), Some(t));
    }

    #[test]
    fn system_time_round_trip_is_exact_to_the_nanosecond() {
        for nanos in [0u64, 1, 999_999_999, 123_456_789, 1_700_000_000_999_999_999] {
            let t = UNIX_EPOCH + Duration::from_nanos(nanos);
            assert_eq!(NtpTimestamp::from_system_time(t).to_system_time(), Some(t));
        }
    }

    #[test]
    fn middle_bits() {
        assert_eq!(NtpTimestamp(0x1122_3344_5566_7788).middle(), 0x3344_5566);
    }

    #[test]
    fn compact_units() {
        assert_eq!(to_compact(Duration::from_secs(1)), 65_536);
        assert_eq!(to_compact(Duration::from_millis(500)), 32_768);
        assert_eq!(to_compact(Duration::from_secs(1 << 20)), u32::MAX);
        assert_eq!(from_compact(65_536 * 3 / 2), Duration::from_millis(1500));
    }

    #[test]
    fn dlsr_and_round_trip() {
        let origin = Instant::now();
        // The SR left the sender at NTP 1000.0 s and reached us at `origin`.
        let sr_ntp = NtpTimestamp(1000 << 32);
        let last = LastSr::new(sr_ntp, origin);
        let dlsr = last.dlsr(origin + Duration::from_millis(250));
        assert_eq!(dlsr, 65_536 / 4);
        assert_eq!(
            last.dlsr(origin - Duration::from_secs(1)),
            0,
            "clock went back"
        );
        let block = ReportBlock {
            last_sr: last.lsr,
            delay_since_last_sr: dlsr,
            ..ReportBlock::default()
        };
        // 40 ms each way: the RR reaches the sender at 1000 + 0.04 + 0.25 + 0.04 s.
        let arrival = NtpTimestamp((1000 << 32) + (0.33 * 4_294_967_296.0) as u64);
        let rtt = round_trip_time(arrival, &block).unwrap();
        assert!(
            rtt.abs_diff(Duration::from_millis(80)) < Duration::from_micros(100),
            "{rtt:?}"
        );
        assert_eq!(round_trip_time(arrival, &ReportBlock::default()), None);
        let early = NtpTimestamp(1000 << 32);
        assert_eq!(round_trip_time(early, &block), None);
    }
}
