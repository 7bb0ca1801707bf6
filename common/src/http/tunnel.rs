//! RTSP tunnelled in HTTP, the QuickTime way (Apple, "Tunneling RTSP and RTP over HTTP",
//! 1999; as live555, gst-rtsp-server and ffmpeg speak it): a client opens two HTTP
//! connections to one server and names them with the same `x-sessioncookie`:
//!
//! ```text
//! GET /clip.mjpeg HTTP/1.0                    POST /clip.mjpeg HTTP/1.0
//! x-sessioncookie: 8a1f...                    x-sessioncookie: 8a1f...
//! Accept: application/x-rtsp-tunnelled        Content-Type: application/x-rtsp-tunnelled
//!                                             Content-Length: 32767
//! ← HTTP/1.0 200 OK                           (no answer: the body is the client's RTSP
//!   Content-Type: application/x-rtsp-tunnelled  requests, base64, RFC 4648 §4)
//!   then RTSP replies and `$` frames
//! ```
//!
//! Together they are one RTSP connection: requests go up the POST's body in base64, replies
//! and interleaved RTP/RTCP (RFC 2326 §10.12) come down the GET's body as they are.
//!
//! - [`classify`]: whether a request head opens a tunnel, which half, and its cookie (checked:
//!   [`MAX_COOKIE`] bytes at most, visible ASCII).
//! - [`Base64`]: a streaming decoder of the POST's body. Clients encode each request on its
//!   own (ffmpeg, GStreamer: `=` padding after every request), QuickTime breaks lines; the
//!   body arrives in TCP segments cut anywhere. So it decodes quantum by quantum, keeps a
//!   partial quantum for the next bytes, takes a padded quantum as the end of one encoding
//!   and the start of the next, and skips CR, LF, space and tab.
//! - The client's side: [`request_head`] writes either half's head, [`Answer`] reads the
//!   GET's answer head, [`encode`] turns RTSP bytes into the POST's body.

use super::Request;

/// The media type both halves name (`Accept` of the GET, `Content-Type` of the POST and of the
/// GET's answer).
pub const CONTENT_TYPE: &str = "application/x-rtsp-tunnelled";

/// The longest cookie taken: clients send 22 to 32 characters (ffmpeg: 32 hex digits;
/// GStreamer: 24 base64 characters; QuickTime: 22).
pub const MAX_COOKIE: usize = 128;

/// Which half of a tunnel a request opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Half {
    /// The GET: its answer carries the server's side of the RTSP connection.
    Get,
    /// The POST: its body carries the client's side, base64.
    Post,
}

/// Why a request that asks for a tunnel cannot have one (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// No `x-sessioncookie` field, or an empty one.
    #[error("x-sessioncookie is missing")]
    Missing,
    /// Longer than [`MAX_COOKIE`].
    #[error("x-sessioncookie is longer than {MAX_COOKIE} bytes")]
    TooLong,
    /// A byte that is not visible ASCII.
    #[error("x-sessioncookie holds a byte that is not visible ASCII")]
    Invalid,
}

/// Whether `request` opens half of a tunnel: a GET that accepts, or a POST whose body is,
/// [`CONTENT_TYPE`] (or that carries an `x-sessioncookie` at all: such a request is meant as a
/// tunnel, and a bad cookie is refused rather than served as something else). `None` for
/// other requests; the half and its cookie, or why the cookie is refused.
pub fn classify(request: &Request) -> Option<Result<(Half, String), CookieError>> {
    let names_type = |field: &str| {
        request.header(field).is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
        })
    };
    let cookie = request.header("x-sessioncookie");
    let half = match request.method.as_str() {
        "GET" if names_type("Accept") || cookie.is_some() => Half::Get,
        "POST" if names_type("Content-Type") || cookie.is_some() => Half::Post,
        _ => return None,
    };
    Some(check_cookie(cookie.unwrap_or("")).map(|c| (half, c.to_owned())))
}

/// A cookie as taken: 1 to [`MAX_COOKIE`] visible ASCII bytes.
pub fn check_cookie(cookie: &str) -> Result<&str, CookieError> {
    if cookie.is_empty() {
        Err(CookieError::Missing)
    } else if cookie.len() > MAX_COOKIE {
        Err(CookieError::TooLong)
    } else if !cookie.bytes().all(|b| b.is_ascii_graphic()) {
        Err(CookieError::Invalid)
    } else {
        Ok(cookie)
    }
}

/// A byte of the POST's body that is not base64 (RFC 4648 §4), or is after a quantum's
/// padding where the next quantum must begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64 at byte {offset} of the tunnel's body (0x{byte:02x})")]
pub struct Base64Error {
    /// Its offset from the start of the body.
    pub offset: u64,
    /// The byte.
    pub byte: u8,
}

