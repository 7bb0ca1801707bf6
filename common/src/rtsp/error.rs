//! Why bytes on an RTSP connection could not be read as a message.

use super::StatusCode;

/// A message that breaks RFC 2326 §4–§7 or one of the parser's [`Limits`](super::Limits).
///
/// Every variant says at which byte of the input (counted from the start of the buffer given
/// to the parser) the problem was found. After an error the connection cannot be resynchronised:
/// a server answers with [`status_code`](Self::status_code) and closes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Bytes that the grammar does not allow at this point.
    #[error("invalid at byte {offset} in {rule}")]
    Syntax {
        /// Offset of the offending byte.
        offset: usize,
        /// The grammar rule, outermost first (`request-line > RTSP-Version`).
        rule: &'static str,
    },
    /// The request-line or status-line (with any blank lines before it) is longer than
    /// [`Limits::start_line`](super::Limits::start_line).
    #[error("start line longer than {limit} bytes at byte {offset}")]
    StartLineLength {
        /// Offset of the first byte past the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A header line is longer than [`Limits::header_line`](super::Limits::header_line).
    #[error("header line longer than {limit} bytes at byte {offset}")]
    HeaderLineLength {
        /// Offset of the first byte past the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// More header lines than [`Limits::headers`](super::Limits::headers).
    #[error("more than {limit} header lines at byte {offset}")]
    HeaderCount {
        /// Offset of the first header line past the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// The start line and headers together are longer than
    /// [`Limits::header_block`](super::Limits::header_block).
    #[error("header block longer than {limit} bytes at byte {offset}")]
    HeaderBlockLength {
        /// Offset of the first byte past the limit.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A header line without the `:` between name and value.
    #[error("header line without a colon at byte {offset}")]
    MissingColon {
        /// Offset of the start of the line.
        offset: usize,
    },
    /// A NUL byte in the start line or headers.
    #[error("NUL byte at byte {offset} in the message head")]
    Nul {
        /// Offset of the NUL.
        offset: usize,
    },
    /// Bytes that are not UTF-8 in the start line or headers.
    #[error("invalid UTF-8 at byte {offset} in the message head")]
    Utf8 {
        /// Offset of the first byte that is not UTF-8.
        offset: usize,
    },
    /// A well-formed version other than `RTSP/1.0`, e.g. `RTSP/2.0` (answered with 505).
    #[error("unsupported protocol version {found:?} at byte {offset}")]
    Version {
        /// Offset of the version.
        offset: usize,
        /// The version as sent.
        found: String,
    },
    /// A `Content-Length` that is not a number (empty, negative, letters), or two that differ.
    #[error("invalid Content-Length at byte {offset}")]
    ContentLength {
        /// Offset of the header line.
        offset: usize,
    },
    /// A body longer than [`Limits::body`](super::Limits::body) (answered with 413).
    #[error("body of {length} bytes exceeds the limit of {limit} at byte {offset}")]
    BodyLength {
        /// Offset of the `Content-Length` line.
        offset: usize,
        /// The announced length (`u64::MAX` if it did not even fit in 64 bits).
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// [`parse_unterminated`](super::parse_unterminated) found a non-zero `Content-Length` in a
    /// header block that ended without the blank line, so no body can follow.
    #[error("Content-Length announces a body but the header block ends at byte {offset}")]
    Truncated {
        /// Offset of the end of the input.
        offset: usize,
    },
}

impl ParseError {
    /// The byte offset the error names.
    pub fn offset(&self) -> usize {
        match *self {
            Self::Syntax { offset, .. }
            | Self::StartLineLength { offset, .. }
            | Self::HeaderLineLength { offset, .. }
            | Self::HeaderCount { offset, .. }
            | Self::HeaderBlockLength { offset, .. }
            | Self::MissingColon { offset }
            | Self::Nul { offset }
            | Self::Utf8 { offset }
            | Self::Version { offset, .. }
            | Self::ContentLength { offset }
            | Self::BodyLength { offset, .. }
            | Self::Truncated { offset } => offset,
        }
    }

    /// The status a server answers a request that failed this way with, before closing the
    /// connection: 505 for [`Version`](Self::Version), 413 for [`BodyLength`](Self::BodyLength)
    /// (its Content-Length was well-formed, just too large), 400 Bad Request for everything
    /// else — including over-long lines and too many headers, for which RTSP 1.0 has no
    /// dedicated code.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Version { .. } => StatusCode::RTSP_VERSION_NOT_SUPPORTED,
            Self::BodyLength { .. } => StatusCode::REQUEST_ENTITY_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
