//! RTP timestamps past their 32-bit wrap-around (RFC 3550 §5.1: the timestamp starts at a
//! random value and wraps; a 90 kHz clock wraps every 13.25 hours).

/// Wrap-aware difference `a - b` of two RTP timestamps: positive when `a` is later.
pub fn timestamp_delta(a: u32, b: u32) -> i32 {
    // The cast reinterprets the modular difference as signed; that is the point.
    a.wrapping_sub(b) as i32
}

/// Extends 32-bit RTP timestamps to 64 bits, for a playout clock keyed by timestamp.
///
/// The first timestamp maps to itself; each later one is placed at the signed 32-bit distance
/// ([`timestamp_delta`]) from the previous one, so steps of less than 2^31 ticks (6.6 hours at
/// 90 kHz) in either direction are unwrapped correctly. A timestamp before the first, across
/// the wrap, comes out negative.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimestampUnwrapper {
    /// The previous extended timestamp.
    last: Option<i64>,
}

impl TimestampUnwrapper {
    /// An unwrapper that has seen no timestamp.
    pub fn new() -> TimestampUnwrapper {
        TimestampUnwrapper::default()
    }

    /// The 64-bit value of `timestamp`.
    pub fn unwrap(&mut self, timestamp: u32) -> i64 {
        let extended = match self.last {
            None => i64::from(timestamp),
            Some(last) => {
                // The low 32 bits of `last` are the previous timestamp.
                last.saturating_add(i64::from(timestamp_delta(timestamp, last as u32)))
            }
        };
        self.last = Some(extended);
        extended
    }

    /// The most recent extended timestamp.
    pub fn last(&self) -> Option<i64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delta_wraps() {
        assert_eq!(timestamp_delta(10, u32::MAX - 9), 20);
        assert_eq!(timestamp_delta(u32::MAX - 9, 10), -20);
        assert_eq!(timestamp_delta(3000, 0), 3000);
    }

    #[test]
    fn unwraps_forward_and_back() {
        let mut u = TimestampUnwrapper::new();
        assert_eq!(u.unwrap(u32::MAX - 1499), i64::from(u32::MAX) - 1499);
        assert_eq!(u.unwrap(1500), (1i64 << 32) + 1500);
        assert_eq!(u.unwrap(u32::MAX), i64::from(u32::MAX));
        assert_eq!(u.last(), Some(i64::from(u32::MAX)));

        let mut u = TimestampUnwrapper::new();
        u.unwrap(5);
        assert_eq!(u.unwrap(u32::MAX - 4), -5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Any walk with steps under 2^31 is recovered exactly from its low 32 bits, across as
        /// many wraps as it makes.
        #[test]
        fn unwrap_recovers_walk(
            start in prop_oneof![(u32::MAX - 100_000)..=u32::MAX, any::<u32>()],
            steps in prop::collection::vec(prop_oneof![
                8 => 0i64..6_000,
                1 => -300_000i64..0,
                1 => -(1i64 << 31) + 1..(1i64 << 31),
            ], 1..200),
        ) {
            let mut u = TimestampUnwrapper::new();
            let mut model = i64::from(start);
            prop_assert_eq!(u.unwrap(start), model);
            for step in steps {
                model += step;
                prop_assert_eq!(u.unwrap(model as u32), model);
            }
        }
    }
}
