//! The `impair` relay: an RTSP-aware relay that puts a bad network between an RTSP client and
//! server.
//!
//! It accepts RTSP connections, forwards them to the upstream server, and rewrites each UDP
//! SETUP's `client_port` to a port pair of its own; RTP from the server then passes through a
//! seeded [`Link`] (loss, bursts, reordering, duplication, delay, jitter, rate) on its way to
//! the client. RTCP and interleaved (TCP) media pass unharmed. Every packet it drops or
//! duplicates is logged as a JSON line, and the first RTP packet of each session too (`first`),
//! so tests can compare what the client reports with what was really done.

use std::collections::{BinaryHeap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdstream_common::rtsp::header::{PortRange, Transport, TransportParam};
use hdstream_common::rtsp::{self, Message, Parsed};
use hdstream_common::{rtcp, rtp};

use crate::impair::{Fate, Impairment, Link};

type Log = Arc<Mutex<Option<std::fs::File>>>;

/// One relayed UDP session: the client's own ports, and where the server takes RTCP (learnt
/// from the SETUP reply's `server_port`).
#[derive(Debug, Clone)]
struct Relayed {
    client: PortRange,
    relay: PortRange,
    server_rtcp: Arc<Mutex<Option<SocketAddr>>>,
}

type Sessions = Mutex<HashMap<u16, Relayed>>;

/// Binds `listen` and relays every connection to `upstream` through a link with `spec`
/// (session k seeded with `seed + k`), on background threads; `log` receives JSON lines.
/// Returns the address clients connect to.
pub fn start(
    upstream: SocketAddr,
    listen: SocketAddr,
    spec: Impairment,
    seed: u64,
    log: Option<&Path>,
) -> Result<SocketAddr> {
    let listener =
        TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let log: Log = Arc::new(Mutex::new(match log {
        Some(p) => Some(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => None,
    }));
    let sessions = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let (log, sessions) = (Arc::clone(&log), Arc::clone(&sessions));
            std::thread::spawn(move || {
                if let Err(e) = relay(client, upstream, spec, seed, log, sessions) {
                    eprintln!("impair: connection ended: {e:#}");
                }
            });
        }
    });
    Ok(addr)
}

/// Relays one RTSP connection.
fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    spec: Impairment,
    seed: u64,
    log: Log,
    sessions: Arc<AtomicU64>,
) -> Result<()> {
    let server =
        TcpStream::connect(upstream).with_context(|| format!("cannot reach {upstream}"))?;
    let peer = client.peer_addr()?;
    // Relay port → the session, to put the client's ports back in replies.
    let ports: Arc<Sessions> = Arc::default();
    let (c_read, s_write) = (client.try_clone()?, server.try_clone()?);
    let up_ports = Arc::clone(&ports);
    let up = std::thread::spawn(move || {
        pump(c_read, s_write, |req| {
            rewrite_setup(req, peer, &up_ports, spec, seed, &log, &sessions)
        })
    });
    let down = pump(server, client, |msg| restore_reply(msg, &ports, upstream));
    let _ = up.join();
    down
}

/// Copies RTSP messages from `from` to `to`, letting `edit` change each request or response.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    mut edit: impl FnMut(&mut Message<'_>),
) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut chunk)?;
        if n == 0 {
            let _ = to.shutdown(std::net::Shutdown::Write);
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match rtsp::parse(&buf) {
                Ok(Parsed::Complete {
                    mut message,
                    consumed,
                }) => {
                    let mut out = Vec::new();
                    if matches!(message, Message::Data(_)) {
                        out.extend_from_slice(&buf[..consumed]);
                    } else {
                        edit(&mut message);
                        message.write_to(&mut out).ok();
                    }
                    to.write_all(&out)?;
                    buf.drain(..consumed);
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(_) => {
                    // Not RTSP we understand (the course dialect, garbage): pass it through as is.
                    to.write_all(&buf)?;
                    buf.clear();
                    break;
                }
            }
        }
    }
}

