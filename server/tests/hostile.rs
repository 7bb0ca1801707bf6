//! Hostile RTSP input (RFC 2326 §4–§12): malformed, oversized, slow, pipelined, reset and
//! abusive clients. Each case gets its own clear answer (the status RFC 2326 §7.1.1 names, with
//! the request's CSeq) or a close, the connection goes on where it can, and meanwhile a healthy
//! session plays next to them at full frame rate. The server never panics and its memory stays
//! bounded.
//!
//! The cases that need real sockets and the real clock: slow clients, resets, thousands of
//! connections, a client that reads nothing, pipelined bursts, sessions across connections.
//! One test, one server, the cases in a table run one after another: the healthy session's
//! frame count and the process's memory are measured across the whole suite. The malformed and
//! oversized requests themselves are tested one case a test on the core alone
//! (`server/src/hostile_tests.rs`).

use crate::common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use common::{Event, Healthy, Probe, check_cseq, describe, expect_status, fd_count, rss_kib};
use common::{LOCALHOST, REPLY_TIMEOUT, client_ports, session_id, udp_pair};
use hdstream_server::core::Config;

/// Frame rate the clip plays at (the catalogue's default for plain MJPEG).
const FPS: f64 = 30.0;
/// The server's slow-loris guard in this suite.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The healthy session must get at least this share of the frames due over the suite.
const MIN_FRAME_SHARE: f64 = 0.95;
/// Bound on the process's resident memory growth across the suite.
const MAX_RSS_GROWTH_KIB: u64 = 50 * 1024;

/// What a case needs to know about the server.
struct Ctx {
    /// The RTSP address.
    rtsp: SocketAddr,
    /// The URL of the served clip.
    clip: String,
}

type Run = Box<dyn Fn(&Ctx) -> Result<(), String>>;

/// A named case.
struct Case {
    name: &'static str,
    run: Run,
}

/// A case with its own script.
fn special(name: &'static str, run: fn(&Ctx) -> Result<(), String>) -> Case {
    Case {
        name,
        run: Box::new(run),
    }
}

fn cases() -> Vec<Case> {
    vec![
        // ---- behaviours
        special("a request fed one byte at a time", one_byte_at_a_time),
        special(
            "a request line that pauses 100 ms before its CRLF",
            paused_request_line,
        ),
        special("a request, then the client half-closes", half_close),
        special("slow loris: one byte per second", slow_loris),
        special("slow loris after a bad line", slow_loris_after_a_bad_line),
        special("200 connections holding half a request", half_requests),
        special("1000 idle connections", idle_connections),
        special(
            "a reset (SO_LINGER 0) in the middle of a request",
            reset_mid_request,
        ),
        special(
            "a reset in the middle of an interleaved stream",
            reset_mid_stream,
        ),
        special("SETUP twice", setup_twice),
        special("PLAY with an invalid Range", invalid_range),
        special("a session used from another connection", foreign_session),
        special("Speed: -1, NaN, 0", bad_speed),
        special("Scale: -1, 2, NaN", scale),
        special("SETUP until the session limit", session_limit),
        special("400 KB of pipelined requests in one burst", big_burst),
        special(
            "a client that sends requests and reads no replies",
            no_reader,
        ),
    ]
}

// ---------------------------------------------------------------- special cases

/// A Transport for a UDP pair kept for the length of a case.
fn udp_transport() -> (String, std::net::UdpSocket, std::net::UdpSocket) {
    let (rtp, rtcp) = udp_pair();
    (client_ports(&rtp), rtp, rtcp)
}

/// SETUP of the clip on `p`; the session id.
fn setup(ctx: &Ctx, p: &mut Probe, cseq: u32, transport: &str) -> Result<String, String> {
    let reply = p.request(
        "SETUP",
        &format!("{}/trackID=0", ctx.clip),
        cseq,
        &[("Transport", transport)],
    )?;
    expect_status(&reply, 200).map_err(|e| format!("SETUP: {e}"))?;
    Ok(session_id(&reply))
}

