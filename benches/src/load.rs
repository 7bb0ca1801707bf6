//! Server capacity: many light RTSP/RTP receivers at once (no decoding), counting every RTP
//! packet by sequence number; and the loopback UDP packet rate a plain sender reaches, to put
//! the capacity in proportion. The live benchmark's receive-only viewers ([`watch`]) count
//! complete frames too (RFC 2435 fragments up to the marker bit), over UDP or TCP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hdstream_common::rfc2435::header::MainHeader;
use hdstream_common::rtp::{self, SequenceTracker};
use hdstream_common::rtsp::header::{
    CSeq, ChannelRange, LowerTransport, PortRange, Session, Transport, TransportParam,
    TransportSpec,
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

/// A UDP socket on 127.0.0.1 (`port` 0: any) with a large receive buffer.
fn udp_socket_on(port: u16) -> Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(8 << 20);
    s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())?;
    Ok(s.into())
}

/// A UDP socket on 127.0.0.1 with a large receive buffer.
fn udp_socket() -> Result<UdpSocket> {
    udp_socket_on(0)
}

/// An RTP socket on an even port and the RTCP socket on the next (RFC 3550 §11): both held, so
/// that no other receiver's RTP socket sits on the port the server sends this one's RTCP to
/// (sender reports taken for RTP would confuse that receiver's counts).
fn udp_pair() -> Result<(UdpSocket, UdpSocket)> {
    for _ in 0..100 {
        let rtp = udp_socket()?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = udp_socket_on(port + 1) {
            return Ok((rtp, rtcp));
        }
    }
    bail!("no free even/odd UDP port pair on 127.0.0.1")
}

/// `ip:port` of an `rtsp://` URL.
fn address(url: &str) -> Result<SocketAddr> {
    let authority = url.strip_prefix("rtsp://").context("rtsp:// URL")?;
    let host = authority.split('/').next().unwrap_or(authority);
    host.parse()
        .with_context(|| format!("{host} is not ip:port"))
}

/// RTP payload type of JPEG (RFC 3551 §6).
const JPEG: u8 = 26;

/// Where a playing viewer's RTP comes from.
enum Media {
    /// Datagrams on `rtp`; `_rtcp` holds the RTCP port (unread).
    Udp { rtp: UdpSocket, _rtcp: UdpSocket },
    /// Interleaved on the RTSP connection, on this channel.
    Tcp(u8),
}

/// A viewer that has set up and played: its RTSP conversation and its RTP.
struct Playing {
    rtsp: Rtsp,
    session: String,
    aggregate: String,
    media: Media,
}

/// DESCRIBE, SETUP (`transport`) and PLAY of `url`.
fn play(url: &str, transport: crate::peers::Transport) -> Result<Playing> {
    let mut rtsp = Rtsp::connect(address(url)?)?;
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
    let mut setup = Request::new(Method::Setup, track);
    let (spec, socket) = match transport {
        crate::peers::Transport::Udp => {
            let socket = udp_pair()?;
            let port = socket.0.local_addr()?.port();
            let spec = TransportSpec::rtp_avp(None)
                .with(TransportParam::Unicast)
                .with(TransportParam::ClientPort(PortRange {
                    rtp: port,
                    rtcp: Some(port.wrapping_add(1)),
                }));
            (spec, Some(socket))
        }
        crate::peers::Transport::Tcp => {
            let spec = TransportSpec::rtp_avp(Some(LowerTransport::Tcp))
                .with(TransportParam::Unicast)
                .with(TransportParam::Interleaved(ChannelRange {
                    rtp: 0,
                    rtcp: Some(1),
                }));
            (spec, None)
        }
    };
    setup.headers.set_typed(&Transport(vec![spec]));
    let reply = rtsp.request(setup)?;
    let session = match reply.headers.typed::<Session>() {
        Some(Ok(s)) => s.id,
        _ => bail!("SETUP reply without a Session"),
    };
    let media = match socket {
        Some((rtp, rtcp)) => Media::Udp { rtp, _rtcp: rtcp },
        None => {
            let channel = reply
                .headers
                .typed::<Transport>()
                .and_then(Result::ok)
                .and_then(|t| t.0.first().and_then(TransportSpec::interleaved))
                .map_or(0, |c| c.rtp);
            Media::Tcp(channel)
        }
    };
    let aggregate = sdp.aggregate_url(&base);
    let mut play = Request::new(Method::Play, aggregate.clone());
    play.headers.set_typed(&Session::new(session.clone()));
    rtsp.request(play)?;
    Ok(Playing {
        rtsp,
        session,
        aggregate,
        media,
    })
}

