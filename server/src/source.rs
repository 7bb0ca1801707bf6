//! Where a stream's frames come from ([`Source`]): today a file ([`Media`]: mapped and indexed
//! once, shared by every session); next a live publisher. A stream asks for frame *n* as RFC 2435
//! wants it (a slice of the source's bytes, no copy) or as the whole JPEG (the course's dialect).

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
