//! SIGINT stops the server binary cleanly: exit code 0, and every playing client is told with
//! an RTCP BYE (over UDP on its RTCP port, or interleaved on its RTSP connection).

use crate::common;

use std::time::{Duration, Instant};

use common::{Clip, Rtsp, client_ports, recv_until, session_id, udp_pair};
use hdstream_common::rtsp::Message;

/// 10 s of 320x240: still playing when the signal comes.
const CLIP: Clip = Clip::new(320, 240, 10);

#[test]
fn sigint_ends_sessions_with_bye_and_exits_0() {
    let root = common::media_root("sigint", &[("clip.mjpeg", &CLIP.path())]);
    let (server, addr) = common::server_binary(&["--media", root.to_str().expect("UTF-8 path")]);
    let url = format!("rtsp://{addr}/clip.mjpeg");

    let (rtp_socket, rtcp_socket) = udp_pair();
    let mut udp = Rtsp::connect(addr);
    let reply = udp.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[("Transport", &client_ports(&rtp_socket))],
    );
    let id = session_id(&reply);
    assert_eq!(
        udp.request("PLAY", &url, &[("Session", &id)])
            .status
            .as_u16(),
        200
    );

    let mut tcp = Rtsp::connect(addr);
    let reply = tcp.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
    );
    let id = session_id(&reply);
    assert_eq!(
        tcp.request("PLAY", &url, &[("Session", &id)])
            .status
            .as_u16(),
        200
    );

    let mut buf = vec![0u8; 65536];
    assert!(
        recv_until(
            &rtp_socket,
            &mut buf,
            Instant::now() + Duration::from_secs(2)
        )
        .is_some(),
        "RTP flows"
    );
    common::interrupt(server.pid());
    let done = server.wait(Duration::from_secs(5));
    assert!(
        done.status.success(),
        "exit code 0 after SIGINT: {:?}\n{}",
        done.status,
        done.stderr
    );

    assert!(
        common::wait_for_bye(&rtcp_socket, Instant::now() + Duration::from_secs(1)),
        "RTCP BYE on the client's RTCP port"
    );
    let mut tcp_bye = tcp.data.iter().any(|(ch, p)| *ch == 1 && common::is_bye(p));
    let deadline = Instant::now() + Duration::from_secs(1);
    while !tcp_bye {
        match tcp.message(deadline) {
            Some(Message::Data(d)) => tcp_bye = d.channel == 1 && common::is_bye(&d.payload),
            Some(_) => {}
            None => break,
        }
    }
    assert!(
        tcp_bye,
        "RTCP BYE on the interleaved RTCP channel before the connection closed"
    );
}
