//! Shared helpers for the server's integration tests: test media made with ffmpeg and cached
//! under `target/test-media/` (through `hdstream_server::test_media`), an in-process server on loopback, a raw RTSP client, UDP
//! receivers, and child processes that are always bounded in time.
//!
//! ffmpeg and GStreamer are required, not optional: a missing tool fails the test that needs it.

#![allow(dead_code)] // each test binary uses a part of this module

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdstream_common::rtcp;
use hdstream_common::rtsp::{self, Message, Parsed, Response};
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};

/// Loopback.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long any single RTSP reply may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- tools and child processes

/// The path of `name` on `PATH`; panics (the test fails, it is not skipped) when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed, and this test needs it. On Debian: apt-get install ffmpeg \
         gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
         gstreamer1.0-plugins-bad (.ci/run does this)"
    );
}

/// A child process that is killed if it is still running when this is dropped (a test that
/// panics leaves nothing behind).
#[derive(Debug)]
pub struct Bounded {
    name: String,
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// How a bounded child ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// Whether it had to be sent SIGINT at the deadline.
    pub interrupted: bool,
}

impl Finished {
    /// stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn drain(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = from.read_to_end(&mut out);
        out
    })
}

/// Starts `cmd` with stdout and stderr captured (stdin closed).
pub fn spawn(cmd: &mut Command) -> Bounded {
    spawn_watching(cmd, |_| {})
}

/// [`spawn`], with each line of stderr also handed to `watch` as it comes.
pub fn spawn_watching(cmd: &mut Command, mut watch: impl FnMut(&str) + Send + 'static) -> Bounded {
    use std::io::BufRead;
    let name = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(|err| {
        std::thread::spawn(move || {
            // Bytes, not `lines()`: a line that is not UTF-8 must not stop the reading (the
            // child would block on a full pipe).
            let mut reader = std::io::BufReader::new(err);
            let mut all = Vec::new();
            loop {
                let start = all.len();
                match reader.read_until(b'\n', &mut all) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => watch(&String::from_utf8_lossy(&all[start..])),
                }
            }
            all
        })
    });
    Bounded {
        name,
        child,
        stdout,
        stderr,
    }
}

/// Sends SIGINT to process `pid` (with the shell's built-in `kill`, present even where procps
/// is not installed).
pub fn interrupt(pid: u32) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill -INT {pid} failed");
}

impl Bounded {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(mut self, status: ExitStatus, interrupted: bool) -> Finished {
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Finished {
            status,
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            interrupted,
        }
    }

    fn kill_and_report(mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let name = self.name.clone();
        let status = self.child.try_wait().ok().flatten();
        let finished = status.map(|s| self.finish(s, false));
        let stderr = finished.as_ref().map_or("", |f| f.stderr.as_str());
        let tail: String = stderr
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("{name} {why}; killed. stderr tail:\n{tail}");
    }

    /// Waits at most `timeout` for it to exit; kills it and fails the test if it overruns.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        match self.wait_until(Instant::now() + timeout) {
            Some(status) => self.finish(status, false),
            None => self.kill_and_report(&format!("ran longer than {timeout:?}")),
        }
    }

    /// Waits at most `timeout`; then sends SIGINT and waits `grace` more (a clean stop, e.g.
    /// `gst-launch-1.0 -e` sending EOS); kills it and fails the test if it still runs.
    pub fn wait_or_interrupt(mut self, timeout: Duration, grace: Duration) -> Finished {
        if let Some(status) = self.wait_until(Instant::now() + timeout) {
            return self.finish(status, false);
        }
        interrupt(self.pid());
        match self.wait_until(Instant::now() + grace) {
            Some(status) => self.finish(status, true),
            None => self.kill_and_report(&format!("did not stop {grace:?} after SIGINT")),
        }
    }
}

