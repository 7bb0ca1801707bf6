//! Loss in the kernel, not in a relay: server and client run inside a network namespace this
//! test creates (loopback up), where an nftables rule `numgen random mod 100 < 5 drop` discards
//! 5 % of the server's RTP datagrams (this kernel has no `tc netem`). The loss the client reports
//! must be within 0.2 percentage points of what nftables counted, and no frame is undecodable.
//!
//! The rule sits on the input hook, where a drop is silent, as on a network: on the output hook
//! the sender's `sendmmsg` sees the drop as an error and tries that datagram again. The server
//! runs without UDP GSO (`HDSTREAM_NO_GSO=1`): with it, netfilter sees a run of up to 64
//! datagrams as one packet (loopback segments it after the hooks), so one drop would take the
//! whole run and the counters would count runs, not datagrams.
//!
//! Needs root (CI is root) and Debian's `nftables` and `iproute2`; it fails under CI when they
//! are missing, and is skipped with a message on a developer's machine without root.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{pattern_file, serial};
use hdstream_testkit::netns::{self, Killed, Namespace, skip_without_root};

/// The server's RTP port inside the namespace (the nftables rule matches it).
const RTP_PORT: u16 = 40_000;

/// The nftables counters of the RTP rules in `ns`: (packets counted, packets dropped).
fn counters(ns: &Namespace) -> (u64, u64) {
    let out = ns
        .exec(&["nft", "list", "chain", "inet", "hdstream", "input"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<u64> = text
        .lines()
        .filter_map(|l| l.split("counter packets ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "two counters in:\n{text}");
    (counts[0], counts[1])
}

/// Plays `file` from a server in a fresh namespace whose input hook drops `percent` % of its
/// RTP datagrams, the client run with `client_args`: the client's JSON report, and the rule's
/// (packets counted, packets dropped).
fn play_through_kernel_loss(
    file: &std::path::Path,
    percent: u32,
    client_args: &[&str],
) -> (serde_json::Value, u64, u64) {
    let ns = Namespace::create("loss");
    ns.nft(&format!(
        "table inet hdstream {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    \
         udp sport {RTP_PORT} counter\n    udp sport {RTP_PORT} numgen random mod 100 < {percent} counter drop\n  }}\n}}\n"
    ));
    let server = netns::start_listening(
        ns.exec(&[
            common::server_binary().to_str().unwrap(),
            "--bind",
            "127.0.0.1",
            "--port",
            "8554",
        ])
        .args([
            "--rtp-port",
            &RTP_PORT.to_string(),
            "--fps",
            "30",
            "--media",
        ])
        .arg(file)
        .env("HDSTREAM_NO_GSO", "1"),
    );
    let json = std::env::temp_dir().join(format!(
        "hdstream-kernel-loss-{}-{percent}.json",
        std::process::id()
    ));
    let url = format!(
        "rtsp://127.0.0.1:8554/{}",
        file.file_name().unwrap().to_string_lossy()
    );
    let client = ns
        .exec(&[
            env!("CARGO_BIN_EXE_hdstream-client"),
            &url,
            "--headless",
            "--stats-json",
        ])
        .arg(&json)
        .args(client_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("client starts in the namespace");
    let mut client = Killed(client);
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(s) = client.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "client did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server);
    assert!(status.success(), "client exit {status}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let (sent, dropped) = counters(&ns);
    (report, sent, dropped)
}

#[test]
fn five_percent_kernel_loss_is_reported_within_a_fifth_of_a_point() {
    if skip_without_root("kernel_loss") {
        return;
    }
    let _serial = serial();
    let file = pattern_file(640, 360, 150);
    // Loss as it falls: no repair.
    let (report, sent, dropped) = play_through_kernel_loss(&file, 5, &["--no-repair"]);
    let injected = 100.0 * dropped as f64 / sent as f64;
    let reported = 100.0 * report["loss_rate"].as_f64().unwrap();
    eprintln!(
        "kernel loss: {dropped} of {sent} RTP packets dropped ({injected:.3} %), client reports {reported:.3} %"
    );
    assert!(sent > 1000, "the stream went through the rule: {sent}");
    assert!(
        (injected - 5.0).abs() < 2.0,
        "nftables dropped about 5 %: {injected:.3}"
    );
    assert!(
        (injected - reported).abs() <= 0.2,
        "injected {injected:.3} %, reported {reported:.3} %"
    );
    assert_eq!(report["frames_undecodable"], 0);
    assert_eq!(
        report["frames_displayed"].as_u64().unwrap() + report["frames_lost"].as_u64().unwrap(),
        150,
        "every frame shown or reported lost: {report}"
    );
}

/// 2 % loss in the kernel on a 1440p30 stream (about 125 packets a frame: without repair, most
/// frames would miss one): with repair, at least 99 % of the frames are shown.
#[test]
fn two_percent_kernel_loss_at_1440p_is_repaired() {
    if skip_without_root("kernel_loss") {
        return;
    }
    let _serial = serial();
    let file = pattern_file(2560, 1440, 150);
    let (report, sent, dropped) = play_through_kernel_loss(&file, 2, &[]);
    let shown = report["frames_displayed"].as_u64().unwrap();
    let late = report["frames_late"].as_u64().unwrap();
    eprintln!(
        "kernel loss: {dropped} of {sent} RTP datagrams dropped; {shown} of 150 frames shown, {} packets repaired, {} not in time, {} RTX bytes",
        report["packets_repaired"], report["packets_unrepaired"], report["rtx_bytes"]
    );
    assert!(
        dropped > 100,
        "the rule dropped packets: {dropped} of {sent}"
    );
    assert!(
        shown + late >= 149,
        "at least 99 % of the frames shown (or, on a busy machine, decoded too late for their slot): {report}"
    );
    assert_eq!(report["frames_undecodable"], 0);
    assert!(report["packets_repaired"].as_u64().unwrap() > 100);
}
