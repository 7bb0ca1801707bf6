//! The client core with an audio track, against a scripted server on a fake clock: the second
//! SETUP in the video's session, `RTP-Info` per track, the sound played sample for sample on
//! the pictures' clock, over UDP and interleaved; a track it cannot play, or one the server
//! refuses, leaves the video playing alone.

use std::time::{Duration, Instant};

use hdstream_common::audio::l16;
use hdstream_common::rfc2435::Packetizer;
use hdstream_common::rtsp::{Method, Request, Response, StatusCode};
use hdstream_common::{rtcp, rtp};

use crate::core::{Client, Config, Transport, answer_requests, interleaved};
use hdstream_common::course::Dialect;

const MS: Duration = Duration::from_millis(1);
/// The audio's timestamp at NPT 0 (its `RTP-Info` rtptime).
const TS0: u32 = 3_000_000_000;
/// Sample frames a packet (20 ms at 48 kHz).
const PACKET: u32 = 960;

const VIDEO: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=m\r\nt=0 0\r\na=range:npt=0-1\r\n\
    m=video 0 RTP/AVP 26\r\na=control:trackID=0\r\na=framerate:30\r\n";

fn sdp(audio: &str) -> String {
    format!("{VIDEO}{audio}")
}

const L16: &str = "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\na=control:trackID=1\r\n";
const AAC: &str =
    "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/48000/2\r\na=control:trackID=1\r\n";

/// Answers the client's requests as an hdstream server with a sound track would.
struct Server {
    sdp: String,
    refuse_audio: bool,
    requests: Vec<Request>,
}

impl Server {
    fn answer(&mut self, client: &mut Client, now: Instant) {
        answer_requests(client, now, |req| {
            let audio = req.uri.ends_with("trackID=1");
            let mut r = Response::reply_to(&req, StatusCode::OK);
            match req.method {
                Method::Options => r.headers.set("Public", "OPTIONS, DESCRIBE, SETUP, PLAY"),
                Method::Describe => {
                    r.headers.set("Content-Base", "rtsp://h/m/");
                    r.body = self.sdp.as_bytes().to_vec();
                }
                Method::Setup if audio && self.refuse_audio => {
                    r = Response::reply_to(&req, StatusCode::UNSUPPORTED_TRANSPORT);
                }
                Method::Setup => {
                    r.headers.set("Session", "s1;timeout=60");
                    let asked = req.headers.get("Transport").unwrap_or_default();
                    let ssrc = if audio { "00000051" } else { "00000007" };
                    let transport = format!("{asked};server_port=7000-7001;ssrc={ssrc}");
                    r.headers.set("Transport", transport);
                }
                Method::Play => {
                    r.headers.set(
                        "RTP-Info",
                        format!(
                            "url=rtsp://h/m/trackID=0;seq=0;rtptime=0,\
                         url=rtsp://h/m/trackID=1;seq=0;rtptime={TS0}"
                        ),
                    );
                    r.headers.set("Range", "npt=0-1");
                }
                _ => {}
            }
            self.requests.push(req);
            r.to_bytes()
        });
    }

    fn methods(&self) -> Vec<&str> {
        self.requests.iter().map(|r| r.method.as_str()).collect()
    }
}

/// Sample frame `n` of the sound: left `n`, right `-n` (wrapping).
pub(super) fn frame(n: u32) -> [i16; 2] {
    [n as i16, (n as i16).wrapping_neg()]
}

/// Packet `i` of that sound as L16/48000/2 on payload type 96, SSRC 0x51: frames
/// `i × 960 ..`, sequence number `i`, timestamp `ts0 + i × 960`, the marker on packet 0.
pub(super) fn l16_packet(i: u32, ts0: u32) -> Vec<u8> {
    let samples: Vec<i16> = (i * PACKET..(i + 1) * PACKET).flat_map(frame).collect();
    let mut payload = Vec::new();
    l16::write(&samples, &mut payload);
    let h = rtp::Header {
        marker: i == 0,
        payload_type: 96,
        sequence_number: i as u16,
        timestamp: ts0.wrapping_add(i * PACKET),
        ssrc: 0x51,
    };
    let mut out = Vec::new();
    h.append(&[&payload], &mut out).unwrap();
    out
}

