//! hdstream-client on live paths: `hdstream-publish` (the tools' library, in this process)
//! records a file into `live/cam`, and the client shows what is published, pixel for pixel,
//! with low latency by default and the capture-to-display latency in its report; a publisher
//! whose server goes away comes back by itself.

use crate::common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hdstream_client::{LowerTransport, Report, Step, Target};
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_tools::publish::{self, Input, Settings};

/// A server of `file` (and of whatever is published into it) on `port` (0: any).
fn server(file: &std::path::Path, port: u16) -> Handle {
    let (catalogue, _) = Catalogue::open(file, &FpsPolicy::default()).unwrap();
    let listen = Listen {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        rtp_port: None,
    };
    driver::spawn(Config::default(), Arc::new(catalogue), listen).unwrap()
}

/// Publishes `file` to `url` for `frames` frames at 30 fps on a thread.
fn publisher(
    file: &std::path::Path,
    url: &str,
    frames: u64,
) -> std::thread::JoinHandle<publish::Report> {
    let mut settings = Settings::new(Input::File(file.to_owned()), url);
    settings.frames = Some(frames);
    std::thread::spawn(move || publish::run(&settings, &AtomicBool::new(false)).unwrap())
}

/// Plays `url` for `seconds` once DESCRIBE finds it live, recording every picture.
fn watch(url: &str, transport: LowerTransport, seconds: u64) -> Report {
    watch_with(url, transport, seconds, Vec::new())
}

/// [`watch`], taking the `script`'s steps (times after the first picture).
fn watch_with(
    url: &str,
    transport: LowerTransport,
    seconds: u64,
    script: Vec<(Duration, Step)>,
) -> Report {
    let mut options = common::recording(Target::Url(url.to_owned()));
    options.transport = transport;
    options.duration = Some(Duration::from_secs(seconds));
    options.script = script;
    common::play_when_live(&options, url)
}

/// Asserts that `report` shows at least `at_least` pictures, each one of `file`'s frames, and
/// lost none.
fn shows_frames_of(file: &std::path::Path, report: &Report, at_least: usize) {
    let reference: HashSet<u64> = common::file_checksums(file).into_iter().collect();
    let shown = &report.displayed_checksums;
    assert!(shown.len() >= at_least, "{} pictures", shown.len());
    let foreign = shown.iter().filter(|c| !reference.contains(c)).count();
    assert_eq!(foreign, 0, "pictures unlike any published frame");
    assert_eq!(report.frames_lost, 0);
}

fn shows_what_is_published(transport: LowerTransport) {
    common::logs();
    let _serial = common::serial();
    let file = common::pattern_file(1280, 720, 150);
    let handle = server(&file, 0);
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let published = publisher(&file, &url, 150);
    let report = watch(&url, transport, 3);
    let sent = published.join().unwrap();
    handle.stop().unwrap();

    assert_eq!((sent.frames, sent.refused, sent.connections), (150, 0, 1));
    // 3 s at 30 fps, less the moment of joining.
    shows_frames_of(&file, &report, 80);
    let shown = &report.displayed_checksums;
    assert_eq!(
        report.frames_late, 0,
        "low latency: nothing waits to be late"
    );
    let capture = report
        .capture_to_display_ms
        .expect("capture times from the sender reports");
    assert!(capture.count as usize >= shown.len() - 30, "{capture:?}");
    assert!(
        report.latency_ms.p50 < 100.0,
        "live streams play without the 500 ms prebuffer: {:?}",
        report.latency_ms
    );
}

#[test]
fn our_client_shows_every_published_frame_unchanged_over_udp() {
    shows_what_is_published(LowerTransport::Udp);
}

#[test]
fn our_client_shows_every_published_frame_unchanged_over_tcp() {
    shows_what_is_published(LowerTransport::Tcp);
}

/// The server goes away under the publisher and comes back on the same port: the publisher
/// connects again by itself and viewers of the new server see the stream.
#[test]
fn the_publisher_reconnects_when_the_server_comes_back() {
    common::logs();
    let _serial = common::serial();
    let file = common::pattern_file(640, 360, 150);
    let first = server(&file, 0);
    let addr: SocketAddr = first.rtsp;
    let url = format!("rtsp://{addr}/live/cam");
    let stop = Arc::new(AtomicBool::new(false));
    let mut settings = Settings::new(Input::File(file.clone()), url.clone());
    settings.duration = Some(Duration::from_secs(8));
    let flag = Arc::clone(&stop);
    let publishing = std::thread::spawn(move || publish::run(&settings, &flag).unwrap());
    std::thread::sleep(Duration::from_secs(1));
    first.stop().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let second = server(&file, addr.port());
    let report = watch(&url, LowerTransport::Udp, 2);
    let sent = publishing.join().unwrap();
    second.stop().unwrap();
    assert!(sent.connections >= 2, "{sent:?}");
    assert!(
        sent.skipped > 0,
        "frames due while the server was away: {sent:?}"
    );
    assert!(
        report.frames_displayed >= 45,
        "{} pictures from the second server",
        report.frames_displayed
    );
}

