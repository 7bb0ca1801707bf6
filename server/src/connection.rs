//! One RTSP control connection (RFC 2326 §10): the bytes that came in and are not yet parsed,
//! the bytes waiting to go out, and how to get back in step after a request that could not be
//! parsed.

use std::net::SocketAddr;
use std::time::Instant;

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
    /// After a request that could not be parsed: drop input up to the next blank line.
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
    /// quiet: not yet checked, and LF-only (the course client never sends CR).
    pub fn awaits_quiet(&self) -> bool {
        !self.quiet_checked && !self.input.is_empty() && !self.input.contains(&b'\r')
    }

    /// Queues bytes for the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.output.extend_from_slice(bytes);
    }

    /// The output buffer, to append to.
    pub fn output_mut(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// While resynchronising, drops input through the next blank line; true once back in step.
    pub fn skip_to_blank_line(&mut self) -> bool {
        let end = find_blank_line(&self.input);
        match end {
            Some(end) => {
                self.input.drain(..end);
                self.resync = false;
                true
            }
            None => {
                // Keep a possible partial "\r\n\r" for the next read.
                let keep = self.input.len().min(3);
                self.input.drain(..self.input.len() - keep);
                false
            }
        }
    }
}

/// The offset just past the first blank line (`\n\n`, `\r\n\r\n` or a mix) in `buf`.
fn find_blank_line(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(pos) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let after = i + pos + 1;
        match buf.get(after..) {
            Some([b'\n', ..]) => return Some(after + 1),
            Some([b'\r', b'\n', ..]) => return Some(after + 2),
            _ => i = after,
        }
    }
    None
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
    fn blank_lines_of_every_kind() {
        assert_eq!(find_blank_line(b"GARBAGE\r\n\r\nOPTIONS"), Some(11));
        assert_eq!(find_blank_line(b"x\n\ny"), Some(3));
        assert_eq!(find_blank_line(b"x\n\r\ny"), Some(4));
        assert_eq!(find_blank_line(b"x\r\ny\r\n"), None);
    }

    #[test]
    fn resync_keeps_the_next_request() {
        let now = Instant::now();
        let mut c = Connection::new("127.0.0.1:1".parse().unwrap(), now);
        c.input
            .extend_from_slice(b"\x00\x01junk\r\n\r\nOPTIONS * RTSP/1.0\r\n");
        c.resync = true;
        assert!(c.skip_to_blank_line());
        assert_eq!(c.input, b"OPTIONS * RTSP/1.0\r\n");
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
