//! One RTSP control connection (RFC 2326 §10): the bytes that came in and are not yet parsed,
//! the bytes waiting to go out, and how to get back in step after a request that could not be
//! parsed.

use std::net::SocketAddr;
use std::time::Instant;

use hdstream_common::rtsp::Request;

/// Input and output of one connection.
#[derive(Debug)]
pub struct Connection {
    /// The peer.
    pub peer: SocketAddr,
    /// Received, not yet parsed.
    pub input: Vec<u8>,
    /// To send; `output[sent..]` is still pending.
    output: Vec<u8>,
    sent: usize,
    /// After a request that could not be parsed: drop its input ([`Connection::skip_bad_request`]).
    pub resync: bool,
    /// When the incomplete message at the front of `input` began arriving (slow-loris guard).
    pub partial_since: Option<Instant>,
    /// When input last arrived.
    pub last_input: Instant,
    /// Close once the output has gone (after a reply that ends the conversation).
    pub close_when_flushed: bool,
    /// Whether the input has been looked at as a quiet (unterminated) course request since it
    /// last grew.
    pub quiet_checked: bool,
    /// Whether it came over TLS (RTSPS): Basic credentials are accepted on it.
    pub tls: bool,
    /// A request waiting for the file it names to be opened (and that file's URL name): the
    /// connection's later input waits behind it ([`crate::core::Server::poll_open`]).
    pub parked: Option<(Request, String)>,
}

