//! Through a bad link on loopback (the seeded `impair` relay, in-process): at 2 % random loss the
//! frames the client reports lost are exactly the frames the relay damaged, and none of them is
//! shown; with 50 ms of jitter and a 500 ms prebuffer nothing is late and nothing rebuffers.
//! Counts of frames shown include those decoded whole but too late for their slot on a busy
//! machine (`frames_late`): these tests are about what the network and the repair delivered;
//! `playback` measures the display's timing.

use crate::common;

use std::collections::BTreeSet;

use common::{Server, file_checksums, pattern_file, pattern_file_with, recording, serial};
use hdstream_client::{Options, Report, Target, play};
use hdstream_tools::impair::Impairment;
use hdstream_tools::relay;

/// 30 fps, 10 s, 640x360: about twenty RTP packets a frame.
const FRAMES: u64 = 300;

/// The relay in front of `server`; returns the URL to play and the log's path.
fn through(server: &Server, spec: &str, seed: u64, name: &str) -> (String, std::path::PathBuf) {
    let log = std::env::temp_dir().join(format!(
        "hdstream-impair-{name}-{}.jsonl",
        std::process::id()
    ));
    let spec: Impairment = spec.parse().unwrap();
    let addr = relay::start(
        server.addr(),
        "127.0.0.1:0".parse().unwrap(),
        spec,
        seed,
        Some(&log),
    )
    .unwrap();
    let path = server.url.rsplit('/').next().unwrap();
    (format!("rtsp://{addr}/{path}"), log)
}

/// Plays through the relay (as [`through`] starts it) with the options `options` makes of the
/// relay's URL; answers the report and the relay's log, read and removed.
fn played_through(
    server: &Server,
    spec: &str,
    seed: u64,
    name: &str,
    options: impl FnOnce(String) -> Options,
) -> (Report, Vec<serde_json::Value>) {
    let (url, log) = through(server, spec, seed, name);
    let report = play(&options(url)).expect("plays through the relay");
    let events = events(&log);
    let _ = std::fs::remove_file(&log);
    (report, events)
}

/// How many of the frames `report` shows are pixel for pixel the file's (`truth`, its
/// checksums), at 30 fps.
fn intact(report: &Report, truth: &[u64]) -> u64 {
    report
        .displayed_checksums
        .iter()
        .zip(&report.displayed_npt)
        .filter(|&(sum, npt)| truth.get((npt * 30.0).round() as usize) == Some(sum))
        .count() as u64
}

fn events(log: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn at_2_percent_loss_exactly_the_damaged_frames_are_lost_and_never_shown() {
    let _serial = serial();
    let file = pattern_file(640, 360, FRAMES);
    let server = Server::start(&file, 30.0);
    let (report, events) = played_through(&server, "loss=2%", 7, "loss", |url| {
        let mut options = recording(Target::Url(url));
        // Loss as it falls, without repair (the next test repairs).
        options.repair = false;
        options
    });
    // Frame index of an RTP timestamp: the server stamps frame k with first + 3000 k.
    let first = events
        .iter()
        .find(|e| e["event"] == "first")
        .expect("first packet logged")["timestamp"]
        .as_u64()
        .unwrap() as u32;
    let frame = |ts: u32| u64::from(ts.wrapping_sub(first)) / 3000;
    let damaged: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["event"] == "drop")
        .map(|e| frame(e["timestamp"].as_u64().unwrap() as u32))
        .collect();
    let dropped_packets = events.iter().filter(|e| e["event"] == "drop").count() as i64;
    assert!(
        damaged.len() > 10,
        "2 % of ~6000 packets damage dozens of frames: {}",
        damaged.len()
    );
    assert_eq!(
        report.frames_lost,
        damaged.len() as u64,
        "lost frames = damaged frames: {report}"
    );
    assert_eq!(
        report.frames_displayed + report.frames_late,
        FRAMES - damaged.len() as u64,
        "every intact frame shown (or, on a busy machine, decoded too late for its slot): {report}"
    );
    assert_eq!(
        report.packets_lost, dropped_packets,
        "packet loss counted exactly"
    );
    let shown: BTreeSet<u64> = report
        .displayed_npt
        .iter()
        .map(|npt| (npt * 30.0).round() as u64)
        .collect();
    assert_eq!(
        shown.len() as u64,
        report.frames_displayed,
        "each shown frame once"
    );
    assert!(
        shown.is_disjoint(&damaged),
        "a damaged frame was shown: {:?}",
        shown.intersection(&damaged).collect::<Vec<_>>()
    );
    server.handle.stop().unwrap();
}

