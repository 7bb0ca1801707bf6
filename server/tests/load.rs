//! 50 concurrent UDP sessions of a 10 s 1080p30 file from one server process on loopback:
//! every packet of every session arrives (from the sequence number the PLAY reply announced to
//! the last), every frame is sent (a stalled machine may make the server skip a few, by
//! design; they are counted and bounded), every session ends with BYE. The server's CPU time is printed
//! (`cargo nextest run -p hdstream-server --no-capture -E "test(/^load::/)"`).

use crate::common;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Clip, UdpPlay, setup_and_play_udp};
use hdstream_common::rtp;

const SESSIONS: usize = 50;
const RECEIVER_THREADS: usize = 2;
/// 10 s of 1920x1080 at 30 fps.
const FULL_HD: Clip = Clip::new(1920, 1080, 10);
/// RTP timestamp ticks per frame (90 kHz / 30 fps).
const FRAME_TICKS: u32 = 3000;
/// Frames a session may miss because the server skipped them: a machine shared with other
/// work can stall the server's thread (over 100 ms seen while compilers ran), and a stream
/// more than `sender::MAX_LAG` behind skips, by design. Packets, on the other hand, must all
/// arrive.
const MAX_SKIPPED: u32 = 10;

/// What one session received.
#[derive(Debug, Clone)]
struct Tally {
    /// Extended sequence number of the first packet (from the PLAY reply's `RTP-Info`).
    first: u64,
    /// Highest extended sequence number received.
    last: u64,
    packets: u64,
    frames: u32,
    bye: bool,
    /// The newest RTP timestamp.
    timestamp: u32,
    /// Frames the server skipped (RTP timestamps that jump by more than one frame interval).
    skipped: u32,
}

impl Tally {
    /// Nothing received yet of a stream whose first packet carries `seq` and `rtptime`.
    fn new(seq: u16, rtptime: u32) -> Tally {
        let first = u64::from(seq) + (1 << 16);
        Tally {
            first,
            last: first - 1,
            packets: 0,
            frames: 0,
            bye: false,
            timestamp: rtptime.wrapping_sub(FRAME_TICKS),
            skipped: 0,
        }
    }

    /// Counts one RTP packet; sequence numbers are extended next to the highest seen
    /// (RFC 3550 Appendix A.1).
    fn count(&mut self, p: &rtp::Packet<'_>) {
        let delta = p.sequence_number().wrapping_sub(self.last as u16) as i16;
        self.last = self.last.max((self.last as i64 + i64::from(delta)) as u64);
        self.packets += 1;
        self.frames += u32::from(p.marker());
        let step = p.timestamp().wrapping_sub(self.timestamp);
        if step > 0 && step < 1 << 31 {
            self.skipped += (step + FRAME_TICKS / 2) / FRAME_TICKS - 1;
            self.timestamp = p.timestamp();
        }
    }

    /// Packets the sequence numbers say were sent.
    fn expected(&self) -> u64 {
        self.last + 1 - self.first
    }
}

/// One session's sockets and the first sequence number and timestamp its PLAY reply announced.
type Receiver = (UdpSocket, UdpSocket, u16, u32);

/// Receives for `sessions` (RTP, RTCP socket pairs) until each has had its BYE or `deadline`.
/// Each pass drains every socket and then sleeps a few milliseconds (the sockets' large
/// buffers hold over a second of the stream), so the receivers wake a few hundred times a
/// second, not once per packet, and leave the CPU to the server.
fn receive(sessions: Vec<Receiver>, deadline: Instant) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = sessions.iter().map(|s| Tally::new(s.2, s.3)).collect();
    for (rtp, rtcp, ..) in &sessions {
        rtp.set_nonblocking(true).expect("nonblocking");
        rtcp.set_nonblocking(true).expect("nonblocking");
    }
    let mut buf = vec![0u8; 65536];
    while tallies.iter().any(|t| !t.bye) && Instant::now() < deadline {
        for ((rtp_socket, rtcp_socket, ..), tally) in sessions.iter().zip(&mut tallies) {
            while let Ok(n) = rtp_socket.recv(&mut buf) {
                if let Ok(p) = rtp::Packet::parse(&buf[..n]) {
                    tally.count(&p);
                }
            }
            while let Ok(n) = rtcp_socket.recv(&mut buf) {
                tally.bye |= common::is_bye(&buf[..n]);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    tallies
}

#[test]
fn fifty_sessions_of_1080p_lose_nothing() {
    let root = common::media_root("load", &[("f.mjpeg", &FULL_HD.path())]);
    let (server, addr) = common::server_binary(&["--media", root.to_str().expect("UTF-8 path")]);
    let url = format!("rtsp://{addr}/f.mjpeg");

    let mut connections = Vec::new();
    let mut groups: Vec<Vec<Receiver>> = (0..RECEIVER_THREADS).map(|_| Vec::new()).collect();
    let mut ids = HashSet::new();
    let cpu_before = common::cpu_time(server.pid());
    let started = Instant::now();
    for i in 0..SESSIONS {
        let UdpPlay {
            rtsp,
            id,
            rtp,
            rtcp,
            seq,
            rtptime,
        } = setup_and_play_udp(addr, &url, &i.to_string());
        assert!(ids.insert(id), "session ids are unique");
        groups[i % RECEIVER_THREADS].push((rtp, rtcp, seq, rtptime));
        connections.push(rtsp);
    }
    let setup_time = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(25);
    let threads: Vec<_> = groups
        .into_iter()
        .map(|g| std::thread::spawn(move || receive(g, deadline)))
        .collect();
    let tallies: Vec<Tally> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("receiver thread"))
        .collect();
    let wall = started.elapsed();
    let cpu = common::cpu_time(server.pid()) - cpu_before;

    let expected: u64 = tallies.iter().map(Tally::expected).sum();
    let received: u64 = tallies.iter().map(|t| t.packets).sum();
    let frames: u64 = tallies.iter().map(|t| u64::from(t.frames)).sum();
    let skipped: u64 = tallies.iter().map(|t| u64::from(t.skipped)).sum();
    println!(
        "load: {SESSIONS} sessions of 1920x1080@30, 10 s: packets expected {expected}, received {received}; \
         frames {frames} of {} ({skipped} skipped by the server); server CPU {:.2} s over {:.1} s wall ({:.0}% of one core); setup of all sessions {:.0} ms",
        SESSIONS as u64 * u64::from(FULL_HD.frames),
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        setup_time.as_secs_f64() * 1e3,
    );
    // A clean stop under load; the server's log tells what it skipped, if anything.
    drop(connections);
    common::interrupt(server.pid());
    let done = server.wait(Duration::from_secs(10));
    assert!(
        done.status.success(),
        "server exits 0 on SIGINT: {:?}",
        done.status
    );
    let skips: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("session ended") && !l.contains("skipped=0"))
        .collect();
    for (i, t) in tallies.iter().enumerate() {
        assert!(t.packets > 0, "session {i} received nothing");
        assert_eq!(
            t.packets,
            t.expected(),
            "session {i}: packets received vs sequence number span"
        );
        assert!(
            t.frames + t.skipped == FULL_HD.frames && t.skipped <= MAX_SKIPPED,
            "session {i}: {} frames received, {} skipped by the server (at most {MAX_SKIPPED} \
             allowed), of {}; sessions that skipped:\n{}",
            t.frames,
            t.skipped,
            FULL_HD.frames,
            skips.join("\n")
        );
        assert!(t.bye, "session {i}: RTCP BYE at the end");
    }
}
