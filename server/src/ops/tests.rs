//! The operations answers: rendering from hand-made snapshots, and the routes on the core
//! alone (requests in as bytes, answers out, on a fake clock).

use std::time::{Duration, Instant};

use hdstream_common::rtsp::authenticator::Authenticator;

use super::*;
use crate::core::Config;
use crate::session::ConnId;
use crate::tally::Rate;
use crate::testing::{Core, interleaved_frame, publisher, session_id};

fn session(path: &str, transport: &'static str, octets: u64) -> SessionView {
    SessionView {
        id: format!("{octets}"),
        peer: "127.0.0.1:40000".into(),
        path: path.into(),
        transport,
        state: "playing",
        seconds: 1.5,
        bytes_out: octets,
        packets_out: octets / 1000,
        bitrate: 8000.0,
        frames: 30,
        frames_skipped: 0,
        loss: None,
        nacks: 2,
        rtx_packets: 1,
        rtcp_received: 3,
    }
}

#[test]
fn metrics_are_families_with_help_and_type_and_escaped_labels() {
    let odd = "a \"quoted\" \\ path\nnext";
    let snapshot = Snapshot {
        sessions: vec![
            session("clip.mjpeg", "udp", 10_000),
            session("clip.mjpeg", "tcp", 20_000),
            session("clip.mjpeg", "udp", 30_000),
            session(odd, "tls", 5_000),
        ],
        viewers: vec![ViewerView {
            peer: "127.0.0.1:40001".into(),
            path: "clip.mjpeg".into(),
            seconds: 2.0,
            bytes_out: 123_456,
            frames: 60,
            frames_skipped: 4,
        }],
        ..Snapshot::default()
    };
    let text = metrics(&snapshot);
    let lines: Vec<&str> = text.lines().collect();
    // Every family: HELP, then TYPE, then its samples; counters end in _total.
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(lines[i - 1].starts_with(&format!("# HELP {name} ")));
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
        }
    }
    let has = |l: &str| lines.contains(&l);
    assert!(has(
        r#"hdstream_rtsp_sessions{path="clip.mjpeg",transport="udp"} 2"#
    ));
    assert!(has(
        r#"hdstream_rtsp_sessions{path="clip.mjpeg",transport="tcp"} 1"#
    ));
    assert!(has(
        r#"hdstream_rtsp_sessions{path="a \"quoted\" \\ path\nnext",transport="tls"} 1"#
    ));
    assert!(has(
        r#"hdstream_rtp_octets_sent_total{path="clip.mjpeg"} 60000"#
    ));
    assert!(has(
        r#"hdstream_rtp_packets_sent_total{path="clip.mjpeg"} 60"#
    ));
    assert!(has(
        r#"hdstream_rtx_packets_sent_total{path="clip.mjpeg"} 3"#
    ));
    assert!(has(
        r#"hdstream_rtcp_nacks_received_total{path="clip.mjpeg"} 6"#
    ));
    assert!(has(r#"hdstream_http_viewers{path="clip.mjpeg"} 1"#));
    assert!(has(
        r#"hdstream_http_bytes_sent_total{path="clip.mjpeg"} 123456"#
    ));
    assert!(has(
        r#"hdstream_http_frames_skipped_total{path="clip.mjpeg"} 4"#
    ));
    assert!(has("hdstream_files 0"));
    // No raw line feed inside a sample: the odd path is one line.
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with('#') || l.starts_with("hdstream_"))
    );
}

#[test]
fn json_answers_read_back() {
    let snapshot = Snapshot {
        sessions: vec![session("clip.mjpeg", "udp", 10_000)],
        ..Snapshot::default()
    };
    let v: serde_json::Value = serde_json::from_slice(&sessions_json(&snapshot)).unwrap();
    assert_eq!(v["rtsp"][0]["transport"], "udp");
    assert_eq!(v["rtsp"][0]["bytes_out"], 10_000);
    assert!(v["http"].as_array().unwrap().is_empty());
    let v: serde_json::Value = serde_json::from_slice(&paths_json(&snapshot)).unwrap();
    assert!(v["files"].as_array().unwrap().is_empty());
    assert!(v["live"].as_array().unwrap().is_empty());
}

