//! What `hdstream-publish` does: publishes MJPEG into an RTSP server (RFC 2326 §10.3 ANNOUNCE,
//! §10.4 SETUP with `mode=record`, §10.11 RECORD), as RFC 2435 RTP over interleaved TCP or UDP,
//! in real time, with RTCP sender reports (RFC 3550 §6.4.1) whose NTP time is each frame's
//! capture time, so a viewer can measure capture-to-display latency.
//!
//! Inputs ([`Input`]): an MJPEG file (looped), MJPEG read from stdin (concatenated JPEGs, as
//! `ffmpeg -f mjpeg -` or a camera pipe writes them; timed by their arrival), or a moving test
//! pattern with its capture time of day drawn in it. When the server goes away the publisher
//! keeps its clock and connects again (every second), so viewers of the path resume where the
//! live stream is.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use hdstream_common::{rtp, rtsp};
use hdstream_video::MjpegFile;
use hdstream_video::jpeg::Header;
use hdstream_video::pattern::Pattern;
use hdstream_video::split::Splitter;
use mio::{Events, Interest, Poll, Token};

use crate::record::{self, Event, REPLY_TIMEOUT, Recorder, Sender};

/// IPv4 + UDP + RTP header bytes, subtracted from the MTU.
const HEADERS: usize = 28 + rtp::Header::LEN;
/// Between connection attempts while the server is away.
const RETRY: Duration = Duration::from_secs(1);
/// The largest frame read from stdin.
const MAX_FRAME: usize = 16 << 20;
/// Share of a frame interval a frame's UDP packets are spread over.
const SPREAD: f64 = 0.25;

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An MJPEG file (either container), looped.
    File(PathBuf),
    /// Concatenated JPEGs on stdin (`-`).
    Stdin,
    /// A moving test pattern of this size with its capture time drawn in (`pattern:WxH`).
    Pattern {
        /// Width in pixels.
        width: u16,
        /// Height in pixels.
        height: u16,
    },
}

impl FromStr for Input {
    type Err = String;

    fn from_str(s: &str) -> Result<Input, String> {
        if s == "-" {
            return Ok(Input::Stdin);
        }
        if let Some(size) = s.strip_prefix("pattern") {
            let size = size.strip_prefix(':').unwrap_or("1280x720");
            let size = if size.is_empty() { "1280x720" } else { size };
            let (w, h) = size
                .split_once('x')
                .ok_or_else(|| format!("{s:?}: the pattern's size is WIDTHxHEIGHT"))?;
            let parse = |v: &str| {
                v.parse::<u16>()
                    .ok()
                    .filter(|v| (16..=8192).contains(v) && v % 2 == 0)
                    .ok_or_else(|| format!("{s:?}: sizes are even numbers of 16 to 8192 pixels"))
            };
            return Ok(Input::Pattern {
                width: parse(w)?,
                height: parse(h)?,
            });
        }
        Ok(Input::File(PathBuf::from(s)))
    }
}

/// How RTP goes to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Carriage {
    /// Interleaved on the RTSP connection (RFC 2326 §10.12).
    #[default]
    Tcp,
    /// UDP datagrams to the server's ports.
    Udp,
}

/// What to publish, where and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where frames come from.
    pub input: Input,
    /// `rtsp://host:port/live/<name>`.
    pub url: String,
    /// Frames per second (files and the pattern; stdin is timed by arrival but announces it).
    pub fps: f64,
    /// TCP or UDP.
    pub carriage: Carriage,
    /// Largest IP packet over UDP (RTP payloads are cut to fit).
    pub mtu: usize,
    /// JPEG quality of the pattern.
    pub quality: u8,
    /// Stop after this many frames.
    pub frames: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Connect again when the server goes away (else that is an error).
    pub reconnect: bool,
    /// User and password for a server that asks (RFC 7616 Digest, RFC 7617 Basic over
    /// RTSPS); `user:password@` in the URL serves too.
    pub credentials: Option<(String, String)>,
}

impl Settings {
    /// Defaults for publishing `input` to `url`.
    pub fn new(input: Input, url: impl Into<String>) -> Settings {
        Settings {
            input,
            url: url.into(),
            fps: 30.0,
            carriage: Carriage::Tcp,
            mtu: 1400,
            quality: 80,
            frames: None,
            duration: None,
            reconnect: true,
            credentials: None,
        }
    }
}

/// What a publication did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Frames sent whole.
    pub frames: u64,
    /// RTP packets sent.
    pub packets: u64,
    /// RTP payload bytes sent.
    pub bytes: u64,
    /// Frames not sent: due while the server was away, or while the publisher was behind.
    pub skipped: u64,
    /// Frames that cannot travel as RFC 2435 (left out).
    pub refused: u64,
    /// Sessions with the server (1 + reconnections).
    pub connections: u64,
}

