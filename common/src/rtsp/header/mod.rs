//! Typed header fields, RFC 2326 §12: one file per header, each with a parser named after its
//! grammar and a `Display` that writes it back.
//!
//! Parsers accept white space around separators (`client_port= 25000`) but are otherwise strict:
//! a malformed value is an [`Error`], never a panic. `Display` writes the canonical form, and
//! parsing that form gives back the same value.

mod content;
mod cseq;
mod fields;
mod public;
mod range;
mod rtp_info;
mod scale;
mod session;
mod speed;
mod transport;

use std::fmt;

pub use content::{ContentBase, ContentLength, ContentType};
pub use cseq::CSeq;
pub use fields::Headers;
pub use public::Public;
pub use range::{NptTime, Range};
pub use rtp_info::{RtpInfo, RtpInfoEntry};
pub use scale::Scale;
pub use session::Session;
pub use speed::Speed;
pub use transport::{
    ChannelRange, LowerTransport, PortRange, Transport, TransportParam, TransportSpec,
};

use super::StatusCode;
use super::grammar::trim_lws;

/// A header field with a typed value.
pub trait Header: Sized + fmt::Display {
    /// The field name as RFC 2326 spells it.
    const NAME: &'static str;

    /// Parses the field value (without the name and colon).
    fn parse(value: &str) -> Result<Self, Error>;
}

/// Why a header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The value does not follow the header's grammar.
    #[error("invalid {header} header: expected {expected}, found {found:?}")]
    Syntax {
        /// The header's name.
        header: &'static str,
        /// What the grammar wanted at this point.
        expected: &'static str,
        /// The offending part of the value (at most 64 bytes of it).
        found: String,
    },
    /// A well-formed number outside the range the header allows (a port above 65535, a zero
    /// Speed, a CSeq beyond 32 bits).
    #[error("invalid {header} header: {found:?} is out of range")]
    OutOfRange {
        /// The header's name.
        header: &'static str,
        /// The number as sent (at most 64 bytes of it).
        found: String,
    },
    /// A Range whose end lies before its start (RFC 2326 §12.29; answered with 457).
    #[error("invalid Range header: end {end} lies before start {start}")]
    ReversedRange {
        /// Start, in seconds.
        start: String,
        /// End, in seconds.
        end: String,
    },
}

