//! Captions from speech on the core alone, with a fake recogniser (the test reads the sound
//! the core queues for it and writes its lines): a publisher records video and L16 sound into
//! `live/cam`, the core asks for a recogniser, a viewer is offered the caption track, and each
//! line reaches the viewer as a T.140 packet stamped at the words' media time, right after a
//! sender report that maps it to the capture time of that sound (RFC 4103, RFC 3550 §6.4.1).

use std::time::{Duration, SystemTime};

use hdstream_common::rtsp::header::RtpInfo;
use hdstream_common::sdp::SessionDescription;
use hdstream_common::{rtcp, rtp};

use crate::core::{Config, Socket};
use crate::speech::{Command, Exit, ListenerId, Recogniser};
use crate::testing::{Core, announce, interleaved, interleaved_frame, session_id};

const LIVE: &str = "rtsp://127.0.0.1:8554/live/cam";
/// Video, and 48 kHz stereo L16 sound, as ffmpeg announces them.
const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n\
                   m=video 0 RTP/AVP 26\r\na=control:streamid=0\r\n\
                   m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\na=control:streamid=1\r\n";
/// The publisher's first sound timestamp, and the wall clock its sender report maps it to.
const TS0: u32 = 100_000;

fn wall0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn speech_core() -> Core {
    Core::new(Config {
        speech: Some(Recogniser::default()),
        ..Config::default()
    })
}

/// A publisher announcing `sdp` into `url` on a new connection, recording its video on
/// channels 0-1 and its sound on 2-3: its connection.
fn publisher(core: &mut Core, url: &str, sdp: &str) -> usize {
    let conn = core.connect(41000);
    announce(core, conn, url, sdp);
    let r = core.request(
        conn,
        &format!("SETUP {url}/streamid=0"),
        &["Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"],
    );
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let id = session_id(&r);
    let r = core.request(
        conn,
        &format!("SETUP {url}/streamid=1"),
        &[
            "Transport: RTP/AVP/TCP;unicast;interleaved=2-3;mode=record",
            &format!("Session: {id}"),
        ],
    );
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let r = core.request(conn, &format!("RECORD {url}"), &[&format!("Session: {id}")]);
    assert_eq!(r.status.as_u16(), 200);
    conn
}

/// Sound packet `k`: 20 ms of a tone, timestamp `TS0 + 960k`, interleaved on channel 2.
fn sound(k: u32) -> Vec<u8> {
    let samples: Vec<i16> = (0..960)
        .flat_map(|i| {
            let v = ((f64::from(k * 960 + i) * 0.06).sin() * 6000.0) as i16;
            [v, v]
        })
        .collect();
    let mut payload = Vec::new();
    hdstream_common::audio::l16::write(&samples, &mut payload);
    let header = rtp::Header {
        marker: k == 0,
        payload_type: 96,
        sequence_number: k as u16,
        timestamp: TS0 + 960 * k,
        ssrc: 0xA0D10,
    };
    let mut packet = Vec::new();
    header.append(&[&payload], &mut packet).unwrap();
    interleaved(2, &packet)
}

/// The publisher's sender report on its sound: `TS0` was captured at [`wall0`].
fn sound_report() -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut writer = rtcp::Writer::new(&mut buf);
    writer
        .sender_report(
            &rtcp::SenderInfo {
                ssrc: 0xA0D10,
                ntp_timestamp: rtcp::NtpTimestamp::from_system_time(wall0()),
                rtp_timestamp: TS0,
                packet_count: 0,
                octet_count: 0,
            },
            &[],
        )
        .unwrap();
    let len = writer.finish();
    interleaved(3, &buf[..len])
}

/// The recogniser the core asks for next: its listener id.
fn started(core: &mut Core) -> ListenerId {
    match core.server.poll_speech() {
        Some(Command::Start { id, path }) => {
            assert_eq!(path, "live/cam");
            id
        }
        other => panic!("expected a recogniser to start, got {other:?}"),
    }
}