#[test]
fn a_rate_looks_back_a_few_seconds() {
    let t0 = Instant::now();
    let mut rate = Rate::default();
    assert_eq!(rate.bits_per_second(t0, 0), 0.0);
    // 1,000 octets a second for ten seconds, noted every 100 ms.
    for ms in (0..=10_000u64).step_by(100) {
        rate.note(t0 + Duration::from_millis(ms), ms);
    }
    let now = t0 + Duration::from_secs(10);
    let bps = rate.bits_per_second(now, 10_000);
    assert!((bps - 8000.0).abs() < 1.0, "{bps}");
    // Nothing more sent for 3 s: the rate falls, it does not keep the old figure.
    for ms in (10_100..=13_000u64).step_by(100) {
        rate.note(t0 + Duration::from_millis(ms), 10_000);
    }
    let later = rate.bits_per_second(t0 + Duration::from_secs(13), 10_000);
    assert!(later < bps / 2.0, "{later}");
}

fn get(core: &mut Core, method: &str, target: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let conn = core.connect_http(50100);
    let request = format!("{method} {target} HTTP/1.1\r\nHost: ops\r\n{extra}\r\n");
    let out = core.exchange(conn, request.as_bytes());
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(out[..end].to_vec()).unwrap();
    (head[9..12].parse().unwrap(), head, out[end + 4..].to_vec())
}

/// An RTSP session playing the clip over UDP (its connection and id), an HTTP viewer of it,
/// and a publisher.
fn busy_core(config: Config) -> (Core, ConnId, (ConnId, String)) {
    let mut core = Core::new(config);
    let rtsp = core.connect(40000);
    let url = "rtsp://127.0.0.1:8554/clip.mjpeg";
    let reply = core.request(
        rtsp,
        &format!("SETUP {url}"),
        &["Transport: RTP/AVP;unicast;client_port=5000-5001"],
    );
    let id = session_id(&reply);
    assert_eq!(reply.status.as_u16(), 200);
    let play = core.request(rtsp, &format!("PLAY {url}"), &[&format!("Session: {id}")]);
    assert_eq!(play.status.as_u16(), 200);
    let viewer = core.connect_http(50000);
    core.exchange(
        viewer,
        b"GET /watch/clip.mjpeg HTTP/1.1\r\nHost: ops\r\n\r\n",
    );
    let (cam, _) = publisher(&mut core, "rtsp://127.0.0.1:8554/live/cam");
    for n in 0..3 {
        core.exchange(cam, &interleaved_frame(n));
    }
    for _ in 0..250 {
        core.now += Duration::from_millis(2);
        core.transmit();
        core.take_output(viewer);
    }
    (core, viewer, (rtsp, id))
}