impl Bounded {
    /// Like [`Bounded::wait_or_interrupt`], for a peer that may not end cleanly (a player on
    /// a lossy link that keeps asking for the packet after the last): killed, not failed, if it
    /// ignores SIGINT; what it printed until then is kept.
    pub fn stop_after(mut self, timeout: Duration, grace: Duration) -> Finished {
        if let Some(status) = self.wait_until(Instant::now() + timeout) {
            return self.finish(status, false);
        }
        interrupt(self.pid());
        if let Some(status) = self.wait_until(Instant::now() + grace) {
            return self.finish(status, true);
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for the killed child");
        self.finish(status, true)
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion within `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Finished {
    spawn(cmd).wait(timeout)
}

// ---------------------------------------------------------------- test media

/// Generated files, kept between runs under `target/test-media/`, made once
/// (`hdstream_server::test_media`, the one home of it for every test of the workspace).
#[allow(unused_imports)] // each test binary uses a part, as with the rest of this module
pub use hdstream_server::test_media::{cached, cached_bytes, pattern_file, pattern_file_with};

/// `target/test-media/`.
pub fn media_cache() -> PathBuf {
    hdstream_server::test_media::cache_dir()
}

/// An ffmpeg `testsrc2` (or other lavfi source) clip encoded as plain concatenated JPEGs with the standard Huffman
/// tables (RFC 2435-ready when `pix_fmt` is 4:2:0 or 4:2:2).
#[derive(Debug, Clone, Copy)]
pub struct Clip {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second of the pattern.
    pub fps: u32,
    /// Number of frames.
    pub frames: u32,
    /// ffmpeg pixel format, e.g. `yuvj420p`.
    pub pix_fmt: &'static str,
    /// ffmpeg `-q:v` (2 best … 31 worst).
    pub quality: u32,
    /// ffmpeg lavfi source drawn: `testsrc2` (detailed, moving) unless set.
    pub source: &'static str,
    /// ffmpeg `-huffman`: `default` (the standard tables RFC 2435 implies) unless set.
    pub huffman: &'static str,
}

impl Clip {
    /// A 30 fps, 4:2:0 clip of `seconds`.
    pub const fn new(width: u32, height: u32, seconds: u32) -> Clip {
        Clip {
            width,
            height,
            fps: 30,
            frames: seconds * 30,
            pix_fmt: "yuvj420p",
            quality: 5,
            source: "testsrc2",
            huffman: "default",
        }
    }

    /// The same clip at ffmpeg `-q:v` `quality`.
    pub const fn quality(mut self, quality: u32) -> Clip {
        self.quality = quality;
        self
    }

    /// The same clip with ffmpeg's `-huffman optimal` tables (smaller frames; a JPEG that only
    /// the course dialect, which sends the file's bytes, carries unchanged).
    pub const fn optimal_huffman(mut self) -> Clip {
        self.huffman = "optimal";
        self
    }

    /// The same clip drawn by the lavfi source `source` (e.g. `gradients`, which compresses
    /// far better than `testsrc2`).
    pub const fn source(mut self, source: &'static str) -> Clip {
        self.source = source;
        self
    }

    /// The same clip in another pixel format.
    pub const fn pix_fmt(mut self, pix_fmt: &'static str) -> Clip {
        self.pix_fmt = pix_fmt;
        self
    }

    /// The same clip with `frames` frames.
    pub const fn frames(mut self, frames: u32) -> Clip {
        self.frames = frames;
        self
    }

    /// Its cache file name (every parameter in it).
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}x{}-{}fps-{}f-{}-q{}{}.mjpeg",
            self.source,
            self.width,
            self.height,
            self.fps,
            self.frames,
            self.pix_fmt,
            self.quality,
            if self.huffman == "default" {
                ""
            } else {
                "-huffman-optimal"
            }
        )
    }

    /// The file, generated on first use.
    pub fn path(&self) -> PathBuf {
        cached(&self.file_name(), |tmp| {
            let done = run(
                Command::new(tool("ffmpeg"))
                    .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
                    .arg(format!(
                        "{}=size={}x{}:rate={}",
                        self.source, self.width, self.height, self.fps
                    ))
                    .args(["-frames:v", &self.frames.to_string(), "-c:v", "mjpeg"])
                    .args(["-q:v", &self.quality.to_string(), "-pix_fmt", self.pix_fmt])
                    .args(["-huffman", self.huffman, "-f", "mjpeg"])
                    .arg(tmp),
                Duration::from_secs(120),
            );
            assert!(
                done.status.success(),
                "ffmpeg could not make {}: {}",
                self.file_name(),
                done.stderr
            );
        })
    }
}

/// A fresh directory `target/tmp/<name>-<pid>` holding `files` (name in the root → source file), hard
/// linked (copied if that fails) so the media root is self-contained.
pub fn media_root(name: &str, files: &[(&str, &Path)]) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_roots(tmp, name);
    let root = tmp.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("create media root");
    for (file, source) in files {
        let to = root.join(file);
        // Never copy onto an existing name: it may be a hard link of `source` itself (another
        // test's root of the same name), and copying would truncate the cached file.
        let _ = std::fs::remove_file(&to);
        if std::fs::hard_link(source, &to).is_err() {
            // Copied beside and renamed over: writing through `to` could write into whatever
            // cached file it is a link of.
            let tmp = root.join(format!(".{file}.copy"));
            std::fs::copy(source, &tmp).expect("copy media");
            std::fs::rename(&tmp, &to).expect("rename copied media");
        }
    }
    root
}

/// Removes `<name>-<pid>` directories left by earlier runs whose process is gone.
fn remove_stale_roots(tmp: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(name)?.strip_prefix('-'))
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The JPEG frames of an MJPEG file, as the server indexes it.
pub fn frames_of(path: &Path) -> Vec<Vec<u8>> {
    let file = hdstream_video::MjpegFile::open(path).expect("index test media");
    (0..file.len())
        .map(|i| file.frame(i).expect("indexed frame").to_vec())
        .collect()
}

/// The end of a GStreamer pipeline that decodes JPEG and prints one MD5 line per frame.
pub const DECODE_TO_CHECKSUMS: [&str; 6] = [
    "!",
    "jpegdec",
    "!",
    "checksumsink",
    "hash=md5",
    "sync=false",
];

/// The MD5 of each decoded frame in `checksumsink` output (`<time> <md5>` per line).
pub fn checksums(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .nth(1)
                .filter(|h| h.len() == 32)
                .map(str::to_owned)
        })
        .collect()
}

/// The per-frame MD5s `ffmpeg … -f framemd5 -` prints for a decode of `input_args`; its stderr
/// holds warnings and errors, each line prefixed `[warning]` or `[error]`.
pub fn framemd5(input_args: &[&str], timeout: Duration) -> (Vec<String>, Finished) {
    let done = run(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-loglevel", "level+warning"])
            .args(input_args)
            .args(["-f", "framemd5", "-"]),
        timeout,
    );
    let md5s = parse_framemd5(&done.stdout_text());
    (md5s, done)
}

/// The hash column of framemd5 output.
pub fn parse_framemd5(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

// ---------------------------------------------------------------- sound

/// Sample rate of the tests' noise.
pub const NOISE_RATE: usize = 48_000;
/// Channels of the tests' noise.
pub const NOISE_CHANNELS: usize = 2;

/// `seconds` of 48 kHz stereo noise from `seed`: any run of 64 samples is found in one place
/// only, so a receiver's samples can be located in the source and compared.
pub fn noise(seed: u32, seconds: usize) -> Vec<i16> {
    let mut x = seed;
    (0..NOISE_RATE * NOISE_CHANNELS * seconds)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i16) / 4
        })
        .collect()
}

/// `target/test-media/<name>`: [`noise`]`(seed, seconds)` as a 16-bit PCM WAV file.
pub fn noise_wav(name: &str, seed: u32, seconds: usize) -> PathBuf {
    cached(name, |path| {
        let data = noise(seed, seconds);
        let len = u32::try_from(data.len() * 2).expect("a WAV under 4 GiB");
        let header = hdstream_common::audio::wav::header(NOISE_RATE as u32, 2, len);
        let mut bytes = header.to_vec();
        bytes.extend(data.iter().flat_map(|s| s.to_le_bytes()));
        std::fs::write(path, bytes).expect("write the WAV");
    })
}

/// Little-endian 16-bit samples of a raw file (none when it cannot be read).
pub fn read_s16le(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

// ---------------------------------------------------------------- server

/// Sends the server's log to the test's captured output (shown when a test fails).
pub fn log() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("hdstream_server=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_test_writer()
        .try_init();
}

/// A server of `media` (a directory or one file) on loopback, in this process.
pub fn serve(media: &Path, config: Config) -> Handle {
    log();
    let (catalogue, _skipped) = Catalogue::open(media, &FpsPolicy::default()).expect("open media");
    assert!(!catalogue.is_empty(), "no media in {}", media.display());
    driver::spawn(
        config,
        Arc::new(catalogue),
        Listen {
            bind: LOCALHOST,
            port: 0,
            rtp_port: None,
        },
    )
    .expect("start server")
}

/// `rtsp://127.0.0.1:port/name`.
pub fn url(handle: &Handle, name: &str) -> String {
    format!("rtsp://{}/{name}", handle.rtsp)
}

// ---------------------------------------------------------------- RTSP client

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
        let mut text = format!("{method} {url} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
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
        let mut text = format!("{method} {url} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
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
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("set read timeout");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
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

// ---------------------------------------------------------------- UDP

/// A UDP socket on loopback with a large receive buffer.
pub fn udp_socket(port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(8 << 20);
    socket.bind(&SocketAddr::new(LOCALHOST, port).into())?;
    Ok(socket.into())
}

/// An RTP socket on an even port and the RTCP socket on the next (RFC 3550 §11).
pub fn udp_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = udp_socket(0).expect("bind UDP");
        let port = rtp.local_addr().expect("local addr").port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = udp_socket(port + 1) {
            return (rtp, rtcp);
        }
    }
    panic!("no free even/odd UDP port pair");
}

/// `client_port=a-b` of a pair from [`udp_pair`].
pub fn client_ports(rtp: &UdpSocket) -> String {
    let port = rtp.local_addr().expect("local addr").port();
    format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1)
}

/// Receives one datagram before `deadline`.
pub fn recv_until(socket: &UdpSocket, buf: &mut [u8], deadline: Instant) -> Option<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        socket
            .set_read_timeout(Some(left))
            .expect("set read timeout");
        match socket.recv(buf) {
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Whether an RTCP compound holds a BYE (RFC 3550 §6.6).
pub fn is_bye(packet: &[u8]) -> bool {
    rtcp::Compound::parse(packet)
        .map(|c| c.iter().any(|p| matches!(p, rtcp::Packet::Goodbye(_))))
        .unwrap_or(false)
}

/// Waits for an RTCP BYE on `socket` until `deadline`.
pub fn wait_for_bye(socket: &UdpSocket, deadline: Instant) -> bool {
    let mut buf = [0u8; 2048];
    while let Some(n) = recv_until(socket, &mut buf, deadline) {
        if is_bye(&buf[..n]) {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------- the server binary

/// Starts the `hdstream-server` binary on loopback, port 0, with `args`; returns it once it
/// listens, and its RTSP address (read from its log).
pub fn server_binary(args: &[&str]) -> (Bounded, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hdstream-server"));
    cmd.args(["--bind", "127.0.0.1", "--port", "0"])
        .args(args)
        .env("RUST_LOG", "info");
    let (tx, rx) = std::sync::mpsc::channel();
    let bounded = spawn_watching(&mut cmd, move |line| {
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("rtsp="))
        {
            let _ = tx.send(addr.to_owned());
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(addr) => {
            let addr = addr
                .parse()
                .unwrap_or_else(|e| panic!("bad rtsp= address {addr:?}: {e}"));
            (bounded, addr)
        }
        Err(_) => bounded.kill_and_report("did not report its RTSP address"),
    }
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // proc(5): field 3 is the state (after "pid (comm)"), 14 utime, 15 stime, in clock ticks.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}