impl Connection {
    /// A new connection from `peer`.
    pub fn new(peer: SocketAddr, now: Instant) -> Connection {
        Connection {
            peer,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            resync: false,
            partial_since: None,
            last_input: now,
            close_when_flushed: false,
            quiet_checked: false,
            tls: false,
            parked: None,
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.output[self.sent..]
    }

    /// How many bytes wait to be written.
    pub fn queued(&self) -> usize {
        self.output.len() - self.sent
    }

    /// `n` bytes of [`pending`](Self::pending) were written.
    pub fn consume(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.output.len());
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
        } else if self.sent > 64 * 1024 && self.sent * 2 > self.output.len() {
            self.output.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Whether the buffered input may be a course request waiting for the connection to go
    /// quiet: not yet checked, LF-only (the course client never sends CR), and past its
    /// request line (the course client sends a whole request at once; a request line still
    /// arriving is just a slow client).
    pub fn awaits_quiet(&self) -> bool {
        !self.quiet_checked && self.input.contains(&b'\n') && !self.input.contains(&b'\r')
    }

    /// Queues bytes for the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// The output buffer, to append to.
    pub fn output_mut(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// While resynchronising after a request that could not be parsed, drops its input: through
    /// the next blank line, or up to the next line that starts a request (a client that sent
    /// one bad line, without the blank line that would end a request, is answered 400 and then
    /// heard again). True once back in step.
    pub fn skip_bad_request(&mut self) -> bool {
        match resync_point(&self.input) {
            Some(at) => {
                self.input.drain(..at);
                self.resync = false;
                true
            }
            None => {
                // Keep the last, incomplete line with the line end before it (it may yet turn
                // out blank, or a request line), no longer than a request line may be.
                let from = self.input.iter().rposition(|&b| b == b'\n').unwrap_or(0);
                let from = from.max(self.input.len().saturating_sub(MAX_LINE));
                self.input.drain(..from);
                false
            }
        }
    }
}

/// The longest request line looked for while resynchronising (the parser's default limit).
const MAX_LINE: usize = 4096;

/// Where input that begins with a bad request gets back in step: just past the first blank
/// line (`\n\n`, `\r\n\r\n` or a mix), or at the start of the first line that is a request
/// line. Lines are looked at from the second on (the first is the bad request's own) and only
/// when complete; `None` until one is found.
fn resync_point(buf: &[u8]) -> Option<usize> {
    let mut start = buf.iter().position(|&b| b == b'\n')? + 1;
    loop {
        let rest = buf.get(start..)?;
        let len = rest.iter().position(|&b| b == b'\n')?;
        let line = rest.get(..len)?;
        if line.is_empty() || line == b"\r" {
            return Some(start + len + 1);
        }
        if is_request_line(line) {
            return Some(start);
        }
        start += len + 1;
    }
}

/// Whether `line` has the shape of an RTSP request line, `Method SP Request-URI SP RTSP/x.y`
/// (RFC 2326 §6.1); the parser judges the rest.
fn is_request_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !method.is_empty()
        && method
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && !uri.is_empty()
        && version.starts_with(b"RTSP/")
}

/// A best-effort `CSeq` from a request that did not parse, so the error reply can carry it.
pub fn salvage_cseq(buf: &[u8]) -> Option<u32> {
    let head = &buf[..buf.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("cseq") {
            value.trim().parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resync_points_of_every_kind() {
        assert_eq!(resync_point(b"GARBAGE\r\n\r\nOPTIONS"), Some(11));
        assert_eq!(resync_point(b"x\n\ny"), Some(3));
        assert_eq!(resync_point(b"x\n\r\ny"), Some(4));
        assert_eq!(resync_point(b"x\r\ny\r\n"), None);
        assert_eq!(resync_point(b"HELLO\r\nOPTIONS * RTSP/1.0\r\n"), Some(7));
        assert_eq!(
            resync_point(b"HELLO\r\nOPTIONS * RTSP/1.0"),
            None,
            "wait for the whole line"
        );
        // The bad request's own first line never counts, nor do its header lines.
        assert_eq!(resync_point(b"OPTIONS * RTSP/1.0\r\nCSeq 5\r\n"), None);
        assert_eq!(resync_point(b"X\r\nCSeq: a b RTSP/1.0\r\n"), None);
    }

    #[test]
    fn resync_keeps_the_next_request() {
        let now = Instant::now();
        let mut c = Connection::new("127.0.0.1:1".parse().unwrap(), now);
        c.input
            .extend_from_slice(b"\x00\x01junk\r\n\r\nOPTIONS * RTSP/1.0\r\n");
        c.resync = true;
        assert!(c.skip_bad_request());
        assert_eq!(c.input, b"OPTIONS * RTSP/1.0\r\n");
    }

    #[test]
    fn resync_after_one_bad_line_arriving_in_pieces() {
        let mut c = Connection::new("127.0.0.1:1".parse().unwrap(), Instant::now());
        c.resync = true;
        for piece in [
            &b"HEL"[..],
            b"LO\r",
            b"\nOPTIONS * RT",
            b"SP/1.0\r\nCSeq: 2\r\n\r\n",
        ] {
            c.input.extend_from_slice(piece);
            if c.skip_bad_request() {
                break;
            }
        }
        assert!(!c.resync);
        assert_eq!(c.input, b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n");
        // A blank line split across reads is still found.
        c.resync = true;
        c.input = b"junk\r\n\r".to_vec();
        assert!(!c.skip_bad_request());
        c.input.extend_from_slice(b"\nOPTIONS");
        assert!(c.skip_bad_request());
        assert_eq!(c.input, b"OPTIONS");
        // Endless garbage without a line end is not kept.
        c.resync = true;
        c.input = vec![b'x'; 100_000];
        assert!(!c.skip_bad_request());
        assert!(c.input.len() <= MAX_LINE);
    }

    #[test]
    fn cseq_salvaged() {
        assert_eq!(salvage_cseq(b"FOO bar\r\ncseq:  7\r\n"), Some(7));
        assert_eq!(salvage_cseq(b"\xff\xfe"), None);
    }

    #[test]
    fn output_drains_in_pieces() {
        let mut c = Connection::new("127.0.0.1:1".parse().unwrap(), Instant::now());
        c.push(b"hello");
        c.consume(2);
        assert_eq!(c.pending(), b"llo");
        c.consume(3);
        assert_eq!(c.queued(), 0);
    }
}