/// Audio packet `i` of the client tests' stream.
fn audio_packet(i: u32) -> Vec<u8> {
    l16_packet(i, TS0)
}

/// The RTP packets of video frame `n` (32x16 JPEG, 30 fps, 90 kHz), numbered from `seq`.
fn video_frame(n: u32, seq: &mut u16) -> Vec<Vec<u8>> {
    let mut pattern = hdstream_video::pattern::Pattern::new(32, 16);
    let mut jpeg = Vec::new();
    pattern.encode(u64::from(n), 80, &mut jpeg).unwrap();
    let header = hdstream_video::jpeg::Header::parse(&jpeg).unwrap();
    let frame = hdstream_video::rfc2435::frame(&header).unwrap();
    let mut out = Vec::new();
    for f in Packetizer::new(&frame, 1000).unwrap() {
        let h = rtp::Header {
            marker: f.marker,
            payload_type: 26,
            sequence_number: *seq,
            timestamp: n * 3000,
            ssrc: 7,
        };
        let mut buf = Vec::new();
        h.append(&[f.header(), f.data], &mut buf).unwrap();
        out.push(buf);
        *seq += 1;
    }
    out
}

fn bye(ssrc: u32) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut w = rtcp::Writer::new(&mut buf);
    w.goodbye(&[ssrc], None).unwrap();
    let len = w.finish();
    buf[..len].to_vec()
}

/// What a run gave: the server's requests, the sound played, the frames released (their NPT
/// and due time).
struct Run {
    server: Server,
    client: Client,
    played: Vec<i16>,
    released: Vec<(f64, Instant)>,
}

/// Plays 1 s (30 frames, 50 audio packets) sent in real time, over UDP or interleaved, then
/// the server's BYE; runs until the client is done.
fn run(sdp: String, refuse_audio: bool, tcp: bool) -> Run {
    let t0 = Instant::now();
    let mut config = if tcp {
        Config::new("rtsp://h/m", Dialect::Standard, Transport::Tcp)
    } else {
        let mut c = Config::new(
            "rtsp://h/m",
            Dialect::Standard,
            Transport::Udp {
                rtp_port: 5000,
                rtcp_port: 5001,
            },
        );
        c.audio = Some(Transport::Udp {
            rtp_port: 5002,
            rtcp_port: 5003,
        });
        c
    };
    config.pipeline.playout.prebuffer = 200 * MS;
    let mut client = Client::new(config, t0);
    let mut server = Server {
        sdp,
        refuse_audio,
        requests: Vec::new(),
    };
    for _ in 0..6 {
        server.answer(&mut client, t0);
    }
    let mut seq = 0;
    let mut played = Vec::new();
    let mut released = Vec::new();
    let mut now = t0;
    for ms in 0..4000u32 {
        now = t0 + ms * MS;
        let mut wire = Vec::new();
        if ms % 20 == 0 && ms / 20 < 50 {
            let p = audio_packet(ms / 20);
            if tcp {
                wire.extend(interleaved(2, p));
            } else {
                client.receive_audio_rtp(&p, now);
            }
        }
        // Frame n leaves at n × 33.3 ms.
        if let Some(n) = (0..30).find(|n| n * 100 / 3 == ms) {
            for p in video_frame(n, &mut seq) {
                if tcp {
                    wire.extend(interleaved(0, p));
                } else {
                    client.receive_rtp(&p, now);
                }
            }
        }
        if ms == 1100 {
            if tcp {
                wire.extend(interleaved(1, bye(7)));
                wire.extend(interleaved(3, bye(0x51)));
            } else {
                client.receive_rtcp(&bye(7), now);
                client.receive_audio_rtcp(&bye(0x51), now);
            }
        }
        if !wire.is_empty() {
            client.receive_control(&wire, now);
        }
        client.handle_timeout(now);
        while let Some(r) = client.poll_release(now) {
            released.push((r.stamp.npt, r.stamp.due));
        }
        client.drain_audio(&mut played);
        server.answer(&mut client, now);
        if client.is_done() {
            break;
        }
    }
    assert!(client.is_done(), "the run ends by {now:?}");
    Run {
        server,
        client,
        played,
        released,
    }
}

