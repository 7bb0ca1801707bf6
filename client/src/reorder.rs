//! A small reorder buffer in front of the RFC 2435 depacketizer, which needs packets in
//! sequence order (RFC 3550 §2.1: the network may reorder them; the sequence number restores
//! the order).
//!
//! Packets are keyed by extended sequence number. The next expected packet goes straight
//! through; one that arrives early is held until the gap before it fills, or until the oldest
//! held packet has waited [`Reorder::hold`] (the missing ones are then taken as lost), or until
//! more than the capacity are held. A packet older than what was already released is late.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What to do with a packet, from [`Reorder::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is the next in order: process it now (the buffer has moved past it).
    Deliver,
    /// It came early: give it to [`Reorder::hold`].
    Hold,
    /// It is older than what was already released (or held twice): drop it.
    Late,
}

/// Packets held until their turn.
#[derive(Debug)]
pub struct Reorder<T> {
    next: Option<u64>,
    held: BTreeMap<u64, (Instant, T)>,
    hold: Duration,
    capacity: usize,
    late: u64,
    skipped: u64,
}

impl<T> Reorder<T> {
    /// A buffer that waits at most `hold` for a missing packet and holds at most `capacity`.
    pub fn new(hold: Duration, capacity: usize) -> Reorder<T> {
        Reorder {
            next: None,
            held: BTreeMap::new(),
            hold,
            capacity: capacity.max(1),
            late: 0,
            skipped: 0,
        }
    }

    /// The longest a packet waits for the gap before it.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// Packets dropped as late.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Sequence numbers given up on (released past without their packet).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The order starts at `ext` (the stream's announced first packet): a later packet that
    /// comes first waits for it. Only before any packet was taken.
    pub fn start_at(&mut self, ext: u64) {
        if self.next.is_none() && self.held.is_empty() {
            self.next = Some(ext);
        }
    }

    /// Forgets everything (a seek); the next packet checked starts the order.
    pub fn reset(&mut self) {
        self.next = None;
        self.held.clear();
    }

    /// Decides about the packet with extended sequence number `ext`.
    pub fn check(&mut self, ext: u64) -> Verdict {
        match self.next {
            None if self.held.is_empty() => {
                self.next = Some(ext + 1);
                Verdict::Deliver
            }
            Some(next) if ext == next && self.held.is_empty() => {
                self.next = Some(next + 1);
                Verdict::Deliver
            }
            Some(next) if ext < next => {
                self.late += 1;
                Verdict::Late
            }
            _ if self.held.contains_key(&ext) => {
                self.late += 1;
                Verdict::Late
            }
            _ => Verdict::Hold,
        }
    }

    /// Holds an early packet (after [`Verdict::Hold`]).
    pub fn hold_packet(&mut self, ext: u64, item: T, now: Instant) {
        if self.next.is_none() {
            self.next = Some(ext);
        }
        self.held.insert(ext, (now, item));
    }

    /// The next packet to process, if its turn has come: the next in order, or, when the
    /// oldest held packet has waited long enough or too many are held, the first after a gap.
    pub fn pop(&mut self, now: Instant) -> Option<(u64, T)> {
        let next = self.next?;
        let (&first, &(held_since, _)) = self.held.first_key_value()?;
        let oldest = self
            .held
            .values()
            .map(|(t, _)| *t)
            .min()
            .unwrap_or(held_since);
        let give_up = now >= oldest + self.hold || self.held.len() > self.capacity;
        if first != next && !give_up {
            return None;
        }
        let (ext, (_, item)) = self.held.pop_first()?;
        self.skipped += ext.saturating_sub(next);
        self.next = Some(ext + 1);
        Some((ext, item))
    }

