//! Every RTSP method the server offers, and every error it answers, over raw TCP on loopback
//! (RFC 2326 §10, §11).

use crate::common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, client_ports, recv_until, session_id, udp_pair, url, wait_for_bye};
use hdstream_common::rfc2435::{Depacketizer, Output};
use hdstream_common::rtp;
use hdstream_common::rtsp::Response;
use hdstream_common::rtsp::header::{Public, Range, RtpInfo, Session as SessionHeader, Transport};
use hdstream_common::sdp::SessionDescription;
use hdstream_server::core::Config;
use hdstream_server::driver::Handle;

/// 2 s of 320x240 at 30 fps, 4:2:0: servable.
const CLIP: Clip = Clip::new(320, 240, 2);
/// 4:4:4: not RFC 2435-ready.
const FULL_CHROMA: Clip = Clip::new(320, 240, 1).pix_fmt("yuvj444p").frames(10);

/// The media root shared by the tests: `clip.mjpeg`, `full444.mjpeg`, and `outside.mjpeg`, a
/// symlink to a file outside the root.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let clip = CLIP.path();
        let full = FULL_CHROMA.path();
        let root = common::media_root(
            "rtsp_methods",
            &[("clip.mjpeg", &clip), ("full444.mjpeg", &full)],
        );
        std::os::unix::fs::symlink(&clip, root.join("outside.mjpeg")).expect("symlink");
        root
    })
}

fn server() -> Handle {
    common::serve(root(), Config::default())
}

fn status(reply: &Response) -> u16 {
    reply.status.as_u16()
}

fn body(reply: &Response) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn setup_udp(c: &mut Rtsp, server: &Handle) -> (Response, UdpSocket, UdpSocket) {
    let (rtp, rtcp) = udp_pair();
    let reply = c.request(
        "SETUP",
        &format!("{}/trackID=0", url(server, "clip.mjpeg")),
        &[("Transport", &client_ports(&rtp))],
    );
    assert_eq!(status(&reply), 200, "SETUP: {}", body(&reply));
    (reply, rtp, rtcp)
}

/// Receives RTP packets until `deadline`; (sequence number, timestamp, ssrc) of each.
fn receive(socket: &UdpSocket, deadline: Instant) -> Vec<(u16, u32, u32)> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(n) = recv_until(socket, &mut buf, deadline) {
        let packet = rtp::Packet::parse(&buf[..n]).expect("valid RTP");
        assert_eq!(packet.payload_type(), 26, "JPEG payload type");
        out.push((packet.sequence_number(), packet.timestamp(), packet.ssrc()));
    }
    out
}

#[test]
fn options_lists_every_method() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let reply = c.request("OPTIONS", "*", &[]);
    assert_eq!(status(&reply), 200);
    let public = reply
        .headers
        .typed::<Public>()
        .expect("Public header")
        .expect("valid Public");
    for m in [
        "OPTIONS",
        "DESCRIBE",
        "SETUP",
        "PLAY",
        "PAUSE",
        "TEARDOWN",
        "GET_PARAMETER",
    ] {
        assert!(
            public.0.iter().any(|p| p.as_str() == m),
            "Public lists {m}: {public:?}"
        );
    }
    // OPTIONS on a URL works too.
    assert_eq!(
        status(&c.request("OPTIONS", &url(&server, "clip.mjpeg"), &[])),
        200
    );
}

#[test]
fn describe_returns_a_parsable_sdp() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let u = url(&server, "clip.mjpeg");
    let reply = c.request("DESCRIBE", &u, &[("Accept", "application/sdp")]);
    assert_eq!(status(&reply), 200, "{}", body(&reply));
    assert_eq!(reply.headers.get("Content-Type"), Some("application/sdp"));
    assert_eq!(
        reply.headers.get("Content-Base"),
        Some(format!("{u}/").as_str())
    );
    let sdp = SessionDescription::parse(&body(&reply)).expect("SDP parses");
    let duration = sdp.duration().expect("a=range:npt=0-D");
    assert!((duration - 2.0).abs() < 1e-3, "duration {duration}");
    let video = sdp.jpeg_video().expect("an m=video JPEG section");
    let pt = video.jpeg_payload_type().expect("JPEG payload type");
    assert_eq!(pt, 26);
    assert_eq!(video.clock_rate(pt), Some(90_000));
    assert_eq!(video.framerate(), Some(30.0));
    assert!(video.control().is_some(), "a=control for SETUP");
    assert_eq!(
        video.x_dimensions(),
        Some((320, 240)),
        "a=x-dimensions announces the true size"
    );
}

