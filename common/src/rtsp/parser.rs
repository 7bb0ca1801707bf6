//! The streaming, sans-IO message parser (RFC 2326 §4, §6, §7, §10.12).
//!
//! The caller owns the buffer: it appends what it reads, calls [`parse`] and, on
//! [`Parsed::Complete`], drops `consumed` bytes from the front. Requests, responses and `$`
//! interleaved data may follow one another in any order on the same stream.

use std::borrow::Cow;
use std::str;

use super::grammar::{is_lws, is_token, trim_lws};
use super::header::{self, ContentLength, Header};
use super::message::{Data, Framing, LineEnding, Message, Request, Response};
use super::version::{self, VersionCheck};
use super::{Headers, Method, ParseError, StatusCode};

/// Bounds on what the parser accepts, so that a peer cannot make it buffer without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request-line or status-line, without its line end. Default 4 KiB.
    pub start_line: usize,
    /// Longest header line, without its line end. Default 4 KiB.
    pub header_line: usize,
    /// Most header lines (continuation lines included). Default 64.
    pub headers: usize,
    /// Longest start line and headers together. Default 16 KiB: far more than any real
    /// RTSP head, and it keeps re-scanning a head that arrives a byte at a time cheap.
    pub header_block: usize,
    /// Longest body (`Content-Length`). Default 64 KiB, room for any SDP.
    pub body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            start_line: 4096,
            header_line: 4096,
            headers: 64,
            header_block: 16 * 1024,
            body: 64 * 1024,
        }
    }
}

/// What [`parse`] found at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole message; drop `consumed` bytes from the front of the buffer before parsing the
    /// next one.
    Complete {
        /// The message (interleaved data borrows from the buffer).
        message: Message<'a>,
        /// Bytes the message took, including any blank lines before it.
        consumed: usize,
    },
    /// The buffer holds only the beginning of a message: read more and call again with the
    /// whole buffer.
    Incomplete {
        /// At least this many more bytes are needed, when known (a body or interleaved packet
        /// of known length); a driver may wait for them before calling again.
        needed: Option<usize>,
    },
}

/// The message parser, with its [`Limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parser {
    /// What the parser accepts.
    pub limits: Limits,
}

/// Parses one message from the front of `buf` with the default [`Limits`].
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
    Parser::default().parse(buf)
}

/// Like [`parse`], but the end of `buf` ends the header block (with the default [`Limits`]).
/// See [`Parser::parse_unterminated`].
pub fn parse_unterminated(buf: &[u8]) -> Result<Option<(Message<'_>, usize)>, ParseError> {
    Parser::default().parse_unterminated(buf)
}

impl Parser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// Parses one message from the front of `buf`.
    ///
    /// Blank lines before a message are skipped (and counted in `consumed`). Line ends may be
    /// CRLF or bare LF, mixed. Header names are case-insensitive; the body is `Content-Length`
    /// bytes (none without it). A method the parser does not know comes back as
    /// [`Method::Extension`] so the server can answer 501.
    pub fn parse<'a>(&self, buf: &'a [u8]) -> Result<Parsed<'a>, ParseError> {
        Ok(match self.message(buf, false)? {
            Outcome::Complete(message, consumed) => Parsed::Complete { message, consumed },
            Outcome::Incomplete(needed) => Parsed::Incomplete { needed },
        })
    }

    /// Parses the course dialect: requests and replies that end after their last header line
    /// with no blank line, not even a final line end (`SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\n
    /// Transport: RTP/UDP; client_port= 25000`). The end of `buf` is taken as the end of the
    /// header block, and the message has no body.
    ///
    /// Call it when [`parse`] says incomplete and the peer has gone quiet with bytes
    /// buffered. A properly terminated message at the front of `buf` parses as with
    /// [`parse`]. `None` if `buf` holds nothing but blank lines, an incomplete `$` packet, or
    /// a terminated head still waiting for its body. The returned message's
    /// [`Framing::terminated`] tells which case it was.
    pub fn parse_unterminated<'a>(
        &self,
        buf: &'a [u8],
    ) -> Result<Option<(Message<'a>, usize)>, ParseError> {
        Ok(match self.message(buf, true)? {
            Outcome::Complete(message, consumed) => Some((message, consumed)),
            Outcome::Incomplete(_) => None,
        })
    }

    fn message<'a>(&self, buf: &'a [u8], at_end: bool) -> Result<Outcome<'a>, ParseError> {
        let limits = &self.limits;
        // Blank lines before a message (RFC 2616 §4.1 robustness; also what follows a
        // course-dialect message once its peer adds a line end).
        let mut pos = 0;
        loop {
            match buf.get(pos..).unwrap_or_default() {
                [b'\n', ..] => pos += 1,
                [b'\r', b'\n', ..] => pos += 2,
                [b'\r'] | [] => return Ok(Outcome::Incomplete(None)),
                _ => break,
            }
            if pos > limits.start_line {
                return Err(ParseError::StartLineLength {
                    offset: pos,
                    limit: limits.start_line,
                });
            }
        }
        if let [b'$', rest @ ..] = buf.get(pos..).unwrap_or_default() {
            return Ok(interleaved(rest, pos));
        }
        Head::new(buf, pos, limits, at_end).parse()
    }
}

