//! The course's Python clients on our server.
//!
//! Byte for byte: LF-only requests with a bare file name and no blank line, replies read by
//! line position (with the caching variant's `Total-Frames` as a fourth line), and RTP packets
//! that each hold one whole JPEG with sequence number = frame number, at 20 fps for the
//! course's 5-digit container — which may hold 4:4:4 frames (the course's `movie.Mjpeg` does),
//! served as they are.
//!
//! And as the three course clients play (the stand-in `tools/scripts/course-client.py`, which
//! receives and shows frames as each variant does): the basic one on frames that fit its
//! 20 KB reads, the HD and caching ones on 288p, 720p and 1080p, where frames leave in
//! 1400-byte pieces stamped with their frame number.

use crate::common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, recv_until};
use hdstream_common::course;
use hdstream_common::rtp;
use hdstream_server::core::Config;

/// Seconds of the files the course clients play (the 288p course container: 20 fps): 5, what
/// the dialects' assertions need (every frame shown the file's, in order, ≥ 95 % of them); the
/// slow reader plays [`SLOW_SECONDS`].
const SECONDS: u32 = 5;
/// The slow reader's file: long enough that its steady state, not its start, decides.
const SLOW_SECONDS: u32 = 10;
/// Frames of each sampling in the course file (interleaved 4:2:0, 4:4:4, …).
const EACH: u32 = 20;
const FRAMES: usize = 2 * EACH as usize;

/// The course container: each JPEG preceded by its length as 5 ASCII digits; `each` frames
/// of 4:2:0 and of 4:4:4, interleaved.
fn course_file() -> (PathBuf, Vec<Vec<u8>>) {
    course_file_of(EACH)
}

fn course_file_of(each: u32) -> (PathBuf, Vec<Vec<u8>>) {
    let a = common::frames_of(&Clip::new(384, 288, 1).frames(each).path());
    let b = common::frames_of(
        &Clip::new(384, 288, 1)
            .frames(each)
            .pix_fmt("yuvj444p")
            .path(),
    );
    let frames: Vec<Vec<u8>> = a.into_iter().zip(b).flat_map(|(x, y)| [x, y]).collect();
    let count = frames.len();
    let path = common::cached(&format!("course-384x288-{count}f.Mjpeg"), |tmp| {
        let mut bytes = Vec::new();
        for f in &frames {
            assert!(f.len() < 65_000, "a course frame fits one datagram");
            bytes.extend_from_slice(format!("{:05}", f.len()).as_bytes());
            bytes.extend_from_slice(f);
        }
        std::fs::write(tmp, bytes).expect("write course file");
    });
    (path, frames)
}

/// Sends one course request and returns the reply's lines, checked by position as the course
/// client reads them.
fn exchange(c: &mut Rtsp, request: &str, cseq: u32, session: Option<&str>) -> String {
    c.send(request.as_bytes());
    let reply = c.read_quiet(
        Instant::now() + Duration::from_secs(5),
        Duration::from_millis(150),
    );
    let text = String::from_utf8(reply).expect("ASCII reply");
    let lines: Vec<&str> = text.split('\n').collect();
    // The caching variant's client reads `Total-Frames` from a fourth line while the session
    // lives; the others read lines 0-2 only.
    let lines_expected = if request.starts_with("TEARDOWN") {
        3
    } else {
        4
    };
    assert_eq!(
        lines.len(),
        lines_expected,
        "status, CSeq, Session (and Total-Frames), nothing else: {text:?}"
    );
    if lines_expected == 4 {
        assert_eq!(lines[3], format!("Total-Frames: {FRAMES}"), "{text:?}");
    }
    assert_eq!(lines[0], "RTSP/1.0 200 OK", "{text:?}");
    assert_eq!(lines[1], format!("CSeq: {cseq}"), "{text:?}");
    let id = lines[2]
        .strip_prefix("Session: ")
        .unwrap_or_else(|| panic!("line 3 is the Session: {text:?}"));
    assert!(
        id.parse::<u64>().is_ok(),
        "the course client reads the session as an integer: {id:?}"
    );
    if let Some(s) = session {
        assert_eq!(id, s, "same session");
    }
    id.to_owned()
}

