//! The network thread: a mio event loop, the only client code that touches sockets or reads
//! the clock for the protocol.
//!
//! Each pass: wait for readiness or the core's next deadline; read each socket until
//! `WouldBlock` and feed the [`Client`]; take commands from the sink; run what is due; hand
//! released frames to the decoders while their queue has room; send RTCP; hand the audio
//! played to the sound device and `--audio-out`; write RTSP output until `WouldBlock` and ask
//! for writability if some is left. Deadlines are checked on every pass, not only when poll
//! times out (under steady media traffic it never does).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream as StdTcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::audio::device::DeviceSink;
use crate::audio::record::Recording;
use crate::core::{Client, Command};
use crate::decode::Job;
use crate::error::Error;
use crate::session::Description;
use crate::sink::Live;
use crate::stats::NetStats;

const RTSP: Token = Token(0);
const RTP: Token = Token(1);
const RTCP: Token = Token(2);
/// The token of the waker the sink uses.
pub const WAKER: Token = Token(3);
const AUDIO_RTP: Token = Token(4);
const AUDIO_RTCP: Token = Token(5);
const CAPTIONS_RTP: Token = Token(6);
const CAPTIONS_RTCP: Token = Token(7);
/// A tunnel's POST (RTSP tunnelled in HTTP).
const POST: Token = Token(8);

/// Receive buffer asked for the UDP sockets: a burst of HD frames at prefetch speed fits.
pub const RCVBUF: usize = 8 << 20;
/// The loop wakes at least this often (stop flag, live numbers).
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// While the decoders' queue is full, look again this soon.
const QUEUE_RETRY: Duration = Duration::from_millis(2);
/// How often the live numbers are published.
const LIVE_EVERY: Duration = Duration::from_millis(250);

/// The sockets of one playback.
#[derive(Debug)]
pub struct Sockets {
    /// The RTSP connection.
    pub control: TcpStream,
    /// The server's address.
    pub server: SocketAddr,
    /// RTP and RTCP sockets, for UDP transport.
    pub udp: Option<(UdpSocket, UdpSocket)>,
    /// The audio track's RTP and RTCP sockets, for UDP transport.
    pub audio_udp: Option<(UdpSocket, UdpSocket)>,
    /// The captions track's RTP and RTCP sockets, for UDP transport.
    pub captions_udp: Option<(UdpSocket, UdpSocket)>,
    /// The receive buffer the kernel granted.
    pub rcvbuf: Option<usize>,
    /// `rtsps://`: the TLS state between the connection and the client.
    pub tls: Option<Box<rustls::ClientConnection>>,
    /// RTSP tunnelled in HTTP: `control` is the GET (read), this the POST (written, base64).
    pub tunnel: Option<crate::tunnel::Post>,
}

/// Connects to `host:port` (each resolved address in turn, 5 s each).
pub fn connect(host: &str, port: u16) -> Result<StdTcpStream, Error> {
    let what = format!("cannot connect to {host}:{port}");
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::io(what.clone(), e))?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match StdTcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(Error::io(what, last))
}

/// A non-blocking UDP socket on `port` (0: any) with a large receive buffer (socket2).
fn udp(ip: IpAddr, port: u16) -> io::Result<(std::net::UdpSocket, usize)> {
    let addr = SocketAddr::new(ip, port);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(RCVBUF);
    let granted = socket.recv_buffer_size().unwrap_or(0);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok((socket.into(), granted))
}

/// RTP and RTCP sockets on `rtp_port` and the next one, or on a free even/odd pair when
/// `rtp_port` is 0 (RFC 3550 §11: RTP on an even port, RTCP on the next).
pub fn bind_pair(
    server: IpAddr,
    rtp_port: u16,
) -> Result<(std::net::UdpSocket, std::net::UdpSocket, usize), Error> {
    let any = if server.is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    };
    if rtp_port != 0 {
        let rtcp_port = rtp_port.checked_add(1).ok_or_else(|| {
            Error::Usage(format!("--rtp-port {rtp_port}: RTCP needs the next port"))
        })?;
        let (rtp, granted) = udp(any, rtp_port)
            .map_err(|e| Error::io(format!("cannot bind UDP port {rtp_port}"), e))?;
        let (rtcp, _) = udp(any, rtcp_port)
            .map_err(|e| Error::io(format!("cannot bind UDP port {rtcp_port}"), e))?;
        return Ok((rtp, rtcp, granted));
    }
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no free port pair");
    for _ in 0..64 {
        let (rtp, granted) = udp(any, 0).map_err(|e| Error::io("cannot bind a UDP port", e))?;
        let port = rtp
            .local_addr()
            .map_err(|e| Error::io("cannot bind a UDP port", e))?
            .port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match udp(any, port + 1) {
            Ok((rtcp, _)) => return Ok((rtp, rtcp, granted)),
            Err(e) => last = e,
        }
    }
    Err(Error::io("cannot bind an RTP/RTCP port pair", last))
}