#[test]
fn the_api_shows_the_rtsp_session_the_http_viewer_and_the_publisher() {
    let (mut core, _, _) = busy_core(Config::default());
    let (status, head, body) = get(&mut core, "GET", "/api/v1/sessions", "");
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let rtsp = &v["rtsp"][0];
    assert_eq!(rtsp["transport"], "udp");
    assert_eq!(rtsp["path"], "clip.mjpeg");
    assert_eq!(rtsp["state"], "playing");
    assert!(rtsp["bytes_out"].as_u64().unwrap() > 0, "{rtsp}");
    assert!(rtsp["packets_out"].as_u64().unwrap() > 0, "{rtsp}");
    let http = &v["http"][0];
    assert_eq!(http["path"], "clip.mjpeg");
    assert!(http["frames"].as_u64().unwrap() >= 10, "{http}");
    assert!(http["bytes_out"].as_u64().unwrap() > 0, "{http}");
    let publisher = &v["publishers"][0];
    assert_eq!(publisher["path"], "live/cam");
    assert_eq!(publisher["transport"], "tcp");
    assert_eq!(publisher["frames_published"], 3);

    let (status, _, body) = get(&mut core, "GET", "/api/v1/paths", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let clip = &v["files"][0];
    assert_eq!(clip["name"], "clip.mjpeg");
    assert_eq!(clip["viewers"], 2, "one RTSP session and one HTTP viewer");
    assert!(clip["frames"].as_u64().unwrap() > 0 && clip["width"].as_u64().unwrap() > 0);
    assert_eq!(v["live"][0]["path"], "live/cam");
    assert_eq!(v["live"][0]["on_air"], true);

    let (status, head, body) = get(&mut core, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("hdstream_rtsp_sessions{path=\"clip.mjpeg\",transport=\"udp\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("hdstream_http_viewers{path=\"clip.mjpeg\"} 1\n"));
    assert!(text.contains("hdstream_publishers{path=\"live/cam\"} 1\n"));
    assert!(text.contains("hdstream_live_frames_published_total{path=\"live/cam\"} 3\n"));

    // HEAD: the head alone; bad input: 404 and 405.
    let (status, head, body) = get(&mut core, "HEAD", "/metrics", "");
    assert_eq!(status, 200);
    assert!(body.is_empty() && head.contains("Content-Length: "));
    assert_eq!(get(&mut core, "GET", "/api/v1/nope", "").0, 404);
    assert_eq!(get(&mut core, "GET", "/api/v2/sessions", "").0, 404);
    assert_eq!(get(&mut core, "GET", "/metrics/x", "").0, 404);
    let (status, head, _) = get(&mut core, "POST", "/api/v1/sessions", "");
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET, HEAD"));
    assert_eq!(get(&mut core, "DELETE", "/metrics", "").0, 405);
}

#[test]
fn with_users_the_api_needs_the_admin_right() {
    let mut users = crate::test_media::alice()
        .with_user("ops", "pager", vec![], vec![])
        .with_admin("ops", true);
    // Anyone may watch and publish here (so the RTSP session and the viewer need no
    // credentials), but not operate.
    users.users.push(crate::access::User {
        name: "*".into(),
        md5: None,
        sha256: None,
        read: vec!["*".into()],
        publish: vec!["live/*".into()],
        admin: false,
    });
    let (mut core, _, _) = busy_core(Config {
        users: Some(users),
        ..Config::default()
    });
    for target in ["/metrics", "/api/v1/sessions", "/api/v1/paths"] {
        let (status, head, _) = get(&mut core, "GET", target, "");
        assert_eq!(status, 401, "{target}");
        let challenges: Vec<&str> = head
            .lines()
            .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
            .collect();
        // Alice may watch everything but is no admin: 403.
        let mut alice = Authenticator::new("alice".into(), "s3cret".into());
        assert!(alice.challenged(challenges.iter().copied()));
        let auth = alice.authorization("GET", target).unwrap();
        let extra = format!("Authorization: {auth}\r\n");
        assert_eq!(get(&mut core, "GET", target, &extra).0, 403, "{target}");
        let mut ops = Authenticator::new("ops".into(), "pager".into());
        assert!(ops.challenged(challenges.iter().copied()));
        let auth = ops.authorization("GET", target).unwrap();
        let extra = format!("Authorization: {auth}\r\n");
        let (status, _, body) = get(&mut core, "GET", target, &extra);
        assert_eq!(status, 200, "{target}");
        assert!(!body.is_empty());
    }
}

/// A label value of the text format read back (`\\`, `\"`, `\n`).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(c) => out.push(c),
            None => panic!("a lone backslash"),
        }
    }
    out
}

