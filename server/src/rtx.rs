//! Retransmission of one stream's packets on request: generic NACKs in (RFC 4585 §6.2.1),
//! RTX packets out (RFC 4588 §4) — in a stream of their own (own SSRC, payload type and
//! sequence numbers), the original sequence number in front of the original payload, cut again
//! from the source ([`crate::history`]).
//!
//! Held within a budget: RTX bytes refill at the stream's own byte rate (with
//! [`BUDGET_BURST`] of it as a burst), and a request the budget cannot pay for now is dropped
//! (the receiver asks again if there is still time), so a flood of NACKs can at most double what
//! a session sends — the server is never an amplifier.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use hdstream_common::pacing::TokenBucket;

/// Requests queued at most; beyond, the oldest go (they are the least likely still useful).
pub const MAX_PENDING: usize = 1024;
/// The budget's burst, as time at the stream's rate.
pub const BUDGET_BURST: Duration = Duration::from_millis(100);

/// What retransmission has done, for logs and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Sequence numbers asked for.
    pub asked: u64,
    /// RTX packets sent.
    pub sent: u64,
    /// RTX payload octets sent (OSN included).
    pub octets: u64,
    /// Asked for but no longer (or never) kept.
    pub unknown: u64,
    /// Dropped: over the budget, or pushed out of a full queue.
    pub refused: u64,
}

/// One stream's retransmission state.
#[derive(Debug)]
pub struct Retransmission {
    /// The RTX payload type (RFC 4588 §8.1, dynamic).
    pub payload_type: u8,
    /// The RTX stream's SSRC (RFC 4588 §5: its own).
    pub ssrc: u32,
    next_seq: u16,
    pending: VecDeque<u16>,
    /// The sequence numbers in `pending`, for the repeat check (a NACK can name thousands).
    queued: HashSet<u16>,
    /// Made full at the first [`Retransmission::set_rate`].
    budget: Option<TokenBucket>,
    /// What has been done.
    pub counters: Counters,
}

impl Retransmission {
    /// Retransmission as `payload_type`, with a random SSRC and initial sequence number
    /// (`random`, RFC 3550 §5.1); nothing is affordable until [`Retransmission::set_rate`].
    pub fn new(payload_type: u8, random: [u32; 2]) -> Retransmission {
        Retransmission {
            payload_type,
            ssrc: random[0],
            next_seq: random[1] as u16,
            pending: VecDeque::new(),
            queued: HashSet::new(),
            budget: None,
            counters: Counters::default(),
        }
    }

    /// The budget follows the stream's own rate, `bytes_per_sec` (it starts full).
    pub fn set_rate(&mut self, bytes_per_sec: u64, max_packet: usize, now: Instant) {
        let burst = (bytes_per_sec as f64 * BUDGET_BURST.as_secs_f64()) as u64;
        let burst = burst.max(2 * max_packet as u64);
        match &mut self.budget {
            Some(b) => {
                b.set_rate(bytes_per_sec, now);
                b.set_burst(burst, now);
            }
            None => self.budget = Some(TokenBucket::new(bytes_per_sec, burst, now)),
        }
    }

    /// The stream stopped sending (paused, ended): the budget no longer refills, so what is
    /// left of it is all retransmission may still send.
    pub fn stop_refill(&mut self, now: Instant) {
        if let Some(b) = &mut self.budget {
            b.set_rate(1, now);
        }
    }

    /// Queues the packets asked for (repeats of what is queued are ignored).
    pub fn ask(&mut self, lost: impl IntoIterator<Item = u16>) {
        for seq in lost {
            self.counters.asked += 1;
            if !self.queued.insert(seq) {
                continue;
            }
            if self.pending.len() >= MAX_PENDING {
                self.pop();
                self.counters.refused += 1;
            }
            self.pending.push_back(seq);
        }
    }

    /// Takes the next request off the queue.
    fn pop(&mut self) -> Option<u16> {
        let seq = self.pending.pop_front()?;
        self.queued.remove(&seq);
        Some(seq)
    }

    /// The next packet asked for.
    pub fn peek(&self) -> Option<u16> {
        self.pending.front().copied()
    }

    /// Drops the next request: the packet is not kept.
    pub fn unknown(&mut self) {
        if self.pop().is_some() {
            self.counters.unknown += 1;
        }
    }

    /// Whether the budget pays for a `len`-byte RTX packet at `now`; if not, the request is
    /// dropped.
    pub fn affordable(&mut self, len: usize, now: Instant) -> bool {
        if self
            .budget
            .as_ref()
            .is_some_and(|b| b.ready_at(len, now) <= now)
        {
            return true;
        }
        self.pop();
        self.counters.refused += 1;
        false
    }

    /// The next request left as a `len`-byte RTX packet: its sequence number in the RTX stream.
    pub fn sent(&mut self, len: usize, now: Instant) -> u16 {
        self.pop();
        if let Some(b) = &mut self.budget {
            b.take(len, now);
        }
        self.counters.sent += 1;
        self.counters.octets += (len - hdstream_common::rtp::Header::LEN) as u64;
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_queue_once_and_the_budget_refuses_what_it_cannot_pay() {
        let t0 = Instant::now();
        let mut r = Retransmission::new(97, [7, 65_535]);
        r.set_rate(100_000, 1400, t0);
        r.ask([5, 6, 5, 7]);
        assert_eq!((r.counters.asked, r.pending.len()), (4, 3));
        // The 10,000-byte burst pays for 7 packets of 1,400 bytes at once.
        let mut sent = Vec::new();
        while r.peek().is_some() {
            if r.affordable(1400, t0) {
                sent.push(r.sent(1400, t0));
            }
        }
        assert_eq!(
            sent,
            [65_535, 0, 1],
            "RTX sequence numbers go on across the wrap"
        );
        r.ask(0..20);
        let mut paid = 0;
        while r.peek().is_some() {
            if r.affordable(1400, t0) {
                r.sent(1400, t0);
                paid += 1;
            }
        }
        assert_eq!(paid, 4, "what is left of the burst");
        assert_eq!(r.counters.refused, 16);
        // 100 ms later the budget has 10,000 bytes again.
        r.ask([1]);
        assert!(r.affordable(1400, t0 + Duration::from_millis(100)));
    }

    #[test]
    fn a_flood_keeps_the_queue_bounded() {
        let mut r = Retransmission::new(97, [7, 0]);
        r.ask((0..5000u32).map(|n| n as u16));
        assert_eq!(r.pending.len(), MAX_PENDING);
        assert_eq!(r.counters.refused, 5000 - MAX_PENDING as u64);
        assert_eq!(
            r.peek(),
            Some(5000 - MAX_PENDING as u16),
            "the newest are kept"
        );
    }
}