/// `method` on the clip with `Session: id` and `headers`; its status.
fn with_session(
    ctx: &Ctx,
    p: &mut Probe,
    method: &str,
    cseq: u32,
    id: &str,
    headers: &[(&str, &str)],
) -> Result<hdstream_common::rtsp::Response, String> {
    let mut all = vec![("Session", id)];
    all.extend_from_slice(headers);
    p.request(method, &ctx.clip, cseq, &all)
}

fn check(what: &str, got: u16, want: u16) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: status {got}, expected {want}"))
    }
}

fn one_byte_at_a_time(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let request = format!(
        "DESCRIBE {} RTSP/1.0\r\nCSeq: 7\r\nAccept: application/sdp\r\n\r\n",
        ctx.clip
    );
    for b in request.bytes() {
        p.send(&[b]).map_err(|e| format!("write: {e}"))?;
        std::thread::sleep(Duration::from_millis(1));
    }
    let reply = p.reply(REPLY_TIMEOUT)?;
    expect_status(&reply, 200)?;
    check_cseq(&reply, 7)?;
    if !String::from_utf8_lossy(&reply.body).starts_with("v=0") {
        return Err("the reply carries no SDP".into());
    }
    p.alive()
}

fn paused_request_line(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    p.send(format!("DESCRIBE {} RTSP/1.0", ctx.clip).as_bytes())
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(100));
    p.send(b"\r\nCSeq: 3\r\n\r\n").map_err(|e| e.to_string())?;
    let reply = p.reply(REPLY_TIMEOUT)?;
    expect_status(&reply, 200)?;
    check_cseq(&reply, 3)?;
    p.alive()
}

fn half_close(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    p.send(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    p.stream
        .shutdown(Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let reply = p.reply(REPLY_TIMEOUT)?;
    expect_status(&reply, 200)?;
    check_cseq(&reply, 1)?;
    match p.next(REPLY_TIMEOUT) {
        Event::Closed => Ok(()),
        other => Err(format!("expected the close, got {}", describe(&other))),
    }
}

fn slow_loris(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let start = Instant::now();
    for &b in b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: slow\r\n\r\n" {
        if p.send(&[b]).is_err() {
            break;
        }
        match p.next(Duration::from_secs(1)) {
            Event::Silent => {}
            Event::Closed => break,
            other => return Err(format!("got {}", describe(&other))),
        }
        if start.elapsed() > REQUEST_TIMEOUT + Duration::from_secs(4) {
            return Err(format!("still open after {:?}", start.elapsed()));
        }
    }
    let closed = start.elapsed();
    if closed < REQUEST_TIMEOUT - Duration::from_millis(100) {
        return Err(format!(
            "closed after {closed:?}, before the request timeout"
        ));
    }
    if closed > REQUEST_TIMEOUT + Duration::from_secs(4) {
        return Err(format!("closed only after {closed:?}"));
    }
    Ok(())
}

fn slow_loris_after_a_bad_line(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    p.send(b"GARBAGE\r\n").map_err(|e| e.to_string())?;
    let reply = p.reply(REPLY_TIMEOUT)?;
    expect_status(&reply, 400)?;
    let start = Instant::now();
    for _ in 0..(REQUEST_TIMEOUT.as_secs() + 4) {
        if p.send(b"x").is_err() {
            break;
        }
        match p.next(Duration::from_secs(1)) {
            Event::Silent => {}
            Event::Closed => break,
            other => return Err(format!("got {}", describe(&other))),
        }
    }
    let closed = start.elapsed();
    if closed > REQUEST_TIMEOUT + Duration::from_secs(3) {
        return Err(format!("still open after {closed:?}"));
    }
    Ok(())
}

fn half_requests(ctx: &Ctx) -> Result<(), String> {
    let me = std::process::id();
    let base = fd_count(me);
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(ctx.rtsp).map_err(|e| format!("connect: {e}"))?;
        s.write_all(b"DESCRIBE rtsp://h/clip.mjpeg RTSP/1.0\r\nCSeq: 1\r\n")
            .map_err(|e| e.to_string())?;
        conns.push(s);
    }
    let deadline = Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(4);
    for (i, s) in conns.iter_mut().enumerate() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(n) => {
                return Err(format!(
                    "connection {i} got {:?}",
                    String::from_utf8_lossy(&buf[..n])
                ));
            }
            Err(e) => return Err(format!("connection {i} not closed by the server: {e}")),
        }
    }
    drop(conns);
    let left = common::wait_fds_at_most(me, base, Instant::now() + Duration::from_secs(3));
    if left > base {
        return Err(format!("{} descriptors more than before", left - base));
    }
    Ok(())
}

