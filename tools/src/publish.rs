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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use hdstream_common::rfc2435::Packetizer;
use hdstream_common::rtsp::authenticator::Authenticator;
use hdstream_common::rtsp::header::{Session as SessionHeader, Transport};
use hdstream_common::rtsp::{self, Message, Method, Parsed, Request, Response};
use hdstream_common::sdp::{MjpegStream, SessionDescription};
use hdstream_common::{rtcp, rtp};
use hdstream_video::MjpegFile;
use hdstream_video::jpeg::Header;
use hdstream_video::pattern::Pattern;
use hdstream_video::split::Splitter;

/// RTP payload type of JPEG (RFC 3551 §6).
const JPEG: u8 = 26;
/// IPv4 + UDP + RTP header bytes, subtracted from the MTU.
const HEADERS: usize = 28 + rtp::Header::LEN;
/// Between sender reports.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// Between connection attempts while the server is away.
const RETRY: Duration = Duration::from_secs(1);
/// How long a reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest reply taken from the server (an SDP-less RTSP reply is a few hundred bytes).
const MAX_REPLY: usize = 64 * 1024;
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
    File { file: MjpegFile, next: usize },
    Stdin { splitter: Splitter, eof: bool },
    Pattern { pattern: Pattern, quality: u8 },
}

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
            Input::Stdin => Frames::Stdin {
                splitter: Splitter::new(MAX_FRAME),
                eof: false,
            },
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

    /// Frame `n`, captured at `clock` (the pattern draws it); `None` at the end of stdin.
    fn next(&mut self, n: u64, clock: SystemTime) -> Result<Option<Vec<u8>>> {
        match self {
            Frames::File { file, next } => {
                let frame = file.frame(*next).map(<[u8]>::to_vec);
                *next = (*next + 1) % file.len();
                frame
                    .map(Some)
                    .ok_or_else(|| anyhow!("frame {next} is missing"))
            }
            Frames::Pattern { pattern, quality } => {
                let since_epoch = clock.duration_since(UNIX_EPOCH).unwrap_or_default();
                let mut jpeg = Vec::new();
                let settings = hdstream_video::encoder::Settings::quality(*quality);
                pattern.encode_with_clock(n, since_epoch, settings, &mut jpeg)?;
                Ok(Some(jpeg))
            }
            Frames::Stdin { splitter, eof } => {
                let mut stdin = std::io::stdin().lock();
                let mut buf = vec![0; 64 * 1024];
                loop {
                    match splitter.next_frame() {
                        Some(Ok(frame)) => return Ok(Some(frame)),
                        Some(Err(e)) => tracing::warn!(error = %e, "stdin"),
                        None if *eof => return Ok(None),
                        None => {}
                    }
                    let read = stdin.read(&mut buf).context("reading stdin")?;
                    if read == 0 {
                        *eof = true;
                    }
                    splitter.push(&buf[..read]);
                }
            }
        }
    }
}

/// One RECORD session with the server.
struct Connection {
    control: TcpStream,
    session: String,
    /// Set by the reader thread when the server closes the connection.
    gone: Arc<AtomicBool>,
    udp: Option<UdpPath>,
    /// Frames and RTCP staged for one write (TCP).
    out: Vec<u8>,
}

/// UDP sockets and the server's ports.
struct UdpPath {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    server_rtp: SocketAddr,
    server_rtcp: SocketAddr,
}

/// Reads RTSP replies off a blocking connection.
struct Replies<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
}

