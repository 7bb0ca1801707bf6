//! The RECORD session alone, fed the server's replies by hand: each track set up by its control
//! on its own channels, one clock behind every track's timestamps and sender reports, sound cut
//! into packets stamped by sample, captions as T.140 blocks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdstream_common::audio::Encoding;
use hdstream_common::rtsp::{self, Message, Parsed, Request};
use hdstream_common::{rtcp, rtp};

use super::*;
use crate::sound;
use crate::track::Sender;

const URL: &str = "rtsp://127.0.0.1:8554/live/cam";
const UDP: [(u16, u16); TRACKS] = [(5000, 5001), (5002, 5003), (5004, 5005)];

fn config(carriage: Carriage, now: Instant) -> Config {
    Config {
        url: URL.into(),
        credentials: None,
        carriage,
        size: (64, 32),
        fps: 30.0,
        max_payload: 1360,
        spread: Duration::from_millis(8),
        cname: "cam@test".into(),
        clock: Clock::new(now, UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        audio: Some(sound::format(Encoding::L16, 48_000, 2)),
        captions: true,
    }
}

fn senders() -> Senders {
    Senders::new(
        Sender::new(0x1111, 10, 1000),
        Sender::new(0x2222, 20, u32::MAX - 100),
        Sender::new(0x3333, 30, 5),
    )
}

/// The requests in the recorder's output, taken from it.
fn requests(r: &mut Recorder) -> Vec<Request> {
    let mut out = r.control_output().to_vec();
    r.control_written(out.len());
    let mut requests = Vec::new();
    while let Ok(Parsed::Complete { message, consumed }) = rtsp::parse(&out) {
        if let Message::Request(request) = message {
            requests.push(request);
        }
        out.drain(..consumed);
    }
    requests
}

/// A 200 reply to CSeq `cseq` with `headers`.
fn ok(cseq: u32, headers: &str) -> Vec<u8> {
    format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{headers}\r\n").into_bytes()
}

/// Answers every request until the session records; the requests it made.
fn record(r: &mut Recorder, now: Instant) -> Vec<Request> {
    let mut asked = Vec::new();
    while !r.is_recording() && asked.len() < 8 {
        let batch = requests(r);
        if batch.is_empty() {
            break;
        }
        for request in batch {
            let cseq: u32 = request.headers.get("CSeq").unwrap().parse().unwrap();
            let headers = if request.method == Method::Setup {
                let transport = request.headers.get("Transport").unwrap();
                format!("Session: 12345678\r\nTransport: {transport};server_port=6970-6971\r\n")
            } else {
                "Session: 12345678\r\n".into()
            };
            r.receive_control(&ok(cseq, &headers), now);
            asked.push(request);
        }
    }
    assert!(r.is_recording(), "{:?}", r.poll_event());
    asked
}

#[test]
fn every_track_is_set_up_by_its_control_on_its_own_channels_the_video_last() {
    let now = Instant::now();
    let mut r = Recorder::new(config(Carriage::Tcp, now), senders(), now);
    let asked = record(&mut r, now);
    let methods: Vec<&str> = asked.iter().map(|q| q.method.as_str()).collect();
    assert_eq!(methods, ["ANNOUNCE", "SETUP", "SETUP", "SETUP", "RECORD"]);
    let sdp = String::from_utf8(asked[0].body.clone()).unwrap();
    for section in [
        "m=video 0 RTP/AVP 26",
        "m=audio 0 RTP/AVP 96",
        "m=text 0 RTP/AVP 98",
    ] {
        assert!(sdp.contains(section), "{sdp}");
    }
    let setups: Vec<(&str, &str, Option<&str>)> = asked[1..4]
        .iter()
        .map(|q| {
            let track = q.uri.rsplit('/').next().unwrap();
            (
                track,
                q.headers.get("Transport").unwrap(),
                q.headers.get("Session"),
            )
        })
        .collect();
    assert_eq!(
        setups,
        [
            (
                "trackID=1",
                "RTP/AVP/TCP;unicast;interleaved=2-3;mode=record",
                None
            ),
            (
                "trackID=2",
                "RTP/AVP/TCP;unicast;interleaved=4-5;mode=record",
                Some("12345678")
            ),
            (
                "trackID=0",
                "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
                Some("12345678")
            ),
        ]
    );
    assert_eq!(asked[4].headers.get("Session"), Some("12345678"));
    assert!(matches!(r.poll_event(), Some(Event::Recording { .. })));
}

/// The interleaved packets in the output: (channel, bytes).
fn interleaved(r: &mut Recorder) -> Vec<(u8, Vec<u8>)> {
    let mut out = r.control_output().to_vec();
    r.control_written(out.len());
    let mut packets = Vec::new();
    while let Ok(Parsed::Complete { message, consumed }) = rtsp::parse(&out) {
        if let Message::Data(data) = message {
            packets.push((data.channel, data.payload.to_vec()));
        }
        out.drain(..consumed);
    }
    packets
}

#[test]
fn each_track_travels_on_its_channels_with_a_sender_report_at_the_start() {
    let now = Instant::now();
    let mut r = Recorder::new(config(Carriage::Tcp, now), senders(), now);
    record(&mut r, now);
    // RECORD's reply brings one report a track, on its RTCP channel.
    let channels: Vec<u8> = interleaved(&mut r).iter().map(|(c, _)| *c).collect();
    assert_eq!(channels, [3, 5, 1]);
    let jpeg = hdstream_video::pattern::frames(64, 32, 1, 80)
        .unwrap()
        .remove(0);
    assert!(r.send_frame(&jpeg, Duration::ZERO, now).unwrap());
    assert_eq!(r.send_sound(&[0; 2 * 960], Duration::ZERO, now).unwrap(), 3);
    assert_eq!(r.send_caption("hello", Duration::ZERO, now).unwrap(), 1);
    let channels: Vec<u8> = interleaved(&mut r).iter().map(|(c, _)| *c).collect();
    assert_eq!(channels, [0, 2, 2, 2, 4]);
    // A second later, reports again.
    r.handle_timeout(now + REPORT_INTERVAL);
    let channels: Vec<u8> = interleaved(&mut r).iter().map(|(c, _)| *c).collect();
    assert_eq!(channels, [3, 5, 1]);
}

/// The wall-clock time a sender report's mapping gives RTP timestamp `ts` at `rate`.
fn wall(report: &rtcp::SenderInfo, ts: u32, rate: u32) -> SystemTime {
    let ticks = ts.wrapping_sub(report.rtp_timestamp) as i32;
    let at = report.ntp_timestamp.to_system_time().unwrap();
    let offset = Duration::from_secs_f64(f64::from(ticks.unsigned_abs()) / f64::from(rate));
    if ticks >= 0 { at + offset } else { at - offset }
}

#[test]
fn one_clock_stamps_every_track_and_its_sender_reports() {
    let now = Instant::now();
    let config = config(Carriage::Udp(UDP), now);
    let epoch = config.clock.wall;
    let mut r = Recorder::new(config, senders(), now);
    record(&mut r, now);
    assert_eq!(r.server_ports(Track::Text), Some((6970, 6971)));
    // A click, a flash and a caption at 1.5 s; the reports at 2.25 s.
    let at = Duration::from_millis(1500);
    let later = now + Duration::from_millis(2250);
    let jpeg = hdstream_video::pattern::frames(64, 32, 1, 80)
        .unwrap()
        .remove(0);
    r.send_frame(&jpeg, at, later).unwrap();
    r.send_sound(&[0; 2 * 340], at, later).unwrap();
    r.send_caption("click", at, later).unwrap();
    r.handle_timeout(later);
    let mut reports = [None; TRACKS];
    let mut stamps = [None; TRACKS];
    while let Some(d) = r.poll_datagram(later + Duration::from_secs(1)) {
        let i = d.track.index();
        if d.rtcp {
            let compound = rtcp::Compound::parse(&d.data).unwrap();
            for packet in compound.iter() {
                if let rtcp::Packet::SenderReport(sr) = packet {
                    reports[i] = Some(sr.sender_info());
                }
            }
        } else {
            let packet = rtp::Packet::parse(&d.data).unwrap();
            stamps[i].get_or_insert(packet.timestamp());
        }
    }
    let expected = epoch + at;
    for (track, rate) in [
        (Track::Video, 90_000),
        (Track::Audio, 48_000),
        (Track::Text, 1000),
    ] {
        let i = track.index();
        let report = reports[i].expect("a report on every track");
        assert_eq!(report.ssrc, senders()[track].ssrc);
        let got = wall(&report, stamps[i].unwrap(), rate);
        let off = got
            .duration_since(expected)
            .unwrap_or_else(|e| e.duration());
        assert!(off < Duration::from_micros(50), "{track:?}: {off:?} off");
    }
    // The sound's timestamp is its base + the sample index, wrapping.
    assert_eq!(
        stamps[Track::Audio.index()],
        Some((u32::MAX - 100).wrapping_add(72_000))
    );
    assert_eq!(stamps[Track::Video.index()], Some(1000 + 135_000));
    assert_eq!(stamps[Track::Text.index()], Some(5 + 1500));
}

#[test]
fn sound_is_cut_into_numbered_packets_stamped_by_sample() {
    let now = Instant::now();
    let mut r = Recorder::new(config(Carriage::Udp(UDP), now), senders(), now);
    record(&mut r, now);
    while r.poll_datagram(now).is_some() {}
    let pcm: Vec<i16> = (0..2 * 960).map(|i| i as i16).collect();
    assert_eq!(
        r.send_sound(&pcm, Duration::from_millis(20), now).unwrap(),
        3
    );
    let mut got = Vec::new();
    while let Some(d) = r.poll_datagram(now) {
        let p = rtp::Packet::parse(&d.data).unwrap();
        assert_eq!(
            (d.track, p.payload_type(), p.ssrc()),
            (Track::Audio, 96, 0x2222)
        );
        let first = i16::from_be_bytes([p.payload()[0], p.payload()[1]]);
        got.push((
            p.sequence_number(),
            p.timestamp().wrapping_sub(u32::MAX - 100),
            p.payload().len(),
            first,
        ));
    }
    assert_eq!(
        got,
        [
            (20, 960, 1360, 0),
            (21, 1300, 1360, 680),
            (22, 1640, 1120, 1360)
        ]
    );
    assert!(
        r.send_sound(&[1, 2, 3], Duration::ZERO, now).is_err(),
        "half a sample frame"
    );
}

#[test]
fn a_caption_is_one_t140_line_marked_after_silence() {
    let now = Instant::now();
    let mut r = Recorder::new(config(Carriage::Udp(UDP), now), senders(), now);
    record(&mut r, now);
    while r.poll_datagram(now).is_some() {}
    r.send_caption("first\nline", Duration::from_secs(1), now)
        .unwrap();
    r.send_caption("soon after", Duration::from_millis(1100), now)
        .unwrap();
    assert_eq!(r.send_caption("", Duration::from_secs(2), now).unwrap(), 0);
    let mut got = Vec::new();
    while let Some(d) = r.poll_datagram(now) {
        let p = rtp::Packet::parse(&d.data).unwrap();
        assert_eq!(p.payload_type(), 98);
        got.push((p.marker(), String::from_utf8(p.payload().to_vec()).unwrap()));
    }
    assert_eq!(
        got,
        [
            (true, "first\nline\u{2028}".to_owned()),
            (false, "soon after\u{2028}".to_owned())
        ]
    );
    assert_eq!(r.senders()[Track::Text].units, 2);
}

#[test]
fn without_sound_or_captions_only_the_video_is_announced() {
    let now = Instant::now();
    let mut config = config(Carriage::Tcp, now);
    config.audio = None;
    config.captions = false;
    let mut r = Recorder::new(config, senders(), now);
    let asked = record(&mut r, now);
    assert_eq!(asked.len(), 3, "ANNOUNCE, SETUP, RECORD");
    assert!(asked[1].uri.ends_with("/trackID=0"));
    assert!(r.send_sound(&[0, 0], Duration::ZERO, now).is_err());
    assert!(r.send_caption("x", Duration::ZERO, now).is_err());
}
