//! Faults around the server binary: clients that die or go silent (their sessions are reclaimed,
//! RFC 2326 §12.37, and the server's descriptors come back to where they were), a thousand
//! SETUP/PLAY/TEARDOWN cycles (no residue in descriptors or memory), and a media file truncated
//! before start-up (a clear error naming the file and the byte offset; the other files served).
//!
//! The server runs as a child process so its descriptors (`/proc/<pid>/fd`) and memory
//! (`/proc/<pid>/status`) can be read apart from the test's.

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{REPLY_TIMEOUT, Rtsp, client_ports, recv_until, session_id, udp_pair};
use common::{ServerProcess, fd_count, status_kib, wait_fds_at_most};

/// Set in the environment of this test binary re-executed as the client to be killed.
const CHILD: &str = "HDSTREAM_FAULTS_CLIENT";
/// The test that re-executes itself as that client.
const KILLED_TEST: &str = "faults::a_client_killed_mid_stream_loses_its_session_at_once";

/// 3 s of 640x360 at 30 fps, played in a loop.
fn clip() -> PathBuf {
    common::pattern_clip(640, 360, 90, 75)
}

/// A media root holding the clip as `clip.mjpeg`, and the server binary serving it in a loop.
fn serve(name: &str, session_timeout: u64) -> (ServerProcess, String) {
    let root = common::media_root(name, &[("clip.mjpeg", &clip())]);
    let timeout = session_timeout.to_string();
    let server = ServerProcess::start(&[
        "--media",
        root.to_str().expect("UTF-8 path"),
        "--loop",
        "--session-timeout",
        &timeout,
    ]);
    let url = format!("rtsp://{}/clip.mjpeg", server.rtsp);
    (server, url)
}

/// SETUP (UDP to `rtp`'s pair) and PLAY of `url` on `c`; the session id.
fn play(c: &mut Rtsp, url: &str, rtp: &UdpSocket) -> String {
    let reply = c.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[("Transport", &client_ports(rtp))],
    );
    assert_eq!(reply.status.as_u16(), 200, "SETUP");
    let id = session_id(&reply);
    let reply = c.request("PLAY", url, &[("Session", &id)]);
    assert_eq!(reply.status.as_u16(), 200, "PLAY");
    id
}

/// Receives until `socket` has been quiet for `quiet`; false if it never was before `deadline`.
fn goes_quiet(socket: &UdpSocket, quiet: Duration, deadline: Instant) -> bool {
    let mut buf = vec![0u8; 65536];
    while Instant::now() < deadline {
        if recv_until(socket, &mut buf, Instant::now() + quiet).is_none() {
            return true;
        }
    }
    false
}

