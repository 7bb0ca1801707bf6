//! What makes a text a caption file of no known format, and what makes one cue of it unusable.

/// Why a text is not a caption file of the format it was parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The first line is not the `WEBVTT` signature (W3C WebVTT §4.1, "file body"): not a
    /// WebVTT file.
    #[error("line {line}: no WEBVTT signature")]
    Signature {
        /// The line, counted from 1.
        line: usize,
    },
    /// No block of the text has a timing line (`-->`) where an SRT cue has one: not an SRT
    /// file.
    #[error("line {line}: not SRT: no block has a timing line")]
    Format {
        /// The first line that is not blank, counted from 1.
        line: usize,
    },
}

/// What is wrong with a cue that was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    /// The timing line is missing or unreadable (WebVTT §4.1 "cue timings"; SRT
    /// `hh:mm:ss,mmm --> hh:mm:ss,mmm`).
    #[error("bad timing")]
    Timing,
    /// The cue ends before it starts.
    #[error("end before start")]
    Order,
}