impl Playing {
    /// Hands every RTP/JPEG packet of the stream's source (the first SSRC seen) that arrives
    /// before `deadline` to `on_packet`.
    fn receive(&mut self, deadline: Instant, mut on_packet: impl FnMut(&rtp::Packet<'_>)) {
        let mut buf = vec![0u8; 65_536];
        let mut source = None;
        let mut on_packet = |p: &rtp::Packet<'_>| {
            if p.payload_type() == JPEG && *source.get_or_insert(p.ssrc()) == p.ssrc() {
                on_packet(p);
            }
        };
        match &self.media {
            Media::Udp { rtp: socket, .. } => {
                let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
                while Instant::now() < deadline {
                    let Ok(n) = socket.recv(&mut buf) else {
                        continue;
                    };
                    if let Ok(p) = rtp::Packet::parse(&buf[..n]) {
                        on_packet(&p);
                    }
                }
            }
            &Media::Tcp(channel) => {
                let stream = &mut self.rtsp.stream;
                let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                let pending = &mut self.rtsp.buf;
                while Instant::now() < deadline {
                    let mut used = 0;
                    while let Ok(Parsed::Complete { message, consumed }) =
                        rtsp::parse(&pending[used..])
                    {
                        used += consumed;
                        if let Message::Data(data) = message
                            && data.channel == channel
                            && let Ok(p) = rtp::Packet::parse(&data.payload)
                        {
                            on_packet(&p);
                        }
                    }
                    pending.drain(..used);
                    match stream.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                        Err(_) => {}
                    }
                }
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            }
        }
    }

    /// TEARDOWN (its answer is not waited for over TCP, where media may still be queued).
    fn teardown(mut self) {
        let mut teardown = Request::new(Method::Teardown, self.aggregate.clone());
        teardown
            .headers
            .set_typed(&Session::new(self.session.clone()));
        match self.media {
            Media::Udp { .. } => {
                let _ = self.rtsp.request(teardown);
            }
            Media::Tcp(_) => {
                self.rtsp.cseq += 1;
                teardown.headers.set_typed(&CSeq(self.rtsp.cseq));
                let _ = self.rtsp.stream.write_all(&teardown.to_bytes());
            }
        }
    }
}

/// Plays `url` over UDP for `seconds` without decoding, counting RTP packets.
pub fn receive(url: &str, seconds: f64) -> Result<Count> {
    let mut playing = play(url, crate::peers::Transport::Udp)?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tracker = SequenceTracker::with_min_sequential(0);
    playing.receive(deadline, |p| {
        tracker.update(p.sequence_number());
    });
    playing.teardown();
    let expected = tracker.expected();
    let received = tracker.received().saturating_sub(tracker.duplicates());
    Ok(Count {
        expected,
        received,
        failed: false,
    })
}

/// What a receive-only viewer of a live stream counted: packets by sequence number, and
/// frames by their RFC 2435 fragments (offset 0 to the RTP marker bit).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Frames {
    /// Packets, by sequence number.
    pub packets: Count,
    /// Frames whose every packet arrived: the fragment at offset 0, then every sequence number
    /// up to the one with the marker bit.
    pub complete: u64,
    /// Frames of which some packets arrived, but not all.
    pub damaged: u64,
    /// Frames due in the window: those the RTP timestamps say were sent from the first frame
    /// seen to the last (a frame the server skipped for this viewer leaves a gap in the
    /// timestamps), and at least the window's length times the frame rate less two (the frame
    /// joined at and the one in flight at the end), so that a stream that starts late or
    /// stops early counts as missing frames too.
    pub due: u64,
    /// Seconds from PLAY's reply to the end of counting.
    pub window_s: f64,
    /// The first packet was not a frame's first fragment (that frame is not counted).
    pub joined_mid_frame: bool,
    /// Seconds from PLAY's reply to the first frame seen whole or in part.
    pub first_frame_s: Option<f64>,
    /// Seconds from PLAY's reply to the last frame seen.
    pub last_frame_s: Option<f64>,
}

impl Frames {
    /// Complete frames as a percentage of the frames due.
    pub fn received_pct(&self) -> f64 {
        if self.due == 0 {
            0.0
        } else {
            100.0 * self.complete as f64 / self.due as f64
        }
    }
}

