//! Batched UDP sending (`sendmmsg`, UDP GSO) as receivers see it: eight sessions of a 1440p30
//! file on loopback, with segmentation offload (the default) and without it
//! (`HDSTREAM_NO_GSO=1`, the server binary). Every receiver must get every RTP packet, in
//! order, each the size it was sent: sequence numbers without a gap, RFC 2435 fragment
//! offsets (RFC 2435 §3.1.2) that meet end to end, every fragment of a frame but the last of
//! one size, and the reassembled scan data byte for byte the file's. Then BYE.

use crate::common;

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, UdpPlay, setup_and_play_udp};
use hdstream_common::rfc2435::header::Payload;
use hdstream_common::rtp;
use hdstream_server::core::Config;
use hdstream_server::driver::NO_GSO_ENV;

/// 3 s of 2560x1440 at 30 fps: about 125 packets per frame.
const QHD: Clip = Clip::new(2560, 1440, 3);
const SESSIONS: usize = 8;
/// RTP timestamp ticks per frame (90 kHz / 30 fps).
const FRAME_TICKS: u32 = 3000;
/// Frames the server may skip on a stalled machine (by design; see `sender::MAX_LAG`).
/// Packets, on the other hand, must all arrive.
const MAX_SKIPPED: u32 = 10;

/// What one receiver checked.
#[derive(Debug)]
struct Receiver {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    /// The next sequence number due.
    next_seq: u16,
    /// The RTP timestamp of the first frame (from `RTP-Info`).
    first_ts: u32,
    packets: u64,
    /// The frame being reassembled: its timestamp, scan data so far, its packets' sizes.
    frame: Option<(u32, Vec<u8>, Vec<usize>)>,
    frames: u32,
    /// Frame numbers seen, to count what the server skipped.
    last_frame: Option<u32>,
    skipped: u32,
    bye: bool,
    /// The first few things that went wrong.
    faults: Vec<String>,
}

impl Receiver {
    fn fault(&mut self, what: String) {
        if self.faults.len() < 5 {
            self.faults.push(what);
        }
    }

    /// Checks one RTP packet against the file's frames.
    fn packet(&mut self, bytes: &[u8], scans: &[Vec<u8>]) {
        let Ok(p) = rtp::Packet::parse(bytes) else {
            return self.fault(format!("not RTP: {} bytes", bytes.len()));
        };
        self.packets += 1;
        let seq = p.sequence_number();
        if seq != self.next_seq {
            self.fault(format!("sequence number {seq}, {} due", self.next_seq));
        }
        self.next_seq = seq.wrapping_add(1);
        let Ok(payload) = Payload::parse(p.payload()) else {
            return self.fault(format!("seq {seq}: not an RFC 2435 payload"));
        };
        let offset = payload.main.fragment_offset as usize;
        let ts = p.timestamp();
        if offset == 0 {
            if let Some((t, data, _)) = self.frame.take() {
                self.fault(format!(
                    "frame {t} ended without its marker after {} bytes",
                    data.len()
                ));
            }
            self.frame = Some((ts, Vec::new(), Vec::new()));
        }
        let Some((frame_ts, data, sizes)) = self.frame.as_mut() else {
            return self.fault(format!("seq {seq}: fragment at {offset} of no frame"));
        };
        if *frame_ts != ts || data.len() != offset {
            let what = format!(
                "seq {seq}: fragment at {offset} of timestamp {ts}, {} bytes of {} due",
                data.len(),
                *frame_ts
            );
            self.frame = None;
            return self.fault(what);
        }
        data.extend_from_slice(payload.data);
        sizes.push(bytes.len());
        if !p.marker() {
            return;
        }
        let Some((ts, data, sizes)) = self.frame.take() else {
            return;
        };
        let number = ts.wrapping_sub(self.first_ts) / FRAME_TICKS;
        let index = number as usize % scans.len();
        if data != scans[index] {
            self.fault(format!(
                "frame {number}: scan data differs from the file's frame {index}"
            ));
        }
        if let Some((last, rest)) = sizes.split_last()
            && rest.iter().any(|&s| s != sizes[0] || *last > sizes[0])
        {
            self.fault(format!(
                "frame {number}: fragment sizes {sizes:?} are not all one size but a shorter last"
            ));
        }
        self.frames += 1;
        let step = number.wrapping_sub(self.last_frame.map_or(u32::MAX, |l| l));
        self.skipped += step.saturating_sub(1);
        self.last_frame = Some(number);
    }
}

