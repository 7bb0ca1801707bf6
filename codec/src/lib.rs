//! Audio codecs for hdstream, through maintained libraries rather than our own code.
//!
//! [`Decoder`] turns one RTP packet's payload of any format hdstream receives into interleaved
//! 16-bit samples, and conceals a lost packet: L16 and G.711 through `hdstream_common::audio`
//! (silence for a lost packet), Opus (RFC 6716, RTP payload RFC 7587) through libopus (its own
//! packet loss concealment). [`OpusEncoder`] makes 20 ms Opus packets for a publisher.

mod decoder;
mod error;
mod opus_codec;

pub use decoder::Decoder;
pub use error::Error;
pub use opus_codec::OpusEncoder;
