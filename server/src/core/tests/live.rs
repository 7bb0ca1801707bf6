//! Live paths on the core alone: a publisher's requests and interleaved RTP in as bytes, a
//! viewer's replies and datagrams out, on a fake clock.

use std::ops::RangeInclusive;
use std::time::Duration;

use hdstream_common::rtsp::header::{Range, RtpInfo};
use hdstream_common::sdp::SessionDescription;
use hdstream_common::{rtcp, rtp, rtsp};

use crate::core::Socket;
use crate::testing::{Core, Datagram, announce, interleaved_frame, session_id};

const LIVE: &str = "rtsp://127.0.0.1:8554/live/cam";

/// A publisher recording `live/cam` over TCP on a new connection.
fn publisher(core: &mut Core) -> (usize, String) {
    crate::testing::publisher(core, LIVE)
}

/// A UDP viewer of `live/cam` on a new connection, playing: its connection.
fn viewer(core: &mut Core, port: u16) -> usize {
    let conn = core.connect(port);
    let r = core.request(
        conn,
        &format!("SETUP {LIVE}/trackID=0"),
        &[&format!(
            "Transport: RTP/AVP;unicast;client_port={port}-{}",
            port + 1
        )],
    );
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    let id = session_id(&r);
    let r = core.request(conn, &format!("PLAY {LIVE}"), &[&format!("Session: {id}")]);
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.headers.typed::<Range>().unwrap().unwrap(), Range::now());
    assert!(r.headers.typed::<RtpInfo>().is_some());
    conn
}

/// `live/cam` published (its first frame in) and played by a UDP viewer on port 5000: the
/// publisher's connection and session.
fn published_and_watched(core: &mut Core) -> (usize, String) {
    let (publisher, id) = publisher(core);
    core.exchange(publisher, &interleaved_frame(0));
    viewer(core, 5000);
    (publisher, id)
}

/// Frames `frames` from `publisher`, each followed by `then` (the clock moving on): what the
/// server sent meanwhile.
fn publish(
    core: &mut Core,
    publisher: usize,
    frames: RangeInclusive<usize>,
    mut then: impl FnMut(&mut Core) -> Vec<Datagram>,
) -> Vec<Datagram> {
    let mut sent = Vec::new();
    for n in frames {
        core.exchange(publisher, &interleaved_frame(n));
        sent.extend(then(core));
    }
    sent
}

/// RTP to `port` among `sent`: (timestamp, marker).
fn rtp_to(sent: &[Datagram], port: u16) -> Vec<(u32, bool)> {
    sent.iter()
        .filter(|(s, to, _)| *s == Socket::Rtp && to.port() == port)
        .map(|(_, _, b)| {
            let p = rtp::Packet::parse(b).unwrap();
            (p.timestamp(), p.marker())
        })
        .collect()
}

#[test]
fn a_live_path_is_described_as_live_only_while_published() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(conn, &format!("DESCRIBE {LIVE}"), &[]);
    assert_eq!(r.status.as_u16(), 404, "nobody publishes it yet");
    let (publisher, _) = publisher(&mut core);
    core.exchange(publisher, &interleaved_frame(0));
    let r = core.request(conn, &format!("DESCRIBE {LIVE}"), &[]);
    assert_eq!(r.status.as_u16(), 200);
    let sdp = SessionDescription::parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    assert_eq!(sdp.range(), Some(Range::now()));
    let video = sdp.jpeg_video().unwrap();
    assert_eq!(video.x_dimensions(), Some((320, 240)));
    assert_eq!(video.framerate(), Some(30.0));
}

