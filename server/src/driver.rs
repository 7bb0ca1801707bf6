//! The mio event loop: the only server code that touches sockets, processes or the clock.
//!
//! One thread drives the RTSP listener, every RTSP connection, the HTTP port's listener and
//! connections (`--http`, [`crate::http`]), the server's RTP and RTCP
//! UDP sockets (shared by all sessions: `server_port=a-b`) and, with captions from speech, the
//! speech recognisers' pipes ([`crate::recogniser`]). Each pass: wait for readiness or the
//! core's next deadline, read until `WouldBlock` (at most a budget per connection and pass, and
//! not while a connection has too much output queued) and feed the core, let the core transmit
//! what is due, write connection output until `WouldBlock`, and set interest from what is left.
//!
//! UDP leaves in batches ([`crate::datagrams`]): the core writes its messages straight into
//! the batch's buffer during a transmit pass ([`Server::poll_transmit`]), and they go out with
//! one `sendmmsg(2)` per full buffer and at the end of the pass, a run of packets for one
//! destination as one UDP GSO message where the kernel offers it.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket as RawSocket, Type};

use crate::core::{Config, Server, Socket};
use crate::datagrams::{self, Batch, Entry, Limits, Sendmmsg};
use crate::media::{Catalogue, Job, Opened};
use crate::recogniser::{self, Recognisers};

const LISTENER: Token = Token(0);
const RTP: Token = Token(1);
const RTCP: Token = Token(2);
/// The pipe a SIGIO (a media file's lease being broken) writes a byte to.
const LEASES: Token = Token(usize::MAX);
/// The RTSPS listener.
const TLS_LISTENER: Token = Token(usize::MAX - 1);
/// Woken when a file opened on a thread of its own ([`Opening`]) is ready.
const OPENED: Token = Token(usize::MAX - 2);
/// The HTTP listener.
const HTTP_LISTENER: Token = Token(usize::MAX - 3);
const FIRST_CONN: usize = 16;
/// Connections beyond this are accepted and closed at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// Connections the kernel may hold for the listener before they are accepted.
const LISTEN_BACKLOG: i32 = 1024;
/// Socket buffer size asked of the kernel for the UDP sockets.
const UDP_BUFFER: usize = 8 << 20;
/// The longest the loop sleeps, so a stop request is seen promptly.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// Bytes read from one connection per pass, for fairness: a flood of small requests must not
/// hold up the streams (each pass sends what is due; the rest is read in the next pass).
const READ_BUDGET: usize = 16 * 1024;
/// The environment variable that turns UDP segmentation offload off when set to anything but
/// empty or `0` (read once, when the loop starts): datagrams are still batched with
/// `sendmmsg(2)`, one per entry. For measurements, and for paths that mishandle GSO silently.
pub const NO_GSO_ENV: &str = "HDSTREAM_NO_GSO";
/// How long a stopping server keeps trying to send datagrams still queued (the BYEs).
const STOP_DRAIN: Duration = Duration::from_millis(100);

/// Where to listen.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    /// Address to bind (RTSP and RTP/RTCP).
    pub bind: IpAddr,
    /// RTSP port (0: any).
    pub port: u16,
    /// Server RTP port, even (RTCP is the next); `None`: any free even pair.
    pub rtp_port: Option<u16>,
}

/// RTSPS: where to listen, and the certificate ([`crate::tls::server_config`]).
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// TCP port (0: any free one).
    pub port: u16,
    /// The TLS server configuration.
    pub config: Arc<rustls::ServerConfig>,
}

/// The listeners beside RTSP, each when asked for.
#[derive(Debug, Clone, Default)]
pub struct Listeners {
    /// RTSPS.
    pub tls: Option<TlsListen>,
    /// The HTTP port ([`crate::http`]): where to listen (port 0: any free one).
    pub http: Option<SocketAddr>,
}

/// Which listener a connection came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Rtsp,
    Rtsps,
    Http,
}

