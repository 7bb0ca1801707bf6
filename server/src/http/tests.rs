//! The HTTP port on the core alone: requests in as bytes, responses and parts out, on a fake
//! clock.

use std::time::Duration;

use hdstream_common::rtsp::authenticator::Authenticator;

use super::BOUNDARY;
use crate::core::Config;
use crate::session::ConnId;
use crate::testing::{Core, FRAMES, clip, interleaved_frame, publisher};

/// A response: status, head text, body.
fn split(out: &[u8]) -> (u16, String, Vec<u8>) {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8(out[..end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head, out[end + 4..].to_vec())
}

/// A chunked body (RFC 9112 §7.1) without its framing; asserts it ended with the last chunk
/// when `ended`.
fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            assert!(body.is_empty(), "a chunk cut short");
            return (out, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap(), 16).unwrap();
        if size == 0 {
            assert_eq!(&body[end..], b"\r\n\r\n");
            return (out, true);
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        assert_eq!(&body[end + 2 + size..end + 4 + size], b"\r\n");
        body = &body[end + 4 + size..];
    }
}

/// The parts of an HTTP/1.1 `/watch` body (chunked), and whether it ended (the last chunk).
fn chunked_parts(body: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let (body, last) = dechunk(body);
    (parts(&body), last)
}

/// The parts of a multipart body, read as ffmpeg's `mpjpeg` demuxer reads them: delimiter
/// line, fields, `Content-Length` bytes, CRLF (and no close delimiter: see `Body::close`).
fn parts(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let delimiter = format!("--{BOUNDARY}\r\n");
    loop {
        if body.is_empty() {
            return out;
        }
        assert!(
            body.starts_with(delimiter.as_bytes()),
            "{:?}",
            &body[..body.len().min(80)]
        );
        let end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&body[..end]).unwrap();
        assert!(head.contains("\r\nContent-Type: image/jpeg\r\n"), "{head}");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let data = &body[end + 4..];
        out.push(data[..len].to_vec());
        assert_eq!(&data[len..len + 2], b"\r\n");
        body = &data[len + 2..];
    }
}

fn get(core: &mut Core, conn: ConnId, target: &str) -> Vec<u8> {
    let request = format!("GET {target} HTTP/1.1\r\nHost: cam\r\n\r\n");
    core.exchange(conn, request.as_bytes())
}

/// Runs the clock for `span` in steps of `step`, reading `conn`'s output as it comes.
fn run(core: &mut Core, conn: ConnId, span: Duration, step: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let end = core.now + span;
    while core.now < end {
        core.now += step;
        core.transmit();
        out.extend(core.take_output(conn));
    }
    out
}

fn closed(core: &mut Core) -> Vec<ConnId> {
    std::iter::from_fn(|| core.server.poll_close()).collect()
}

#[test]
fn watch_sends_every_frame_of_a_file_at_its_pace_then_ends() {
    let mut core = Core::default_config();
    let conn = core.connect_http(50000);
    let out = get(&mut core, conn, "/watch/clip.mjpeg");
    let (status, head, first) = split(&out);
    assert_eq!(status, 200);
    assert!(
        head.contains(&format!(
            "Content-Type: multipart/x-mixed-replace;boundary={BOUNDARY}"
        )),
        "{head}"
    );
    // Frame 0 at once; frame 1 not before 1/30 s.
    assert_eq!(chunked_parts(&first).0.len(), 1);
    core.now += Duration::from_millis(20);
    core.transmit();
    assert!(core.take_output(conn).is_empty(), "frame 1 before its time");
    let due = core.server.poll_timeout().unwrap();
    assert!(due > core.now && due <= core.now + Duration::from_millis(14));
    let mut body = first;
    body.extend(run(
        &mut core,
        conn,
        Duration::from_millis(1100),
        Duration::from_millis(5),
    ));
    let (frames, ended) = chunked_parts(&body);
    let file = clip();
    let expected: Vec<Vec<u8>> = (0..FRAMES as usize)
        .map(|i| file.file.frame(i).unwrap().to_vec())
        .collect();
    assert_eq!(frames.len(), expected.len());
    assert!(frames == expected, "frames differ from the file's");
    assert!(ended, "the body ends with the last chunk");
    assert_eq!(closed(&mut core), vec![conn]);
    assert_eq!(core.server.http_counts(conn), Some((FRAMES, 0)));
}

