//! Publishing through memory: `hdstream-publish`'s sans-IO core ([`Recorder`]) and the server
//! core on one simulated clock — ANNOUNCE, SETUP with `mode=record` of each track, RECORD (RFC
//! 2326 §10.3, §10.4, §10.11), frames as RFC 2435 RTP interleaved or as paced datagrams, sound
//! (RFC 3551 L16) and captions (RFC 4103) beside them, sender reports, Digest credentials (RFC
//! 7616), a server that never answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_common::audio::{self, Encoding};
use hdstream_server::access::Users;
use hdstream_server::core::{Config as ServerConfig, Server};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_testkit::media;
use hdstream_tools::clock::Clock;
use hdstream_tools::record::{Carriage, Config, Event, Recorder};
use hdstream_tools::sound;
use hdstream_tools::tone::Tone;
use hdstream_tools::track::{Sender, Senders, TRACKS, Track};
use hdstream_video::MjpegFile;

const TICK: Duration = Duration::from_millis(1);
const URL: &str = "rtsp://127.0.0.1:8554/live/cam";
const CONN: usize = 7;
const PEER: [u8; 4] = [10, 0, 0, 2];
const RTP_PORT: u16 = 50_000;
/// The publisher's RTP and RTCP ports of each track, over UDP.
const PORTS: [(u16, u16); TRACKS] = [
    (RTP_PORT, RTP_PORT + 1),
    (RTP_PORT + 2, RTP_PORT + 3),
    (RTP_PORT + 4, RTP_PORT + 5),
];

/// A server core with an empty live path space (and a media directory beside).
fn server(mut config: ServerConfig, now: Instant) -> Server {
    config.server_ports = (6970, 6971);
    let dir = media::dir(320, 240, 3);
    let (catalogue, _) = Catalogue::open(&dir, &FpsPolicy::default()).unwrap();
    let mut server = Server::new(config, Arc::new(catalogue), 7, (now, SystemTime::now()));
    server.open(CONN, SocketAddr::from((PEER, 40_000)), now);
    server
}

/// What goes beside the video.
#[derive(Clone, Copy, Default)]
struct Extras {
    audio: Option<audio::Format>,
    captions: bool,
}

/// 48 kHz stereo L16 (the session cuts it into packets of at most its `max_payload`).
fn l16() -> audio::Format {
    sound::format(Encoding::L16, 48_000, 2)
}

fn recorder(
    carriage: Carriage,
    credentials: Option<(&str, &str)>,
    extras: Extras,
    now: Instant,
) -> Recorder {
    let config = Config {
        url: URL.to_owned(),
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        carriage,
        size: (320, 240),
        fps: 30.0,
        max_payload: 300,
        spread: Duration::from_millis(8),
        cname: "test".into(),
        clock: Clock::new(now, SystemTime::now()),
        audio: extras.audio,
        captions: extras.captions,
    };
    let senders = Senders::new(
        Sender::new(0x1234, 100, 0),
        Sender::new(0x5678, 200, 7),
        Sender::new(0x9ABC, 300, 9),
    );
    Recorder::new(config, senders, now)
}

/// The two cores joined: control bytes both ways, datagrams from the publisher to the server's
/// ports, timers; `frames` sent one every 33 ms once recording.
struct Bench {
    server: Server,
    recorder: Recorder,
    /// Media time 0.
    start: Instant,
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
            let (rtp, rtcp) = PORTS[d.track.index()];
            let port = if d.rtcp { rtcp } else { rtp };
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
            let at = self.now - self.start;
            let sent = self.recorder.send_frame(&jpeg, at, self.now).unwrap();
            assert!(sent);
            self.run_for(Duration::from_millis(33));
        }
    }
}

fn bench(carriage: Carriage, config: ServerConfig, credentials: Option<(&str, &str)>) -> Bench {
    bench_with(carriage, config, credentials, Extras::default())
}

