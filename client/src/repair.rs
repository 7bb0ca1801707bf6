//! Asking for lost packets again: a gap in the sequence numbers is NACKed at once (RFC 4585
//! §6.2.1 generic NACK) and again every round trip plus [`MARGIN`] while its frame can still
//! make its time (the `window`, which the reorder buffer also waits), then given up; a packet
//! that comes back in an RTX packet (RFC 4588) counts as repaired.
//!
//! The round trip is measured from NACK to retransmission (the earliest answer to a first
//! request, smoothed as RFC 6298 smooths its RTT); until one is seen, [`INITIAL_RTT`].
//!
//! Sans-IO: every call takes `now`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The round trip assumed until one is measured.
pub const INITIAL_RTT: Duration = Duration::from_millis(30);
/// Added to the round trip before asking again (the sender's pacing, scheduling).
pub const MARGIN: Duration = Duration::from_millis(10);
/// Times a packet is asked for at most.
pub const MAX_TRIES: u8 = 8;
/// Packets missing at once at most (a longer gap is an outage, not loss to repair).
pub const MAX_MISSING: usize = 2048;
/// Packets asked for in one NACK at most: its FCI then stays under 1 kB (the rest go in the
/// next, at once).
pub const MAX_PER_NACK: usize = 256;

/// What repair has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets asked for at least once.
    pub requested: u64,
    /// NACK entries sent (first requests and repeats).
    pub asked: u64,
    /// Packets that came back in a retransmission.
    pub repaired: u64,
    /// Packets asked for that never came back in time.
    pub unrepaired: u64,
    /// Bytes of RTX packets received.
    pub rtx_bytes: u64,
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    /// When the gap was seen.
    seen: Instant,
    /// When it was last asked for, and the first time.
    asked: Option<(Instant, Instant)>,
    tries: u8,
}

/// The packets missing and what was asked.
#[derive(Debug)]
pub struct Repair {
    window: Duration,
    missing: BTreeMap<u64, Missing>,
    highest: Option<u64>,
    rtt: Option<Duration>,
    counters: Counters,
}

impl Repair {
    /// Repair that asks for a missing packet for `window` after its gap is seen.
    pub fn new(window: Duration) -> Repair {
        Repair {
            window,
            missing: BTreeMap::new(),
            highest: None,
            rtt: None,
            counters: Counters::default(),
        }
    }

    /// What was done so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The round trip in use.
    pub fn rtt(&self) -> Duration {
        self.rtt.unwrap_or(INITIAL_RTT)
    }

    /// Packets missing now.
    pub fn missing(&self) -> usize {
        self.missing.len()
    }

    /// Forgets everything (a seek, a restart): the next packet starts afresh.
    pub fn reset(&mut self) {
        self.missing.clear();
        self.highest = None;
    }

    /// A media packet with extended sequence number `ext` arrived (first time or repaired):
    /// the numbers skipped before it go missing; it is missing no more.
    pub fn arrived(&mut self, ext: u64, now: Instant) {
        match self.highest {
            Some(h) if ext > h => {
                let gap = ext - h - 1;
                if gap as usize > MAX_MISSING {
                    // An outage, or a jump: not loss to repair.
                    self.missing.clear();
                } else {
                    for lost in h + 1..ext {
                        self.missing.insert(
                            lost,
                            Missing {
                                seen: now,
                                asked: None,
                                tries: 0,
                            },
                        );
                    }
                    while self.missing.len() > MAX_MISSING {
                        self.missing.pop_first();
                    }
                }
                self.highest = Some(ext);
            }
            Some(_) => {
                self.missing.remove(&ext);
            }
            None => self.highest = Some(ext),
        }
    }

    /// An RTX packet of `bytes` brought back the packet with sequence number `seq` at `now`:
    /// its extended sequence number when it was missing (the first copy to come back).
    pub fn repaired(&mut self, seq: u16, bytes: usize, now: Instant) -> Option<u64> {
        self.counters.rtx_bytes += bytes as u64;
        // Extended against the highest seen: a repaired packet is at most 2^15 behind it.
        let highest = self.highest?;
        let behind = u64::from((highest as u16).wrapping_sub(seq));
        let ext = highest.checked_sub(behind)?;
        let m = self.missing.get(&ext)?;
        self.counters.repaired += 1;
        if let Some((_, first)) = m.asked
            && (m.tries == 1 || self.rtt.is_none())
        {
            // An answer to a single request measures the round trip; before any, an answer
            // to repeated ones gives an upper bound, better than the guess (a sender slower
            // than the guess would otherwise never be measured).
            let sample = now.saturating_duration_since(first);
            self.rtt = Some(match self.rtt {
                Some(rtt) => (rtt * 7 + sample) / 8,
                None => sample,
            });
        }
        self.missing.remove(&ext);
        Some(ext)
    }