#[test]
fn an_http_1_0_viewer_gets_parts_up_to_the_close() {
    let mut core = Core::default_config();
    let conn = core.connect_http(50000);
    let out = core.exchange(conn, b"GET /watch/clip.mjpeg HTTP/1.0\r\n\r\n");
    let (status, head, mut body) = split(&out);
    assert_eq!(status, 200);
    assert!(!head.contains("Transfer-Encoding"), "{head}");
    body.extend(run(
        &mut core,
        conn,
        Duration::from_millis(1100),
        Duration::from_millis(5),
    ));
    assert_eq!(parts(&body).len(), FRAMES as usize);
    assert_eq!(
        closed(&mut core),
        vec![conn],
        "the body ends with the connection"
    );
}

#[test]
fn watch_loops_a_file_with_loop() {
    let mut core = Core::new(Config {
        looping: true,
        ..Config::default()
    });
    let conn = core.connect_http(50000);
    let (_, _, mut body) = split(&get(&mut core, conn, "/watch/clip.mjpeg"));
    body.extend(run(
        &mut core,
        conn,
        Duration::from_millis(2500),
        Duration::from_millis(5),
    ));
    let (frames, ended) = chunked_parts(&body);
    assert!(!ended);
    let file = clip();
    assert!(frames.len() >= 2 * FRAMES as usize + 10, "{}", frames.len());
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.as_slice(), file.file.frame(i % FRAMES as usize).unwrap());
    }
}

#[test]
fn snapshot_is_the_frame_at_t() {
    let mut core = Core::default_config();
    let file = clip();
    for (t, index) in [
        ("", 0),
        ("?t=0", 0),
        ("?t=0.7", 21),
        ("?t=0.5&x=1", 15),
        ("?t=0.99", 29),
    ] {
        let conn = core.connect_http(50000);
        let (status, head, body) =
            split(&get(&mut core, conn, &format!("/snapshot/clip.mjpeg{t}")));
        assert_eq!(status, 200, "{t}");
        assert!(head.contains("Content-Type: image/jpeg"), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        assert_eq!(
            body,
            file.file.frame(index).unwrap(),
            "t {t}: frame {index}"
        );
        assert_eq!(closed(&mut core), vec![conn]);
    }
    // A 4:4:4 frame, which RFC 2435 cannot carry (RTSP refuses the file with 415), is an
    // ordinary JPEG over HTTP.
    let conn = core.connect_http(50000);
    let (status, _, body) = split(&get(&mut core, conn, "/snapshot/full.mjpeg"));
    assert_eq!(status, 200);
    assert!(body.starts_with(&[0xFF, 0xD8]) && body.ends_with(&[0xFF, 0xD9]));
    for bad in ["?t=1.5", "?t=-1", "?t=abc", "?t=NaN", "?t=inf"] {
        let conn = core.connect_http(50000);
        let (status, _, _) = split(&get(&mut core, conn, &format!("/snapshot/clip.mjpeg{bad}")));
        assert_eq!(status, 400, "{bad}");
    }
}

#[test]
fn head_answers_the_head_without_a_body() {
    let mut core = Core::default_config();
    let conn = core.connect_http(50000);
    let out = core.exchange(conn, b"HEAD /snapshot/clip.mjpeg HTTP/1.1\r\n\r\n");
    let (status, head, body) = split(&out);
    assert_eq!(status, 200);
    let len = clip().file.frame(0).unwrap().len();
    assert!(head.contains(&format!("Content-Length: {len}")), "{head}");
    assert!(body.is_empty());
    let conn = core.connect_http(50000);
    let out = core.exchange(conn, b"HEAD /watch/clip.mjpeg HTTP/1.0\r\n\r\n");
    assert_eq!(split(&out).2, b"");
    assert_eq!(closed(&mut core).len(), 2);
}

#[test]
fn every_bad_request_gets_its_status_and_the_connection_closes() {
    let mut core = Core::default_config();
    let huge = format!(
        "GET /watch/clip.mjpeg HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let long = format!("GET /watch/{} HTTP/1.1\r\n\r\n", "a".repeat(9_000));
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"POST /watch/clip.mjpeg HTTP/1.1\r\n\r\n".to_vec(), 405),
        (b"DESCRIBE /watch/clip.mjpeg HTTP/1.1\r\n\r\n".to_vec(), 405),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), 404),
        (b"GET /watch/nothing.mjpeg HTTP/1.1\r\n\r\n".to_vec(), 404),
        (
            b"GET /watch/../../etc/passwd HTTP/1.1\r\n\r\n".to_vec(),
            404,
        ),
        (
            b"GET /watch/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n".to_vec(),
            404,
        ),
        (
            b"GET /snapshot/..%2fclip.mjpeg HTTP/1.1\r\n\r\n".to_vec(),
            404,
        ),
        (b"GET /watch/escape.mjpeg HTTP/1.1\r\n\r\n".to_vec(), 404),
        (
            b"GET /watch/clip.mjpeg/trackID=0 HTTP/1.1\r\n\r\n".to_vec(),
            404,
        ),
        (b"GET /watch/live/nobody HTTP/1.1\r\n\r\n".to_vec(), 404),
        (b"GET /watch/%zz HTTP/1.1\r\n\r\n".to_vec(), 400),
        (b"GET /watch/a%00b HTTP/1.1\r\n\r\n".to_vec(), 400),
        (b"GET /watch/clip.mjpeg HTTP/2.0\r\n\r\n".to_vec(), 505),
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(),
            400,
        ),
        (huge.into_bytes(), 431),
        (long.into_bytes(), 414),
    ];
    for (request, want) in cases {
        let conn = core.connect_http(50000);
        let out = core.exchange(conn, &request);
        let (status, _, _) = split(&out);
        assert_eq!(
            status,
            want,
            "{:?}",
            String::from_utf8_lossy(&request[..request.len().min(60)])
        );
        assert_eq!(closed(&mut core), vec![conn]);
        core.server.close(conn, core.now);
    }
    // 405 says what is allowed.
    let conn = core.connect_http(50000);
    let out = core.exchange(conn, b"PUT /watch/clip.mjpeg HTTP/1.1\r\n\r\n");
    assert!(split(&out).1.contains("Allow: GET, HEAD"));
}

