//! Helpers for the hostile-input and fault tests (`hostile.rs`, `faults.rs`): test-pattern media,
//! a healthy session that counts what it receives while other things go wrong, a raw RTSP probe
//! that tells a reply from a close from silence, `/proc` readings, and the server binary as a
//! child process whose log can be watched while it runs.
//!
//! Builds on `common` (media cache, UDP pairs, the well-behaved RTSP client).

#![allow(dead_code)] // each test binary uses a part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdstream_common::rtsp::{self, Message, Parsed, Response};
use hdstream_common::{rtcp, rtp};
use hdstream_video::encoder::Settings;

use crate::common::{self, Rtsp};

// ---------------------------------------------------------------- media

/// A test-pattern MJPEG (plain concatenated RFC 2435-ready JPEGs, 4:2:0, standard Huffman
/// tables) of `frames` frames, cached under `target/test-media/` by its parameters.
pub fn pattern_clip(width: u16, height: u16, frames: u32, quality: u8) -> PathBuf {
    common::pattern_file_with(width, height, u64::from(frames), Settings::quality(quality))
}

// ---------------------------------------------------------------- /proc

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `RssAnon`…), in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Resident set size of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// Open file descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/fd: {e}"))
        .count()
}

/// Polls `fd_count(pid)` until it is at most `target` or `deadline` passes; the last count.
pub fn wait_fds_at_most(pid: u32, target: usize, deadline: Instant) -> usize {
    loop {
        let n = fd_count(pid);
        if n <= target || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// This process's (soft, hard) limits on open files (`u64::MAX`: unlimited).
pub fn fd_limits() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default();
    // "Max open files            1024                 4096                 files"
    let mut values = line
        .split_whitespace()
        .skip(3)
        .map(|v| v.parse().unwrap_or(u64::MAX));
    (
        values.next().unwrap_or(u64::MAX),
        values.next().unwrap_or(u64::MAX),
    )
}

/// Raises this process's soft limit on open files to its hard limit (util-linux `prlimit`),
/// best effort; the soft limit after.
pub fn raise_fd_limit() -> u64 {
    let (soft, hard) = fd_limits();
    if soft < hard {
        let hard = if hard == u64::MAX {
            "unlimited".to_owned()
        } else {
            hard.to_string()
        };
        let _ = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={hard}:{hard}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    fd_limits().0
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
        let stream = TcpStream::connect_timeout(&addr, common::REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Probe::wrap(stream)
    }

    /// A probe on a connection opened elsewhere.
    pub fn wrap(stream: TcpStream) -> Probe {
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(common::REPLY_TIMEOUT))
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
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::Silent;
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("read timeout");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Event::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Event::Silent;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Event::Closed,
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
        let mut text = format!("{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n");
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        self.send(text.as_bytes())
            .map_err(|e| format!("{method}: write failed: {e}"))?;
        let reply = self.reply(common::REPLY_TIMEOUT)?;
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

// ---------------------------------------------------------------- healthy session

/// What a [`Healthy`] session received.
#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    frames: AtomicU64,
    complete: AtomicU64,
    lost: AtomicU64,
}

/// A snapshot of a healthy session's reception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    /// RTP packets.
    pub packets: u64,
    /// Frames (packets with the marker bit).
    pub frames: u64,
    /// Frames whose every packet arrived (first fragment at offset 0, no sequence gap).
    pub complete: u64,
    /// Packets missing by sequence number.
    pub lost: u64,
}

/// A well-behaved UDP client playing a looping file next to whatever a test does: it counts
/// RTP packets and complete frames and sends a receiver report every second (RFC 3550 §6.4.2).
#[derive(Debug)]
pub struct Healthy {
    control: Rtsp,
    url: String,
    session: String,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    /// When PLAY was answered.
    pub started: Instant,
    thread: Option<JoinHandle<()>>,
}

impl Healthy {
    /// SETUP (UDP) and PLAY of `url` on `rtsp`; `server_rtcp` receives the reports.
    pub fn start(rtsp: SocketAddr, url: &str, server_rtcp: SocketAddr) -> Healthy {
        let common::UdpPlay {
            rtsp: control,
            id: session,
            rtp,
            rtcp,
            ..
        } = common::setup_and_play_udp(rtsp, url, "healthy");
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let thread = {
            let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
            std::thread::Builder::new()
                .name("healthy-receiver".into())
                .spawn(move || receive(&rtp, &rtcp, server_rtcp, &stop, &counters))
                .expect("spawn receiver")
        };
        Healthy {
            control,
            url: url.to_owned(),
            session,
            stop,
            counters,
            started: Instant::now(),
            thread: Some(thread),
        }
    }

    /// What has arrived so far.
    pub fn reception(&self) -> Reception {
        let c = &self.counters;
        Reception {
            packets: c.packets.load(Ordering::Relaxed),
            frames: c.frames.load(Ordering::Relaxed),
            complete: c.complete.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
        }
    }

    /// Stops receiving, tears the session down (which must still be answered 200) and returns
    /// what arrived and over how long.
    pub fn finish(mut self) -> (Reception, Duration) {
        let elapsed = self.started.elapsed();
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("healthy receiver panicked");
        }
        let reception = self.reception();
        let reply = self
            .control
            .request("TEARDOWN", &self.url, &[("Session", &self.session)]);
        assert_eq!(reply.status.as_u16(), 200, "healthy TEARDOWN");
        (reception, elapsed)
    }
}

