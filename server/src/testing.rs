//! The core's unit-test kit: media made once ([`crate::test_media`]), a core on a fixed seed
//! and a fake clock, and connections that send requests and read replies — no socket, no
//! thread, no real time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_common::rtsp::{self, Message, Parsed, Response};

use crate::core::{Config, Server, Socket};
use crate::media::{Catalogue, FpsPolicy, Media};
use crate::session::ConnId;

pub use crate::test_media::{CORE_FRAMES as FRAMES, talk_sample};

/// The core's media root, made once (see [`crate::test_media::core_dir`]).
pub fn media_dir() -> PathBuf {
    crate::test_media::core_dir()
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
    pub fn new(config: Config) -> Core {
        Core::over(&media_dir(), config)
    }

    /// A core with `config` serving `media` (a directory or one file).
    pub fn over(media: &std::path::Path, mut config: Config) -> Core {
        config.server_ports = (6970, 6971);
        let (catalogue, _skipped) =
            Catalogue::open(media, &FpsPolicy::default()).expect("open the test media");
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

    /// A new connection to the HTTP port from 127.0.0.1:`port`.
    pub fn connect_http(&mut self, port: u16) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        let peer = SocketAddr::from(([127, 0, 0, 1], port));
        self.server.open_http(conn, peer, self.now);
        conn
    }

    /// A new connection from `peer`.
    pub fn connect_from(&mut self, peer: SocketAddr) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.server.open(conn, peer, self.now);
        conn
    }

    /// Sends `bytes` on `conn` and returns everything the core then wrote to it.
    /// Files the core asks to open are opened at once, as the driver would on a thread.
    pub fn exchange(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<u8> {
        self.server.receive(conn, bytes, self.now);
        self.open_files();
        self.take_output(conn)
    }

    /// Opens the files the core asks for ([`Server::poll_open`]) and hands them back.
    pub fn open_files(&mut self) {
        while let Some(job) = self.server.poll_open() {
            self.server.opened(job.run(), self.now);
        }
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

/// `packet` interleaved on `channel` (RFC 2326 §10.12).
pub fn interleaved(channel: u8, packet: &[u8]) -> Vec<u8> {
    let mut out = rtsp::Data::header(channel, packet.len()).unwrap().to_vec();
    out.extend_from_slice(packet);
    out
}

/// Frame `n` of [`clip`] as a publisher sends it: RFC 2435 packets (payload type 26, SSRC
/// `0xCAFE`, timestamp `n * 3000`), interleaved on channel 0.
pub fn interleaved_frame(n: usize) -> Vec<u8> {
    let media = clip();
    let frame = media.file.rfc2435_frame(n % media.file.len()).unwrap();
    let mut out = Vec::new();
    for (i, f) in hdstream_common::rfc2435::Packetizer::new(&frame, 1200)
        .unwrap()
        .enumerate()
    {
        let header = hdstream_common::rtp::Header {
            marker: f.marker,
            payload_type: 26,
            sequence_number: (n * 100 + i) as u16,
            timestamp: n as u32 * 3000,
            ssrc: 0xCAFE,
        };
        let mut packet = Vec::new();
        header.append(&[f.header(), f.data], &mut packet).unwrap();
        out.extend(interleaved(0, &packet));
    }
    out
}

/// A publisher recording `url` (a `live/<name>` URL) over TCP on a new connection, from
/// port 41000: its connection and session. Its frames then go in as [`interleaved_frame`]s.
pub fn publisher(core: &mut Core, url: &str) -> (ConnId, String) {
    let conn = core.connect(41000);
    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\na=framerate:30\r\n";
    announce(core, conn, url, sdp);
    let r = core.request(
        conn,
        &format!("SETUP {url}/streamid=0"),
        &["Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"],
    );
    assert_eq!(r.status.as_u16(), 200);
    let id = session_id(&r);
    let r = core.request(conn, &format!("RECORD {url}"), &[&format!("Session: {id}")]);
    assert_eq!(r.status.as_u16(), 200);
    (conn, id)
}

/// Sends `ANNOUNCE url` with `sdp` on `conn` (CSeq 1), which must be
/// answered 200.
pub fn announce(core: &mut Core, conn: ConnId, url: &str, sdp: &str) {
    let announce = format!(
        "ANNOUNCE {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    assert_eq!(
        reply(&core.exchange(conn, announce.as_bytes()))
            .status
            .as_u16(),
        200
    );
}

/// The packets a track's sender appends in one call, each accepted, one `Vec` a packet: `send`
/// calls the sender's `send` with the buffer and the accepting closure it is given.
pub fn accepted(
    send: impl FnOnce(&mut Vec<u8>, &mut dyn FnMut(usize, &mut Vec<u8>) -> bool),
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut lens = Vec::new();
    send(&mut out, &mut |len, _| {
        lens.push(len);
        true
    });
    let mut rest = &out[..];
    lens.into_iter()
        .map(|len| {
            let (p, tail) = rest.split_at(len);
            rest = tail;
            p.to_vec()
        })
        .collect()
}

/// The packets `stream` sends of `feed` at `now`, each accepted, one `Vec` a packet.
pub fn sent_packets(
    stream: &mut crate::live_track::LiveTrackStream,
    feed: &crate::live_track::TrackFeed,
    now: Instant,
) -> Vec<Vec<u8>> {
    accepted(|out, accept| {
        stream.send(feed, now, out, accept);
    })
}
