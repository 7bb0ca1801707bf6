//! Operations on real sockets (issue 20, "Operations"): the binary with `--http` and `--users`,
//! ffmpeg playing a file over RTSP/UDP and curl watching it on `/watch` at the same time;
//! `/metrics` read by a real Prometheus text-format parser (Debian's python3-prometheus-client)
//! twice, `/api/v1/sessions` and `/api/v1/paths` as JSON, the admin right (401, 403, 200), and
//! bad input (404, 405).

use crate::common;

use std::collections::HashMap;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Clip, tool};

/// 6 s of 360p, looped by the server: the session and the viewer go on while the test reads.
const SMALL: Clip = Clip::new(640, 360, 6);

/// The parser the test trusts: prometheus_client's, printing one JSON sample a line.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        print(json.dumps([family.type, s.name, s.labels, s.value]))
"#;

/// A sample's value by metric name and labels.
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// `text` through prometheus_client's parser (it fails on what the format forbids); the family
/// types it saw by sample name.
fn parse_metrics(text: &str) -> (Samples, HashMap<String, String>) {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client could not parse /metrics (apt-get install python3-prometheus-client): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut samples = Samples::new();
    let mut types = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (kind, name, labels, value): (String, String, HashMap<String, String>, f64) =
            serde_json::from_str(line).unwrap();
        let mut labels: Vec<(String, String)> = labels.into_iter().collect();
        labels.sort();
        types.insert(name.clone(), kind);
        samples.insert((name, labels), value);
    }
    (samples, types)
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    samples.get(&(name.to_owned(), labels)).copied()
}

