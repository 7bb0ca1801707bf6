//! A call between two hosts: two network namespaces this test makes, joined by a veth pair
//! (10.88.0.1 and 10.88.0.2), each running `hdstream-call` with its embedded server, headless,
//! for [`SECONDS`]: the camera a 720p30 MJPEG of the test pattern (as a USB camera delivers
//! MJPEG: nothing to encode on the host — encoding two 720p streams live as well is what
//! `playback --call` measures), the microphone the tone. Both directions at once, as a user
//! would run them; each side's JSON summary is what the test reads:
//!
//! - every frame the far side captured is shown here: none skipped by its publisher, none lost,
//!   late or undecodable, and about the whole call's worth of them;
//! - capture to display (the far publisher's capture clock, carried in its RTCP sender
//!   reports — one machine, one clock) p99 ≤ 150 ms each way (ITU-T G.114's bound for
//!   interactive talk);
//! - the sound in sync with the picture: its offset p50 within ±20 ms, p1/p99 inside
//!   ITU-R BT.1359's detectability (+45/−125 ms), the sound played without gaps.
//!
//! Needs root (CI is root) and iproute2.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hdstream_testkit::netns::{Killed, Namespace, skip_without_root};

/// How long the call lasts.
const SECONDS: u64 = 12;

fn side(ns: &Namespace, far: &str, json: &PathBuf, camera: &std::path::Path) -> Killed {
    let child = ns
        .exec(&[
            env!("CARGO_BIN_EXE_hdstream-call"),
            "--headless",
            "--duration",
            &SECONDS.to_string(),
            "--stats-json",
        ])
        .arg(json)
        .arg("--camera")
        .arg(camera)
        .arg(far)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("hdstream-call starts in its namespace");
    Killed(child)
}

fn summary(json: &PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(json).expect("the call wrote its summary");
    let _ = std::fs::remove_file(json);
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn a_720p30_call_between_two_hosts_shows_every_frame_within_150_ms_with_sound_in_sync() {
    if skip_without_root("netns_call") {
        return;
    }
    let alice = Namespace::create("alice");
    let bob = Namespace::create("bob");
    alice.join("10.88.0.1", &bob, "10.88.0.2");
    let dir = std::env::temp_dir();
    let json_a = dir.join(format!("hdstream-call-alice-{}.json", std::process::id()));
    let json_b = dir.join(format!("hdstream-call-bob-{}.json", std::process::id()));
    let camera = hdstream_testkit::media::dir(1280, 720, 60).join("clip.mjpeg");
    let mut a = side(&alice, "10.88.0.2", &json_a, &camera);
    let mut b = side(&bob, "10.88.0.1", &json_b, &camera);
    let limit = Duration::from_secs(SECONDS + 20);
    let status_a = a.wait_for(limit).expect("alice's call ends");
    let status_b = b.wait_for(limit).expect("bob's call ends");
    assert!(
        status_a.success() && status_b.success(),
        "{status_a} {status_b}"
    );
    let (a, b) = (summary(&json_a), summary(&json_b));
    for (here, far, name) in [(&a, &b, "bob → alice"), (&b, &a, "alice → bob")] {
        let sent = &far["sent"];
        let got = &here["received"];
        let n = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "{name}: sent {} frames ({} skipped); shown {} (lost {}, late {}, undecodable {}); \
             capture to display p50 {:.1} ms p99 {:.1} ms; sound vs picture p1 {:.1} p50 {:.1} \
             p99 {:.1} ms, underruns {}, concealed {}",
            sent["frames"],
            sent["skipped"],
            got["frames_displayed"],
            got["frames_lost"],
            got["frames_late"],
            got["frames_undecodable"],
            n(&got["capture_to_display_ms"], "p50"),
            n(&got["capture_to_display_ms"], "p99"),
            n(&got["audio_video_offset_ms"], "p1"),
            n(&got["audio_video_offset_ms"], "p50"),
            n(&got["audio_video_offset_ms"], "p99"),
            got["audio_underruns"],
            got["audio_concealed_packets"],
        );
        // Every frame: the publisher kept its schedule, and what it sent was all shown.
        assert_eq!(sent["skipped"], 0, "{name}: the far side skipped frames");
        for k in ["frames_lost", "frames_late", "frames_undecodable"] {
            assert_eq!(got[k], 0, "{name}: {k}");
        }
        assert_eq!(
            got["frames_displayed"], got["frames_received"],
            "{name}: every frame received is shown"
        );
        let shown = n(got, "frames_displayed");
        assert!(
            shown >= 30.0 * (SECONDS as f64 - 3.0),
            "{name}: {shown} frames shown in a {SECONDS} s call"
        );
        assert_eq!(got["width"], 1280, "{name}");
        // Capture to display.
        let p99 = n(&got["capture_to_display_ms"], "p99");
        assert!(p99 <= 150.0, "{name}: capture to display p99 {p99} ms");
        // Sound in sync, and played without gaps.
        let offset = &got["audio_video_offset_ms"];
        assert!(
            n(offset, "count") >= shown * 0.9,
            "{name}: sound heard with the pictures"
        );
        assert!(n(offset, "p50").abs() <= 20.0, "{name}: offset {offset}");
        assert!(
            n(offset, "p99") <= 45.0 && n(offset, "p1") >= -125.0,
            "{name}: offset {offset}"
        );
        assert!(
            n(got, "audio_seconds_played") >= SECONDS as f64 - 4.0,
            "{name}: sound played"
        );
        assert_eq!(got["audio_packets_lost"], 0, "{name}");
    }
}
