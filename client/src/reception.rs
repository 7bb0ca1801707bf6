//! What a receiver counts of one RTP stream (RFC 3550 §6.4.1, A.1, A.8): sequence numbers,
//! interarrival jitter, and where the PLAY that moved the stream starts it. The video
//! [`Pipeline`](crate::pipeline::Pipeline) and the audio
//! [`Receiver`](crate::audio::receive::Receiver) each own one.

use std::time::Instant;

use hdstream_common::rtcp::{LastSr, ReportBlock};
use hdstream_common::rtp::{Arrival, Jitter, SequenceTracker, sequence_delta};

/// How far ahead of the PLAY's first packet (RTP-Info `seq`) a packet may be before the stream
/// is taken to have moved on past it, and the PLAY's first packet is forgotten.
const PLAY_WINDOW: i16 = 1000;

/// Sequence numbers, jitter and the PLAY's first packet of one stream.
#[derive(Debug)]
pub(crate) struct Reception {
    tracker: SequenceTracker,
    jitter: Jitter,
    /// Arrival times are counted in clock ticks from here (for the jitter).
    clock_epoch: Instant,
    /// The first sequence number of the PLAY that moved the stream (RTP-Info `seq`).
    min_seq: Option<u16>,
}

/// Where a packet stands against the first packet of the PLAY that moved the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SincePlay {
    /// Sent before the PLAY: not part of the stream it started.
    Before,
    /// This many packets after the PLAY's first.
    After(u16),
    /// Nothing to compare with: no PLAY named its first packet, or the stream is past it.
    Unknown,
}

/// A packet counted by [`Reception::count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    /// Its extended sequence number.
    pub(crate) ext: u64,
    /// The sender restarted its sequence numbers with it (A.1: a jump confirmed).
    pub(crate) restarted: bool,
}

impl Reception {
    /// Nothing received yet; arrival times counted from `now`.
    pub(crate) fn new(now: Instant) -> Reception {
        Reception {
            tracker: SequenceTracker::with_min_sequential(1),
            jitter: Jitter::new(),
            clock_epoch: now,
            min_seq: None,
        }
    }

    /// A new source: counts start again (the clock epoch stays).
    pub(crate) fn restart(&mut self) {
        *self = Reception::new(self.clock_epoch);
    }

    /// The sequence numbers counted so far.
    pub(crate) fn tracker(&self) -> &SequenceTracker {
        &self.tracker
    }

    /// Where arrival times are counted from.
    pub(crate) fn clock_epoch(&self) -> Instant {
        self.clock_epoch
    }

    /// A PLAY that moves the stream was sent: its first packet is not known yet.
    pub(crate) fn hold(&mut self) {
        self.min_seq = None;
    }

    /// The PLAY reply came: the stream starts at `seq` (RTP-Info), when it says.
    pub(crate) fn play_starts(&mut self, seq: Option<u16>) {
        self.min_seq = seq;
        if let Some(seq) = seq {
            self.tracker.expect_first(seq);
        }
    }

    /// Where `seq` stands against the PLAY's first packet; past [`PLAY_WINDOW`] packets after
    /// it, the first packet is forgotten.
    pub(crate) fn since_play(&mut self, seq: u16) -> SincePlay {
        let Some(min) = self.min_seq else {
            return SincePlay::Unknown;
        };
        let delta = sequence_delta(seq, min);
        if delta < 0 {
            SincePlay::Before
        } else if delta > PLAY_WINDOW {
            self.min_seq = None;
            SincePlay::Unknown
        } else {
            // 0..=PLAY_WINDOW: positive.
            SincePlay::After(delta.unsigned_abs())
        }
    }

    /// Counts a packet with sequence number `seq` and RTP `timestamp` that arrived at
    /// `arrival`, its clock at `clock_rate` Hz: its extended sequence number, or `None` for a
    /// packet that is not to be used (a duplicate, on probation, a jump not yet confirmed, too
    /// old), which is not counted in the jitter either.
    pub(crate) fn count(
        &mut self,
        seq: u16,
        timestamp: u32,
        arrival: Instant,
        clock_rate: u32,
    ) -> Option<Counted> {
        let counted = match self.tracker.update(seq) {
            Arrival::InOrder { extended, .. } | Arrival::Reordered { extended } => Counted {
                ext: extended,
                restarted: false,
            },
            Arrival::Restarted { extended } => Counted {
                ext: extended,
                restarted: true,
            },
            Arrival::Duplicate { .. } | Arrival::Probation | Arrival::Jump | Arrival::Stale => {
                return None;
            }
        };
        let ticks = arrival
            .saturating_duration_since(self.clock_epoch)
            .as_secs_f64()
            * f64::from(clock_rate);
        self.jitter.update(timestamp, ticks as u64 as u32);
        Some(counted)
    }

    /// A packet recovered by retransmission (RFC 4588) with extended sequence number `ext`:
    /// counted as received unless it already was.
    pub(crate) fn recovered(&mut self, ext: u64) {
        self.tracker.recovered(ext);
    }

    /// The report block about source `ssrc` now (A.3), closing the interval: once per report.
    pub(crate) fn report_block(
        &mut self,
        ssrc: u32,
        last_sr: Option<&LastSr>,
        now: Instant,
    ) -> Option<ReportBlock> {
        ReportBlock::from_reception(ssrc, &mut self.tracker, &self.jitter, last_sr, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_play_drops_the_earlier_and_forgets_far_past() {
        let mut r = Reception::new(Instant::now());
        assert_eq!(r.since_play(5), SincePlay::Unknown);
        r.play_starts(Some(100));
        assert_eq!(r.since_play(99), SincePlay::Before);
        assert_eq!(r.since_play(100), SincePlay::After(0));
        assert_eq!(r.since_play(1100), SincePlay::After(1000));
        assert_eq!(r.since_play(1101), SincePlay::Unknown);
        // Forgotten: earlier packets are no longer told apart.
        assert_eq!(r.since_play(99), SincePlay::Unknown);
    }
}