/// With repair (the default against our server's offer), 2 % loss through the relay costs no
/// frame: every frame is shown, each pixel for pixel the file's, and the retransmissions cost
/// little more than what was lost.
#[test]
fn at_2_percent_loss_repair_shows_every_frame_intact() {
    let _serial = serial();
    let (report, dropped) = repaired_through(pattern_file(640, 360, FRAMES), "loss=2%", 7);
    assert!(dropped > 50, "the relay dropped packets");
    assert_eq!(
        (
            report.frames_displayed + report.frames_late,
            report.frames_lost,
            report.frames_undecodable
        ),
        (FRAMES, 0, 0),
        "every frame repaired and decoded (shown, or late on a busy machine): {report}"
    );
    assert!(report.packets_unrepaired == 0, "{report}");
}

/// 1440p30 (about 140 packets a frame) at 5 % loss: at least 97 % of the frames shown, each
/// pixel for pixel the file's.
#[test]
fn at_5_percent_loss_1440p_repair_shows_97_percent_of_frames_intact() {
    let _serial = serial();
    let (report, dropped) = repaired_through(pattern_file(2560, 1440, FRAMES), "loss=5%", 8);
    assert!(dropped > 1000, "the relay dropped packets: {dropped}");
    assert!(
        (report.frames_displayed + report.frames_late) * 100 >= 97 * FRAMES,
        "{} of {FRAMES} shown, {} late",
        report.frames_displayed,
        report.frames_late
    );
}

/// Plays `file` through the relay with `spec` and repair on; checks what every run with
/// repair must hold (each frame shown is pixel for pixel the file's, some packets repaired,
/// RTX bytes at most 1.5 × the bytes lost). Answers the report and the packets dropped.
fn repaired_through(
    file: std::path::PathBuf,
    spec: &str,
    seed: u64,
) -> (hdstream_client::Report, usize) {
    let truth = file_checksums(&file);
    let server = Server::start(&file, 30.0);
    let (report, events) = played_through(&server, spec, seed, "repair", |url| {
        recording(Target::Url(url))
    });
    server.handle.stop().unwrap();
    let dropped: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "drop").collect();
    let dropped_bytes: u64 = dropped.iter().map(|e| e["len"].as_u64().unwrap_or(0)).sum();
    eprintln!(
        "{spec}: {} packets dropped ({dropped_bytes} bytes); {} repaired, {} not in time, {} RTX bytes; {} frames shown",
        dropped.len(),
        report.packets_repaired,
        report.packets_unrepaired,
        report.rtx_bytes,
        report.frames_displayed
    );
    let intact = intact(&report, &truth);
    assert_eq!(intact, report.frames_displayed, "every frame shown intact");
    assert!(report.packets_repaired > 0, "{report}");
    assert!(
        report.rtx_bytes as f64 <= 1.5 * dropped_bytes as f64,
        "{} RTX bytes for {dropped_bytes} bytes lost",
        report.rtx_bytes
    );
    (report, dropped.len())
}