#[test]
fn viewers_get_each_published_frame_once_from_the_next_one_on() {
    let mut core = Core::default_config();
    let (publisher, id) = published_and_watched(&mut core);
    viewer(&mut core, 5002);
    // Playing, but the next frame is 100 ms away: nothing goes, not even a report.
    let mut sent = core.run_for(Duration::from_millis(100));
    sent.extend(publish(&mut core, publisher, 1..=10, |core| {
        core.run_for(Duration::from_millis(33))
    }));
    for port in [5000, 5002] {
        let packets = rtp_to(&sent, port);
        let frames: Vec<u32> = packets.iter().filter(|p| p.1).map(|p| p.0).collect();
        assert_eq!(
            frames.len(),
            10,
            "frames 1..=10 to {port}, none from before PLAY"
        );
        for w in frames.windows(2) {
            assert_eq!(w[1].wrapping_sub(w[0]), 3000, "the publisher's timing");
        }
    }
    // Sender reports went out once frames did: none before the first frame left, and the
    // first maps the first frame's timestamp (within the 10 frames' span).
    let first_rtp = sent
        .iter()
        .position(|(s, to, _)| *s == Socket::Rtp && to.port() == 5000)
        .unwrap();
    let reports: Vec<(usize, u32)> = sent
        .iter()
        .enumerate()
        .filter(|(_, (s, to, b))| *s == Socket::Rtcp && to.port() == 5001 && !b.is_empty())
        .filter_map(|(i, (_, _, b))| {
            let compound = hdstream_common::rtcp::Compound::parse(b).ok()?;
            compound.iter().find_map(|p| match p {
                hdstream_common::rtcp::Packet::SenderReport(sr) => {
                    Some((i, sr.sender_info().rtp_timestamp))
                }
                _ => None,
            })
        })
        .collect();
    let (at, ts) = reports[0];
    assert!(
        at > first_rtp,
        "a report before any frame: {at} vs {first_rtp}"
    );
    let first_ts = rtp_to(&sent, 5000)[0].0;
    assert!(
        ts.wrapping_sub(first_ts) <= 10 * 3000,
        "the first report maps {ts}, the first frame left with {first_ts}"
    );
    // The publisher leaves: both viewers get BYE.
    let r = core.request(
        publisher,
        &format!("TEARDOWN {LIVE}"),
        &[&format!("Session: {id}")],
    );
    assert_eq!(r.status.as_u16(), 200);
    let after = core.run_for(Duration::from_millis(5));
    for port in [5001, 5003] {
        let bye = after.iter().any(|(s, to, b)| {
            *s == Socket::Rtcp
                && to.port() == port
                && rtcp::Compound::parse(b)
                    .is_ok_and(|c| c.iter().any(|p| matches!(p, rtcp::Packet::Goodbye(_))))
        });
        assert!(bye, "BYE to {port}");
    }
}

#[test]
fn a_viewer_that_falls_behind_jumps_to_the_newest_frame() {
    let mut core = Core::default_config();
    let (publisher, _) = published_and_watched(&mut core);
    // Ten frames arrive while the server sends nothing (a stalled loop).
    publish(&mut core, publisher, 1..=10, |core| {
        core.advance(Duration::from_millis(33));
        Vec::new()
    });
    let sent = core.run_for(Duration::from_millis(40));
    let frames = rtp_to(&sent, 5000).iter().filter(|p| p.1).count();
    assert!(
        (1..=2).contains(&frames),
        "{frames} frames: the newest, the old ones skipped rather than sent late"
    );
}

#[test]
fn a_publisher_that_comes_back_resumes_the_path_for_its_viewers() {
    let mut core = Core::default_config();
    let (first, id) = published_and_watched(&mut core);
    publish(&mut core, first, 1..=3, |core| {
        core.run_for(Duration::from_millis(33))
    });
    let r = core.request(
        first,
        &format!("TEARDOWN {LIVE}"),
        &[&format!("Session: {id}")],
    );
    assert_eq!(r.status.as_u16(), 200);
    core.run_for(Duration::from_millis(100));
    // Another connection announces the same path; its frames reach the viewer still there.
    let (second, _) = publisher(&mut core);
    let sent = publish(&mut core, second, 10..=15, |core| {
        core.run_for(Duration::from_millis(33))
    });
    let frames: Vec<u32> = rtp_to(&sent, 5000)
        .iter()
        .filter(|p| p.1)
        .map(|p| p.0)
        .collect();
    assert_eq!(frames.len(), 6, "the resumed path's frames");
    for w in frames.windows(2) {
        assert_eq!(
            w[1].wrapping_sub(w[0]),
            3000,
            "timestamps go on from the new publisher's"
        );
    }
}

/// A packet of `payload_type` from `ssrc` carrying `payload`, interleaved on `channel`.
fn interleaved(channel: u8, payload_type: u8, ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let header = rtp::Header {
        marker: false,
        payload_type,
        sequence_number: seq,
        timestamp: u32::from(seq) * 960,
        ssrc,
    };
    let mut packet = Vec::new();
    header.append(&[payload], &mut packet).unwrap();
    let mut out = rtsp::Data::header(channel, packet.len()).unwrap().to_vec();
    out.extend_from_slice(&packet);
    out
}

