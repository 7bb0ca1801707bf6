//! SDP tests: real samples, generation, errors, round trips.

use proptest::prelude::*;

use super::*;
use crate::rtsp::header::NptTime;

/// What gst-rtsp-server announces for `rtpjpegpay` at 3840x2160 (a capture, `testdata/`).
const GSTREAMER: &str = include_str!("../../testdata/gst-rtsp-server-2160p.sdp");

/// What `ffmpeg -i in.mjpeg -c copy -f rtp rtp://127.0.0.1:5004` prints: static type 26 and
/// no rtpmap (ffmpeg writes none for static payload types).
const FFMPEG: &str = "v=0\n\
o=- 0 0 IN IP4 127.0.0.1\n\
s=No Name\n\
c=IN IP4 127.0.0.1\n\
t=0 0\n\
a=tool:libavformat 60.16.100\n\
m=video 5004 RTP/AVP 26\n\
b=AS:9133\n";

/// A live555-style camera: audio first, then JPEG on a dynamic payload type.
const LIVE555: &str = "v=0\r\n\
o=- 1700000000000000 1 IN IP4 192.168.1.2\r\n\
s=MJPEG camera\r\n\
i=live\r\n\
t=0 0\r\n\
a=tool:LIVE555 Streaming Media v2023.11.08\r\n\
a=type:broadcast\r\n\
a=control:*\r\n\
a=range:npt=0-\r\n\
a=x-qt-text-nam:MJPEG camera\r\n\
m=audio 0 RTP/AVP 0\r\n\
c=IN IP4 0.0.0.0\r\n\
b=AS:64\r\n\
a=control:track1\r\n\
m=video 0 RTP/AVP 96\r\n\
c=IN IP4 0.0.0.0\r\n\
b=AS:5000\r\n\
a=rtpmap:96 JPEG/90000\r\n\
a=recvonly\r\n\
a=control:track2\r\n";

#[test]
fn gstreamer_sdp_with_x_dimensions() {
    let sd = SessionDescription::parse(GSTREAMER).unwrap();
    assert_eq!(sd.session_name, "Session streamed with GStreamer");
    assert_eq!(sd.range().unwrap().start, Some(NptTime::Now));
    assert_eq!(sd.duration(), None);
    let video = sd.jpeg_video().unwrap();
    assert_eq!(video.jpeg_payload_type(), Some(26));
    assert_eq!(video.clock_rate(26), Some(90_000));
    assert_eq!(video.framerate(), Some(30.0));
    assert_eq!(video.x_dimensions(), Some((3840, 2160)));
    let base = "rtsp://127.0.0.1:8554/test/";
    assert_eq!(
        video.control_url(base),
        "rtsp://127.0.0.1:8554/test/stream=0"
    );
    assert_eq!(sd.aggregate_url(base), "rtsp://127.0.0.1:8554/test");
    assert_eq!(sd.to_string(), GSTREAMER, "re-serializes byte for byte");
}

#[test]
fn ffmpeg_sdp_with_static_payload_type_and_no_rtpmap() {
    let sd = SessionDescription::parse(FFMPEG).unwrap();
    let video = sd.jpeg_video().unwrap();
    assert_eq!(video.port, 5004);
    assert_eq!(video.jpeg_payload_type(), Some(26));
    assert_eq!(video.rtpmap(26), None);
    assert_eq!(video.bandwidths[0].bwtype, "AS");
    assert_eq!(video.bandwidths[0].bandwidth, 9133);
    assert_eq!(video.x_dimensions(), None);
    assert_eq!(sd.connection.as_ref().unwrap().address, "127.0.0.1");
    assert_eq!(
        sd.attribute("tool").and_then(|a| a.value.as_deref()),
        Some("libavformat 60.16.100")
    );
    // No control attribute anywhere: the stream is the request URL itself.
    assert_eq!(video.control_url("rtsp://h/x"), "rtsp://h/x");
    assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
}

