//! Interop with the course's Python servers, all three variants (the stand-in
//! `tools/scripts/course-server.py --variant basic|hd|caching`, which behaves as each does on
//! the wire): the client speaks the course dialect, reads the unterminated replies (and the
//! caching server's `Total-Frames`), rebuilds frames from whole-JPEG packets or raw pieces with
//! or without a marker, and shows them at the sender's pace. Fails when python3 is missing.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{assert_shown_in_order, cached, media_dir, pattern_file, recording, serial};
use hdstream_client::{Report, Target, play};
use hdstream_video::pattern::Pattern;

/// A `movie.Mjpeg`-style file: each JPEG preceded by its length in 5 ASCII digits.
fn course_file(frames: u64) -> PathBuf {
    let dir = media_dir().join(format!("course-{frames}"));
    std::fs::create_dir_all(&dir).unwrap();
    cached(dir.join("movie.Mjpeg"), || {
        let mut pattern = Pattern::new(384, 288);
        let mut out = Vec::new();
        let mut jpeg = Vec::new();
        for n in 0..frames {
            pattern.encode(n, 70, &mut jpeg).unwrap();
            write!(out, "{:05}", jpeg.len()).unwrap();
            out.extend_from_slice(&jpeg);
        }
        out
    })
}

/// A course server stand-in, killed when dropped.
struct CourseServer {
    child: Child,
    port: u16,
}

impl CourseServer {
    /// `course-server.py --variant variant`, serving the directory of `file`.
    fn start(variant: &str, file: &Path) -> CourseServer {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tools/scripts/course-server.py"
        );
        let spawned = Command::new("python3")
            .arg(script)
            .arg("0")
            .args(["--variant", variant, "--media-dir"])
            .arg(file.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child =
            spawned.expect("python3 runs the course-server stand-in (apt-get install -y python3)");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the stand-in printed {line:?}"));
        child.stdout = Some(stdout.into_inner());
        CourseServer { child, port }
    }

    /// Frames the stand-in says it sent (its last `SENT <frames> <packets>` line), once it
    /// has been stopped.
    fn stop(mut self) -> u64 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        out.lines()
            .filter_map(|l| l.strip_prefix("SENT "))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .max()
            .unwrap_or(0)
    }
}

impl Drop for CourseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our client on `variant`'s server playing `file` (named `name` in its directory): returns
/// the report and the frames the server sent.
fn play_course(variant: &str, file: &Path) -> (Report, u64) {
    let server = CourseServer::start(variant, file);
    let rtp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    let _one_at_a_time = serial();
    let options = recording(Target::Course {
        host: "127.0.0.1".into(),
        port: server.port,
        rtp_port,
        file: name,
    });
    let report = play(&options).expect("plays to the end");
    let sent = server.stop();
    eprintln!("{variant}: the stand-in sent {sent} frames\n{report}");
    (report, sent)
}

/// What every course server must get from us: ≥ 95 % of what it sent shown, every one the
/// file's picture, in order, none undecodable.
fn check(variant: &str, file: &Path, report: &Report, sent: u64) {
    assert!(sent > 0, "{variant}: the stand-in sent nothing");
    assert_eq!(report.frames_undecodable, 0, "{variant}");
    assert!(
        report.frames_displayed * 100 >= sent * 95,
        "{variant}: {} of {sent} frames shown",
        report.frames_displayed
    );
    assert_shown_in_order(file, report, variant);
}

/// The course's basic and HD servers send a frame every 50 ms: shown at that pace, not faster
/// (slower is the machine's, with four tests on two cores: `check` counts the frames shown).
fn check_20_fps(variant: &str, report: &Report) {
    assert!(
        report.fps_displayed < 21.0,
        "{variant}: shown at {:.2} fps, sent at 20",
        report.fps_displayed
    );
}

/// 6 s of the course container at 20 fps.
const FRAMES: u64 = 120;

#[test]
fn the_basic_course_server_is_played_288p() {
    let file = course_file(FRAMES);
    let (report, sent) = play_course("basic", &file);
    assert_eq!((report.width, report.height), (384, 288));
    assert_eq!(sent, FRAMES);
    check("basic", &file, &report, sent);
    check_20_fps("basic", &report);
    assert_eq!(report.frames_lost, 0);
}