/// Counts frames from RTP/JPEG packets in arrival order ([`Frames`]).
#[derive(Debug, Clone)]
pub struct FrameCounter {
    /// RTP clock ticks between frames.
    step: f64,
    /// The frame being received: its timestamp, and whether every packet so far arrived.
    current: Option<(u32, bool)>,
    last_seq: Option<u16>,
    first_ts: Option<u32>,
    last_ts: Option<u32>,
    complete: u64,
    damaged: u64,
    started: bool,
    joined_mid_frame: bool,
    /// When the first and the last frame ended, seconds from the counter's start.
    first_at: Option<f64>,
    last_at: Option<f64>,
    /// The current packet's arrival, seconds from the counter's start.
    now: f64,
}

impl FrameCounter {
    /// A counter for a stream of `fps` frames per second (90 kHz RTP clock).
    pub fn new(fps: f64) -> FrameCounter {
        FrameCounter {
            step: 90_000.0 / fps.max(1.0),
            current: None,
            last_seq: None,
            first_ts: None,
            last_ts: None,
            complete: 0,
            damaged: 0,
            started: false,
            joined_mid_frame: false,
            first_at: None,
            last_at: None,
            now: 0.0,
        }
    }

    /// [`FrameCounter::packet`], arriving `at` seconds after the counting began.
    pub fn packet_at(
        &mut self,
        at: f64,
        seq: u16,
        timestamp: u32,
        marker: bool,
        offset: Option<u32>,
    ) {
        self.now = at;
        self.packet(seq, timestamp, marker, offset);
    }

    /// One packet: its sequence number, timestamp, marker bit and RFC 2435 fragment offset
    /// (`None` when the payload has no RFC 2435 header).
    pub fn packet(&mut self, seq: u16, timestamp: u32, marker: bool, offset: Option<u32>) {
        if let Some(last) = self.last_seq
            && rtp::sequence_delta(seq, last) <= 0
        {
            return; // late or duplicated: loopback does not reorder, so leave it out
        }
        let contiguous = self.last_seq.is_none_or(|l| seq == l.wrapping_add(1));
        self.last_seq = Some(seq);
        if !self.started {
            if offset != Some(0) {
                self.joined_mid_frame = true;
                return;
            }
            self.started = true;
        }
        match &mut self.current {
            Some((ts, intact)) if *ts == timestamp => *intact &= contiguous,
            _ => {
                if let Some((ts, _)) = self.current.take() {
                    self.close(ts, false); // its marker never came
                }
                self.current = Some((timestamp, offset == Some(0)));
            }
        }
        if marker && let Some((ts, intact)) = self.current.take() {
            self.close(ts, intact);
        }
    }

    fn close(&mut self, timestamp: u32, intact: bool) {
        self.first_ts.get_or_insert(timestamp);
        self.last_ts = Some(timestamp);
        self.first_at.get_or_insert(self.now);
        self.last_at = Some(self.now);
        if intact {
            self.complete += 1;
        } else {
            self.damaged += 1;
        }
    }

    /// The counts after a window of `window_s` seconds; the frame still arriving is left out.
    pub fn finish(&self, window_s: f64, fps: f64) -> Frames {
        let spanned = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => (f64::from(b.wrapping_sub(a)) / self.step).round() as u64 + 1,
            _ => 0,
        };
        let by_clock = ((window_s * fps).floor() as u64).saturating_sub(2);
        Frames {
            packets: Count::default(),
            complete: self.complete,
            damaged: self.damaged,
            due: spanned.max(by_clock),
            window_s,
            joined_mid_frame: self.joined_mid_frame,
            first_frame_s: self.first_at,
            last_frame_s: self.last_at,
        }
    }
}

/// Plays the live `url` over `transport` for `seconds` without decoding, counting packets by
/// sequence number and frames by marker bits ([`Frames`]); `fps` is the publisher's rate.
pub fn watch(
    url: &str,
    transport: crate::peers::Transport,
    seconds: f64,
    fps: f64,
) -> Result<Frames> {
    let mut playing = play(url, transport)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tracker = SequenceTracker::with_min_sequential(0);
    let mut frames = FrameCounter::new(fps);
    playing.receive(deadline, |p| {
        tracker.update(p.sequence_number());
        let offset = MainHeader::parse(p.payload())
            .ok()
            .map(|(h, _)| h.fragment_offset);
        frames.packet_at(
            started.elapsed().as_secs_f64(),
            p.sequence_number(),
            p.timestamp(),
            p.marker(),
            offset,
        );
    });
    let window = started.elapsed().as_secs_f64();
    playing.teardown();
    let mut counted = frames.finish(window.min(seconds), fps);
    counted.packets = Count {
        expected: tracker.expected(),
        received: tracker.received().saturating_sub(tracker.duplicates()),
        failed: false,
    };
    Ok(counted)
}