/// The server's descriptors once it has settled (polled until two readings 100 ms apart agree).
fn settled_fds(pid: u32) -> usize {
    let mut last = fd_count(pid);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let now = fd_count(pid);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The client to be killed (this test binary re-executed with [`CHILD`] set to
/// `<rtsp url> <client RTP port>`): SETUP and PLAY, report the session on stdout, then wait to
/// be killed (at most a minute).
fn killed_client(spec: &str) {
    let mut words = spec.split_whitespace();
    let (Some(url), Some(port)) = (words.next(), words.next()) else {
        panic!("bad {CHILD} spec {spec:?}");
    };
    let addr = url
        .strip_prefix("rtsp://")
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .expect("address in the URL");
    let port: u16 = port.parse().expect("client port");
    let mut c = Rtsp::connect(addr);
    let reply = c.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[(
            "Transport",
            &format!("RTP/AVP;unicast;client_port={port}-{}", port + 1),
        )],
    );
    assert_eq!(reply.status.as_u16(), 200, "child SETUP");
    let id = session_id(&reply);
    let reply = c.request("PLAY", url, &[("Session", &id)]);
    assert_eq!(reply.status.as_u16(), 200, "child PLAY");
    println!("PLAYING {id}");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_client_killed_mid_stream_loses_its_session_at_once() {
    if let Ok(spec) = std::env::var(CHILD) {
        killed_client(&spec);
        return;
    }
    // A timeout far longer than the test: only the closed connection can end the session.
    let (server, url) = serve("faults-kill", 60);
    let pid = server.pid();
    let base = settled_fds(pid);
    // The client's RTP goes to sockets of this process, so the stream can be watched after the
    // client is gone.
    let (rtp, _rtcp) = udp_pair();
    let port = rtp.local_addr().expect("local addr").port();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", KILLED_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD, format!("{url} {port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client"),
    );
    let stderr = child.0.stderr.take().expect("child stderr");
    let child_log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().expect("child stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may have begun the line with the test's name.
            if let Some((_, id)) = line.split_once("PLAYING ") {
                let _ = tx.send(id.trim().to_owned());
            }
        }
    });
    let id = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(id) => id,
        Err(_) => {
            drop(child);
            panic!(
                "the client never played; its stderr:\n{}\nserver log:\n{}",
                child_log.join().unwrap_or_default(),
                server.log_text()
            )
        }
    };
    let mut buf = vec![0u8; 65536];
    assert!(
        recv_until(&rtp, &mut buf, Instant::now() + REPLY_TIMEOUT).is_some(),
        "RTP flows to the client's port"
    );
    let playing = wait_fds_at_least(pid, base + 1, Instant::now() + REPLY_TIMEOUT);
    assert_eq!(
        playing,
        base + 1,
        "one descriptor more: the client's connection"
    );

    child.0.kill().expect("SIGKILL the client");
    let _ = child.0.wait();
    let killed = Instant::now();

    let ended = server
        .wait_log(killed + Duration::from_secs(5), |l| {
            l.contains("session ended") && l.contains(&id)
        })
        .unwrap_or_else(|| {
            panic!(
                "session {id} not ended 5 s after its client died; log:\n{}",
                server.log_text()
            )
        });
    assert!(
        ended.contains("disconnect"),
        "ended by the closed connection: {ended}"
    );
    assert!(
        goes_quiet(
            &rtp,
            Duration::from_millis(500),
            killed + Duration::from_secs(5)
        ),
        "RTP still flows after the client died"
    );
    let left = wait_fds_at_most(pid, base, Instant::now() + Duration::from_secs(5));
    eprintln!("killed client: server fds {base} before, {playing} playing, {left} after");
    assert_eq!(
        left, base,
        "the server's descriptors are back to the baseline"
    );
    assert!(server.stop().success(), "the server exits cleanly");
}

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls until process `pid` has at least `target` descriptors or `deadline` passes.
fn wait_fds_at_least(pid: u32, target: usize, deadline: Instant) -> usize {
    loop {
        let n = fd_count(pid);
        if n >= target || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_silent_udp_client_is_reclaimed_after_the_session_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let (server, url) = serve("faults-silent", TIMEOUT.as_secs());
    let pid = server.pid();
    let base = settled_fds(pid);
    let (rtp, rtcp) = udp_pair();
    let mut c = Rtsp::connect(server.rtsp);
    let id = play(&mut c, &url, &rtp);
    let played = Instant::now();
    // Silence from here: no request, no RTCP; the connection stays open.
    assert!(
        common::wait_for_bye(&rtcp, played + TIMEOUT * 3),
        "RTCP BYE when the session times out"
    );
    let bye = played.elapsed();
    assert!(
        bye >= TIMEOUT - Duration::from_millis(200),
        "the session ended after {bye:?}, before its {TIMEOUT:?} timeout"
    );
    let ended = server
        .wait_log(Instant::now() + REPLY_TIMEOUT, |l| {
            l.contains("session ended") && l.contains(&id)
        })
        .expect("the session's end is logged");
    assert!(ended.contains("timeout"), "ended by the timeout: {ended}");
    assert!(
        goes_quiet(
            &rtp,
            Duration::from_millis(500),
            Instant::now() + REPLY_TIMEOUT
        ),
        "RTP still flows after the timeout"
    );
    // The session is gone; the connection still serves.
    let reply = c.request("PLAY", &url, &[("Session", &id)]);
    assert_eq!(
        reply.status.as_u16(),
        454,
        "the reclaimed session is unknown"
    );
    assert_eq!(c.request("OPTIONS", "*", &[]).status.as_u16(), 200);
    assert_eq!(
        fd_count(pid),
        base + 1,
        "the open connection holds one descriptor"
    );
    drop(c);
    let left = wait_fds_at_most(pid, base, Instant::now() + Duration::from_secs(5));
    eprintln!("silent client: session ended {bye:?} after PLAY; server fds {base} -> {left}");
    assert_eq!(
        left, base,
        "the server's descriptors are back to the baseline"
    );
    assert!(server.stop().success(), "the server exits cleanly");
}

/// SETUP, PLAY and TEARDOWN once on `c`: over UDP to `rtp`'s pair, or interleaved.
fn cycle(c: &mut Rtsp, url: &str, rtp: &UdpSocket, interleaved: bool) {
    let transport = if interleaved {
        "RTP/AVP/TCP;unicast;interleaved=0-1".to_owned()
    } else {
        client_ports(rtp)
    };
    let reply = c.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[("Transport", &transport)],
    );
    assert_eq!(reply.status.as_u16(), 200, "SETUP");
    let id = session_id(&reply);
    assert_eq!(
        c.request("PLAY", url, &[("Session", &id)]).status.as_u16(),
        200,
        "PLAY"
    );
    assert_eq!(
        c.request("TEARDOWN", url, &[("Session", &id)])
            .status
            .as_u16(),
        200,
        "TEARDOWN"
    );
    c.data.clear();
}