/// A running server, for tests and embedding; [`Handle::stop`] ends it.
#[derive(Debug)]
pub struct Handle {
    /// The RTSP address it listens on.
    pub rtsp: SocketAddr,
    /// The RTSPS address, when it listens for TLS too.
    pub rtsps: Option<SocketAddr>,
    /// The HTTP address, when it listens for HTTP too (`--http`).
    pub http: Option<SocketAddr>,
    /// Final figures of the published paths that ended.
    published: Arc<Mutex<Vec<crate::publish::PathStats>>>,
    /// Its RTP and RTCP ports.
    pub media_ports: (u16, u16),
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Handle {
    /// Asks the loop to stop (BYE to every session) and waits for it.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }

    /// The final figures of the published paths that ended so far.
    pub fn published(&self) -> Vec<crate::publish::PathStats> {
        self.published.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The flag that stops the loop when set (e.g. from a signal handler).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Waits for the loop to end by itself (it ends only when stopped).
    pub fn join(mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds the sockets and starts the loop on its own thread.
pub fn spawn(config: Config, catalogue: Arc<Catalogue>, listen: Listen) -> io::Result<Handle> {
    spawn_with_tls(config, catalogue, listen, None)
}

/// [`spawn`], listening for RTSPS too when `tls` says where.
pub fn spawn_with_tls(
    config: Config,
    catalogue: Arc<Catalogue>,
    listen: Listen,
    tls: Option<TlsListen>,
) -> io::Result<Handle> {
    let listeners = Listeners { tls, http: None };
    spawn_with(config, catalogue, listen, listeners)
}

/// [`spawn`], with the `listeners` asked for beside RTSP (RTSPS, HTTP).
pub fn spawn_with(
    mut config: Config,
    catalogue: Arc<Catalogue>,
    listen: Listen,
    listeners: Listeners,
) -> io::Result<Handle> {
    let Listeners { tls, http } = listeners;
    let listener = tcp_listener(SocketAddr::new(listen.bind, listen.port))?;
    let rtsp = listener.local_addr()?;
    let http_listener = match http {
        Some(addr) => Some(tcp_listener(addr)?),
        None => None,
    };
    let http = match &http_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let tls = match tls {
        Some(t) => Some((
            tcp_listener(SocketAddr::new(listen.bind, t.port))?,
            t.config,
        )),
        None => None,
    };
    let rtsps = match &tls {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    let (rtp, rtcp) = bind_pair(listen.bind, listen.rtp_port)?;
    let media_ports = (rtp.local_addr()?.port(), rtcp.local_addr()?.port());
    config.server_ports = media_ports;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let published = Arc::new(Mutex::new(Vec::new()));
    let published_out = Arc::clone(&published);
    let seed = seed();
    let speech = config.speech.clone();
    let thread = std::thread::Builder::new()
        .name("hdstream-server".into())
        .spawn(move || {
            let core = Server::new(config, catalogue, seed, (Instant::now(), SystemTime::now()));
            let mut driver = Driver::new(core, listener, tls, rtp, rtcp)?;
            if let Some(mut l) = http_listener {
                driver
                    .poll
                    .registry()
                    .register(&mut l, HTTP_LISTENER, Interest::READABLE)?;
                driver.http = Some(l);
            }
            driver.published = published_out;
            driver.speech = speech.map(Recognisers::new);
            driver.run(&flag)
        })?;
    Ok(Handle {
        rtsp,
        rtsps,
        http,
        published,
        media_ports,
        stop,
        thread: Some(thread),
    })
}

/// Randomness for session ids, SSRCs and sequence numbers (RFC 3550 §5.1 wants them random).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The RTSP listener, non-blocking, with a backlog for many clients connecting at once (the
/// usual 128 drops SYNs from a burst of connections, and each dropped one waits a second for
/// its retransmission).
fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = RawSocket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// A UDP socket with large buffers, non-blocking.
fn udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = RawSocket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    let _ = socket.set_recv_buffer_size(1 << 20);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    let granted = socket.send_buffer_size().unwrap_or(0);
    tracing::debug!(%addr, asked = UDP_BUFFER, granted, "UDP send buffer");
    Ok(UdpSocket::from_std(socket.into()))
}

/// An RTP socket on an even port and the RTCP socket on the next (RFC 3550 §11).
fn bind_pair(ip: IpAddr, port: Option<u16>) -> io::Result<(UdpSocket, UdpSocket)> {
    if let Some(p) = port {
        return Ok((
            udp(SocketAddr::new(ip, p))?,
            udp(SocketAddr::new(ip, p.wrapping_add(1)))?,
        ));
    }
    let mut last = io::Error::other("no free even/odd port pair");
    for _ in 0..64 {
        let rtp = udp(SocketAddr::new(ip, 0))?;
        let p = rtp.local_addr()?.port();
        if p % 2 != 0 || p == u16::MAX {
            continue;
        }
        match udp(SocketAddr::new(ip, p + 1)) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

struct Driver {
    core: Server,
    poll: Poll,
    /// The RTSPS listener and its TLS configuration.
    tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    /// The HTTP listener.
    http: Option<TcpListener>,
    /// Woken by SIGIO: a media file's lease is being broken ([`Server::media_changed`]).
    leases: Leases,
    /// Where ended published paths' figures go ([`Handle::published`]).
    published: Arc<Mutex<Vec<crate::publish::PathStats>>>,
    /// The speech recognisers' processes, with captions from speech on.
    speech: Option<Recognisers>,
    listener: TcpListener,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    conns: HashMap<usize, Conn>,
    /// Connections left with input unread (read budget spent, or too much output queued):
    /// edge-triggered readiness will not repeat, so they are read again once they can take it.
    unread: HashSet<usize>,
    next_conn: usize,
    rtp_writable_wanted: bool,
    rtcp_writable_wanted: bool,
    buf: Vec<u8>,
    /// RTP and RTCP datagrams on their way out.
    batch: Batch,
    sendmmsg: Sendmmsg,
    /// Files being opened away from the loop.
    opening: Opening,
}

/// New media files (a DESCRIBE or SETUP named one the catalogue did not have) are opened,
/// mapped and indexed on threads of their own — seconds for a large file, during which the
/// loop goes on serving every other session — and handed back to the core
/// ([`Server::opened`]) when done; the waker brings the loop round to take them.
struct Opening {
    waker: Arc<mio::Waker>,
    done: std::sync::mpsc::Sender<Opened>,
    results: std::sync::mpsc::Receiver<Opened>,
}

impl Opening {
    fn new(poll: &Poll) -> io::Result<Opening> {
        let waker = Arc::new(mio::Waker::new(poll.registry(), OPENED)?);
        let (done, results) = std::sync::mpsc::channel();
        Ok(Opening {
            waker,
            done,
            results,
        })
    }

    /// Starts `job` on a thread; if no thread can be had, runs it here (the loop waits).
    fn start(&self, job: Job) {
        let done = self.done.clone();
        let waker = Arc::clone(&self.waker);
        let spare = job.clone();
        let spawned = std::thread::Builder::new()
            .name("hdstream-open".into())
            .spawn(move || {
                let _ = done.send(job.run());
                let _ = waker.wake();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to open a media file on: opening it on the loop");
            let _ = self.done.send(spare.run());
        }
    }
}

struct Conn {
    stream: TcpStream,
    writable_wanted: bool,
    /// RTSPS: the TLS state between the socket and the core.
    tls: Option<Box<rustls::ServerConnection>>,
}

impl Driver {
    fn new(
        core: Server,
        mut listener: TcpListener,
        mut tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
        mut rtp: UdpSocket,
        mut rtcp: UdpSocket,
    ) -> io::Result<Driver> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        if let Some((l, _)) = &mut tls {
            poll.registry()
                .register(l, TLS_LISTENER, Interest::READABLE)?;
        }
        poll.registry()
            .register(&mut rtp, RTP, Interest::READABLE)?;
        poll.registry()
            .register(&mut rtcp, RTCP, Interest::READABLE)?;
        let disabled = std::env::var_os(NO_GSO_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        let gso = !disabled && datagrams::gso_supported(&rtp) && datagrams::gso_supported(&rtcp);
        tracing::debug!(gso, disabled, "UDP segmentation offload");
        if !gso && !disabled {
            tracing::info!("UDP segmentation offload unavailable: datagrams leave one per entry");
        }
        let limits = Limits::default();
        let leases = Leases::watch(&poll)?;
        let opening = Opening::new(&poll)?;
        Ok(Driver {
            core,
            poll,
            tls,
            http: None,
            leases,
            published: Arc::new(Mutex::new(Vec::new())),
            speech: None,
            listener,
            rtp,
            rtcp,
            conns: HashMap::new(),
            unread: HashSet::new(),
            next_conn: FIRST_CONN,
            rtp_writable_wanted: false,
            rtcp_writable_wanted: false,
            buf: vec![0; 64 * 1024],
            batch: Batch::new(limits, gso),
            sendmmsg: Sendmmsg::new(limits.messages),
            opening,
        })
    }

    fn run(mut self, stop: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut deadline: Option<Instant> = None;
        loop {
            if stop.load(Ordering::SeqCst) {
                let now = Instant::now();
                self.core.shutdown(now);
                self.transmit(now);
                self.drain_datagrams();
                self.flush_all();
                tracing::info!("server stopped");
                return Ok(());
            }
            let now = Instant::now();
            let resume: Vec<usize> = self
                .unread
                .iter()
                .copied()
                .filter(|&id| self.core.wants_input(id))
                .collect();
            let sleep = if resume.is_empty() {
                deadline.map_or(MAX_SLEEP, |d| {
                    d.saturating_duration_since(now).min(MAX_SLEEP)
                })
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(sleep)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now, Port::Rtsp),
                    TLS_LISTENER => self.accept(now, Port::Rtsps),
                    HTTP_LISTENER => self.accept(now, Port::Http),
                    LEASES => {
                        self.leases.drain();
                        self.core.media_changed(now);
                    }
                    RTCP => self.read_rtcp(now),
                    RTP => self.drain_rtp(),
                    OPENED => {} // taken below, every pass
                    token if recogniser::owns(token) => {
                        if let Some(speech) = &mut self.speech {
                            speech.ready(token);
                        }
                    }
                    Token(id) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read_conn(id, now);
                        }
                    }
                }
            }
            for id in resume {
                self.read_conn(id, now);
            }
            self.open_files(Instant::now());
            self.serve_speech(Instant::now());
            deadline = self.transmit(Instant::now());
            self.flush_all();
            self.close_requested(Instant::now());
            let ended = self.core.take_ended_publishing();
            if !ended.is_empty()
                && let Ok(mut published) = self.published.lock()
            {
                published.extend(ended);
            }
        }
    }

    /// Hands the core the files opened since the last pass (answering the requests that
    /// waited for them), and starts opening those it asks for.
    fn open_files(&mut self, now: Instant) {
        while let Ok(opened) = self.opening.results.try_recv() {
            self.core.opened(opened, now);
        }
        while let Some(job) = self.core.poll_open() {
            self.opening.start(job);
        }
    }

    /// The speech recognisers: starts and stops them as the core asks, writes them the sound
    /// it has for them, reads their lines (no faster than the core takes them), and tells the
    /// core of those that ended.
    fn serve_speech(&mut self, now: Instant) {
        let Some(speech) = &mut self.speech else {
            return;
        };
        let registry = self.poll.registry();
        while let Some(command) = self.core.poll_speech() {
            if let Err((id, exit)) = speech.command(command, registry, now) {
                self.core.speech_exited(id, exit, now);
            }
        }
        for id in speech.ids() {
            let input = self.core.speech_input(id);
            if !input.is_empty() {
                let n = speech.write(id, input, now);
                self.core.speech_written(id, n);
            }
            let room = self.core.speech_read_room(id, now);
            let core = &mut self.core;
            speech.read(id, room, now, &mut |bytes| {
                core.speech_output(id, bytes, now)
            });
        }
        for (id, last_output, exit) in speech.ended(now, registry) {
            self.core.speech_output(id, &last_output, now);
            self.core.speech_exited(id, exit, now);
        }
    }

    fn accept(&mut self, now: Instant, port: Port) {
        let secure = port == Port::Rtsps;
        loop {
            let accepted = match (port, &self.tls, &self.http) {
                (Port::Rtsps, Some((l, _)), _) | (Port::Http, _, Some(l)) => l.accept(),
                (Port::Rtsps | Port::Http, ..) => return,
                (Port::Rtsp, ..) => self.listener.accept(),
            };
            match accepted {
                Ok((mut stream, peer)) => {
                    if self.conns.len() >= MAX_CONNECTIONS {
                        tracing::warn!(%peer, "too many connections: refused");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let id = self.next_conn;
                    self.next_conn += 1;
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, Token(id), Interest::READABLE)
                        .is_err()
                    {
                        continue;
                    }
                    let tls = match (&self.tls, secure) {
                        (Some((_, config)), true) => {
                            match rustls::ServerConnection::new(Arc::clone(config)) {
                                Ok(mut c) => {
                                    c.set_buffer_limit(Some(crate::tls::SEND_BUFFER));
                                    Some(Box::new(c))
                                }
                                Err(e) => {
                                    tracing::warn!(%peer, error = %e, "TLS connection refused");
                                    continue;
                                }
                            }
                        }
                        _ => None,
                    };
                    self.conns.insert(
                        id,
                        Conn {
                            stream,
                            writable_wanted: false,
                            tls,
                        },
                    );
                    match port {
                        Port::Rtsp => self.core.open(id, peer, now),
                        Port::Rtsps => self.core.open_tls(id, peer, now),
                        Port::Http => self.core.open_http(id, peer, now),
                    }
                    tracing::debug!(%peer, conn = id, ?port, "connection");
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }

    fn read_conn(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.tls.is_some() {
            return self.read_tls(id, now);
        }
        self.unread.remove(&id);
        let mut total = 0;
        let closed = loop {
            if total >= READ_BUDGET || !self.core.wants_input(id) {
                self.unread.insert(id);
                break false;
            }
            let room = (READ_BUDGET - total).min(self.buf.len());
            match conn.stream.read(&mut self.buf[..room]) {
                Ok(0) => break true,
                Ok(n) => {
                    self.core.receive(id, &self.buf[..n], now);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        if closed {
            // A client that half-closes after its request still gets the reply.
            self.flush(id);
            self.drop_conn(id, now);
        }
    }

    /// Reads a TLS connection: ciphertext into rustls, plaintext on to the core; a broken
    /// handshake (or plaintext RTSP on the TLS port) is logged and closes the connection.
    fn read_tls(&mut self, id: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        self.unread.remove(&id);
        let Some(tls) = conn.tls.as_mut() else {
            return;
        };
        let mut total = 0;
        let mut closed = false;
        loop {
            if total >= READ_BUDGET || !self.core.wants_input(id) {
                self.unread.insert(id);
                break;
            }
            match tls.read_tls(&mut conn.stream) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
            if let Err(e) = tls.process_new_packets() {
                let peer = conn.stream.peer_addr().ok();
                tracing::warn!(?peer, error = %e, "TLS failed (not TLS, or a broken handshake): closing");
                // Tell the peer why, if it listens.
                let _ = tls.write_tls(&mut conn.stream);
                closed = true;
                break;
            }
            loop {
                match tls.reader().read(&mut self.buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => self.core.receive(id, &self.buf[..n], now),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            if closed {
                break;
            }
        }
        // Handshake replies, and whatever the core answered.
        self.flush(id);
        if closed {
            self.drop_conn(id, now);
        }
    }

    fn read_rtcp(&mut self, now: Instant) {
        loop {
            match self.rtcp.recv_from(&mut self.buf) {
                Ok((n, from)) => self.core.receive_rtcp(from, &self.buf[..n], now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return, // e.g. ICMP errors reported on the socket
            }
        }
    }

    /// RTP from publishers (UDP), to the core; anything else (some clients send
    /// hole-punching packets) is dropped there. Its writable readiness (after a full send
    /// buffer) needs nothing here: transmit runs next and sends the queued datagrams first.
    fn drain_rtp(&mut self) {
        let now = Instant::now();
        loop {
            match self.rtp.recv_from(&mut self.buf) {
                Ok((n, from)) => self.core.receive_rtp(from, &self.buf[..n], now),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Lets the core send what is due. Datagrams left queued by the last pass (the socket was
    /// full) go first; the core writes its messages into the batch's buffer behind them
    /// ([`Server::poll_transmit`]), and they leave when the buffer fills and at the end. When
    /// the buffer is full and the socket cannot drain it, the core holds its packets (its
    /// streams wait) and writable readiness brings us back. Errors other than a full socket
    /// (the peer's port closed, no route) lose that datagram, as on any network; the session
    /// times out if the client is gone.
    fn transmit(&mut self, now: Instant) -> Option<Instant> {
        let mut syscall = on_sockets(&self.rtp, &self.rtcp, &mut self.sendmmsg);
        let batch = &mut self.batch;
        let mut waiting = batch.flush(&mut syscall);
        let mut held = false;
        loop {
            let room = batch.room();
            match self.core.poll_transmit(now, room, batch.buffer()) {
                Some(transmit) => batch.commit(transmit),
                None if self.core.wants_room() => {
                    let was_empty = batch.is_empty();
                    waiting = batch.flush(&mut syscall);
                    if waiting.is_some() || was_empty {
                        held = true;
                        break;
                    }
                }
                None => break,
            }
        }
        if !held {
            waiting = self.batch.flush(&mut syscall);
        }
        drop(syscall);
        let rtp_blocked = waiting == Some(Socket::Rtp) || (held && waiting.is_none());
        let rtcp_blocked = waiting == Some(Socket::Rtcp);
        let deadline = self.core.poll_timeout();
        let registry = self.poll.registry();
        want_writable(
            registry,
            &mut self.rtp,
            RTP,
            &mut self.rtp_writable_wanted,
            rtp_blocked,
        );
        want_writable(
            registry,
            &mut self.rtcp,
            RTCP,
            &mut self.rtcp_writable_wanted,
            rtcp_blocked,
        );
        if held || rtp_blocked || rtcp_blocked {
            // Writable readiness wakes us; don't spin on a deadline already past.
            return Some(
                deadline.map_or(now + MAX_SLEEP, |d| d.max(now + Duration::from_millis(1))),
            );
        }
        deadline
    }

    /// At stop: gives datagrams still queued (a full socket) a short while to leave.
    fn drain_datagrams(&mut self) {
        let give_up = Instant::now() + STOP_DRAIN;
        let mut syscall = on_sockets(&self.rtp, &self.rtcp, &mut self.sendmmsg);
        while self.batch.flush(&mut syscall).is_some() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        if !self.batch.is_empty() {
            tracing::warn!("stopped with datagrams unsent: the UDP socket stayed full");
        }
        let dropped = self.batch.dropped();
        if dropped > 0 {
            tracing::info!(
                dropped,
                "datagrams the kernel refused while running (no route, port closed…)"
            );
        }
    }

    fn flush_all(&mut self) {
        let ids: Vec<usize> = self.core.pending_output().collect();
        let wanted: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.writable_wanted)
            .map(|(&id, _)| id)
            .collect();
        for id in ids.iter().chain(wanted.iter()) {
            self.flush(*id);
        }
    }

    fn flush(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let (failed, want) = match conn.tls.as_mut() {
            Some(tls) => {
                let failed = flush_tls(&mut self.core, id, &mut conn.stream, tls);
                let want = tls.wants_write()
                    || (!tls.is_handshaking() && !self.core.output(id).is_empty());
                (failed, want)
            }
            None => {
                let failed = flush_plain(&mut self.core, id, &mut conn.stream);
                (failed, !self.core.output(id).is_empty())
            }
        };
        if failed {
            self.drop_conn(id, Instant::now());
            return;
        }
        want_writable(
            self.poll.registry(),
            &mut conn.stream,
            Token(id),
            &mut conn.writable_wanted,
            want,
        );
    }

    fn close_requested(&mut self, now: Instant) {
        while let Some(id) = self.core.poll_close() {
            self.drop_conn(id, now);
        }
    }

    fn drop_conn(&mut self, id: usize, now: Instant) {
        self.unread.remove(&id);
        if let Some(mut conn) = self.conns.remove(&id) {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
        self.core.close(id, now);
    }
}

/// Writes the core's output for `id` to its socket until it is all gone or the socket is full;
/// answers whether the connection failed.
fn flush_plain(core: &mut Server, id: usize, stream: &mut TcpStream) -> bool {
    loop {
        let pending = core.output(id);
        if pending.is_empty() {
            return false;
        }
        match stream.write(pending) {
            Ok(0) => return true,
            Ok(n) => core.written(id, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// Moves the core's output for `id` into TLS (as much as its buffer takes) and the ciphertext
/// onto the socket; answers whether the connection failed.
fn flush_tls(
    core: &mut Server,
    id: usize,
    stream: &mut TcpStream,
    tls: &mut rustls::ServerConnection,
) -> bool {
    loop {
        let pending = core.output(id);
        if !pending.is_empty() && !tls.is_handshaking() {
            match tls.writer().write(pending) {
                Ok(n) if n > 0 => core.written(id, n),
                _ => {}
            }
        }
        if !tls.wants_write() {
            return false;
        }
        match tls.write_tls(stream) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// The system call behind a [`Batch`]: `sendmmsg(2)` on the RTP or the RTCP socket.
fn on_sockets<'a>(
    rtp: &'a UdpSocket,
    rtcp: &'a UdpSocket,
    sendmmsg: &'a mut Sendmmsg,
) -> impl FnMut(Socket, &[Entry], &[u8]) -> io::Result<usize> + 'a {
    move |socket, entries, bytes| match socket {
        Socket::Rtp => sendmmsg.send(rtp, entries, bytes),
        Socket::Rtcp => sendmmsg.send(rtcp, entries, bytes),
    }
}

/// Asks for `source`'s writable readiness while `blocked` (output waits), re-registering only
/// when that changes (`wanted` keeps what is registered).
fn want_writable(
    registry: &mio::Registry,
    source: &mut impl mio::event::Source,
    token: Token,
    wanted: &mut bool,
    blocked: bool,
) {
    if blocked != *wanted {
        let _ = registry.reregister(source, token, interest(blocked));
        *wanted = blocked;
    }
}

/// Readable, and writable too while output waits.
fn interest(writable: bool) -> Interest {
    if writable {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

/// SIGIO, which the kernel sends when another process opens a media file for writing or
/// truncates it (the file's read lease is being broken, see [`crate::media`]), as a readable
/// pipe in the poll: one byte per signal.
struct Leases {
    reader: mio::net::UnixStream,
    signal: signal_hook::SigId,
}

impl Leases {
    fn watch(poll: &Poll) -> io::Result<Leases> {
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let signal = signal_hook::low_level::pipe::register(signal_hook::consts::SIGIO, writer)?;
        let mut reader = mio::net::UnixStream::from_std(reader);
        poll.registry()
            .register(&mut reader, LEASES, Interest::READABLE)?;
        Ok(Leases { reader, signal })
    }

    /// Reads what the signals wrote (readiness is edge-triggered: all of it).
    fn drain(&mut self) {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while matches!(self.reader.read(&mut buf), Ok(n) if n > 0) {}
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.signal);
    }
}
