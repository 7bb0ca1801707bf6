//! Live paths under abuse: a hostile publisher (garbage RTP, a foreign SSRC, a frame that never
//! ends, a 50 MB frame, then silence) disturbs only its own path, and a viewer that stops
//! reading (SIGSTOP) slows neither the publisher nor the other viewers. The healthy viewers
//! are plain UDP sessions here, counting frames (marker bits) and sequence gaps.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, UdpPlay, serve, setup_and_play_udp, tool};
use hdstream_common::rtp;
use hdstream_server::core::Config;
use hdstream_tools::publish::{self, Input, Settings};

/// 10 s at 30 fps, 640x360.
const CLIP: Clip = Clip::new(640, 360, 10);

/// One real-time test at a time (two cores).
static SERIAL: Mutex<()> = Mutex::new(());

/// What a healthy UDP viewer got.
#[derive(Debug, Default)]
struct Seen {
    frames: u64,
    packets: u64,
    gaps: u64,
}

/// Counts `play`'s frames and sequence gaps until `until`.
fn count(play: UdpPlay, until: Instant) -> Seen {
    let mut seen = Seen::default();
    let mut buf = vec![0u8; 65_536];
    let mut last: Option<u16> = None;
    while let Some(n) = common::recv_until(&play.rtp, &mut buf, until) {
        let Ok(packet) = rtp::Packet::parse(&buf[..n]) else {
            continue;
        };
        seen.packets += 1;
        let seq = packet.sequence_number();
        if let Some(last) = last
            && seq != last.wrapping_add(1)
        {
            seen.gaps += 1;
        }
        last = Some(seq);
        seen.frames += u64::from(packet.marker());
    }
    drop(play);
    seen
}

