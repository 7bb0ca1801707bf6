//! hdstream tools: making and inspecting MJPEG test files.
//!
//! - [`generate`]: what `encode_mjpeg` does (test patterns or conversion, on all cores), callable
//!   from the benchmark harness without spawning the binary.
//! - [`impair`]: the seeded bad-link model behind the `impair` relay.
//! - [`relay`]: the RTSP-aware relay behind `impair` (also usable in-process by tests).
//! - [`info`]: what `mjpeg_info` prints about a file.
//! - [`parallel`]: ordered parallel production with a bounded reorder window.
//! - [`record`]: the publisher's side of an RTSP RECORD session, sans I/O (ANNOUNCE, SETUP,
//!   RECORD, RFC 2435 RTP, sender reports carrying capture times).
//! - [`publish`]: what `hdstream-publish` does: frames from a file, stdin or a pattern, on
//!   schedule, through a [`record::Recorder`] driven over mio sockets; reconnects.

pub mod generate;
pub mod impair;
pub mod info;
pub mod parallel;
pub mod publish;
pub mod record;
pub mod relay;
