//! Every request handler on the core alone (RFC 2326 §10, Appendix A.2): requests in as bytes,
//! replies and datagrams out, on a fake clock. No socket, no thread, no sleep.

use std::time::Duration;

use hdstream_common::rtp;
use hdstream_common::rtsp::header::{Public, Range, RtpInfo, Speed, Transport};
use hdstream_common::rtsp::{Method, Response};
use hdstream_common::sdp::SessionDescription;

use crate::core::{Config, Socket};
use crate::testing::{Core, Datagram, FRAMES, reply, session_id};

const CLIP: &str = "rtsp://127.0.0.1:8554/clip.mjpeg";
const TRACK: &str = "rtsp://127.0.0.1:8554/clip.mjpeg/trackID=0";
const CLIENT_RTP: u16 = 5000;

fn status(r: &Response) -> u16 {
    r.status.as_u16()
}

/// A UDP session on `conn` for `clip.mjpeg`: its id.
fn setup_udp(core: &mut Core, conn: usize) -> String {
    let r = core.request(
        conn,
        &format!("SETUP {TRACK}"),
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    assert_eq!(status(&r), 200, "{r:?}");
    session_id(&r)
}

/// RTP datagrams among `sent`, parsed: (sequence number, timestamp, marker).
fn rtp_packets(sent: &[Datagram]) -> Vec<(u16, u32, bool)> {
    sent.iter()
        .filter(|(socket, _, _)| *socket == Socket::Rtp)
        .map(|(_, to, bytes)| {
            assert_eq!(to.port(), CLIENT_RTP, "RTP goes to the client's RTP port");
            let p = rtp::Packet::parse(bytes).expect("an RTP packet");
            (p.sequence_number(), p.timestamp(), p.marker())
        })
        .collect()
}

fn frames(packets: &[(u16, u32, bool)]) -> usize {
    packets.iter().filter(|p| p.2).count()
}

#[test]
fn options_lists_the_methods_and_names_the_server() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(conn, "OPTIONS *", &["CSeq: 7"]);
    assert_eq!(status(&r), 200);
    assert_eq!(r.headers.get("CSeq"), Some("7"));
    let public = r.headers.typed::<Public>().unwrap().unwrap();
    assert_eq!(public.0.len(), 9, "{public:?}");
    for m in super::PUBLIC {
        assert!(public.contains(&m), "{m:?} in Public");
    }
    assert!(
        public.contains(&Method::GetParameter),
        "keep-alive by GET_PARAMETER"
    );
    assert!(r.headers.get("Server").unwrap().starts_with("hdstream/"));
}

#[test]
fn a_request_without_cseq_is_400_and_the_connection_goes_on() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let out = core.exchange(conn, b"OPTIONS * RTSP/1.0\r\n\r\n");
    assert_eq!(status(&reply(&out)), 400);
    assert_eq!(status(&core.request(conn, "OPTIONS *", &[])), 200);
}

#[test]
fn describe_gives_the_sdp_of_the_file() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(
        conn,
        &format!("DESCRIBE {CLIP}"),
        &["Accept: application/sdp"],
    );
    assert_eq!(status(&r), 200);
    assert_eq!(r.headers.get("Content-Type"), Some("application/sdp"));
    assert_eq!(r.headers.get("Content-Base"), Some(&*format!("{CLIP}/")));
    let sdp = SessionDescription::parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    let text = sdp.to_string();
    assert!(text.contains("m=video 0 RTP/AVPF 26 97"), "{text}");
    assert!(text.contains("a=control:trackID=0"), "{text}");
    assert!(text.contains("a=framerate:30"), "{text}");
    assert_eq!(sdp.duration(), Some(FRAMES as f64 / 30.0));
}

