//! MJPEG media for hdstream.
//!
//! - [`jpeg`]: JPEG header parser (SOF, DQT, DHT, DRI, SOS, EOI), ITU-T T.81 Annex B.
//! - [`rfc2435`]: whether a frame can travel as RFC 2435 RTP payload, and its
//!   [`Frame`](hdstream_common::rfc2435::Frame) view.
//! - [`index`]: the frame index of an MJPEG byte stream (plain or course container).
//! - [`container`]: MJPEG frames and sound in Matroska and AVI files, as ffmpeg writes them.
//! - [`file`]: [`MjpegFile`], a memory-mapped, indexed file (bare JPEGs or a container).
//! - [`decoder`]: zune-jpeg decoding into a reusable 0RGB `u32` buffer.
//! - [`pattern`]: moving, numbered test-pattern frames; [`encoder`]: RFC 2435-ready encoding.
//! - [`ffmpeg`]: ffmpeg's arguments for its own MJPEG test files, the foreign input of tests.

pub mod container;
pub mod decoder;
pub mod encoder;
pub mod ffmpeg;
pub mod file;
pub mod index;
pub mod jpeg;
pub mod pattern;
pub mod rfc2435;
pub mod split;

pub use file::MjpegFile;
pub use index::{Container, Index};