#[track_caller]
fn assert_sound(played: &[i16], frames: u32) {
    let expected: Vec<i16> = (0..frames).flat_map(frame).collect();
    assert_samples(played, &expected);
}

/// Asserts two sample streams (stereo, interleaved) are equal, naming the first frame that
/// differs.
#[track_caller]
pub(super) fn assert_samples(played: &[i16], expected: &[i16]) {
    let first = played.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        first.is_none() && played.len() == expected.len(),
        "first difference at frame {:?}; {} frames played, {} expected",
        first.map(|i| i / 2),
        played.len() / 2,
        expected.len() / 2
    );
}

#[test]
fn the_audio_track_is_set_up_in_the_video_session_and_played_sample_for_sample() {
    let mut r = run(sdp(L16), false, false);
    assert_eq!(
        r.server.methods(),
        ["OPTIONS", "DESCRIBE", "SETUP", "SETUP", "PLAY", "TEARDOWN"]
    );
    let setup = &r.server.requests[3];
    assert_eq!(setup.uri, "rtsp://h/m/trackID=1");
    assert_eq!(setup.headers.get("Session"), Some("s1"));
    assert_eq!(
        setup.headers.get("Transport"),
        Some("RTP/AVP;unicast;client_port=5002-5003")
    );
    assert_eq!(r.released.len(), 30);
    assert_sound(&r.played, 50 * PACKET);
    // The sound heard when each picture is due is the picture's own media time.
    for &(npt, due) in &r.released {
        let heard = r
            .client
            .playhead()
            .media_time(r.client.clock().play_time(due));
        assert!(
            heard.is_some_and(|h| (h - npt).abs() < 1e-4),
            "{npt}: {heard:?}"
        );
    }
    let s = r.client.stats();
    assert_eq!(
        s.audio_format.as_ref().map(|f| f.0.as_str()),
        Some("L16/48000/2 (PT 96)")
    );
    let a = s.audio;
    assert_eq!(
        (
            a.packets_received,
            a.packets_lost,
            a.concealed_packets,
            a.underruns
        ),
        (50, 0, 0, 0)
    );
    assert_eq!((a.frames_played, a.frames_silent), (48_000, 0));
    // Receiver reports about the sound went to the server's audio RTCP port.
    assert_eq!(r.client.server_audio_rtcp_port(), Some(7001));
    let mut reports = 0;
    while let Some(d) = r.client.poll_audio_datagram() {
        assert!(rtcp::Compound::parse(&d).is_ok());
        reports += 1;
    }
    assert!(reports >= 1, "at least the BYE");
}

#[test]
fn interleaved_audio_takes_the_next_channels() {
    let r = run(sdp(L16), false, true);
    assert_eq!(
        r.server.requests[3].headers.get("Transport"),
        Some("RTP/AVP/TCP;unicast;interleaved=2-3")
    );
    assert_eq!(r.released.len(), 30);
    assert_sound(&r.played, 50 * PACKET);
}

#[test]
fn a_track_it_cannot_play_is_left_out_and_the_video_plays_alone() {
    let r = run(sdp(AAC), false, false);
    assert_eq!(
        r.server.methods(),
        ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]
    );
    assert_eq!(r.released.len(), 30);
    assert!(r.client.audio().is_none() && r.played.is_empty());
}

#[test]
fn a_refused_audio_setup_leaves_the_video_playing() {
    let mut r = run(sdp(L16), true, false);
    assert_eq!(
        r.server.methods(),
        ["OPTIONS", "DESCRIBE", "SETUP", "SETUP", "PLAY", "TEARDOWN"]
    );
    assert_eq!(r.released.len(), 30);
    assert!(r.client.audio().is_none() && r.played.is_empty());
    assert!(r.client.take_outcome().unwrap().is_ok());
}
