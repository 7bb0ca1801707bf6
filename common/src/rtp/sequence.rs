//! Extended sequence numbers, source validation and reception counts, RFC 3550 Appendix A.1
//! and A.3.

/// A jump ahead of this many sequence numbers or more is not taken as loss but as a possible
/// restart of the sender's numbering (A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// A packet up to this many sequence numbers behind the highest is late or duplicated; further
/// behind is a jump (A.1).
pub const MAX_MISORDER: u16 = 100;
/// In-sequence packets a new source must send before it is valid (A.1 probation).
pub const MIN_SEQUENTIAL: u32 = 2;

/// Wrap-aware difference `a - b` of two sequence numbers: positive when `a` is newer.
///
/// Exactly half the number space apart (`0x8000`) counts as older.
pub fn sequence_delta(a: u16, b: u16) -> i16 {
    // The cast reinterprets the modular difference as signed; that is the point.
    a.wrapping_sub(b) as i16
}

/// What [`SequenceTracker::update`] made of one packet's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The source is on probation (A.1) and this packet is not counted yet; once enough
    /// in-sequence packets arrive, they all are.
    Probation,
    /// Counted: the new highest sequence number, `gap` packets after the previous highest
    /// (0 when consecutive).
    InOrder {
        /// Extended sequence number of this packet.
        extended: u64,
        /// Sequence numbers skipped between the previous highest and this one.
        gap: u16,
    },
    /// Counted: lower than the highest received, and not seen before.
    Reordered {
        /// Extended sequence number of this packet.
        extended: u64,
    },
    /// Counted, as A.1 counts it (so the loss count may go negative): already received.
    Duplicate {
        /// Extended sequence number of this packet.
        extended: u64,
    },
    /// Not counted: more than [`MAX_DROPOUT`] ahead or [`MAX_MISORDER`] behind. If the next
    /// packet follows this one, the sender is taken to have restarted its numbering.
    Jump,
    /// Counted: the sender restarted its numbering (two in-sequence packets after a jump).
    /// Every count was reset and this packet is the new base.
    Restarted {
        /// Extended sequence number of this packet (the sequence number itself).
        extended: u64,
    },
    /// Not counted: late, from before the first packet this tracker counted.
    Stale,
}

/// Packets expected and received since the previous report (A.3), from
/// [`SequenceTracker::take_interval`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    /// Packets expected in the interval (`expected - expected_prior`).
    pub expected: u64,
    /// Packets received in the interval (`received - received_prior`).
    pub received: u64,
}

/// The state of a valid source.
#[derive(Debug, Clone, Copy)]
struct Valid {
    /// Extended sequence number of the first counted packet (`base_seq`).
    base: u64,
    /// Highest extended sequence number (`cycles + max_seq`).
    max: u64,
    /// The sequence number that, if it comes next, confirms a restart (`bad_seq`).
    bad_seq: Option<u16>,
    /// Packets counted, duplicates included.
    received: u64,
    /// `expected` at the previous report.
    expected_prior: u64,
    /// `received` at the previous report.
    received_prior: u64,
    /// Packets counted that had been received before.
    duplicates: u64,
    /// Packets counted that arrived after a higher one.
    reordered: u64,
    /// Bit `i` is set when `max - i` has been received (the misorder window).
    seen: u128,
}

impl Valid {
    /// `init_seq` of A.1, with `received` packets ending at extended number `max` counted.
    fn new(max: u64, received: u64) -> Valid {
        let received_bits = u32::try_from(received).unwrap_or(u32::MAX).min(128);
        Valid {
            base: max + 1 - received,
            max,
            bad_seq: None,
            received,
            expected_prior: 0,
            received_prior: 0,
            duplicates: 0,
            reordered: 0,
            seen: u128::MAX.checked_shr(128 - received_bits).unwrap_or(0),
        }
    }

    fn expected(&self) -> u64 {
        self.max - self.base + 1
    }
}

/// Where the source stands in validation.
#[derive(Debug, Clone, Copy)]
enum State {
    /// No packet yet.
    Empty,
    /// `run` in-sequence packets so far, the last numbered `last`.
    Probation { last: u16, run: u32 },
    /// Validated.
    Valid(Valid),
}

