//! Media files that change while they are served (issue: `cp new.mjpeg media/clip.mjpeg` used
//! to kill the server with SIGBUS). Files are held under a read lease: a process that truncates
//! or rewrites one waits until the server has ended the sessions playing it (RTCP BYE) and let
//! go; a deleted or renamed-over file goes on playing for the sessions that have it. Sessions on
//! other files lose nothing, and a new DESCRIBE sees the file as it now is.
//!
//! The changes are made by child processes (`cp`, `dd conv=notrunc`, `rm`, `mv`), as a user
//! would make them.

use crate::common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Rtsp, UdpPlay, is_bye, media_root, recv_until, serve, setup_and_play_udp, url};
use hdstream_common::rtp;
use hdstream_server::core::Config;
use hdstream_video::pattern;

/// Changes made to the served file, one per cycle, in turn.
const CYCLES: usize = 100;
/// Sessions playing the changed file during each change, and the other file all along.
const SESSIONS: usize = 10;

/// A plain MJPEG file of `frames` small pattern frames, starting at pattern frame `first`.
fn clip(frames: u64, first: u64) -> Vec<u8> {
    let mut p = pattern::Pattern::new(320, 180);
    let mut out = Vec::new();
    let mut jpeg = Vec::new();
    for n in first..first + frames {
        p.encode(n, 60, &mut jpeg).unwrap();
        out.extend_from_slice(&jpeg);
    }
    out
}

/// `sh -c script` with the media root as its working directory; panics unless it succeeds
/// within 20 s (the kernel breaks a lease by force after 45 s: a server that never let go
/// would show here).
fn sh(root: &Path, script: &str) {
    let done = common::run(
        Command::new("sh").arg("-c").arg(script).current_dir(root),
        Duration::from_secs(20),
    );
    assert!(done.status.success(), "{script}: {}", done.stderr);
}

/// The `a=range:npt=0-…` end a DESCRIBE of `name` gives, or its status when not 200.
fn described(addr: std::net::SocketAddr, root_url: &str, name: &str) -> Result<f64, u16> {
    let mut rtsp = Rtsp::connect(addr);
    let reply = rtsp.request(
        "DESCRIBE",
        &format!("{root_url}/{name}"),
        &[("Accept", "application/sdp")],
    );
    if reply.status.as_u16() != 200 {
        return Err(reply.status.as_u16());
    }
    let body = String::from_utf8_lossy(&reply.body).into_owned();
    let range = body
        .lines()
        .find_map(|l| l.strip_prefix("a=range:npt=0-"))
        .expect("a=range in the SDP");
    Ok(range.trim().parse().expect("a number"))
}

/// Whether `play` receives an RTCP BYE within `wait`.
fn says_bye(play: &UdpPlay, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while let Some(n) = recv_until(&play.rtcp, &mut buf, deadline) {
        if is_bye(&buf[..n]) {
            return true;
        }
    }
    false
}

/// Whether `play` still receives RTP within `wait`.
fn still_plays(play: &UdpPlay, wait: Duration) -> bool {
    let mut buf = [0u8; 2048];
    // Drop what is queued, then wait for a fresh packet.
    play.rtp.set_nonblocking(true).unwrap();
    while play.rtp.recv(&mut buf).is_ok() {}
    play.rtp.set_nonblocking(false).unwrap();
    recv_until(&play.rtp, &mut buf, Instant::now() + wait).is_some()
}

/// Receives one session's RTP until `stop`: answers (packets, sequence gaps, BYE seen).
fn count(rtp: UdpSocket, rtcp: UdpSocket, stop: Arc<AtomicBool>) -> (u64, u64, bool) {
    rtcp.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let (mut packets, mut gaps, mut last, mut bye) = (0u64, 0u64, None::<u16>, false);
    while !stop.load(Ordering::SeqCst) {
        if let Some(n) = recv_until(&rtp, &mut buf, Instant::now() + Duration::from_millis(50))
            && let Ok(packet) = rtp::Packet::parse(&buf[..n])
        {
            let seq = packet.sequence_number();
            if last.is_some_and(|l| seq != l.wrapping_add(1)) {
                gaps += 1;
            }
            last = Some(seq);
            packets += 1;
        }
        while let Ok(n) = rtcp.recv(&mut buf) {
            bye |= is_bye(&buf[..n]);
        }
    }
    (packets, gaps, bye)
}