/// (sequence number, arrival, payload) of the packets that arrive until `deadline` or `stop`.
fn receive(
    socket: &UdpSocket,
    deadline: Instant,
    stop: impl Fn(u16) -> bool,
) -> Vec<(u16, Instant, Vec<u8>)> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(n) = recv_until(socket, &mut buf, deadline) {
        let at = Instant::now();
        let packet = rtp::Packet::parse(&buf[..n]).expect("valid RTP header");
        assert_eq!(packet.payload_type(), 26, "PT 26");
        assert!(packet.marker(), "one packet, one frame");
        let seq = packet.sequence_number();
        out.push((seq, at, packet.payload().to_vec()));
        if stop(seq) {
            break;
        }
    }
    out
}

/// A server holding the course file as `movie.Mjpeg` (in media root `root`), and a course
/// client whose SETUP and PLAY it has answered.
struct Playing {
    server: hdstream_server::driver::Handle,
    c: Rtsp,
    rtp_socket: UdpSocket,
    id: String,
    /// The file's frames.
    frames: Vec<Vec<u8>>,
}

fn course_playing(root: &str) -> Playing {
    let (path, frames) = course_file();
    let root = common::media_root(root, &[("movie.Mjpeg", &path)]);
    let server = common::serve(&root, Config::default());
    let rtp_socket = common::udp_socket(0).expect("bind UDP");
    let port = rtp_socket.local_addr().unwrap().port();
    let mut c = Rtsp::connect(server.rtsp);
    let id = exchange(
        &mut c,
        &format!("SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= {port}"),
        1,
        None,
    );
    exchange(
        &mut c,
        &format!("PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: {id}"),
        2,
        Some(&id),
    );
    Playing {
        server,
        c,
        rtp_socket,
        id,
        frames,
    }
}

#[test]
fn course_client_plays_pauses_resumes_and_tears_down() {
    let Playing {
        server: _server,
        mut c,
        rtp_socket,
        id,
        frames,
    } = course_playing("course");
    let first = receive(
        &rtp_socket,
        Instant::now() + Duration::from_secs(3),
        |seq| seq >= 12,
    );
    exchange(
        &mut c,
        &format!("PAUSE movie.Mjpeg RTSP/1.0\nCSeq: 3\nSession: {id}"),
        3,
        Some(&id),
    );
    let in_flight = receive(
        &rtp_socket,
        Instant::now() + Duration::from_millis(100),
        |_| false,
    );
    let paused = receive(
        &rtp_socket,
        Instant::now() + Duration::from_millis(300),
        |_| false,
    );
    assert!(paused.is_empty(), "{} packets after PAUSE", paused.len());
    exchange(
        &mut c,
        &format!("PLAY movie.Mjpeg RTSP/1.0\nCSeq: 4\nSession: {id}"),
        4,
        Some(&id),
    );
    let rest = receive(
        &rtp_socket,
        Instant::now() + Duration::from_secs(5),
        |seq| usize::from(seq) >= FRAMES,
    );
    exchange(
        &mut c,
        &format!("TEARDOWN movie.Mjpeg RTSP/1.0\nCSeq: 5\nSession: {id}"),
        5,
        Some(&id),
    );

    // Every frame, in order, once: sequence number k carries frame k (from 1), byte for byte.
    let all: Vec<&(u16, Instant, Vec<u8>)> = first.iter().chain(&in_flight).chain(&rest).collect();
    let seqs: Vec<u16> = all.iter().map(|p| p.0).collect();
    assert_eq!(
        seqs,
        (1..=FRAMES as u16).collect::<Vec<_>>(),
        "sequence number = frame number, every frame once"
    );
    for (seq, _, payload) in &all {
        let k = usize::from(*seq) - 1;
        assert!(
            payload.starts_with(&[0xFF, 0xD8]) && payload.ends_with(&[0xFF, 0xD9]),
            "packet {seq} holds SOI..EOI"
        );
        assert!(
            payload == &frames[k],
            "packet {seq} holds frame {k} of the file exactly"
        );
    }

    // ~20 fps while playing (mean over the uninterrupted runs; generous bounds).
    for run in [&first, &rest] {
        let span = run.last().unwrap().1 - run.first().unwrap().1;
        let mean = span.as_secs_f64() / (run.len() - 1) as f64;
        assert!(
            (0.035..0.070).contains(&mean),
            "mean frame interval {:.1} ms, course files play at 20 fps",
            mean * 1e3
        );
    }
}