/// Points a UDP SETUP at a fresh relay port pair.
fn rewrite_setup(
    msg: &mut Message<'_>,
    peer: SocketAddr,
    ports: &Sessions,
    spec: Impairment,
    seed: u64,
    log: &Log,
    sessions: &AtomicU64,
) {
    let Message::Request(req) = msg else { return };
    if req.method != rtsp::Method::Setup {
        return;
    }
    let Some(Ok(mut transport)) = req.headers.typed::<Transport>() else {
        return;
    };
    for t in &mut transport.0 {
        let Some(client_ports) = t.client_port() else {
            continue;
        };
        let Ok((rtp_sock, rtcp_sock)) = bind_pair() else {
            continue;
        };
        let (Ok(a), Ok(b)) = (rtp_sock.local_addr(), rtcp_sock.local_addr()) else {
            continue;
        };
        let relay = PortRange {
            rtp: a.port(),
            rtcp: Some(b.port()),
        };
        for p in &mut t.params {
            if let TransportParam::ClientPort(r) = p {
                *r = relay;
            }
        }
        let server_rtcp: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        if let Ok(mut map) = ports.lock() {
            let session = Relayed {
                client: client_ports,
                relay,
                server_rtcp: Arc::clone(&server_rtcp),
            };
            map.insert(relay.rtp, session);
        }
        let to_rtp = SocketAddr::new(peer.ip(), client_ports.rtp);
        let to_rtcp = SocketAddr::new(
            peer.ip(),
            client_ports
                .rtcp
                .unwrap_or(client_ports.rtp.wrapping_add(1)),
        );
        let k = sessions.fetch_add(1, Ordering::SeqCst);
        let link = Link::new(spec, seed.wrapping_add(k), Instant::now());
        let (rtp_log, rtcp_log) = (Arc::clone(log), Arc::clone(log));
        std::thread::spawn(move || forward_rtp(rtp_sock, to_rtp, link, &rtp_log));
        std::thread::spawn(move || forward_rtcp(rtcp_sock, to_rtcp, &server_rtcp, &rtcp_log));
    }
    req.headers.set_typed(&transport);
}

/// Puts the client's own ports back into a SETUP reply, and points the client's RTCP at the
/// relay (which logs the receiver reports and passes them on to the server's RTCP port).
fn restore_reply(msg: &mut Message<'_>, ports: &Sessions, upstream: SocketAddr) {
    let Message::Response(resp) = msg else { return };
    let Some(Ok(mut transport)) = resp.headers.typed::<Transport>() else {
        return;
    };
    let Ok(map) = ports.lock() else { return };
    for t in &mut transport.0 {
        let Some(session) = t.client_port().and_then(|r| map.get(&r.rtp)).cloned() else {
            continue;
        };
        for p in &mut t.params {
            match p {
                TransportParam::ClientPort(r) => *r = session.client,
                TransportParam::ServerPort(r) => {
                    let rtcp = r.rtcp.unwrap_or(r.rtp.wrapping_add(1));
                    if let Ok(mut to) = session.server_rtcp.lock() {
                        *to = Some(SocketAddr::new(upstream.ip(), rtcp));
                    }
                    *r = session.relay;
                }
                _ => {}
            }
        }
    }
    resp.headers.set_typed(&transport);
}

fn bind_pair() -> std::io::Result<(UdpSocket, UdpSocket)> {
    for _ in 0..64 {
        let a = UdpSocket::bind("127.0.0.1:0")?;
        let p = a.local_addr()?.port();
        if p % 2 == 0
            && p < u16::MAX
            && let Ok(b) = UdpSocket::bind(("127.0.0.1", p + 1))
        {
            return Ok((a, b));
        }
    }
    Err(std::io::Error::other("no free port pair"))
}

/// A packet waiting for its departure time.
struct Pending {
    at: Instant,
    order: u64,
    data: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Earliest first out of the max-heap.
        (o.at, o.order).cmp(&(self.at, self.order))
    }
}