#[test]
fn describe_answers_404_415_and_406_as_the_file_and_accept_say() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let missing = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/nothing.mjpeg", &[]);
    assert_eq!(status(&missing), 404);
    let full = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/full.mjpeg", &[]);
    assert_eq!(status(&full), 415, "4:4:4 cannot travel as RFC 2435");
    let body = String::from_utf8_lossy(&full.body).into_owned();
    assert!(body.contains("encode_mjpeg --from"), "{body}");
    let html = core.request(conn, &format!("DESCRIBE {CLIP}"), &["Accept: text/html"]);
    assert_eq!(status(&html), 406);
    let track = core.request(conn, &format!("DESCRIBE {TRACK}"), &[]);
    assert_eq!(status(&track), 404, "a track is not a presentation");
    let escape = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/../etc/passwd", &[]);
    assert!(matches!(status(&escape), 400 | 403 | 404), "{escape:?}");
}

#[test]
fn setup_over_udp_makes_a_session_with_its_transport() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(
        conn,
        &format!("SETUP {TRACK}"),
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    assert_eq!(status(&r), 200);
    let session = r.headers.get("Session").unwrap();
    assert!(session.ends_with(";timeout=60"), "{session}");
    assert!(session_id(&r).bytes().all(|b| b.is_ascii_digit()));
    let transport = r.headers.get("Transport").unwrap();
    for part in [
        "RTP/AVP",
        "unicast",
        "client_port=5000-5001",
        "server_port=6970-6971",
        "ssrc=",
    ] {
        assert!(transport.contains(part), "{part} in {transport}");
    }
    assert_eq!(core.server.session_count(), 1);
}

#[test]
fn setup_over_tcp_interleaves_on_free_channels() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let first = core.request(
        conn,
        &format!("SETUP {TRACK}"),
        &["Transport: RTP/AVP/TCP;unicast"],
    );
    assert_eq!(status(&first), 200);
    let t = first.headers.typed::<Transport>().unwrap().unwrap();
    let channels = t.0[0].interleaved().unwrap();
    assert_eq!((channels.rtp, channels.rtcp), (0, Some(1)));
    // A second session on the connection gets the next pair; a taken pair is refused.
    let second = core.request(
        conn,
        &format!("SETUP {TRACK}"),
        &["Transport: RTP/AVP/TCP;unicast"],
    );
    let t = second.headers.typed::<Transport>().unwrap().unwrap();
    assert_eq!(t.0[0].interleaved().unwrap().rtp, 2);
    let taken = core.request(
        conn,
        &format!("SETUP {TRACK}"),
        &["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"],
    );
    assert_eq!(status(&taken), 461);
}

#[test]
fn setup_refuses_what_it_cannot_deliver() {
    let mut core = Core::new(Config {
        max_sessions: 1,
        ..Config::default()
    });
    let conn = core.connect(40000);
    for (transport, why) in [
        ("Transport: RTP/AVP;multicast", "multicast"),
        (
            "Transport: RAW/RAW/UDP;unicast;client_port=5000",
            "not RTP/AVP",
        ),
        ("Transport: RTP/AVP;unicast", "no client_port"),
        (
            "Transport: RTP/AVP;unicast;destination=10.1.2.3;client_port=5000-5001",
            "a third party",
        ),
    ] {
        let r = core.request(conn, &format!("SETUP {TRACK}"), &[transport]);
        assert_eq!(status(&r), 461, "{why}");
    }
    let none = core.request(conn, &format!("SETUP {TRACK}"), &[]);
    assert_eq!(status(&none), 461, "no Transport header");
    let full = core.request(
        conn,
        "SETUP rtsp://127.0.0.1:8554/full.mjpeg/trackID=0",
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    assert_eq!(status(&full), 415);
    setup_udp(&mut core, conn);
    let over = core.request(
        conn,
        &format!("SETUP {TRACK}"),
        &["Transport: RTP/AVP;unicast;client_port=5002-5003"],
    );
    assert_eq!(status(&over), 503, "session limit");
}

#[test]
fn play_sends_the_file_from_the_rtp_info_it_announces() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_udp(&mut core, conn);
    let r = core.request(conn, &format!("PLAY {CLIP}"), &[&format!("Session: {id}")]);
    assert_eq!(status(&r), 200);
    let info = r.headers.typed::<RtpInfo>().unwrap().unwrap();
    let (seq, rtptime) = (info.0[0].seq.unwrap(), info.0[0].rtptime.unwrap());
    let range = r.headers.typed::<Range>().unwrap().unwrap();
    assert_eq!(range.start_seconds(), Some(0.0));
    let packets = rtp_packets(&core.run_for(Duration::from_millis(1200)));
    assert_eq!(packets[0].0, seq, "first sequence number as announced");
    assert_eq!(packets[0].1, rtptime, "first timestamp as announced");
    assert_eq!(frames(&packets), FRAMES as usize, "the whole 1 s file");
    // At the end of the file: RTCP BYE, and the session is Ready again.
    let sent = core.run_for(Duration::from_millis(10));
    assert!(rtp_packets(&sent).is_empty());
}

