//! Requests, responses and interleaved binary data, RFC 2326 §4, §6, §7 and §10.12, and
//! their serialization.

use std::borrow::Cow;

use super::header::{CSeq, ContentLength, Header, Session};
use super::{Headers, Method, StatusCode, Version};

/// The line endings a message arrived with. RFC 2326 §4 wants CRLF; bare LF is accepted too
/// (the course client sends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// Every line ended in CRLF.
    #[default]
    Crlf,
    /// No line ended in CRLF: bare LF, or (unterminated) no line end at all.
    Lf,
    /// Some lines CRLF, some bare LF.
    Mixed,
}

/// How a message was framed on the wire; the parser fills it in, the serializer ignores it
/// (it always writes CRLF and the blank line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Framing {
    /// The line endings used.
    pub line_ending: LineEnding,
    /// Whether the header block ended with the blank line of RFC 2326 §4; `false` for a
    /// message taken from [`parse_unterminated`](super::parse_unterminated).
    pub terminated: bool,
}

impl Default for Framing {
    fn default() -> Self {
        Self {
            line_ending: LineEnding::Crlf,
            terminated: true,
        }
    }
}

/// A request (RFC 2326 §6):
///
/// ```text
/// Request-Line = Method SP Request-URI SP RTSP-Version CRLF
/// *( message-header CRLF )
/// CRLF
/// [ message-body ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// `Request-URI` as sent: an absolute `rtsp://` URL, `*`, or (course dialect) a bare file
    /// name such as `movie.Mjpeg`. Must not contain white space.
    pub uri: String,
    /// Header fields, without `Content-Length` (the parser uses it for the body and drops it;
    /// the serializer writes it from the body).
    pub headers: Headers,
    /// The message body, often empty.
    pub body: Vec<u8>,
    /// How the request arrived.
    pub framing: Framing,
}

/// A response (RFC 2326 §7):
///
/// ```text
/// Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase CRLF
/// *( message-header CRLF )
/// CRLF
/// [ message-body ]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as sent (may be empty).
    pub reason: String,
    /// Header fields, without `Content-Length` (see [`Request::headers`]).
    pub headers: Headers,
    /// The message body, e.g. the SDP of a DESCRIBE reply.
    pub body: Vec<u8>,
    /// How the response arrived.
    pub framing: Framing,
}

/// Interleaved binary data (RFC 2326 §10.12) on the RTSP connection:
///
/// ```text
///  0               1               2               3
/// +---------------+---------------+-------------------------------+
/// |  '$' (0x24)   |    channel    |   length (big-endian u16)     |
/// +---------------+---------------+-------------------------------+
/// |  length bytes of data: one RTP or RTCP packet ...
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data<'a> {
    /// The channel, as chosen by `Transport: ...;interleaved=a-b`.
    pub channel: u8,
    /// The packet; borrowed from the parser's input (it occupies the last `payload.len()`
    /// bytes of the consumed range), or owned after [`Message::into_owned`].
    pub payload: Cow<'a, [u8]>,
}

/// One unit on an RTSP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
    /// An interleaved binary packet.
    Data(Data<'a>),
}

/// Interleaved data longer than the 16-bit length field can frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interleaved payload of {0} bytes exceeds the 65535-byte maximum (RFC 2326 §10.12)")]
pub struct PayloadLength(pub usize);

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            headers: Headers::new(),
            body: Vec::new(),
            framing: Framing::default(),
        }
    }

    /// The typed `CSeq`, if present.
    pub fn cseq(&self) -> Option<Result<CSeq, super::header::Error>> {
        self.headers.typed()
    }

    /// The typed `Session`, if present.
    pub fn session(&self) -> Option<Result<Session, super::header::Error>> {
        self.headers.typed()
    }

    /// Whether the Request-URI is neither `*` nor an absolute URL (`scheme://...`): the course
    /// client sends just the file name.
    pub fn is_bare_url(&self) -> bool {
        self.uri != "*" && !self.uri.contains("://")
    }

    /// Whether the request looks like it came from the course's Python client: a bare file
    /// name for the URL and no CRLF line endings. A server answers such a request with
    /// [`course::reply`](super::course::reply).
    pub fn is_course_dialect(&self) -> bool {
        self.is_bare_url() && self.framing.line_ending == LineEnding::Lf
    }

    /// The bytes on the wire: CRLF line ends, `Content-Length` from the body when it is not
    /// empty, the blank line, the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        self.write_to(&mut out);
        out
    }

    /// Appends [`to_bytes`](Self::to_bytes) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        write_text(out, self.method.as_str());
        out.push(b' ');
        write_text(out, &self.uri);
        out.push(b' ');
        out.extend_from_slice(Version::V1_0.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        write_rest(out, &self.headers, &self.body);
    }
}

