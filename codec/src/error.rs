//! Why audio could not be decoded or encoded.

use hdstream_common::audio::DepacketizeError;

/// Why a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An L16 or G.711 payload of the wrong length.
    #[error(transparent)]
    Payload(#[from] DepacketizeError),
    /// libopus refused it.
    #[error("opus: {0}")]
    Opus(String),
    /// A channel count the codec does not take (Opus: 1 or 2).
    #[error("{0} channels: Opus decodes 1 or 2")]
    Channels(u16),
    /// A block of samples of the wrong length for the encoder.
    #[error("{len} samples, expected {expected}")]
    Length {
        /// Samples given.
        len: usize,
        /// Samples one packet takes.
        expected: usize,
    },
}
