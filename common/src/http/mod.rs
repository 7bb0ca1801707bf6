//! HTTP/1.1 as the server's HTTP port speaks it: a streaming sans-IO request parser with size
//! limits (RFC 9112 §2–§5), response heads (RFC 9112 §4, RFC 9110 §15), and the
//! `multipart/x-mixed-replace` body that carries Motion-JPEG to browsers and to ffmpeg's
//! `mpjpeg` demuxer (RFC 2046 §5.1).
//!
//! - [`parse`] / [`Parser`]: reads one [`Request`] head from the front of the caller's buffer,
//!   or says it needs more bytes, or why it is refused ([`ParseError::status`]: 400, 414, 431,
//!   505). A request's body, if any, is the caller's (the server answers and closes).
//! - [`Response`]: a status line and fields, written into the caller's buffer.
//! - [`Multipart`]: a part's head and tail around bytes the caller copies in itself (a JPEG
//!   straight from a mapped file), and the closing delimiter.
//!
//! ```
//! use hdstream_common::http::{self, Parsed};
//!
//! let buf = b"GET /watch/clip.mjpeg?x=1 HTTP/1.1\r\nHost: cam\r\n\r\n";
//! let Parsed::Complete { request, consumed } = http::parse(buf)? else {
//!     panic!("complete request expected");
//! };
//! assert_eq!((request.method.as_str(), request.path(), request.query()), ("GET", "/watch/clip.mjpeg", Some("x=1")));
//! assert_eq!(request.header("host"), Some("cam"));
//! assert_eq!(consumed, buf.len());
//! # Ok::<(), http::ParseError>(())
//! ```

mod multipart;
mod request;
mod response;
mod status;
pub mod tunnel;

pub use multipart::Multipart;
pub use request::{Limits, ParseError, Parsed, Parser, Request, Version, parse};
pub use response::Response;
pub use status::StatusCode;
