//! Control against our server in-process: seek, pause and resume, the course dialect, and
//! failures (a refused DESCRIBE, a server that dies during PLAY, no server at all).

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{Server, file_checksums, pattern_file, recording, serial};
use hdstream_client::{LowerTransport, Options, Report, Step, Target, play};

const FPS: f64 = 30.0;

#[test]
fn a_seek_shows_its_first_frame_within_one_frame_of_the_target() {
    let script = vec![
        (Duration::from_secs(2), Step::SeekBy(5.0)),
        (Duration::from_secs(4), Step::Quit),
    ];
    play_over_udp_and_tcp(300, script, |report| {
        let seek = report.seeks[0];
        // The picture on screen 2 s in is about frame 60; +5 s is about 7 s.
        assert!((6.5..7.5).contains(&seek.target_s), "{seek:?}");
        let first = seek.first_frame_s.expect("a frame shown after the seek");
        assert!(
            (first - seek.target_s).abs() <= 1.0 / FPS + 1e-6,
            "{seek:?}"
        );
        assert!(seek.delay_ms.is_some_and(|d| d < 1500.0), "{seek:?}");
        // After the seek, frames go on from the target in order.
        let at = report
            .displayed_npt
            .iter()
            .position(|&n| n == first)
            .unwrap();
        assert_one_frame_apart(&report.displayed_npt[at..]);
        assert_eq!(
            (
                report.frames_lost,
                report.frames_late,
                report.frames_undecodable
            ),
            (0, 0, 0)
        );
    });
}

#[test]
fn after_pause_no_rtp_arrives_and_resume_continues_from_there() {
    let script = vec![
        (Duration::from_secs(1), Step::Pause),
        (Duration::from_secs(3), Step::Resume),
    ];
    play_over_udp_and_tcp(150, script, |report| {
        let pause = report.pauses[0];
        let tail = pause.rtp_tail_ms.unwrap();
        assert!(tail < 100.0, "RTP {tail} ms after PAUSE");
        let (last, resumed) = (pause.last_frame_s.unwrap(), pause.resumed_frame_s.unwrap());
        assert!(
            (resumed - last - 1.0 / FPS).abs() < 1e-3,
            "{last} then {resumed}"
        );
        // Nothing skipped, nothing shown twice: the whole file, in order.
        assert_eq!(report.frames_displayed, 150);
        assert_one_frame_apart(&report.displayed_npt);
        assert!(
            report.elapsed_s > 7.0,
            "5 s of media and 2 s of pause: {}",
            report.elapsed_s
        );
    });
}

/// Plays `frames` frames of 640x360 from our server at [`FPS`] with `script`, over UDP and
/// then over TCP, and hands each report (printed) to `check`.
fn play_over_udp_and_tcp(frames: u64, script: Vec<(Duration, Step)>, check: impl Fn(Report)) {
    let file = pattern_file(640, 360, frames);
    let _one_at_a_time = serial();
    let server = Server::start(&file, FPS);
    for transport in [LowerTransport::Udp, LowerTransport::Tcp] {
        let mut options = recording(Target::Url(server.url.clone()));
        options.transport = transport;
        options.script = script.clone();
        let report = play(&options).unwrap();
        eprintln!("{report}");
        check(report);
    }
}

/// Asserts that the NPTs shown follow each other one frame (1 / [`FPS`]) apart.
#[track_caller]
fn assert_one_frame_apart(npt: &[f64]) {
    for pair in npt.windows(2) {
        assert!((pair[1] - pair[0] - 1.0 / FPS).abs() < 1e-3, "{pair:?}");
    }
}