/// Restart-marker media (a marker every MCU row), repair off, 1 % loss through the relay at
/// 1440p30 for 10 s: the server aligns packets with the restart intervals, and the client
/// shows at least 99 % of the frames — every frame that lost nothing pixel for pixel the
/// file's, the others with their lost bands taken from the frame before.
#[test]
fn at_1_percent_loss_restart_media_without_repair_shows_99_percent_of_frames() {
    let _serial = serial();
    let file = pattern_file_with(
        2560,
        1440,
        FRAMES,
        hdstream_video::encoder::Restart::Rows(1),
    );
    let truth = file_checksums(&file);
    let server = Server::start(&file, 30.0);
    let (report, events) = played_through(&server, "loss=1%", 11, "conceal", |url| {
        let mut options = recording(Target::Url(url));
        options.repair = false;
        options
    });
    server.handle.stop().unwrap();
    let dropped = events.iter().filter(|e| e["event"] == "drop").count();
    let intact = intact(&report, &truth);
    eprintln!(
        "{dropped} packets dropped: {} frames shown ({intact} intact, {} concealed), {} lost",
        report.frames_displayed, report.frames_concealed, report.frames_lost
    );
    assert!(dropped > 100, "the relay dropped packets");
    assert!(
        (report.frames_displayed + report.frames_late) * 100 >= 99 * FRAMES,
        "{} of {FRAMES} shown, {} late",
        report.frames_displayed,
        report.frames_late
    );
    assert!(report.frames_concealed > 10, "{}", report.frames_concealed);
    assert!(
        intact + report.frames_concealed >= report.frames_displayed,
        "every frame shown but the concealed ones is intact: {intact} intact, {} concealed, {} shown",
        report.frames_concealed,
        report.frames_displayed
    );
    assert_eq!(report.packets_repaired, 0, "repair was off");
}

/// The receiver reports the client sends (RFC 3550 §6.4.2, logged by the relay on their way to
/// the server) agree with what the relay dropped: cumulative lost exactly, fraction lost over
/// each interval within 1/256.
#[test]
fn receiver_reports_agree_with_the_injected_loss() {
    let _serial = serial();
    let file = pattern_file(640, 360, FRAMES);
    let server = Server::start(&file, 30.0);
    let (report, events) = played_through(&server, "loss=5%", 21, "reports", |url| {
        let mut options = Options::url(url);
        options.headless = true;
        options.repair = false;
        options
    });
    server.handle.stop().unwrap();
    let first_seq = events.iter().find(|e| e["event"] == "first").unwrap()["seq"]
        .as_u64()
        .unwrap() as u16;
    // Extended sequence numbers relative to the first packet (a 10 s stream wraps at most once).
    let rel = |seq: u16| u64::from(seq.wrapping_sub(first_seq));
    let mut drops_so_far: Vec<u64> = Vec::new();
    let mut reports = Vec::new();
    for e in &events {
        match e["event"].as_str() {
            Some("drop") => drops_so_far.push(rel(e["seq"].as_u64().unwrap() as u16)),
            Some("rr") => {
                let highest = rel(e["highest_seq"].as_u64().unwrap() as u16);
                let lost = drops_so_far.iter().filter(|&&d| d <= highest).count() as i64;
                reports.push((
                    highest,
                    lost,
                    e["cumulative_lost"].as_i64().unwrap(),
                    e["fraction_lost"].as_u64().unwrap(),
                ));
            }
            _ => {}
        }
    }
    assert!(
        !reports.is_empty(),
        "the client sent receiver reports ({report})"
    );
    let mut previous_highest: Option<u64> = None;
    let mut previous_lost = 0i64;
    for &(highest, lost, cumulative, fraction) in &reports {
        eprintln!(
            "RR: highest {highest}, cumulative lost {cumulative} (relay dropped {lost}), fraction {fraction}/256"
        );
        assert_eq!(cumulative, lost, "cumulative lost at highest {highest}");
        let expected =
            highest - previous_highest.map_or(0, |h| h) + u64::from(previous_highest.is_none());
        if expected > 0 && highest != previous_highest.unwrap_or(u64::MAX) {
            let interval_lost = (lost - previous_lost).max(0) as u64;
            let want = (interval_lost * 256 / expected).min(255);
            assert!(
                want.abs_diff(fraction) <= 1,
                "fraction lost {fraction}/256, relay says {want}/256"
            );
        }
        previous_highest = Some(highest);
        previous_lost = lost;
    }
}
