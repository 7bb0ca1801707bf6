//! Sessions whose client vanishes are reclaimed (RFC 2326 §12.37): after the session timeout
//! when the client goes silent but keeps its connection, at once when it closes the connection;
//! a request or an RTCP report keeps a session alive.

mod common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, client_ports, recv_until, session_id, udp_pair, url};
use hdstream_common::rtcp;
use hdstream_server::core::Config;
use hdstream_server::driver::Handle;

const TIMEOUT: Duration = Duration::from_secs(2);
/// 10 s of 320x240: longer than any of these tests.
const CLIP: Clip = Clip::new(320, 240, 10);

fn server(name: &str) -> (Handle, PathBuf) {
    let root = common::media_root(name, &[("clip.mjpeg", &CLIP.path())]);
    let config = Config {
        session_timeout: TIMEOUT,
        ..Config::default()
    };
    (common::serve(&root, config), root)
}

/// SETUP + PLAY over UDP; returns the session id and its sockets.
fn play(c: &mut Rtsp, server: &Handle) -> (String, UdpSocket, UdpSocket) {
    let (rtp_socket, rtcp_socket) = udp_pair();
    let u = url(server, "clip.mjpeg");
    let reply = c.request(
        "SETUP",
        &format!("{u}/trackID=0"),
        &[("Transport", &client_ports(&rtp_socket))],
    );
    assert_eq!(reply.status.as_u16(), 200);
    assert!(
        reply.headers.get("Session").unwrap().contains(";timeout=2"),
        "the timeout is advertised"
    );
    let id = session_id(&reply);
    assert_eq!(
        c.request("PLAY", &u, &[("Session", &id)]).status.as_u16(),
        200
    );
    (id, rtp_socket, rtcp_socket)
}

/// When the last RTP packet arrived, receiving until nothing has come for `quiet` (or until
/// `deadline`); `None` if nothing came at all.
fn last_packet(socket: &UdpSocket, quiet: Duration, deadline: Instant) -> Option<Instant> {
    let mut buf = vec![0u8; 65536];
    let mut last = None;
    loop {
        let until = (Instant::now() + quiet).min(deadline);
        match recv_until(socket, &mut buf, until) {
            Some(_) => last = Some(Instant::now()),
            None => return last,
        }
        if Instant::now() >= deadline {
            return last;
        }
    }
}

#[test]
fn a_silent_client_is_reclaimed_after_the_timeout() {
    let (server, _root) = server("timeout-silent");
    let mut c = Rtsp::connect(server.rtsp);
    let (id, rtp_socket, rtcp_socket) = play(&mut c, &server);
    let played = Instant::now();
    // Silence: no RTCP, no request; the connection stays open.
    let last = last_packet(
        &rtp_socket,
        Duration::from_millis(500),
        played + Duration::from_secs(8),
    )
    .expect("RTP flowed");
    let stopped = last - played;
    assert!(
        stopped >= TIMEOUT - Duration::from_millis(300) && stopped <= TIMEOUT * 2,
        "RTP stopped {stopped:?} after the last request (timeout {TIMEOUT:?})"
    );
    assert!(
        common::wait_for_bye(&rtcp_socket, Instant::now() + Duration::from_millis(500)),
        "RTCP BYE when the session times out"
    );
    let reply = c.request("PLAY", &url(&server, "clip.mjpeg"), &[("Session", &id)]);
    assert_eq!(reply.status.as_u16(), 454, "the reclaimed session is gone");
    assert_eq!(
        c.request("OPTIONS", "*", &[]).status.as_u16(),
        200,
        "the connection itself stays usable"
    );
}

#[test]
fn requests_and_rtcp_keep_sessions_alive() {
    let (server, _root) = server("timeout-alive");
    let u = url(&server, "clip.mjpeg");
    // One session kept alive by GET_PARAMETER, one by RTCP receiver reports.
    let mut by_request = Rtsp::connect(server.rtsp);
    let (id_a, rtp_a, _rtcp_a) = play(&mut by_request, &server);
    let mut by_rtcp = Rtsp::connect(server.rtsp);
    let (id_b, rtp_b, rtcp_b) = play(&mut by_rtcp, &server);
    let server_rtcp = std::net::SocketAddr::new(common::LOCALHOST, server.media_ports.1);
    let mut report = vec![0u8; 256];
    let len = {
        let mut w = rtcp::Writer::new(&mut report);
        w.receiver_report(0x1234_5678, &[]).expect("RR");
        w.cname(0x1234_5678, b"test@127.0.0.1").expect("SDES");
        w.finish()
    };
    let end = Instant::now() + TIMEOUT * 2 + Duration::from_millis(500);
    let mut buf = vec![0u8; 65536];
    while Instant::now() < end {
        assert_eq!(
            by_request
                .request("GET_PARAMETER", &u, &[("Session", &id_a)])
                .status
                .as_u16(),
            200
        );
        rtcp_b
            .send_to(&report[..len], server_rtcp)
            .expect("send RR");
        std::thread::sleep(Duration::from_millis(600));
        // Drain what arrived meanwhile.
        while recv_until(&rtp_a, &mut buf, Instant::now() + Duration::from_millis(1)).is_some() {}
        while recv_until(&rtp_b, &mut buf, Instant::now() + Duration::from_millis(1)).is_some() {}
    }
    // Past twice the timeout, both still play.
    for (name, socket) in [("GET_PARAMETER", &rtp_a), ("RTCP", &rtp_b)] {
        assert!(
            recv_until(
                socket,
                &mut buf,
                Instant::now() + Duration::from_millis(300)
            )
            .is_some(),
            "the session kept alive by {name} still plays"
        );
    }
    assert_eq!(
        by_request
            .request("PAUSE", &u, &[("Session", &id_a)])
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        by_rtcp
            .request("PAUSE", &u, &[("Session", &id_b)])
            .status
            .as_u16(),
        200
    );
}

#[test]
fn closing_the_connection_ends_its_sessions() {
    let (server, _root) = server("timeout-close");
    let mut c = Rtsp::connect(server.rtsp);
    let (_id, rtp_socket, _rtcp) = play(&mut c, &server);
    let mut buf = vec![0u8; 65536];
    assert!(
        recv_until(
            &rtp_socket,
            &mut buf,
            Instant::now() + Duration::from_secs(1)
        )
        .is_some(),
        "RTP flows"
    );
    let closed = Instant::now();
    drop(c);
    let last = last_packet(
        &rtp_socket,
        Duration::from_millis(500),
        closed + Duration::from_secs(5),
    );
    let stopped = last.map_or(Duration::ZERO, |l| l.saturating_duration_since(closed));
    assert!(
        stopped < Duration::from_millis(500),
        "RTP went on {stopped:?} after the connection closed"
    );
}