#[test]
fn course_session_ends_when_its_connection_closes() {
    let Playing {
        server: _server,
        c,
        rtp_socket,
        ..
    } = course_playing("course-close");
    assert!(
        !receive(
            &rtp_socket,
            Instant::now() + Duration::from_secs(2),
            |seq| seq >= 3
        )
        .is_empty()
    );
    drop(c);
    let _ = receive(
        &rtp_socket,
        Instant::now() + Duration::from_millis(300),
        |_| false,
    );
    let after = receive(
        &rtp_socket,
        Instant::now() + Duration::from_millis(500),
        |_| false,
    );
    assert!(
        after.is_empty(),
        "{} packets after the client hung up",
        after.len()
    );
}

/// A frame a course client stand-in showed (its JSON report).
#[derive(Debug)]
struct Shown {
    number: usize,
    crc32: u32,
    length: usize,
    ok: bool,
}

/// CRC-32 (IEEE 802.3, as Python's `zlib.crc32`).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// Runs the course client stand-in of `variant` on `name` from our server holding `file`, and
/// checks what it showed: every shown frame is a whole JPEG, byte for byte the file's frame
/// with that number, in order, and at least 95 % of the file's frames are shown (the server
/// sends each frame once, so the file's count bounds what it sent).
fn course_client_plays(variant: &str, name: &str, file: &std::path::Path) {
    course_client_plays_showing(variant, name, file, 0.0);
}

/// Debian's Python (the course clients run on a distribution's Python, and it is the one with
/// the distribution's modules), else the first `python3` on `PATH`.
fn python() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/python3");
    if debian.is_file() {
        debian
    } else {
        common::tool("python3")
    }
}

/// [`course_client_plays`], each frame shown keeping the stand-in's reading loop busy for
/// `show_ms` (its `--show-ms`: what decoding and drawing a picture costs the course client on
/// the thread that reads its socket, whose receive buffer stays the default size).
fn course_client_plays_showing(variant: &str, name: &str, file: &std::path::Path, show_ms: f64) {
    let frames = common::frames_of(file);
    // One root per test: tests of one variant share the served name but not the file.
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    let root = common::media_root(&format!("course-{variant}-{stem}"), &[(name, file)]);
    let server = common::serve(&root, Config::default());
    let report = root.join("report.json");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tools/scripts/course-client.py"
    );
    let done = common::run(
        std::process::Command::new(python())
            .arg(script)
            .args(["--variant", variant, "127.0.0.1"])
            .arg(server.rtsp.port().to_string())
            .args(["0", name, "--seconds", "40", "--show-ms"])
            .arg(show_ms.to_string())
            .arg("--json")
            .arg(&report),
        Duration::from_secs(60),
    );
    assert!(
        done.status.success(),
        "course {variant} client on {name}: {}",
        done.stderr
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the stand-in's report"))
            .expect("JSON report");
    let shown: Vec<Shown> = json["shown"]
        .as_array()
        .expect("shown")
        .iter()
        .map(|s| Shown {
            number: s["number"].as_u64().unwrap() as usize,
            crc32: s["crc32"].as_u64().unwrap() as u32,
            length: s["length"].as_u64().unwrap() as usize,
            ok: s["ok"].as_bool().unwrap(),
        })
        .collect();
    if variant == "caching" {
        assert_eq!(
            json["total_frames"].as_u64(),
            Some(frames.len() as u64),
            "Total-Frames"
        );
    }
    for s in &shown {
        let frame = s
            .number
            .checked_sub(1)
            .and_then(|k| frames.get(k))
            .unwrap_or_else(|| panic!("{variant} on {name}: no frame {}", s.number));
        assert!(s.ok, "{variant} on {name}: frame {} shown broken", s.number);
        assert_eq!(
            (s.length, s.crc32),
            (frame.len(), crc32(frame)),
            "{variant} on {name}: frame {} is not the file's",
            s.number
        );
    }
    assert!(
        shown.windows(2).all(|w| w[0].number < w[1].number),
        "{variant} on {name}: frames in order, each once"
    );
    let percent = shown.len() as f64 * 100.0 / frames.len() as f64;
    eprintln!(
        "course {variant} client on {} as {name} (showing a frame: {show_ms} ms): {} of {} frames \
         shown ({percent:.1} %), {} lost, {} skipped, {} datagrams dropped by the kernel",
        file.file_name().unwrap_or_default().to_string_lossy(),
        shown.len(),
        frames.len(),
        json["lost"],
        json["skipped"],
        json["drops"]
    );
    assert!(
        percent >= 95.0,
        "{variant} on {name}: {} of {} frames shown",
        shown.len(),
        frames.len()
    );
}