/// Result of one parse attempt.
enum Outcome<'a> {
    Complete(Message<'a>, usize),
    Incomplete(Option<usize>),
}

/// `$ channel length data` after the `$` at `pos` (RFC 2326 §10.12).
fn interleaved(rest: &[u8], pos: usize) -> Outcome<'_> {
    let [channel, hi, lo, tail @ ..] = rest else {
        return Outcome::Incomplete(Some(3 - rest.len()));
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    match tail.get(..len) {
        Some(payload) => Outcome::Complete(
            Message::Data(Data {
                channel: *channel,
                payload: Cow::Borrowed(payload),
            }),
            pos + 4 + len,
        ),
        None => Outcome::Incomplete(Some(len - tail.len())),
    }
}

/// How a line ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Crlf,
    Lf,
    /// The end of the input (unterminated mode only).
    Input,
}

/// One line: `buf[start..end]` is its content, `next` the start of the following line.
struct Line {
    start: usize,
    end: usize,
    next: usize,
    ending: Ending,
}

/// Which limit a line is held to.
#[derive(Clone, Copy)]
enum LineKind {
    Start,
    Header,
}

/// The start line and headers of a text message, being parsed.
struct Head<'a, 'l> {
    buf: &'a [u8],
    block_start: usize,
    limits: &'l Limits,
    at_end: bool,
    crlf: usize,
    lf: usize,
    /// Where each `Content-Length` line starts, in order.
    content_length_lines: Vec<usize>,
}

/// The parsed start line.
enum StartLine {
    Request { method: Method, uri: String },
    Response { status: StatusCode, reason: String },
}

impl<'a, 'l> Head<'a, 'l> {
    fn new(buf: &'a [u8], block_start: usize, limits: &'l Limits, at_end: bool) -> Self {
        Self {
            buf,
            block_start,
            limits,
            at_end,
            crlf: 0,
            lf: 0,
            content_length_lines: Vec::new(),
        }
    }