/// The sender report in an RTCP compound: (NTP time, RTP timestamp).
fn report(bytes: &[u8]) -> Option<(SystemTime, u32)> {
    rtcp::Compound::parse(bytes)
        .ok()?
        .iter()
        .find_map(|p| match p {
            rtcp::Packet::SenderReport(sr) => {
                let info = sr.sender_info();
                Some((info.ntp_timestamp.to_system_time()?, info.rtp_timestamp))
            }
            _ => None,
        })
}

fn apart(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default()
}

#[test]
fn a_recognised_line_reaches_the_viewer_stamped_at_its_words_on_the_sounds_clock() {
    let mut core = speech_core();
    let publisher = publisher(&mut core, LIVE, SDP);
    let id = started(&mut core);
    core.exchange(publisher, &sound_report());
    core.exchange(publisher, &interleaved_frame(0));
    // Viewers are offered the captions beside the sound.
    let viewer = core.connect(40000);
    let r = core.request(viewer, &format!("DESCRIBE {LIVE}"), &[]);
    let sdp = SessionDescription::parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    let text = sdp
        .media
        .iter()
        .find(|m| m.media == "text")
        .expect("m=text");
    assert_eq!(
        text.t140_payload_type(),
        Some(crate::captions::T140_PAYLOAD_TYPE)
    );
    assert_eq!(text.control(), Some("trackID=2"));
    let mut session = String::new();
    for (track, port) in [(0, 5000), (1, 5002), (2, 5004)] {
        let mut headers = vec![format!(
            "Transport: RTP/AVP;unicast;client_port={port}-{}",
            port + 1
        )];
        if !session.is_empty() {
            headers.push(format!("Session: {session}"));
        }
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = core.request(viewer, &format!("SETUP {LIVE}/trackID={track}"), &headers);
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        session = session_id(&r);
    }
    let r = core.request(
        viewer,
        &format!("PLAY {LIVE}"),
        &[&format!("Session: {session}")],
    );
    let info = r.headers.typed::<RtpInfo>().unwrap().unwrap();
    let caption_origin = info.0[2].rtptime.unwrap();
    // 3 s of sound (and a frame every 100 ms); the fake recogniser reads all it is given.
    let mut heard = 0usize;
    let mut sent = Vec::new();
    for k in 0..150u32 {
        core.exchange(publisher, &sound(k));
        if k % 5 == 4 {
            core.exchange(publisher, &interleaved_frame(k as usize / 5));
        }
        let input = core.server.speech_input(id).len();
        core.server.speech_written(id, input);
        heard += input;
        sent.extend(core.run_for(Duration::from_millis(20)));
    }
    assert!(
        heard / 2 >= 47_900,
        "{} samples at 16 kHz for 3 s",
        heard / 2
    );
    // It prints an utterance whose first word began 0.4 s into what it heard.
    let lines = b"hello world\n<s> 0.000 0.390 1.000\nhello 0.400 0.700 0.900\n\
                  world 0.710 1.100 0.800\n</s> 1.110 1.400 1.000\n";
    core.server.speech_output(id, lines, core.now);
    let after = core.run_for(Duration::from_millis(5));
    let mut last_report = None;
    let mut caption = None;
    for (socket, to, bytes) in &after {
        match (socket, to.port()) {
            (Socket::Rtcp, 5005) => last_report = report(bytes),
            (Socket::Rtp, 5004) => {
                let p = rtp::Packet::parse(bytes).unwrap();
                let text = String::from_utf8(p.payload().to_vec()).unwrap();
                caption = Some((p.timestamp(), p.marker(), text, last_report));
            }
            _ => {}
        }
    }
    let (ts, marker, text, before) = caption.expect("the caption reached the viewer");
    assert_eq!(text, "hello world\u{2028}");
    assert!(
        marker,
        "the first caption after silence is marked (RFC 4103 §3)"
    );
    assert_eq!(
        ts.wrapping_sub(caption_origin),
        400,
        "stamped at 0.4 s of the sound"
    );
    // The report just before it maps that timestamp to when the word was captured.
    let (ntp, report_ts) = before.expect("a sender report right before the caption");
    assert_eq!(report_ts, ts);
    let spoken = wall0() + Duration::from_millis(400);
    assert!(
        apart(ntp, spoken) < Duration::from_millis(2),
        "{ntp:?} vs {spoken:?}"
    );
    // The sound's own reports put the packet heard at 0.4 s at that same capture time.
    let sound_reports: Vec<(SystemTime, u32)> = sent
        .iter()
        .chain(&after)
        .filter(|(s, to, _)| *s == Socket::Rtcp && to.port() == 5003)
        .filter_map(|(_, _, b)| report(b))
        .collect();
    let (sr_ntp, sr_ts) = *sound_reports.last().expect("sender reports on the sound");
    let word_packet = sent
        .iter()
        .filter(|(s, to, _)| *s == Socket::Rtp && to.port() == 5002)
        .map(|(_, _, b)| rtp::Packet::parse(b).unwrap())
        .find(|p| p.sequence_number() == info.0[1].seq.unwrap().wrapping_add(20))
        .map(|p| p.timestamp())
        .expect("the viewer got the sound at 0.4 s");
    let ticks = word_packet.wrapping_sub(sr_ts) as i32;
    let at = if ticks >= 0 {
        sr_ntp + Duration::from_secs_f64(f64::from(ticks) / 48_000.0)
    } else {
        sr_ntp - Duration::from_secs_f64(f64::from(-ticks) / 48_000.0)
    };
    assert!(
        apart(at, spoken) < Duration::from_millis(2),
        "sound at {at:?}, caption at {spoken:?}"
    );
    // Two utterances printed at once: each caption goes after its own report.
    let lines = b"three\nthree 1.500 1.800 0.9\n</s> 1.8 2.0 1\nfour\nfour 2.100 2.400 0.9\n</s> 2.4 2.6 1\n";
    core.server.speech_output(id, lines, core.now);
    let mut last_report = None;
    let mut captions = Vec::new();
    for (socket, to, bytes) in core.run_for(Duration::from_millis(5)) {
        match (socket, to.port()) {
            (Socket::Rtcp, 5005) => last_report = report(&bytes).map(|r| r.1),
            (Socket::Rtp, 5004) => {
                let p = rtp::Packet::parse(&bytes).unwrap();
                let at = p.timestamp().wrapping_sub(caption_origin);
                captions.push((at, last_report.map(|r| r.wrapping_sub(caption_origin))));
            }
            _ => {}
        }
    }
    assert_eq!(
        captions,
        vec![(1500, Some(1500)), (2100, Some(2100))],
        "(timestamp, the report just before it)"
    );
    let stats = &core.server.published()[0];
    assert_eq!(stats.speech.captions, 3);
    // The publisher leaves: its recogniser is stopped.
    core.server.close(publisher, core.now);
    assert_eq!(core.server.poll_speech(), Some(Command::Stop { id }));
}