    /// The sequence numbers to NACK now: those never asked for, and those asked more than a
    /// round trip plus [`MARGIN`] ago, while their window lasts. What is past its window is
    /// given up.
    pub fn poll(&mut self, now: Instant) -> Vec<u16> {
        let window = self.window;
        let before = self.missing.len();
        self.missing
            .retain(|_, m| now < m.seen + window && m.tries < MAX_TRIES);
        self.counters.unrepaired += (before - self.missing.len()) as u64;
        let again = self.rtt() + MARGIN;
        let mut due = Vec::new();
        for (&ext, m) in &mut self.missing {
            if due.len() >= MAX_PER_NACK {
                break;
            }
            if now < m.next_ask(again) {
                continue;
            }
            if m.asked.is_none() {
                self.counters.requested += 1;
            }
            let first = m.asked.map_or(now, |(_, first)| first);
            m.asked = Some((now, first));
            m.tries += 1;
            self.counters.asked += 1;
            due.push(ext as u16);
        }
        due
    }

    /// When [`Repair::poll`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let again = self.rtt() + MARGIN;
        self.missing
            .values()
            .map(|m| m.next_ask(again).min(m.seen + self.window))
            .min()
    }
}

impl Missing {
    /// When to ask (again): at once if never asked; else `again` (a round trip plus the
    /// margin) after the last request, doubled after the second request and again after each
    /// one (as TCP backs its retransmission timer off), so a slow answer is not asked for many
    /// times over.
    fn next_ask(&self, again: Duration) -> Instant {
        match self.asked {
            None => self.seen,
            Some((last, _)) => last + again * (1u32 << self.tries.saturating_sub(1).min(4)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_gap_is_asked_for_at_once_then_every_round_trip_until_it_comes_back() {
        let t0 = Instant::now();
        let mut r = Repair::new(300 * MS);
        r.arrived(10, t0);
        r.arrived(13, t0);
        assert_eq!(r.poll(t0), [11, 12]);
        assert_eq!(
            r.poll(t0 + MS),
            Vec::<u16>::new(),
            "not again before a round trip"
        );
        assert_eq!(r.poll_timeout(), Some(t0 + INITIAL_RTT + MARGIN));
        // 12 comes back 20 ms after the request: a round-trip sample.
        assert_eq!(r.repaired(12, 1400, t0 + 20 * MS), Some(12));
        assert_eq!(r.repaired(12, 1400, t0 + 21 * MS), None, "a second copy");
        assert_eq!(r.rtt(), 20 * MS);
        assert_eq!(r.poll(t0 + 40 * MS), [11], "asked again after rtt + margin");
        // 11 arrives late on its own (reordered): missing no more.
        r.arrived(11, t0 + 45 * MS);
        assert_eq!(r.missing(), 0);
        let c = r.counters();
        assert_eq!(
            (c.requested, c.asked, c.repaired, c.unrepaired, c.rtx_bytes),
            (2, 3, 1, 0, 2800)
        );
    }

    #[test]
    fn a_packet_past_its_window_is_given_up_and_long_gaps_are_not_repaired() {
        let t0 = Instant::now();
        let mut r = Repair::new(100 * MS);
        r.arrived(0, t0);
        r.arrived(2, t0);
        let mut asked = 0;
        let mut now = t0;
        while now < t0 + 200 * MS {
            asked += r.poll(now).len();
            now += MS;
        }
        assert_eq!(
            asked, 2,
            "at 0 and 40 ms; the next, 80 ms later, is past the window"
        );
        assert_eq!(r.counters().unrepaired, 1);
        assert_eq!(r.poll_timeout(), None);
        r.arrived(2 + MAX_MISSING as u64 + 2, now);
        assert_eq!(r.missing(), 0, "an outage is not asked for");
        // Sequence numbers wrap in the NACK: extended 65,537 is 1.
        r.arrived(65_535, now);
        r.arrived(65_538, now);
        assert_eq!(r.poll(now), [0, 1]);
        // Scattered loss: one NACK names at most MAX_PER_NACK packets, the next the rest.
        let mut r = Repair::new(100 * MS);
        for k in 0..400u64 {
            r.arrived(2 * k, now);
        }
        assert_eq!(r.poll(now).len(), MAX_PER_NACK);
        assert_eq!(r.poll_timeout(), Some(now), "the rest at once");
        assert_eq!(r.poll(now).len(), 399 - MAX_PER_NACK);
    }
}
