//! Hostile RTSP input on the core alone (RFC 2326 §4–§12), one test a case: malformed,
//! oversized and abusive requests each get their own clear answer (the status RFC 2326 §7.1.1
//! names, with the request's CSeq where it could be read), silence, or a close — and the
//! connection still answers OPTIONS afterwards where it can.
//!
//! What needs real sockets (slow clients on the real clock, resets, thousands of connections,
//! a client that reads nothing, a healthy session playing meanwhile) stays in
//! `server/tests/hostile.rs`.

use std::time::Duration;

use hdstream_common::rtsp::{self, Message, Parsed};

use crate::core::Config;
use crate::testing::Core;

const BASE: &str = "rtsp://127.0.0.1:8554";
const CLIP: &str = "rtsp://127.0.0.1:8554/clip.mjpeg";
/// The core's slow-loris guard in these cases.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What must come back after a case's bytes.
enum Expect {
    /// These replies, in order: (status, CSeq when it could be read).
    Replies(Vec<(u16, Option<u32>)>),
    /// Nothing.
    Silent,
    /// No reply, and the connection is closed by the request timeout.
    Closed,
}

/// One reply with `status` carrying CSeq 1.
fn status(status: u16) -> Expect {
    Expect::Replies(vec![(status, Some(1))])
}

/// One 400 whose CSeq could not be read.
fn bad_unreadable() -> Expect {
    Expect::Replies(vec![(400, None)])
}

/// `METHOD url RTSP/1.0` with CSeq 1, `headers`, a blank line and `body`.
fn req(method: &str, url: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {url} RTSP/1.0\r\nCSeq: 1\r\n").into_bytes();
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// SETUP of the clip's track with `transport`.
fn setup_with(transport: &str) -> Vec<u8> {
    req(
        "SETUP",
        &format!("{CLIP}/trackID=0"),
        &[&format!("Transport: {transport}")],
        b"",
    )
}

/// Every reply in `bytes`: (status, CSeq).
fn replies(bytes: &[u8]) -> Vec<(u16, Option<u32>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match rtsp::parse(&bytes[at..]) {
            Ok(Parsed::Complete {
                message: Message::Response(r),
                consumed,
            }) => {
                let cseq = r.cseq().and_then(Result::ok).map(|c| c.0);
                out.push((r.status.as_u16(), cseq));
                at += consumed;
            }
            other => panic!("not a reply at byte {at}: {other:?}"),
        }
    }
    out
}

/// Sends `bytes` on a fresh connection of a fresh core and checks `expect`.
fn run(bytes: impl AsRef<[u8]>, expect: Expect) {
    run_with(Config::default(), bytes, expect);
}

/// [`run`] on a core with a users file (alice may read everything).
fn run_authenticated(bytes: impl AsRef<[u8]>, expect: Expect) {
    let config = Config {
        users: Some(crate::test_media::alice()),
        ..Config::default()
    };
    run_with(config, bytes, expect);
}