fn bench_with(
    carriage: Carriage,
    config: ServerConfig,
    credentials: Option<(&str, &str)>,
    extras: Extras,
) -> Bench {
    let now = Instant::now();
    Bench {
        server: server(config, now),
        recorder: recorder(carriage, credentials, extras, now),
        start: now,
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
    // A sender report at RECORD's reply and each second after: three in 2.03 s.
    assert_eq!(path.rtcp, 3, "{path:?}");
    let sender = &b.recorder.senders()[Track::Video];
    assert_eq!((sender.units, sender.refused), (60, 0));
    assert_eq!(sender.packets, path.packets);
}

#[test]
fn datagrams_are_spread_and_reach_the_path() {
    let mut b = bench(Carriage::Udp(PORTS), ServerConfig::default(), None);
    recording(&mut b);
    assert_eq!(b.recorder.server_ports(Track::Video), Some((6970, 6971)));
    // One frame: its datagrams leave in groups over the spread, not all at once.
    let file = MjpegFile::open(media::dir(320, 240, 30).join("clip.mjpeg")).unwrap();
    let jpeg = file.frame(0).unwrap().to_vec();
    let now = b.now;
    b.recorder.send_frame(&jpeg, now - b.start, now).unwrap();
    let total = b.recorder.senders()[Track::Video].packets;
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
    let mut recorder = recorder(Carriage::Tcp, None, Extras::default(), now);
    assert!(recorder.control_output().starts_with(b"ANNOUNCE "));
    let deadline = recorder.poll_timeout().expect("a reply deadline");
    assert_eq!(deadline, now + hdstream_tools::record::REPLY_TIMEOUT);
    recorder.handle_timeout(deadline);
    let Some(Event::Failed(why)) = recorder.poll_event() else {
        panic!("no failure");
    };
    assert!(why.to_string().contains("no reply"), "{why}");
}

/// Publishes for `seconds`: a frame every 33 ms and 20 ms of the test tone every 20 ms, each
/// stamped with its media time; a caption each second when `captions`.
fn publish_with_sound(b: &mut Bench, seconds: u64, captions: bool) {
    let tone = Tone {
        rate: 48_000,
        channels: 2,
        fps: 30.0,
    };
    let file = MjpegFile::open(media::dir(320, 240, 30).join("clip.mjpeg")).unwrap();
    // From the first frame and the first 20 ms after recording began.
    let begun = (b.now - b.start).as_secs_f64();
    let mut frame = (begun * 30.0).ceil() as u64;
    let mut sample = (begun * 50.0).ceil() as u64 * 960;
    let end = b.now + Duration::from_secs(seconds);
    while b.now < end {
        let at = b.now - b.start;
        if at >= Duration::from_secs_f64(frame as f64 / 30.0) {
            let jpeg = file.frame(frame as usize % file.len()).unwrap().to_vec();
            assert!(b.recorder.send_frame(&jpeg, at, b.now).unwrap());
            if captions && frame.is_multiple_of(30) {
                let sent = b
                    .recorder
                    .send_caption(&format!("second {}", frame / 30), at, b.now);
                assert_eq!(sent.unwrap(), 1);
            }
            frame += 1;
        }
        if at >= hdstream_tools::clock::media_time(sample, 48_000) {
            let mut pcm = Vec::new();
            tone.fill(sample, 960, &mut pcm);
            let at = hdstream_tools::clock::media_time(sample, 48_000);
            // 20 ms in payloads of at most 300 bytes (the session's, as the video's): 75
            // sample frames each.
            assert_eq!(
                b.recorder.send_sound(&pcm, at, b.now).unwrap(),
                13,
                "12 × 75 + 60"
            );
            sample += 960;
        }
        b.step();
    }
}

#[test]
fn sound_reaches_the_path_beside_the_video_over_tcp_and_udp() {
    for carriage in [Carriage::Tcp, Carriage::Udp(PORTS)] {
        let extras = Extras {
            audio: Some(l16()),
            captions: false,
        };
        let mut b = bench_with(carriage, ServerConfig::default(), None, extras);
        recording(&mut b);
        if carriage != Carriage::Tcp {
            assert_eq!(b.recorder.server_ports(Track::Audio), Some((6970, 6971)));
        }
        publish_with_sound(&mut b, 2, false);
        b.run_for(Duration::from_millis(20));
        let path = &b.server.published()[0];
        let senders = b.recorder.senders();
        assert_eq!(
            (path.frames, path.frames_lost),
            (60, 0),
            "{carriage:?}: {path:?}"
        );
        assert_eq!(path.packets, senders[Track::Video].packets);
        // 100 × 20 ms of sound, 13 packets each, every one passed on.
        assert_eq!(senders[Track::Audio].packets, 1300);
        assert_eq!(
            (path.audio_packets, path.tracks_ignored),
            (1300, 0),
            "{carriage:?}: {path:?}"
        );
        // Sender reports on both tracks: at RECORD's reply, then each second.
        assert!(path.rtcp >= 4, "{carriage:?}: {path:?}");
    }
}

#[test]
fn captions_reach_the_path_beside_sound_and_video() {
    for carriage in [Carriage::Tcp, Carriage::Udp(PORTS)] {
        let extras = Extras {
            audio: Some(l16()),
            captions: true,
        };
        let mut b = bench_with(carriage, ServerConfig::default(), None, extras);
        recording(&mut b);
        publish_with_sound(&mut b, 1, true);
        b.run_for(Duration::from_millis(20));
        let path = &b.server.published()[0];
        assert_eq!(
            (path.frames, path.frames_lost, path.ignored),
            (30, 0, 0),
            "{path:?}"
        );
        assert_eq!(
            (path.audio_packets, path.tracks_ignored),
            (650, 0),
            "{path:?}"
        );
        assert_eq!(b.recorder.senders()[Track::Text].units, 1);
        assert_eq!(path.caption_packets, 1, "{path:?}");
    }
}