/// Frames, one at a time.
enum Frames {
    File {
        file: MjpegFile,
        next: usize,
    },
    /// Read and split on a thread of their own (stdin blocks), handed over as they come.
    Stdin {
        frames: Receiver<Result<Vec<u8>, String>>,
    },
    Pattern {
        pattern: Pattern,
        quality: u8,
    },
}

/// What [`Frames::next`] has.
enum Next {
    Frame(Vec<u8>),
    /// Nothing yet (stdin): serve the link and ask again.
    Wait,
    End,
}

/// How long to serve the link between looks at stdin.
const STDIN_WAIT: Duration = Duration::from_millis(10);

impl Frames {
    fn open(settings: &Settings) -> Result<Frames> {
        Ok(match &settings.input {
            Input::File(path) => {
                let file = MjpegFile::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                if file.is_empty() {
                    bail!("{} holds no frames", path.display());
                }
                Frames::File { file, next: 0 }
            }
            Input::Stdin => {
                let (tx, rx) = std::sync::mpsc::sync_channel(2);
                std::thread::Builder::new()
                    .name("publish-stdin".into())
                    .spawn(move || read_stdin(&tx))?;
                Frames::Stdin { frames: rx }
            }
            Input::Pattern { width, height } => Frames::Pattern {
                pattern: Pattern::new(*width, *height),
                quality: settings.quality,
            },
        })
    }

    /// Whether frames come when they come (stdin) rather than on a schedule.
    fn is_timed_by_arrival(&self) -> bool {
        matches!(self, Frames::Stdin { .. })
    }

    /// Frame `n`, captured at `clock` (the pattern draws it).
    fn next(&mut self, n: u64, clock: SystemTime) -> Result<Next> {
        match self {
            Frames::File { file, next } => {
                let frame = file.frame(*next).map(<[u8]>::to_vec);
                *next = (*next + 1) % file.len();
                frame
                    .map(Next::Frame)
                    .ok_or_else(|| anyhow!("frame {next} is missing"))
            }
            Frames::Pattern { pattern, quality } => {
                let since_epoch = clock.duration_since(UNIX_EPOCH).unwrap_or_default();
                let mut jpeg = Vec::new();
                let settings = hdstream_video::encoder::Settings::quality(*quality);
                pattern.encode_with_clock(n, since_epoch, settings, &mut jpeg)?;
                Ok(Next::Frame(jpeg))
            }
            Frames::Stdin { frames } => match frames.try_recv() {
                Ok(Ok(frame)) => Ok(Next::Frame(frame)),
                Ok(Err(e)) => bail!("reading stdin: {e}"),
                Err(TryRecvError::Empty) => Ok(Next::Wait),
                Err(TryRecvError::Disconnected) => Ok(Next::End),
            },
        }
    }
}

/// Reads stdin to its end, handing over each whole JPEG (a frame that does not split is
/// logged and left out).
fn read_stdin(frames: &SyncSender<Result<Vec<u8>, String>>) {
    let mut splitter = Splitter::new(MAX_FRAME);
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0; 64 * 1024];
    let mut eof = false;
    loop {
        match splitter.next_frame() {
            Some(Ok(frame)) => {
                if frames.send(Ok(frame)).is_err() {
                    return;
                }
                continue;
            }
            Some(Err(e)) => tracing::warn!(error = %e, "stdin"),
            None if eof => return,
            None => {}
        }
        match stdin.read(&mut buf) {
            Ok(0) => eof = true,
            Ok(read) => splitter.push(&buf[..read]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = frames.send(Err(e.to_string()));
                return;
            }
        }
    }
}

/// Tokens of the link's sockets.
const CONTROL: Token = Token(0);
const RTP_IN: Token = Token(1);
const RTCP_IN: Token = Token(2);
/// Bytes waiting for the RTSP connection beyond which a frame is skipped rather than staged:
/// a server that does not read cannot make the publisher hold its frames without end.
const MAX_BACKLOG: usize = 8 << 20;

/// One connection to the server: the sockets the [`Recorder`] core speaks through.
struct Link {
    poll: Poll,
    events: Events,
    control: mio::net::TcpStream,
    udp: Option<(mio::net::UdpSocket, mio::net::UdpSocket)>,
    server: SocketAddr,
    recorder: Recorder,
    closed: bool,
}