#[test]
fn a_thousand_setup_play_teardown_cycles_leave_no_residue() {
    const CYCLES: usize = 1000;
    /// A new connection every this many cycles; every fourth cycle is interleaved.
    const PER_CONNECTION: usize = 10;
    let (server, url) = serve("faults-cycles", 60);
    let pid = server.pid();
    let (rtp, _rtcp) = udp_pair();
    // Warm up (allocator pools, the mapped file's pages), then take the baseline.
    let mut c = Rtsp::connect(server.rtsp);
    for i in 0..50 {
        cycle(&mut c, &url, &rtp, i % 4 == 3);
    }
    drop(c);
    let fds_before = settled_fds(pid);
    let rss_before = status_kib(pid, "VmRSS");
    let anon_before = status_kib(pid, "RssAnon");

    let started = Instant::now();
    let mut c = Rtsp::connect(server.rtsp);
    for i in 0..CYCLES {
        if i > 0 && i % PER_CONNECTION == 0 {
            c = Rtsp::connect(server.rtsp);
        }
        cycle(&mut c, &url, &rtp, i % 4 == 3);
    }
    drop(c);
    let took = started.elapsed();
    let fds_after = wait_fds_at_most(pid, fds_before, Instant::now() + Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = status_kib(pid, "VmRSS");
    let anon_after = status_kib(pid, "RssAnon");
    eprintln!(
        "{CYCLES} cycles in {took:?}: server fds {fds_before} -> {fds_after}, VmRSS {rss_before} \
         -> {rss_after} KiB, RssAnon {anon_before} -> {anon_after} KiB"
    );
    let ended = server.log_text().matches("session ended").count();
    assert!(
        ended >= CYCLES + 50,
        "{ended} sessions ended of {} set up",
        CYCLES + 50
    );
    assert_eq!(fds_after, fds_before, "descriptors back to the baseline");
    assert!(
        rss_after.saturating_sub(rss_before) < 4 * 1024,
        "VmRSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert!(
        anon_after.saturating_sub(anon_before) < 4 * 1024,
        "anonymous memory grew from {anon_before} KiB to {anon_after} KiB"
    );
    assert!(server.stop().success(), "the server exits cleanly");
}

#[test]
fn a_truncated_media_file_is_reported_and_the_others_are_served() {
    let good = clip();
    let bytes = std::fs::read(&good).expect("read the clip");
    let file = hdstream_video::MjpegFile::open(&good).expect("index the clip");
    // Cut in the middle of frame 40: the file ends inside that frame.
    let frame = file.info(40).expect("frame 40");
    let cut = frame.offset + frame.len / 2;
    let root = common::media_root("faults-truncated", &[("good.mjpeg", &good)]);
    std::fs::write(root.join("truncated.mjpeg"), &bytes[..cut]).expect("write the cut file");

    let server = ServerProcess::start(&["--media", root.to_str().expect("UTF-8 path")]);
    let line = server
        .wait_log(Instant::now() + REPLY_TIMEOUT, |l| {
            l.contains("truncated.mjpeg") && l.contains("not served")
        })
        .unwrap_or_else(|| {
            panic!(
                "no error about truncated.mjpeg; log:\n{}",
                server.log_text()
            )
        });
    assert!(
        line.contains(&format!("byte {}", frame.offset)),
        "the error names the byte offset {} of the cut frame: {line}",
        frame.offset
    );
    assert!(
        line.contains("WARN") || line.contains("ERROR"),
        "logged as a problem: {line}"
    );

    let mut c = Rtsp::connect(server.rtsp);
    let base = format!("rtsp://{}", server.rtsp);
    let reply = c.request("DESCRIBE", &format!("{base}/truncated.mjpeg"), &[]);
    assert_eq!(
        reply.status.as_u16(),
        404,
        "the truncated file is not served"
    );
    let reply = c.request("DESCRIBE", &format!("{base}/good.mjpeg"), &[]);
    assert_eq!(reply.status.as_u16(), 200, "the good file is described");
    let (rtp, _rtcp) = udp_pair();
    let id = play(&mut c, &format!("{base}/good.mjpeg"), &rtp);
    let mut buf = vec![0u8; 65536];
    assert!(
        recv_until(&rtp, &mut buf, Instant::now() + REPLY_TIMEOUT).is_some(),
        "the good file plays"
    );
    let reply = c.request(
        "TEARDOWN",
        &format!("{base}/good.mjpeg"),
        &[("Session", &id)],
    );
    assert_eq!(reply.status.as_u16(), 200);
    eprintln!("truncated file: {line}");
    assert!(server.stop().success(), "the server exits cleanly");
}
