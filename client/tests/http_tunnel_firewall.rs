//! Watching through a firewall that passes only HTTP (issue 20, RTSP tunnelled in HTTP): the
//! server runs in a network namespace this test makes, joined by veth to a viewer's namespace;
//! nftables on the server's input hook accepts TCP to the HTTP port (8080) and drops everything
//! else — UDP, the RTSP port, ICMP. ffmpeg in the viewer's namespace plays the file through the
//! tunnel (`-rtsp_transport http` to port 8080), every frame identical to its decode of the
//! file, and so does our client (`rtsph://`: every frame shown, none lost); plain RTSP to port
//! 8554 gets nothing.
//!
//! Needs root and Debian's `iproute2` and `nftables`: it fails (never skips) when it cannot
//! make its namespaces.

use crate::common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{pattern_file, serial};
use hdstream_testkit::netns::{self, Namespace};

const SERVER: &str = "10.77.31.1";
const VIEWER: &str = "10.77.31.2";

/// Runs `cmd` (stdout and stderr captured) for at most `limit`, killed after: its output,
/// or `None` if it had to be killed.
fn run_bounded(mut cmd: Command, limit: Duration) -> (Option<Output>, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => (Some(out), String::new()),
        Ok(Err(e)) => (None, format!("wait failed: {e}")),
        Err(_) => {
            // Ours, by its id.
            let _ = Command::new("kill").arg(id.to_string()).status();
            (None, format!("killed after {limit:?}"))
        }
    }
}

/// The hash column of ffmpeg's framemd5 output.
fn md5s(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

#[test]
fn only_http_passes_the_firewall_and_ffmpeg_and_our_client_play_every_frame_through_the_tunnel() {
    let _serial = serial();
    let file = pattern_file(640, 360, 90);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let reference = {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-v", "error", "-i"])
            .arg(&file)
            .args(["-f", "framemd5", "-"]);
        let (out, why) = run_bounded(cmd, Duration::from_secs(60));
        let out = out.unwrap_or_else(|| panic!("ffmpeg decodes the file: {why}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        md5s(&out.stdout)
    };
    assert_eq!(reference.len(), 90);

    let server_ns = Namespace::create("fw-srv");
    let viewer_ns = Namespace::create("fw-view");
    server_ns.join(SERVER, &viewer_ns, VIEWER);
    server_ns.nft(
        "table inet firewall {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    \
         tcp dport 8080 counter accept\n  }\n}\n",
    );
    let _server = netns::start_listening(
        server_ns
            .exec(&[
                common::server_binary().to_str().unwrap(),
                "--bind",
                SERVER,
                "--port",
                "8554",
                "--http",
                &format!("{SERVER}:8080"),
                "--fps",
                "30",
                "--media",
            ])
            .arg(&file),
    );

    // Plain RTSP (TCP interleaved, to the RTSP port): dropped, nothing decoded.
    let mut plain = viewer_ns.exec(&["ffmpeg", "-nostdin", "-v", "error"]);
    plain
        .args(["-rtsp_transport", "tcp", "-timeout", "3000000", "-i"])
        .arg(format!("rtsp://{SERVER}:8554/{name}"))
        .args(["-f", "framemd5", "-"]);
    let (out, why) = run_bounded(plain, Duration::from_secs(10));
    eprintln!(
        "plain RTSP: {}",
        match &out {
            Some(o) => format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            None => why,
        }
    );
    if let Some(out) = &out {
        assert!(!out.status.success(), "plain RTSP got through the firewall");
        assert!(md5s(&out.stdout).is_empty(), "plain RTSP decoded frames");
    }

    // Through the tunnel, to the HTTP port.
    let mut tunnel = viewer_ns.exec(&["ffmpeg", "-nostdin", "-v", "warning"]);
    tunnel
        .args(["-rtsp_transport", "http", "-i"])
        .arg(format!("rtsp://{SERVER}:8080/{name}"))
        .args(["-f", "framemd5", "-"]);
    let (out, why) = run_bounded(tunnel, Duration::from_secs(40));
    let out = out.unwrap_or_else(|| panic!("ffmpeg through the tunnel: {why}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg through the tunnel: {stderr}");
    assert_eq!(
        md5s(&out.stdout),
        reference,
        "every frame through the tunnel, identical to the file's; ffmpeg said:\n{stderr}"
    );

    // Our client, through the tunnel.
    let json = std::env::temp_dir().join(format!("hdstream-fw-{}.json", std::process::id()));
    let mut client = viewer_ns.exec(&[
        env!("CARGO_BIN_EXE_hdstream-client"),
        &format!("rtsph://{SERVER}:8080/{name}"),
        "--headless",
        "--stats-json",
    ]);
    client.arg(&json);
    let (out, why) = run_bounded(client, Duration::from_secs(40));
    let out = out.unwrap_or_else(|| panic!("our client through the tunnel: {why}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "our client through the tunnel: {stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the client's report"))
            .expect("JSON report");
    let _ = std::fs::remove_file(&json);
    let count = |k: &str| report[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(
        (
            count("frames_displayed") + count("frames_late"),
            count("frames_lost"),
            count("frames_undecodable")
        ),
        (90, 0, 0),
        "our client through the tunnel: every frame shown; {stderr}"
    );

    // Everything that reached the server came through the one rule.
    let listed = server_ns
        .exec(&["nft", "list", "chain", "inet", "firewall", "input"])
        .output()
        .expect("nft lists the chain");
    let listed = String::from_utf8_lossy(&listed.stdout);
    let accepted: u64 = listed
        .split("counter packets ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    eprintln!("packets accepted to TCP 8080: {accepted}");
    assert!(accepted > 0, "the rule counted nothing:\n{listed}");
}