/// The network thread's ends of the channels.
#[derive(Debug)]
pub struct Ends {
    /// Commands from the sink.
    pub commands: Receiver<Command>,
    /// Frames for the decoders.
    pub jobs: Sender<Job>,
    /// JPEG buffers back from the decoders.
    pub jpegs: Receiver<Vec<u8>>,
    /// Live numbers for the sink.
    pub live: Arc<Mutex<Live>>,
    /// Set by a signal handler: tear down and stop.
    pub stop: Arc<AtomicBool>,
}

/// How the network thread ended.
#[derive(Debug)]
pub struct Outcome {
    /// Success, or why not.
    pub result: Result<(), Error>,
    /// What it counted.
    pub stats: NetStats,
    /// The DESCRIBE result.
    pub description: Option<Description>,
    /// The receive buffer granted.
    pub rcvbuf: Option<usize>,
    /// Frames in the presentation, when a course server said.
    pub total_frames: Option<u64>,
}

/// Which UDP socket is readable.
#[derive(Debug, Clone, Copy)]
enum Udp {
    Rtp,
    Rtcp,
    AudioRtp,
    AudioRtcp,
    CaptionsRtp,
    CaptionsRtcp,
}

struct Driver {
    poll: Poll,
    client: Client,
    sockets: Sockets,
    ends: Ends,
    control_open: bool,
    writable_interest: bool,
    buf: Vec<u8>,
    live_at: Instant,
    live_bytes: u64,
    /// Why TLS failed (an untrusted certificate, a broken handshake): ends the run.
    tls_error: Option<String>,
    /// `--audio-out`.
    recording: Option<Recording>,
    /// The sound device (`--audio-device`).
    device: Option<DeviceSink>,
    /// Audio samples between the client and the device and recording.
    samples: Vec<i16>,
}

/// Runs the loop until the client is done; the audio played goes to the sound `device` (what
/// it holds heard before it closes) and to `recording`, finished (its header's sizes written)
/// however the run ends.
pub fn run(
    poll: Poll,
    client: Client,
    mut sockets: Sockets,
    ends: Ends,
    recording: Option<Recording>,
    device: Option<DeviceSink>,
) -> Outcome {
    let rcvbuf = sockets.rcvbuf;
    let registered = register(&poll, &mut sockets);
    let mut driver = Driver {
        poll,
        client,
        sockets,
        ends,
        control_open: true,
        writable_interest: false,
        buf: vec![0; 65_536],
        live_at: Instant::now(),
        live_bytes: 0,
        tls_error: None,
        recording,
        device,
        samples: Vec::new(),
    };
    let mut result = match registered {
        Ok(()) => driver.run(),
        Err(e) => Err(Error::io("cannot register sockets with the event loop", e)),
    };
    driver.record_audio();
    if let Some(device) = driver.device.take() {
        device.finish();
    }
    if let Some(recording) = driver.recording.take() {
        let path = recording.path().display().to_string();
        let seconds = recording.seconds();
        match recording.finish() {
            Ok(()) if driver.client.audio().is_none() => {
                tracing::warn!(%path, "no audio track was played: the WAV file holds no sound");
            }
            Ok(()) => tracing::info!(%path, seconds, "audio written"),
            Err(e) => {
                if result.is_ok() {
                    result = Err(Error::io(format!("cannot write {path}"), e));
                }
            }
        }
    }
    Outcome {
        result,
        stats: driver.client.stats(),
        description: driver.client.description().cloned(),
        rcvbuf,
        total_frames: driver.client.total_frames(),
    }
}