impl Drop for Healthy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The healthy session's receive loop.
fn receive(
    rtp_socket: &UdpSocket,
    rtcp_socket: &UdpSocket,
    server_rtcp: SocketAddr,
    stop: &AtomicBool,
    counters: &Counters,
) {
    let mut report = [0u8; 128];
    let report_len = {
        let mut w = rtcp::Writer::new(&mut report);
        w.receiver_report(0x4ea1_7e55, &[]).expect("RR");
        w.cname(0x4ea1_7e55, b"healthy@127.0.0.1").expect("SDES");
        w.finish()
    };
    rtp_socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    let mut buf = vec![0u8; 65536];
    let mut next_seq: Option<u16> = None;
    let mut frame_whole = false;
    let mut next_report = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next_report {
            let _ = rtcp_socket.send_to(&report[..report_len], server_rtcp);
            next_report += Duration::from_secs(1);
        }
        let Ok(n) = rtp_socket.recv(&mut buf) else {
            continue;
        };
        let Ok(packet) = rtp::Packet::parse(&buf[..n]) else {
            continue;
        };
        counters.packets.fetch_add(1, Ordering::Relaxed);
        let seq = packet.sequence_number();
        if let Some(expected) = next_seq {
            let gap = seq.wrapping_sub(expected);
            if gap != 0 && gap < 0x8000 {
                counters.lost.fetch_add(u64::from(gap), Ordering::Relaxed);
                frame_whole = false;
            }
        }
        next_seq = Some(seq.wrapping_add(1));
        // RFC 2435 §3.1: bytes 1-3 of the payload are the fragment offset.
        let offset = packet
            .payload()
            .get(1..4)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]));
        if offset == Some(0) {
            frame_whole = true;
        }
        if packet.marker() {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            if frame_whole {
                counters.complete.fetch_add(1, Ordering::Relaxed);
            }
            frame_whole = false;
        }
    }
}

// ---------------------------------------------------------------- the server binary

/// The `hdstream-server` binary running as a child, its log collected line by line as it
/// comes; killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Its RTSP address.
    pub rtsp: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts the binary on loopback, port 0, with `args`, and waits until it listens.
    pub fn start(args: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hdstream-server"))
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hdstream-server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|err| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            })
        });
        let mut server = ServerProcess {
            child,
            rtsp: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            reader,
        };
        let line = server
            .wait_log(Instant::now() + Duration::from_secs(20), |l| {
                l.contains("listening")
            })
            .unwrap_or_else(|| {
                panic!(
                    "hdstream-server did not start listening; log:\n{}",
                    server.log_text()
                )
            });
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("rtsp="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no rtsp= address in {line:?}"));
        server.rtsp = addr;
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first log line (from the start) matching `pred`, waiting until `deadline`.
    pub fn wait_log(&self, deadline: Instant, pred: impl Fn(&str) -> bool) -> Option<String> {
        loop {
            if let Some(line) = self
                .log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|l| pred(l))
            {
                return Some(line.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it with SIGINT and waits (at most 10 s) for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        common::interrupt(self.pid());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop within 10 s of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
