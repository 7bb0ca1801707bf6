//! The request head (RFC 9112 §2–§5): a streaming, sans-IO parser with size limits.
//!
//! ```text
//! request-line = method SP request-target SP HTTP-version CRLF      (RFC 9112 §3)
//! field-line   = field-name ":" OWS field-value OWS CRLF             (RFC 9112 §5)
//! head         = *CRLF request-line *( field-line ) CRLF
//! ```
//!
//! The caller owns the buffer: it appends what it reads and calls [`parse`] with all of it;
//! [`Parsed::Complete`] says how many bytes the head took. Bare LF ends a line too (RFC 9112
//! §2.2 allows it); empty lines before the request line are skipped (§2.2); obsolete line
//! folding (§5.2) and whitespace before a field's colon (§5.1) are refused with 400.

use std::fmt;

use super::StatusCode;

/// Bounds on what the parser accepts, so a peer cannot make the server buffer without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, without its line end (beyond it: 414). Default 8 KiB, RFC 9112
    /// §3's recommended least.
    pub request_line: usize,
    /// Longest head: empty lines before it, request line and fields (beyond it: 431).
    /// Default 16 KiB.
    pub head: usize,
    /// Most field lines (beyond it: 431). Default 100.
    pub fields: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_line: 8 * 1024,
            head: 16 * 1024,
            fields: 100,
        }
    }
}

/// The HTTP version of a request (RFC 9112 §2.3); 1.0 and 1.1 are understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, case-sensitive (RFC 9110 §9.1): a token.
    pub method: String,
    /// The request-target as sent (RFC 9112 §3.2): origin-form `/path?query`, absolute-form,
    /// or `*`.
    pub target: String,
    /// The version.
    pub version: Version,
    /// Field lines in order, names as sent, values without surrounding whitespace.
    pub headers: Vec<(String, String)>,
}

/// What [`parse`] found at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole head; it took `consumed` bytes (empty lines before it included).
    Complete {
        /// The request head.
        request: Request,
        /// Bytes it took.
        consumed: usize,
    },
    /// Only the beginning of a head: read more and call again with the whole buffer.
    Incomplete,
}

/// Why a request head is refused; [`ParseError::status`] is the answer it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The request line is longer than [`Limits::request_line`].
    #[error("request line longer than {limit} bytes")]
    RequestLineTooLong {
        /// The limit.
        limit: usize,
    },
    /// The head is longer than [`Limits::head`] or has more than [`Limits::fields`] fields.
    #[error("request head over {limit} bytes or {fields} fields")]
    HeadTooLarge {
        /// The byte limit.
        limit: usize,
        /// The field limit.
        fields: usize,
    },
    /// The bytes break the grammar rule named, at this offset from the buffer's start.
    #[error("invalid {rule} at byte {at}")]
    Invalid {
        /// The grammar rule (`request-line`, `method`, `field-name`…).
        rule: &'static str,
        /// Offset of the line it was found in.
        at: usize,
    },
    /// A well-formed version other than 1.0 and 1.1.
    #[error("HTTP version {0} not supported")]
    Version(String),
}

impl ParseError {
    /// The status that answers it: 414, 431, 400 or 505.
    pub fn status(&self) -> StatusCode {
        match self {
            ParseError::RequestLineTooLong { .. } => StatusCode::URI_TOO_LONG,
            ParseError::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ParseError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ParseError::Version(_) => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        }
    }
}

/// The request parser, with its [`Limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parser {
    /// What it accepts.
    pub limits: Limits,
}