#[test]
fn play_with_a_range_seeks_and_with_speed_sends_faster() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_udp(&mut core, conn);
    let session = format!("Session: {id}");
    let r = core.request(
        conn,
        &format!("PLAY {CLIP}"),
        &[&session, "Range: npt=0.5-", "Speed: 2"],
    );
    assert_eq!(status(&r), 200);
    let range = r.headers.typed::<Range>().unwrap().unwrap();
    assert_eq!(range.start_seconds(), Some(0.5));
    assert_eq!(r.headers.typed::<Speed>().unwrap().unwrap().get(), 2.0);
    // The second half (15 frames) at twice real time: done in under 300 ms.
    let packets = rtp_packets(&core.run_for(Duration::from_millis(300)));
    assert_eq!(frames(&packets), 15);
    let out_of_range = core.request(conn, &format!("PLAY {CLIP}"), &[&session, "Range: npt=9-"]);
    assert_eq!(status(&out_of_range), 457);
    let fast = core.request(conn, &format!("PLAY {CLIP}"), &[&session, "Speed: 100"]);
    assert_eq!(
        fast.headers.typed::<Speed>().unwrap().unwrap().get(),
        4.0,
        "Speed is held to the configured most"
    );
}

#[test]
fn play_and_pause_need_a_session_of_this_connection() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let other = core.connect(40001);
    let none = core.request(conn, &format!("PLAY {CLIP}"), &[]);
    assert_eq!(status(&none), 455, "PLAY before SETUP");
    let unknown = core.request(conn, &format!("PLAY {CLIP}"), &["Session: 12345"]);
    assert_eq!(status(&unknown), 454);
    let id = setup_udp(&mut core, conn);
    let stolen = core.request(
        other,
        &format!("PAUSE {CLIP}"),
        &[&format!("Session: {id}")],
    );
    assert_eq!(status(&stolen), 454, "a session belongs to its connection");
}

#[test]
fn pause_stops_after_the_frame_in_flight_and_play_resumes() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_udp(&mut core, conn);
    let session = format!("Session: {id}");
    core.request(conn, &format!("PLAY {CLIP}"), &[&session]);
    let before = rtp_packets(&core.run_for(Duration::from_millis(200)));
    let r = core.request(conn, &format!("PAUSE {CLIP}"), &[&session]);
    assert_eq!(status(&r), 200);
    let paused_at = r
        .headers
        .typed::<Range>()
        .unwrap()
        .unwrap()
        .start_seconds()
        .unwrap();
    let during = rtp_packets(&core.run_for(Duration::from_millis(500)));
    assert!(frames(&during) <= 1, "only the frame in flight ends");
    core.request(conn, &format!("PLAY {CLIP}"), &[&session]);
    let after = rtp_packets(&core.run_for(Duration::from_millis(1500)));
    let shown = frames(&before) + frames(&during) + frames(&after);
    assert_eq!(shown, FRAMES as usize, "every frame once, across the pause");
    assert!(paused_at > 0.0 && paused_at < 1.0);
}