#[test]
fn setup_play_pause_play_teardown_over_udp() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let (reply, rtp_socket, rtcp_socket) = setup_udp(&mut c, &server);
    let session = reply
        .headers
        .typed::<SessionHeader>()
        .expect("Session")
        .expect("valid Session");
    assert!(!session.id.is_empty());
    assert_eq!(session.timeout, Some(60), "Session carries ;timeout");
    let transport = reply
        .headers
        .typed::<Transport>()
        .expect("Transport")
        .expect("valid Transport");
    let spec = &transport.0[0];
    let server_port = spec.server_port().expect("server_port");
    assert_eq!(
        (server_port.rtp, server_port.rtcp),
        (server.media_ports.0, Some(server.media_ports.1))
    );
    let client_port = spec.client_port().expect("client_port echoed");
    assert_eq!(client_port.rtp, rtp_socket.local_addr().unwrap().port());
    let ssrc = spec.ssrc().expect("ssrc in the reply");
    let id = session.id;

    // PLAY: RTP-Info tells the first sequence number and timestamp; Range where it starts.
    let reply = c.request(
        "PLAY",
        &url(&server, "clip.mjpeg"),
        &[("Session", &id), ("Range", "npt=0-")],
    );
    assert_eq!(status(&reply), 200, "{}", body(&reply));
    let info = reply
        .headers
        .typed::<RtpInfo>()
        .expect("RTP-Info")
        .expect("valid RTP-Info");
    let (seq, rtptime) = (
        info.0[0].seq.expect("seq="),
        info.0[0].rtptime.expect("rtptime="),
    );
    let range = reply
        .headers
        .typed::<Range>()
        .expect("Range")
        .expect("valid Range");
    assert_eq!(range.start_seconds(), Some(0.0));
    let packets = receive(&rtp_socket, Instant::now() + Duration::from_millis(400));
    assert!(packets.len() > 5, "RTP flows after PLAY");
    assert_eq!(
        (packets[0].0, packets[0].1, packets[0].2),
        (seq, rtptime, ssrc),
        "first packet matches RTP-Info and ssrc"
    );
    for w in packets.windows(2) {
        assert_eq!(
            w[1].0,
            w[0].0.wrapping_add(1),
            "consecutive sequence numbers"
        );
    }

    // PAUSE: the stream stops once the frame in flight has gone.
    let reply = c.request("PAUSE", &url(&server, "clip.mjpeg"), &[("Session", &id)]);
    assert_eq!(status(&reply), 200);
    let tail = receive(&rtp_socket, Instant::now() + Duration::from_millis(150));
    let after = receive(&rtp_socket, Instant::now() + Duration::from_millis(300));
    assert!(after.is_empty(), "{} packets after PAUSE", after.len());
    let last = tail.last().or(packets.last()).copied().expect("a packet");

    // GET_PARAMETER keeps the session alive and names it.
    let reply = c.request(
        "GET_PARAMETER",
        &url(&server, "clip.mjpeg"),
        &[("Session", &id)],
    );
    assert_eq!(status(&reply), 200);
    assert_eq!(session_id(&reply), id);

    // PLAY resumes where it paused, sequence numbers continuing.
    let reply = c.request("PLAY", &url(&server, "clip.mjpeg"), &[("Session", &id)]);
    assert_eq!(status(&reply), 200);
    let info = reply
        .headers
        .typed::<RtpInfo>()
        .expect("RTP-Info")
        .expect("valid RTP-Info");
    assert_eq!(
        info.0[0].seq,
        Some(last.0.wrapping_add(1)),
        "resumes with the next sequence number"
    );
    let range = reply
        .headers
        .typed::<Range>()
        .expect("Range")
        .expect("valid Range");
    assert!(
        range.start_seconds().unwrap() > 0.0,
        "resumes mid-file: {range:?}"
    );
    let resumed = receive(&rtp_socket, Instant::now() + Duration::from_millis(300));
    assert_eq!(
        resumed.first().map(|p| (p.0, p.1)),
        Some((last.0.wrapping_add(1), info.0[0].rtptime.unwrap()))
    );
    assert!(
        resumed[0].1.wrapping_sub(last.1) < 1 << 31,
        "timestamps keep increasing across PAUSE"
    );

    // TEARDOWN: RTCP BYE, the stream stops, the session is gone.
    let reply = c.request("TEARDOWN", &url(&server, "clip.mjpeg"), &[("Session", &id)]);
    assert_eq!(status(&reply), 200);
    assert!(
        wait_for_bye(&rtcp_socket, Instant::now() + Duration::from_secs(2)),
        "RTCP BYE after TEARDOWN"
    );
    let _ = receive(&rtp_socket, Instant::now() + Duration::from_millis(100));
    assert!(
        receive(&rtp_socket, Instant::now() + Duration::from_millis(200)).is_empty(),
        "no RTP after TEARDOWN"
    );
    let reply = c.request("PLAY", &url(&server, "clip.mjpeg"), &[("Session", &id)]);
    assert_eq!(status(&reply), 454, "torn-down session is gone");
}

