//! Interarrival jitter, RFC 3550 §6.4.1 and Appendix A.8.

/// The interarrival jitter estimate J of one source, in RTP timestamp units (§6.4.1):
///
/// ```text
/// D(i-1,i) = (R_i - R_{i-1}) - (S_i - S_{i-1}) = (R_i - S_i) - (R_{i-1} - S_{i-1})
/// J(i)     = J(i-1) + (|D(i-1,i)| - J(i-1)) / 16
/// ```
///
/// S is the packet's RTP timestamp and R its arrival time expressed in the same units (for
/// video, 90 kHz ticks): the caller converts its clock, so this type reads none. Kept scaled by
/// 16 in integers, as A.8's second form does, so no rounding builds up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Jitter {
    /// The previous packet's relative transit time `R - S`.
    transit: Option<u32>,
    /// J × 16.
    scaled: u64,
}

impl Jitter {
    /// No packet seen yet; jitter 0.
    pub fn new() -> Jitter {
        Jitter::default()
    }

    /// Takes one packet into account: its RTP `timestamp` and its `arrival` time in the same
    /// units (both wrap modulo 2^32).
    pub fn update(&mut self, timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(previous) = self.transit {
            // |D| as the signed 32-bit difference of two transit times, as A.8 computes it.
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            // J += |D| - J/16 (rounded), in units of 1/16.
            self.scaled = (self.scaled + d).saturating_sub((self.scaled + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// The estimate, in RTP timestamp units, as a report block carries it.
    pub fn get(&self) -> u32 {
        u32::try_from(self.scaled >> 4).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_delay_has_no_jitter() {
        let mut j = Jitter::new();
        for i in 0..100u32 {
            j.update(i * 3000, 12_345 + i * 3000);
        }
        assert_eq!(j.get(), 0);
    }

    #[test]
    fn known_sequence() {
        // Frames every 3000 ticks (30 fps at 90 kHz); the third arrives 100 ticks late.
        let mut j = Jitter::new();
        j.update(0, 0);
        j.update(3000, 3000);
        assert_eq!(j.get(), 0);
        j.update(6000, 6100); // |D| = 100: J = 100/16 = 6.25
        assert_eq!(j.get(), 6);
        j.update(9000, 9000); // |D| = 100: J = 6.25 + (100 - 6.25)/16 = 12.11
        assert_eq!(j.get(), 12);
    }

    #[test]
    fn matches_floating_point_form() {
        // A.8's first form in f64, fed arrival offsets that repeat 0, 40, -25, 90, 10.
        let offsets = [0i64, 40, -25, 90, 10];
        let mut j = Jitter::new();
        let mut reference = 0.0f64;
        let mut previous_transit: Option<i64> = None;
        for i in 0..200i64 {
            let ts = (u32::MAX - 50_000).wrapping_add(i as u32 * 3000); // wraps on the way
            let arrival = (i64::from(ts) + 7 + offsets[i as usize % 5]) as u32;
            j.update(ts, arrival);
            let transit = i64::from(arrival.wrapping_sub(ts) as i32);
            if let Some(p) = previous_transit {
                let d = (transit - p).abs() as f64;
                reference += (d - reference) / 16.0;
            }
            previous_transit = Some(transit);
        }
        assert!(
            (f64::from(j.get()) - reference).abs() <= 1.0,
            "{} vs {reference}",
            j.get()
        );
        assert!(j.get() > 30, "the pattern has real jitter: {}", j.get());
    }

    #[test]
    fn wrap_of_timestamps_is_not_jitter() {
        let mut j = Jitter::new();
        j.update(u32::MAX - 1000, 5);
        j.update(2000, 3006); // 3001 ticks later on both clocks, across the wrap
        assert_eq!(j.get(), 0);
    }
}