#[test]
fn teardown_ends_the_session_and_its_id() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_udp(&mut core, conn);
    let session = format!("Session: {id}");
    core.request(conn, &format!("PLAY {CLIP}"), &[&session]);
    core.run_for(Duration::from_millis(100));
    let r = core.request(conn, &format!("TEARDOWN {CLIP}"), &[&session]);
    assert_eq!(status(&r), 200);
    assert_eq!(core.server.session_count(), 0);
    let sent = core.run_for(Duration::from_millis(100));
    assert!(rtp_packets(&sent).is_empty(), "no RTP after TEARDOWN");
    assert!(
        sent.iter()
            .any(|(s, to, _)| *s == Socket::Rtcp && to.port() == CLIENT_RTP + 1),
        "RTCP BYE to the client's RTCP port"
    );
    let again = core.request(conn, &format!("PLAY {CLIP}"), &[&session]);
    assert_eq!(status(&again), 454);
    let bare = core.request(conn, &format!("TEARDOWN {CLIP}"), &[]);
    assert_eq!(status(&bare), 454, "TEARDOWN needs a Session");
}

#[test]
fn get_parameter_keeps_a_session_alive_and_silence_ends_it() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_udp(&mut core, conn);
    let session = format!("Session: {id}");
    core.advance(Duration::from_secs(50));
    let r = core.request(conn, &format!("GET_PARAMETER {CLIP}"), &[&session]);
    assert_eq!(status(&r), 200);
    assert!(r.headers.get("Session").unwrap().starts_with(&id));
    core.advance(Duration::from_secs(50));
    core.transmit();
    assert_eq!(core.server.session_count(), 1, "heard from 50 s ago");
    core.advance(Duration::from_secs(11));
    core.transmit();
    assert_eq!(core.server.session_count(), 0, "60 s of silence");
}

#[test]
fn methods_not_offered_get_405_or_501_and_set_parameter_451() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    // A file is not published to: ANNOUNCE and RECORD are for live/<name>.
    for method in ["ANNOUNCE", "RECORD", "REDIRECT"] {
        let r = core.request(conn, &format!("{method} {CLIP}"), &[]);
        assert_eq!(status(&r), 405, "{method}");
        assert!(
            r.headers.get("Public").is_some(),
            "405 lists what is allowed"
        );
    }
    let r = core.request(conn, &format!("FLY {CLIP}"), &[]);
    assert_eq!(status(&r), 501);
    let empty = core.request(conn, &format!("SET_PARAMETER {CLIP}"), &[]);
    assert_eq!(status(&empty), 200);
    let out = core.exchange(
        conn,
        format!(
            "SET_PARAMETER {CLIP} RTSP/1.0\r\nCSeq: 9\r\nContent-Type: text/parameters\r\n\
             Content-Length: 10\r\n\r\nvolume: 5\n"
        )
        .as_bytes(),
    );
    assert_eq!(status(&reply(&out)), 451);
}

#[test]
fn the_course_client_is_answered_in_its_dialect_with_total_frames_and_pieces() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    core.server.receive(
        conn,
        b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 5000",
        core.now,
    );
    // No blank line: the request is taken once the connection is quiet.
    core.advance(Duration::from_millis(50));
    core.transmit();
    let out = String::from_utf8(core.take_output(conn)).unwrap();
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert_eq!(lines[0], "RTSP/1.0 200 OK");
    assert_eq!(lines[1], "CSeq: 1");
    let id = lines[2].strip_prefix("Session: ").unwrap().to_owned();
    assert_eq!(lines[3], format!("Total-Frames: {FRAMES}"));
    core.server.receive(
        conn,
        format!("PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: {id}").as_bytes(),
        core.now,
    );
    core.advance(Duration::from_millis(50));
    let sent = core.run_for(Duration::from_millis(1600));
    assert!(
        core.take_output(conn)
            .starts_with(b"RTSP/1.0 200 OK\nCSeq: 2\n")
    );
    let packets = rtp_packets(&sent);
    // 320x240 frames fit 20 KB: one packet each, sequence number = timestamp = frame number.
    assert_eq!(packets.len(), FRAMES as usize);
    for (k, p) in packets.iter().enumerate() {
        assert_eq!((p.0, p.1, p.2), (k as u16 + 1, k as u32 + 1, true));
    }
}