impl Link {
    /// Connects and starts a session announcing `size`, going on with `sender`.
    fn open(settings: &Settings, size: (u16, u16), sender: Sender) -> Result<Link> {
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
        let (udp, carriage) = match settings.carriage {
            Carriage::Tcp => (None, record::Carriage::Tcp),
            Carriage::Udp => {
                let (mut rtp, mut rtcp) = bind_pair(server)?;
                poll.registry()
                    .register(&mut rtp, RTP_IN, Interest::READABLE)?;
                poll.registry()
                    .register(&mut rtcp, RTCP_IN, Interest::READABLE)?;
                let carriage = record::Carriage::Udp {
                    rtp: rtp.local_addr()?.port(),
                    rtcp: rtcp.local_addr()?.port(),
                };
                (Some((rtp, rtcp)), carriage)
            }
        };
        let (url, in_url) = rtsp::auth::split_userinfo(settings.url.trim_end_matches('/'));
        let config = record::Config {
            url,
            credentials: settings.credentials.clone().or(in_url),
            carriage,
            size,
            fps: settings.fps,
            max_payload: settings.mtu.saturating_sub(HEADERS).max(256),
            spread: Duration::from_secs_f64(SPREAD / settings.fps),
            cname: format!("hdstream-publish-{}", std::process::id()),
        };
        Ok(Link {
            poll,
            events: Events::with_capacity(16),
            control,
            udp,
            server,
            recorder: Recorder::new(config, sender, Instant::now()),
            closed: false,
        })
    }

    /// Services the sockets and the core's timers until the session records (or fails).
    /// Every request has its reply deadline in the core, which fails the session past it.
    fn start(&mut self) -> Result<()> {
        while !self.recorder.is_recording() {
            self.drive(Instant::now() + Duration::from_millis(50))?;
        }
        Ok(())
    }

