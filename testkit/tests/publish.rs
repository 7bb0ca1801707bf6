//! Publishing through memory: `hdstream-publish`'s sans-IO core ([`Recorder`]) and the server
//! core on one simulated clock — ANNOUNCE, SETUP with `mode=record`, RECORD (RFC 2326 §10.3,
//! §10.4, §10.11), frames as RFC 2435 RTP interleaved or as paced datagrams, sender reports,
//! Digest credentials (RFC 7616), a server that never answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_server::access::Users;
use hdstream_server::core::{Config as ServerConfig, Server};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_testkit::media;
use hdstream_tools::record::{Carriage, Config, Event, Recorder, Sender};
use hdstream_video::MjpegFile;

const TICK: Duration = Duration::from_millis(1);
const URL: &str = "rtsp://127.0.0.1:8554/live/cam";
const CONN: usize = 7;
const PEER: [u8; 4] = [10, 0, 0, 2];
const RTP_PORT: u16 = 50_000;

/// A server core with an empty live path space (and a media directory beside).
fn server(mut config: ServerConfig, now: Instant) -> Server {
    config.server_ports = (6970, 6971);
    let dir = media::dir(320, 240, 3);
    let (catalogue, _) = Catalogue::open(&dir, &FpsPolicy::default()).unwrap();
    let mut server = Server::new(config, Arc::new(catalogue), 7, (now, SystemTime::now()));
    server.open(CONN, SocketAddr::from((PEER, 40_000)), now);
    server
}

fn recorder(carriage: Carriage, credentials: Option<(&str, &str)>, now: Instant) -> Recorder {
    let config = Config {
        url: URL.to_owned(),
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        carriage,
        size: (320, 240),
        fps: 30.0,
        max_payload: 300,
        spread: Duration::from_millis(8),
        cname: "test".into(),
    };
    Recorder::new(config, Sender::new(0x1234, 100), now)
}

/// The two cores joined: control bytes both ways, datagrams from the publisher to the server's
/// ports, timers; `frames` sent one every 33 ms once recording.
struct Bench {
    server: Server,
    recorder: Recorder,
    now: Instant,
    events: Vec<Event>,
    datagrams: u64,
}

impl Bench {
    fn step(&mut self) {
        let now = self.now;
        let out = self.recorder.control_output().to_vec();
        if !out.is_empty() {
            self.recorder.control_written(out.len());
            self.server.receive(CONN, &out, now);
        }
        let back = self.server.output(CONN).to_vec();
        if !back.is_empty() {
            self.server.written(CONN, back.len());
            self.recorder.receive_control(&back, now);
        }
        if self.recorder.poll_timeout().is_some_and(|t| t <= now) {
            self.recorder.handle_timeout(now);
        }
        while let Some(d) = self.recorder.poll_datagram(now) {
            let port = if d.rtcp { RTP_PORT + 1 } else { RTP_PORT };
            let from = SocketAddr::from((PEER, port));
            if d.rtcp {
                self.server.receive_rtcp(from, &d.data, now);
            } else {
                self.server.receive_rtp(from, &d.data, now);
            }
            self.datagrams += 1;
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.transmit_all(now, &mut |_, _, _| {});
        }
        while let Some(e) = self.recorder.poll_event() {
            self.events.push(e);
        }
        self.now += TICK;
    }

    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        while self.now < end {
            self.step();
        }
    }

    /// Sends `frames` of the test clip, one every 33 ms.
    fn publish(&mut self, frames: usize) {
        let file = MjpegFile::open(media::dir(320, 240, 30).join("clip.mjpeg")).unwrap();
        for n in 0..frames {
            let jpeg = file.frame(n % file.len()).unwrap().to_vec();
            let sent = self
                .recorder
                .send_frame(&jpeg, n as u32 * 3000, SystemTime::now(), self.now)
                .unwrap();
            assert!(sent);
            self.run_for(Duration::from_millis(33));
        }
    }
}

fn bench(carriage: Carriage, config: ServerConfig, credentials: Option<(&str, &str)>) -> Bench {
    let now = Instant::now();
    Bench {
        server: server(config, now),
        recorder: recorder(carriage, credentials, now),
        now,
        events: Vec::new(),
        datagrams: 0,
    }
}

