//! What every track's RTP sender (RFC 3550 §6.4.1) — the video [`crate::stream::Stream`], a
//! live path's [`crate::live_track::LiveTrackStream`], sound and captions — reports and asks of
//! the core, in one vocabulary: its counts, when to call it next, and how far behind it may fall.

use std::time::{Duration, Instant};

/// How far behind schedule a track's sender may fall (at least one frame) before it skips frames rather
/// than catching up.
pub const MAX_LAG: Duration = Duration::from_millis(200);

/// What a track's sender has done, for logs and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames whose every packet left.
    pub frames: u64,
    /// RTP packets sent.
    pub packets: u64,
    /// RTP payload octets sent (RFC 3550 §6.4.1 sender's octet count).
    pub octets: u64,
    /// Whole frames skipped because the stream fell behind.
    pub skipped: u64,
    /// Frames that could not be packetized (not RFC 2435-ready) and were left out.
    pub unsendable: u64,
}

/// What a track's sender ([`crate::stream::Stream::send`] and the other tracks' `send`) wants
/// next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Call again at this instant (or earlier).
    At(Instant),
    /// Not playing: nothing to send until the next PLAY.
    Idle,
    /// The caller refused the next packet (its buffer or its run is full): a packet is due
    /// now, call again with room.
    Held,
    /// The last frame of the file has gone (and the stream does not loop).
    Ended,
}

/// A track's RTP numbering (RFC 3550 §5.1): the sequence number of the next packet and the
/// timestamp origin, both random at the start; the track counts its own clock (in its payload's
/// clock units) and stamps `origin + clock`.
#[derive(Debug, Clone, Copy)]
pub struct Numbering {
    next_seq: u16,
    ts_origin: u32,
}

impl Numbering {
    /// Numbering from a random initial sequence number and timestamp origin.
    pub fn new(seq: u32, ts_origin: u32) -> Numbering {
        Numbering {
            next_seq: seq as u16,
            ts_origin,
        }
    }

    /// The sequence number the next packet carries.
    pub fn next_sequence_number(&self) -> u16 {
        self.next_seq
    }

    /// The RTP timestamp of `clock` ticks since the stream began (wrapping, §5.1).
    pub fn timestamp(&self, clock: u64) -> u32 {
        self.ts_origin.wrapping_add(clock as u32)
    }

    /// Takes the next sequence number.
    pub fn take_sequence_number(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }
}
