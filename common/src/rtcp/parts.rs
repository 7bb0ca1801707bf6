//! The common header of an RTCP packet (RFC 3550 §6.4.1: version, padding, count, packet
//! type, length) split from its body: what [`super::compound`] cuts a compound into and each
//! packet type's parser reads.

/// The common header of one packet, and its body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parts<'a> {
    /// Where the packet starts in the compound (for errors).
    pub offset: usize,
    /// The 5-bit count field (RC, SC or APP subtype).
    pub count: u8,
    /// The packet type.
    pub packet_type: u8,
    /// Bytes after the common header, without padding.
    pub body: &'a [u8],
}