impl Replies<'_> {
    fn next(&mut self) -> Result<Response> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut chunk = [0u8; 4096];
        loop {
            match rtsp::parse(&self.buf) {
                Ok(Parsed::Complete { message, consumed }) => {
                    let response = match message {
                        Message::Response(r) => Some(r),
                        _ => None,
                    };
                    self.buf.drain(..consumed);
                    if let Some(r) = response {
                        return Ok(r);
                    }
                    continue;
                }
                Ok(Parsed::Incomplete { .. }) => {}
                Err(e) => bail!("the server's reply does not parse: {e}"),
            }
            if Instant::now() > deadline {
                bail!("no reply from the server within {REPLY_TIMEOUT:?}");
            }
            if self.buf.len() > MAX_REPLY {
                bail!("a reply of more than {MAX_REPLY} bytes from the server");
            }
            let n = self.stream.read(&mut chunk).context("reading a reply")?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The SDP announced: one RFC 2435 stream of `size` at `fps`, live.
fn announcement(size: (u16, u16), fps: f64) -> String {
    SessionDescription::mjpeg(&MjpegStream {
        session_id: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        session_version: 1,
        origin_address: "127.0.0.1",
        session_name: "hdstream-publish",
        control: "trackID=0",
        duration: None,
        live: true,
        framerate: fps,
        width: u32::from(size.0),
        height: u32::from(size.1),
        rtx: None,
    })
    .to_string()
}

impl Connection {
    /// Connects, announces, sets up and records.
    fn open(settings: &Settings, size: (u16, u16)) -> Result<Connection> {
        let (host, port) = rtsp::url::host_port(&settings.url)
            .map_err(|why| anyhow!("{}: {why}", settings.url))?;
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .ok_or_else(|| anyhow!("{host} has no address"))?;
        let mut control = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
            .with_context(|| format!("cannot connect to {addr}"))?;
        control.set_nodelay(true)?;
        control.set_read_timeout(Some(Duration::from_millis(200)))?;
        let (url, in_url) = rtsp::auth::split_userinfo(settings.url.trim_end_matches('/'));
        let mut authenticator = settings
            .credentials
            .clone()
            .or(in_url)
            .map(|(user, password)| Authenticator::new(user, password));
        let mut cseq = 0u32;
        let mut replies_buf = Vec::new();
        let mut ask = |control: &mut TcpStream,
                       mut request: Request,
                       buf: &mut Vec<u8>|
         -> Result<Response> {
            let mut reply = None;
            // Once more after a 401 whose challenge the credentials can answer.
            for _ in 0..2 {
                cseq += 1;
                request.headers.set("CSeq", cseq.to_string());
                request.headers.set(
                    "User-Agent",
                    concat!("hdstream-publish/", env!("CARGO_PKG_VERSION")),
                );
                if let Some(auth) = authenticator.as_mut()
                    && let Some(value) = auth.authorization(request.method.as_str(), &request.uri)
                {
                    request.headers.set("Authorization", value);
                }
                control.write_all(&request.to_bytes())?;
                let mut replies = Replies {
                    stream: control,
                    buf: std::mem::take(buf),
                };
                let got = replies.next();
                *buf = replies.buf;
                let got = got?;
                let retry = got.status == rtsp::StatusCode::UNAUTHORIZED
                    && !request.headers.contains("Authorization")
                    && authenticator
                        .as_mut()
                        .is_some_and(|a| a.challenged(got.headers.get_all("WWW-Authenticate")));
                reply = Some(got);
                if !retry {
                    break;
                }
            }
            let reply = reply.ok_or_else(|| anyhow!("no reply"))?;
            if !reply.status.is_success() {
                bail!(
                    "{} {}: {} {} {}",
                    request.method.as_str(),
                    request.uri,
                    reply.status.as_u16(),
                    reply.reason,
                    String::from_utf8_lossy(&reply.body).trim()
                );
            }
            Ok(reply)
        };
        let mut announce = Request::new(Method::Announce, url.clone());
        announce.headers.set("Content-Type", "application/sdp");
        announce.body = announcement(size, settings.fps).into_bytes();
        ask(&mut control, announce, &mut replies_buf)?;

        let udp = match settings.carriage {
            Carriage::Tcp => None,
            Carriage::Udp => Some(bind_pair(addr)?),
        };
        let transport = match &udp {
            None => "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record".to_owned(),
            Some((rtp, rtcp)) => format!(
                "RTP/AVP;unicast;client_port={}-{};mode=record",
                rtp.local_addr()?.port(),
                rtcp.local_addr()?.port()
            ),
        };
        let mut setup = Request::new(Method::Setup, format!("{url}/trackID=0"));
        setup.headers.set("Transport", transport);
        let reply = ask(&mut control, setup, &mut replies_buf)?;
        let session = reply
            .session()
            .and_then(Result::ok)
            .ok_or_else(|| anyhow!("SETUP reply without a Session"))?;
        let udp = match udp {
            None => None,
            Some((rtp, rtcp)) => {
                let ports = reply
                    .headers
                    .typed::<Transport>()
                    .and_then(Result::ok)
                    .and_then(|t| t.0.into_iter().next())
                    .and_then(|spec| spec.server_port())
                    .ok_or_else(|| anyhow!("SETUP reply without server_port"))?;
                let server_rtcp = ports.rtcp.unwrap_or(ports.rtp.wrapping_add(1));
                Some(UdpPath {
                    rtp,
                    rtcp,
                    server_rtp: SocketAddr::new(addr.ip(), ports.rtp),
                    server_rtcp: SocketAddr::new(addr.ip(), server_rtcp),
                })
            }
        };
        let mut record = Request::new(Method::Record, url.clone());
        record
            .headers
            .set_typed(&SessionHeader::new(session.id.clone()));
        record.headers.set("Range", "npt=now-");
        ask(&mut control, record, &mut replies_buf)?;

        // Whatever the server says from now on (RTCP, replies) is read and dropped; its end is
        // the server going away.
        let gone = Arc::new(AtomicBool::new(false));
        let mut reader = control.try_clone()?;
        reader.set_read_timeout(None)?;
        let flag = Arc::clone(&gone);
        std::thread::Builder::new()
            .name("publish-reader".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
                flag.store(true, Ordering::SeqCst);
            })?;
        tracing::info!(%url, session = %session.id, carriage = ?settings.carriage, "recording");
        Ok(Connection {
            control,
            session: session.id,
            gone,
            udp,
            out: Vec::new(),
        })
    }

    /// Stages one RTP (or, `rtcp`, RTCP) packet: interleaved on channel 0 (1) for the next
    /// write, or sent as a datagram to the server's RTP (RTCP) port.
    fn put(&mut self, rtcp: bool, packet: &[u8]) -> Result<()> {
        match &self.udp {
            Some(udp) => {
                let (socket, to) = if rtcp {
                    (&udp.rtcp, udp.server_rtcp)
                } else {
                    (&udp.rtp, udp.server_rtp)
                };
                socket.send_to(packet, to)?;
            }
            None => {
                let header = rtsp::Data::header(u8::from(rtcp), packet.len())?;
                self.out.extend_from_slice(&header);
                self.out.extend_from_slice(packet);
            }
        }
        Ok(())
    }

    /// Writes what is staged (TCP).
    fn flush(&mut self) -> Result<()> {
        if self.gone.load(Ordering::SeqCst) {
            bail!("the server closed the connection");
        }
        if !self.out.is_empty() {
            self.control.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
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

/// The RTP side: sequence numbers, SSRC, counters.
struct Sender {
    ssrc: u32,
    seq: u16,
    ts_base: u32,
    max_payload: usize,
    packet: Vec<u8>,
    report: Report,
    /// The newest frame's RTP timestamp and capture time, for sender reports.
    last: Option<(u32, SystemTime)>,
    next_report: Instant,
}

impl Sender {
    /// Sends frame `jpeg` with `timestamp` over `conn`, spread over `spread`.
    fn frame(
        &mut self,
        conn: &mut Connection,
        jpeg: &[u8],
        timestamp: u32,
        spread: Duration,
    ) -> Result<bool> {
        let frame = match Header::parse(jpeg)
            .map_err(anyhow::Error::from)
            .and_then(|h| Ok(hdstream_video::rfc2435::frame(&h)?))
        {
            Ok(frame) => frame,
            Err(e) => {
                if self.report.refused == 0 {
                    tracing::warn!(error = %e, "a frame cannot travel as RFC 2435 (with ffmpeg: -c:v mjpeg -huffman default -pix_fmt yuvj420p); such frames are left out");
                }
                self.report.refused += 1;
                return Ok(false);
            }
        };
        let packetizer = Packetizer::new(&frame, self.max_payload)?;
        let count = packetizer.fragment_count().max(1);
        let start = Instant::now();
        for (i, fragment) in packetizer.enumerate() {
            self.packet.clear();
            let header = rtp::Header {
                marker: fragment.marker,
                payload_type: JPEG,
                sequence_number: self.seq,
                timestamp,
                ssrc: self.ssrc,
            };
            header.append(&[fragment.header(), fragment.data], &mut self.packet)?;
            let packet = std::mem::take(&mut self.packet);
            let sent = conn.put(false, &packet);
            self.packet = packet;
            sent?;
            self.seq = self.seq.wrapping_add(1);
            self.report.packets += 1;
            self.report.bytes += (fragment.header().len() + fragment.data.len()) as u64;
            if conn.udp.is_some() && i % 16 == 15 {
                // Spread the datagrams so the server's socket buffer takes them.
                let due = start + spread.mul_f64((i + 1) as f64 / count as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }
        conn.flush()?;
        self.report.frames += 1;
        Ok(true)
    }

    /// A sender report (with SDES CNAME) when one is due, mapping the newest frame's
    /// timestamp to its capture time (RFC 3550 §6.4.1).
    fn report(&mut self, conn: &mut Connection, now: Instant) -> Result<()> {
        let Some((timestamp, captured)) = self.last else {
            return Ok(());
        };
        if now < self.next_report {
            return Ok(());
        }
        self.next_report = now + REPORT_INTERVAL;
        let info = rtcp::SenderInfo {
            ssrc: self.ssrc,
            ntp_timestamp: rtcp::NtpTimestamp::from_system_time(captured),
            rtp_timestamp: timestamp,
            packet_count: self.report.packets as u32,
            octet_count: self.report.bytes as u32,
        };
        let mut buf = [0u8; 256];
        let mut writer = rtcp::Writer::new(&mut buf);
        writer.sender_report(&info, &[])?;
        writer.cname(
            self.ssrc,
            format!("hdstream-publish-{}", std::process::id()).as_bytes(),
        )?;
        let len = writer.finish();
        conn.put(true, &buf[..len])?;
        conn.flush()
    }
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
    let mut sender = Sender {
        ssrc: random[0],
        seq: random[1] as u16,
        ts_base: random[2],
        max_payload: settings.mtu.saturating_sub(HEADERS).max(256),
        packet: Vec::new(),
        report: Report::default(),
        last: None,
        next_report: Instant::now(),
    };
    let interval = Duration::from_secs_f64(1.0 / settings.fps);
    let start = Instant::now();
    let wall_start = SystemTime::now();
    let mut conn: Option<Connection> = None;
    let mut next_attempt = start;
    let mut n: u64 = 0;
    loop {
        if stop.load(Ordering::SeqCst)
            || settings.frames.is_some_and(|max| n >= max)
            || settings.duration.is_some_and(|d| start.elapsed() >= d)
        {
            break;
        }
        // When frame n is due (the schedule), or now (stdin).
        let due = start + interval.mul_f64(n as f64);
        if !by_arrival && let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // A scheduled frame is captured when due (the pattern draws that time); one from stdin
        // when it has been read.
        let Some(jpeg) = frames.next(n, wall_start + due.duration_since(start))? else {
            break;
        };
        let elapsed = if by_arrival {
            start.elapsed()
        } else {
            due - start
        };
        let captured = wall_start + elapsed;
        let timestamp = sender
            .ts_base
            .wrapping_add((elapsed.as_secs_f64() * 90_000.0).round() as u64 as u32);
        n += 1;
        // Behind schedule by more than a frame (a pattern too big to draw in time): the next
        // frame goes on from now.
        if !by_arrival && Instant::now() > due + interval * 2 {
            let behind = (Instant::now() - due).as_secs_f64() / interval.as_secs_f64();
            let skip = behind.floor() as u64 - 1;
            n += skip;
            sender.report.skipped += skip;
        }
        if conn.is_none() && Instant::now() >= next_attempt {
            let size = Header::parse(&jpeg)
                .map(|h| (h.width, h.height))
                .unwrap_or((0, 0));
            match Connection::open(settings, size) {
                Ok(c) => {
                    sender.report.connections += 1;
                    sender.next_report = Instant::now();
                    conn = Some(c);
                }
                Err(e) if settings.reconnect && sender.report.connections > 0 => {
                    tracing::warn!(error = %e, "the server is away: trying again");
                    next_attempt = Instant::now() + RETRY;
                }
                Err(e) if settings.reconnect && n > 1 => {
                    tracing::warn!(error = %e, "cannot publish yet: trying again");
                    next_attempt = Instant::now() + RETRY;
                }
                Err(e) => return Err(e),
            }
        }
        let Some(c) = conn.as_mut() else {
            sender.report.skipped += 1;
            continue;
        };
        let sent = sender
            .frame(c, &jpeg, timestamp, interval.mul_f64(SPREAD))
            .and_then(|sent| {
                if sent {
                    sender.last = Some((timestamp, captured));
                }
                sender.report(c, Instant::now())
            });
        if let Err(e) = sent {
            if !settings.reconnect {
                return Err(e.context("the server went away"));
            }
            tracing::warn!(error = %e, "the server went away: reconnecting");
            conn = None;
            next_attempt = Instant::now() + RETRY;
        }
    }
    if let Some(mut c) = conn {
        let url = rtsp::auth::split_userinfo(&settings.url).0;
        let mut teardown = Request::new(Method::Teardown, url);
        teardown.headers.set("CSeq", "1000");
        teardown
            .headers
            .set_typed(&SessionHeader::new(c.session.clone()));
        let _ = c.control.write_all(&teardown.to_bytes());
        let _ = c.control.shutdown(std::net::Shutdown::Write);
    }
    Ok(sender.report)
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