    /// When a held packet will be released past its gap.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.values().map(|(t, _)| *t + self.hold).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut Reorder<u64>, now: Instant) -> Vec<u64> {
        std::iter::from_fn(|| r.pop(now).map(|(_, v)| v)).collect()
    }

    #[test]
    fn a_later_packet_that_comes_first_waits_for_the_announced_first() {
        let t0 = Instant::now();
        let mut r = Reorder::new(Duration::from_millis(30), 16);
        r.start_at(100);
        assert_eq!(r.check(101), Verdict::Hold);
        r.hold_packet(101, 101, t0);
        assert_eq!(r.check(100), Verdict::Hold);
        r.hold_packet(100, 100, t0);
        assert_eq!(drain(&mut r, t0), [100, 101], "in order, at once");
        assert_eq!(r.late(), 0);
    }

    #[test]
    fn in_order_packets_pass_straight_through() {
        let t = Instant::now();
        let mut r = Reorder::<u64>::new(Duration::from_millis(20), 64);
        for ext in 100..110 {
            assert_eq!(r.check(ext), Verdict::Deliver);
            assert!(r.pop(t).is_none());
        }
        assert!(r.is_empty());
    }

    #[test]
    fn a_swapped_pair_comes_out_in_order() {
        let t = Instant::now();
        let mut r = Reorder::new(Duration::from_millis(20), 64);
        assert_eq!(r.check(1), Verdict::Deliver);
        assert_eq!(r.check(3), Verdict::Hold);
        r.hold_packet(3, 3, t);
        assert_eq!(drain(&mut r, t), Vec::<u64>::new(), "waits for 2");
        assert_eq!(r.check(2), Verdict::Hold);
        r.hold_packet(2, 2, t);
        assert_eq!(drain(&mut r, t), [2, 3]);
        assert_eq!(r.check(4), Verdict::Deliver);
        assert_eq!(r.skipped(), 0);
    }

    #[test]
    fn a_gap_is_given_up_after_the_hold() {
        let t = Instant::now();
        let hold = Duration::from_millis(20);
        let mut r = Reorder::new(hold, 64);
        assert_eq!(r.check(10), Verdict::Deliver);
        for ext in [12, 13] {
            assert_eq!(r.check(ext), Verdict::Hold);
            r.hold_packet(ext, ext, t);
        }
        assert_eq!(r.poll_timeout(), Some(t + hold));
        assert!(r.pop(t + hold - Duration::from_millis(1)).is_none());
        assert_eq!(drain(&mut r, t + hold), [12, 13]);
        assert_eq!(r.skipped(), 1);
        assert_eq!(
            r.check(11),
            Verdict::Late,
            "the lost one arriving after all"
        );
        assert_eq!(r.late(), 1);
        assert_eq!(r.check(14), Verdict::Deliver);
    }

    #[test]
    fn overflow_releases_without_waiting() {
        let t = Instant::now();
        let mut r = Reorder::new(Duration::from_secs(10), 4);
        assert_eq!(r.check(0), Verdict::Deliver);
        for ext in 2..7 {
            assert_eq!(r.check(ext), Verdict::Hold);
            r.hold_packet(ext, ext, t);
        }
        assert_eq!(r.pop(t), Some((2, 2)), "five held, capacity four");
        assert_eq!(drain(&mut r, t), [3, 4, 5, 6], "then in order");
    }

    #[test]
    fn duplicates_of_held_packets_are_late() {
        let t = Instant::now();
        let mut r = Reorder::new(Duration::from_millis(20), 8);
        assert_eq!(r.check(0), Verdict::Deliver);
        assert_eq!(r.check(5), Verdict::Hold);
        r.hold_packet(5, 5, t);
        assert_eq!(r.check(5), Verdict::Late);
        assert_eq!(r.check(0), Verdict::Late);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any permutation within a window comes out as the sorted, duplicate-free sequence once
        /// held packets are released, and nothing is released twice.
        #[test]
        fn any_local_shuffle_is_sorted(swaps in proptest::collection::vec((0usize..40, 0usize..3), 0..20)) {
            let t = Instant::now();
            let mut order: Vec<u64> = (0..40).collect();
            for (i, d) in swaps {
                let j = (i + d).min(39);
                order.swap(i, j);
            }
            let mut r = Reorder::new(Duration::from_millis(20), 64);
            let mut out = Vec::new();
            for ext in order {
                match r.check(ext) {
                    Verdict::Deliver => out.push(ext),
                    Verdict::Hold => r.hold_packet(ext, ext, t),
                    Verdict::Late => {}
                }
                out.extend(drain(&mut r, t));
            }
            out.extend(drain(&mut r, t + Duration::from_secs(1)));
            let mut sorted = out.clone();
            sorted.sort_unstable();
            sorted.dedup();
            proptest::prop_assert_eq!(&out, &sorted);
        }
    }
}
