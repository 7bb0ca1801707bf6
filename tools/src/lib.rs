//! hdstream tools: making and inspecting MJPEG test files, and publishing live.
//!
//! - [`generate`]: what `encode_mjpeg` does (test patterns or conversion, on all cores), callable
//!   from the benchmark harness without spawning the binary.
//! - [`flash`] and [`tone`]: the lip-sync marks — a bright pattern frame at each whole second
//!   and a test tone that clicks at the same moments, with the click finder tests use.
//! - [`impair`]: the seeded bad-link model behind the `impair` relay.
//! - [`relay`]: the RTSP-aware relay behind `impair` (also usable in-process by tests).
//! - [`info`]: what `mjpeg_info` prints about a file.
//! - [`parallel`]: ordered parallel production with a bounded reorder window.
//! - [`record`]: the publisher's side of an RTSP RECORD session, sans I/O (ANNOUNCE, SETUP of
//!   each track, RECORD; RFC 2435 video, RFC 3551 sound and RFC 4103 captions as RTP; sender
//!   reports on every track from one media clock), with [`track`] (tracks and their RTP
//!   senders), [`clock`] (the media clock) and [`announce`] (the SDP).
//! - [`publish`]: what `hdstream-publish` does: frames ([`frames`]), sound ([`sound`]) and
//!   captions ([`captions`]) on schedule, through a [`record::Recorder`] driven over mio
//!   sockets ([`link`]); reconnects.

pub mod announce;
pub mod captions;
pub mod clock;
pub mod flash;
pub mod frames;
pub mod generate;
pub mod impair;
pub mod info;
pub mod link;
pub mod parallel;
pub mod publish;
pub mod record;
pub mod relay;
pub mod sound;
pub mod tone;
pub mod track;