/// A streaming base64 decoder (RFC 4648 §4, the standard alphabet), fed the POST's body as it
/// arrives. Encodings may follow each other (each padded with `=`), and line breaks may be
/// anywhere.
#[derive(Debug, Clone, Default)]
pub struct Base64 {
    /// Sextets of the quantum under way, most significant first.
    bits: u32,
    /// How many sextets `bits` holds (0–3).
    held: u8,
    /// `=` seen in this quantum (1 or 2): only `=` may follow until it is complete.
    padding: u8,
    /// Bytes of body seen, for errors.
    offset: u64,
    /// After an error: nothing more is decoded.
    failed: bool,
}

impl Base64 {
    /// A decoder at the start of a body.
    pub fn new() -> Base64 {
        Base64::default()
    }

    /// Decodes `input`, appending the bytes of every quantum it completes to `out`; a partial
    /// quantum is kept for the next call. After an error the rest of the body is refused.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Base64Error> {
        for &byte in input {
            let offset = self.offset;
            self.offset += 1;
            if self.failed {
                return Err(Base64Error { offset, byte });
            }
            if matches!(byte, b'\r' | b'\n' | b' ' | b'\t') {
                continue;
            }
            let error = Base64Error { offset, byte };
            if byte == b'=' {
                // "xx==" or "xxx=": padding only after two or three sextets.
                if self.held + self.padding < 2 {
                    self.failed = true;
                    return Err(error);
                }
                self.padding += 1;
            } else {
                let Some(sextet) = sextet(byte).filter(|_| self.padding == 0) else {
                    self.failed = true;
                    return Err(error);
                };
                self.bits = self.bits << 6 | u32::from(sextet);
                self.held += 1;
            }
            if self.held + self.padding == 4 {
                let bytes = (self.bits << (6 * u32::from(self.padding))).to_be_bytes();
                out.extend_from_slice(&bytes[1..1 + usize::from(self.held) - 1]);
                self.bits = 0;
                self.held = 0;
                self.padding = 0;
            }
        }
        Ok(())
    }

    /// Whether the body so far ends on a quantum's boundary.
    pub fn is_aligned(&self) -> bool {
        self.held == 0 && self.padding == 0
    }
}

/// The value of a base64 symbol (RFC 4648 §4, Table 1).
fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// The head of a tunnel's `half` for `path` (the RTSP URL's path) on `host` (`host:port`),
/// as ffmpeg and GStreamer write it: HTTP/1.0, no caching, and for the POST a body length no
/// client reaches (32767, Apple's figure).
pub fn request_head(half: &Half, path: &str, host: &str, cookie: &str) -> String {
    let path = if path.starts_with('/') { path } else { "/" };
    match half {
        Half::Get => format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nx-sessioncookie: {cookie}\r\n\
             Accept: {CONTENT_TYPE}\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n"
        ),
        Half::Post => format!(
            "POST {path} HTTP/1.0\r\nHost: {host}\r\nx-sessioncookie: {cookie}\r\n\
             Content-Type: {CONTENT_TYPE}\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
             Content-Length: 32767\r\nExpires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n"
        ),
    }
}

/// Appends `bytes` to `out` as one base64 encoding (RFC 4648 §4, padded): what goes up the
/// POST for RTSP bytes.
pub fn encode(bytes: &[u8], out: &mut Vec<u8>) {
    use base64::Engine as _;
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

/// The GET's answer head, as the client reads it (RFC 9112 §4): where it ends, once it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Not whole yet: read more (at most [`Answer::MAX_HEAD`] bytes in all).
    Incomplete,
    /// `200`: the tunnel is open; the RTSP stream starts `consumed` bytes in.
    Open {
        /// Bytes of the head.
        consumed: usize,
    },
    /// Another status: the server refused.
    Refused(u16),
    /// Not an HTTP status line, or a head past [`Answer::MAX_HEAD`].
    Invalid,
}

impl Answer {
    /// The longest answer head taken.
    pub const MAX_HEAD: usize = 16 * 1024;

