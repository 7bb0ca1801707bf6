//! RTSP on the wire: the well-behaved raw client ([`Rtsp`]), a UDP session's setup, and the
//! hostile-input probe ([`Probe`]) that tells a reply from a close from silence.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hdstream_common::rtsp::{self, Message, Parsed, Response};

use super::{REPLY_TIMEOUT, client_ports, udp_pair};

// ---------------------------------------------------------------- RTSP client

/// A well-formed RTSP request: `method url`, `CSeq: cseq`, `headers`, the blank line.
pub fn request_text(method: &str, url: &str, cseq: u32, headers: &[(&str, &str)]) -> String {
    let mut text = format!("{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// What one read of a connection until a deadline gave.
enum Got {
    /// Bytes, appended (or a signal interrupted the read: try again).
    More,
    /// The peer closed (or reset) the connection.
    Closed,
    /// Nothing before the deadline.
    Silent,
}

/// Reads what `stream` has into `buf`, waiting at most until `deadline`.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> Got {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Got::Silent;
    }
    stream
        .set_read_timeout(Some(left))
        .expect("set read timeout");
    let mut chunk = [0u8; 65536];
    match stream.read(&mut chunk) {
        Ok(0) => Got::Closed,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Got::More
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Got::Silent
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Got::More,
        Err(_) => Got::Closed,
    }
}

/// A raw RTSP client over one TCP connection: writes bytes, reads whole messages (replies and
/// interleaved data), never waits longer than its deadline.
#[derive(Debug)]
pub struct Rtsp {
    /// The connection.
    pub stream: TcpStream,
    buf: Vec<u8>,
    cseq: u32,
    /// Interleaved packets read while waiting for a reply: (channel, packet).
    pub data: Vec<(u8, Vec<u8>)>,
}

impl Rtsp {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Rtsp {
        let stream =
            TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to RTSP server");
        Rtsp::from_stream(stream)
    }

    /// A client on a connection made elsewhere (from another local address, say).
    pub fn from_stream(stream: TcpStream) -> Rtsp {
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(REPLY_TIMEOUT))
            .expect("set write timeout");
        Rtsp {
            stream,
            buf: Vec::new(),
            cseq: 0,
            data: Vec::new(),
        }
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to RTSP server");
    }

    /// The CSeq of the last request sent with [`Rtsp::request`].
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// Sends a well-formed request (next CSeq) and returns its reply.
    pub fn request(&mut self, method: &str, url: &str, headers: &[(&str, &str)]) -> Response {
        self.cseq += 1;
        let text = request_text(method, url, self.cseq, headers);
        self.send(text.as_bytes());
        let reply = self.response();
        assert_eq!(
            reply.headers.get("CSeq").map(str::trim),
            Some(self.cseq.to_string().as_str()),
            "reply to {method} {url} carries the request's CSeq"
        );
        reply
    }

    /// Like [`Rtsp::request`], but `None` when the server closes the connection or does not
    /// answer in time, instead of failing the test.
    pub fn try_request(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Option<Response> {
        self.cseq += 1;
        let text = request_text(method, url, self.cseq, headers);
        self.stream.write_all(text.as_bytes()).ok()?;
        match self.message(Instant::now() + REPLY_TIMEOUT)? {
            Message::Response(r) => Some(r),
            _ => None,
        }
    }

    /// The next reply (interleaved data before it is kept in [`Rtsp::data`]).
    pub fn response(&mut self) -> Response {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.message(deadline) {
                Some(Message::Response(r)) => return r,
                Some(Message::Data(d)) => self.data.push((d.channel, d.payload.into_owned())),
                Some(Message::Request(r)) => panic!("server sent a request: {r:?}"),
                None => panic!("no reply within {REPLY_TIMEOUT:?}"),
            }
        }
    }

    /// The next message, or `None` at `deadline` or when the server closes the connection.
    pub fn message(&mut self, deadline: Instant) -> Option<Message<'static>> {
        loop {
            match rtsp::parse(&self.buf) {
                Ok(Parsed::Complete { message, consumed }) => {
                    let message = message.into_owned();
                    self.buf.drain(..consumed);
                    return Some(message);
                }
                Ok(Parsed::Incomplete { .. }) => {}
                Err(e) => panic!(
                    "server sent something unparsable ({e}): {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
            match read_more(&mut self.stream, &mut self.buf, deadline) {
                Got::More => {}
                Got::Closed | Got::Silent => return None,
            }
        }
    }

    /// Reads raw bytes until `deadline` or until the connection has been quiet for `quiet`
    /// after the first byte (for replies with no terminating blank line).
    pub fn read_quiet(&mut self, deadline: Instant, quiet: Duration) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return out;
            }
            let wait = if out.is_empty() {
                deadline - now
            } else {
                quiet.min(deadline - now)
            };
            self.stream
                .set_read_timeout(Some(wait))
                .expect("set read timeout");
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    if !out.is_empty() {
                        return out;
                    }
                }
            }
        }
    }
}