#[test]
fn changing_a_served_file_ends_its_sessions_cleanly_and_harms_no_other() {
    let long = clip(900, 0); // 30 s at 30 fps: plays throughout
    let first = clip(120, 0); // 4 s
    let second = clip(90, 500); // 3 s, other pictures
    let source = std::env::temp_dir().join(format!("hdstream-change-src-{}", std::process::id()));
    std::fs::create_dir_all(&source).unwrap();
    for (name, bytes) in [("long", &long), ("first", &first), ("second", &second)] {
        std::fs::write(source.join(format!("{name}.mjpeg")), bytes).unwrap();
    }
    let root = media_root("files-change", &[]);
    std::fs::copy(source.join("long.mjpeg"), root.join("other.mjpeg")).unwrap();
    std::fs::copy(source.join("first.mjpeg"), root.join("clip.mjpeg")).unwrap();
    let handle = serve(&root, Config::default());
    let addr = handle.rtsp;
    let base = url(&handle, "");
    let base = base.trim_end_matches('/');

    // Ten sessions on the other file, counting every packet all along.
    let stop = Arc::new(AtomicBool::new(false));
    let others: Vec<_> = (0..SESSIONS)
        .map(|i| {
            let play = setup_and_play_udp(addr, &url(&handle, "other.mjpeg"), "other file");
            let stop = Arc::clone(&stop);
            let (rtp, rtcp) = (play.rtp, play.rtcp);
            let thread = std::thread::Builder::new()
                .name(format!("other-{i}"))
                .spawn(move || count(rtp, rtcp, stop))
                .unwrap();
            (play.rtsp, thread)
        })
        .collect();

    let mut ended = 0;
    for cycle in 0..CYCLES {
        // The file alternates between the two clips; `dd` always writes the longer one, so
        // that writing in place leaves no tail of the one before.
        let (next, seconds) = if cycle % 2 == 0 {
            ("second.mjpeg", 3.0)
        } else {
            ("first.mjpeg", 4.0)
        };
        let plays: Vec<UdpPlay> = (0..SESSIONS)
            .map(|_| setup_and_play_udp(addr, &url(&handle, "clip.mjpeg"), "changed file"))
            .collect();
        let src = source.join(next);
        let src = src.display();
        // Truncate and write (cp), rewrite in place (no truncation), delete and write anew,
        // rename a new file over it.
        let (script, lease_broken) = match cycle % 4 {
            0 => (format!("cp {src} clip.mjpeg"), true),
            1 => (
                format!("dd if={src} of=clip.mjpeg conv=notrunc status=none"),
                true,
            ),
            2 => (format!("rm clip.mjpeg && cp {src} clip.mjpeg"), false),
            _ => (
                format!("cp {src} .clip.tmp && mv .clip.tmp clip.mjpeg"),
                false,
            ),
        };
        sh(&root, &script);
        for play in &plays {
            if lease_broken {
                assert!(
                    says_bye(play, Duration::from_secs(3)),
                    "cycle {cycle} ({script}): a session on the changed file ends with BYE"
                );
                ended += 1;
            } else {
                assert!(
                    still_plays(play, Duration::from_secs(2)),
                    "cycle {cycle} ({script}): the old file plays on for its sessions"
                );
            }
        }
        drop(plays);
        // A new DESCRIBE sees the file as it now is.
        assert_eq!(
            described(addr, base, "clip.mjpeg"),
            Ok(seconds),
            "cycle {cycle} ({script})"
        );
    }
    assert_eq!(ended, CYCLES / 2 * SESSIONS);
    // Deleted: no longer offered.
    sh(&root, "rm clip.mjpeg");
    assert_eq!(described(addr, base, "clip.mjpeg"), Err(404));
    sh(
        &root,
        &format!("cp {} clip.mjpeg", source.join("first.mjpeg").display()),
    );
    assert_eq!(
        described(addr, base, "clip.mjpeg"),
        Ok(4.0),
        "and offered again"
    );

    stop.store(true, Ordering::SeqCst);
    for (i, (_rtsp, thread)) in others.into_iter().enumerate() {
        let (packets, gaps, bye) = thread.join().unwrap();
        assert!(packets > 1000, "other session {i}: {packets} packets");
        assert_eq!(
            (gaps, bye),
            (0, false),
            "other session {i}: every packet, no BYE"
        );
    }
    handle
        .stop()
        .expect("the server is still up and stops cleanly");
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir_all(&root);
}

/// A file added while another plays (issue 22: opened on a thread of the driver's, not on the
/// loop): the DESCRIBE is answered with the new file, one that cannot be opened with 404, and
/// the session playing all along keeps receiving.
#[test]
fn a_new_file_is_opened_beside_the_loop_and_described() {
    let root = media_root("files-new", &[]);
    std::fs::write(root.join("other.mjpeg"), clip(300, 0)).unwrap();
    let handle = serve(&root, Config::default());
    let addr = handle.rtsp;
    let base = url(&handle, "");
    let base = base.trim_end_matches('/');
    let play = setup_and_play_udp(addr, &url(&handle, "other.mjpeg"), "other file");
    std::fs::write(root.join(".new.tmp"), clip(150, 0)).unwrap();
    std::fs::rename(root.join(".new.tmp"), root.join("new.mjpeg")).unwrap();
    std::fs::write(root.join("bad.mjpeg"), b"not a JPEG").unwrap();
    assert_eq!(described(addr, base, "new.mjpeg"), Ok(5.0));
    assert_eq!(described(addr, base, "bad.mjpeg"), Err(404));
    assert_eq!(described(addr, base, "new.mjpeg"), Ok(5.0), "and again");
    assert!(still_plays(&play, Duration::from_secs(2)));
    drop(play);
    handle
        .stop()
        .expect("the server is still up and stops cleanly");
    let _ = std::fs::remove_dir_all(&root);
}
