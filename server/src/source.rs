//! Where a stream's frames come from ([`Source`]): a file ([`Media`]: mapped and indexed once,
//! shared by every session) or a live path ([`crate::live::Feed`]: a publisher's recent frames,
//! shared by its viewers). A stream asks for frame *n* as RFC 2435 wants it (a slice of the
//! source's bytes, no copy) or as the whole JPEG (the course's dialect).

use std::time::{Instant, SystemTime};

use hdstream_common::rfc2435;

use crate::media::Media;

/// The frames a stream sends.
pub trait Source {
    /// Frames it holds (a file: all of them).
    fn frame_count(&self) -> usize;
    /// Frames per second.
    fn fps(&self) -> f64;
    /// Frame `index` laid out for the RFC 2435 packetizer, borrowing the source's bytes; `None`
    /// when it cannot travel as RFC 2435 or is missing.
    fn rfc2435_frame(&self, index: usize) -> Option<rfc2435::Frame<'_>>;
    /// Frame `index` as a whole JPEG (SOI … EOI).
    fn jpeg(&self, index: usize) -> Option<&[u8]>;
    /// Whether frames arrive as they happen (a publisher) rather than lie ready (a file): a live
    /// source's frame is due when it arrives, and [`Source::frame_count`] grows.
    fn is_live(&self) -> bool {
        false
    }
    /// The oldest frame still held (a live source forgets old frames).
    fn first_frame(&self) -> usize {
        0
    }
    /// When a live frame happened; `None` for files.
    fn moment(&self, _index: usize) -> Option<Moment> {
        None
    }
}

/// A live path whose feed the server no longer holds (forgotten after its publisher left):
/// live, without frames. A viewer's stream asks it what it asks every source, and learns that
/// nothing more will come.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gone;

impl Source for Gone {
    fn frame_count(&self) -> usize {
        0
    }

    fn fps(&self) -> f64 {
        30.0
    }

    fn rfc2435_frame(&self, _index: usize) -> Option<rfc2435::Frame<'_>> {
        None
    }

    fn jpeg(&self, _index: usize) -> Option<&[u8]> {
        None
    }

    fn is_live(&self) -> bool {
        true
    }
}

/// When a live frame happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// Its place on the path's media clock, in 90 kHz ticks from the path's first frame.
    pub media_time: u64,
    /// When its last packet reached the server.
    pub arrived: Instant,
    /// When the publisher captured it (from the publisher's sender reports), if known.
    pub capture: Option<SystemTime>,
}

impl Source for Media {
    fn frame_count(&self) -> usize {
        self.file.len()
    }

    fn fps(&self) -> f64 {
        self.fps
    }

    fn rfc2435_frame(&self, index: usize) -> Option<rfc2435::Frame<'_>> {
        self.file.rfc2435_frame(index).ok()
    }

    fn jpeg(&self, index: usize) -> Option<&[u8]> {
        self.file.frame(index)
    }
}