fn register(poll: &Poll, sockets: &mut Sockets) -> io::Result<()> {
    let registry = poll.registry();
    registry.register(
        &mut sockets.control,
        RTSP,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    if let Some(post) = &mut sockets.tunnel {
        // Readable: to see the server close it; writable: to go on writing (edge-triggered).
        registry.register(
            &mut post.stream,
            POST,
            Interest::READABLE | Interest::WRITABLE,
        )?;
    }
    if let Some((rtp, rtcp)) = &mut sockets.udp {
        registry.register(rtp, RTP, Interest::READABLE)?;
        registry.register(rtcp, RTCP, Interest::READABLE)?;
    }
    if let Some((rtp, rtcp)) = &mut sockets.audio_udp {
        registry.register(rtp, AUDIO_RTP, Interest::READABLE)?;
        registry.register(rtcp, AUDIO_RTCP, Interest::READABLE)?;
    }
    if let Some((rtp, rtcp)) = &mut sockets.captions_udp {
        registry.register(rtp, CAPTIONS_RTP, Interest::READABLE)?;
        registry.register(rtcp, CAPTIONS_RTCP, Interest::READABLE)?;
    }
    Ok(())
}

impl Driver {
    fn run(&mut self) -> Result<(), Error> {
        let mut events = Events::with_capacity(64);
        let mut stop_seen = false;
        loop {
            let now = Instant::now();
            let mut timeout = self
                .client
                .poll_timeout()
                .map_or(MAX_SLEEP, |t| t.saturating_duration_since(now))
                .min(MAX_SLEEP);
            if self.ends.jobs.is_full() {
                timeout = timeout.min(QUEUE_RETRY);
            }
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(Error::io("event loop", e));
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    RTSP => self.read_control(now),
                    RTP => self.read_udp(Udp::Rtp, now),
                    RTCP => self.read_udp(Udp::Rtcp, now),
                    AUDIO_RTP => self.read_udp(Udp::AudioRtp, now),
                    AUDIO_RTCP => self.read_udp(Udp::AudioRtcp, now),
                    CAPTIONS_RTP => self.read_udp(Udp::CaptionsRtp, now),
                    CAPTIONS_RTCP => self.read_udp(Udp::CaptionsRtcp, now),
                    POST => self.read_post(now),
                    _ => {}
                }
            }
            if let Some(why) = self.tls_error.take() {
                return Err(Error::Tls(why));
            }
            while let Ok(command) = self.ends.commands.try_recv() {
                self.client.command(command, now);
            }
            if !stop_seen && self.ends.stop.load(Ordering::SeqCst) {
                stop_seen = true;
                tracing::info!("signal: tearing down");
                self.client.command(Command::Quit, now);
            }
            while let Ok(buf) = self.ends.jpegs.try_recv() {
                self.client.recycle(buf);
            }
            self.client.handle_timeout(now);
            self.release(now);
            self.send_rtcp();
            self.record_audio();
            self.write_control();
            self.share_live_stats(now);
            if let Some(outcome) = self.client.take_outcome() {
                return outcome;
            }
        }
    }

    fn read_control(&mut self, now: Instant) {
        if self.sockets.tls.is_some() {
            return self.read_tls(now);
        }
        while self.control_open {
            match self.sockets.control.read(&mut self.buf) {
                Ok(0) => {
                    self.control_open = false;
                    let _ = self.poll.registry().deregister(&mut self.sockets.control);
                    self.client.control_closed(now);
                }
                Ok(n) => {
                    let data = &self.buf[..n];
                    self.client.receive_control(data, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "RTSP connection failed");
                    self.control_open = false;
                    let _ = self.poll.registry().deregister(&mut self.sockets.control);
                    self.client.control_closed(now);
                }
            }
        }
    }

    /// Reads the TLS connection: ciphertext into rustls, plaintext on to the client.
    fn read_tls(&mut self, now: Instant) {
        let Some(tls) = self.sockets.tls.as_mut() else {
            return;
        };
        let mut failure = None;
        while self.control_open && failure.is_none() {
            match tls.read_tls(&mut self.sockets.control) {
                Ok(0) => failure = Some(None),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => failure = Some(None),
            }
            if let Err(e) = tls.process_new_packets() {
                // Send the alert that says why, then give up.
                let _ = tls.write_tls(&mut self.sockets.control);
                failure = Some(Some(e.to_string()));
                break;
            }
            loop {
                match tls.reader().read(&mut self.buf) {
                    Ok(0) => {
                        failure = Some(None);
                        break;
                    }
                    Ok(n) => self.client.receive_control(&self.buf[..n], now),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        failure = Some(None);
                        break;
                    }
                }
            }
        }
        match failure {
            Some(Some(why)) => {
                self.control_open = false;
                let _ = self.poll.registry().deregister(&mut self.sockets.control);
                self.tls_error = Some(why);
            }
            Some(None) => {
                self.control_open = false;
                let _ = self.poll.registry().deregister(&mut self.sockets.control);
                self.client.control_closed(now);
            }
            None => {}
        }
    }

    fn read_udp(&mut self, which: Udp, now: Instant) {
        let pair = match which {
            Udp::Rtp | Udp::Rtcp => &self.sockets.udp,
            Udp::AudioRtp | Udp::AudioRtcp => &self.sockets.audio_udp,
            Udp::CaptionsRtp | Udp::CaptionsRtcp => &self.sockets.captions_udp,
        };
        let Some((rtp_socket, rtcp_socket)) = pair else {
            return;
        };
        let socket = match which {
            Udp::Rtp | Udp::AudioRtp | Udp::CaptionsRtp => rtp_socket,
            Udp::Rtcp | Udp::AudioRtcp | Udp::CaptionsRtcp => rtcp_socket,
        };
        loop {
            match socket.recv_from(&mut self.buf) {
                Ok((n, _from)) => {
                    let data = &self.buf[..n];
                    match which {
                        Udp::Rtp => self.client.receive_rtp(data, now),
                        Udp::Rtcp => self.client.receive_rtcp(data, now),
                        Udp::AudioRtp => self.client.receive_audio_rtp(data, now),
                        Udp::AudioRtcp => self.client.receive_audio_rtcp(data, now),
                        Udp::CaptionsRtp => self.client.receive_captions_rtp(data),
                        Udp::CaptionsRtcp => self.client.receive_captions_rtcp(data),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // ICMP port unreachable from an earlier send, and the like: not fatal.
                    tracing::debug!(error = %e, "UDP receive");
                    break;
                }
            }
        }
    }

    /// Hands due frames to the decoders while their queue has room.
    fn release(&mut self, now: Instant) {
        while !self.ends.jobs.is_full() {
            let Some(job) = self.client.poll_release(now) else {
                break;
            };
            if let Err(e) = self.ends.jobs.try_send(job) {
                self.client.recycle(e.into_inner().jpeg);
                break;
            }
        }
    }

    fn send_rtcp(&mut self) {
        let ip = self.sockets.server.ip();
        let to = self
            .client
            .server_rtcp_port()
            .map(|port| SocketAddr::new(ip, port));
        while let Some(datagram) = self.client.poll_datagram() {
            if let (Some(to), Some((_, rtcp))) = (to, &self.sockets.udp)
                && let Err(e) = rtcp.send_to(&datagram, to)
            {
                tracing::debug!(error = %e, %to, "RTCP send");
            }
        }
        let to = self
            .client
            .server_audio_rtcp_port()
            .map(|port| SocketAddr::new(ip, port));
        while let Some(datagram) = self.client.poll_audio_datagram() {
            if let (Some(to), Some((_, rtcp))) = (to, &self.sockets.audio_udp)
                && let Err(e) = rtcp.send_to(&datagram, to)
            {
                tracing::debug!(error = %e, %to, "audio RTCP send");
            }
        }
    }

    /// Moves the audio the client played, at the user's volume, to the sound device and into
    /// the recording (or drops it without either): the device plays the samples the WAV file
    /// gets. A failed write is logged and ends the recording; playback goes on.
    fn record_audio(&mut self) {
        self.samples.clear();
        self.client.drain_audio(&mut self.samples);
        if self.samples.is_empty() {
            return;
        }
        // The user's volume and mute (the window's), as the samples leave the output.
        crate::controls::VOLUME.apply(&mut self.samples);
        let Some(format) = self.client.audio().map(|a| a.format()) else {
            return;
        };
        if let Some(device) = &mut self.device {
            device.play(format.clock_rate, format.channels, &self.samples);
        }
        if let Some(recording) = &mut self.recording
            && recording
                .write(format.clock_rate, format.channels, &self.samples)
                .is_err()
            && let Some(recording) = self.recording.take()
        {
            let path = recording.path().display().to_string();
            let error = recording.finish().err();
            tracing::error!(%path, ?error, "audio recording stopped");
        }
    }

    /// A tunnel's POST: the server sends nothing on it, so readable means closed (or an
    /// error): the control connection is gone.
    fn read_post(&mut self, now: Instant) {
        let Some(post) = self.sockets.tunnel.as_mut() else {
            return;
        };
        let mut scratch = [0u8; 512];
        loop {
            match post.stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => {} // not the server's to send: dropped
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = self.poll.registry().deregister(&mut post.stream);
        self.sockets.tunnel = None;
        if self.control_open {
            self.control_open = false;
            let _ = self.poll.registry().deregister(&mut self.sockets.control);
            self.client.control_closed(now);
        }
    }

    fn write_control(&mut self) {
        if let Some(post) = self.sockets.tunnel.as_mut() {
            // Tunnelled: each batch of RTSP output goes up the POST as one base64 encoding.
            let pending = self.client.control_output();
            if self.control_open && !pending.is_empty() {
                post.push(pending);
                let n = pending.len();
                self.client.control_written(n);
            }
            if post.flush().is_err() && self.control_open {
                self.control_open = false;
                let _ = self.poll.registry().deregister(&mut self.sockets.control);
                self.client.control_closed(Instant::now());
            }
            return;
        }
        if let Some(tls) = self.sockets.tls.as_mut() {
            let mut failed = false;
            while self.control_open {
                let pending = self.client.control_output();
                if !pending.is_empty()
                    && !tls.is_handshaking()
                    && let Ok(n) = tls.writer().write(pending)
                    && n > 0
                {
                    self.client.control_written(n);
                }
                if !tls.wants_write() {
                    break;
                }
                match tls.write_tls(&mut self.sockets.control) {
                    Ok(0) => failed = true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => failed = true,
                }
                if failed {
                    break;
                }
            }
            if failed {
                self.control_open = false;
                let _ = self.poll.registry().deregister(&mut self.sockets.control);
                self.client.control_closed(Instant::now());
                return;
            }
            let want = self.control_open
                && (tls.wants_write()
                    || (!tls.is_handshaking() && !self.client.control_output().is_empty()));
            self.want_writable(want);
            return;
        }
        while self.control_open && !self.client.control_output().is_empty() {
            match self.sockets.control.write(self.client.control_output()) {
                Ok(0) => break,
                Ok(n) => self.client.control_written(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "RTSP write failed");
                    self.control_open = false;
                    let _ = self.poll.registry().deregister(&mut self.sockets.control);
                    self.client.control_closed(Instant::now());
                }
            }
        }
        let want = self.control_open && !self.client.control_output().is_empty();
        self.want_writable(want);
    }

    /// Asks for the connection's writable readiness while output waits.
    fn want_writable(&mut self, want: bool) {
        if self.control_open && want != self.writable_interest {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut self.sockets.control, RTSP, interest)
                .is_ok()
            {
                self.writable_interest = want;
            }
        }
    }

    /// Hands the live statistics the window draws (rate, loss, cache) to the main thread, at
    /// most every `LIVE_EVERY`.
    fn share_live_stats(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.live_at);
        if since < LIVE_EVERY {
            return;
        }
        let stats = self.client.stats();
        let playout = self.client.pipeline().playout();
        let expected = stats.packets_expected.max(1) as f64;
        let live = Live {
            duration: self.client.duration(),
            fps: self.client.description().and_then(|d| d.fps),
            loss_rate: stats.packets_lost.max(0) as f64 / expected,
            mbps: stats.bytes_received.saturating_sub(self.live_bytes) as f64 * 8.0
                / since.as_secs_f64()
                / 1e6,
            cache_s: playout.level().as_secs_f64(),
            cache_frames: playout.cached_frames(),
            frames_lost: stats.frames_lost,
            rebuffers: stats.rebuffer_count,
            window: playout.buffered(),
        };
        self.live_bytes = stats.bytes_received;
        self.live_at = now;
        if let Ok(mut l) = self.ends.live.lock() {
            *l = live;
        }
    }
}