    fn parse(mut self) -> Result<Outcome<'a>, ParseError> {
        let Some(first) = self.line(self.block_start, LineKind::Start)? else {
            return Ok(Outcome::Incomplete(None));
        };
        let start = self.start_line(&first)?;
        let mut headers = Headers::new();
        let mut count = 0;
        let mut pos = first.next;
        let blank = loop {
            let Some(line) = self.line(pos, LineKind::Header)? else {
                return Ok(Outcome::Incomplete(None));
            };
            pos = line.next;
            if line.start == line.end {
                break line;
            }
            if count == self.limits.headers {
                return Err(ParseError::HeaderCount {
                    offset: line.start,
                    limit: self.limits.headers,
                });
            }
            count += 1;
            self.header_line(&line, &mut headers)?;
        };
        let terminated = blank.ending != Ending::Input;
        let body_len = self.content_length(&mut headers)?;
        if body_len > 0 && !terminated {
            return Err(ParseError::Truncated {
                offset: self.buf.len(),
            });
        }
        let body_end = blank.next.saturating_add(body_len);
        let Some(body) = self.buf.get(blank.next..body_end) else {
            return Ok(Outcome::Incomplete(Some(body_end - self.buf.len())));
        };
        let framing = Framing {
            line_ending: match (self.crlf, self.lf) {
                (0, _) => LineEnding::Lf,
                (_, 0) => LineEnding::Crlf,
                _ => LineEnding::Mixed,
            },
            terminated,
        };
        let body = body.to_vec();
        let message = match start {
            StartLine::Request { method, uri } => Message::Request(Request {
                method,
                uri,
                headers,
                body,
                framing,
            }),
            StartLine::Response { status, reason } => Message::Response(Response {
                status,
                reason,
                headers,
                body,
                framing,
            }),
        };
        Ok(Outcome::Complete(message, body_end))
    }

    /// The line starting at `start`, or `None` if its end has not arrived yet. Checks every
    /// byte as it goes, so limits and NULs are caught before the line is complete.
    fn line(&mut self, start: usize, kind: LineKind) -> Result<Option<Line>, ParseError> {
        let (max, too_long): (usize, fn(usize, usize) -> ParseError) = match kind {
            LineKind::Start => (self.limits.start_line, |offset, limit| {
                ParseError::StartLineLength { offset, limit }
            }),
            LineKind::Header => (self.limits.header_line, |offset, limit| {
                ParseError::HeaderLineLength { offset, limit }
            }),
        };
        let at_end = self.at_end;
        let done = |end, next, ending| {
            Some(Line {
                start,
                end,
                next,
                ending,
            })
        };
        let mut i = start;
        loop {
            let Some(&b) = self.buf.get(i) else {
                return Ok(if at_end {
                    done(i, i, Ending::Input)
                } else {
                    None
                });
            };
            match b {
                b'\n' => {
                    self.lf += 1;
                    return Ok(done(i, i + 1, Ending::Lf));
                }
                b'\r' => {
                    return match self.buf.get(i + 1) {
                        Some(b'\n') => {
                            self.crlf += 1;
                            Ok(done(i, i + 2, Ending::Crlf))
                        }
                        Some(_) => Err(ParseError::Syntax {
                            offset: i,
                            rule: "CRLF (bare CR)",
                        }),
                        None if at_end => Ok(done(i, i + 1, Ending::Input)),
                        None => Ok(None),
                    };
                }
                0 => return Err(ParseError::Nul { offset: i }),
                _ => {}
            }
            if i - start >= max {
                return Err(too_long(i, max));
            }
            if i - self.block_start >= self.limits.header_block {
                return Err(ParseError::HeaderBlockLength {
                    offset: i,
                    limit: self.limits.header_block,
                });
            }
            i += 1;
        }
    }

    /// The line's content as text: UTF-8 and free of control characters other than HT.
    fn text(&self, line: &Line, rule: &'static str) -> Result<&'a str, ParseError> {
        let bytes = self.buf.get(line.start..line.end).unwrap_or_default();
        let text = str::from_utf8(bytes).map_err(|e| ParseError::Utf8 {
            offset: line.start + e.valid_up_to(),
        })?;
        if let Some(i) = bytes
            .iter()
            .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(ParseError::Syntax {
                offset: line.start + i,
                rule,
            });
        }
        Ok(text)
    }

    fn start_line(&self, line: &Line) -> Result<StartLine, ParseError> {
        let is_response = self
            .buf
            .get(line.start..line.end)
            .is_some_and(|b| b.starts_with(b"RTSP/"));
        if is_response {
            let text = self.text(line, "status-line")?;
            status_line(text, line.start)
        } else {
            let text = self.text(line, "request-line")?;
            request_line(text, line.start, line.end)
        }
    }

    fn header_line(&mut self, line: &Line, headers: &mut Headers) -> Result<(), ParseError> {
        let text = self.text(line, "message-header")?;
        if text.starts_with([' ', '\t']) {
            // A folded continuation of the previous value (RFC 2616 §2.2 LWS).
            let Some(value) = headers.last_value_mut() else {
                return Err(ParseError::Syntax {
                    offset: line.start,
                    rule: "message-header > field-name",
                });
            };
            let more = trim_lws(text);
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(more);
            }
            return Ok(());
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(ParseError::MissingColon { offset: line.start });
        };
        let name = name.trim_end_matches([' ', '\t']);
        if !is_token(name) {
            let bad = name.bytes().position(|b| !super::grammar::is_token_byte(b));
            return Err(ParseError::Syntax {
                offset: line.start + bad.unwrap_or(0),
                rule: "message-header > field-name",
            });
        }
        if name.eq_ignore_ascii_case(ContentLength::NAME) {
            self.content_length_lines.push(line.start);
        }
        headers.append(name, trim_lws(value));
        Ok(())
    }

    /// Takes the `Content-Length` fields out of `headers` and checks them.
    fn content_length(&self, headers: &mut Headers) -> Result<usize, ParseError> {
        let mut length: Option<u64> = None;
        let mut offset = self.block_start;
        let lines = self.content_length_lines.iter();
        for (value, &line) in headers.get_all(ContentLength::NAME).zip(lines) {
            offset = line;
            let n = match ContentLength::parse(value) {
                Ok(ContentLength(n)) => n,
                Err(header::Error::OutOfRange { .. }) => u64::MAX,
                Err(_) => return Err(ParseError::ContentLength { offset }),
            };
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::ContentLength { offset });
            }
            length = Some(n);
        }
        headers.remove(ContentLength::NAME);
        let length = length.unwrap_or(0);
        match usize::try_from(length) {
            Ok(n) if n <= self.limits.body => Ok(n),
            _ => Err(ParseError::BodyLength {
                offset,
                length,
                limit: self.limits.body,
            }),
        }
    }
}

