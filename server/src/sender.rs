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