/// Timeshift: a pause of 5 s on a live stream holds the picture while frames keep coming; play
/// goes on from the frame after the paused one, 5 s behind live; End jumps back to the newest
/// frame and live latency.
#[test]
fn timeshift_pauses_behind_live_and_end_returns_to_the_edge() {
    common::logs();
    let _serial = common::serial();
    let file = common::pattern_file(640, 360, 300);
    let handle = server(&file, 0);
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let published = publisher(&file, &url, 30 * 16);
    let s = Duration::from_secs;
    let script = vec![
        (s(2), Step::Pause),
        (s(7), Step::Resume),
        (s(10), Step::LiveEdge),
    ];
    let report = watch_with(&url, LowerTransport::Udp, 12, script);
    published.join().unwrap();
    handle.stop().unwrap();

    let index: std::collections::HashMap<u64, usize> = common::file_checksums(&file)
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c, i))
        .collect();
    let shown: Vec<(usize, f64)> = report
        .displayed_checksums
        .iter()
        .zip(&report.displayed_capture_ms)
        .map(|(c, ms)| {
            (
                *index.get(c).expect("a published frame"),
                ms.expect("capture time"),
            )
        })
        .collect();
    // Live, then 5 s behind, then live again.
    let behind_from = shown
        .iter()
        .position(|&(_, ms)| ms > 2500.0)
        .expect("frames shown behind live after the pause");
    let live_again = behind_from
        + shown[behind_from..]
            .iter()
            .position(|&(_, ms)| ms < 1000.0)
            .expect("back at the live edge");
    let before = &shown[..behind_from];
    let behind = &shown[behind_from..live_again];
    let after = &shown[live_again..];
    let median = |part: &[(usize, f64)]| {
        let mut ms: Vec<f64> = part.iter().map(|p| p.1).collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    eprintln!(
        "timeshift: {} frames live (median {:.1} ms), {} behind ({:.1} ms), {} after End ({:.1} ms)",
        before.len(),
        median(before),
        behind.len(),
        median(behind),
        after.len(),
        median(after)
    );
    assert!(
        before.len() >= 45,
        "{} frames before the pause",
        before.len()
    );
    assert!(median(before) < 100.0, "live: {} ms", median(before));
    // Play went on from the frame after the paused one, with nothing skipped.
    let (paused_at, _) = before[before.len() - 1];
    assert_eq!(
        behind[0].0,
        (paused_at + 1) % 300,
        "resumed at the next frame"
    );
    for pair in behind.windows(2) {
        assert_eq!(pair[1].0, (pair[0].0 + 1) % 300, "every frame, in order");
    }
    assert!(
        (4700.0..5500.0).contains(&median(behind)),
        "5 s behind live: {} ms",
        median(behind)
    );
    assert!(behind.len() >= 80, "{} frames behind live", behind.len());
    assert!(after.len() >= 30, "{} frames after End", after.len());
    assert!(
        median(after) < median(before) + 34.0,
        "End: back within a frame interval of live latency ({} ms, live was {} ms)",
        median(after),
        median(before)
    );
    assert_eq!(report.frames_lost, 0);
}

/// Frames over 2040 px keep their size through a live path: the publisher's `a=x-dimensions`
/// goes into the feed, and the viewers' description says it again (RFC 2435 §3.1.5 cannot).
#[test]
fn a_2160p_live_stream_keeps_its_size_and_pixels() {
    common::logs();
    let _serial = common::serial();
    let file = common::pattern_file(3840, 2160, 60);
    let handle = server(&file, 0);
    let url = format!("rtsp://{}/live/uhd", handle.rtsp);
    let published = publisher(&file, &url, 120);
    let report = watch(&url, LowerTransport::Tcp, 2);
    published.join().unwrap();
    handle.stop().unwrap();
    assert_eq!((report.width, report.height), (3840, 2160));
    shows_frames_of(&file, &report, 40);
}

/// ffmpeg publishes (`-c copy` of an RFC 2435-ready file over TCP); our client, watching over
/// `transport`, shows its frames unchanged.
fn shows_what_ffmpeg_publishes(
    width: u16,
    height: u16,
    transport: LowerTransport,
    at_least: usize,
) -> Report {
    common::logs();
    let _serial = common::serial();
    let file = common::pattern_file(width, height, 150);
    let handle = server(&file, 0);
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let mut ffmpeg = common::ffmpeg_reading(&file)
        .args(["-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp"])
        .arg(&url)
        .spawn()
        .expect("ffmpeg");
    let report = watch(&url, transport, 3);
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();
    handle.stop().unwrap();
    eprintln!("{report}");
    assert_eq!(
        (report.width, report.height),
        (u32::from(width), u32::from(height))
    );
    shows_frames_of(&file, &report, at_least);
    report
}

#[test]
fn our_client_shows_what_ffmpeg_publishes() {
    shows_what_ffmpeg_publishes(1280, 720, LowerTransport::Udp, 80);
}

/// ffmpeg sends the size of frames over 2040 px modulo 2048 (3840x2160 as 1792x112) and says it
/// nowhere else; the server reads the real size from the first frame's scan, and the viewer
/// gets it in `a=x-dimensions` and sees every picture at 3840x2160, pixel for pixel.
#[test]
fn our_client_shows_what_ffmpeg_publishes_at_2160p() {
    shows_what_ffmpeg_publishes(3840, 2160, LowerTransport::Tcp, 30);
}