/// Sets up and plays `SESSIONS` sessions of `url` over UDP.
fn play(addr: SocketAddr, url: &str) -> (Vec<Rtsp>, Vec<Receiver>) {
    let mut connections = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..SESSIONS {
        let UdpPlay {
            rtsp,
            rtp,
            rtcp,
            seq,
            rtptime,
            ..
        } = setup_and_play_udp(addr, url, &i.to_string());
        rtp.set_nonblocking(true).expect("nonblocking");
        rtcp.set_nonblocking(true).expect("nonblocking");
        receivers.push(Receiver {
            rtp,
            rtcp,
            next_seq: seq,
            first_ts: rtptime,
            packets: 0,
            frame: None,
            frames: 0,
            last_frame: None,
            skipped: 0,
            bye: false,
            faults: Vec::new(),
        });
        connections.push(rtsp);
    }
    (connections, receivers)
}

/// Receives until every session has had its BYE (or a deadline), then checks each.
fn receive_and_check(receivers: &mut [Receiver], scans: &[Vec<u8>], label: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 65536];
    while receivers.iter().any(|r| !r.bye) && Instant::now() < deadline {
        for r in receivers.iter_mut() {
            while let Ok(n) = r.rtp.recv(&mut buf) {
                r.packet(&buf[..n], scans);
            }
            while let Ok(n) = r.rtcp.recv(&mut buf) {
                r.bye |= common::is_bye(&buf[..n]);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Anything that arrived with the BYE.
    for r in receivers.iter_mut() {
        while let Ok(n) = r.rtp.recv(&mut buf) {
            r.packet(&buf[..n], scans);
        }
    }
    let packets: u64 = receivers.iter().map(|r| r.packets).sum();
    println!("batching ({label}): {SESSIONS} sessions, {packets} packets checked");
    for (i, r) in receivers.iter().enumerate() {
        assert!(r.faults.is_empty(), "{label}, session {i}: {:?}", r.faults);
        assert!(r.frame.is_none(), "{label}, session {i}: a frame left open");
        assert!(
            r.frames + r.skipped == QHD.frames && r.skipped <= MAX_SKIPPED,
            "{label}, session {i}: {} frames whole, {} skipped by the server, of {}",
            r.frames,
            r.skipped,
            QHD.frames
        );
        assert!(r.bye, "{label}, session {i}: RTCP BYE at the end");
    }
}

/// The scan data of every frame of `QHD`, as the packetizer cuts it.
fn scans() -> Vec<Vec<u8>> {
    let file = hdstream_video::MjpegFile::open(QHD.path()).expect("index test media");
    (0..file.len())
        .map(|i| file.rfc2435_frame(i).expect("RFC 2435-ready").scan.to_vec())
        .collect()
}

#[test]
fn every_receiver_gets_every_datagram_in_order_with_gso() {
    let root = common::media_root("batching-gso", &[("f.mjpeg", &QHD.path())]);
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let scans = scans();
    let (_connections, mut receivers) = play(server.rtsp, &url);
    receive_and_check(&mut receivers, &scans, "GSO as the kernel offers it");
    server.stop().expect("server stops cleanly");
}

#[test]
fn every_receiver_gets_every_datagram_in_order_without_gso() {
    let root = common::media_root("batching-nogso", &[("f.mjpeg", &QHD.path())]);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hdstream-server"));
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--media",
    ])
    .arg(&root)
    .env(NO_GSO_ENV, "1")
    .env("RUST_LOG", "info,hdstream_server::driver=debug");
    let server = common::spawn(&mut cmd);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listening = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < listening,
            "server never listened on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("rtsp://{addr}/f.mjpeg");
    let scans = scans();
    let (connections, mut receivers) = play(addr, &url);
    receive_and_check(&mut receivers, &scans, "HDSTREAM_NO_GSO=1");
    drop(connections);
    common::interrupt(server.pid());
    let done = server.wait(Duration::from_secs(10));
    assert!(done.status.success(), "exit on SIGINT: {:?}", done.status);
    assert!(
        done.stderr.contains("gso=false") && done.stderr.contains("disabled=true"),
        "the server sent without GSO: {}",
        done.stderr
    );
}
