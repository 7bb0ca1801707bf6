//! Timed text: real-time text over RTP (RFC 4103, ITU-T T.140) and caption files (W3C WebVTT,
//! SubRip).
//!
//! - [`Cue`]: one caption, its start, end and text; [`Captions`]: the cues of a file, sorted by
//!   start, with the malformed ones it skipped ([`Skipped`], each with its line number).
//! - [`t140`]: the RFC 4103 payload: [`t140::Packetizer`] turns cues into T140blocks, one line
//!   ending in U+2028 each, and [`t140::Depacketizer`] turns received payloads back into lines.
//! - [`webvtt`] and [`srt`]: the two caption file formats, parsed ([`webvtt::parse`],
//!   [`srt::parse`]) and, for SRT, written ([`srt::write`]).
//!
//! A file is refused ([`Error`]) only when it is not of its format at all; a malformed cue in
//! it is skipped and counted, the cues around it kept.

mod cue;
mod error;
mod lines;
pub mod srt;
pub mod t140;
#[cfg(test)]
mod testing;
pub mod webvtt;

pub use cue::{Captions, Cue, Skipped};
pub use error::{Defect, Error};