proptest::proptest! {
    /// Whatever a path is called, each sample is one line and its label reads back as the path.
    #[test]
    fn any_path_is_one_escaped_label(path in "\\PC*|[\\\\\"\n{}=,a ]*") {
        let snapshot = Snapshot {
            viewers: vec![ViewerView {
                peer: "127.0.0.1:1".into(),
                path: path.clone(),
                seconds: 0.0,
                bytes_out: 1,
                frames: 1,
                frames_skipped: 0,
            }],
            ..Snapshot::default()
        };
        let text = metrics(&snapshot);
        let line = text
            .lines()
            .find(|l| l.starts_with("hdstream_http_viewers{"))
            .expect("the viewer's sample");
        let value = line
            .strip_prefix("hdstream_http_viewers{path=\"")
            .and_then(|l| l.strip_suffix("\"} 1"))
            .expect("one label, value 1");
        proptest::prop_assert_eq!(unescape(value), path);
        proptest::prop_assert!(text.lines().all(|l| l.starts_with('#') || l.starts_with("hdstream_")));
    }
}

/// The value of the sample that starts with `series ` in a metrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn counters_do_not_go_down_when_sessions_and_viewers_leave() {
    let (mut core, viewer, (rtsp, id)) = busy_core(Config::default());
    let metrics = |core: &mut Core| String::from_utf8(get(core, "GET", "/metrics", "").2).unwrap();
    let before = metrics(&mut core);
    let series = [
        "hdstream_rtp_octets_sent_total{path=\"clip.mjpeg\"}",
        "hdstream_rtp_packets_sent_total{path=\"clip.mjpeg\"}",
        "hdstream_http_bytes_sent_total{path=\"clip.mjpeg\"}",
        "hdstream_http_frames_sent_total{path=\"clip.mjpeg\"}",
    ];
    let url = "rtsp://127.0.0.1:8554/clip.mjpeg";
    let reply = core.request(
        rtsp,
        &format!("TEARDOWN {url}"),
        &[&format!("Session: {id}")],
    );
    assert_eq!(reply.status.as_u16(), 200);
    core.server.close(viewer, core.now);
    let after = metrics(&mut core);
    for s in series {
        let (a, b) = (sample(&before, s), sample(&after, s));
        assert!(
            a.is_some_and(|a| a > 0.0) && b >= a,
            "{s}: {a:?} then {b:?}"
        );
    }
    assert!(!after.contains("hdstream_rtsp_sessions{"), "{after}");
    assert!(!after.contains("hdstream_http_viewers{"), "{after}");
}

#[test]
fn interleaved_sessions_are_tcp_or_tls_by_their_connection() {
    let mut core = Core::default_config();
    let url = "rtsp://127.0.0.1:8554/clip.mjpeg";
    let plain = core.connect(40001);
    // A connection the driver accepted on the RTSPS port (its TLS already undone).
    let tls = 9_000;
    core.server
        .open_tls(tls, "127.0.0.1:40002".parse().unwrap(), core.now);
    for conn in [plain, tls] {
        let reply = core.request(
            conn,
            &format!("SETUP {url}"),
            &["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"],
        );
        assert_eq!(reply.status.as_u16(), 200);
    }
    let (_, _, body) = get(&mut core, "GET", "/api/v1/sessions", "");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut transports: Vec<(&str, &str)> = v["rtsp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["peer"].as_str().unwrap(),
                s["transport"].as_str().unwrap(),
            )
        })
        .collect();
    transports.sort();
    assert_eq!(
        transports,
        [("127.0.0.1:40001", "tcp"), ("127.0.0.1:40002", "tls")]
    );
    assert!(
        v["rtsp"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "ready")
    );
    let text = String::from_utf8(get(&mut core, "GET", "/metrics", "").2).unwrap();
    assert!(text.contains("hdstream_rtsp_sessions{path=\"clip.mjpeg\",transport=\"tls\"} 1\n"));
    assert!(text.contains("hdstream_rtsp_sessions{path=\"clip.mjpeg\",transport=\"tcp\"} 1\n"));
}