/// Splits a start line into fields separated by runs of SP/HT, with their offsets.
fn fields(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split([' ', '\t'])
        .filter(|f| !f.is_empty())
        .map(move |f| (f.as_ptr() as usize - text.as_ptr() as usize, f))
}

/// `Request-Line = Method SP Request-URI SP RTSP-Version` (§6.1).
fn request_line(text: &str, start: usize, end: usize) -> Result<StartLine, ParseError> {
    let mut fields = fields(text);
    let (Some((m_at, method)), uri, version) = (fields.next(), fields.next(), fields.next()) else {
        return Err(ParseError::Syntax {
            offset: start,
            rule: "request-line > Method",
        });
    };
    let method = Method::from_token(method).ok_or(ParseError::Syntax {
        offset: start + m_at,
        rule: "request-line > Method",
    })?;
    let (Some((_, uri)), Some((v_at, version))) = (uri, version) else {
        return Err(ParseError::Syntax {
            offset: end,
            rule: "request-line > RTSP-Version",
        });
    };
    check_version(version, start + v_at, "request-line > RTSP-Version")?;
    if let Some((extra_at, _)) = fields.next() {
        return Err(ParseError::Syntax {
            offset: start + extra_at,
            rule: "request-line",
        });
    }
    Ok(StartLine::Request {
        method,
        uri: uri.to_owned(),
    })
}

/// `Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase` (§7.1).
fn status_line(text: &str, start: usize) -> Result<StartLine, ParseError> {
    let version_end = text.find([' ', '\t']).unwrap_or(text.len());
    check_version(&text[..version_end], start, "status-line > RTSP-Version")?;
    let after = &text[version_end..];
    let code_text = after.trim_start_matches([' ', '\t']);
    let code_at = start + text.len() - code_text.len();
    let bad_code = ParseError::Syntax {
        offset: code_at,
        rule: "status-line > Status-Code",
    };
    if after.len() == code_text.len() {
        return Err(bad_code);
    }
    let (code, rest) = match code_text.as_bytes() {
        [a, b, c, rest @ ..]
            if [a, b, c].iter().all(|d| d.is_ascii_digit())
                && rest.first().is_none_or(|&s| is_lws(s)) =>
        {
            let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            (code, code_text.get(3..).unwrap_or_default())
        }
        _ => return Err(bad_code),
    };
    let status = StatusCode::new(code).ok_or(bad_code)?;
    // One SP (or HT) separates the code from the reason, which is kept as sent.
    let reason = rest.get(1..).unwrap_or_default();
    Ok(StartLine::Response {
        status,
        reason: reason.to_owned(),
    })
}

fn check_version(v: &str, offset: usize, rule: &'static str) -> Result<(), ParseError> {
    match version::check(v) {
        VersionCheck::Supported(_) => Ok(()),
        VersionCheck::Unsupported => Err(ParseError::Version {
            offset,
            found: v.to_owned(),
        }),
        VersionCheck::Malformed => Err(ParseError::Syntax { offset, rule }),
    }
}