#[test]
fn a_head_in_pieces_is_answered_and_a_slow_loris_is_closed() {
    let mut core = Core::default_config();
    let conn = core.connect_http(50000);
    let request = b"GET /snapshot/clip.mjpeg HTTP/1.1\r\nHost: cam\r\n\r\n";
    for (i, b) in request.iter().enumerate() {
        let out = core.exchange(conn, &[*b]);
        assert_eq!(out.is_empty(), i + 1 < request.len(), "byte {i}");
    }
    let loris = core.connect_http(50001);
    let idle = core.connect_http(50002);
    core.exchange(loris, b"GET /watch/clip.mjpeg HTTP/1.1\r\nX-a: b\r\n");
    closed(&mut core);
    let timeout = Config::default().request_timeout;
    core.now += timeout - Duration::from_millis(100);
    core.exchange(loris, b"X-b: c\r\n");
    core.transmit();
    assert_eq!(closed(&mut core), Vec::<ConnId>::new());
    assert!(core.server.poll_timeout().unwrap() <= core.now + Duration::from_millis(100));
    core.now += Duration::from_millis(100);
    core.transmit();
    let mut gone = closed(&mut core);
    gone.sort_unstable();
    assert_eq!(gone, vec![loris, idle]);
}

#[test]
fn a_reader_that_stalls_skips_whole_frames_and_the_output_stays_bounded() {
    let limit = 256 * 1024;
    let mut core = Core::new(Config {
        tcp_queue_limit: limit,
        looping: true,
        ..Config::default()
    });
    let stalled = core.connect_http(50000);
    let healthy = core.connect_http(50001);
    get(&mut core, healthy, "/watch/clip.mjpeg");
    core.server
        .receive(stalled, b"GET /watch/clip.mjpeg HTTP/1.1\r\n\r\n", core.now);
    let frame = clip().file.frame(0).unwrap().len();
    let mut most = 0;
    let mut healthy_body = Vec::new();
    for _ in 0..300 {
        core.now += Duration::from_millis(10);
        core.transmit();
        most = most.max(core.server.output(stalled).len());
        healthy_body.extend(core.take_output(healthy));
    }
    assert!(
        most <= limit + 2 * frame,
        "{most} queued for a reader that reads nothing"
    );
    let (sent, skipped) = core.server.http_counts(stalled).unwrap();
    assert!(sent >= 1 && skipped >= 50, "sent {sent}, skipped {skipped}");
    assert!(!core.server.wants_input(stalled) || most < limit);
    assert_eq!(
        core.server.http_counts(healthy),
        Some((chunked_parts(&healthy_body).0.len() as u64 + 1, 0))
    );
    // A reader that reads nothing for the session timeout is closed; the healthy one stays.
    closed(&mut core);
    core.now += Config::default().session_timeout;
    core.transmit();
    core.take_output(healthy);
    assert_eq!(closed(&mut core), vec![stalled]);
}