#[test]
fn live555_sdp_picks_the_first_jpeg_video_among_several_media() {
    let sd = SessionDescription::parse(LIVE555).unwrap();
    assert_eq!(sd.media.len(), 2);
    assert_eq!(sd.media[0].jpeg_payload_type(), None, "PCMU audio");
    let video = sd.jpeg_video().unwrap();
    assert_eq!(video.jpeg_payload_type(), Some(96));
    assert_eq!(video.clock_rate(96), Some(90_000));
    assert!(
        video
            .attribute("recvonly")
            .is_some_and(|a| a.value.is_none())
    );
    let base = "rtsp://192.168.1.2:8554/cam";
    assert_eq!(
        video.control_url(base),
        "rtsp://192.168.1.2:8554/cam/track2"
    );
    assert_eq!(sd.aggregate_url(base), base);
    assert_eq!(sd.range().unwrap().start_seconds(), Some(0.0));
    assert_eq!(sd.to_string(), LIVE555);
}

#[test]
fn generated_sdp_is_what_players_expect_and_parses_back() {
    let stream = MjpegStream {
        session_id: 42,
        session_version: 1,
        origin_address: "192.0.2.1",
        session_name: "movie.mjpeg",
        control: "track1",
        duration: Some(12.5),
        live: false,
        framerate: 30.0,
        width: 3840,
        height: 2160,
        rtx: None,
    };
    let sd = SessionDescription::mjpeg(&stream);
    let text = sd.to_string();
    assert_eq!(
        text,
        "v=0\r\n\
         o=- 42 1 IN IP4 192.0.2.1\r\n\
         s=movie.mjpeg\r\n\
         c=IN IP4 0.0.0.0\r\n\
         t=0 0\r\n\
         a=tool:hdstream\r\n\
         a=type:broadcast\r\n\
         a=control:*\r\n\
         a=range:npt=0-12.5\r\n\
         m=video 0 RTP/AVP 26\r\n\
         a=rtpmap:26 JPEG/90000\r\n\
         a=control:track1\r\n\
         a=framerate:30\r\n\
         a=x-dimensions:3840,2160\r\n"
    );
    let parsed = SessionDescription::parse(&text).unwrap();
    assert_eq!(parsed, sd);
    let video = parsed.jpeg_video().unwrap();
    assert_eq!(video.framerate(), Some(30.0));
    assert_eq!(video.x_dimensions(), Some((3840, 2160)));
    assert_eq!(parsed.duration(), Some(12.5));
    assert_eq!(
        video.control_url("rtsp://h/movie.mjpeg/"),
        "rtsp://h/movie.mjpeg/track1"
    );

    let live = SessionDescription::mjpeg(&MjpegStream {
        duration: None,
        origin_address: "2001:db8::1",
        framerate: 29.97,
        ..stream
    });
    let text = live.to_string();
    assert!(text.contains("o=- 42 1 IN IP6 2001:db8::1\r\n") && text.contains("c=IN IP6 ::\r\n"));
    assert!(text.contains("a=range:npt=0-\r\n") && text.contains("a=framerate:29.97\r\n"));
    assert_eq!(SessionDescription::parse(&text), Ok(live));
    let published = SessionDescription::mjpeg(&MjpegStream {
        live: true,
        width: 0,
        ..stream
    });
    let text = published.to_string();
    assert!(text.contains("a=range:npt=now-\r\n"), "{text}");
    assert!(!text.contains("x-dimensions"), "size not known yet: {text}");
    assert_eq!(
        SessionDescription::parse(&text).unwrap().range(),
        Some(Range::now())
    );

    let rtx = RtxFormat {
        payload_type: 97,
        apt: 26,
        rtx_time_ms: 1000,
    };
    let offer = SessionDescription::mjpeg(&MjpegStream {
        rtx: Some(rtx),
        ..stream
    });
    let text = offer.to_string();
    assert!(text.contains("m=video 0 RTP/AVPF 26 97\r\n"), "{text}");
    assert!(
        text.contains(
            "a=rtcp-fb:26 nack\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=26;rtx-time=1000\r\n"
        ),
        "{text}"
    );
    let parsed = SessionDescription::parse(&text).unwrap();
    let video = parsed.jpeg_video().unwrap();
    assert_eq!(
        (video.jpeg_payload_type(), video.rtx_for(26)),
        (Some(26), Some(rtx))
    );
    assert!(video.accepts_nack(26));
}

