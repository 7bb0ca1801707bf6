//! One connection of `hdstream-publish` to the server: the sockets a [`Recorder`] speaks
//! through — the RTSP connection, and for UDP a socket pair per track — served with mio.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use hdstream_common::rtsp::header::LowerTransport;
use hdstream_common::{rtp, rtsp};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use crate::clock::Clock;
use crate::record::{self, Event, REPLY_TIMEOUT, Recorder};
use crate::track::{Senders, TRACKS, Track};

/// IPv4 + UDP + RTP header bytes, subtracted from the MTU.
const HEADERS: usize = 28 + rtp::Header::LEN;
/// Share of a frame interval a frame's UDP packets are spread over.
const SPREAD: f64 = 0.25;
/// The RTSP connection's token; a track's RTP and RTCP sockets are 1 + 2 × index and the next.
const CONTROL: Token = Token(0);

/// The largest RTP payload for IP packets of `mtu` bytes.
pub fn max_payload(mtu: usize) -> usize {
    mtu.saturating_sub(HEADERS).max(256)
}

/// Where and how a session publishes: the part of [`crate::publish::Settings`] a connection
/// needs.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The path's URL (`user:password@` in it serves as credentials).
    pub url: String,
    /// User and password for a server that asks.
    pub credentials: Option<(String, String)>,
    /// RTP over UDP or interleaved on the RTSP connection.
    pub transport: LowerTransport,
    /// Frames per second announced.
    pub fps: f64,
    /// The path's MTU: IP packets at most this long.
    pub mtu: usize,
}

/// What a session carries beside the video.
#[derive(Debug, Clone, Copy)]
pub struct Extras {
    /// The sound's format, when sound goes.
    pub audio: Option<hdstream_common::audio::Format>,
    /// Whether captions go.
    pub captions: bool,
}

/// One connection to the server: the sockets the [`Recorder`] core speaks through.
pub struct Link {
    poll: Poll,
    events: Events,
    control: mio::net::TcpStream,
    /// A track's RTP and RTCP sockets (UDP), for the tracks that go.
    udp: [Option<(UdpSocket, UdpSocket)>; TRACKS],
    server: SocketAddr,
    /// The session.
    pub recorder: Recorder,
    closed: bool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("server", &self.server)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Connects and starts a session announcing `size` and `extras`, on `clock`, going on with
    /// `senders`.
    pub fn open(
        settings: &Destination,
        size: (u16, u16),
        extras: Extras,
        clock: Clock,
        senders: Senders,
    ) -> Result<Link> {
        let (host, port) = rtsp::url::host_port(&settings.url)
            .map_err(|why| anyhow!("{}: {why}", settings.url))?;
        let server = (host.as_str(), port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .ok_or_else(|| anyhow!("{host} has no address"))?;
        let stream = std::net::TcpStream::connect_timeout(&server, REPLY_TIMEOUT)
            .with_context(|| format!("cannot connect to {server}"))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let mut control = mio::net::TcpStream::from_std(stream);
        let poll = Poll::new()?;
        poll.registry().register(
            &mut control,
            CONTROL,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut udp: [Option<(UdpSocket, UdpSocket)>; TRACKS] = Default::default();
        let carriage = match settings.transport {
            LowerTransport::Tcp => record::Carriage::Tcp,
            LowerTransport::Udp => {
                let mut ports = [(0, 0); TRACKS];
                let sends = |t: Track| match t {
                    Track::Video => true,
                    Track::Audio => extras.audio.is_some(),
                    Track::Text => extras.captions,
                };
                for track in Track::ALL.into_iter().filter(|&t| sends(t)) {
                    let i = track.index();
                    let (mut rtp, mut rtcp) = bind_pair(server)?;
                    let token = 1 + 2 * i;
                    poll.registry()
                        .register(&mut rtp, Token(token), Interest::READABLE)?;
                    poll.registry()
                        .register(&mut rtcp, Token(token + 1), Interest::READABLE)?;
                    ports[i] = (rtp.local_addr()?.port(), rtcp.local_addr()?.port());
                    udp[i] = Some((rtp, rtcp));
                }
                record::Carriage::Udp(ports)
            }
        };
        let (url, in_url) = rtsp::auth::split_userinfo(settings.url.trim_end_matches('/'));
        let config = record::Config {
            url,
            credentials: settings.credentials.clone().or(in_url),
            carriage,
            size,
            fps: settings.fps,
            max_payload: max_payload(settings.mtu),
            spread: Duration::from_secs_f64(SPREAD / settings.fps),
            cname: format!("hdstream-publish-{}", std::process::id()),
            clock,
            audio: extras.audio,
            captions: extras.captions,
        };
        Ok(Link {
            poll,
            events: Events::with_capacity(16),
            control,
            udp,
            server,
            recorder: Recorder::new(config, senders, Instant::now()),
            closed: false,
        })
    }

    /// Services the sockets and the core's timers until the session records (or fails).
    /// Every request has its reply deadline in the core, which fails the session past it.
    pub fn start(&mut self) -> Result<()> {
        while !self.recorder.is_recording() {
            self.drive(Instant::now() + Duration::from_millis(50))?;
        }
        Ok(())
    }

    /// Services the sockets and the core's timers until `until`; `Err` when the session failed.
    pub fn drive(&mut self, until: Instant) -> Result<()> {
        loop {
            let now = Instant::now();
            self.pump(now)?;
            if now >= until {
                return Ok(());
            }
            let wake = self.recorder.poll_timeout().map_or(until, |t| t.min(until));
            let timeout = wake.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut self.events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e.into());
            }
            let tokens: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
            for token in tokens {
                match token {
                    CONTROL => self.read_control(),
                    // The server's RTCP receiver reports: read and dropped.
                    _ => self.drain_udp(),
                }
            }
        }
    }

