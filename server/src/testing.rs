//! The core's unit-test kit: media made once in a temporary directory, a core on a fixed seed
//! and a fake clock, and connections that send requests and read replies — no socket, no
//! thread, no real time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_common::rtsp::{self, Message, Parsed, Response};
use hdstream_video::pattern;

use crate::core::{Config, Server, Socket};
use crate::media::{Catalogue, FpsPolicy, Media};
use crate::session::ConnId;

/// Frames in each test file.
pub const FRAMES: u64 = 30;
/// Frame size of the test files.
pub const SIZE: (u16, u16) = (320, 240);

/// A directory (unique to this process) holding the test media:
/// - `clip.mjpeg`: [`FRAMES`] pattern frames, plain container (30 fps: 1 s);
/// - `movie.Mjpeg`: the same frames in the course's container (20 fps: 1.5 s);
/// - `full.mjpeg`: one 4:4:4 frame, which RFC 2435 cannot carry;
/// - `talk.mjpeg` + `talk.wav` + `talk.vtt`: the clip with 1 s of 48 kHz stereo sound and two
///   captions beside it;
/// - `escape.mjpeg`: a symbolic link to a file outside the directory.
pub fn media_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hdstream-core-{}", std::process::id()));
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    // Tests run on several threads: each writes its own copy and renames it into place.
    let tmp =
        dir.with_extension(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("create the test media directory");
    let frames = pattern::frames(SIZE.0, SIZE.1, FRAMES, 80).expect("encode pattern frames");
    std::fs::write(tmp.join("clip.mjpeg"), pattern::plain(&frames)).expect("write clip.mjpeg");
    std::fs::write(tmp.join("movie.Mjpeg"), pattern::course(&frames)).expect("write movie.Mjpeg");
    std::fs::write(tmp.join("full.mjpeg"), full_chroma_jpeg()).expect("write full.mjpeg");
    std::fs::write(tmp.join("talk.mjpeg"), pattern::plain(&frames)).expect("write talk.mjpeg");
    std::fs::write(tmp.join("talk.wav"), talk_wav()).expect("write talk.wav");
    std::fs::write(tmp.join("talk.vtt"), TALK_VTT).expect("write talk.vtt");
    // A link out of the media root, to a file that must not be served.
    let outside = std::env::temp_dir().join(format!("hdstream-outside-{}", std::process::id()));
    std::fs::create_dir_all(&outside).expect("create the outside directory");
    std::fs::write(outside.join("secret.mjpeg"), pattern::plain(&frames)).expect("write secret");
    let _ = std::os::unix::fs::symlink(outside.join("secret.mjpeg"), tmp.join("escape.mjpeg"));
    std::fs::write(tmp.join(".complete"), b"").expect("mark complete");
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another thread got there first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

/// `talk.vtt`: two captions within the clip's second.
pub const TALK_VTT: &str = "WEBVTT\n\n00:00.200 --> 00:00.500\nhello\n\n\
                            00:00.600 --> 00:00.900 line:0\n<b>two</b>\nlines\n";

/// Sample `i` of channel `c` of `talk.wav`: a ramp, so every sample says where it is.
pub fn talk_sample(i: usize, c: usize) -> i16 {
    ((i * 7 + c * 1000) % 30_000) as i16
}

/// `talk.wav`: 1 s (as long as the clip) of 48 kHz stereo [`talk_sample`]s.
fn talk_wav() -> Vec<u8> {
    let samples: Vec<i16> = (0..48_000)
        .flat_map(|i| [talk_sample(i, 0), talk_sample(i, 1)])
        .collect();
    crate::sound::wav_bytes(48_000, 2, &samples)
}

/// A 64x64 JPEG with 4:4:4 sampling (RFC 2435 carries 4:2:0 and 4:2:2 only).
fn full_chroma_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    let rgb = vec![128u8; 64 * 64 * 3];
    encoder
        .encode(&rgb, 64, 64, jpeg_encoder::ColorType::Rgb)
        .expect("encode a 4:4:4 frame");
    out
}