/// One RTP source's sequence numbers, as RFC 3550 Appendix A.1 tracks them: extended to 64
/// bits across wrap-arounds, validated by probation, and counted for reception reports (A.3).
///
/// Two deliberate refinements of the appendix's code, which it permits:
/// - the packets that pass probation are all counted, and the first of them is the base,
///   so a clean stream reports no loss at its start (A.1 drops the first from the counts);
/// - duplicates and reordering are told apart with a bitmap of the last 128 numbers, so
///   [`SequenceTracker::duplicates`] and [`SequenceTracker::reordered`] are exact within the
///   [`MAX_MISORDER`] window. Duplicates are still counted as received, as A.1 does, so
///   [`SequenceTracker::lost`] may go negative.
///
/// Extended numbers start at the first counted sequence number (cycle 0), as in A.1; the
/// 32-bit "extended highest sequence number" of a report block is the low 32 bits.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    /// In-sequence packets needed to validate the source.
    min_sequential: u32,
    /// The sequence number the stream is known to start at (RTSP `RTP-Info: seq=`).
    first: Option<u16>,
    /// Validation state and counts.
    state: State,
}

impl Default for SequenceTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl SequenceTracker {
    /// A tracker that validates a new source with [`MIN_SEQUENTIAL`] in-sequence packets.
    pub fn new() -> SequenceTracker {
        Self::with_min_sequential(MIN_SEQUENTIAL)
    }

    /// A tracker that needs `min_sequential` in-sequence packets; 0 or 1 trusts the first packet
    /// (for a source already known from RTSP `RTP-Info`).
    pub fn with_min_sequential(min_sequential: u32) -> SequenceTracker {
        SequenceTracker {
            min_sequential,
            first: None,
            state: State::Empty,
        }
    }

    /// The stream starts at `seq` (RTSP `RTP-Info: seq=`, RFC 2326 §12.33): a first packet that
    /// arrives after a later one is still counted, and counted lost if it never comes. Only
    /// before the first packet; within [`MAX_MISORDER`] of it.
    pub fn expect_first(&mut self, seq: u16) {
        if matches!(self.state, State::Empty) {
            self.first = Some(seq);
        }
    }

    /// Takes one packet's sequence number into account (A.1 `update_seq`).
    pub fn update(&mut self, seq: u16) -> Arrival {
        match &mut self.state {
            State::Empty => self.probation(seq, 1),
            State::Probation { last, run } => {
                if seq == last.wrapping_add(1) {
                    let run = run.saturating_add(1);
                    self.probation(seq, run)
                } else {
                    self.probation(seq, 1)
                }
            }
            State::Valid(v) => update_valid(v, seq),
        }
    }

    /// Records a probation run of `run` packets ending at `seq`, validating the source once the
    /// run is long enough.
    fn probation(&mut self, seq: u16, run: u32) -> Arrival {
        if run >= self.min_sequential {
            let received = u64::from(run);
            // Extended numbers start at cycle 0 with the first packet of the run; the cast keeps
            // the run length modulo 2^16, which is what stepping back over it needs.
            let first = seq.wrapping_sub(run.saturating_sub(1) as u16);
            let max = u64::from(first) + received.saturating_sub(1);
            let mut valid = Valid::new(max, received);
            // Packets between the announced start and the first one to arrive are expected.
            if let Some(start) = self.first {
                let before = first.wrapping_sub(start);
                if before < MAX_MISORDER && u64::from(before) <= valid.base {
                    valid.base -= u64::from(before);
                }
            }
            self.state = State::Valid(valid);
            Arrival::InOrder {
                extended: max,
                gap: 0,
            }
        } else {
            self.state = State::Probation { last: seq, run };
            Arrival::Probation
        }
    }