#[test]
fn metrics_and_the_api_show_an_rtsp_session_and_an_http_viewer_to_an_admin() {
    let help = common::run(
        Command::new(env!("CARGO_BIN_EXE_hdstream-server")).arg("--help"),
        Duration::from_secs(10),
    );
    assert!(
        help.stdout_text().contains("/metrics"),
        "{}",
        help.stdout_text()
    );
    let clip = SMALL.path();
    let root = common::media_root("ops", &[("clip.mjpeg", &clip)]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ops-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users.toml");
    // Anyone may watch (ffmpeg and curl need no credentials to play); alice may watch too but
    // not operate; ops may operate. Made by the hdstream-user tool, as an operator would.
    let user_tool = env!("CARGO_BIN_EXE_hdstream-user");
    let add = |args: &[&str], password: &str| {
        let mut child = Command::new(user_tool)
            .arg("add")
            .arg(&users)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The user "*" reads no password: its end of the pipe may be gone.
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes());
        assert!(
            child.wait().unwrap().success(),
            "hdstream-user add {args:?}"
        );
    };
    add(&["*", "--read", "*"], "");
    add(&["alice", "--read", "*"], "s3cret");
    add(&["ops", "--admin"], "pager");
    let listed = common::run(
        Command::new(user_tool).arg("list").arg(&users),
        Duration::from_secs(10),
    );
    assert!(
        listed
            .stdout_text()
            .lines()
            .any(|l| l.starts_with("ops ") && l.ends_with(" admin")),
        "{}",
        listed.stdout_text()
    );

    let (server, http) = common::binary_with_http(&[
        "--media",
        root.to_str().unwrap(),
        "--users",
        users.to_str().unwrap(),
        "--loop",
    ]);
    let base = format!("http://{http}");

    // Rights and bad input first, on a quiet server.
    for target in ["/metrics", "/api/v1/sessions", "/api/v1/paths"] {
        assert_eq!(
            common::request(http, "GET", target).status,
            401,
            "{target} without credentials"
        );
        assert_eq!(
            common::curl_digest(&format!("{base}{target}"), "alice:s3cret").0,
            403,
            "{target} as alice"
        );
        assert_eq!(
            common::curl_digest(&format!("{base}{target}"), "ops:pager").0,
            200,
            "{target} as ops"
        );
    }
    assert_eq!(common::request(http, "GET", "/api/v1/nothing").status, 404);
    assert_eq!(common::request(http, "GET", "/api/v2/sessions").status, 404);
    assert_eq!(common::request(http, "POST", "/metrics").status, 405);
    assert_eq!(common::request(http, "PUT", "/api/v1/sessions").status, 405);

    // ffmpeg plays over RTSP/UDP and curl watches over HTTP, at once.
    let rtsp_url = format!("rtsp://{}/clip.mjpeg", server.rtsp);
    let ffmpeg = common::spawn(
        Command::new(tool("ffmpeg"))
            .args([
                "-nostdin",
                "-loglevel",
                "error",
                "-rtsp_transport",
                "udp",
                "-i",
            ])
            .arg(&rtsp_url)
            .args(["-f", "null", "-"]),
    );
    let viewer = common::spawn(
        Command::new(tool("curl"))
            .args(["-sS", "-o", "/dev/null", "--max-time", "30"])
            .arg(format!("{base}/watch/clip.mjpeg")),
    );
    let sessions = || -> serde_json::Value {
        let (status, body) = common::curl_digest(&format!("{base}/api/v1/sessions"), "ops:pager");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).expect("/api/v1/sessions is JSON")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let v = loop {
        let v = sessions();
        let playing = v["rtsp"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["state"] == "playing" && s["bytes_out"].as_u64() > Some(0))
        });
        let watching = v["http"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["frames"].as_u64() > Some(0)));
        if playing && watching {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no session and viewer in {v:#}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("/api/v1/sessions: {v}");
    let rtsp = &v["rtsp"].as_array().unwrap();
    assert_eq!(rtsp.len(), 1, "{v:#}");
    assert_eq!(rtsp[0]["transport"], "udp");
    assert_eq!(rtsp[0]["path"], "clip.mjpeg");
    assert!(rtsp[0]["packets_out"].as_u64().unwrap() > 0);
    let http_viewers = v["http"].as_array().unwrap();
    assert_eq!(http_viewers.len(), 1, "{v:#}");
    assert_eq!(http_viewers[0]["path"], "clip.mjpeg");
    assert!(http_viewers[0]["bytes_out"].as_u64().unwrap() > 0);
    let (status, body) = common::curl_digest(&format!("{base}/api/v1/paths"), "ops:pager");
    assert_eq!(status, 200);
    let paths: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let file = &paths["files"][0];
    assert_eq!(file["name"], "clip.mjpeg");
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(file["frames"], 180);
    assert_eq!(file["viewers"], 2, "{paths:#}");

    // Two scrapes a second apart, through a real parser.
    let scrape = || {
        let (status, body) = common::curl_digest(&format!("{base}/metrics"), "ops:pager");
        assert_eq!(status, 200);
        parse_metrics(std::str::from_utf8(&body).expect("UTF-8 metrics"))
    };
    let (first, types) = scrape();
    std::thread::sleep(Duration::from_secs(1));
    let (second, _) = scrape();
    let by_path = [("path", "clip.mjpeg")];
    assert_eq!(
        value(
            &second,
            "hdstream_rtsp_sessions",
            &[("path", "clip.mjpeg"), ("transport", "udp")]
        ),
        Some(1.0),
        "{second:?}"
    );
    assert_eq!(value(&second, "hdstream_http_viewers", &by_path), Some(1.0));
    for name in [
        "hdstream_rtp_octets_sent_total",
        "hdstream_rtp_packets_sent_total",
        "hdstream_http_bytes_sent_total",
        "hdstream_http_frames_sent_total",
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some("counter"),
            "{name}"
        );
        let (a, b) = (
            value(&first, name, &by_path),
            value(&second, name, &by_path),
        );
        eprintln!("{name}{{path=\"clip.mjpeg\"}}: {a:?} then {b:?}");
        assert!(
            a.is_some_and(|a| a > 0.0) && b > a,
            "{name} positive and growing: {a:?} then {b:?}"
        );
    }
    assert_eq!(value(&second, "hdstream_files", &[]), Some(1.0));
    // A second on, the session's bitrate over the last seconds is there.
    let v = sessions();
    eprintln!("/api/v1/sessions later: {v}");
    assert!(v["rtsp"][0]["bitrate"].as_f64().unwrap() > 0.0, "{v:#}");
    drop(viewer);
    drop(ffmpeg);
    drop(server);
}
