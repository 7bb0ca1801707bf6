//! What a stream sent in the last moments, so a packet can be sent again on request (RFC 4585
//! generic NACK answered with RFC 4588 retransmission): not the bytes, only where each packet
//! came from — frame, offset into it, timestamp — so it can be cut again from the source
//! ([`crate::payload::Cutter::resume`]). Bounded in time ([`History::keep`]) and in entries
//! ([`MAX_ENTRIES`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hdstream_common::rfc2435::Position;

/// Entries kept at most, whatever the time span: 32 bytes each, so 1 MiB a stream.
pub const MAX_ENTRIES: usize = 32 * 1024;
/// How long a packet stays retrievable by default: the client's 500 ms prebuffer, the most
/// a repair can still be in time for.
pub const DEFAULT_KEEP: Duration = Duration::from_millis(500);

/// Where one sent packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Its RTP sequence number.
    pub sequence_number: u16,
    /// Its RTP timestamp.
    pub timestamp: u32,
    /// The source frame it was cut from.
    pub frame: usize,
    /// Where in that frame its payload starts ([`crate::payload::Cutter::position`]).
    pub at: Position,
    /// When it left.
    pub sent: Instant,
}

/// The packets a stream sent within [`History::keep`], in sending order (so in sequence
/// order: a stream's sequence numbers go up by one per packet).
#[derive(Debug)]
pub struct History {
    keep: Duration,
    records: VecDeque<Record>,
}

impl History {
    /// An empty history keeping packets for `keep` (zero: keeps nothing).
    pub fn new(keep: Duration) -> History {
        History {
            keep,
            records: VecDeque::new(),
        }
    }

    /// Packets retrievable now.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Notes a packet that left at `record.sent`, forgetting what is older than [`History::keep`]
    /// (or beyond [`MAX_ENTRIES`]).
    pub fn push(&mut self, record: Record) {
        if self.keep.is_zero() {
            return;
        }
        self.expire(record.sent);
        if self.records.len() >= MAX_ENTRIES {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// Forgets packets sent more than [`History::keep`] before `now`.
    pub fn expire(&mut self, now: Instant) {
        while self
            .records
            .front()
            .is_some_and(|r| now.saturating_duration_since(r.sent) > self.keep)
        {
            self.records.pop_front();
        }
    }

    /// The packet with `sequence_number`, if it is still kept.
    pub fn get(&self, sequence_number: u16) -> Option<&Record> {
        let first = self.records.front()?.sequence_number;
        let at = usize::from(sequence_number.wrapping_sub(first));
        self.records
            .get(at)
            .filter(|r| r.sequence_number == sequence_number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u16, at: Instant) -> Record {
        Record {
            sequence_number: seq,
            timestamp: 3000,
            frame: usize::from(seq / 10),
            at: Position {
                offset: usize::from(seq % 10) * 1000,
                restart_count: 0,
            },
            sent: at,
        }
    }

    #[test]
    fn packets_are_found_by_sequence_number_across_the_wrap_until_they_age_out() {
        let t0 = Instant::now();
        let mut h = History::new(Duration::from_millis(500));
        for k in 0..100u16 {
            let at = t0 + Duration::from_millis(u64::from(k) * 10);
            h.push(record(65_500u16.wrapping_add(k), at));
        }
        // Sent at 990 ms: the last 500 ms are kept (packets 49..=99).
        assert_eq!(h.len(), 51);
        assert_eq!(h.get(65_500u16.wrapping_add(48)), None, "aged out");
        let r = h.get(65_500u16.wrapping_add(60)).unwrap();
        assert_eq!(r.sequence_number, 24, "after the wrap");
        assert_eq!(r.sent, t0 + Duration::from_millis(600));
        assert_eq!(h.get(65_500u16.wrapping_add(99)).unwrap().frame, 63 / 10);
        assert_eq!(h.get(65_500u16.wrapping_add(100)), None, "not sent yet");
        h.expire(t0 + Duration::from_secs(10));
        assert!(h.is_empty());
    }

    #[test]
    fn memory_is_bounded_by_entries_too() {
        let t0 = Instant::now();
        let mut h = History::new(Duration::from_secs(3600));
        for k in 0..(MAX_ENTRIES + 10) {
            h.push(record(k as u16, t0));
        }
        assert_eq!(h.len(), MAX_ENTRIES);
        assert_eq!(h.get(9), None);
        assert!(h.get((MAX_ENTRIES + 9) as u16).is_some());
    }

    #[test]
    fn zero_keeps_nothing() {
        let mut h = History::new(Duration::ZERO);
        h.push(record(1, Instant::now()));
        assert!(h.is_empty());
    }
}