    /// Runs the core's due timers, writes what it has for the connection, sends the datagrams
    /// whose turn has come, and reports a failure.
    pub fn pump(&mut self, now: Instant) -> Result<()> {
        if self.recorder.poll_timeout().is_some_and(|t| t <= now) {
            self.recorder.handle_timeout(now);
        }
        while !self.closed && !self.recorder.control_output().is_empty() {
            match self.control.write(self.recorder.control_output()) {
                Ok(0) => break,
                Ok(n) => self.recorder.control_written(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.connection_lost(&e),
            }
        }
        while let Some(datagram) = self.recorder.poll_datagram(now) {
            let track = datagram.track;
            let (Some((rtp, rtcp)), Some((rtp_port, rtcp_port))) =
                (&self.udp[track.index()], self.recorder.server_ports(track))
            else {
                continue;
            };
            let (socket, port) = if datagram.rtcp {
                (rtcp, rtcp_port)
            } else {
                (rtp, rtp_port)
            };
            let to = SocketAddr::new(self.server.ip(), port);
            if let Err(e) = socket.send_to(&datagram.data, to) {
                tracing::debug!(error = %e, %to, track = track.name(), "datagram to the server");
            }
        }
        while let Some(event) = self.recorder.poll_event() {
            match event {
                Event::Recording { session } => {
                    tracing::info!(session = %session, server = %self.server, "recording");
                }
                Event::Failed(why) => return Err(why.into()),
            }
        }
        Ok(())
    }

    fn read_control(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.closed {
            match self.control.read(&mut buf) {
                Ok(0) => self.connection_lost(&io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.recorder.receive_control(&buf[..n], Instant::now()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.connection_lost(&e),
            }
        }
    }

    /// The RTSP connection failed or closed: the session hears of it.
    fn connection_lost(&mut self, e: &io::Error) {
        tracing::debug!(error = %e, "RTSP connection");
        self.closed = true;
        self.recorder.control_closed();
    }

    fn drain_udp(&mut self) {
        let mut buf = [0u8; 2048];
        for (rtp, rtcp) in self.udp.iter().flatten() {
            for socket in [rtp, rtcp] {
                while socket.recv_from(&mut buf).is_ok() {}
            }
        }
    }

    /// TEARDOWN, written within a second, then the connection's write side closed.
    pub fn close(mut self) -> Senders {
        self.recorder.teardown(Instant::now());
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.closed
            && !self.recorder.control_output().is_empty()
            && Instant::now() < deadline
        {
            if self
                .drive(Instant::now() + Duration::from_millis(20))
                .is_err()
            {
                break;
            }
        }
        let _ = self.control.shutdown(std::net::Shutdown::Write);
        self.recorder.into_senders()
    }
}

/// A UDP socket pair on the address family of `server`.
fn bind_pair(server: SocketAddr) -> Result<(UdpSocket, UdpSocket)> {
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    Ok((UdpSocket::bind(any)?, UdpSocket::bind(any)?))
}
