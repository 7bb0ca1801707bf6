//! Errors of the RFC 2435 payload headers and of the packetizer.

/// What is wrong with an RFC 2435 payload header, or with a frame handed to the packetizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The payload ends before the headers it announces are complete (§3.1).
    #[error("payload truncated: {needed} bytes of headers needed, {available} present")]
    Truncated {
        /// Bytes the headers need.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// The output buffer cannot hold the header being written.
    #[error("buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The scan data is 16 MiB or more: its fragment offsets would not fit the 24-bit field
    /// (§3.1.2).
    #[error("scan data of {0} bytes; fragment offsets address less than 16 MiB")]
    ScanTooLarge(usize),
    /// A quantization table is neither 64 bytes (8-bit) nor 128 (16-bit) (§3.1.8).
    #[error("quantization table of {0} bytes; 64 (8-bit) or 128 (16-bit) expected")]
    TableLength(usize),
    /// The frame's width or height is 0.
    #[error("frame of zero width or height")]
    ZeroSize,
    /// The maximum payload size leaves no room for scan data after the headers.
    #[error("maximum payload of {max_payload} bytes too small: headers take {headers} bytes")]
    PayloadTooSmall {
        /// The maximum payload size asked for.
        max_payload: usize,
        /// The size of the first packet's headers.
        headers: usize,
    },
}
