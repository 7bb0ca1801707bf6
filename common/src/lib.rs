//! Sans-IO protocol cores for hdstream.
//!
//! Nothing in this crate opens a socket, reads the clock or spawns a thread: every entry point
//! takes bytes (and `now` where time matters) and hands back bytes, events and deadlines.
//!
//! | module | standard |
//! |---|---|
//! | [`rtsp`] | RTSP 1.0, RFC 2326 |
//! | [`http`] | HTTP/1.1 requests and responses, RFC 9112 / RFC 9110; `multipart/x-mixed-replace` MJPEG (RFC 2046 §5.1) |
//! | [`sdp`] | SDP, RFC 4566 |
//! | [`rtp`] | RTP, RFC 3550 §5 |
//! | [`rtcp`] | RTCP, RFC 3550 §6 and Appendix A |
//! | [`rfc2435`] | RTP payload format for JPEG, RFC 2435 |
//! | [`course`] | the course's raw-JPEG RTP payload (docs/architecture.md, "The course's dialect") |
//! | [`pacing`] | token bucket for paced sending |
//! | [`audio`] | audio RTP payloads (RFC 3551 L16, G.711 PCMU/PCMA) and WAV files |
//! | [`text`] | real-time text (RFC 4103 T.140) and caption files (WebVTT, SRT) |
//!
//! And [`logs`]: the programs' `RUST_LOG` filter, the one place that reads the environment.

#[macro_use]
mod status_codes;

pub mod audio;
pub mod course;
pub mod http;
pub mod logs;
pub mod pacing;
pub mod rfc2435;
pub mod rtcp;
pub mod rtp;
pub mod rtsp;
pub mod sdp;
pub mod text;