/// Parses one request head from the front of `buf` with the default [`Limits`].
pub fn parse(buf: &[u8]) -> Result<Parsed, ParseError> {
    Parser::default().parse(buf)
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The next line of `buf` from `from`: its end (before CR LF or LF) and where the line after
/// it starts; `None` while no LF has come.
fn line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let nl = from + memchr::memchr(b'\n', buf.get(from..)?)?;
    let end = if nl > from && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

impl Parser {
    /// Parses one request head from the front of `buf`.
    pub fn parse(&self, buf: &[u8]) -> Result<Parsed, ParseError> {
        let limits = &self.limits;
        let too_large = ParseError::HeadTooLarge {
            limit: limits.head,
            fields: limits.fields,
        };
        // Empty lines before the request line (RFC 9112 §2.2), within the head's bound.
        let mut start = 0;
        while let Some(&b) = buf.get(start) {
            match b {
                b'\n' => start += 1,
                b'\r' if buf.get(start + 1) == Some(&b'\n') => start += 2,
                b'\r' if start + 1 == buf.len() => return Ok(Parsed::Incomplete),
                _ => break,
            }
            if start > limits.head {
                return Err(too_large);
            }
        }
        let Some((end, mut next)) = line(buf, start) else {
            let partial = &buf[start..];
            // Garbage (a TLS handshake, binary) is refused at once, not after 8 KiB.
            if let Some(bad) = partial
                .iter()
                .position(|&b| b != b'\r' && b.is_ascii_control())
            {
                return Err(ParseError::Invalid {
                    rule: "request-line",
                    at: start + bad,
                });
            }
            if partial.len() > limits.request_line {
                return Err(ParseError::RequestLineTooLong {
                    limit: limits.request_line,
                });
            }
            return Ok(Parsed::Incomplete);
        };
        if end - start > limits.request_line {
            return Err(ParseError::RequestLineTooLong {
                limit: limits.request_line,
            });
        }
        let (method, target, version) = request_line(&buf[start..end], start)?;
        let mut headers = Vec::new();
        loop {
            let Some((end, after)) = line(buf, next) else {
                if buf.len() > limits.head {
                    return Err(too_large);
                }
                return Ok(Parsed::Incomplete);
            };
            if after > limits.head {
                return Err(too_large);
            }
            if end == next {
                return Ok(Parsed::Complete {
                    request: Request {
                        method,
                        target,
                        version,
                        headers,
                    },
                    consumed: after,
                });
            }
            if headers.len() >= limits.fields {
                return Err(too_large);
            }
            headers.push(field_line(&buf[next..end], next)?);
            next = after;
        }
    }
}

/// `method SP request-target SP HTTP-version` (RFC 9112 §3), the line at offset `at`.
fn request_line(line: &[u8], at: usize) -> Result<(String, String, Version), ParseError> {
    let invalid = |rule| ParseError::Invalid { rule, at };
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("request-line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(invalid("method"));
    }
    // Visible ASCII only (RFC 3986 §2 characters, with `%`-escapes for the rest).
    if target.is_empty() || !target.iter().all(|b| (0x21..=0x7E).contains(b)) {
        return Err(invalid("request-target"));
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(ParseError::Version(format!(
                "{}.{}",
                *major as char, *minor as char
            )));
        }
        _ => return Err(invalid("HTTP-version")),
    };
    // Every byte checked above is ASCII.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((text(method), text(target), version))
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5), the line at offset `at`.
fn field_line(line: &[u8], at: usize) -> Result<(String, String), ParseError> {
    let invalid = |rule| ParseError::Invalid { rule, at };
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(invalid("obs-fold"));
    }
    let colon = memchr::memchr(b':', line).ok_or(invalid("field-line"))?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(invalid("field-name"));
    }
    let value = &line[colon + 1..];
    // RFC 9110 §5.5: no CR, LF, NUL — nor any control but HTAB.
    if value.iter().any(|&b| b != b'\t' && (b < 0x20 || b == 0x7F)) {
        return Err(invalid("field-value"));
    }
    let value = std::str::from_utf8(value).map_err(|_| invalid("field-value"))?;
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        value.trim_matches([' ', '\t']).to_owned(),
    ))
}

