//! UDP: sockets and port pairs, receiving until a deadline, RTCP BYE, and a healthy session
//! that counts what it receives while other things go wrong.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdstream_common::{rtcp, rtp};

use super::{LOCALHOST, Rtsp, UdpPlay, setup_and_play_udp};

// ---------------------------------------------------------------- UDP

/// A UDP socket on loopback with a large receive buffer.
pub fn udp_socket(port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(8 << 20);
    socket.bind(&SocketAddr::new(LOCALHOST, port).into())?;
    Ok(socket.into())
}

/// An RTP socket on an even port and the RTCP socket on the next (RFC 3550 §11).
pub fn udp_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = udp_socket(0).expect("bind UDP");
        let port = rtp.local_addr().expect("local addr").port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = udp_socket(port + 1) {
            return (rtp, rtcp);
        }
    }
    panic!("no free even/odd UDP port pair");
}

/// `client_port=a-b` of a pair from [`udp_pair`].
pub fn client_ports(rtp: &UdpSocket) -> String {
    let port = rtp.local_addr().expect("local addr").port();
    format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1)
}

/// Receives one datagram before `deadline`.
pub fn recv_until(socket: &UdpSocket, buf: &mut [u8], deadline: Instant) -> Option<usize> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        socket
            .set_read_timeout(Some(left))
            .expect("set read timeout");
        match socket.recv(buf) {
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Whether an RTCP compound holds a BYE (RFC 3550 §6.6).
pub fn is_bye(packet: &[u8]) -> bool {
    rtcp::Compound::parse(packet)
        .map(|c| c.iter().any(|p| matches!(p, rtcp::Packet::Goodbye(_))))
        .unwrap_or(false)
}

/// Waits for an RTCP BYE on `socket` until `deadline`.
pub fn wait_for_bye(socket: &UdpSocket, deadline: Instant) -> bool {
    let mut buf = [0u8; 2048];
    while let Some(n) = recv_until(socket, &mut buf, deadline) {
        if is_bye(&buf[..n]) {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------- healthy session

/// What a [`Healthy`] session received.
#[derive(Debug, Default)]
struct Counters {
    packets: AtomicU64,
    frames: AtomicU64,
    complete: AtomicU64,
    lost: AtomicU64,
}

/// A snapshot of a healthy session's reception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    /// RTP packets.
    pub packets: u64,
    /// Frames (packets with the marker bit).
    pub frames: u64,
    /// Frames whose every packet arrived (first fragment at offset 0, no sequence gap).
    pub complete: u64,
    /// Packets missing by sequence number.
    pub lost: u64,
}

/// A well-behaved UDP client playing a looping file next to whatever a test does: it counts
/// RTP packets and complete frames and sends a receiver report every second (RFC 3550 §6.4.2).
#[derive(Debug)]
pub struct Healthy {
    control: Rtsp,
    url: String,
    session: String,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    /// When PLAY was answered.
    pub started: Instant,
    thread: Option<JoinHandle<()>>,
}

impl Healthy {
    /// SETUP (UDP) and PLAY of `url` on `rtsp`; `server_rtcp` receives the reports.
    pub fn start(rtsp: SocketAddr, url: &str, server_rtcp: SocketAddr) -> Healthy {
        let UdpPlay {
            rtsp: control,
            id: session,
            rtp,
            rtcp,
            ..
        } = setup_and_play_udp(rtsp, url, "healthy");
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let thread = {
            let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
            std::thread::Builder::new()
                .name("healthy-receiver".into())
                .spawn(move || receive(&rtp, &rtcp, server_rtcp, &stop, &counters))
                .expect("spawn receiver")
        };
        Healthy {
            control,
            url: url.to_owned(),
            session,
            stop,
            counters,
            started: Instant::now(),
            thread: Some(thread),
        }
    }

    /// What has arrived so far.
    pub fn reception(&self) -> Reception {
        let c = &self.counters;
        Reception {
            packets: c.packets.load(Ordering::Relaxed),
            frames: c.frames.load(Ordering::Relaxed),
            complete: c.complete.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
        }
    }

    /// Stops receiving, tears the session down (which must still be answered 200) and returns
    /// what arrived and over how long.
    pub fn finish(mut self) -> (Reception, Duration) {
        let elapsed = self.started.elapsed();
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("healthy receiver panicked");
        }
        let reception = self.reception();
        let reply = self
            .control
            .request("TEARDOWN", &self.url, &[("Session", &self.session)]);
        assert_eq!(reply.status.as_u16(), 200, "healthy TEARDOWN");
        (reception, elapsed)
    }
}

impl Drop for Healthy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The healthy session's receive loop.
fn receive(
    rtp_socket: &UdpSocket,
    rtcp_socket: &UdpSocket,
    server_rtcp: SocketAddr,
    stop: &AtomicBool,
    counters: &Counters,
) {
    let mut report = [0u8; 128];
    let report_len = {
        let mut w = rtcp::Writer::new(&mut report);
        w.receiver_report(0x4ea1_7e55, &[]).expect("RR");
        w.cname(0x4ea1_7e55, b"healthy@127.0.0.1").expect("SDES");
        w.finish()
    };
    rtp_socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("read timeout");
    let mut buf = vec![0u8; 65536];
    let mut next_seq: Option<u16> = None;
    let mut frame_whole = false;
    let mut next_report = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next_report {
            let _ = rtcp_socket.send_to(&report[..report_len], server_rtcp);
            next_report += Duration::from_secs(1);
        }
        let Ok(n) = rtp_socket.recv(&mut buf) else {
            continue;
        };
        let Ok(packet) = rtp::Packet::parse(&buf[..n]) else {
            continue;
        };
        counters.packets.fetch_add(1, Ordering::Relaxed);
        let seq = packet.sequence_number();
        if let Some(expected) = next_seq {
            let gap = seq.wrapping_sub(expected);
            if gap != 0 && gap < 0x8000 {
                counters.lost.fetch_add(u64::from(gap), Ordering::Relaxed);
                frame_whole = false;
            }
        }
        next_seq = Some(seq.wrapping_add(1));
        // RFC 2435 §3.1: bytes 1-3 of the payload are the fragment offset.
        let offset = packet
            .payload()
            .get(1..4)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]));
        if offset == Some(0) {
            frame_whole = true;
        }
        if packet.marker() {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            if frame_whole {
                counters.complete.fetch_add(1, Ordering::Relaxed);
            }
            frame_whole = false;
        }
    }
}
