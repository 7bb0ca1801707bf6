//! RTCP, RFC 3550 §6 and Appendix A.
//!
//! Every RTCP packet starts with the same four bytes (§6.4.1):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|  count  |  packet type  |  length (32-bit words - 1)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! and several travel together in one datagram as a compound packet (§6.1).
//!
//! - [`Compound::parse`] validates a compound packet; [`Compound::iter`] yields borrowed views:
//!   [`SenderReport`], [`ReceiverReport`], [`SourceDescription`], [`Goodbye`], [`App`],
//!   [`Nack`] (RFC 4585 generic NACK) and [`Unknown`] (other feedback and types, passed
//!   through).
//! - [`Writer`] builds a compound packet into the caller's buffer.
//! - [`ReportBlock::from_reception`] and [`fraction_lost`] compute reception reports (A.3);
//!   [`NtpTimestamp`], [`LastSr`] and [`round_trip_time`] handle LSR/DLSR (§6.4.1).

mod app;
mod compound;
mod goodbye;
mod nack;
mod ntp;
mod parts;
mod report;
mod sdes;
mod writer;

pub use app::App;
pub use compound::{Compound, Packet, Packets, Unknown};
pub use goodbye::Goodbye;
pub use nack::{GENERIC_NACK, Nack, TRANSPORT_FEEDBACK, entries as nack_entries};
pub use ntp::{LastSr, NtpTimestamp, from_compact, round_trip_time, to_compact};
pub use report::{ReceiverReport, Report, ReportBlock, SenderInfo, SenderReport, fraction_lost};
pub use sdes::{Chunk, SdesItem, SourceDescription};
pub use writer::Writer;

/// Packet type of a sender report, SR (§6.4.1).
pub const SENDER_REPORT: u8 = 200;
/// Packet type of a receiver report, RR (§6.4.2).
pub const RECEIVER_REPORT: u8 = 201;
/// Packet type of a source description, SDES (§6.5).
pub const SOURCE_DESCRIPTION: u8 = 202;
/// Packet type of a goodbye, BYE (§6.6).
pub const GOODBYE: u8 = 203;
/// Packet type of an application-defined packet, APP (§6.7).
pub const APP: u8 = 204;

/// The largest value of the 5-bit count field (reports, chunks, sources).
pub const MAX_COUNT: usize = 31;

/// Why an RTCP packet could not be read or written. Offsets count from the start of the
/// compound packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer holds no packet.
    #[error("empty RTCP compound packet")]
    Empty,
    /// Fewer than the 4 bytes of a common header remain.
    #[error("RTCP packet header at byte {offset} cut short: {available} bytes left")]
    Truncated {
        /// Where the packet starts.
        offset: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// The version field is not 2.
    #[error("RTCP packet at byte {offset} has version {version}, expected 2")]
    Version {
        /// Where the packet starts.
        offset: usize,
        /// The V field.
        version: u8,
    },
    /// The length field reaches past the end of the buffer.
    #[error("RTCP packet at byte {offset} claims {claimed} bytes, {available} left")]
    Length {
        /// Where the packet starts.
        offset: usize,
        /// Bytes the length field claims, header included.
        claimed: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// Padding on a packet other than the last of the compound, a padding count of zero, or
    /// one larger than the packet (§6.1, §6.4.1).
    #[error("RTCP packet at byte {offset}: invalid padding (count {count})")]
    Padding {
        /// Where the packet starts.
        offset: usize,
        /// The padding count octet.
        count: u8,
    },
    /// A packet too short for its type's fixed fields (SR sender info, RR/APP SSRC, APP name).
    #[error("RTCP packet type {packet_type} at byte {offset} has {len} body bytes, needs {needed}")]
    TooShort {
        /// Where the packet starts.
        offset: usize,
        /// The packet type.
        packet_type: u8,
        /// Body bytes (after the common header, without padding).
        len: usize,
        /// Body bytes its fixed fields need.
        needed: usize,
    },
    /// The report, chunk or source count reaches past the packet's length.
    #[error(
        "RTCP packet type {packet_type} at byte {offset}: count {count} does not fit its length"
    )]
    Count {
        /// Where the packet starts.
        offset: usize,
        /// The packet type.
        packet_type: u8,
        /// The count field.
        count: u8,
    },
    /// An SDES item runs past its packet, or a chunk lacks its null terminator (§6.5).
    #[error("RTCP SDES at byte {offset}: item or chunk runs past the packet")]
    Item {
        /// Where the packet starts.
        offset: usize,
    },
    /// A BYE reason runs past its packet (§6.6).
    #[error("RTCP BYE at byte {offset}: reason runs past the packet")]
    Reason {
        /// Where the packet starts.
        offset: usize,
    },
    /// The output buffer cannot hold the packet.
    #[error("RTCP packet needs {needed} bytes, buffer has {available}")]
    BufferTooSmall {
        /// Bytes the compound needs so far.
        needed: usize,
        /// Bytes in the output buffer.
        available: usize,
    },
    /// More than 31 report blocks, chunks or sources in one packet, or a count over 31.
    #[error("{0} entries, at most 31 fit in one RTCP packet")]
    TooMany(usize),
    /// An SDES item or BYE reason longer than 255 bytes.
    #[error("RTCP text of {0} bytes, at most 255 fit")]
    TextLength(usize),
    /// APP data or a raw body that is not a whole number of 32-bit words, or longer than the
    /// 16-bit length field allows.
    #[error("RTCP body of {0} bytes is not a whole number of 32-bit words below 2^18")]
    BodyLength(usize),
    /// Padding asked of the writer that is zero or not a multiple of 4, or with no packet to pad.
    #[error("RTCP padding of {0} bytes: must be a non-zero multiple of 4 after a packet")]
    PaddingLength(u8),
}