#[test]
fn setup_tcp_interleaved_delivers_every_frame_then_bye() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let u = url(&server, "clip.mjpeg");
    let reply = c.request(
        "SETUP",
        &format!("{u}/trackID=0"),
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
    );
    assert_eq!(status(&reply), 200, "{}", body(&reply));
    let transport = reply
        .headers
        .typed::<Transport>()
        .expect("Transport")
        .expect("valid Transport");
    let channels = transport.0[0].interleaved().expect("interleaved=");
    assert_eq!((channels.rtp, channels.rtcp), (0, Some(1)));
    let id = session_id(&reply);
    let reply = c.request("PLAY", &u, &[("Session", &id)]);
    assert_eq!(status(&reply), 200);

    let mut depacketizer = Depacketizer::new();
    let mut frames = 0;
    let mut last_seq: Option<u16> = None;
    let mut bye = false;
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut pending: Vec<(u8, Vec<u8>)> = std::mem::take(&mut c.data);
    while !bye {
        if pending.is_empty() {
            match c.message(deadline) {
                Some(hdstream_common::rtsp::Message::Data(d)) => {
                    pending.push((d.channel, d.payload.into_owned()))
                }
                Some(other) => panic!("unexpected message {other:?}"),
                None => break,
            }
        }
        for (channel, packet) in pending.drain(..) {
            match channel {
                0 => {
                    let p = rtp::Packet::parse(&packet).expect("valid RTP");
                    if let Some(l) = last_seq {
                        assert_eq!(p.sequence_number(), l.wrapping_add(1), "no gap over TCP");
                    }
                    last_seq = Some(p.sequence_number());
                    depacketizer.push(&p);
                    while let Some(out) = depacketizer.pull() {
                        match out {
                            Output::Frame(jpeg) => {
                                assert_eq!((jpeg.width, jpeg.height), (320, 240));
                                frames += 1;
                            }
                            Output::Lost { reason, .. } => {
                                panic!("frame lost over TCP: {reason:?}")
                            }
                        }
                    }
                }
                1 => bye |= common::is_bye(&packet),
                other => panic!("data on channel {other}"),
            }
        }
    }
    assert!(bye, "RTCP BYE on channel 1 at the end of the file");
    assert_eq!(frames, CLIP.frames, "every frame of the file");
}

#[test]
fn play_before_setup_is_455() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let reply = c.request("PLAY", &url(&server, "clip.mjpeg"), &[]);
    assert_eq!(status(&reply), 455, "{}", body(&reply));
    assert_eq!(
        status(&c.request("PAUSE", &url(&server, "clip.mjpeg"), &[])),
        455
    );
}

#[test]
fn unknown_session_is_454() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let u = url(&server, "clip.mjpeg");
    assert_eq!(
        status(&c.request("PLAY", &u, &[("Session", "12345678")])),
        454
    );
    assert_eq!(
        status(&c.request("TEARDOWN", &u, &[("Session", "12345678")])),
        454
    );
    // Another connection's session is not ours to play.
    let (reply, _rtp, _rtcp) = setup_udp(&mut c, &server);
    let id = session_id(&reply);
    let mut other = Rtsp::connect(server.rtsp);
    assert_eq!(status(&other.request("PLAY", &u, &[("Session", &id)])), 454);
    assert_eq!(status(&c.request("PLAY", &u, &[("Session", &id)])), 200);
}