fn idle_connections(ctx: &Ctx) -> Result<(), String> {
    const N: usize = 1000;
    let me = std::process::id();
    let limit = common::raise_fd_limit();
    if limit < 2 * N as u64 + 256 {
        return Err(format!(
            "the open-file limit ({limit}) is too low for {N} connections on both ends: raise \
             it (ulimit -n 4096)"
        ));
    }
    let base = fd_count(me);
    let mut conns = Vec::with_capacity(N);
    let mut retransmitted = 0;
    for _ in 0..N {
        let started = Instant::now();
        conns.push(TcpStream::connect(ctx.rtsp).map_err(|e| format!("connect: {e}"))?);
        // A SYN the listen queue dropped is sent again after 1 s (RFC 6298 §2).
        if started.elapsed() >= Duration::from_secs(1) {
            retransmitted += 1;
        }
    }
    if retransmitted > 0 {
        return Err(format!(
            "{retransmitted} connections waited for a SYN retransmission: the listen backlog \
             overflowed"
        ));
    }
    // The server accepts them all (its ends count here too: it runs in this process).
    let deadline = Instant::now() + Duration::from_secs(5);
    while fd_count(me) < base + 2 * N && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let accepted = fd_count(me).saturating_sub(base + N);
    if accepted < N {
        return Err(format!("only {accepted} of {N} connections accepted"));
    }
    // It keeps serving: a new connection, and idle ones that wake up.
    Probe::connect(ctx.rtsp).alive()?;
    for i in [0, N / 2, N - 1] {
        let stream = conns[i].try_clone().map_err(|e| e.to_string())?;
        Probe::wrap(stream)
            .alive()
            .map_err(|e| format!("idle connection {i}: {e}"))?;
    }
    std::thread::sleep(Duration::from_secs(1));
    drop(conns);
    let left = common::wait_fds_at_most(me, base, Instant::now() + Duration::from_secs(5));
    if left > base {
        return Err(format!(
            "{} descriptors still open after the clients closed",
            left - base
        ));
    }
    Ok(())
}

fn reset_mid_request(ctx: &Ctx) -> Result<(), String> {
    let me = std::process::id();
    let base = fd_count(me);
    let mut p = Probe::connect(ctx.rtsp);
    p.send(format!("DESCRIBE {} RTSP/1.0\r\nCSe", ctx.clip).as_bytes())
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(50));
    p.reset();
    let left = common::wait_fds_at_most(me, base, Instant::now() + Duration::from_secs(3));
    if left > base {
        return Err("the server kept the reset connection".into());
    }
    Probe::connect(ctx.rtsp).alive()
}