fn recording(b: &mut Bench) {
    b.run_for(Duration::from_millis(50));
    assert!(b.recorder.is_recording(), "{:?}", b.events);
    assert!(matches!(b.events[..], [Event::Recording { .. }]));
}

#[test]
fn interleaved_frames_reach_the_path_whole_with_sender_reports() {
    let mut b = bench(Carriage::Tcp, ServerConfig::default(), None);
    recording(&mut b);
    b.publish(60);
    let paths = b.server.published();
    let path = &paths[0];
    assert_eq!(path.path, "live/cam");
    assert!(path.recording);
    assert_eq!((path.frames, path.frames_lost, path.ignored), (60, 0, 0));
    assert_eq!(path.size, Some((320, 240)));
    // A sender report each second: two in 2 s.
    assert_eq!(path.rtcp, 2, "{path:?}");
    let sender = b.recorder.sender();
    assert_eq!((sender.frames, sender.refused), (60, 0));
    assert_eq!(sender.packets, path.packets);
}

#[test]
fn datagrams_are_spread_and_reach_the_path() {
    let mut b = bench(
        Carriage::Udp {
            rtp: RTP_PORT,
            rtcp: RTP_PORT + 1,
        },
        ServerConfig::default(),
        None,
    );
    recording(&mut b);
    assert_eq!(b.recorder.server_ports(), Some((6970, 6971)));
    // One frame: its datagrams leave in groups over the spread, not all at once.
    let file = MjpegFile::open(media::dir(320, 240, 30).join("clip.mjpeg")).unwrap();
    let jpeg = file.frame(0).unwrap().to_vec();
    let now = b.now;
    b.recorder
        .send_frame(&jpeg, 0, SystemTime::now(), now)
        .unwrap();
    let total = b.recorder.sender().packets;
    let mut at_once = 0;
    while let Some(d) = b.recorder.poll_datagram(now) {
        b.server
            .receive_rtp(SocketAddr::from((PEER, RTP_PORT)), &d.data, now);
        at_once += 1;
    }
    assert!(
        at_once < total,
        "{at_once} of {total} datagrams due at once"
    );
    // The rest within the spread.
    b.run_for(Duration::from_millis(33));
    b.publish(30);
    let path = &b.server.published()[0];
    assert_eq!((path.frames, path.frames_lost), (31, 0), "{path:?}");
    assert!(path.rtcp >= 1);
}

#[test]
fn digest_credentials_are_sent_when_asked_and_a_refusal_says_why() {
    let users = Users {
        realm: "hdstream".into(),
        users: Vec::new(),
    }
    .with_user("cam", "s3cret", vec![], vec!["live/*".into()]);
    let config = || ServerConfig {
        users: Some(users.clone()),
        ..ServerConfig::default()
    };
    let mut b = bench(Carriage::Tcp, config(), Some(("cam", "s3cret")));
    recording(&mut b);
    b.publish(10);
    assert_eq!(b.server.published()[0].frames, 10);

    let mut b = bench(Carriage::Tcp, config(), Some(("cam", "guess")));
    b.run_for(Duration::from_millis(50));
    assert!(!b.recorder.is_recording());
    let [Event::Failed(why)] = &b.events[..] else {
        panic!("{:?}", b.events);
    };
    assert!(why.to_string().contains("401"), "{why}");
}

#[test]
fn a_server_that_never_answers_fails_the_session_in_time() {
    let now = Instant::now();
    let mut recorder = recorder(Carriage::Tcp, None, now);
    assert!(recorder.control_output().starts_with(b"ANNOUNCE "));
    let deadline = recorder.poll_timeout().expect("a reply deadline");
    assert_eq!(deadline, now + hdstream_tools::record::REPLY_TIMEOUT);
    recorder.handle_timeout(deadline);
    let Some(Event::Failed(why)) = recorder.poll_event() else {
        panic!("no failure");
    };
    assert!(why.to_string().contains("no reply"), "{why}");
}
