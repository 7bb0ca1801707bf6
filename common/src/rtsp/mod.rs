//! RTSP 1.0, RFC 2326: messages, a streaming sans-IO parser, a serializer and typed headers.
//!
//! - [`parse`] / [`Parser`]: reads one [`Message`] (request, response or `$` interleaved
//!   data) from the front of the caller's buffer, or says it needs more bytes.
//!   [`parse_unterminated`] reads the course dialect, whose messages end without a blank line.
//! - [`Request::to_bytes`], [`Response::to_bytes`], [`Data::write_to`]: serialization;
//!   [`course`]: the course dialect's exact byte layout.
//! - [`requester`]: the asking side's requests in flight (CSeq, Session, credentials, timeouts).
//! - [`header`]: CSeq, Session, Transport, Range, RTP-Info, Public, Content-*, Speed, Scale.
//!
//! ```
//! use hdstream_common::rtsp::{self, Message, Method, Parsed, header::CSeq};
//!
//! let mut buf = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n$\x00\x00\x02hi".to_vec();
//! let Parsed::Complete { message: Message::Request(req), consumed } = rtsp::parse(&buf)? else {
//!     panic!("complete request expected");
//! };
//! assert_eq!(req.method, Method::Options);
//! assert_eq!(req.cseq(), Some(Ok(CSeq(1))));
//! buf.drain(..consumed);
//! let Parsed::Complete { message: Message::Data(data), .. } = rtsp::parse(&buf)? else {
//!     panic!("interleaved data expected");
//! };
//! assert_eq!((data.channel, &data.payload[..]), (0, &b"hi"[..]));
//! # Ok::<(), rtsp::ParseError>(())
//! ```

pub mod auth;
pub mod authenticator;
pub mod course;
mod error;
mod grammar;
pub mod header;
mod message;
mod method;
mod parser;
pub mod requester;
mod status;
pub mod url;
mod version;

#[cfg(test)]
mod tests;

pub use error::ParseError;
pub use header::Headers;
pub use message::{Data, Framing, LineEnding, Message, PayloadLength, Request, Response};
pub use method::Method;
pub use parser::{Limits, Parsed, Parser, parse, parse_unterminated};
pub use status::StatusCode;
pub use version::Version;
