//! Server capacity: many light RTSP/RTP receivers at once (no decoding), counting every RTP
//! packet by sequence number; and the loopback UDP packet rate a plain sender reaches, to put
//! the capacity in proportion.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hdstream_common::rtp::{self, SequenceTracker};
use hdstream_common::rtsp::header::{
    CSeq, PortRange, Session, Transport, TransportParam, TransportSpec,
};
use hdstream_common::rtsp::{self, Message, Method, Parsed, Request, Response};
use hdstream_common::sdp::SessionDescription;
use socket2::{Domain, Protocol, Socket, Type};

/// What one receiver counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    /// Packets the sequence numbers say were sent (highest − first + 1).
    pub expected: u64,
    /// Packets received (duplicates not counted twice).
    pub received: u64,
    /// The receiver could not set up or play (the server refused or did not answer in time).
    pub failed: bool,
}

impl Count {
    /// Packets missing.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }
}

/// A blocking RTSP conversation, just enough for a load generator.
struct Rtsp {
    stream: TcpStream,
    buf: Vec<u8>,
    cseq: u32,
}

impl Rtsp {
    fn connect(addr: SocketAddr) -> Result<Rtsp> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Rtsp {
            stream,
            buf: Vec::new(),
            cseq: 0,
        })
    }

    fn request(&mut self, mut req: Request) -> Result<Response> {
        self.cseq += 1;
        req.headers.set_typed(&CSeq(self.cseq));
        self.stream.write_all(&req.to_bytes())?;
        let mut chunk = [0u8; 8192];
        loop {
            match rtsp::parse(&self.buf) {
                Ok(Parsed::Complete { message, consumed }) => {
                    let message = message.into_owned();
                    self.buf.drain(..consumed);
                    match message {
                        Message::Response(r) => {
                            if !r.status.is_success() {
                                bail!(
                                    "{} {}: {} {}",
                                    req.method.as_str(),
                                    req.uri,
                                    r.status.as_u16(),
                                    r.reason
                                );
                            }
                            return Ok(r);
                        }
                        _ => continue,
                    }
                }
                Ok(Parsed::Incomplete { .. }) => {}
                Err(e) => bail!("bad reply: {e}"),
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A UDP socket on 127.0.0.1 with a large receive buffer.
fn udp_socket() -> Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(8 << 20);
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    Ok(s.into())
}

/// Plays `url` over UDP for `seconds` without decoding, counting RTP packets.
pub fn receive(url: &str, seconds: f64) -> Result<Count> {
    let authority = url.strip_prefix("rtsp://").context("rtsp:// URL")?;
    let host = authority.split('/').next().unwrap_or(authority);
    let addr: SocketAddr = host
        .parse()
        .with_context(|| format!("{host} is not ip:port"))?;
    let mut rtsp = Rtsp::connect(addr)?;
    let mut describe = Request::new(Method::Describe, url);
    describe.headers.set("Accept", "application/sdp");
    let reply = rtsp.request(describe)?;
    let base = reply
        .headers
        .get("Content-Base")
        .map_or_else(|| format!("{url}/"), str::to_owned);
    let sdp = SessionDescription::parse(std::str::from_utf8(&reply.body)?)?;
    let media = sdp
        .jpeg_video()
        .ok_or_else(|| anyhow!("no JPEG video in the SDP"))?;
    let track = media.control_url(&base);
    let socket = udp_socket()?;
    let port = socket.local_addr()?.port();
    let mut setup = Request::new(Method::Setup, track);
    let spec = TransportSpec::rtp_avp(None)
        .with(TransportParam::Unicast)
        .with(TransportParam::ClientPort(PortRange {
            rtp: port,
            rtcp: Some(port.wrapping_add(1)),
        }));
    setup.headers.set_typed(&Transport(vec![spec]));
    let reply = rtsp.request(setup)?;
    let session = match reply.headers.typed::<Session>() {
        Some(Ok(s)) => s.id,
        _ => bail!("SETUP reply without a Session"),
    };
    let mut play = Request::new(Method::Play, sdp.aggregate_url(&base));
    play.headers.set_typed(&Session::new(session.clone()));
    rtsp.request(play)?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tracker = SequenceTracker::with_min_sequential(0);
    let mut buf = vec![0u8; 65_536];
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    while Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        if let Ok(p) = rtp::Packet::parse(&buf[..n]) {
            tracker.update(p.sequence_number());
        }
    }
    let mut teardown = Request::new(Method::Teardown, sdp.aggregate_url(&base));
    teardown.headers.set_typed(&Session::new(session));
    let _ = rtsp.request(teardown);
    let expected = tracker.expected();
    let received = tracker.received().saturating_sub(tracker.duplicates());
    Ok(Count {
        expected,
        received,
        failed: false,
    })
}

/// `n` receivers at once on `url` for `seconds`; one that cannot set up or play counts as
/// [`Count::failed`].
pub fn receivers(url: &str, n: usize, seconds: f64) -> Vec<Count> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || receive(&url, seconds))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| match h.join() {
            Ok(Ok(count)) => count,
            _ => Count {
                failed: true,
                ..Count::default()
            },
        })
        .collect()
}

/// Datagrams per second a plain sender gets through loopback to a plain receiver (both on
/// this machine, each on its own thread), with `size`-byte datagrams, over `seconds`.
pub fn plain_udp_rate(size: usize, seconds: f64) -> Result<f64> {
    let rx = udp_socket()?;
    let to = rx.local_addr()?;
    rx.set_read_timeout(Some(Duration::from_millis(200)))?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let stop = Instant::now() + Duration::from_secs_f64(seconds);
    let counter = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut count = 0u64;
        let start = Instant::now();
        let mut last = start;
        while let Ok(_n) = rx.recv(&mut buf) {
            count += 1;
            last = Instant::now();
        }
        (count, last.duration_since(start))
    });
    let payload = vec![0x5au8; size];
    while Instant::now() < stop {
        for _ in 0..64 {
            let _ = tx.send_to(&payload, to);
        }
    }
    let (count, span) = counter.join().map_err(|_| anyhow!("counter panicked"))?;
    Ok(count as f64 / span.as_secs_f64().max(1e-3))
}