/// `clip.mjpeg` alone, as the stream tests use it.
pub fn clip() -> Media {
    let path = media_dir().join("clip.mjpeg");
    Media {
        name: "clip.mjpeg".into(),
        file: hdstream_video::MjpegFile::open(&path).expect("index clip.mjpeg"),
        fps: 30.0,
        not_ready: None,
        sound: None,
        captions: None,
    }
}

/// A sans-IO server over [`media_dir`], with a fake clock.
#[derive(Debug)]
pub struct Core {
    /// The server.
    pub server: Server,
    /// The fake clock's now.
    pub now: Instant,
    next_conn: ConnId,
}

/// A datagram the core sent: which socket, where to, the bytes.
pub type Datagram = (Socket, SocketAddr, Vec<u8>);

impl Core {
    /// A core with `config` (server ports 6970-6971) on seed 1.
    pub fn new(mut config: Config) -> Core {
        config.server_ports = (6970, 6971);
        let (catalogue, _skipped) =
            Catalogue::open(&media_dir(), &FpsPolicy::default()).expect("open the test media");
        let now = Instant::now();
        let server = Server::new(config, Arc::new(catalogue), 1, (now, SystemTime::now()));
        Core {
            server,
            now,
            next_conn: 1,
        }
    }

    /// A core with the default settings.
    pub fn default_config() -> Core {
        Core::new(Config::default())
    }

    /// Moves the clock on.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// A new connection from 127.0.0.1:`port`.
    pub fn connect(&mut self, port: u16) -> ConnId {
        self.connect_from(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// A new connection from `peer`.
    pub fn connect_from(&mut self, peer: SocketAddr) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.server.open(conn, peer, self.now);
        conn
    }

    /// Sends `bytes` on `conn` and returns everything the core then wrote to it.
    pub fn exchange(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<u8> {
        self.server.receive(conn, bytes, self.now);
        self.take_output(conn)
    }

    /// What the core has written to `conn` since the last call.
    pub fn take_output(&mut self, conn: ConnId) -> Vec<u8> {
        let out = self.server.output(conn).to_vec();
        self.server.written(conn, out.len());
        out
    }

    /// Sends a request (CRLF lines, `CSeq` added when `headers` has none) and parses the one
    /// reply.
    pub fn request(&mut self, conn: ConnId, method_url: &str, headers: &[&str]) -> Response {
        let mut text = format!("{method_url} RTSP/1.0\r\n");
        if !headers.iter().any(|h| h.starts_with("CSeq:")) {
            text.push_str("CSeq: 1\r\n");
        }
        for h in headers {
            text.push_str(h);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        let out = self.exchange(conn, text.as_bytes());
        reply(&out)
    }

    /// Runs the core's transmit pass at the current time and returns the datagrams sent.
    pub fn transmit(&mut self) -> Vec<Datagram> {
        let mut sent = Vec::new();
        self.server
            .transmit_all(self.now, &mut |socket, to, bytes| {
                sent.push((socket, to, bytes.to_vec()));
            });
        sent
    }

    /// Steps the clock 1 ms at a time for `span`, collecting every datagram sent.
    pub fn run_for(&mut self, span: Duration) -> Vec<Datagram> {
        let end = self.now + span;
        let mut sent = Vec::new();
        while self.now < end {
            sent.extend(self.transmit());
            self.now += Duration::from_millis(1);
        }
        sent
    }
}

/// The one RTSP reply in `bytes`.
pub fn reply(bytes: &[u8]) -> Response {
    match rtsp::parse(bytes) {
        Ok(Parsed::Complete {
            message: Message::Response(r),
            consumed,
        }) => {
            assert_eq!(consumed, bytes.len(), "one reply, nothing after it");
            r
        }
        other => panic!(
            "not one whole reply: {other:?} in {:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// The id in a reply's `Session` header.
pub fn session_id(reply: &Response) -> String {
    let value = reply.headers.get("Session").expect("a Session header");
    value.split(';').next().unwrap_or(value).trim().to_owned()
}