/// `n` receive-only viewers of the live `url` at once ([`watch`]); one that cannot set up or
/// play counts as failed (`packets.failed`).
pub fn watchers(
    url: &str,
    n: usize,
    transport: crate::peers::Transport,
    seconds: f64,
    fps: f64,
) -> Vec<Frames> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || watch(&url, transport, seconds, fps))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| match h.join() {
            Ok(Ok(frames)) => frames,
            Ok(Err(e)) => {
                eprintln!("a receive-only viewer failed: {e:#}");
                Frames {
                    packets: Count {
                        failed: true,
                        ..Count::default()
                    },
                    ..Frames::default()
                }
            }
            Err(_) => Frames {
                packets: Count {
                    failed: true,
                    ..Count::default()
                },
                ..Frames::default()
            },
        })
        .collect()
}

/// Waits until `url` answers DESCRIBE with success (a live path once its publisher has
/// announced), or `timeout` passes.
pub fn wait_live(url: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = anyhow!("no answer");
    while Instant::now() < deadline {
        let attempt = (|| -> Result<()> {
            let mut rtsp = Rtsp::connect(address(url)?)?;
            let mut describe = Request::new(Method::Describe, url);
            describe.headers.set("Accept", "application/sdp");
            rtsp.request(describe)?;
            Ok(())
        })();
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(last.context(format!("{url} did not go live within {timeout:?}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame `n` of `packets` packets, 3000 ticks apart, sequence numbers from `seq`.
    fn frame(counter: &mut FrameCounter, seq: &mut u16, n: u32, packets: u32, drop: Option<u32>) {
        for i in 0..packets {
            if drop != Some(i) {
                let offset = i * 1000;
                counter.packet(*seq, 1000 + n * 3000, i + 1 == packets, Some(offset));
            }
            *seq = seq.wrapping_add(1);
        }
    }

    #[test]
    fn whole_frames_count_and_damaged_ones_do_not() {
        let mut c = FrameCounter::new(30.0);
        let mut seq: u16 = 65_530; // wraps on the way
        for n in 0..10 {
            // Frame 3 loses a middle packet, frame 5 its marker, frame 7 goes missing.
            let drop = match n {
                3 => Some(2),
                5 => Some(4),
                _ => None,
            };
            if n == 7 {
                seq = seq.wrapping_add(5);
                continue;
            }
            frame(&mut c, &mut seq, n, 5, drop);
        }
        let f = c.finish(10.0 / 30.0, 30.0);
        assert_eq!((f.complete, f.damaged), (7, 2));
        // Timestamps 0..=9: ten frames due, the missing one included.
        assert_eq!(f.due, 10);
        assert!(!f.joined_mid_frame);
    }

    #[test]
    fn a_frame_joined_in_the_middle_or_still_arriving_is_left_out() {
        let mut c = FrameCounter::new(30.0);
        // Packets 3 and 4 of frame 0, then frames 1 and 2, then half of frame 3.
        c.packet(3, 1000, false, Some(3000));
        c.packet(4, 1000, true, Some(4000));
        let mut seq: u16 = 5;
        frame(&mut c, &mut seq, 1, 5, None);
        frame(&mut c, &mut seq, 2, 5, None);
        c.packet(seq, 1000 + 3 * 3000, false, Some(0));
        let f = c.finish(0.1, 30.0);
        assert_eq!((f.complete, f.damaged, f.due), (2, 0, 2));
        assert!(f.joined_mid_frame);
    }

    #[test]
    fn a_stream_that_stops_early_is_missing_frames() {
        let mut c = FrameCounter::new(30.0);
        let mut seq: u16 = 0;
        for n in 0..30 {
            frame(&mut c, &mut seq, n, 3, None);
        }
        // One second of frames in a two-second window: at least 60 - 2 were due.
        let f = c.finish(2.0, 30.0);
        assert_eq!((f.complete, f.due), (30, 58));
        assert!(f.received_pct() < 52.0);
    }
}
