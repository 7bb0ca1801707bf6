//! Loopback: our server in-process, the client headless, over UDP and TCP, 5 s of 1080p30 and
//! of 1440p60. Every frame of the file must arrive and decode, none lost or undecodable, and
//! those shown are the file's frames in order. Whether each frame makes its slot on screen
//! depends on what else the machine is doing: `playback` measures that (fps, late frames,
//! display intervals), not these tests.

use crate::common;

use std::time::Duration;

use common::{Server, logs, pattern_file, recording, serial};
use hdstream_client::{LowerTransport, Options, Report, Target, play};

/// Seconds of each file: long enough for the pacing, the cache and the decode threads to settle
/// (a second decode thread starts after 15 frames), short enough for the test run.
const SECONDS: u64 = 5;

fn play_all(width: u16, height: u16, fps: u32, transport: LowerTransport) -> Report {
    logs();
    let frames = u64::from(fps) * SECONDS;
    let file = pattern_file(width, height, frames);
    let _one_at_a_time = serial();
    let server = Server::start(&file, f64::from(fps));
    let mut options = recording(Target::Url(server.url.clone()));
    options.transport = transport;
    let report = play(&options).expect("plays to the end");
    eprintln!("{report}");
    assert_eq!(report.frames_expected, Some(frames));
    assert_eq!(
        (
            report.frames_received,
            report.frames_lost,
            report.frames_undecodable
        ),
        (frames, 0, 0),
        "every frame received and decodable: {report}"
    );
    assert_eq!(
        (report.width, report.height),
        (u32::from(width), u32::from(height))
    );
    assert_eq!(report.packets_lost, 0);
    common::assert_shown_in_order(&file, &report, &format!("{width}x{height}"));
    assert_eq!(
        report.frames_displayed + report.frames_late,
        frames,
        "every frame shown or, on a busy machine, late: {report}"
    );
    assert!(report.frames_displayed > 0, "{report}");
    server.handle.stop().unwrap();
    report
}

#[test]
fn udp_1080p30() {
    let r = play_all(1920, 1080, 30, LowerTransport::Udp);
    assert!(r.rcvbuf_bytes.is_some_and(|b| b > 0));
}

#[test]
fn tcp_1080p30() {
    play_all(1920, 1080, 30, LowerTransport::Tcp);
}

#[test]
fn udp_1440p60() {
    play_all(2560, 1440, 60, LowerTransport::Udp);
}

#[test]
fn tcp_1440p60() {
    play_all(2560, 1440, 60, LowerTransport::Tcp);
}

#[test]
fn low_latency_shows_frames_soon_after_they_arrive() {
    let file = pattern_file(640, 360, 60);
    let _one_at_a_time = serial();
    let server = Server::start(&file, 30.0);
    let mut options = Options::url(&server.url);
    options.headless = true;
    options.low_latency = true;
    let report = play(&options).unwrap();
    eprintln!("{report}");
    assert!(report.frames_displayed >= 55, "{}", report.frames_displayed);
    assert!(report.latency_ms.p50 < 30.0, "{:?}", report.latency_ms);
    let _ = Duration::ZERO;
}

/// Stopped by `--duration` mid-file: the frames still waiting in the cache are reported as
/// unplayed, and every received frame is accounted for — shown, late, undecodable, flushed or
/// unplayed.
#[test]
fn a_run_cut_short_accounts_for_every_received_frame() {
    let file = pattern_file(640, 360, 150);
    let _one_at_a_time = serial();
    let server = Server::start(&file, 30.0);
    let mut options = recording(Target::Url(server.url.clone()));
    options.duration = Some(Duration::from_secs(2));
    let report = play(&options).unwrap();
    eprintln!("{report}");
    assert!(report.frames_displayed >= 45, "{report}");
    assert!(
        report.frames_unplayed > 0,
        "the prebuffer holds frames at the cut: {report}"
    );
    assert_eq!(
        report.frames_received,
        report.frames_displayed
            + report.frames_late
            + report.frames_undecodable
            + report.frames_flushed
            + report.frames_unplayed,
        "{report}"
    );
    server.handle.stop().unwrap();
}