impl Response {
    /// A response with the RFC reason phrase, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            reason: status.canonical_reason().to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
            framing: Framing::default(),
        }
    }

    /// A response carrying the request's `CSeq` (RFC 2326 §12.17: every reply must), if it had
    /// a readable one.
    pub fn reply_to(request: &Request, status: StatusCode) -> Self {
        let mut response = Self::new(status);
        if let Some(Ok(cseq)) = request.cseq() {
            response.headers.set_typed(&cseq);
        }
        response
    }

    /// The typed `CSeq`, if present.
    pub fn cseq(&self) -> Option<Result<CSeq, super::header::Error>> {
        self.headers.typed()
    }

    /// The typed `Session`, if present.
    pub fn session(&self) -> Option<Result<Session, super::header::Error>> {
        self.headers.typed()
    }

    /// Whether the response looks like the course's Python server wrote it: bare LF line
    /// endings and no blank line at the end.
    pub fn is_course_dialect(&self) -> bool {
        self.framing.line_ending == LineEnding::Lf && !self.framing.terminated
    }

    /// The bytes on the wire (see [`Request::to_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        self.write_to(&mut out);
        out
    }

    /// Appends [`to_bytes`](Self::to_bytes) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Version::V1_0.as_str().as_bytes());
        out.extend_from_slice(format!(" {} ", self.status.as_u16()).as_bytes());
        write_text(out, &self.reason);
        out.extend_from_slice(b"\r\n");
        write_rest(out, &self.headers, &self.body);
    }
}

impl Data<'_> {
    /// The 4-byte `$` header for a payload of `len` bytes on `channel`.
    pub fn header(channel: u8, len: usize) -> Result<[u8; 4], PayloadLength> {
        let len16 = u16::try_from(len).map_err(|_| PayloadLength(len))?;
        let [hi, lo] = len16.to_be_bytes();
        Ok([b'$', channel, hi, lo])
    }

    /// Appends the framed packet to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadLength> {
        out.extend_from_slice(&Self::header(self.channel, self.payload.len())?);
        out.extend_from_slice(&self.payload);
        Ok(())
    }
}

impl Message<'_> {
    /// Appends the message's bytes to `out`; fails only for over-long interleaved data.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), PayloadLength> {
        match self {
            Self::Request(r) => r.write_to(out),
            Self::Response(r) => r.write_to(out),
            Self::Data(d) => d.write_to(out)?,
        }
        Ok(())
    }

    /// The message with any borrowed payload copied, so it can outlive the input buffer.
    pub fn into_owned(self) -> Message<'static> {
        match self {
            Self::Request(r) => Message::Request(r),
            Self::Response(r) => Message::Response(r),
            Self::Data(d) => Message::Data(Data {
                channel: d.channel,
                payload: Cow::Owned(d.payload.into_owned()),
            }),
        }
    }
}

/// Writes `s`, replacing CR, LF and NUL (which would break the framing) with spaces.
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().map(|b| match b {
        b'\r' | b'\n' | 0 => b' ',
        b => b,
    }));
}

/// Headers (all but `Content-Length`), `Content-Length` if there is a body, the blank line and
/// the body.
fn write_rest(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(ContentLength::NAME) {
            continue;
        }
        write_text(out, name);
        out.extend_from_slice(b": ");
        write_text(out, value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() {
        out.extend_from_slice(format!("{}: {}\r\n", ContentLength::NAME, body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_serializes_with_crlf_and_content_length() {
        let mut req = Request::new(Method::SetParameter, "rtsp://h/x");
        req.headers.append("CSeq", "5");
        req.headers.append("Content-Length", "999");
        req.headers.append("Content-Type", "text/parameters");
        req.body = b"barparam: barstuff\r\n".to_vec();
        assert_eq!(
            req.to_bytes(),
            b"SET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 5\r\nContent-Type: text/parameters\r\n\
              Content-Length: 20\r\n\r\nbarparam: barstuff\r\n"
        );
    }

    #[test]
    fn a_response_without_body_has_no_content_length() {
        let mut req = Request::new(Method::Options, "*");
        req.headers.set_typed(&CSeq(9));
        let mut resp = Response::reply_to(&req, StatusCode::NOT_IMPLEMENTED);
        resp.headers.append("X-Evil", "a\r\nInjected: 1");
        assert_eq!(
            String::from_utf8(resp.to_bytes()).unwrap(),
            "RTSP/1.0 501 Not Implemented\r\nCSeq: 9\r\nX-Evil: a  Injected: 1\r\n\r\n"
        );
    }

    #[test]
    fn interleaved_data_is_dollar_framed_and_length_checked() {
        let data = Data {
            channel: 1,
            payload: Cow::Borrowed(&[0x80, 0x60][..]),
        };
        let mut out = Vec::new();
        data.write_to(&mut out).unwrap();
        assert_eq!(out, [b'$', 1, 0, 2, 0x80, 0x60]);
        assert_eq!(Data::header(0, 65536), Err(PayloadLength(65536)));
        assert_eq!(Data::header(0, 65535), Ok([b'$', 0, 0xff, 0xff]));
    }

    #[test]
    fn bare_urls_and_dialects() {
        let mut req = Request::new(Method::Setup, "movie.Mjpeg");
        assert!(req.is_bare_url());
        assert!(!req.is_course_dialect(), "CRLF by default");
        req.framing.line_ending = LineEnding::Lf;
        assert!(req.is_course_dialect());
        assert!(!Request::new(Method::Options, "*").is_bare_url());
        assert!(!Request::new(Method::Play, "rtsp://h/movie.Mjpeg").is_bare_url());
    }
}