/// [`SECONDS`] of the course container at its 20 fps.
fn course_288p() -> PathBuf {
    course_file_of(SECONDS * 10).0
}

#[test]
fn course_basic_client_plays_the_course_container() {
    let file = course_288p();
    for frame in common::frames_of(&file) {
        assert!(
            frame.len() + 12 <= course::WHOLE_MAX,
            "the basic client reads 20 KB: test frames must fit"
        );
    }
    course_client_plays("basic", "movie.Mjpeg", &file);
}

/// The basic client reads 20 KB datagrams, so it can show an HD frame only when the frame
/// fits one: our server sends such frames whole, as at 288p. ffmpeg's `gradients` fits at
/// 720p, and at 1080p with optimal Huffman tables; frames that do not fit leave in pieces the
/// basic client cannot read (README).
fn basic_hd(clip: Clip) -> PathBuf {
    let file = clip.path();
    for frame in common::frames_of(&file) {
        assert!(
            frame.len() + 12 <= course::WHOLE_MAX,
            "test frames must fit the basic client's 20 KB: {} bytes",
            frame.len()
        );
    }
    file
}

#[test]
fn course_basic_client_plays_720p_frames_that_fit_its_datagrams() {
    let file = basic_hd(
        Clip::new(1280, 720, SECONDS)
            .source("gradients")
            .quality(20),
    );
    course_client_plays("basic", "clip.mjpeg", &file);
}

#[test]
fn course_basic_client_plays_1080p_frames_that_fit_its_datagrams() {
    let file = basic_hd(
        Clip::new(1920, 1080, SECONDS)
            .source("gradients")
            .quality(31)
            .optimal_huffman(),
    );
    course_client_plays("basic", "clip.mjpeg", &file);
}

#[test]
fn course_hd_client_plays_288p() {
    course_client_plays("hd", "movie.Mjpeg", &course_288p());
}

#[test]
fn course_hd_client_plays_720p() {
    course_client_plays("hd", "clip.mjpeg", &Clip::new(1280, 720, SECONDS).path());
}

#[test]
fn course_hd_client_plays_1080p() {
    course_client_plays("hd", "clip.mjpeg", &Clip::new(1920, 1080, SECONDS).path());
}

#[test]
fn course_caching_client_plays_288p() {
    course_client_plays("caching", "movie.Mjpeg", &course_288p());
}

#[test]
fn course_caching_client_plays_720p() {
    course_client_plays(
        "caching",
        "clip.mjpeg",
        &Clip::new(1280, 720, SECONDS).path(),
    );
}

#[test]
fn course_caching_client_plays_1080p() {
    course_client_plays(
        "caching",
        "clip.mjpeg",
        &Clip::new(1920, 1080, SECONDS).path(),
    );
}

/// The caching client as slow as the course's: its 64 KB reads in Python, the default receive
/// buffer (~92 datagrams, 130 KB of pieces: about 40 ms of 1080p at 30 fps), and 30 ms of
/// every 50 ms tick spent showing a frame (decoding a 1080p JPEG and drawing it in Tk, which
/// the course client does on the thread that reads; a model — issue 22's real client dropped
/// 3,085 datagrams in 6 s). The server spreads a course client's pieces evenly over the
/// interval (`stream::COURSE_SPREAD`), so no more wait in the buffer while it draws than the
/// frame rate requires, and every frame arrives whole.
#[test]
fn course_caching_client_plays_1080p_reading_as_slowly_as_python() {
    course_client_plays_showing(
        "caching",
        "clip.mjpeg",
        &Clip::new(1920, 1080, SLOW_SECONDS).path(),
        30.0,
    );
}

/// 2160p (4 s: 40 MB of file): the HD client gathers each frame from ~240 pieces.
#[test]
fn course_hd_client_plays_2160p() {
    course_client_plays("hd", "clip.mjpeg", &Clip::new(3840, 2160, 4).path());
}

#[test]
fn course_caching_client_plays_2160p() {
    course_client_plays("caching", "clip.mjpeg", &Clip::new(3840, 2160, 4).path());
}