/// Relays RTP through the link; ends 30 s after the last packet.
fn forward_rtp(socket: UdpSocket, to: SocketAddr, mut link: Link, log: &Log) {
    let mut queue: BinaryHeap<Pending> = BinaryHeap::new();
    let mut buf = vec![0u8; 65_536];
    let mut order = 0u64;
    let mut last_packet = Instant::now();
    let mut first = true;
    loop {
        let now = Instant::now();
        while queue.peek().is_some_and(|p| p.at <= now) {
            if let Some(p) = queue.pop() {
                let _ = socket.send_to(&p.data, to);
            }
        }
        if queue.is_empty() && now.duration_since(last_packet) > Duration::from_secs(30) {
            return;
        }
        let wait = queue.peek().map_or(Duration::from_millis(200), |p| {
            p.at.saturating_duration_since(now)
        });
        let _ = socket.set_read_timeout(Some(wait.max(Duration::from_micros(100))));
        let Ok((n, _from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let now = Instant::now();
        if first {
            record(log, "first", &buf[..n]);
            first = false;
        }
        last_packet = now;
        let data = &buf[..n];
        match link.decide(n, now) {
            Fate::Drop => record(log, "drop", data),
            Fate::Deliver { at, copies, .. } => {
                if copies > 1 {
                    record(log, "duplicate", data);
                }
                for _ in 0..copies {
                    order += 1;
                    queue.push(Pending {
                        at,
                        order,
                        data: data.to_vec(),
                    });
                }
            }
        }
    }
}

/// Relays RTCP unharmed both ways — the server's to the client, the client's (receiver reports,
/// logged as `rr` events) to the server; ends after 30 s of silence.
fn forward_rtcp(
    socket: UdpSocket,
    client: SocketAddr,
    server: &Mutex<Option<SocketAddr>>,
    log: &Log,
) {
    let mut buf = vec![0u8; 65_536];
    let _ = socket.set_read_timeout(Some(Duration::from_secs(30)));
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        let packet = &buf[..n];
        if from == client {
            record_reports(log, packet);
            if let Some(to) = server.lock().ok().and_then(|s| *s) {
                let _ = socket.send_to(packet, to);
            }
        } else {
            let _ = socket.send_to(packet, client);
        }
    }
}

/// Logs each reception report block of a client's RTCP compound (RFC 3550 §6.4.2).
fn record_reports(log: &Log, packet: &[u8]) {
    let Ok(compound) = rtcp::Compound::parse(packet) else {
        return;
    };
    let Ok(mut guard) = log.lock() else { return };
    let Some(file) = guard.as_mut() else { return };
    for p in compound.iter() {
        if let rtcp::Packet::ReceiverReport(rr) = p {
            for b in rr.report_blocks() {
                let line = format!(
                    "{{\"event\":\"rr\",\"fraction_lost\":{},\"cumulative_lost\":{},\"highest_seq\":{},\"jitter\":{}}}\n",
                    b.fraction_lost, b.cumulative_lost, b.extended_highest_sequence, b.jitter
                );
                let _ = file.write_all(line.as_bytes());
            }
        }
    }
    let _ = file.flush();
}

fn record(log: &Log, event: &str, packet: &[u8]) {
    let Ok(mut guard) = log.lock() else { return };
    let Some(file) = guard.as_mut() else { return };
    let line = match rtp::Packet::parse(packet) {
        Ok(p) => format!(
            "{{\"event\":\"{event}\",\"seq\":{},\"timestamp\":{},\"ssrc\":{},\"marker\":{},\"len\":{}}}\n",
            p.sequence_number(),
            p.timestamp(),
            p.ssrc(),
            p.marker(),
            packet.len()
        ),
        Err(_) => format!("{{\"event\":\"{event}\",\"len\":{}}}\n", packet.len()),
    };
    let _ = file.write_all(line.as_bytes());
    let _ = file.flush();
}
