//! A file with sound on the core alone: DESCRIBE offers both tracks, each SETUP joins one
//! session, PLAY, PAUSE and seeks move both, and each track's sender reports share one CNAME
//! (RFC 2326 §10, RFC 3550 §6.4.1, §6.5.1; RFC 3551 §4.5.11 L16).

use std::time::Duration;

use hdstream_common::rtcp;
use hdstream_common::rtp;
use hdstream_common::rtsp::Response;
use hdstream_common::rtsp::header::RtpInfo;
use hdstream_common::sdp::SessionDescription;

use crate::core::Socket;
use crate::testing::{Core, Datagram, session_id, talk_sample};

const TALK: &str = "rtsp://127.0.0.1:8554/talk.mjpeg";
const VIDEO_PORT: u16 = 5000;
const AUDIO_PORT: u16 = 5002;

fn status(r: &Response) -> u16 {
    r.status.as_u16()
}

/// A session with both tracks over UDP: its id.
fn setup_both(core: &mut Core, conn: usize) -> String {
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=0"),
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    assert_eq!(status(&r), 200, "{r:?}");
    let id = session_id(&r);
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=1"),
        &[
            "Transport: RTP/AVP;unicast;client_port=5002-5003",
            &format!("Session: {id}"),
        ],
    );
    assert_eq!(status(&r), 200, "{r:?}");
    assert_eq!(session_id(&r), id, "the same session");
    id
}

/// The RTP packets sent to `port`.
fn to_port(sent: &[Datagram], port: u16) -> Vec<rtp::Packet<'_>> {
    sent.iter()
        .filter(|(socket, to, _)| *socket == Socket::Rtp && to.port() == port)
        .map(|(_, _, bytes)| rtp::Packet::parse(bytes).expect("an RTP packet"))
        .collect()
}

/// The first left-channel sample of an L16 packet.
fn first_sample(p: &rtp::Packet<'_>) -> i16 {
    i16::from_be_bytes([p.payload()[0], p.payload()[1]])
}

#[test]
fn describe_offers_video_and_l16_sound_each_with_its_control() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(conn, &format!("DESCRIBE {TALK}"), &[]);
    assert_eq!(status(&r), 200);
    let sdp = SessionDescription::parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    assert_eq!(sdp.media.len(), 3, "video, sound, captions");
    assert_eq!(sdp.media[2].media, "text");
    assert_eq!(sdp.media[2].t140_payload_type(), Some(98));
    assert_eq!(sdp.media[2].control(), Some("trackID=2"));
    let audio = &sdp.media[1];
    assert_eq!(audio.media, "audio");
    assert_eq!(audio.control(), Some("trackID=1"));
    let format = hdstream_common::audio::Format::from_sdp(audio).unwrap();
    assert_eq!(
        (format.encoding, format.clock_rate, format.channels),
        (hdstream_common::audio::Encoding::L16, 48_000, 2)
    );
    // A file without sound has one track.
    let r = core.request(conn, "DESCRIBE rtsp://127.0.0.1:8554/clip.mjpeg", &[]);
    let sdp = SessionDescription::parse(std::str::from_utf8(&r.body).unwrap()).unwrap();
    assert_eq!(sdp.media.len(), 1);
}

#[test]
fn both_tracks_play_in_step_with_every_sample_in_order() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_both(&mut core, conn);
    let r = core.request(conn, &format!("PLAY {TALK}"), &[&format!("Session: {id}")]);
    assert_eq!(status(&r), 200);
    let info = r.headers.typed::<RtpInfo>().unwrap().unwrap();
    assert_eq!(info.0.len(), 2, "RTP-Info for each track: {info:?}");
    assert!(info.0[1].url.ends_with("trackID=1"));
    let sent = core.run_for(Duration::from_millis(500));
    let audio = to_port(&sent, AUDIO_PORT);
    let video = to_port(&sent, VIDEO_PORT);
    assert_eq!(audio.len(), 25, "500 ms of 20 ms packets");
    assert_eq!(video.iter().filter(|p| p.marker()).count(), 15);
    assert_eq!(audio[0].timestamp(), info.0[1].rtptime.unwrap());
    for (k, p) in audio.iter().enumerate() {
        assert_eq!(p.payload().len(), 960 * 4, "20 ms of 48 kHz stereo L16");
        assert_eq!(first_sample(p), talk_sample(k * 960, 0));
        assert_eq!(
            p.timestamp().wrapping_sub(audio[0].timestamp()),
            k as u32 * 960
        );
    }
}