#[test]
fn unsupported_transports_are_461() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let track = format!("{}/trackID=0", url(&server, "clip.mjpeg"));
    let (rtp, _rtcp) = udp_pair();
    let port = rtp.local_addr().unwrap().port();
    let refused = [
        format!("RTP/SAVP;unicast;client_port={port}-{}", port + 1),
        format!("RTP/AVP;multicast;client_port={port}-{}", port + 1),
        "RTP/AVP;multicast;destination=224.2.0.1;port=5000-5001;ttl=8".to_owned(),
        format!(
            "RTP/AVP;unicast;destination=127.0.0.2;client_port={port}-{}",
            port + 1
        ),
        "RTP/AVP;unicast".to_owned(),
        "RAW/RAW/UDP;unicast;client_port=4000".to_owned(),
    ];
    for transport in &refused {
        let reply = c.request("SETUP", &track, &[("Transport", transport)]);
        assert_eq!(
            status(&reply),
            461,
            "Transport: {transport}: {}",
            body(&reply)
        );
        assert!(!body(&reply).trim().is_empty(), "461 says why");
    }
    let reply = c.request("SETUP", &track, &[]);
    assert_eq!(status(&reply), 461, "no Transport header");
    assert!(
        rtp.set_read_timeout(Some(Duration::from_millis(100)))
            .is_ok()
            && rtp.recv(&mut [0u8; 16]).is_err(),
        "nothing was sent anywhere"
    );
    // A list falls through to the first acceptable choice (RFC 2326 §12.39).
    let reply = c.request(
        "SETUP",
        &track,
        &[(
            "Transport",
            &format!(
                "RTP/SAVP;unicast;client_port={port}-{},{}",
                port + 1,
                client_ports(&rtp)
            ),
        )],
    );
    assert_eq!(status(&reply), 200, "{}", body(&reply));
}

#[test]
fn unknown_file_is_404() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    for name in ["nope.mjpeg", "clip.mjpeg.bak", "sub/clip.mjpeg"] {
        let reply = c.request("DESCRIBE", &url(&server, name), &[]);
        assert_eq!(status(&reply), 404, "{name}");
    }
    let (rtp, _rtcp) = udp_pair();
    let reply = c.request(
        "SETUP",
        &url(&server, "nope.mjpeg/trackID=0"),
        &[("Transport", &client_ports(&rtp))],
    );
    assert_eq!(status(&reply), 404);
}

#[test]
fn paths_out_of_the_media_root_are_refused() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    // A real, servable file sits at ../../test-media/<name> from the root, and its absolute path.
    let outside = CLIP.path();
    let name = CLIP.file_name();
    let absolute = outside.to_str().unwrap().trim_start_matches('/').to_owned();
    let base = format!("rtsp://{}", server.rtsp);
    let attempts = [
        format!("{base}/../../test-media/{name}"),
        format!("{base}/clip.mjpeg/../../../test-media/{name}"),
        format!("{base}/%2e%2e/%2e%2e/test-media/{name}"),
        format!("{base}/%2E%2E%2F%2E%2E%2Ftest-media%2F{name}"),
        format!("{base}/..%5c..%5ctest-media%5c{name}"),
        format!("{base}//etc/passwd"),
        format!("{base}/%2Fetc%2Fpasswd"),
        format!("{base}//{absolute}"),
        format!("{base}/{absolute}"),
        "/etc/passwd".to_owned(),
        format!("/{absolute}"),
        format!("{base}/outside.mjpeg"),
    ];
    for attempt in &attempts {
        let reply = c.request("DESCRIBE", attempt, &[]);
        assert!(
            matches!(status(&reply), 403 | 404),
            "DESCRIBE {attempt}: {} {}",
            status(&reply),
            body(&reply)
        );
        assert!(
            !reply.body.starts_with(b"v=0"),
            "no description of {attempt}"
        );
    }
    let (rtp, _rtcp) = udp_pair();
    for attempt in &attempts {
        let reply = c.request("SETUP", attempt, &[("Transport", &client_ports(&rtp))]);
        assert!(
            matches!(status(&reply), 403 | 404),
            "SETUP {attempt}: {}",
            status(&reply)
        );
    }
    assert_eq!(
        status(&c.request("OPTIONS", "*", &[])),
        200,
        "the connection goes on"
    );
}

