//! Audio RTP payloads (RFC 3551) and WAV files, beside the RFC 2435 video.
//!
//! | part | what it owns |
//! |---|---|
//! | [`Format`] | encoding, payload type, clock rate, channels: RFC 3551 §6 static types, `a=rtpmap` / `a=fmtp` read and written (RFC 4566 §6, RFC 7587 §7 for Opus) |
//! | [`g711`] | µ-law and A-law companding (ITU-T G.711; PCMU and PCMA, RFC 3551 §4.5.14) |
//! | [`l16`] | big-endian 16-bit samples (RFC 3551 §4.5.11) |
//! | [`Packetizer`] | interleaved i16 PCM → one packet's payload (L16, PCMU, PCMA) |
//! | [`Depacketizer`] | one packet's payload → interleaved i16 PCM, any packet duration |
//! | [`wav`] | RIFF/WAVE 16-bit PCM files, parsed from and written to bytes |
//!
//! Samples are `i16`, channels interleaved within each sample frame; a *sample frame* is one
//! sampling instant of every channel, the unit of the RTP timestamp (RFC 3551 §4.1). Opus is
//! described (SDP) but neither encoded nor decoded here: that needs a codec.

mod depacketizer;
mod format;
pub mod g711;
pub mod l16;
mod packetizer;
pub mod wav;

pub use depacketizer::{DepacketizeError, Depacketizer};
pub use format::{Encoding, Format, FormatError, OPUS_CLOCK_RATE};
pub use packetizer::{PTIME_MS, PacketizeError, Packetizer};