impl Error {
    /// The header the error is about.
    pub fn header(&self) -> &'static str {
        match self {
            Self::Syntax { header, .. } | Self::OutOfRange { header, .. } => header,
            Self::ReversedRange { .. } => Range::NAME,
        }
    }

    /// The status a server answers a request with this header with: 457 Invalid Range for a
    /// bad `Range`, 400 Bad Request for anything else. (A well-formed but unacceptable
    /// `Transport` is the server's call: 461.)
    pub fn status_code(&self) -> StatusCode {
        if self.header() == Range::NAME {
            StatusCode::INVALID_RANGE
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// At most this many bytes of an offending value go into an error.
const FOUND_MAX: usize = 64;

/// `s` cut to [`FOUND_MAX`] bytes at a character boundary.
fn excerpt(s: &str) -> String {
    let mut end = s.len().min(FOUND_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// An [`Error::Syntax`].
pub(crate) fn syntax(header: &'static str, expected: &'static str, found: &str) -> Error {
    Error::Syntax {
        header,
        expected,
        found: excerpt(found),
    }
}

/// An [`Error::OutOfRange`].
pub(crate) fn out_of_range(header: &'static str, found: &str) -> Error {
    Error::OutOfRange {
        header,
        found: excerpt(found),
    }
}

/// Splits `s` at each `sep` outside double quotes; each piece trimmed of SP/HT, empty pieces
/// dropped (`1#element` allows empty list elements, RFC 2616 §2.1). `None` if a quote is left
/// open.
pub(crate) fn split_list(s: &str, sep: u8) -> Option<Vec<&str>> {
    let mut pieces = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            pieces.push(&s[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return None;
    }
    pieces.push(&s[start..]);
    Some(
        pieces
            .into_iter()
            .map(trim_lws)
            .filter(|p| !p.is_empty())
            .collect(),
    )
}

/// `name [= value]` with white space around `=` removed.
pub(crate) fn split_param(piece: &str) -> (&str, Option<&str>) {
    match piece.split_once('=') {
        Some((name, value)) => (trim_lws(name), Some(trim_lws(value))),
        None => (trim_lws(piece), None),
    }
}

/// A parameter value: either a `quoted-string` without inner quotes (returned without its
/// quotes) or a plain value without any quote. `None` for anything else.
pub(crate) fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => Some(inner),
        Some(_) => None,
        None if value.contains('"') => None,
        None => Some(value),
    }
}

/// `1*DIGIT` as an unsigned integer; `Err(true)` if well-formed but too large for `T`,
/// `Err(false)` if not digits.
pub(crate) fn parse_digits<T: std::str::FromStr>(s: &str) -> Result<T, bool> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(false);
    }
    s.parse().map_err(|_| true)
}

/// `1*DIGIT` parsed into `T`, with the header's errors.
pub(crate) fn number<T: std::str::FromStr>(
    header: &'static str,
    expected: &'static str,
    s: &str,
) -> Result<T, Error> {
    parse_digits(s).map_err(|too_large| {
        if too_large {
            out_of_range(header, s)
        } else {
            syntax(header, expected, s)
        }
    })
}

/// `1*DIGIT [ "." *DIGIT ]` (the grammar of npt-sec, Speed and Scale, RFC 2326 §3.6, §12.35,
/// §12.34) as a finite, non-negative `f64`. `None` if malformed or too large to be finite.
pub(crate) fn decimal(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (s, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_outside_quotes_only() {
        assert_eq!(
            split_list(r#" a ;mode="PLAY,RECORD", b,,"#, b',').unwrap(),
            [r#"a ;mode="PLAY,RECORD""#, "b"]
        );
        assert_eq!(split_list(r#"a;"b"#, b';'), None);
        assert!(split_list(" , ", b',').unwrap().is_empty());
    }

    #[test]
    fn params_and_quotes() {
        assert_eq!(
            split_param("client_port= 25000"),
            ("client_port", Some("25000"))
        );
        assert_eq!(split_param(" unicast "), ("unicast", None));
        assert_eq!(unquote(r#""PLAY""#), Some("PLAY"));
        assert_eq!(unquote("PLAY"), Some("PLAY"));
        assert_eq!(unquote(r#""a"b""#), None);
        assert_eq!(unquote(r#"a"b"#), None);
        assert_eq!(unquote("\""), None);
    }

    #[test]
    fn decimals_follow_the_npt_grammar() {
        assert_eq!(decimal("10.5"), Some(10.5));
        assert_eq!(decimal("7."), Some(7.0));
        assert_eq!(decimal("0"), Some(0.0));
        for bad in ["", ".5", "-1", "+1", "1e3", "inf", "NaN", "1.2.3", " 1"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        assert_eq!(decimal(&"9".repeat(400)), None, "overflows to infinity");
    }

    #[test]
    fn digits_distinguish_malformed_from_too_large() {
        assert_eq!(parse_digits::<u16>("65535"), Ok(65535));
        assert_eq!(parse_digits::<u16>("65536"), Err(true));
        assert_eq!(parse_digits::<u16>("-1"), Err(false));
        assert_eq!(parse_digits::<u16>(""), Err(false));
    }

    #[test]
    fn errors_quote_at_most_64_bytes_and_map_to_status_codes() {
        let e = syntax("CSeq", "digits", &"ä".repeat(100));
        let Error::Syntax { found, .. } = &e else {
            panic!()
        };
        assert!(found.len() <= 64);
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(
            syntax("Range", "npt", "x").status_code(),
            StatusCode::INVALID_RANGE
        );
    }
}