/// The `Session` id of a reply (without `;timeout`).
pub fn session_id(reply: &Response) -> String {
    let value = reply
        .headers
        .get("Session")
        .expect("reply has a Session header");
    value.split(';').next().unwrap_or(value).trim().to_owned()
}

/// Waits (at most 10 s) until DESCRIBE of `url` on `addr` answers 200: a live path has its
/// publisher.
pub fn wait_live(addr: SocketAddr, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Rtsp::connect(addr)
        .request("DESCRIBE", url, &[])
        .status
        .as_u16()
        != 200
    {
        assert!(Instant::now() < deadline, "{url} never went live");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A session playing over UDP: its RTSP connection and id, its sockets, and where its RTP
/// starts (`RTP-Info`'s `seq` and `rtptime`, RFC 2326 §12.33).
pub struct UdpPlay {
    pub rtsp: Rtsp,
    pub id: String,
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub seq: u16,
    pub rtptime: u32,
}

/// SETUP (UDP unicast, a fresh port pair) and PLAY of `url` on a new connection to `addr`;
/// panics, naming `what`, unless both answer 200 and PLAY gives `RTP-Info` with seq and rtptime.
pub fn setup_and_play_udp(addr: SocketAddr, url: &str, what: &str) -> UdpPlay {
    use hdstream_common::rtsp::header::RtpInfo;
    let (rtp, rtcp) = udp_pair();
    let mut rtsp = Rtsp::connect(addr);
    let reply = rtsp.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[("Transport", &client_ports(&rtp))],
    );
    assert_eq!(reply.status.as_u16(), 200, "SETUP {what}");
    let id = session_id(&reply);
    let reply = rtsp.request("PLAY", url, &[("Session", &id)]);
    assert_eq!(reply.status.as_u16(), 200, "PLAY {what}");
    let info = reply
        .headers
        .typed::<RtpInfo>()
        .expect("RTP-Info")
        .expect("valid RTP-Info");
    UdpPlay {
        rtsp,
        id,
        rtp,
        rtcp,
        seq: info.0[0].seq.expect("seq="),
        rtptime: info.0[0].rtptime.expect("rtptime="),
    }
}

// ---------------------------------------------------------------- raw probe

/// What came back on a probe connection.
#[derive(Debug)]
pub enum Event {
    /// A whole RTSP reply.
    Reply(Response),
    /// An interleaved packet (RFC 2326 §10.12) on `channel`.
    Data {
        /// Its channel.
        channel: u8,
    },
    /// The server closed (or reset) the connection.
    Closed,
    /// Nothing within the wait.
    Silent,
    /// Bytes that are not an RTSP message.
    Garbage(String),
}

/// A raw RTSP connection for hostile bytes: sends anything, reads back one [`Event`] at a time.
#[derive(Debug)]
pub struct Probe {
    /// The connection.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Probe {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Probe {
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Probe::wrap(stream)
    }

    /// A probe on a connection opened elsewhere.
    pub fn wrap(stream: TcpStream) -> Probe {
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(REPLY_TIMEOUT))
            .expect("write timeout");
        Probe {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes `bytes`; an error means the server closed the connection.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next event, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Event {
        let deadline = Instant::now() + wait;
        loop {
            match rtsp::parse(&self.buf) {
                Ok(Parsed::Complete { message, consumed }) => {
                    let event = match message.into_owned() {
                        Message::Response(r) => Event::Reply(r),
                        Message::Data(d) => Event::Data { channel: d.channel },
                        Message::Request(r) => {
                            Event::Garbage(format!("a request from the server: {r:?}"))
                        }
                    };
                    self.buf.drain(..consumed);
                    return event;
                }
                Ok(Parsed::Incomplete { .. }) => {}
                Err(e) => {
                    return Event::Garbage(format!(
                        "{e}: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ));
                }
            }
            match read_more(&mut self.stream, &mut self.buf, deadline) {
                Got::More => {}
                Got::Closed => return Event::Closed,
                Got::Silent => return Event::Silent,
            }
        }
    }

    /// The next reply, skipping interleaved packets; a description of anything else.
    pub fn reply(&mut self, wait: Duration) -> Result<Response, String> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Event::Reply(r) => return Ok(r),
                Event::Data { .. } => {}
                other => return Err(format!("expected a reply, got {}", describe(&other))),
            }
        }
    }

    /// Sends a well-formed request with `cseq` and returns its reply, checking the CSeq echo.
    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        cseq: u32,
        headers: &[(&str, &str)],
    ) -> Result<Response, String> {
        let text = request_text(method, url, cseq, headers);
        self.send(text.as_bytes())
            .map_err(|e| format!("{method}: write failed: {e}"))?;
        let reply = self.reply(REPLY_TIMEOUT)?;
        check_cseq(&reply, cseq)?;
        Ok(reply)
    }

    /// The connection still serves: `OPTIONS *` (CSeq 4242) answered 200.
    pub fn alive(&mut self) -> Result<(), String> {
        let reply = self
            .request("OPTIONS", "*", 4242, &[])
            .map_err(|e| format!("connection no longer serves: {e}"))?;
        expect_status(&reply, 200).map_err(|e| format!("follow-up OPTIONS: {e}"))
    }

    /// Waits up to `wait` for the server to close the connection, skipping replies and data;
    /// the replies seen.
    pub fn closed_within(&mut self, wait: Duration) -> Result<Vec<u16>, String> {
        let deadline = Instant::now() + wait;
        let mut replies = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Event::Closed => return Ok(replies),
                Event::Reply(r) => replies.push(r.status.as_u16()),
                Event::Data { .. } => {}
                Event::Silent => {
                    return Err(format!("still open after {wait:?} (replies {replies:?})"));
                }
                Event::Garbage(g) => return Err(format!("garbage from the server: {g}")),
            }
        }
    }

    /// Resets the connection (SO_LINGER 0: RST instead of FIN) when dropped.
    pub fn reset(self) {
        let socket = socket2::SockRef::from(&self.stream);
        socket
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
        drop(self);
    }
}

/// A short description of an event, for failure messages.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Reply(r) => format!(
            "reply {} ({})",
            r.status.as_u16(),
            String::from_utf8_lossy(&r.body).trim()
        ),
        Event::Data { channel } => format!("interleaved data on channel {channel}"),
        Event::Closed => "connection closed".into(),
        Event::Silent => "no reply".into(),
        Event::Garbage(g) => format!("garbage: {g}"),
    }
}

/// `reply` has status `code`.
pub fn expect_status(reply: &Response, code: u16) -> Result<(), String> {
    let got = reply.status.as_u16();
    if got == code {
        Ok(())
    } else {
        Err(format!(
            "status {got} ({}), expected {code}",
            String::from_utf8_lossy(&reply.body).trim()
        ))
    }
}

/// `reply` echoes `cseq` (RFC 2326 §12.17).
pub fn check_cseq(reply: &Response, cseq: u32) -> Result<(), String> {
    let got = reply.headers.get("CSeq").map(str::trim);
    if got == Some(cseq.to_string().as_str()) {
        Ok(())
    } else {
        Err(format!("CSeq {got:?} in the reply, expected {cseq}"))
    }
}