#[test]
fn malformed_descriptions_are_errors_with_line_numbers() {
    let cases: [(&str, Error); 9] = [
        ("", Error::Version { line: 1 }),
        ("o=- 0 0 IN IP4 h\r\n", Error::Version { line: 1 }),
        ("v=1\r\n", Error::Version { line: 1 }),
        ("v=0\r\ns=x\r\n", Error::Missing { field: "o=" }),
        (
            "v=0\r\no=- 0 0 IN IP4 h\r\n",
            Error::Missing { field: "s=" },
        ),
        (
            "v=0\r\no=- 0 0 IN IP4\r\ns=x\r\n",
            Error::Syntax {
                line: 2,
                field: "o=",
                expected: "<username> <sess-id> <sess-version> <nettype> <addrtype> <address>",
            },
        ),
        (
            "v=0\r\no=- 0 0 IN IP4 h\r\ns=x\r\ns=y\r\n",
            Error::Duplicate {
                line: 4,
                field: "s=",
            },
        ),
        (
            "v=0\r\no=- 0 0 IN IP4 h\r\ns=x\r\nm=video 70000 RTP/AVP 26\r\n",
            Error::Syntax {
                line: 4,
                field: "m=",
                expected: "<media> <port>[/<number of ports>] <proto> <fmt> ...",
            },
        ),
        (
            "v=0\r\no=- 0 0 IN IP4 h\r\ns=x\r\nthis is not sdp\r\n",
            Error::Syntax {
                line: 4,
                field: "line",
                expected: "<type>=<value>",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(SessionDescription::parse(text), Err(expected), "{text:?}");
    }
    for bad in [
        "v=0\no=- 0 0 IN IP4 h\ns=x\nb=AS:lots\n",
        "v=0\no=- 0 0 IN IP4 h\ns=x\nt=0\n",
        "v=0\no=- 0 0 IN IP4 h\ns=x\nr=7d 1h 0 25h\n",
        "v=0\no=- 0 0 IN IP4 h\ns=x\nc=IN IP4\n",
        "v=0\no=- 0 0 IN IP4 h\ns=x\nm=video\n",
    ] {
        assert!(
            matches!(SessionDescription::parse(bad), Err(Error::Syntax { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn tolerates_unknown_types_blank_lines_and_loose_order() {
    let sd = SessionDescription::parse(
        "v=0\n\no=- 1 1 IN IP4 h\na=control:*\ns=x\ny=unknown\nt=0 0\nm=video 0 RTP/AVP 26\n \n",
    )
    .unwrap();
    assert_eq!(sd.control(), Some("*"));
    assert_eq!(sd.media.len(), 1);
}

#[test]
fn odd_attribute_values_are_ignored_not_fatal() {
    let sd = SessionDescription::parse(
        "v=0\no=- 1 1 IN IP4 h\ns=x\nm=video 0 RTP/AVP 96 26\na=rtpmap:96 H264\n\
         a=framerate:fast\na=x-dimensions:0,10\n",
    )
    .unwrap();
    let m = &sd.media[0];
    assert_eq!(m.rtpmap(96), None);
    assert_eq!(
        m.jpeg_payload_type(),
        Some(26),
        "96 has an unreadable rtpmap: not JPEG"
    );
    assert_eq!(m.framerate(), None);
    assert_eq!(m.x_dimensions(), None);
    assert!(RtpMap::parse("200 JPEG/90000").is_none());
    assert_eq!(
        RtpMap::parse("97 L16/44100/2").unwrap().to_string(),
        "97 L16/44100/2"
    );
}

fn text(re: &'static str) -> impl Strategy<Value = String> {
    re
}

fn word() -> impl Strategy<Value = String> {
    text("[A-Za-z0-9.:/*-]{1,12}")
}

fn attributes() -> impl Strategy<Value = Vec<Attribute>> {
    let attr = (
        text("[a-z][a-z0-9-]{0,10}"),
        proptest::option::of(text("[ -~]{0,20}")),
    )
        .prop_map(|(name, value)| Attribute { name, value });
    proptest::collection::vec(attr, 0..5)
}

fn connection() -> impl Strategy<Value = Connection> {
    (word(), word(), word()).prop_map(|(net_type, addr_type, address)| Connection {
        net_type,
        addr_type,
        address,
    })
}

fn bandwidths() -> impl Strategy<Value = Vec<Bandwidth>> {
    proptest::collection::vec(
        (text("[A-Z]{1,4}"), any::<u64>())
            .prop_map(|(bwtype, bandwidth)| Bandwidth { bwtype, bandwidth }),
        0..2,
    )
}

fn media() -> impl Strategy<Value = Media> {
    (
        (
            text("[a-z]{1,10}"),
            any::<u16>(),
            proptest::option::of(any::<u16>()),
            word(),
        ),
        proptest::collection::vec(text("[0-9]{1,3}"), 0..4),
        proptest::option::of(text("[ -~]{0,20}")),
        proptest::collection::vec(connection(), 0..2),
        bandwidths(),
        attributes(),
    )
        .prop_map(
            |(
                (media, port, num_ports, proto),
                formats,
                information,
                connections,
                bandwidths,
                attributes,
            )| {
                Media {
                    media,
                    port,
                    num_ports,
                    proto,
                    formats,
                    information,
                    connections,
                    bandwidths,
                    key: None,
                    attributes,
                }
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        proptest::collection::vec(word(), 6),
        text("[ -~]{0,20}"),
        proptest::option::of(text("[ -~]{0,20}")),
        proptest::option::of(connection()),
        bandwidths(),
        proptest::collection::vec((any::<u64>(), any::<u64>()), 0..2),
        attributes(),
        proptest::collection::vec(media(), 0..3),
    )
        .prop_map(
            |(o, session_name, information, connection, bandwidths, times, attributes, media)| {
                SessionDescription {
                    origin: Origin {
                        username: o[0].clone(),
                        session_id: o[1].clone(),
                        session_version: o[2].clone(),
                        net_type: o[3].clone(),
                        addr_type: o[4].clone(),
                        address: o[5].clone(),
                    },
                    session_name,
                    information,
                    uri: None,
                    emails: Vec::new(),
                    phones: Vec::new(),
                    connection,
                    bandwidths,
                    times: times
                        .into_iter()
                        .map(|(start, stop)| Timing {
                            start,
                            stop,
                            repeats: Vec::new(),
                        })
                        .collect(),
                    time_zones: None,
                    key: None,
                    attributes,
                    media,
                }
            },
        )
}

/// An offer of retransmission (RFC 4588 §8.1) and generic NACK (RFC 4585 §4.2) for JPEG.
#[test]
fn retransmission_and_nack_are_read_from_the_media_section() {
    let text = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=clip\r\nt=0 0\r\n\
        m=video 0 RTP/AVPF 26 97\r\n\
        a=rtpmap:26 JPEG/90000\r\n\
        a=rtcp-fb:26 nack\r\n\
        a=rtcp-fb:26 nack pli\r\n\
        a=rtpmap:97 rtx/90000\r\n\
        a=fmtp:97 apt=26;rtx-time=500\r\n";
    let sd = SessionDescription::parse(text).unwrap();
    let media = sd.jpeg_video().unwrap();
    assert_eq!(media.jpeg_payload_type(), Some(26));
    assert!(media.accepts_nack(26));
    assert!(!media.accepts_nack(96));
    assert_eq!(
        media.rtx_for(26),
        Some(RtxFormat {
            payload_type: 97,
            apt: 26,
            rtx_time_ms: 500
        })
    );
    assert_eq!(media.rtx_for(96), None);
    // What a server writes reads back the same; rtx-time defaults to 3 s when absent.
    let offer = RtxFormat {
        payload_type: 98,
        apt: 26,
        rtx_time_ms: 800,
    };
    let mut m = media.clone();
    m.formats = vec!["26".into(), "98".into()];
    m.attributes
        .retain(|a| a.name == "rtpmap" && a.value.as_deref() == Some("26 JPEG/90000"));
    m.attributes.extend(offer.attributes(90_000));
    assert_eq!(m.rtx_for(26), Some(offer));
    assert!(!m.accepts_nack(26), "no rtcp-fb line: no NACKs");
    m.attributes.retain(|a| a.name != "fmtp");
    m.attributes.push(Attribute::new("fmtp", "98 apt=26"));
    assert_eq!(
        m.rtx_for(26).map(|r| r.rtx_time_ms),
        Some(DEFAULT_RTX_TIME_MS)
    );
    m.attributes.push(Attribute::new("rtcp-fb", "* nack"));
    assert!(m.accepts_nack(26));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn descriptions_round_trip(sd in session()) {
        prop_assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
    }

    #[test]
    fn anything_that_parses_round_trips(lines in proptest::collection::vec("[a-z]=[ -~]{0,12}|v=0|m=video 0 RTP/AVP 26|o=- 1 1 IN IP4 h|s=x|\r|", 0..12)) {
        let text = lines.join("\n");
        if let Ok(sd) = SessionDescription::parse(&text) {
            prop_assert_eq!(SessionDescription::parse(&sd.to_string()), Ok(sd));
        }
    }
}