#[test]
fn connections_beyond_the_limits_get_503() {
    let mut core = Core::new(Config {
        max_connections: 2,
        ..Config::default()
    });
    let rtsp = core.connect(40000);
    let a = core.connect_http(50000);
    let b = core.connect_http(50001);
    let out = core.take_output(b);
    assert_eq!(split(&out).0, 503);
    assert_eq!(closed(&mut core), vec![b]);
    assert!(core.take_output(a).is_empty());
    core.server.close(b, core.now);
    core.server.close(rtsp, core.now);
    let c = core.connect_http(50002);
    assert_eq!(split(&get(&mut core, c, "/snapshot/clip.mjpeg")).0, 200);
}

#[test]
fn with_users_http_asks_for_the_same_digest_credentials() {
    let mut core = Core::new(Config {
        users: Some(crate::test_media::alice()),
        ..Config::default()
    });
    let conn = core.connect_http(50000);
    let (status, head, _) = split(&get(&mut core, conn, "/snapshot/clip.mjpeg"));
    assert_eq!(status, 401);
    let challenges: Vec<&str> = head
        .lines()
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .collect();
    assert_eq!(challenges.len(), 2, "{head}");
    let mut alice = Authenticator::new("alice".into(), "s3cret".into());
    assert!(alice.challenged(challenges.iter().copied()));
    let target = "/snapshot/clip.mjpeg?t=0.5";
    let authorization = alice.authorization("GET", target).unwrap();
    let conn = core.connect_http(50000);
    let request = format!("GET {target} HTTP/1.1\r\nAuthorization: {authorization}\r\n\r\n");
    let (status, _, body) = split(&core.exchange(conn, request.as_bytes()));
    assert_eq!(status, 200);
    assert_eq!(body, clip().file.frame(15).unwrap());
    // Credentials for another target do not open this one.
    let conn = core.connect_http(50000);
    let request =
        format!("GET /watch/clip.mjpeg HTTP/1.1\r\nAuthorization: {authorization}\r\n\r\n");
    assert_eq!(split(&core.exchange(conn, request.as_bytes())).0, 401);
    let mut mallory = Authenticator::new("alice".into(), "guess".into());
    mallory.challenged(challenges.iter().copied());
    let conn = core.connect_http(50000);
    let authorization = mallory.authorization("GET", "/watch/clip.mjpeg").unwrap();
    let request =
        format!("GET /watch/clip.mjpeg HTTP/1.1\r\nAuthorization: {authorization}\r\n\r\n");
    assert_eq!(split(&core.exchange(conn, request.as_bytes())).0, 401);
}

