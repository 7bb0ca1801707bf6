//! What can be wrong with a JPEG's marker structure. Every error carries the byte offset where
//! the problem was found, counted from the start of the bytes given to the parser (see
//! [`Error::shifted`] to make it a file offset).

use super::marker::Marker;

/// A JPEG whose markers cannot be walked (ITU-T T.81 Annex B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes do not start with SOI (`FF D8`).
    #[error("no SOI marker at byte {offset} (found 0x{found:02X})")]
    Soi {
        /// Where SOI was expected.
        offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// The data ends inside a marker segment or the entropy-coded data, or before EOI.
    #[error("{what} at byte {offset} runs past the end of the data")]
    Truncated {
        /// Start of the marker, segment or entropy-coded data that is cut short.
        offset: usize,
        /// What is cut short, e.g. "DHT segment", "entropy-coded data".
        what: &'static str,
    },
    /// A segment's length field is shorter than its fixed fields or disagrees with its contents.
    #[error("bad length {length} in {marker} segment at byte {offset}")]
    Length {
        /// Start of the segment's marker.
        offset: usize,
        /// The segment.
        marker: Marker,
        /// Its length field.
        length: u16,
    },
    /// Where a marker should start, the byte is not `0xFF`.
    #[error("expected a marker at byte {offset}, found 0x{found:02X}")]
    Marker {
        /// Where the marker was expected.
        offset: usize,
        /// The byte found there.
        found: u8,
    },
    /// A marker that may not appear here: SOI inside a frame, a second SOF, SOS before SOF, a
    /// reserved code.
    #[error("unexpected {marker} at byte {offset}")]
    Unexpected {
        /// Where the marker starts.
        offset: usize,
        /// The marker.
        marker: Marker,
    },
    /// A field outside its range: component count, sampling factor, table class or id.
    #[error("invalid {field} {value} in {marker} segment at byte {offset}")]
    Field {
        /// Start of the segment's marker.
        offset: usize,
        /// The segment.
        marker: Marker,
        /// The field, e.g. "sampling factor".
        field: &'static str,
        /// Its value.
        value: u16,
    },
    /// EOI before the frame header (SOF) or before any scan (SOS).
    #[error("EOI at byte {offset} before any {missing}")]
    Incomplete {
        /// Where EOI is.
        offset: usize,
        /// "frame header (SOF)" or "scan (SOS)".
        missing: &'static str,
    },
}

impl Error {
    /// The byte offset the error is about.
    pub fn offset(&self) -> usize {
        // A copy (the error is a few words), so that the one match is `offset_mut`'s.
        let mut copy = *self;
        *copy.offset_mut()
    }

    /// The same error with `base` added to its offset (frame offset → file offset).
    #[must_use]
    pub fn shifted(mut self, base: usize) -> Error {
        let offset = self.offset_mut();
        *offset = offset.saturating_add(base);
        self
    }

    /// The byte offset the error is about, to change.
    fn offset_mut(&mut self) -> &mut usize {
        match self {
            Error::Soi { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::Length { offset, .. }
            | Error::Marker { offset, .. }
            | Error::Unexpected { offset, .. }
            | Error::Field { offset, .. }
            | Error::Incomplete { offset, .. } => offset,
        }
    }

    /// Whether the data simply ended too soon (as opposed to bytes that are wrong).
    pub fn is_truncation(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }
}