/// Sends SIG`name` to `pid` (the shell's built-in `kill`, present even without procps).
fn signal(pid: u32, name: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{name} {pid}")])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Publishes the clip to `url` for `frames` frames on a thread.
fn good_publisher(url: &str, frames: u64) -> std::thread::JoinHandle<publish::Report> {
    let mut settings = Settings::new(Input::File(CLIP.path()), url);
    settings.frames = Some(frames);
    std::thread::spawn(move || publish::run(&settings, &AtomicBool::new(false)).unwrap())
}

/// Resident memory of this process, bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// An interleaved RTP packet on channel 0.
fn interleaved(header: rtp::Header, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    header.append(&[payload], &mut packet).unwrap();
    let mut out = hdstream_common::rtsp::Data::header(0, packet.len())
        .unwrap()
        .to_vec();
    out.extend_from_slice(&packet);
    out
}

/// RFC 2435 main header (type 1, Q 255 would need tables: Q 50 standard tables) of a 640x360
/// frame at `offset`, followed by `len` bytes of scan data.
fn fragment(offset: u32, len: usize) -> Vec<u8> {
    let mut payload = vec![
        0,
        (offset >> 16) as u8,
        (offset >> 8) as u8,
        offset as u8,
        1,
        50,
        80,
        45,
    ];
    payload.resize(8 + len, 0x55);
    payload
}

#[test]
fn a_hostile_publisher_disturbs_only_its_own_path() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::media_root("live-hostile", &[("clip.mjpeg", &CLIP.path())]);
    let config = Config {
        publish_timeout: Duration::from_secs(2),
        looping: true,
        ..Config::default()
    };
    let handle = serve(&root, config);
    let good = format!("rtsp://{}/live/good", handle.rtsp);
    let publisher = good_publisher(&good, 240);
    common::wait_live(handle.rtsp, &good);

    // The hostile publisher: a real RECORD session on live/bad.
    let bad = format!("rtsp://{}/live/bad", handle.rtsp);
    let mut hostile = Rtsp::connect(handle.rtsp);
    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=bad\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\n";
    hostile.send(
        format!(
            "ANNOUNCE {bad} RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .as_bytes(),
    );
    assert_eq!(hostile.response().status.as_u16(), 200);
    let reply = hostile.request(
        "SETUP",
        &format!("{bad}/streamid=0"),
        &[(
            "Transport",
            "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
        )],
    );
    assert_eq!(reply.status.as_u16(), 200);
    let id = common::session_id(&reply);
    assert_eq!(
        hostile
            .request("RECORD", &bad, &[("Session", &id)])
            .status
            .as_u16(),
        200
    );
    let mut wire: TcpStream = hostile.stream.try_clone().unwrap();

    let start = Instant::now();
    let window = start + Duration::from_secs(6);
    let file_viewer = setup_and_play_udp(handle.rtsp, &common::url(&handle, "clip.mjpeg"), "file");
    let live_viewer = setup_and_play_udp(handle.rtsp, &good, "live");
    let file_seen = std::thread::spawn(move || count(file_viewer, window));
    let live_seen = std::thread::spawn(move || count(live_viewer, window));
    let before = rss();

    let header = |ssrc: u32, seq: u16, ts: u32, marker: bool| rtp::Header {
        marker,
        payload_type: 26,
        sequence_number: seq,
        timestamp: ts,
        ssrc,
    };
    let mut seq = 0u16;
    let mut next = |ssrc, ts, marker, payload: &[u8]| {
        seq = seq.wrapping_add(1);
        interleaved(header(ssrc, seq, ts, marker), payload)
    };
    // Garbage on the RTP channel.
    for _ in 0..100 {
        wire.write_all(&[b'$', 0, 0, 5, 1, 2, 3, 4, 5]).unwrap();
    }
    // A foreign SSRC in the middle of the stream.
    wire.write_all(&next(1, 0, false, &fragment(0, 1000)))
        .unwrap();
    wire.write_all(&next(2, 0, true, &fragment(1000, 1000)))
        .unwrap();
    // A frame without a marker that never ends: 20 MB under one timestamp.
    let mut offset = 0;
    while offset < 20_000_000 {
        wire.write_all(&next(1, 3000, false, &fragment(offset, 1400)))
            .unwrap();
        offset += 1400;
    }
    // A 50 MB frame, marker at the end (offsets wrap past 16 MiB, as a 24-bit field does).
    let mut sent = 0usize;
    while sent < 50_000_000 {
        let last = sent + 1400 >= 50_000_000;
        let offset = (sent as u32) & 0x00FF_FFFF;
        wire.write_all(&next(1, 6000, last, &fragment(offset, 1400)))
            .unwrap();
        sent += 1400;
    }
    let grown = rss().saturating_sub(before);
    // Then silence: the server gives up on it after publish_timeout.
    wire.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    let silent_since = Instant::now();
    let mut closed = false;
    let mut buf = [0u8; 4096];
    loop {
        match std::io::Read::read(&mut wire, &mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    let silent_for = silent_since.elapsed();

    let file = file_seen.join().unwrap();
    let live = live_seen.join().unwrap();
    let sent = publisher.join().unwrap();
    let stats = handle.published();
    handle.stop().unwrap();

    eprintln!(
        "hostile: memory +{} MiB after 70 MB of bad frames; live/bad {bad_stats:?}; silent publisher closed after {silent_for:?}; file viewer {file:?}; live viewer {live:?}; good publisher {sent:?}",
        grown >> 20,
        bad_stats = stats.iter().find(|s| s.path == "live/bad"),
    );
    assert!(
        closed,
        "a silent publisher's connection closes (waited {silent_for:?})"
    );
    assert!(silent_for < Duration::from_secs(5), "{silent_for:?}");
    let bad = stats
        .iter()
        .find(|s| s.path == "live/bad")
        .expect("live/bad ended");
    assert_eq!(bad.frames, 0, "nothing of it was a frame: {bad:?}");
    assert!(bad.ignored >= 100, "garbage and the foreign SSRC: {bad:?}");
    assert!(
        grown < 64 << 20,
        "memory grew {} MiB while it sent 70 MB",
        grown >> 20
    );
    // The healthy viewers: 6 s each, no packet missing.
    assert_eq!(
        (file.gaps, live.gaps),
        (0, 0),
        "file {file:?}, live {live:?}"
    );
    assert!(file.frames >= 170, "file viewer: {file:?}");
    assert!(live.frames >= 165, "live viewer: {live:?}");
    assert_eq!(
        sent.skipped, 0,
        "the good publisher was never held up: {sent:?}"
    );
}

/// A viewer that stops reading (SIGSTOP, TCP: the server's queue for it fills) costs the
/// publisher and the other viewers nothing.
#[test]
fn a_stopped_viewer_slows_neither_the_publisher_nor_the_others() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::media_root("live-sigstop", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let publisher = good_publisher(&url, 240);
    common::wait_live(handle.rtsp, &url);
    let stopped = common::spawn(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i"])
            .arg(&url)
            .args(["-f", "null", "-"]),
    );
    std::thread::sleep(Duration::from_secs(1));
    let pid = stopped.pid();
    signal(pid, "STOP");
    let window = Instant::now() + Duration::from_secs(5);
    let viewer = setup_and_play_udp(handle.rtsp, &url, "live");
    let seen = count(viewer, window);
    signal(pid, "CONT");
    drop(stopped);
    let sent = publisher.join().unwrap();
    handle.stop().unwrap();
    eprintln!("sigstop: healthy viewer {seen:?}; publisher {sent:?}");
    assert_eq!(seen.gaps, 0, "{seen:?}");
    assert!(seen.frames >= 140, "5 s at 30 fps: {seen:?}");
    assert_eq!(sent.skipped, 0, "{sent:?}");
    assert_eq!(sent.frames, 240, "{sent:?}");
}