#[test]
fn a_recogniser_that_ends_is_started_again_and_a_missing_one_turns_captions_off() {
    let mut core = speech_core();
    let publisher = publisher(&mut core, LIVE, SDP);
    let id = started(&mut core);
    core.exchange(publisher, &interleaved_frame(0));
    core.exchange(publisher, &sound(0));
    assert!(!core.server.speech_input(id).is_empty());
    core.server
        .speech_exited(id, Exit::Ended("exited with status 1".into()), core.now);
    assert!(
        core.server.speech_input(id).is_empty(),
        "a new one starts afresh"
    );
    let due = core.now + crate::speech::BACKOFF_FIRST;
    assert!(core.server.poll_timeout().is_some_and(|t| t <= due));
    core.run_for(Duration::from_millis(999));
    assert_eq!(core.server.poll_speech(), None);
    core.run_for(Duration::from_millis(2));
    assert_eq!(started(&mut core), id, "started again after a second");
    // Not installed: the path goes on without captions, and new paths get none.
    core.server.speech_exited(
        id,
        Exit::NotFound("pocketsphinx_continuous: not found".into()),
        core.now,
    );
    let viewer = core.connect(40000);
    let r = core.request(viewer, &format!("DESCRIBE {LIVE}"), &[]);
    assert_eq!(r.status.as_u16(), 200);
    assert!(!String::from_utf8_lossy(&r.body).contains("m=text"));
    let other = "rtsp://127.0.0.1:8554/live/other";
    publisher_on(&mut core, other);
    assert_eq!(core.server.poll_speech(), None);
    core.run_for(Duration::from_secs(40));
    assert_eq!(core.server.poll_speech(), None, "never started again");
}