    /// Services the sockets and the core's timers until `until`; `Err` when the session failed.
    fn drive(&mut self, until: Instant) -> Result<()> {
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
    fn pump(&mut self, now: Instant) -> Result<()> {
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
        if let (Some((rtp, rtcp)), Some((rtp_port, rtcp_port))) =
            (&self.udp, self.recorder.server_ports())
        {
            while let Some(datagram) = self.recorder.poll_datagram(now) {
                let (socket, port) = if datagram.rtcp {
                    (rtcp, rtcp_port)
                } else {
                    (rtp, rtp_port)
                };
                let to = SocketAddr::new(self.server.ip(), port);
                if let Err(e) = socket.send_to(&datagram.data, to) {
                    tracing::debug!(error = %e, %to, "datagram to the server");
                }
            }
        }
        while let Some(event) = self.recorder.poll_event() {
            match event {
                Event::Recording { session } => {
                    tracing::info!(session = %session, server = %self.server, "recording");
                }
                Event::Failed(why) => return Err(why),
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
        let Some((rtp, rtcp)) = &self.udp else {
            return;
        };
        let mut buf = [0u8; 2048];
        for socket in [rtp, rtcp] {
            while socket.recv_from(&mut buf).is_ok() {}
        }
    }

    /// TEARDOWN, written within a second, then the connection's write side closed.
    fn close(mut self) -> Sender {
        self.recorder.teardown();
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
        self.recorder.into_sender()
    }
}

/// A UDP socket pair on the address family of `server`.
fn bind_pair(server: SocketAddr) -> Result<(mio::net::UdpSocket, mio::net::UdpSocket)> {
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    Ok((
        mio::net::UdpSocket::bind(any)?,
        mio::net::UdpSocket::bind(any)?,
    ))
}

/// Publishes as `settings` say until the input ends, the frame count or duration is reached,
/// or `stop` is raised; then tears down.
pub fn run(settings: &Settings, stop: &AtomicBool) -> Result<Report> {
    if !(settings.fps.is_finite() && settings.fps > 0.0 && settings.fps <= 240.0) {
        bail!("the frame rate must be above 0 and at most 240");
    }
    let mut frames = Frames::open(settings)?;
    let by_arrival = frames.is_timed_by_arrival();
    let random: [u32; 3] = {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::from_os_rng();
        [rng.random(), rng.random(), rng.random()]
    };
    let ts_base = random[2];
    // The RTP sender is lent to each connection's session and comes back when it ends.
    let mut sender = Some(Sender::new(random[0], random[1] as u16));
    let mut report = Report::default();
    let interval = Duration::from_secs_f64(1.0 / settings.fps);
    let start = Instant::now();
    let wall_start = SystemTime::now();
    let mut link: Option<Link> = None;
    let mut next_attempt = start;
    let mut n: u64 = 0;
    // A session that failed gives its sender back and is gone; `Err` only when not reconnecting.
    let lost = |link: &mut Option<Link>,
                sender: &mut Option<Sender>,
                next_attempt: &mut Instant,
                why: anyhow::Error|
     -> Result<()> {
        if let Some(l) = link.take() {
            *sender = Some(l.recorder.into_sender());
        }
        if !settings.reconnect {
            return Err(why.context("the server went away"));
        }
        tracing::warn!(error = %why, "the server went away: reconnecting");
        *next_attempt = Instant::now() + RETRY;
        Ok(())
    };
    loop {
        if stop.load(Ordering::SeqCst)
            || settings.frames.is_some_and(|max| n >= max)
            || settings.duration.is_some_and(|d| start.elapsed() >= d)
        {
            break;
        }
        // When frame n is due (the schedule), or now (stdin); the link is served meanwhile.
        let due = start + interval.mul_f64(n as f64);
        if !by_arrival && let Err(why) = serve_until(&mut link, due) {
            lost(&mut link, &mut sender, &mut next_attempt, why)?;
        }
        // A scheduled frame is captured when due (the pattern draws that time); one from stdin
        // when it has been read.
        let jpeg = loop {
            match frames.next(n, wall_start + due.duration_since(start))? {
                Next::Frame(jpeg) => break Some(jpeg),
                Next::End => break None,
                Next::Wait if stop.load(Ordering::SeqCst) => break None,
                Next::Wait => {
                    if let Err(why) = serve_until(&mut link, Instant::now() + STDIN_WAIT) {
                        lost(&mut link, &mut sender, &mut next_attempt, why)?;
                    }
                }
            }
        };
        let Some(jpeg) = jpeg else {
            break;
        };
        let elapsed = if by_arrival {
            start.elapsed()
        } else {
            due - start
        };
        let captured = wall_start + elapsed;
        let timestamp =
            ts_base.wrapping_add((elapsed.as_secs_f64() * 90_000.0).round() as u64 as u32);
        n += 1;
        // Behind schedule by more than a frame (a pattern too big to draw in time): the next
        // frame goes on from now.
        if !by_arrival && Instant::now() > due + interval * 2 {
            let behind = (Instant::now() - due).as_secs_f64() / interval.as_secs_f64();
            let skip = behind.floor() as u64 - 1;
            n += skip;
            report.skipped += skip;
        }
        if link.is_none() && Instant::now() >= next_attempt {
            let size = Header::parse(&jpeg)
                .map(|h| (h.width, h.height))
                .unwrap_or((0, 0));
            let lent = sender.take().expect("the sender is home between sessions");
            match Link::open(settings, size, lent.clone()) {
                Ok(mut l) => match l.start() {
                    Ok(()) => {
                        report.connections += 1;
                        link = Some(l);
                    }
                    Err(e) => {
                        sender = Some(l.recorder.into_sender());
                        retry_or_fail(settings, &report, n, &mut next_attempt, e)?;
                    }
                },
                Err(e) => {
                    sender = Some(lent);
                    retry_or_fail(settings, &report, n, &mut next_attempt, e)?;
                }
            }
        }
        let Some(l) = link.as_mut() else {
            report.skipped += 1;
            continue;
        };
        if l.recorder.control_output().len() > MAX_BACKLOG {
            report.skipped += 1;
            continue;
        }
        let sent = l
            .recorder
            .send_frame(&jpeg, timestamp, captured, Instant::now())
            .and_then(|_| l.pump(Instant::now()));
        if let Err(why) = sent {
            lost(&mut link, &mut sender, &mut next_attempt, why)?;
        }
    }
    let sender = match link {
        Some(l) => l.close(),
        None => sender.expect("the sender is home between sessions"),
    };
    report.frames = sender.frames;
    report.packets = sender.packets;
    report.bytes = sender.bytes;
    report.refused = sender.refused;
    Ok(report)
}

/// Serves the link until `until` (with none, sleeps); `Err` when its session failed.
fn serve_until(link: &mut Option<Link>, until: Instant) -> Result<()> {
    match link {
        Some(l) => l.drive(until),
        None => {
            if let Some(wait) = until.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            Ok(())
        }
    }
}

/// A session that could not start: tried again in a second when reconnecting and something was
/// published before (or the first frames are still coming); else the error.
fn retry_or_fail(
    settings: &Settings,
    report: &Report,
    n: u64,
    next_attempt: &mut Instant,
    e: anyhow::Error,
) -> Result<()> {
    if settings.reconnect && (report.connections > 0 || n > 1) {
        tracing::warn!(error = %e, "cannot publish now: trying again");
        *next_attempt = Instant::now() + RETRY;
        return Ok(());
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse() {
        assert_eq!("-".parse(), Ok(Input::Stdin));
        assert_eq!(
            "pattern:1920x1080".parse(),
            Ok(Input::Pattern {
                width: 1920,
                height: 1080
            })
        );
        assert_eq!(
            "pattern".parse(),
            Ok(Input::Pattern {
                width: 1280,
                height: 720
            })
        );
        assert!("pattern:1x2".parse::<Input>().is_err());
        assert_eq!("a.mjpeg".parse(), Ok(Input::File("a.mjpeg".into())));
    }
}