impl Request {
    /// The first field named `name`, compared case-insensitively (RFC 9110 §5.1).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target's path, as sent (still percent-encoded): origin-form up to `?` or `#`; of an
    /// absolute-form target (RFC 9112 §3.2.2), the part after the authority (`/` when empty).
    pub fn path(&self) -> &str {
        let target = self.target.as_str();
        let path = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target,
        };
        path.split(['?', '#']).next().unwrap_or("")
    }

    /// The query after `?` (up to any `#`), if there is one.
    pub fn query(&self) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query.split('#').next()
    }

    /// The first `name=value` of the query with this name, its value as sent.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query()?
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The head as bytes (CRLF line ends): what [`parse`] reads back as this request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn complete(buf: &[u8]) -> (Request, usize) {
        match parse(buf) {
            Ok(Parsed::Complete { request, consumed }) => (request, consumed),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn a_browsers_request_parses_and_every_prefix_is_incomplete() {
        let buf = b"\r\nGET /watch/live/cam?x=1&t=2.5 HTTP/1.1\r\nHost: h:8080\r\nAccept: image/*,*/*;q=0.8\r\nX-Empty:\r\n\r\nnext";
        let (request, consumed) = complete(buf);
        assert_eq!(consumed, buf.len() - 4);
        assert_eq!(request.method, "GET");
        assert_eq!(request.path(), "/watch/live/cam");
        assert_eq!(request.query_value("t"), Some("2.5"));
        assert_eq!(request.query_value("y"), None);
        assert_eq!(request.header("ACCEPT"), Some("image/*,*/*;q=0.8"));
        assert_eq!(request.header("x-empty"), Some(""));
        assert_eq!(request.version, Version::Http11);
        for cut in 0..consumed {
            assert_eq!(parse(&buf[..cut]), Ok(Parsed::Incomplete), "cut at {cut}");
        }
    }

    #[test]
    fn bare_lf_http_1_0_and_absolute_form() {
        let (request, _) =
            complete(b"HEAD http://cam:8080/snapshot/a.mjpeg?t=1 HTTP/1.0\nA: b\n\n");
        assert_eq!(request.version, Version::Http10);
        assert_eq!(request.path(), "/snapshot/a.mjpeg");
        assert_eq!(complete(b"GET http://cam HTTP/1.1\r\n\r\n").0.path(), "/");
    }

    #[test]
    fn each_bad_head_gets_its_status() {
        let status = |buf: &[u8]| parse(buf).map_err(|e| e.status().as_u16());
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), Err(505));
        assert_eq!(status(b"GET / HTTX/1.1\r\n\r\n"), Err(400));
        assert_eq!(status(b"GET  / HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\n folded\r\n\r\n"), Err(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nName : v\r\n\r\n"), Err(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nNo-colon\r\n\r\n"), Err(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"), Err(400));
        assert_eq!(status(b"G\xC3\xA9T / HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(status(b"\x16\x03\x01\x02\x00\x01"), Err(400));
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
        assert_eq!(status(long.as_bytes()), Err(414));
        assert_eq!(status(&long.as_bytes()[..8500]), Err(414));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert_eq!(status(huge.as_bytes()), Err(431));
        assert_eq!(status(&huge.as_bytes()[..17_000]), Err(431));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(101));
        assert_eq!(status(many.as_bytes()), Err(431));
        assert_eq!(status(&b"\r\n".repeat(9000)), Err(431));
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
    }

    fn request() -> impl Strategy<Value = Request> {
        (
            token(),
            "/[!-~]{0,40}",
            prop_oneof![Just(Version::Http10), Just(Version::Http11)],
            proptest::collection::vec(
                (token(), "([!-~\u{80}-\u{10FFFF}]([ \t!-~]{0,20}[!-~])?)?"),
                0..8,
            ),
        )
            .prop_map(|(method, target, version, headers)| Request {
                method,
                target,
                version,
                headers,
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..600)) {
            match parse(&buf) {
                Ok(Parsed::Complete { consumed, .. }) => prop_assert!(consumed > 0 && consumed <= buf.len()),
                Ok(Parsed::Incomplete) => {}
                Err(e) => { let _ = (e.to_string(), e.status()); }
            }
        }

        #[test]
        fn a_valid_request_round_trips(request in request(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
            let mut bytes = request.to_bytes();
            let len = bytes.len();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(parse(&bytes), Ok(Parsed::Complete { request, consumed: len }));
        }
    }
}