#[test]
fn garbage_gets_400_and_the_connection_and_other_sessions_go_on() {
    let server = server();
    // A session playing on another connection must not notice.
    let mut player = Rtsp::connect(server.rtsp);
    let (reply, rtp_socket, _rtcp) = setup_udp(&mut player, &server);
    let id = session_id(&reply);
    assert_eq!(
        status(&player.request("PLAY", &url(&server, "clip.mjpeg"), &[("Session", &id)])),
        200
    );

    let mut c = Rtsp::connect(server.rtsp);
    let garbage: [&[u8]; 7] = [
        b"\x00\x01\x02 this is not RTSP \xff\xfe\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"OPTIONS\r\nCSeq: 9\r\n\r\n",
        b"DESCRIBE rtsp://h/x RTSP/1.0\r\nCSeq: banana\r\nNo colon here\r\n\r\n",
        // No blank line after these: the next request must still be heard.
        b"HELLO\r\n",
        b"\x00\x01\x02garbage\r\n",
        b"OPTIONS * RTSP/1.0\r\nCSeq 5\r\n",
    ];
    for g in garbage {
        c.send(g);
        let reply = c.response();
        assert_eq!(
            status(&reply),
            400,
            "{:?} → {} {}",
            String::from_utf8_lossy(g),
            status(&reply),
            body(&reply)
        );
        let reply = c.request("OPTIONS", "*", &[]);
        assert_eq!(
            status(&reply),
            200,
            "OPTIONS after {:?}",
            String::from_utf8_lossy(g)
        );
    }
    let mut buf = vec![0u8; 65536];
    assert!(
        recv_until(
            &rtp_socket,
            &mut buf,
            Instant::now() + Duration::from_millis(500)
        )
        .is_some(),
        "the other session still plays"
    );
}

#[test]
fn unknown_method_is_501_and_rtsp_2_is_505() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let reply = c.request("FROBNICATE", &url(&server, "clip.mjpeg"), &[]);
    assert_eq!(status(&reply), 501, "{}", body(&reply));
    c.send(b"OPTIONS * RTSP/2.0\r\nCSeq: 77\r\n\r\n");
    let reply = c.response();
    assert_eq!(status(&reply), 505, "{}", body(&reply));
    assert_eq!(reply.headers.get("CSeq"), Some("77"));
    assert_eq!(
        status(&c.request("OPTIONS", "*", &[])),
        200,
        "the connection goes on"
    );
}

#[test]
fn a_file_that_is_not_rfc2435_ready_is_415_with_the_reason() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let reply = c.request("DESCRIBE", &url(&server, "full444.mjpeg"), &[]);
    assert_eq!(status(&reply), 415);
    let why = body(&reply);
    assert!(
        why.contains("4:4:4") && why.contains("RFC 2435"),
        "415 explains: {why}"
    );
    let (rtp, _rtcp) = udp_pair();
    let reply = c.request(
        "SETUP",
        &url(&server, "full444.mjpeg/trackID=0"),
        &[("Transport", &client_ports(&rtp))],
    );
    assert_eq!(status(&reply), 415);
}

#[test]
fn play_range_outside_the_file_is_457() {
    let server = server();
    let mut c = Rtsp::connect(server.rtsp);
    let (reply, _rtp, _rtcp) = setup_udp(&mut c, &server);
    let id = session_id(&reply);
    let u = url(&server, "clip.mjpeg");
    for range in ["npt=100-", "smpte=0:00:01-", "npt=banana-"] {
        let reply = c.request("PLAY", &u, &[("Session", &id), ("Range", range)]);
        assert_eq!(status(&reply), 457, "Range: {range}: {}", body(&reply));
    }
    let reply = c.request("PLAY", &u, &[("Session", &id), ("Range", "npt=1.5-")]);
    assert_eq!(status(&reply), 200);
    let range = reply
        .headers
        .typed::<Range>()
        .expect("Range")
        .expect("valid Range");
    assert_eq!(
        range.start_seconds(),
        Some(1.5),
        "plays from the asked position"
    );
}
