//! RTP, RFC 3550 §5 and Appendix A.
//!
//! - [`Packet`]: a borrowed, validated view over one RTP packet (§5.1), fields read on demand.
//! - [`Header`]: writes a packet into the caller's buffer from several payload pieces, without
//!   allocating (and [`Extras`] for the CSRC list, header extension and padding).
//! - [`SequenceTracker`]: extended sequence numbers, source validation and reception counts
//!   (Appendix A.1, A.3); [`sequence_delta`] for wrap-aware comparison.
//! - [`TimestampUnwrapper`]: 32-bit RTP timestamps extended to 64 bits.
//! - [`Jitter`]: interarrival jitter (§6.4.1, Appendix A.8).
//! - [`rtx`]: the retransmission payload format (RFC 4588 §4).

mod header;
mod jitter;
mod packet;
pub mod rtx;
mod sequence;
mod timestamp;

pub use header::{Extras, Header};
pub use jitter::Jitter;
pub use packet::Packet;
pub(crate) use packet::{be16, be32};
pub use sequence::{
    Arrival, Interval, MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, SequenceTracker, sequence_delta,
};
pub use timestamp::{TimestampUnwrapper, timestamp_delta};

/// The only RTP version this crate speaks (§5.1, field V).
pub const VERSION: u8 = 2;

/// Why an RTP packet could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the 12-byte fixed header.
    #[error("RTP packet of {len} bytes is shorter than the 12-byte fixed header")]
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    Version(u8),
    /// The CSRC count reaches past the end of the packet.
    #[error("RTP CSRC count {count} needs {needed} header bytes, packet has {len}")]
    CsrcList {
        /// The CC field.
        count: u8,
        /// Bytes the fixed header and CSRC list need.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The header extension (§5.3.1) reaches past the end of the packet.
    #[error("RTP header extension needs {needed} bytes from the start, packet has {len}")]
    Extension {
        /// Bytes the header up to the end of the extension needs.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The padding count is larger than the payload it would be cut from.
    #[error("RTP padding of {padding} bytes exceeds the {available} bytes after the header")]
    Padding {
        /// The last octet of the packet.
        padding: u8,
        /// Bytes after the header (payload and padding).
        available: usize,
    },
    /// The padding bit is set but the padding count octet is zero.
    #[error("RTP padding bit set with a padding count of zero")]
    ZeroPadding,
    /// The payload type does not fit in 7 bits.
    #[error("RTP payload type {0} does not fit in 7 bits")]
    PayloadType(u8),
    /// More than 15 contributing sources.
    #[error("{0} CSRCs, at most 15 fit in an RTP header")]
    CsrcCount(usize),
    /// Header extension data whose length is not a whole number of 32-bit words, or too long.
    #[error("RTP header extension of {0} bytes is not a whole number of 32-bit words below 2^18")]
    ExtensionLength(usize),
    /// The output buffer cannot hold the packet.
    #[error("RTP packet needs {needed} bytes, buffer has {available}")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes in the output buffer.
        available: usize,
    },
}
