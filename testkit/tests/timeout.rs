//! Sessions whose client vanishes are reclaimed (RFC 2326 §12.37): after the session timeout
//! when the client goes silent but keeps its connection, at once when it closes the connection;
//! a request or an RTCP report keeps a session alive. (These ran on real sockets with sleeps in
//! `server/tests/timeout.rs`; on the pair the silent client is a client core no longer driven.)

use std::time::Duration;

use hdstream_common::rtcp;
use hdstream_common::rtsp::{self, Message, Parsed, Response};
use hdstream_server::core::Config as ServerConfig;
use hdstream_testkit::{Pair, PairConfig};

const TIMEOUT: Duration = Duration::from_secs(2);

/// 10 s of 320x240 (longer than any of these tests) from a server with a 2 s session timeout.
fn ten_seconds() -> PairConfig {
    PairConfig {
        frames: 300,
        server: ServerConfig {
            session_timeout: TIMEOUT,
            ..ServerConfig::default()
        },
        ..PairConfig::default()
    }
}

/// Every reply in `bytes`.
fn replies(bytes: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Ok(Parsed::Complete { message, consumed }) = rtsp::parse(rest) {
        if let Message::Response(r) = message.into_owned() {
            out.push(r);
        }
        rest = &rest[consumed..];
    }
    out
}

/// The status of the one reply to `request` on a silenced client's connection.
fn status(pair: &mut Pair, request: &str) -> u16 {
    let got = replies(&pair.request(request));
    assert_eq!(got.len(), 1, "one reply to {request:?}");
    got[0].status.as_u16()
}

/// The session id, checking that SETUP's reply advertised the timeout.
fn session(pair: &Pair) -> String {
    let all = replies(pair.transcript());
    let value = all
        .iter()
        .find_map(|r| r.headers.get("Session"))
        .expect("a Session header");
    assert!(value.contains(";timeout=2"), "the timeout is advertised");
    value.split(';').next().unwrap_or(value).trim().to_owned()
}

/// Whether an RTCP compound holds a BYE (RFC 3550 §6.6).
fn is_bye(compound: &[u8]) -> bool {
    rtcp::Compound::parse(compound)
        .map(|c| c.iter().any(|p| matches!(p, rtcp::Packet::Goodbye(_))))
        .unwrap_or(false)
}

const URL: &str = "rtsp://127.0.0.1:8554/clip.mjpeg";

#[test]
fn a_silent_client_is_reclaimed_after_the_timeout() {
    let mut pair = Pair::new(ten_seconds());
    pair.run_for(Duration::from_secs(1));
    assert!(pair.last_rtp_sent().is_some(), "RTP flowed");
    let id = session(&pair);
    // Silence: no RTCP, no request; the connection stays open.
    pair.silence_client();
    pair.run_for(Duration::from_secs(8));
    let heard = pair.last_heard().expect("the client spoke before");
    let stopped = pair.last_rtp_sent().expect("RTP flowed") - heard;
    assert!(
        stopped >= TIMEOUT - Duration::from_millis(300) && stopped <= TIMEOUT * 2,
        "RTP stopped {stopped:?} after the client was last heard (timeout {TIMEOUT:?})"
    );
    assert!(
        pair.unheard_rtcp().iter().any(|c| is_bye(c)),
        "RTCP BYE when the session times out"
    );
    assert_eq!(pair.server.session_count(), 0);
    let play = format!("PLAY {URL} RTSP/1.0\r\nCSeq: 100\r\nSession: {id}\r\n\r\n");
    assert_eq!(
        status(&mut pair, &play),
        454,
        "the reclaimed session is gone"
    );
    assert_eq!(
        status(&mut pair, "OPTIONS * RTSP/1.0\r\nCSeq: 101\r\n\r\n"),
        200,
        "the connection itself stays usable"
    );
}

#[test]
fn requests_and_rtcp_keep_sessions_alive() {
    let mut report = vec![0u8; 256];
    let len = {
        let mut w = rtcp::Writer::new(&mut report);
        w.receiver_report(0x1234_5678, &[]).expect("RR");
        w.cname(0x1234_5678, b"test@127.0.0.1").expect("SDES");
        w.finish()
    };
    // One session kept alive by GET_PARAMETER, one by RTCP receiver reports, each from a
    // client that otherwise says nothing.
    for by_request in [true, false] {
        let name = if by_request { "GET_PARAMETER" } else { "RTCP" };
        let mut pair = Pair::new(ten_seconds());
        pair.run_for(Duration::from_millis(500));
        let id = session(&pair);
        pair.silence_client();
        let end = pair.now + TIMEOUT * 2 + Duration::from_millis(500);
        let mut cseq = 100;
        while pair.now < end {
            if by_request {
                cseq += 1;
                let keep = format!(
                    "GET_PARAMETER {URL} RTSP/1.0\r\nCSeq: {cseq}\r\nSession: {id}\r\n\r\n"
                );
                assert_eq!(status(&mut pair, &keep), 200);
            } else {
                pair.send_rtcp(&report[..len]);
            }
            pair.run_for(Duration::from_millis(600));
        }
        // Past twice the timeout, it still plays.
        pair.run_for(Duration::from_millis(300));
        assert!(
            pair.last_rtp_sent()
                .is_some_and(|t| pair.now - t < Duration::from_millis(300)),
            "the session kept alive by {name} still plays"
        );
        let pause = format!("PAUSE {URL} RTSP/1.0\r\nCSeq: 999\r\nSession: {id}\r\n\r\n");
        assert_eq!(status(&mut pair, &pause), 200, "{name}");
    }
}

#[test]
fn closing_the_connection_ends_its_sessions() {
    let mut pair = Pair::new(ten_seconds());
    pair.run_for(Duration::from_secs(1));
    assert!(pair.last_rtp_sent().is_some(), "RTP flows");
    let closed = pair.now;
    pair.disconnect();
    pair.run_for(Duration::from_secs(5));
    let last = pair.last_rtp_sent().expect("RTP flowed");
    let stopped = last.saturating_duration_since(closed);
    assert!(
        stopped < Duration::from_millis(500),
        "RTP went on {stopped:?} after the connection closed"
    );
    assert_eq!(pair.server.session_count(), 0);
}