#[test]
fn a_live_path_is_watched_from_its_newest_frame_and_snapshotted() {
    let mut core = Core::default_config();
    let url = "rtsp://127.0.0.1:8554/live/cam";
    let early = core.connect_http(50000);
    assert_eq!(split(&get(&mut core, early, "/snapshot/live/cam")).0, 404);
    let (publisher, _) = publisher(&mut core, url);
    let conn = core.connect_http(50000);
    assert_eq!(split(&get(&mut core, conn, "/snapshot/live/cam")).0, 503);
    for n in 0..3 {
        core.exchange(publisher, &interleaved_frame(n));
    }
    let viewer = core.connect_http(50001);
    let (status, _, mut body) = split(&get(&mut core, viewer, "/watch/live/cam"));
    assert_eq!(status, 200);
    for n in 3..8 {
        core.exchange(publisher, &interleaved_frame(n));
        core.now += Duration::from_millis(33);
        core.transmit();
        body.extend(core.take_output(viewer));
    }
    let (frames, ended) = chunked_parts(&body);
    assert!(!ended);
    // Frame 2 (the newest at the join), then 3..8 as they came.
    assert_eq!(frames.len(), 6);
    let file = clip();
    for f in &frames {
        assert!(f.starts_with(&[0xFF, 0xD8]) && f.ends_with(&[0xFF, 0xD9]));
        assert!(
            f.len() > file.file.frame(0).unwrap().len() / 2,
            "a whole frame"
        );
    }
    let snap = core.connect_http(50002);
    let (status, _, jpeg) = split(&get(&mut core, snap, "/snapshot/live/cam"));
    assert_eq!(status, 200);
    assert_eq!(&jpeg, frames.last().unwrap());
}

#[test]
fn a_file_added_after_the_start_is_opened_off_the_loop_and_served() {
    let dir = std::env::temp_dir().join(format!("hdstream-http-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clip_path = crate::testing::media_dir().join("clip.mjpeg");
    std::fs::copy(&clip_path, dir.join("a.mjpeg")).unwrap();
    let mut core = Core::over(&dir, Config::default());
    std::fs::copy(&clip_path, dir.join("b.mjpeg")).unwrap();
    // Two viewers ask before it is open: one job, both wait, then both are answered.
    let first = core.connect_http(50000);
    let second = core.connect_http(50001);
    let ask = b"GET /snapshot/b.mjpeg?t=0.5 HTTP/1.1\r\n\r\n";
    core.server.receive(first, ask, core.now);
    core.server.receive(second, ask, core.now);
    assert!(
        core.server.output(first).is_empty(),
        "answered before the file is open"
    );
    let job = core
        .server
        .poll_open()
        .expect("the file is opened off the loop");
    assert!(core.server.poll_open().is_none(), "one job for the file");
    core.server.opened(job.run(), core.now);
    for conn in [first, second] {
        let (status, _, body) = split(&core.take_output(conn));
        assert_eq!(status, 200);
        assert_eq!(body, clip().file.frame(15).unwrap());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_combination_of_tricky_segments_escapes_or_panics() {
    let mut core = Core::default_config();
    let pieces = [
        "..",
        "%2e%2e",
        "%2E.",
        ".%2e",
        ".",
        "%2f",
        "..%2f",
        "%5c..",
        "..\\",
        "clip.mjpeg",
        "live",
        "cam",
        "",
        "%00",
        "%zz",
        "%",
        "escape.mjpeg",
        "full.mjpeg",
        "a?t=1",
        "#x",
        "%252e%252e",
        "etc",
        "passwd",
    ];
    let mut served = std::collections::BTreeSet::new();
    let mut count = 0;
    for route in ["/watch/", "/snapshot/"] {
        for a in pieces {
            for b in pieces {
                for c in ["", "clip.mjpeg", "..", "passwd"] {
                    let target = format!("{route}{a}/{b}/{c}");
                    let conn = core.connect_http(50000);
                    let request = format!("HEAD {target} HTTP/1.0\r\n\r\n");
                    let out = core.exchange(conn, request.as_bytes());
                    let (status, _, body) = split(&out);
                    assert!(body.is_empty());
                    assert!(
                        matches!(status, 200 | 400 | 404 | 503),
                        "{target}: {status}"
                    );
                    if status == 200 {
                        served.insert(target);
                    }
                    core.server.close(conn, core.now);
                    count += 1;
                }
            }
        }
    }
    // Only the files of the media root, named alone (with `.` or empty segments around them,
    // or before a query or fragment, which ends the path): never `..` or a link out.
    for target in &served {
        let path = target.split(['?', '#']).next().unwrap();
        // `%2f` is a `/` once decoded, as for RTSP URLs.
        let path = path.replace("%2f", "/");
        let names: Vec<&str> = path
            .split('/')
            .skip(2)
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        assert!(
            names == ["clip.mjpeg"] || names == ["full.mjpeg"],
            "{target} was served"
        );
    }
    assert!(
        count > 4000 && !served.is_empty(),
        "{count} requests, {served:?}"
    );
}