    /// The validated state, if any.
    fn valid(&self) -> Option<&Valid> {
        match &self.state {
            State::Valid(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.valid().is_some()
    }

    /// A packet recovered another way (RFC 4588 retransmission) with extended sequence number
    /// `ext`, at or below the highest received: counted as received (A.3) unless the misorder
    /// window shows it was already. True when it was counted.
    pub fn recovered(&mut self, ext: u64) -> bool {
        let State::Valid(v) = &mut self.state else {
            return false;
        };
        if ext > v.max || ext < v.base {
            return false;
        }
        let back = v.max - ext;
        if back < 128 {
            let bit = 1u128 << back;
            if v.seen & bit != 0 {
                return false;
            }
            v.seen |= bit;
        }
        v.received += 1;
        true
    }

    /// Extended sequence number of the first counted packet (A.1 `base_seq`).
    pub fn base(&self) -> Option<u64> {
        self.valid().map(|v| v.base)
    }

    /// Highest extended sequence number received (A.1 `cycles + max_seq`).
    pub fn extended_highest(&self) -> Option<u64> {
        self.valid().map(|v| v.max)
    }

    /// Packets counted, duplicates included (A.1 `received`).
    pub fn received(&self) -> u64 {
        self.valid().map_or(0, |v| v.received)
    }

    /// Packets expected: highest minus base, plus one (A.3).
    pub fn expected(&self) -> u64 {
        self.valid().map_or(0, Valid::expected)
    }

    /// Cumulative packets lost, `expected - received` (A.3); negative when duplicates outnumber
    /// losses.
    pub fn lost(&self) -> i64 {
        let (expected, received) = (self.expected(), self.received());
        i64::try_from(i128::from(expected) - i128::from(received)).unwrap_or(i64::MIN)
    }

    /// Counted packets that had been received before.
    pub fn duplicates(&self) -> u64 {
        self.valid().map_or(0, |v| v.duplicates)
    }

    /// Counted packets that arrived after a higher-numbered one.
    pub fn reordered(&self) -> u64 {
        self.valid().map_or(0, |v| v.reordered)
    }

    /// Packets expected and received since the previous call, and starts a new interval
    /// (A.3 `expected_prior`, `received_prior`).
    pub fn take_interval(&mut self) -> Interval {
        let State::Valid(v) = &mut self.state else {
            return Interval::default();
        };
        let expected = v.expected();
        let interval = Interval {
            expected: expected.saturating_sub(v.expected_prior),
            received: v.received.saturating_sub(v.received_prior),
        };
        v.expected_prior = expected;
        v.received_prior = v.received;
        interval
    }
}

/// A.1 `update_seq` for a valid source.
fn update_valid(v: &mut Valid, seq: u16) -> Arrival {
    // The low 16 bits of the extended maximum are `max_seq`.
    let max_seq = v.max as u16;
    let udelta = seq.wrapping_sub(max_seq);
    if udelta < MAX_DROPOUT {
        v.received += 1;
        if udelta == 0 {
            v.duplicates += 1;
            return Arrival::Duplicate { extended: v.max };
        }
        v.max += u64::from(udelta);
        v.seen = v.seen.checked_shl(u32::from(udelta)).unwrap_or(0) | 1;
        Arrival::InOrder {
            extended: v.max,
            gap: udelta - 1,
        }
    } else if udelta <= u16::MAX - MAX_MISORDER + 1 {
        if v.bad_seq == Some(seq) {
            *v = Valid::new(u64::from(seq), 1);
            Arrival::Restarted {
                extended: u64::from(seq),
            }
        } else {
            v.bad_seq = Some(seq.wrapping_add(1));
            Arrival::Jump
        }
    } else {
        let back = max_seq.wrapping_sub(seq);
        let extended = match v.max.checked_sub(u64::from(back)) {
            Some(e) if e >= v.base => e,
            _ => return Arrival::Stale,
        };
        v.received += 1;
        let bit = 1u128 << back;
        if v.seen & bit != 0 {
            v.duplicates += 1;
            Arrival::Duplicate { extended }
        } else {
            v.seen |= bit;
            v.reordered += 1;
            Arrival::Reordered { extended }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_recovered_packet_far_behind_counts_once_and_restarts_nothing() {
        let mut t = SequenceTracker::with_min_sequential(1);
        t.update(0);
        for seq in 2..1000 {
            t.update(seq);
        }
        assert_eq!(t.lost(), 1);
        // Packet 1 comes back 998 packets later: beyond the misorder window, yet no restart.
        assert!(t.recovered(1));
        assert_eq!(
            (t.lost(), t.received(), t.extended_highest()),
            (0, 1000, Some(999))
        );
        assert!(
            t.recovered(1),
            "beyond the window a repeat cannot be told apart"
        );
        // Inside the window it can.
        t.update(1001);
        assert!(t.recovered(1000));
        assert!(!t.recovered(1000));
        assert!(!t.recovered(2000), "not sent yet");
    }

    #[test]
    fn an_announced_first_packet_that_comes_second_is_counted() {
        let mut t = SequenceTracker::with_min_sequential(1);
        t.expect_first(1000);
        assert!(matches!(
            t.update(1001),
            Arrival::InOrder { extended: 1001, .. }
        ));
        assert_eq!(t.update(1000), Arrival::Reordered { extended: 1000 });
        t.update(1002);
        assert_eq!((t.expected(), t.received(), t.lost()), (3, 3, 0));
        // And one that never comes is lost.
        let mut t = SequenceTracker::with_min_sequential(1);
        t.expect_first(7);
        t.update(8);
        t.update(9);
        assert_eq!((t.expected(), t.lost()), (3, 1));
    }

    #[test]
    fn delta_wraps() {
        assert_eq!(sequence_delta(0, 65535), 1);
        assert_eq!(sequence_delta(65535, 0), -1);
        assert_eq!(sequence_delta(10, 5), 5);
        assert_eq!(sequence_delta(0x8000, 0), i16::MIN);
    }

    #[test]
    fn probation_then_counts_from_the_first_packet() {
        let mut t = SequenceTracker::new();
        assert_eq!(t.update(100), Arrival::Probation);
        assert!(!t.is_valid());
        assert_eq!(
            t.update(101),
            Arrival::InOrder {
                extended: 101,
                gap: 0
            }
        );
        assert_eq!(t.base(), Some(100));
        assert_eq!((t.received(), t.expected(), t.lost()), (2, 2, 0));
    }

    #[test]
    fn probation_restarts_on_a_gap() {
        let mut t = SequenceTracker::with_min_sequential(3);
        assert_eq!(t.update(1), Arrival::Probation);
        assert_eq!(t.update(2), Arrival::Probation);
        assert_eq!(t.update(4), Arrival::Probation);
        assert_eq!(t.update(5), Arrival::Probation);
        assert!(matches!(t.update(6), Arrival::InOrder { extended: 6, .. }));
        assert_eq!(t.base(), Some(4));
        assert_eq!(t.received(), 3);
    }

    #[test]
    fn probation_across_the_wrap() {
        let mut t = SequenceTracker::new();
        assert_eq!(t.update(65535), Arrival::Probation);
        assert!(matches!(
            t.update(0),
            Arrival::InOrder {
                extended: 65536,
                ..
            }
        ));
        assert_eq!(t.base(), Some(65535));
        assert_eq!(t.expected(), 2);
    }

    #[test]
    fn counts_loss_reorder_and_duplicates() {
        let mut t = SequenceTracker::with_min_sequential(1);
        t.update(10);
        assert_eq!(
            t.update(13),
            Arrival::InOrder {
                extended: 13,
                gap: 2
            }
        );
        assert_eq!(t.update(11), Arrival::Reordered { extended: 11 });
        assert_eq!(t.update(11), Arrival::Duplicate { extended: 11 });
        assert_eq!(t.update(13), Arrival::Duplicate { extended: 13 });
        assert_eq!((t.expected(), t.received(), t.lost()), (4, 5, -1));
        assert_eq!((t.duplicates(), t.reordered()), (2, 1));
        assert_eq!(t.update(9), Arrival::Stale);
        assert_eq!(t.received(), 5);
    }

    #[test]
    fn jump_then_restart() {
        let mut t = SequenceTracker::with_min_sequential(1);
        t.update(1000);
        t.update(1001);
        assert_eq!(t.update(1001 + MAX_DROPOUT), Arrival::Jump);
        assert_eq!(t.update(500), Arrival::Jump);
        assert_eq!(t.update(501), Arrival::Restarted { extended: 501 });
        assert_eq!((t.base(), t.received(), t.expected()), (Some(501), 1, 1));
        // A packet MAX_MISORDER behind is a jump, one less is late.
        t.update(560);
        assert_eq!(t.update(560 - MAX_MISORDER), Arrival::Jump);
        assert_eq!(
            t.update(560 - MAX_MISORDER + 1),
            Arrival::Stale,
            "before the new base"
        );
        assert_eq!(t.update(520), Arrival::Reordered { extended: 520 });
    }

    #[test]
    fn interval_counts() {
        let mut t = SequenceTracker::with_min_sequential(1);
        for seq in [1, 2, 4, 5] {
            t.update(seq);
        }
        assert_eq!(
            t.take_interval(),
            Interval {
                expected: 5,
                received: 4
            }
        );
        for seq in [6, 9] {
            t.update(seq);
        }
        assert_eq!(
            t.take_interval(),
            Interval {
                expected: 4,
                received: 2
            }
        );
        assert_eq!(t.take_interval(), Interval::default());
    }

    /// What happens to the next sequence number of a test stream.
    #[derive(Debug, Clone, Copy)]
    enum Fate {
        Deliver,
        Drop,
        Repeat,
        /// Skip this many numbers (a burst of loss), then deliver.
        Gap(u64),
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Random loss, duplication and reorder (within MAX_MISORDER) across the wrap: the
        /// tracker's counts equal those of a model computed on extended numbers.
        #[test]
        fn counts_match_model(
            start in prop_oneof![65_000u64..=65_535, 0u64..65_536],
            fates in prop::collection::vec(
                prop_oneof![
                    12 => Just(Fate::Deliver),
                    4 => Just(Fate::Drop),
                    2 => Just(Fate::Repeat),
                    1 => (1u64..2_000).prop_map(Fate::Gap),
                ],
                1..400,
            ),
            swaps in prop::collection::vec((any::<prop::sample::Index>(), 1usize..40), 0..30),
        ) {
            // The first packet is always delivered: it sets the base.
            let mut sent = vec![start];
            let mut ext = start;
            for fate in fates {
                ext += 1;
                match fate {
                    Fate::Deliver => sent.push(ext),
                    Fate::Drop => {}
                    Fate::Repeat => sent.extend([ext, ext]),
                    Fate::Gap(n) => {
                        ext += n;
                        sent.push(ext);
                    }
                }
            }
            for (at, distance) in swaps {
                let a = at.index(sent.len());
                let b = (a + distance).min(sent.len() - 1);
                // Keep the first packet first so the base is as the model expects.
                if a > 0 {
                    sent.swap(a, b);
                }
            }

            let mut tracker = SequenceTracker::with_min_sequential(1);
            let mut seen = std::collections::HashSet::new();
            let (mut max, mut received, mut duplicates, mut reordered) = (start, 0u64, 0u64, 0u64);
            for &ext in &sent {
                // Leave out what reordering moved past the A.1 windows: those are jumps.
                if ext + u64::from(MAX_MISORDER) <= max || ext >= max + u64::from(MAX_DROPOUT) {
                    continue;
                }
                let arrival = tracker.update(ext as u16);
                received += 1;
                let expected_arrival = if !seen.insert(ext) {
                    duplicates += 1;
                    Arrival::Duplicate { extended: ext }
                } else if ext < max {
                    reordered += 1;
                    Arrival::Reordered { extended: ext }
                } else {
                    let gap = if received == 1 { 0 } else { (ext - max - 1) as u16 };
                    max = ext;
                    Arrival::InOrder { extended: ext, gap }
                };
                prop_assert_eq!(arrival, expected_arrival);
            }
            let expected = max - start + 1;
            prop_assert_eq!(tracker.base(), Some(start));
            prop_assert_eq!(tracker.extended_highest(), Some(max));
            prop_assert_eq!(tracker.expected(), expected);
            prop_assert_eq!(tracker.received(), received);
            prop_assert_eq!(tracker.lost(), expected as i64 - received as i64);
            prop_assert_eq!(tracker.duplicates(), duplicates);
            prop_assert_eq!(tracker.reordered(), reordered);
        }
    }
}