fn run_with(config: Config, bytes: impl AsRef<[u8]>, expect: Expect) {
    let bytes = bytes.as_ref();
    let mut core = Core::new(Config {
        request_timeout: REQUEST_TIMEOUT,
        ..config
    });
    let conn = core.connect(40_000);
    core.server.receive(conn, bytes, core.now);
    match expect {
        Expect::Replies(want) => {
            let out = core.take_output(conn);
            let got = replies(&out);
            assert_eq!(got.len(), want.len(), "replies: {got:?}");
            for (&(status, cseq), &(want_status, want_cseq)) in got.iter().zip(&want) {
                assert_eq!(status, want_status, "replies: {got:?}");
                if want_cseq.is_some() {
                    assert_eq!(cseq, want_cseq, "the request's CSeq is echoed");
                }
            }
        }
        Expect::Silent => {
            core.run_for(Duration::from_millis(500));
            let out = core.take_output(conn);
            assert!(
                out.is_empty(),
                "expected silence: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
        Expect::Closed => {
            let mut closed = false;
            for _ in 0..(REQUEST_TIMEOUT.as_millis() + 1000) {
                core.transmit();
                if core.server.poll_close() == Some(conn) {
                    closed = true;
                    break;
                }
                core.advance(Duration::from_millis(1));
            }
            assert!(closed, "closed by the request timeout");
            assert!(core.take_output(conn).is_empty(), "closed without a reply");
            return;
        }
    }
    // The connection goes on.
    let alive = core.request(conn, "OPTIONS *", &["CSeq: 99"]);
    assert_eq!(alive.status.as_u16(), 200, "the connection still answers");
}

macro_rules! cases {
    ($($name:ident: $bytes:expr => $expect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                run($bytes, $expect);
            }
        )*
    };
}

cases! {
    // ---- request line and head limits (RFC 2326 §6; the parser's limits)
    an_over_long_request_line:
        req("OPTIONS", &format!("rtsp://h/{}", "a".repeat(5000)), &[], b"") => bad_unreadable();
    a_10_kb_path:
        req("DESCRIBE", &format!("{BASE}/{}", "p".repeat(10_000)), &[], b"") => bad_unreadable();
    a_4000_byte_path_within_the_line_limit_is_not_found:
        req("DESCRIBE", &format!("{BASE}/{}", "p".repeat(4000)), &[], b"") => status(404);
    too_many_headers: {
        let headers: Vec<String> = (0..100).map(|i| format!("X-H{i}: v")).collect();
        let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        req("OPTIONS", "*", &refs, b"")
    } => status(400);
    a_5000_byte_header_line:
        req("OPTIONS", "*", &[&format!("X-Big: {}", "b".repeat(5000))], b"") => status(400);
    a_head_over_16_kb: {
        let h = format!("X-Big: {}", "b".repeat(3500));
        req("OPTIONS", "*", &[&h, &h, &h, &h, &h], b"")
    } => status(400);
    a_header_line_without_a_colon: req("OPTIONS", "*", &["NoColonHere"], b"") => status(400);
    non_utf8_bytes_in_a_header:
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Bin: \xff\xfe\xc3\x28\r\n\r\n" => status(400);
    non_utf8_bytes_in_the_url: {
        let mut r = format!("DESCRIBE {BASE}/").into_bytes();
        r.extend_from_slice(b"\xc0\xaf.mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n");
        r
    } => status(400);
    a_nul_byte_in_the_request_line:
        b"OPTIONS *\0 RTSP/1.0\r\nCSeq: 1\r\n\r\n" => status(400);
    a_nul_byte_in_a_header_value:
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Nul: a\0b\r\n\r\n" => status(400);
    a_request_line_without_a_version: b"OPTIONS *\r\nCSeq: 1\r\n\r\n" => status(400);
    // ---- Content-Length (RFC 2326 §12.14)
    a_negative_content_length: req("OPTIONS", "*", &["Content-Length: -5"], b"") => status(400);
    a_content_length_over_64_bits:
        req("OPTIONS", "*", &["Content-Length: 999999999999999999999999"], b"") => status(413);
    a_content_length_over_the_body_limit:
        req("OPTIONS", "*", &["Content-Length: 1048576"], b"") => status(413);
    a_content_length_that_is_not_a_number:
        req("OPTIONS", "*", &["Content-Length: ten"], b"") => status(400);
    two_content_lengths_that_differ:
        req("OPTIONS", "*", &["Content-Length: 4", "Content-Length: 5"], b"") => status(400);
    a_body_is_consumed_not_parsed_as_a_request:
        req("OPTIONS", "*", &["Content-Length: 24"], b"OPTIONS * RTSP/1.0\r\n\r\n\r\n") => status(200);
    get_parameter_with_a_body: req(
        "GET_PARAMETER",
        CLIP,
        &["Content-Type: text/parameters", "Content-Length: 15"],
        b"packets_lost\r\n\r",
    ) => status(200);
    // ---- methods, versions, CSeq (RFC 2326 §6.1, §7.1.1, §12.17)
    an_unknown_method: req("BREW", "*", &[], b"") => status(501);
    a_lower_case_method: req("options", "*", &[], b"") => status(501);
    record_is_not_allowed: req("RECORD", CLIP, &[], b"") => status(405);
    announce_is_not_allowed: req("ANNOUNCE", CLIP, &["Content-Length: 4"], b"v=0\n") => status(405);
    set_parameter_with_a_parameter:
        req("SET_PARAMETER", CLIP, &["Content-Length: 9"], b"volume: 0") => status(451);
    rtsp_2_0: b"OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n" => status(505);
    an_http_request: b"GET / HTTP/1.1\r\nHost: x\r\nCSeq: 1\r\n\r\n" => status(400);
    a_missing_cseq: b"OPTIONS * RTSP/1.0\r\nUser-Agent: x\r\n\r\n" => bad_unreadable();
    a_cseq_that_is_not_a_number: b"OPTIONS * RTSP/1.0\r\nCSeq: one\r\n\r\n" => bad_unreadable();
    a_cseq_over_32_bits:
        b"OPTIONS * RTSP/1.0\r\nCSeq: 99999999999\r\n\r\n" => bad_unreadable();
    an_empty_session_header: req("PLAY", CLIP, &["Session: "], b"") => status(400);
    // ---- URLs and the media root
    describe_accepting_only_html: req("DESCRIBE", CLIP, &["Accept: text/html"], b"") => status(406);
    describe_of_an_unknown_file:
        req("DESCRIBE", &format!("{BASE}/nothing.mjpeg"), &[], b"") => status(404);
    a_url_with_dot_dot: req("DESCRIBE", &format!("{BASE}/../clip.mjpeg"), &[], b"") => status(403);
    a_url_with_escaped_dot_dot:
        req("DESCRIBE", &format!("{BASE}/%2e%2e/%2E%2E/etc/passwd"), &[], b"") => status(403);
    a_url_with_backslash_dot_dot:
        req("DESCRIBE", &format!("{BASE}/x/..\\..\\clip.mjpeg"), &[], b"") => status(403);
    a_url_with_an_escaped_nul:
        req("DESCRIBE", &format!("{BASE}/clip.mjpeg%00.txt"), &[], b"") => status(400);
    a_url_with_a_bad_escape: req("DESCRIBE", &format!("{BASE}/clip%zz.mjpeg"), &[], b"") => status(400);
    an_absolute_file_path: req("DESCRIBE", "/etc/passwd", &[], b"") => status(404);
    a_symlink_out_of_the_media_root:
        req("DESCRIBE", &format!("{BASE}/escape.mjpeg"), &[], b"") => status(404);
    // ---- Transport (RFC 2326 §12.39, §16)
    setup_to_another_host:
        setup_with("RTP/AVP;unicast;destination=192.0.2.7;client_port=5000-5001") => status(461);
    setup_multicast:
        setup_with("RTP/AVP;multicast;destination=232.1.2.3;port=5000-5001;ttl=16") => status(461);
    setup_with_an_unparsable_transport: setup_with(";;=;client_port=x-y,,,") => status(461);
    setup_without_transport: req("SETUP", &format!("{CLIP}/trackID=0"), &[], b"") => status(461);
    setup_with_client_port_0: setup_with("RTP/AVP;unicast;client_port=0-1") => status(461);
    setup_with_client_port_70000: setup_with("RTP/AVP;unicast;client_port=70000-70001") => status(461);
    setup_with_interleaved_254_300: setup_with("RTP/AVP/TCP;unicast;interleaved=254-300") => status(461);
    // ---- sessions (RFC 2326 §12.37, Appendix A)
    play_without_a_session: req("PLAY", CLIP, &[], b"") => status(455);
    pause_without_a_session: req("PAUSE", CLIP, &[], b"") => status(455);
    play_of_an_unknown_session: req("PLAY", CLIP, &["Session: 123456789"], b"") => status(454);
    teardown_of_an_unknown_session: req("TEARDOWN", CLIP, &["Session: 987654321"], b"") => status(454);
    teardown_without_a_session: req("TEARDOWN", CLIP, &[], b"") => status(454);
    // ---- framing
    blank_lines_only: b"\r\n\r\n\n\r\n" => Expect::Silent;
    a_response_sent_to_the_server: b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n" => Expect::Silent;
    an_interleaved_frame_on_an_unknown_channel: b"$\xc8\x00\x04abcd" => Expect::Silent;
    a_whole_interleaved_frame_of_65535_bytes: {
        let mut f = b"$\x01\xff\xff".to_vec();
        f.resize(4 + 65535, 0x80);
        f
    } => Expect::Silent;
    an_interleaved_frame_announcing_65535_bytes_sending_16: {
        let mut f = b"$\x01\xff\xff".to_vec();
        f.resize(4 + 16, 0x80);
        f
    } => Expect::Closed;
    garbage_then_a_valid_request:
        b"GARBAGE IN\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n"
        => Expect::Replies(vec![(400, None), (200, Some(2))]);
    a_tls_client_hello_then_a_valid_request: {
        let mut r = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x9a\x00\x00".to_vec();
        r.extend_from_slice(b"\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n");
        r
    } => Expect::Replies(vec![(400, None), (200, Some(2))]);
    six_requests_pipelined_in_one_segment: {
        let mut all = Vec::new();
        all.extend(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
        all.extend(format!("DESCRIBE {CLIP} RTSP/1.0\r\nCSeq: 2\r\n\r\n").bytes());
        all.extend(format!("DESCRIBE {BASE}/none.mjpeg RTSP/1.0\r\nCSeq: 3\r\n\r\n").bytes());
        all.extend(b"BREW * RTSP/1.0\r\nCSeq: 4\r\n\r\n");
        all.extend(
            format!(
                "GET_PARAMETER {CLIP} RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 7\r\n\r\njitter\n"
            )
            .bytes(),
        );
        all.extend(b"OPTIONS * RTSP/1.0\r\nCSeq: 6\r\n\r\n");
        all
    } => Expect::Replies(vec![
        (200, Some(1)),
        (200, Some(2)),
        (404, Some(3)),
        (501, Some(4)),
        (200, Some(5)),
        (200, Some(6)),
    ]);
}

/// `Authorization: VALUE` on a DESCRIBE of the clip.
fn authorized(value: &str) -> Vec<u8> {
    req("DESCRIBE", CLIP, &[&format!("Authorization: {value}")], b"")
}

macro_rules! auth_cases {
    ($($name:ident: $bytes:expr => $expect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                run_authenticated($bytes, $expect);
            }
        )*
    };
}

// With authentication on: whatever the Authorization, a 401 (with fresh challenges), never a
// 400, a panic or a closed connection; OPTIONS stays open.
auth_cases! {
    auth_none: req("DESCRIBE", CLIP, &[], b"") => status(401);
    auth_options_needs_none: req("OPTIONS", CLIP, &[], b"") => status(200);
    auth_overlong_nonce: authorized(&format!(
        "Digest username=\"alice\", realm=\"hdstream\", nonce=\"{}\", uri=\"{CLIP}\", response=\"00\"",
        "n".repeat(3000)
    )) => status(401);
    auth_unterminated_quote: authorized("Digest username=\"alice, realm=\"hdstream\"") => status(401);
    auth_stray_escape: authorized("Digest username=\"al\\") => status(401);
    auth_unknown_algorithm: authorized(&format!(
        "Digest username=\"alice\", realm=\"hdstream\", nonce=\"n\", uri=\"{CLIP}\", response=\"00\", algorithm=SHA-512-256"
    )) => status(401);
    auth_missing_response: authorized(&format!(
        "Digest username=\"alice\", realm=\"hdstream\", nonce=\"n\", uri=\"{CLIP}\""
    )) => status(401);
    auth_missing_everything: authorized("Digest") => status(401);
    auth_unknown_scheme: authorized("Bearer abc.def") => status(401);
    auth_empty: authorized("") => status(401);
    auth_basic_in_the_clear: authorized("Basic YWxpY2U6czNjcmV0") => status(401);
    auth_basic_garbage: authorized("Basic ****") => status(401);
    auth_many_params: authorized(&format!(
        "Digest {}",
        (0..200).map(|i| format!("p{i}=x")).collect::<Vec<_>>().join(", ")
    )) => status(401);
    auth_forged_nonce: authorized(&format!(
        "Digest username=\"alice\", realm=\"hdstream\", nonce=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", uri=\"{CLIP}\", response=\"0123456789abcdef0123456789abcdef\""
    )) => status(401);
}

/// Connections beyond the per-address limit get 503 at once and are closed; another address,
/// and the loopback address when exempt, are not affected; the total limit likewise.
#[test]
fn connections_beyond_the_limits_are_refused_with_503() {
    use std::net::SocketAddr;
    let mut core = Core::new(Config {
        max_connections_per_address: 2,
        max_connections: 5,
        ..Config::default()
    });
    let from = |a: u8, port: u16| SocketAddr::from(([10, 0, 0, a], port));
    let first = [core.connect_from(from(1, 1)), core.connect_from(from(1, 2))];
    for conn in first {
        assert!(
            core.take_output(conn).is_empty(),
            "within the limit: nothing said"
        );
    }
    let third = core.connect_from(from(1, 3));
    let out = core.take_output(third);
    assert_eq!(replies(&out), [(503, None)]);
    assert!(String::from_utf8_lossy(&out).contains("too many connections from your address"));
    assert_eq!(core.server.poll_close(), Some(third), "and closed");
    core.server.close(third, core.now);
    // Its requests are not read meanwhile; others go on.
    let other = core.connect_from(from(2, 1));
    let ok = core.request(other, "OPTIONS *", &["CSeq: 1"]);
    assert_eq!(ok.status.as_u16(), 200);
    // Loopback is exempt from the per-address limit (the machine's own tools).
    let local: Vec<_> = (0..2).map(|p| core.connect(40_000 + p)).collect();
    for conn in local {
        assert!(core.take_output(conn).is_empty());
    }
    // 2 + 1 + 2 = 5 open: the next is over the total.
    let over = core.connect_from(from(3, 1));
    let out = core.take_output(over);
    assert!(String::from_utf8_lossy(&out).contains("too many connections to this server"));
}