#[test]
fn the_course_dialect_plays_every_frame() {
    let file = pattern_file(640, 360, 40);
    let _one_at_a_time = serial();
    let server = Server::start(&file, 20.0);
    let rtp_port = {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let options = recording(Target::Course {
        host: "127.0.0.1".into(),
        port: server.addr().port(),
        rtp_port,
        file: file.file_name().unwrap().to_string_lossy().into_owned(),
    });
    let report = play(&options).unwrap();
    eprintln!("{report}");
    assert_eq!(report.transport, "course");
    assert_eq!(
        (
            report.frames_displayed,
            report.frames_lost,
            report.frames_late
        ),
        (40, 0, 0)
    );
    // Course frames are timed by their arrival: the server's 20 fps, within a few ms.
    let expected: Vec<f64> = (0..40).map(|n| f64::from(n) / 20.0).collect();
    for (shown, want) in report.displayed_npt.iter().zip(&expected) {
        assert!((shown - want).abs() < 0.005, "{shown} vs {want}");
    }
    assert_eq!(report.displayed_checksums, file_checksums(&file));
}

#[test]
fn a_missing_file_is_reported_as_the_describe_status() {
    let file = pattern_file(640, 360, 30);
    let server = Server::start(&file, FPS);
    let mut options = Options::url(format!("rtsp://{}/no-such-file.mjpeg", server.addr()));
    options.headless = true;
    let error = play(&options).unwrap_err();
    assert_eq!(error.to_string(), "DESCRIBE: 404 Not Found");
}

#[test]
fn no_server_is_a_clear_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = Options::url(format!("rtsp://127.0.0.1:{port}/m.mjpeg"));
    options.headless = true;
    let error = play(&options).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("cannot connect to 127.0.0.1:{port}:")),
        "{error}"
    );
}

/// Reads one request (up to its blank line) and answers it.
fn answer(stream: &mut std::net::TcpStream, extra: &str, body: &str) -> String {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap() == 0 {
            break;
        }
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let cseq = text
        .lines()
        .find_map(|l| l.strip_prefix("CSeq: "))
        .unwrap_or("0")
        .trim()
        .to_owned();
    let reply = format!(
        "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).unwrap();
    text
}

#[test]
fn a_server_that_dies_during_play_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        answer(
            &mut s,
            "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n",
            "",
        );
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\na=control:t\r\n";
        answer(&mut s, "Content-Type: application/sdp\r\n", sdp);
        answer(
            &mut s,
            "Session: 1;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
            "",
        );
        let play = answer(&mut s, "Session: 1\r\n", "");
        assert!(play.starts_with("PLAY "));
        std::thread::sleep(Duration::from_millis(200));
        // Gone, without a BYE.
    });
    let mut options = Options::url(format!("rtsp://{addr}/x"));
    options.headless = true;
    options.transport = LowerTransport::Tcp;
    let error = play(&options).unwrap_err();
    fake.join().unwrap();
    assert_eq!(
        error.to_string(),
        "server closed the connection during PLAY"
    );
}

#[test]
fn the_binary_exits_non_zero_with_the_reason_and_writes_json_on_success() {
    let file = pattern_file(640, 360, 30);
    let server = Server::start(&file, FPS);
    let bin = env!("CARGO_BIN_EXE_hdstream-client");
    let out = std::process::Command::new(bin)
        .args([
            &format!("rtsp://{}/missing.mjpeg", server.addr()),
            "--headless",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DESCRIBE: 404 Not Found"), "{stderr}");

    let _one_at_a_time = serial();
    let json = std::env::temp_dir().join(format!("hdstream-client-{}.json", std::process::id()));
    let stderr = run_without_display(|client| {
        client
            .args([
                &server.url,
                "--headless",
                "--transport",
                "tcp",
                "--stats-json",
            ])
            .arg(&json);
    });
    assert!(stderr.contains("arrival to display"), "the table: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    assert_eq!(report["frames_expected"], 30);
    assert_eq!(report["frames_displayed"], 30, "{stderr}");
    assert_eq!(report["width"], 640);
    for key in ["p50", "p99", "max"] {
        assert!(report["latency_ms"][key].as_f64().unwrap() > 0.0);
        assert!(report["decode_ms"][key].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn without_a_display_the_binary_says_it_plays_headless() {
    let file = pattern_file(640, 360, 30);
    let _one_at_a_time = serial();
    let server = Server::start(&file, FPS);
    let stderr = run_without_display(|client| {
        client.arg(&server.url);
    });
    assert!(
        stderr.contains("no display (DISPLAY and WAYLAND_DISPLAY are unset): playing headless"),
        "{stderr}"
    );
}

/// Runs the `hdstream-client` binary with the arguments `args` gives it and no display
/// (`DISPLAY` and `WAYLAND_DISPLAY` unset); asserts it succeeds and answers its stderr.
fn run_without_display(args: impl FnOnce(&mut std::process::Command)) -> String {
    let mut client = std::process::Command::new(env!("CARGO_BIN_EXE_hdstream-client"));
    args(&mut client);
    let out = client
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}