#[test]
fn the_basic_course_server_is_played_720p() {
    // Frames that fit one datagram travel (the basic server cannot send larger ones).
    let file = pattern_file(1280, 720, FRAMES);
    let (report, sent) = play_course("basic", &file);
    check("basic", &file, &report, sent);
    check_20_fps("basic", &report);
}

#[test]
fn the_hd_course_server_is_played_288p() {
    let file = course_file(FRAMES);
    let (report, sent) = play_course("hd", &file);
    assert_eq!(sent, FRAMES);
    check("hd", &file, &report, sent);
    check_20_fps("hd", &report);
}

#[test]
fn the_hd_course_server_is_played_720p() {
    let file = pattern_file(1280, 720, FRAMES);
    let (report, sent) = play_course("hd", &file);
    assert_eq!(sent, FRAMES);
    check("hd", &file, &report, sent);
    check_20_fps("hd", &report);
    assert_eq!((report.width, report.height), (1280, 720));
}

/// The caching server's 30 fps schedule, slowed by its 1 ms pause between pieces: shown no
/// faster than the pace it manages (slower is the machine's: `check` counts the frames shown),
/// and its `Total-Frames` is the expected count.
fn check_caching(file: &Path, report: &Report, sent: u64) {
    check("caching", file, report, sent);
    assert_eq!(report.frames_expected, Some(FRAMES), "Total-Frames");
    let pace = report.fps_stream.expect("a measured pace");
    assert!(
        report.fps_displayed < 1.1 * pace && pace > 10.0 && pace <= 31.0,
        "shown at {:.2} fps, arriving at {pace:.2}",
        report.fps_displayed
    );
}

#[test]
fn the_caching_course_server_is_played_288p() {
    let file = course_file(FRAMES);
    let (report, sent) = play_course("caching", &file);
    assert_eq!(sent, FRAMES);
    check_caching(&file, &report, sent);
}

#[test]
fn the_caching_course_server_is_played_720p() {
    let file = pattern_file(1280, 720, FRAMES);
    let (report, sent) = play_course("caching", &file);
    assert_eq!(sent, FRAMES);
    check_caching(&file, &report, sent);
}

/// No course server answers a missing file with an error: the basic and HD ones say 200 and
/// send nothing, the caching one says nothing. The client gives up with an error that says
/// so, within its timeouts, never hangs.
#[test]
fn a_missing_file_on_a_course_server_ends_with_a_clear_error() {
    let file = course_file(FRAMES);
    let outcomes: Vec<(
        &str,
        Result<Report, hdstream_client::Error>,
        std::time::Duration,
    )> = std::thread::scope(|s| {
        let runs: Vec<_> = ["basic", "hd", "caching"]
            .into_iter()
            .map(|variant| {
                let file = &file;
                s.spawn(move || {
                    let server = CourseServer::start(variant, file);
                    let mut options = recording(Target::Course {
                        host: "127.0.0.1".into(),
                        port: server.port,
                        rtp_port: 0,
                        file: "no-such-file.Mjpeg".into(),
                    });
                    options.record_frames = false;
                    let started = std::time::Instant::now();
                    let result = play(&options);
                    (variant, result, started.elapsed())
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (variant, result, took) in outcomes {
        let error = result.expect_err(variant);
        let text = error.to_string();
        eprintln!("{variant}: {text} (after {took:?})");
        assert!(took < std::time::Duration::from_secs(15), "{variant}");
        match variant {
            "caching" => assert!(
                matches!(error, hdstream_client::Error::Timeout { .. })
                    && text.contains("is the name right?"),
                "{text}"
            ),
            _ => assert!(
                matches!(error, hdstream_client::Error::NoMedia { .. })
                    && text.contains("is the name right?"),
                "{text}"
            ),
        }
    }
}

/// 1080p from the caching server: its 1 ms pause after each of ~65 pieces makes a frame take
/// longer than its 33 ms slot, so it sends slower than 30 fps; what arrives is shown, at the
/// pace it arrives.
#[test]
fn the_caching_course_server_is_played_1080p_at_the_pace_it_manages() {
    let file = pattern_file(1920, 1080, FRAMES);
    let (report, sent) = play_course("caching", &file);
    assert_eq!(sent, FRAMES);
    check_caching(&file, &report, sent);
    assert!(
        report.fps_stream.expect("a measured pace") < 29.0,
        "the stand-in is slower than its schedule at 1080p: {report}"
    );
}