/// Like [`publisher`], into another path.
fn publisher_on(core: &mut Core, url: &str) -> usize {
    publisher(core, url, SDP)
}

#[test]
fn sound_is_listened_to_only_with_the_flag_and_a_publishers_captions_win() {
    // Off without the flag.
    let mut core = Core::default_config();
    publisher(&mut core, LIVE, SDP);
    assert_eq!(core.server.poll_speech(), None);
    // Opus is heard too (through libopus).
    let mut core = speech_core();
    let opus = SDP.replace("a=rtpmap:96 L16/48000/2", "a=rtpmap:96 opus/48000/2");
    let conn = publisher(&mut core, LIVE, &opus);
    core.exchange(conn, &interleaved_frame(0));
    started(&mut core);
    let viewer = core.connect(40000);
    let r = core.request(viewer, &format!("DESCRIBE {LIVE}"), &[]);
    assert!(String::from_utf8_lossy(&r.body).contains("m=text"));
    // A publisher with captions of its own keeps them: nothing listens.
    let mut core = speech_core();
    let with_text =
        format!("{SDP}m=text 0 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\na=control:streamid=2\r\n");
    publisher(&mut core, LIVE, &with_text);
    assert_eq!(core.server.poll_speech(), None);
}

#[test]
fn a_flooding_recogniser_costs_the_video_nothing() {
    let mut core = speech_core();
    let publisher = publisher(&mut core, LIVE, SDP);
    let id = started(&mut core);
    core.exchange(publisher, &interleaved_frame(0));
    let viewer = core.connect(40000);
    let r = core.request(
        viewer,
        &format!("SETUP {LIVE}/trackID=0"),
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    let session = session_id(&r);
    core.request(
        viewer,
        &format!("PLAY {LIVE}"),
        &[&format!("Session: {session}")],
    );
    let flood = "la la la\n".repeat(1000);
    let mut frames = 0;
    let mut read = 0;
    for n in 1..=30 {
        core.exchange(publisher, &interleaved_frame(n));
        core.exchange(publisher, &sound(n as u32));
        // The driver reads what the core has room for, no more.
        let room = core.server.speech_read_room(id, core.now);
        let chunk = &flood.as_bytes()[..room.min(flood.len())];
        read += chunk.len();
        core.server.speech_output(id, chunk, core.now);
        frames += core
            .run_for(Duration::from_millis(33))
            .iter()
            .filter(|(s, to, b)| {
                *s == Socket::Rtp
                    && to.port() == 5000
                    && rtp::Packet::parse(b).is_ok_and(|p| p.marker())
            })
            .count();
    }
    assert_eq!(frames, 30, "every frame reached the viewer");
    // About 1 s: the burst and a second's rate at most were read.
    let limit = 3 * crate::speech::READ_RATE as usize;
    assert!(read <= limit, "{read} bytes read");
    let stats = &core.server.published()[0].speech;
    assert!(
        stats.captions <= 3 * crate::speech::CAPTION_RATE,
        "{stats:?}"
    );
    assert!(stats.dropped_lines > 0, "{stats:?}");
}

#[test]
fn at_most_so_many_paths_are_listened_to_at_once() {
    let mut core = speech_core();
    let mut started_paths = 0;
    for n in 0..=crate::speech::MAX_LISTENERS {
        publisher(
            &mut core,
            &format!("rtsp://127.0.0.1:8554/live/cam{n}"),
            SDP,
        );
        if let Some(Command::Start { .. }) = core.server.poll_speech() {
            started_paths += 1;
        }
    }
    assert_eq!(started_paths, crate::speech::MAX_LISTENERS);
}