    /// Reads the answer at the front of `buf`.
    pub fn parse(buf: &[u8]) -> Answer {
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .or_else(|| buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2));
        let Some(consumed) = end else {
            return if buf.len() > Answer::MAX_HEAD {
                Answer::Invalid
            } else {
                Answer::Incomplete
            };
        };
        let line = buf[..consumed].split(|&b| b == b'\n').next().unwrap_or(b"");
        let mut words = line.split(|&b| b == b' ');
        let version = words.next().unwrap_or(b"");
        let status = words
            .next()
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.trim().parse::<u16>().ok());
        match status {
            Some(200) if version.starts_with(b"HTTP/1.") => Answer::Open { consumed },
            Some(code) if version.starts_with(b"HTTP/1.") => Answer::Refused(code),
            _ => Answer::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    fn decode_all(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
        let mut out = Vec::new();
        Base64::new().decode(input, &mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_padded_encodings_one_after_another() {
        let body = format!(
            "{}{}\r\n{}",
            STANDARD.encode("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
            STANDARD.encode("a"),
            STANDARD.encode("bc")
        );
        assert_eq!(
            decode_all(body.as_bytes()).unwrap(),
            b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\nabc"
        );
    }

    #[test]
    fn apple_example_with_line_breaks() {
        // The start of the DESCRIBE in Apple's note, broken into lines as QuickTime sends it.
        let body = b"REVTQ1JJQkUgcnRzcDovL3R1Y2tydS5hcHBsZS5jb20vc3cubW92IFJUU1AvMS4w\r\n\
                     DQpDU2VxOiAxDQo=";
        assert_eq!(
            decode_all(body).unwrap(),
            b"DESCRIBE rtsp://tuckru.apple.com/sw.mov RTSP/1.0\r\nCSeq: 1\r\n"
        );
    }

    #[test]
    fn refuses_what_is_not_base64() {
        assert_eq!(
            decode_all(b"QUJD*"),
            Err(Base64Error {
                offset: 4,
                byte: b'*'
            })
        );
        // Padding too early, and a symbol after padding.
        assert!(decode_all(b"Q===").is_err());
        assert!(decode_all(b"QQ=A").is_err());
        assert!(decode_all(b"=").is_err());
        // Once refused, refused.
        let mut d = Base64::new();
        let mut out = Vec::new();
        assert!(d.decode(b"!", &mut out).is_err());
        assert!(d.decode(b"QUJD", &mut out).is_err());
        assert!(out.is_empty());
    }

    fn head(lines: &str) -> Request {
        match super::super::parse(format!("{lines}\r\n\r\n").as_bytes()) {
            Ok(super::super::Parsed::Complete { request, .. }) => request,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classifies_the_halves() {
        let get = head(
            "GET /clip.mjpeg HTTP/1.0\r\nx-sessioncookie: abc\r\nAccept: application/x-rtsp-tunnelled",
        );
        assert_eq!(classify(&get), Some(Ok((Half::Get, "abc".into()))));
        let post = head(
            "POST /clip.mjpeg HTTP/1.0\r\nx-sessioncookie: abc\r\nContent-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767",
        );
        assert_eq!(classify(&post), Some(Ok((Half::Post, "abc".into()))));
        assert_eq!(classify(&head("GET /watch/a HTTP/1.1")), None);
        let no_cookie = head("GET / HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled");
        assert_eq!(classify(&no_cookie), Some(Err(CookieError::Missing)));
        let long = head(&format!(
            "POST / HTTP/1.0\r\nx-sessioncookie: {}",
            "a".repeat(MAX_COOKIE + 1)
        ));
        assert_eq!(classify(&long), Some(Err(CookieError::TooLong)));
    }

    #[test]
    fn client_side_heads_encoding_and_answer() {
        let get = request_head(&Half::Get, "/clip.mjpeg", "h:8080", "c00k1e");
        let post = request_head(&Half::Post, "/clip.mjpeg", "h:8080", "c00k1e");
        for (head, half) in [(get, Half::Get), (post, Half::Post)] {
            let request = match super::super::parse(head.as_bytes()) {
                Ok(super::super::Parsed::Complete { request, consumed }) => {
                    assert_eq!(consumed, head.len());
                    request
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(classify(&request), Some(Ok((half, "c00k1e".into()))));
        }
        let mut body = Vec::new();
        encode(b"OPTIONS", &mut body);
        encode(b"ab", &mut body);
        assert_eq!(body, b"T1BUSU9OUw==YWI=");
        assert_eq!(decode_all(&body).unwrap(), b"OPTIONSab");
        let head = b"HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\nRTSP";
        assert_eq!(
            Answer::parse(head),
            Answer::Open {
                consumed: head.len() - 4
            }
        );
        assert_eq!(Answer::parse(&head[..20]), Answer::Incomplete);
        assert_eq!(
            Answer::parse(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            Answer::Refused(400)
        );
        assert_eq!(Answer::parse(b"RTSP/1.0 200 OK\r\n\r\n"), Answer::Invalid);
        assert_eq!(
            Answer::parse(&[b'x'; Answer::MAX_HEAD + 1]),
            Answer::Invalid
        );
    }

    proptest! {
        /// Any bytes, encoded request by request and cut anywhere, decode to the same bytes.
        #[test]
        fn round_trip_split_anywhere(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..6),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            breaks in any::<bool>(),
        ) {
            let mut body = Vec::new();
            for m in &messages {
                body.extend_from_slice(STANDARD.encode(m).as_bytes());
                if breaks {
                    body.extend_from_slice(b"\r\n");
                }
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
            cuts.sort_unstable();
            let mut decoder = Base64::new();
            let mut out = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([body.len()]) {
                decoder.decode(&body[from..cut], &mut out).unwrap();
                from = cut;
            }
            prop_assert!(decoder.is_aligned());
            prop_assert_eq!(out, messages.concat());
        }

        /// Arbitrary bytes never panic, and what is decoded before an error stays decoded.
        #[test]
        fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut out = Vec::new();
            let _ = Base64::new().decode(&input, &mut out);
            prop_assert!(out.len() <= input.len());
        }
    }
}
