//! The course's Python client, byte for byte: LF-only requests with a bare file name and no
//! blank line, replies read by line position, and RTP packets that each hold one whole JPEG
//! with sequence number = frame number, at 20 fps for the course's 5-digit container — which
//! may hold 4:4:4 frames (the course's `movie.Mjpeg` does), served as they are.

mod common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, recv_until};
use hdstream_common::rtp;
use hdstream_server::core::Config;

/// Frames of each sampling in the course file (interleaved 4:2:0, 4:4:4, …).
const EACH: u32 = 20;
const FRAMES: usize = 2 * EACH as usize;

/// The course container: each JPEG preceded by its length as 5 ASCII digits.
fn course_file() -> (PathBuf, Vec<Vec<u8>>) {
    let a = common::frames_of(&Clip::new(384, 288, 1).frames(EACH).path());
    let b = common::frames_of(
        &Clip::new(384, 288, 1)
            .frames(EACH)
            .pix_fmt("yuvj444p")
            .path(),
    );
    let frames: Vec<Vec<u8>> = a.into_iter().zip(b).flat_map(|(x, y)| [x, y]).collect();
    let path = common::cached(&format!("course-384x288-{FRAMES}f.Mjpeg"), |tmp| {
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
    assert_eq!(
        lines.len(),
        3,
        "exactly three lines, nothing else: {text:?}"
    );
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