fn reset_mid_stream(ctx: &Ctx) -> Result<(), String> {
    let me = std::process::id();
    let base = fd_count(me);
    let mut p = Probe::connect(ctx.rtsp);
    let id = setup(ctx, &mut p, 1, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
    check(
        "PLAY",
        with_session(ctx, &mut p, "PLAY", 2, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    let mut packets = 0;
    let deadline = Instant::now() + REPLY_TIMEOUT;
    while packets < 100 {
        match p.next(deadline.saturating_duration_since(Instant::now())) {
            Event::Data { channel: 0 } => packets += 1,
            Event::Data { .. } | Event::Reply(_) => {}
            other => return Err(format!("while streaming: {}", describe(&other))),
        }
    }
    p.reset();
    let left = common::wait_fds_at_most(me, base, Instant::now() + Duration::from_secs(3));
    if left > base {
        return Err("the server kept the reset connection".into());
    }
    let mut q = Probe::connect(ctx.rtsp);
    let reply = with_session(ctx, &mut q, "TEARDOWN", 1, &id, &[])?;
    check(
        "TEARDOWN of the reset connection's session",
        reply.status.as_u16(),
        454,
    )?;
    q.alive()
}

fn setup_twice(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let (first, _a, _a2) = udp_transport();
    let (second, rtp_b, _b2) = udp_transport();
    let id = setup(ctx, &mut p, 1, &first)?;
    // Again on the same session while Ready: the transport changes (RFC 2326 §10.4).
    let reply = p.request(
        "SETUP",
        &format!("{}/trackID=0", ctx.clip),
        2,
        &[("Transport", &second), ("Session", &id)],
    )?;
    expect_status(&reply, 200).map_err(|e| format!("second SETUP: {e}"))?;
    if session_id(&reply) != id {
        return Err("the second SETUP made a new session".into());
    }
    // Without Session: a second, separate session.
    let other = setup(ctx, &mut p, 3, &first)?;
    if other == id {
        return Err("two sessions share an id".into());
    }
    check(
        "PLAY",
        with_session(ctx, &mut p, "PLAY", 4, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    let mut buf = vec![0u8; 65536];
    if common::recv_until(&rtp_b, &mut buf, Instant::now() + REPLY_TIMEOUT).is_none() {
        return Err("no RTP at the transport of the second SETUP".into());
    }
    let reply = p.request(
        "SETUP",
        &format!("{}/trackID=0", ctx.clip),
        5,
        &[("Transport", &first), ("Session", &id)],
    )?;
    check("SETUP while playing", reply.status.as_u16(), 455)?;
    check(
        "TEARDOWN",
        with_session(ctx, &mut p, "TEARDOWN", 6, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    check(
        "TEARDOWN",
        with_session(ctx, &mut p, "TEARDOWN", 7, &other, &[])?
            .status
            .as_u16(),
        200,
    )?;
    p.alive()
}

fn invalid_range(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let (t, _rtp, _rtcp) = udp_transport();
    let id = setup(ctx, &mut p, 1, &t)?;
    let mut cseq = 1;
    for range in [
        "npt=9999-",
        "npt=abc-",
        "npt=-5-",
        "npt=nan-",
        "smpte=xx:yy-",
        "npt=3-1",
    ] {
        cseq += 1;
        let reply = with_session(ctx, &mut p, "PLAY", cseq, &id, &[("Range", range)])?;
        check(&format!("PLAY Range: {range}"), reply.status.as_u16(), 457)?;
    }
    let reply = with_session(ctx, &mut p, "PLAY", 20, &id, &[("Range", "npt=1-")])?;
    check("PLAY Range: npt=1-", reply.status.as_u16(), 200)?;
    check(
        "TEARDOWN",
        with_session(ctx, &mut p, "TEARDOWN", 21, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    p.alive()
}

fn foreign_session(ctx: &Ctx) -> Result<(), String> {
    let mut owner = Probe::connect(ctx.rtsp);
    let (t, _rtp, _rtcp) = udp_transport();
    let id = setup(ctx, &mut owner, 1, &t)?;
    let mut thief = Probe::connect(ctx.rtsp);
    for (cseq, method) in ["PLAY", "PAUSE", "GET_PARAMETER", "TEARDOWN"]
        .iter()
        .enumerate()
    {
        let reply = with_session(ctx, &mut thief, method, cseq as u32 + 1, &id, &[])?;
        check(
            &format!("{method} from another connection"),
            reply.status.as_u16(),
            454,
        )?;
    }
    let (t2, _rtp2, _rtcp2) = udp_transport();
    let reply = thief.request(
        "SETUP",
        &format!("{}/trackID=0", ctx.clip),
        9,
        &[("Transport", &t2), ("Session", &id)],
    )?;
    check("SETUP from another connection", reply.status.as_u16(), 454)?;
    check(
        "the owner's PLAY",
        with_session(ctx, &mut owner, "PLAY", 2, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    check(
        "the owner's TEARDOWN",
        with_session(ctx, &mut owner, "TEARDOWN", 3, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    thief.alive()
}

fn bad_speed(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let (t, _rtp, _rtcp) = udp_transport();
    let id = setup(ctx, &mut p, 1, &t)?;
    for (i, speed) in ["-1", "NaN", "0", "inf", "1e999", ""].iter().enumerate() {
        let reply = with_session(ctx, &mut p, "PLAY", i as u32 + 2, &id, &[("Speed", speed)])?;
        check(&format!("PLAY Speed: {speed}"), reply.status.as_u16(), 400)?;
    }
    let reply = with_session(ctx, &mut p, "PLAY", 10, &id, &[("Speed", "1000")])?;
    check("PLAY Speed: 1000", reply.status.as_u16(), 200)?;
    let granted = reply.headers.get("Speed").map(str::trim);
    if granted != Some("4") {
        return Err(format!(
            "Speed 1000 granted as {granted:?}, expected the maximum 4"
        ));
    }
    check(
        "TEARDOWN",
        with_session(ctx, &mut p, "TEARDOWN", 11, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    p.alive()
}

fn scale(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let (t, _rtp, _rtcp) = udp_transport();
    let id = setup(ctx, &mut p, 1, &t)?;
    for (i, scale) in ["-1", "2", "NaN"].iter().enumerate() {
        let reply = with_session(ctx, &mut p, "PLAY", i as u32 + 2, &id, &[("Scale", scale)])?;
        check(&format!("PLAY Scale: {scale}"), reply.status.as_u16(), 200)?;
        let used = reply.headers.get("Scale").map(str::trim);
        if used != Some("1") {
            return Err(format!(
                "Scale {scale}: the reply says Scale {used:?}, expected 1"
            ));
        }
    }
    check(
        "TEARDOWN",
        with_session(ctx, &mut p, "TEARDOWN", 9, &id, &[])?
            .status
            .as_u16(),
        200,
    )?;
    p.alive()
}

fn session_limit(ctx: &Ctx) -> Result<(), String> {
    let mut p = Probe::connect(ctx.rtsp);
    let mut made = 0;
    let mut refused = false;
    for i in 0..1100u32 {
        let port = 20_000 + 2 * i;
        let reply = p.request(
            "SETUP",
            &format!("{}/trackID=0", ctx.clip),
            i + 1,
            &[(
                "Transport",
                &format!("RTP/AVP;unicast;client_port={port}-{}", port + 1),
            )],
        )?;
        match reply.status.as_u16() {
            200 => made += 1,
            503 => {
                refused = true;
                break;
            }
            other => return Err(format!("SETUP {i}: status {other}")),
        }
    }
    if !refused || made < 900 {
        return Err(format!("{made} sessions made, refused: {refused}"));
    }
    drop(p);
    // The connection's sessions end with it: SETUP works again.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut q = Probe::connect(ctx.rtsp);
        let (t, _rtp, _rtcp) = udp_transport();
        let reply = q.request(
            "SETUP",
            &format!("{}/trackID=0", ctx.clip),
            1,
            &[("Transport", &t)],
        )?;
        if reply.status.as_u16() == 200 {
            let id = session_id(&reply);
            check(
                "TEARDOWN",
                with_session(ctx, &mut q, "TEARDOWN", 2, &id, &[])?
                    .status
                    .as_u16(),
                200,
            )?;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("sessions not reclaimed when their connection closed".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn big_burst(ctx: &Ctx) -> Result<(), String> {
    const N: u32 = 10_000;
    let mut burst = Vec::new();
    for i in 1..=N {
        burst.extend_from_slice(format!("OPTIONS * RTSP/1.0\r\nCSeq: {i}\r\n\r\n").as_bytes());
    }
    let mut p = Probe::connect(ctx.rtsp);
    let mut writer = p.stream.try_clone().map_err(|e| e.to_string())?;
    let total = burst.len();
    let thread = std::thread::spawn(move || writer.write_all(&burst));
    for i in 1..=N {
        let reply = p
            .reply(REPLY_TIMEOUT)
            .map_err(|e| format!("reply {i} of {N} ({total} bytes sent): {e}"))?;
        expect_status(&reply, 200)?;
        check_cseq(&reply, i)?;
    }
    thread
        .join()
        .map_err(|_| "writer panicked".to_string())?
        .map_err(|e| format!("write: {e}"))?;
    p.alive()
}

fn no_reader(ctx: &Ctx) -> Result<(), String> {
    use socket2::{Domain, Protocol, Socket, Type};
    /// More than every kernel buffer on the way can hold.
    const LIMIT: usize = 16 << 20;
    let socket =
        Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(|e| e.to_string())?;
    let _ = socket.set_recv_buffer_size(64 << 10);
    let _ = socket.set_send_buffer_size(64 << 10);
    socket
        .connect(&ctx.rtsp.into())
        .map_err(|e| e.to_string())?;
    let mut stream: TcpStream = socket.into();
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend_from_slice(format!("OPTIONS * RTSP/1.0\r\nCSeq: {i}\r\n\r\n").as_bytes());
    }
    let mut sent = 0;
    loop {
        match stream.write(&batch) {
            Ok(n) => sent += n,
            // Held back by flow control…
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            // …or closed by the server.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                break;
            }
            Err(e) => return Err(format!("write after {sent} bytes: {e}")),
        }
        if sent > LIMIT {
            return Err(format!(
                "the server took {sent} bytes of requests from a client that reads no replies"
            ));
        }
    }
    Probe::wrap(stream).reset();
    Probe::connect(ctx.rtsp).alive()
}

// ---------------------------------------------------------------- the suite

/// Whether a thread named `name` runs in this process.
fn thread_alive(name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
}

#[test]
fn hostile_requests_get_clear_answers_while_a_healthy_session_plays() {
    let clip = common::pattern_clip(640, 360, 90, 75);
    let root = common::media_root("hostile", &[("clip.mjpeg", &clip)]);
    let config = Config {
        looping: true,
        request_timeout: REQUEST_TIMEOUT,
        ..Config::default()
    };
    let server = common::serve(&root, config);
    let ctx = Ctx {
        rtsp: server.rtsp,
        clip: common::url(&server, "clip.mjpeg"),
    };
    let me = std::process::id();
    let healthy = Healthy::start(
        server.rtsp,
        &ctx.clip,
        SocketAddr::new(LOCALHOST, server.media_ports.1),
    );
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = rss_kib(me);

    let cases = cases();
    assert!(cases.len() >= 15, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let frames_before = healthy.reception().complete;
        let started = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| (case.run)(&ctx)))
            .unwrap_or_else(|panic| {
                Err(panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .map_or("panicked".into(), |m| format!("panicked: {m}")))
            });
        let took = started.elapsed();
        let frames = healthy.reception().complete - frames_before;
        let due = took.as_secs_f64() * FPS;
        eprintln!(
            "{:<60} {:>8.3} s  healthy {frames:>4}/{due:>5.1} frames  {}",
            case.name,
            took.as_secs_f64(),
            match &result {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("FAILED: {e}"),
            }
        );
        if let Err(e) = result {
            failures.push(format!("{}: {e}", case.name));
        }
    }

    let (reception, elapsed) = healthy.finish();
    std::thread::sleep(Duration::from_millis(200));
    let rss_after = rss_kib(me);
    let due = elapsed.as_secs_f64() * FPS;
    let share = reception.complete as f64 / due;
    eprintln!(
        "{} cases in {:.1} s; healthy session: {} complete frames of {:.0} due ({:.1} %, \
         {:.2} fps), {} packets, {} lost; RSS {} KiB -> {} KiB",
        cases.len(),
        elapsed.as_secs_f64(),
        reception.complete,
        due,
        share * 100.0,
        reception.complete as f64 / elapsed.as_secs_f64(),
        reception.packets,
        reception.lost,
        rss_before,
        rss_after
    );
    assert!(
        thread_alive("hdstream-server"),
        "the server thread is gone (panicked?)"
    );
    server.stop().expect("the server stops cleanly");
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        share >= MIN_FRAME_SHARE,
        "the healthy session got {} of {due:.0} frames due ({:.1} %)",
        reception.complete,
        share * 100.0
    );
    assert!(
        rss_after.saturating_sub(rss_before) < MAX_RSS_GROWTH_KIB,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}