/// Hostile sound and captions from a publisher (RFC 3551 L16 on channels 2-3, RFC 4103 T.140 on
/// 4-5): garbage, another payload type, another SSRC mid-stream, a payload over 16 KiB are
/// counted and dropped; odd-sized sound and text with control characters or invalid UTF-8 are
/// passed on untouched (the server decodes neither; receivers count what they cannot use);
/// every frame still reaches the viewer, and only the good packets do.
#[test]
fn hostile_sound_and_captions_are_counted_and_leave_the_frames_alone() {
    let mut core = Core::default_config();
    let conn = core.connect(41000);
    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n\
               m=video 0 RTP/AVP 26\r\na=framerate:30\r\na=control:streamid=0\r\n\
               m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/48000/2\r\na=control:streamid=1\r\n\
               m=text 0 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\na=control:streamid=2\r\n";
    announce(&mut core, conn, LIVE, sdp);
    let mut id = None;
    for (track, channels) in [(0, "0-1"), (1, "2-3"), (2, "4-5")] {
        let mut headers = vec![format!(
            "Transport: RTP/AVP/TCP;unicast;interleaved={channels};mode=record"
        )];
        headers.extend(id.iter().map(|id| format!("Session: {id}")));
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = core.request(conn, &format!("SETUP {LIVE}/streamid={track}"), &headers);
        assert_eq!(r.status.as_u16(), 200, "{r:?}");
        id = Some(session_id(&r));
    }
    let id = id.unwrap();
    let r = core.request(
        conn,
        &format!("RECORD {LIVE}"),
        &[&format!("Session: {id}")],
    );
    assert_eq!(r.status.as_u16(), 200);
    core.exchange(conn, &interleaved_frame(0));
    // A viewer of all three tracks.
    let v = core.connect(40000);
    let mut vid = None;
    for (track, port) in [(0, 5000), (1, 5002), (2, 5004)] {
        let mut headers = vec![format!(
            "Transport: RTP/AVP;unicast;client_port={port}-{}",
            port + 1
        )];
        headers.extend(vid.iter().map(|id| format!("Session: {id}")));
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = core.request(v, &format!("SETUP {LIVE}/trackID={track}"), &headers);
        assert_eq!(r.status.as_u16(), 200, "track {track}: {r:?}");
        vid = Some(session_id(&r));
    }
    let r = core.request(
        v,
        &format!("PLAY {LIVE}"),
        &[&format!("Session: {}", vid.unwrap())],
    );
    assert_eq!(r.status.as_u16(), 200);
    let mut sent = Vec::new();
    let good = [7u8; 3840];
    for n in 1..=10usize {
        let seq = n as u16;
        let mut bytes = interleaved_frame(n);
        bytes.extend(interleaved(2, 96, 0xA0D, seq, &good)); // good
        bytes.extend(interleaved(2, 96, 0xA0D, 1000 + seq, &good[..3])); // odd: passed on
        bytes.extend(interleaved(2, 97, 0xA0D, 2000 + seq, &good)); // another PT
        bytes.extend(interleaved(2, 96, 0xBAD, 3000 + seq, &good)); // another SSRC
        bytes.extend(interleaved(2, 96, 0xA0D, 4000 + seq, &vec![1; 17_000])); // too large
        bytes.extend(rtsp::Data::header(2, 5).unwrap()); // not RTP
        bytes.extend(b"\x00junk");
        let text: &[u8] = if n % 2 == 0 {
            b"ok\x07\xff\xfe\xe2\x80\xa8"
        } else {
            "fine\u{2028}".as_bytes()
        };
        bytes.extend(interleaved(4, 98, 0x7E7, seq, text));
        core.exchange(conn, &bytes);
        sent.extend(core.run_for(Duration::from_millis(33)));
    }
    let frames = rtp_to(&sent, 5000).iter().filter(|p| p.1).count();
    assert_eq!(frames, 10, "every frame reaches the viewer");
    let sound: Vec<usize> = sent
        .iter()
        .filter(|(s, to, _)| *s == Socket::Rtp && to.port() == 5002)
        .map(|(_, _, b)| rtp::Packet::parse(b).unwrap().payload().len())
        .collect();
    assert_eq!(
        sound.len(),
        20,
        "the good and the odd-sized sound of each frame: {sound:?}"
    );
    assert_eq!(sound.iter().filter(|&&l| l == 3840).count(), 10);
    let captions = rtp_to(&sent, 5004).len();
    assert_eq!(captions, 10, "each caption passed on, bad bytes and all");
    let stats = &core.server.published()[0];
    assert_eq!(stats.frames, 11);
    assert_eq!((stats.audio_packets, stats.caption_packets), (20, 10));
    assert_eq!(
        stats.tracks_ignored, 40,
        "another PT, another SSRC, too large, not RTP: {stats:?}"
    );
}