#[test]
fn a_seek_moves_the_sound_to_the_video_position() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_both(&mut core, conn);
    let session = format!("Session: {id}");
    core.request(conn, &format!("PLAY {TALK}"), &[&session]);
    core.run_for(Duration::from_millis(100));
    core.request(conn, &format!("PAUSE {TALK}"), &[&session]);
    core.run_for(Duration::from_millis(50));
    let r = core.request(
        conn,
        &format!("PLAY {TALK}"),
        &[&session, "Range: npt=0.5-"],
    );
    assert_eq!(status(&r), 200);
    let sent = core.run_for(Duration::from_millis(40));
    let audio = to_port(&sent, AUDIO_PORT);
    assert!(audio[0].marker(), "a new talkspurt after the seek");
    assert_eq!(first_sample(&audio[0]), talk_sample(24_000, 0), "npt 0.5");
}

#[test]
fn sender_reports_of_both_tracks_share_one_cname() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_both(&mut core, conn);
    core.request(conn, &format!("PLAY {TALK}"), &[&format!("Session: {id}")]);
    let sent = core.run_for(Duration::from_millis(100));
    let mut cnames = Vec::new();
    for (socket, to, bytes) in &sent {
        if *socket != Socket::Rtcp {
            continue;
        }
        for packet in rtcp::Compound::parse(bytes).unwrap().iter() {
            if let rtcp::Packet::SourceDescription(sdes) = packet {
                for chunk in sdes.chunks() {
                    let cname = sdes.cname(chunk.ssrc).map(<[u8]>::to_vec);
                    cnames.push((to.port(), cname));
                }
            }
        }
    }
    let ports: Vec<u16> = cnames.iter().map(|c| c.0).collect();
    assert!(ports.contains(&5001) && ports.contains(&5003), "{cnames:?}");
    assert!(cnames.windows(2).all(|w| w[0].1 == w[1].1), "{cnames:?}");
}

#[test]
fn sound_before_video_or_in_another_session_is_refused() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=1"),
        &["Transport: RTP/AVP;unicast;client_port=5002-5003"],
    );
    assert_eq!(status(&r), 459, "aggregate: the video first");
    let r = core.request(
        conn,
        "SETUP rtsp://127.0.0.1:8554/clip.mjpeg/trackID=1",
        &["Transport: RTP/AVP;unicast;client_port=5002-5003"],
    );
    assert_eq!(status(&r), 404, "no sound beside clip.mjpeg");
}

#[test]
fn interleaved_tracks_get_their_own_channels() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=0"),
        &["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"],
    );
    let id = session_id(&r);
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=1"),
        &[
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
            &format!("Session: {id}"),
        ],
    );
    assert_eq!(status(&r), 461, "channels 0-1 are the video's");
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=1"),
        &["Transport: RTP/AVP/TCP;unicast", &format!("Session: {id}")],
    );
    assert_eq!(status(&r), 200);
    let transport = r.headers.get("Transport").unwrap();
    assert!(transport.contains("interleaved=2-3"), "{transport}");
}

#[test]
fn captions_leave_at_their_times_each_after_a_sender_report() {
    let mut core = Core::default_config();
    let conn = core.connect(40000);
    let id = setup_both(&mut core, conn);
    let r = core.request(
        conn,
        &format!("SETUP {TALK}/trackID=2"),
        &[
            "Transport: RTP/AVP;unicast;client_port=5004-5005",
            &format!("Session: {id}"),
        ],
    );
    assert_eq!(status(&r), 200, "{r:?}");
    let r = core.request(conn, &format!("PLAY {TALK}"), &[&format!("Session: {id}")]);
    let info = r.headers.typed::<RtpInfo>().unwrap().unwrap();
    assert_eq!(info.0.len(), 3);
    let origin = info.0[2].rtptime.unwrap();
    let start = core.now;
    let mut captions = Vec::new();
    let mut last_report: Option<u32> = None;
    let end = start + Duration::from_millis(1000);
    while core.now < end {
        for (socket, to, bytes) in core.transmit() {
            match (socket, to.port()) {
                (Socket::Rtcp, 5005) => {
                    for p in rtcp::Compound::parse(&bytes).unwrap().iter() {
                        if let rtcp::Packet::SenderReport(sr) = p {
                            last_report = Some(sr.sender_info().rtp_timestamp);
                        }
                    }
                }
                (Socket::Rtp, 5004) => {
                    let p = rtp::Packet::parse(&bytes).unwrap();
                    let text = String::from_utf8(p.payload().to_vec()).unwrap();
                    let at = (core.now - start).as_millis() as u32;
                    let ts = p.timestamp().wrapping_sub(origin);
                    captions.push((at, ts, text, last_report.map(|r| r.wrapping_sub(origin))));
                }
                _ => {}
            }
        }
        core.advance(Duration::from_millis(1));
    }
    assert_eq!(
        captions,
        vec![
            (200, 200, "hello\u{2028}".to_owned(), Some(200)),
            (600, 600, "two\nlines\u{2028}".to_owned(), Some(600)),
        ],
        "(sent at ms, timestamp ms, text, the report just before it)"
    );
}
