//! The user-space cost of the server's send path per RTP packet, without system calls:
//! `SESSIONS` UDP sessions play `FILE` (looped) for `SECONDS` of simulated time in 1 ms steps,
//! as the driver would poll; every message the core writes goes into the driver's batch, which
//! a stand-in for `sendmmsg(2)` empties. Prints CPU nanoseconds per packet.
//!
//! `cargo run --release -p hdstream-server --example send_path -- FILE [SESSIONS] [SECONDS]`

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdstream_server::core::{Config, Server, Socket};
use hdstream_server::datagrams::{Batch, Entry, Limits, SendFn};
use hdstream_server::media::{Catalogue, FpsPolicy};

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = Path::new(
        args.get(1)
            .expect("usage: send_path FILE [SESSIONS] [SECONDS]"),
    );
    let sessions: u16 = args.get(2).map_or(64, |s| s.parse().expect("sessions"));
    let seconds: u64 = args.get(3).map_or(10, |s| s.parse().expect("seconds"));
    let (catalogue, _) = Catalogue::open(file, &FpsPolicy::default()).expect("open the file");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let t0 = Instant::now();
    let config = Config {
        looping: true,
        session_timeout: Duration::from_secs(3600),
        ..Config::default()
    };
    let mut server = Server::new(config, Arc::new(catalogue), 1, (t0, SystemTime::now()));
    for k in 0..sessions {
        let conn = usize::from(k) + 1;
        server.open(conn, ([127, 0, 0, 1], 40_000 + k).into(), t0);
        let port = 5000 + 2 * k;
        let setup = format!(
            "SETUP rtsp://127.0.0.1:8554/{name}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port={port}-{}\r\n\r\n",
            port + 1
        );
        server.receive(conn, setup.as_bytes(), t0);
        let reply = String::from_utf8_lossy(server.output(conn)).into_owned();
        let n = server.output(conn).len();
        server.written(conn, n);
        let id = reply
            .lines()
            .find_map(|l| l.strip_prefix("Session: "))
            .and_then(|v| v.split(';').next())
            .expect("a session")
            .to_owned();
        let play = format!(
            "PLAY rtsp://127.0.0.1:8554/{name}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nSession: {id}\r\n\r\n"
        );
        server.receive(conn, play.as_bytes(), t0);
        let n = server.output(conn).len();
        server.written(conn, n);
    }
    let mut batch = Batch::new(Limits::default(), true);
    let mut packets = 0u64;
    let mut calls = 0u64;
    let mut kernel = |socket: Socket, entries: &[Entry], _: &[u8]| -> io::Result<usize> {
        calls += 1;
        if socket == Socket::Rtp {
            for e in entries {
                let len = e.bytes.len();
                packets += e.segment.map_or(1, |s| len.div_ceil(usize::from(s))) as u64;
            }
        }
        Ok(entries.len())
    };
    let cpu = cpu_time();
    for ms in 0..seconds * 1000 {
        let now = t0 + Duration::from_millis(ms);
        send(&mut server, &mut batch, now, &mut kernel);
    }
    let cpu = cpu_time() - cpu;
    println!(
        "{sessions} sessions, {seconds} s: {packets} packets in {calls} sendmmsg calls, {:.3} s CPU, {:.1} ns per packet",
        cpu.as_secs_f64(),
        cpu.as_nanos() as f64 / packets.max(1) as f64
    );
}

/// One driver pass: the core's messages into the batch, the batch out.
fn send(server: &mut Server, batch: &mut Batch, now: Instant, kernel: &mut SendFn<'_>) {
    loop {
        let room = batch.room();
        match server.poll_transmit(now, room, batch.buffer()) {
            Some(transmit) => batch.commit(transmit),
            None if server.wants_room() => {
                batch.flush(kernel);
            }
            None => break,
        }
    }
    batch.flush(kernel);
}
