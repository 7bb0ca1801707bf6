//! The server's sans-IO core: every RTSP connection, every session and every stream, driven by
//! bytes and `now` from the outside.
//!
//! The driver ([`crate::driver`]) is the only code with sockets and a clock. It tells the core
//! what arrived ([`Server::open`], [`Server::receive`], [`Server::receive_rtcp`],
//! [`Server::close`]), asks it for UDP messages to send ([`Server::poll_transmit`], which writes
//! each straight into the driver's buffer, and puts interleaved packets on their connections),
//! writes what connections have queued ([`Server::output`], [`Server::written`]) and sleeps
//! until [`Server::poll_timeout`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use hdstream_common::rtcp;
use hdstream_common::rtsp::{self, Data, Message, Method, Parsed, Request, Response};

use crate::access::{Access, Attempt, Right, Verdict};
pub use crate::config::Config;
use crate::connection::{Connection, salvage_cseq};
use crate::control::{self, Context};
use crate::delivery::Delivery;
use crate::http::{Serving, Viewers};
use crate::live::{Feed, TrackKind};
use crate::media::{Catalogue, Job, Opened, url_segments};
use crate::publish::{PathStats, Publishing};
use crate::sender::Next;
use crate::session::{ConnId, Program, Session, State};
use crate::sessions::Sessions;
use crate::source::Source;
use crate::speech;
use crate::track::TrackStream;
pub use crate::transmit::{Room, Run, Socket, Transmit};

/// What happened to a session when it ended, for the summary log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// TEARDOWN.
    Teardown,
    /// No news from the client for the session timeout.
    Timeout,
    /// Its RTSP connection closed.
    Disconnect,
    /// The server shut down.
    Shutdown,
    /// Its file is being changed by another process.
    MediaChanged,
}

/// The sans-IO server.
#[derive(Debug)]
pub struct Server {
    config: Config,
    catalogue: Catalogue,
    /// Who may do what, when a users file is given.
    access: Option<Access>,
    /// Paths published into the server (ANNOUNCE, RECORD).
    publishing: Publishing,
    sessions: Sessions,
    connections: HashMap<ConnId, Connection>,
    /// Connections the core wants closed.
    to_close: Vec<ConnId>,
    /// Sender reports and BYEs on their way out.
    reports: Reports,
    /// The earliest stream deadline seen by the last whole transmit pass.
    next_send: Option<Instant>,
    /// The transmit pass under way.
    pass: Pass,
    /// Whether the last [`Server::poll_transmit`] stopped for room: something is due that the
    /// driver's buffer could not take.
    wants_room: bool,
    /// Files to open (map and index) away from the loop, for the driver ([`Server::poll_open`]).
    jobs: VecDeque<Job>,
    /// The names of the files being opened; requests naming them wait ([`Connection::parked`]).
    opening: HashSet<String>,
    /// The HTTP port's connections ([`crate::http`]).
    http: Viewers,
}

/// What the core sends over RTCP (RFC 3550 §6.4.1 sender reports, §6.6 BYE), and the UDP ones
/// waiting to be handed to the driver.
#[derive(Debug)]
struct Reports {
    /// An instant and the wall-clock time at it, for RTCP's NTP timestamps.
    wallclock: (Instant, SystemTime),
    /// Scratch for one compound packet.
    scratch: Vec<u8>,
    /// UDP datagrams waiting for the driver, in order.
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl Reports {
    /// A sender report (with BYE when `bye`) for `session` at `now`: over UDP into the outbox,
    /// interleaved onto its connection. Answers whether one went (a live stream's first report
    /// waits for its first frame: [`crate::stream::Stream::report_clock`]).
    fn send(
        &mut self,
        session: &mut Session,
        publishing: &Publishing,
        connections: &mut HashMap<ConnId, Connection>,
        now: Instant,
        bye: bool,
    ) -> bool {
        let (anchor, wall) = self.wallclock;
        let wall_now = wall + now.saturating_duration_since(anchor);
        // One CNAME for every track of a session (RFC 3550 §6.5.1), so receivers (GStreamer's
        // rtpbin groups by it) line the tracks up.
        let cname = format!("hdstream-{}", session.id);
        let stream = &session.stream;
        let source = control::source_of(&session.program, publishing);
        // A BYE leaves whatever the stream knows; a report waits until it has a mapping.
        let clock = match stream.report_clock(source, now, wall_now) {
            Some(clock) => clock,
            None if bye => (wall_now, stream.next_timestamp(source)),
            None => return false,
        };
        let video = Report {
            ssrc: stream.ssrc,
            clock,
            counters: stream.counters,
        };
        let tracks: Vec<(Delivery, Report)> = session
            .tracks
            .iter()
            .filter_map(|t| {
                let rate = live_clock_rate(session, t.kind, publishing);
                let clock = t.stream.report_clock(now, wall_now, rate);
                let clock = clock.or(bye.then(|| (wall_now, t.stream.next_timestamp())))?;
                let report = Report {
                    ssrc: t.stream.ssrc(),
                    clock,
                    counters: t.stream.counters(),
                };
                Some((t.delivery, report))
            })
            .collect();
        for (delivery, report) in std::iter::once((session.delivery, video)).chain(tracks) {
            let len = sender_report(&report, &cname, &mut self.scratch, bye);
            let packet = &self.scratch[..len];
            deliver_rtcp(session, delivery, packet, connections, &mut self.outbox);
        }
        true
    }
}

/// One transmit pass: every session polled once (more while it has packets due), starting from
/// `cursor`, since the pass began.
#[derive(Debug, Clone, Copy)]
struct Pass {
    active: bool,
    cursor: usize,
    /// The track of the session at `cursor` being polled: 0 its video, then its other tracks.
    part: usize,
    /// What the video of the session at `cursor` wants next.
    video_next: Next,
    next: Option<Instant>,
    /// Whether the last call answered `None` (or there was none yet).
    fresh: bool,
}

impl Default for Pass {
    fn default() -> Pass {
        Pass {
            active: false,
            cursor: 0,
            part: 0,
            video_next: Next::Idle,
            next: None,
            fresh: true,
        }
    }
}

/// What polling one session gave.
enum Step {
    /// A message for the driver, and what its stream wants next.
    Sent(Transmit, Next),
    /// Something is due that the buffer cannot take.
    NoRoom,
    /// Nothing more from it in this pass.
    Done(Next),
}

impl Server {
    /// A server of `catalogue`. `seed` feeds session ids, SSRCs and initial sequence numbers
    /// (the driver passes OS randomness); `wallclock` anchors RTCP's NTP time.
    pub fn new(
        config: Config,
        catalogue: Arc<Catalogue>,
        seed: u64,
        wallclock: (Instant, SystemTime),
    ) -> Server {
        let live_memory = config.live_memory;
        let mut publishing = Publishing::new(live_memory);
        publishing.set_speech(config.speech.is_some());
        let access = config.users.clone().map(|users| {
            let mut rng =
                <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed ^ 0x6175_7468);
            let mut secret = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rng, &mut secret);
            Access::new(users, secret, wallclock.0).with_nonce_lifetime(config.nonce_lifetime)
        });
        Server {
            config,
            catalogue: Arc::unwrap_or_clone(catalogue),
            access,
            publishing,
            sessions: Sessions::new(seed),
            connections: HashMap::new(),
            reports: Reports {
                wallclock,
                scratch: vec![0; 1500],
                outbox: VecDeque::new(),
            },
            to_close: Vec::new(),
            next_send: None,
            pass: Pass::default(),
            wants_room: false,
            jobs: VecDeque::new(),
            opening: HashSet::new(),
            http: Viewers::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The media served.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Sessions alive.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Connections open (RTSP and HTTP).
    pub fn connection_count(&self) -> usize {
        self.connections.len() + self.http.len()
    }

    /// Frames an HTTP connection's `/watch` has sent and skipped (a whole frame that did not
    /// fit its output), while it is open.
    pub fn http_counts(&self, conn: ConnId) -> Option<(u64, u64)> {
        self.http.counts(conn)
    }

    /// Why a new connection from `peer` is refused: [`Config::max_connections`] in all (RTSP
    /// and HTTP together), or [`Config::max_connections_per_address`] from its address.
    fn refusal(&self, peer: SocketAddr) -> Option<&'static str> {
        let total = self.connections.len() + self.http.len();
        let limited = self.config.limit_loopback || !peer.ip().is_loopback();
        let from_peer = if limited {
            self.connections
                .values()
                .map(|c| c.peer)
                .chain(self.http.peers())
                .filter(|p| p.ip() == peer.ip())
                .count()
        } else {
            0
        };
        if total >= self.config.max_connections {
            Some("too many connections to this server")
        } else if from_peer >= self.config.max_connections_per_address {
            Some("too many connections from your address")
        } else {
            None
        }
    }

    /// A connection from `peer` was accepted on the HTTP port ([`crate::http`]). Beyond the
    /// connection limits ([`Server::open`]) it is answered 503 and closed.
    pub fn open_http(&mut self, conn: ConnId, peer: SocketAddr, now: Instant) {
        let refusal = self.refusal(peer);
        self.http.open(conn, peer, now, refusal);
    }

    /// A connection from `peer` was accepted. Beyond [`Config::max_connections`] in all, or
    /// [`Config::max_connections_per_address`] from its address, it is answered 503 at once
    /// and closed.
    pub fn open(&mut self, conn: ConnId, peer: SocketAddr, now: Instant) {
        let mut connection = Connection::new(peer, now);
        if let Some(why) = self.refusal(peer) {
            tracing::warn!(%peer, why, "connection refused");
            let mut response = Response::new(rtsp::StatusCode::SERVICE_UNAVAILABLE);
            response.headers.set("Content-Type", "text/plain");
            response.body = format!("{why}\r\n").into_bytes();
            response.write_to(connection.output_mut());
            connection.close_when_flushed = true;
        }
        self.connections.insert(conn, connection);
    }

    /// [`Server::open`] for a connection that came over TLS (RTSPS).
    pub fn open_tls(&mut self, conn: ConnId, peer: SocketAddr, now: Instant) {
        self.open(conn, peer, now);
        if let Some(c) = self.connections.get_mut(&conn) {
            c.tls = true;
        }
    }

    /// The HTTP connections, and what they are served from (borrowed apart, so both can be
    /// used at once).
    fn http_serving(&mut self) -> (&mut Viewers, Serving<'_>) {
        let serving = Serving {
            config: &self.config,
            catalogue: &mut self.catalogue,
            jobs: &mut self.jobs,
            opening: &mut self.opening,
            publishing: &self.publishing,
            access: self.access.as_mut(),
            sessions: &self.sessions,
            connections: &self.connections,
        };
        (&mut self.http, serving)
    }

    /// Bytes `data` arrived on `conn`.
    pub fn receive(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        if self.http.contains(conn) {
            let (http, mut serving) = self.http_serving();
            if let Some(tunnelled) = http.receive(conn, data, now, &mut serving) {
                self.tunnelled(conn, tunnelled, now);
            }
            return;
        }
        let Some(c) = self.connections.get_mut(&conn) else {
            return;
        };
        if c.close_when_flushed {
            // Refused, or its conversation is over: nothing more is read.
            return;
        }
        c.input.extend_from_slice(data);
        c.last_input = now;
        c.quiet_checked = false;
        self.process(conn, now, false);
    }

    /// The peer closed `conn` (or it failed): its sessions end.
    pub fn close(&mut self, conn: ConnId, now: Instant) {
        if self.http.contains(conn) {
            self.http.close(conn, now);
            return;
        }
        if self.connections.remove(&conn).is_none() {
            return;
        }
        self.http.rtsp_closed(conn);
        self.publishing.closed(conn);
        for id in self.sessions.of_connection(conn) {
            self.end_session(&id, Ending::Disconnect, now);
        }
    }

    /// Connections with bytes waiting to be written.
    pub fn pending_output(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.connections
            .iter()
            .filter(|(_, c)| c.queued() > 0)
            .map(|(&id, _)| id)
            .chain(self.http.pending_output())
    }

    /// Bytes waiting to be written to `conn`.
    pub fn output(&self, conn: ConnId) -> &[u8] {
        match self.connections.get(&conn) {
            Some(c) => c.pending(),
            None => self.http.output(conn),
        }
    }

    /// `n` bytes of [`Server::output`] were written.
    pub fn written(&mut self, conn: ConnId, n: usize) {
        if self.http.contains(conn) {
            self.http.written(conn, n);
            return;
        }
        if let Some(c) = self.connections.get_mut(&conn) {
            c.consume(n);
            if c.queued() == 0 && c.close_when_flushed {
                self.to_close.push(conn);
            }
        }
    }

    /// A connection the core wants closed (the driver then calls [`Server::close`]).
    pub fn poll_close(&mut self) -> Option<ConnId> {
        self.to_close.pop().or_else(|| self.http.poll_close())
    }

    /// Whether the last [`Server::poll_transmit`] answered `None` for want of room (a packet is
    /// due that the buffer could not take), rather than because nothing is due: the driver then
    /// sends what it holds and asks again, or waits for the socket to drain.
    pub fn wants_room(&self) -> bool {
        self.wants_room
    }

    /// Whether `conn` may be read: not while it has [`Config::tcp_queue_limit`] bytes or more
    /// waiting to go out, so a client that sends requests and reads no replies is held back
    /// by TCP flow control instead of growing the server's memory.
    /// Nor while a request of it waits for its file to be opened ([`Server::poll_open`]).
    pub fn wants_input(&self, conn: ConnId) -> bool {
        // A tunnel's POST is read as its GET, the RTSP connection, may be.
        let conn = self.http.tunnel_get(conn).unwrap_or(conn);
        if self.http.contains(conn) {
            return self.http.wants_input(conn, self.config.tcp_queue_limit);
        }
        self.connections
            .get(&conn)
            .is_some_and(|c| c.queued() < self.config.tcp_queue_limit && c.parked.is_none())
    }

    /// A file a DESCRIBE or SETUP named is new (or was replaced): it must be opened, mapped and
    /// indexed, which takes seconds for a large one. The driver runs the job on a thread of its
    /// own (the loop goes on serving everyone else) and hands the result to
    /// [`Server::opened`]; the request, and any after it on its connection, wait until then.
    pub fn poll_open(&mut self) -> Option<Job> {
        self.jobs.pop_front()
    }

    /// A file [`Server::poll_open`] asked for is open (or could not be): the catalogue takes
    /// it, and the requests that waited for it are answered, each connection's later ones
    /// after.
    pub fn opened(&mut self, opened: Opened, now: Instant) {
        let name = opened.name.clone();
        self.opening.remove(&name);
        self.catalogue.install(opened);
        let (http, mut serving) = self.http_serving();
        http.opened(&name, now, &mut serving);
        let mut waiting: Vec<ConnId> = self
            .connections
            .iter()
            .filter(|(_, c)| c.parked.as_ref().is_some_and(|(_, n)| *n == name))
            .map(|(&id, _)| id)
            .collect();
        waiting.sort_unstable();
        for conn in waiting {
            let Some((request, _)) = self
                .connections
                .get_mut(&conn)
                .and_then(|c| c.parked.take())
            else {
                continue;
            };
            self.answer(conn, request, now);
            if let Some(c) = self.connections.get_mut(&conn) {
                c.quiet_checked = false;
            }
            self.process(conn, now, false);
        }
    }

    /// Parses and answers every whole request in `conn`'s input. With `quiet`, a request
    /// without its terminating blank line (the course client's) is taken as whole.
    fn process(&mut self, conn: ConnId, now: Instant, quiet: bool) {
        loop {
            let Some(c) = self.connections.get_mut(&conn) else {
                return;
            };
            if c.parked.is_some() {
                // Later requests wait behind the one waiting for its file, in order.
                return;
            }
            if c.resync {
                if !c.skip_bad_request() {
                    // The bad request has not ended yet: it too must end within the request
                    // timeout (a slow loris after a bad line).
                    c.partial_since.get_or_insert(now);
                    return;
                }
                c.partial_since = None;
            }
            if c.input.is_empty() {
                c.partial_since = None;
                return;
            }
            let parsed = match rtsp::parse(&c.input) {
                Ok(Parsed::Complete { message, consumed }) => {
                    Some((message.into_owned(), consumed))
                }
                Ok(Parsed::Incomplete { .. }) if quiet && c.awaits_quiet() => {
                    match rtsp::parse_unterminated(&c.input) {
                        Ok(Some((message, consumed))) => Some((message.into_owned(), consumed)),
                        Ok(None) => None,
                        Err(e) => {
                            self.reject(conn, &e, now);
                            continue;
                        }
                    }
                }
                Ok(Parsed::Incomplete { .. }) => None,
                Err(e) => {
                    self.reject(conn, &e, now);
                    continue;
                }
            };
            let Some(c) = self.connections.get_mut(&conn) else {
                return;
            };
            let Some((message, consumed)) = parsed else {
                c.partial_since.get_or_insert(now);
                return;
            };
            c.input.drain(..consumed.min(c.input.len()));
            c.partial_since = None;
            match message {
                Message::Request(request) => self.handle(conn, request, now),
                Message::Data(data) => {
                    if !self
                        .publishing
                        .interleaved(conn, data.channel, &data.payload, now)
                    {
                        self.interleaved_rtcp(conn, &data, now);
                    }
                }
                Message::Response(_) => {} // replies to requests we never send: ignored
            }
        }
    }

    /// What a tunnel's half asks ([`crate::http::Tunnelled`]): a GET becomes an RTSP
    /// connection (its HTTP answer first; it must bring a whole request within the request
    /// timeout, as any); a POST's decoded body is its GET's input; a broken tunnel closes.
    fn tunnelled(&mut self, conn: ConnId, tunnelled: crate::http::Tunnelled, now: Instant) {
        match tunnelled {
            crate::http::Tunnelled::Opened { peer, head } => {
                let mut connection = Connection::new(peer, now);
                connection.push(&head);
                connection.partial_since = Some(now);
                self.connections.insert(conn, connection);
            }
            crate::http::Tunnelled::Input { get, bytes } => {
                if !bytes.is_empty() {
                    self.receive(get, &bytes, now);
                }
            }
            crate::http::Tunnelled::Broken { get } => self.to_close.push(get),
        }
    }

    /// Answers a request that could not be parsed, then skips it.
    fn reject(&mut self, conn: ConnId, error: &rtsp::ParseError, _now: Instant) {
        let Some(c) = self.connections.get_mut(&conn) else {
            return;
        };
        let status = error.status_code();
        tracing::info!(peer = %c.peer, %error, status = status.as_u16(), "bad request");
        let mut response = Response::new(status);
        if let Some(cseq) = salvage_cseq(&c.input) {
            response.headers.set_typed(&rtsp::header::CSeq(cseq));
        }
        response.write_to(c.output_mut());
        c.resync = true;
        c.partial_since = None;
    }

    /// RTCP from the client on an interleaved channel.
    fn interleaved_rtcp(&mut self, conn: ConnId, data: &Data<'_>, now: Instant) {
        let session = self.sessions.iter_mut().find(|s| {
            s.conn == conn
                && s.deliveries()
                    .any(|d| matches!(d, Delivery::Tcp { rtcp, .. } if rtcp == data.channel))
        });
        if let Some(session) = session {
            heard_rtcp(session, &data.payload, now);
        }
    }

    /// RTP arrived on the server's RTP socket from `from` (a publisher's, over UDP).
    pub fn receive_rtp(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        if !self.publishing.udp(from, data, now) {
            tracing::trace!(%from, "RTP from an unknown address");
        }
    }

    /// What each published path has received.
    pub fn published(&self) -> Vec<PathStats> {
        self.publishing.stats()
    }

    /// The final figures of published paths that ended since the last call.
    pub fn take_ended_publishing(&mut self) -> Vec<PathStats> {
        self.publishing.take_ended()
    }

    /// Captions from speech ([`crate::speech`]): the next recogniser the driver must start
    /// or stop.
    pub fn poll_speech(&mut self) -> Option<speech::Command> {
        self.publishing.poll_speech()
    }

    /// Sound waiting for recogniser `id`'s stdin: 16 kHz mono, 16-bit little-endian.
    pub fn speech_input(&self, id: speech::ListenerId) -> &[u8] {
        self.publishing.speech_input(id)
    }

    /// `n` bytes of [`Server::speech_input`] were written to recogniser `id`.
    pub fn speech_written(&mut self, id: speech::ListenerId, n: usize) {
        self.publishing.speech_written(id, n);
    }

    /// How many bytes of recogniser `id`'s output the core takes at `now` (0: read none now;
    /// [`Server::poll_timeout`] says when to ask again). A recogniser that prints more than
    /// that waits on its full pipe.
    pub fn speech_read_room(&mut self, id: speech::ListenerId, now: Instant) -> usize {
        self.publishing.speech_read_room(id, now)
    }

    /// Bytes recogniser `id` printed, read at `now`: its lines become captions.
    pub fn speech_output(&mut self, id: speech::ListenerId, bytes: &[u8], now: Instant) {
        self.publishing.speech_output(id, bytes, now);
    }

    /// Recogniser `id` ended, or could not be started, at `now`.
    pub fn speech_exited(&mut self, id: speech::ListenerId, exit: speech::Exit, now: Instant) {
        self.publishing.speech_exited(id, exit, now);
    }

    /// RTCP arrived on the server's RTCP socket from `from`.
    pub fn receive_rtcp(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        if self.publishing.udp_rtcp(from, data, now) {
            return;
        }
        match self.sessions.by_rtcp_peer(from) {
            Some(session) => heard_rtcp(session, data, now),
            None => tracing::debug!(%from, "RTCP from an unknown address"),
        }
    }

    /// The next UDP message due at `now`, written at the end of `buf` within `room`; `None`
    /// when nothing more is due now (or, see [`Server::wants_room`], nothing more fits).
    /// Interleaved packets go onto their connections meanwhile. Call until `None`; a transmit
    /// pass — every session once, sessions and connections whose time is up reclaimed first —
    /// ends with that `None`, and [`Server::poll_timeout`] then says when the next is due.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        room: Room,
        buf: &mut Vec<u8>,
    ) -> Option<Transmit> {
        self.wants_room = false;
        if self.pass.fresh {
            // The first call since a `None`: the driver is back from waiting. Time-outs first,
            // also when a full socket keeps a pass from ending.
            self.pass.fresh = false;
            self.expire(now);
            self.publishers_gone(now);
            self.publishing.speech_tick(now);
            // HTTP viewers' parts due now go onto their connections.
            self.http.serve(now, &self.config, &self.publishing);
        }
        if !self.pass.active {
            self.pass = Pass {
                active: true,
                fresh: false,
                ..Pass::default()
            };
        }
        let none = self.poll_session_runs(now, room, buf);
        if none.is_none() {
            self.pass.fresh = true;
        }
        none
    }

    /// [`Server::poll_transmit`] after the time-outs: the outbox, then the sessions from the
    /// pass's cursor.
    fn poll_session_runs(
        &mut self,
        now: Instant,
        room: Room,
        buf: &mut Vec<u8>,
    ) -> Option<Transmit> {
        loop {
            if let Some((to, packet)) = self.reports.outbox.front() {
                if packet.len() > room.rtcp_bytes {
                    self.wants_room = true;
                    return None;
                }
                let transmit = Transmit {
                    socket: Socket::Rtcp,
                    destination: *to,
                    size: packet.len(),
                    segment_size: None,
                };
                buf.extend_from_slice(packet);
                self.reports.outbox.pop_front();
                return Some(transmit);
            }
            let cursor = self.pass.cursor;
            let Some(session) = self.sessions.at_mut(cursor) else {
                self.pass.active = false;
                self.next_send = self.pass.next;
                return None;
            };
            let limit = self.config.tcp_queue_limit;
            // The file's map is shared with the session: a clone of the Arc lends it here.
            let file = session.program.file().cloned();
            let source: Option<&dyn Source> = match (&file, &session.program) {
                (Some(media), _) => Some(media.as_ref()),
                (None, Program::Live(path)) => self.publishing.feed(path).map(|f| f as &dyn Source),
                (None, Program::File(_)) => None,
            };
            let part = self.pass.part;
            let parts = 1 + session.tracks.len();
            let feed = match &session.program {
                Program::Live(path) => self.publishing.feed(path),
                Program::File(_) => None,
            };
            if caption_wants_report(session, part, feed, now) {
                // ffmpeg times T.140 by the last sender report: one goes right before each
                // caption (crate::captions), and the outbox leaves first.
                let publishing = &self.publishing;
                self.reports
                    .send(session, publishing, &mut self.connections, now, false);
                continue;
            }
            let step = match source {
                Some(source) => poll_part(
                    session,
                    part,
                    source,
                    feed,
                    &mut self.connections,
                    limit,
                    now,
                    room,
                    buf,
                ),
                None => Step::Done(Next::Idle),
            };
            match step {
                Step::Sent(transmit, Next::Held) => return Some(transmit),
                Step::Sent(transmit, next) => {
                    // Its run is all it has now: done with this track in this pass.
                    self.part_polled(cursor, parts, next, now);
                    return Some(transmit);
                }
                Step::NoRoom => {
                    self.wants_room = true;
                    return None;
                }
                Step::Done(next) => self.part_polled(cursor, parts, next, now),
            }
        }
    }

    /// Runs a whole transmit pass with room for everything and hands each datagram to `each`:
    /// for drivers without a send buffer of their own (in-memory links, simulations).
    pub fn transmit_all(&mut self, now: Instant, each: &mut dyn FnMut(Socket, SocketAddr, &[u8])) {
        let room = Room {
            rtp_bytes: usize::MAX,
            rtcp_bytes: usize::MAX,
            segments: usize::MAX,
            message_bytes: usize::MAX,
        };
        let mut buf = Vec::new();
        while let Some(transmit) = self.poll_transmit(now, room, &mut buf) {
            for datagram in transmit.datagrams(&buf) {
                each(transmit.socket, transmit.destination, datagram);
            }
            buf.clear();
        }
    }

    /// Track `self.pass.part` of session `at` (of `parts`) has nothing more in this pass: on
    /// to its next track, or, after its last, to the next session.
    fn part_polled(&mut self, at: usize, parts: usize, next: Next, now: Instant) {
        if self.pass.part == 0 {
            self.pass.video_next = next;
        } else if let Next::At(t) = next {
            self.pass.next = Some(self.pass.next.map_or(t, |n| n.min(t)));
        }
        self.pass.part += 1;
        if self.pass.part < parts {
            return;
        }
        self.pass.part = 0;
        self.pass.cursor += 1;
        let video = std::mem::replace(&mut self.pass.video_next, Next::Idle);
        self.session_polled(at, video, now);
    }

    /// Session `at` has nothing more in this pass (`next` from its video): its next deadline,
    /// its sender report when due, BYE at the end of the file.
    fn session_polled(&mut self, at: usize, next: Next, now: Instant) {
        let Some(session) = self.sessions.at_mut(at) else {
            return;
        };
        let mut earliest = |t: Instant| {
            self.pass.next = Some(self.pass.next.map_or(t, |n| n.min(t)));
        };
        if let Next::At(t) = next {
            earliest(t);
        }
        session.rate.note(now, session.counters().octets);
        if next == Next::Ended {
            session.state = State::Ready;
            session.ended = true;
            for track in &mut session.tracks {
                track.stream.pause(now);
            }
            self.reports
                .send(session, &self.publishing, &mut self.connections, now, true);
            tracing::info!(session = %session.id, frames = session.stream.counters.frames, "end of file: BYE sent");
            return;
        }
        if session.state != State::Playing {
            return;
        }
        if now >= session.next_report
            && self
                .reports
                .send(session, &self.publishing, &mut self.connections, now, false)
        {
            session.next_report = now + self.config.report_interval;
        }
        earliest(session.next_report);
    }

    /// The earliest instant something is due: a packet, a report, a timeout, a quiet course
    /// request.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timeout = self.config.session_timeout;
        let sessions = self.sessions.iter().map(|s| s.expires(timeout));
        let connections = self.connections.values().filter_map(|c| {
            let quiet = c
                .awaits_quiet()
                .then(|| c.last_input + self.config.quiet_delay);
            let partial = c.partial_since.map(|p| p + self.config.request_timeout);
            quiet.into_iter().chain(partial).min()
        });
        let publishers = self.publishing.next_expiry(self.config.publish_timeout);
        let speech = self.publishing.speech_deadline();
        let http = self.http.poll_timeout(&self.config);
        sessions
            .chain(connections)
            .chain(self.next_send)
            .chain(publishers)
            .chain(speech)
            .chain(http)
            .min()
    }

    /// Reclaims sessions that have timed out, closes slow-loris connections, and takes quiet
    /// course requests.
    fn expire(&mut self, now: Instant) {
        let timeout = self.config.session_timeout;
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| now >= s.expires(timeout))
            .map(|s| s.id.clone())
            .collect();
        for id in expired {
            self.end_session(&id, Ending::Timeout, now);
        }
        for conn in self.publishing.expire(now, self.config.publish_timeout) {
            tracing::info!(conn, "publisher silent: closing its connection");
            self.to_close.push(conn);
        }
        let mut quiet = Vec::new();
        for (&id, c) in &self.connections {
            if c.partial_since
                .is_some_and(|p| now >= p + self.config.request_timeout)
            {
                tracing::info!(peer = %c.peer, "request not complete in time: closing");
                self.to_close.push(id);
            } else if c.awaits_quiet() && now >= c.last_input + self.config.quiet_delay {
                quiet.push(id);
            }
        }
        for conn in quiet {
            self.process(conn, now, true);
            if let Some(c) = self.connections.get_mut(&conn) {
                c.quiet_checked = true;
            }
        }
    }

    /// Ends a session: BYE to the client (UDP: queued for the next transmit pass), the summary
    /// log line.
    fn end_session(&mut self, id: &str, why: Ending, now: Instant) {
        let Some(mut session) = self.sessions.remove(id) else {
            return;
        };
        if !session.ended && why != Ending::Disconnect {
            let publishing = &self.publishing;
            self.reports
                .send(&mut session, publishing, &mut self.connections, now, true);
        }
        let reason = match why {
            Ending::Teardown => "teardown",
            Ending::Timeout => "timeout",
            Ending::Disconnect => "disconnect",
            Ending::Shutdown => "shutdown",
            Ending::MediaChanged => "media file changed",
        };
        log_summary(&session, reason, now);
    }

    /// Viewers of paths whose publisher left get RTCP BYE (RFC 3550 §6.6); their sessions stay,
    /// and go on if a publisher resumes the path.
    fn publishers_gone(&mut self, now: Instant) {
        for path in self.publishing.take_gone() {
            for session in self.sessions.iter_mut() {
                if matches!(&session.program, Program::Live(p) if *p == path)
                    && session.state == State::Playing
                {
                    self.reports
                        .send(session, &self.publishing, &mut self.connections, now, true);
                    tracing::info!(session = %session.id, path, "publisher gone: BYE sent");
                }
            }
        }
    }

    /// A media file may be changing (the driver got SIGIO, a lease break): the files whose
    /// lease is being broken are dropped, and the sessions playing them end with BYE, so the
    /// process writing the file can go on. The next DESCRIBE sees the file as it then is.
    pub fn media_changed(&mut self, now: Instant) {
        let retired = self.catalogue.retire_broken();
        if retired.is_empty() {
            return;
        }
        self.http.retire(&retired);
        let ending: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| s.program.file().is_some_and(|m| retired.contains(&m.name)))
            .map(|s| s.id.clone())
            .collect();
        for id in ending {
            self.end_session(&id, Ending::MediaChanged, now);
        }
    }

    /// Ends every session with BYE (SIGINT/SIGTERM); the driver then polls
    /// [`Server::poll_transmit`] once more and flushes the connections.
    pub fn shutdown(&mut self, now: Instant) {
        for id in self.sessions.ids() {
            self.end_session(&id, Ending::Shutdown, now);
        }
    }

    /// With a users file: the reply that refuses `request` (401 with challenges, 403, or 503
    /// to an address that failed too often, whose connection then closes), or `None` to go
    /// on. OPTIONS and the course's dialect (which cannot authenticate) are not checked.
    fn authorize(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        request: &Request,
        now: Instant,
    ) -> Option<Response> {
        let access = self.access.as_mut()?;
        if request.method == Method::Options || request.is_course_dialect() {
            return None;
        }
        let path = match self.catalogue.lookup(&request.uri) {
            Ok((media, _track)) => media.name.clone(),
            Err(_) => url_segments(&request.uri)
                .map(|s| s.join("/"))
                .unwrap_or_default(),
        };
        let right = match request.method {
            Method::Announce | Method::Record => Right::Publish,
            Method::Setup if control::records(request) => Right::Publish,
            _ => Right::Read,
        };
        let attempt = Attempt {
            peer: peer.ip(),
            method: request.method.as_str(),
            uri: &request.uri,
            path: &path,
            right,
            authorization: request.headers.get("Authorization"),
            tls: self.connections.get(&conn).is_some_and(|c| c.tls),
        };
        let (status, challenges) = match access.check(&attempt, now) {
            Verdict::Allowed(_) => return None,
            Verdict::Challenge(challenges) => (rtsp::StatusCode::UNAUTHORIZED, challenges),
            Verdict::Forbidden(_) => (rtsp::StatusCode::FORBIDDEN, Vec::new()),
            Verdict::Refused => {
                self.to_close.push(conn);
                (rtsp::StatusCode::SERVICE_UNAVAILABLE, Vec::new())
            }
        };
        let mut response = Response::reply_to(request, status);
        for challenge in challenges {
            response.headers.append("WWW-Authenticate", challenge);
        }
        Some(response)
    }

    /// Answers one request and queues the reply; a DESCRIBE or SETUP that names a file new to
    /// the catalogue (or replaced) waits for it to be opened ([`Server::poll_open`]).
    fn handle(&mut self, conn: ConnId, request: Request, now: Instant) {
        if matches!(request.method, Method::Describe | Method::Setup)
            && let Some(job) = self.catalogue.check(&request.uri)
        {
            let Some(c) = self.connections.get_mut(&conn) else {
                return;
            };
            tracing::debug!(file = %job.path.display(), "opening a new media file");
            let name = job.name.clone();
            if self.opening.insert(name.clone()) {
                self.jobs.push_back(job);
            }
            c.parked = Some((request, name));
            return;
        }
        self.answer(conn, request, now);
    }

    /// Answers one request, its file (if any) as the catalogue has it, and queues the reply.
    fn answer(&mut self, conn: ConnId, request: Request, now: Instant) {
        let Some(peer) = self.connections.get(&conn).map(|c| c.peer) else {
            return;
        };
        if let Some(response) = self.authorize(conn, peer, &request, now) {
            tracing::info!(
                %peer,
                method = request.method.as_str(),
                url = %rtsp::auth::split_userinfo(&request.uri).0,
                status = response.status.as_u16(),
                "request"
            );
            if let Some(c) = self.connections.get_mut(&conn) {
                response.write_to(c.output_mut());
            }
            return;
        }
        let mut cx = Context {
            config: &self.config,
            catalogue: &self.catalogue,
            publishing: &mut self.publishing,
            sessions: &mut self.sessions,
            conn,
            peer,
            now,
        };
        let answer = control::respond(&mut cx, &request);
        if let (Some(id), true) = (&answer.session, answer.ends_session) {
            self.end_session(id, Ending::Teardown, now);
        }
        tracing::info!(
            %peer,
            method = request.method.as_str(),
            url = %rtsp::auth::split_userinfo(&request.uri).0,
            session = answer.session.as_deref().unwrap_or("-"),
            status = answer.response.status.as_u16(),
            "request"
        );
        let Some(c) = self.connections.get_mut(&conn) else {
            return;
        };
        if request.is_course_dialect() {
            let cseq = request.cseq().and_then(Result::ok).map_or(0, |c| c.0);
            // The caching variant's client reads the file's length from a fourth line.
            let total_frames = answer
                .session
                .as_deref()
                .and_then(|id| self.sessions.get(id))
                .and_then(|s| s.program.file())
                .map(|m| m.file.len());
            let id = answer.session.as_deref().unwrap_or("0");
            let out = rtsp::course::reply(answer.response.status, cseq, id, total_frames);
            c.push(&out);
        } else {
            answer.response.write_to(c.output_mut());
        }
    }
}

/// A session heard RTCP from its client: it stays alive (RFC 2326 §12.37); reports are logged.
fn heard_rtcp(session: &mut Session, data: &[u8], now: Instant) {
    session.last_heard = now;
    session.rtcp_received += 1;
    match rtcp::Compound::parse(data) {
        Ok(compound) => {
            for packet in compound.iter() {
                if let rtcp::Packet::Nack(nack) = packet
                    && nack.media_ssrc() == session.stream.ssrc
                {
                    tracing::debug!(session = %session.id, lost = ?nack.lost().collect::<Vec<_>>(), "NACK");
                    session.nacks += 1;
                    session.stream.nack(nack.lost());
                }
                if let rtcp::Packet::ReceiverReport(rr) = packet {
                    for block in rr.report_blocks() {
                        if block.ssrc == session.stream.ssrc {
                            session.reported = Some(block);
                        }
                        tracing::debug!(
                            session = %session.id,
                            fraction_lost = block.fraction_lost,
                            cumulative_lost = block.cumulative_lost,
                            jitter = block.jitter,
                            "receiver report"
                        );
                    }
                }
            }
        }
        Err(e) => tracing::debug!(session = %session.id, error = %e, "bad RTCP"),
    }
}

/// Whether part `part` of `session` is a file's captions with a cue due whose sender report
/// has not gone; if so, it is marked as gone.
fn caption_wants_report(
    session: &mut Session,
    part: usize,
    feed: Option<&Feed>,
    now: Instant,
) -> bool {
    let Session {
        program, tracks, ..
    } = session;
    let cues = program.file().and_then(|m| m.captions.as_deref());
    let Some(track) = part.checked_sub(1).and_then(|i| tracks.get_mut(i)) else {
        return false;
    };
    let packets = feed.and_then(|f| f.track(TrackKind::Captions));
    match (&mut track.stream, cues, packets) {
        (TrackStream::Captions(s), Some(cues), _) if s.wants_report(cues, now) => {
            s.reported();
            true
        }
        (TrackStream::Live(s), _, Some(packets))
            if track.kind == TrackKind::Captions && s.wants_report(packets) =>
        {
            s.reported(packets);
            true
        }
        _ => false,
    }
}

/// The RTP clock rate of a live path's `kind` of track (RTP timestamp units per second).
fn live_clock_rate(session: &Session, kind: TrackKind, publishing: &Publishing) -> u32 {
    match &session.program {
        Program::Live(path) => publishing
            .feed(path)
            .and_then(|f| f.track(kind))
            .map_or(8000, |t| t.clock_rate),
        Program::File(_) => 8000,
    }
}

/// What one track's sender report says (RFC 3550 §6.4.1).
struct Report {
    ssrc: u32,
    /// The wall clock and the RTP timestamp it maps to.
    clock: (SystemTime, u32),
    counters: crate::sender::Counters,
}

/// Writes a sender report + SDES CNAME (+ BYE) compound (RFC 3550 §6.1) into `out`.
fn sender_report(report: &Report, cname: &str, out: &mut [u8], bye: bool) -> usize {
    let (ntp, rtp_timestamp) = report.clock;
    let info = rtcp::SenderInfo {
        ssrc: report.ssrc,
        ntp_timestamp: rtcp::NtpTimestamp::from_system_time(ntp),
        rtp_timestamp,
        packet_count: report.counters.packets as u32,
        octet_count: report.counters.octets as u32,
    };
    let mut writer = rtcp::Writer::new(out);
    let ok = writer.sender_report(&info, &[]).is_ok()
        && writer.cname(report.ssrc, cname.as_bytes()).is_ok()
        && (!bye
            || writer
                .goodbye(&[report.ssrc], Some(b"end of stream"))
                .is_ok());
    if ok { writer.finish() } else { 0 }
}

/// A stream's `send`: appends the packets due to a buffer, each once the acceptor takes it.
type Send<'s> = dyn FnMut(&mut Vec<u8>, &mut dyn FnMut(usize, &mut Vec<u8>) -> bool) -> Next + 's;

/// Polls one of `session`'s tracks: `part` 0 is the video, then its other tracks.
#[allow(clippy::too_many_arguments)]
fn poll_part(
    session: &mut Session,
    part: usize,
    source: &dyn Source,
    feed: Option<&Feed>,
    connections: &mut HashMap<ConnId, Connection>,
    tcp_queue_limit: usize,
    now: Instant,
    room: Room,
    buf: &mut Vec<u8>,
) -> Step {
    let conn = session.conn;
    // The video's `send` or another track's, each a closure of its own type.
    let mut video;
    let mut other;
    let (send, delivery): (&mut Send<'_>, Delivery) = if part == 0 {
        let stream = &mut session.stream;
        video = move |out: &mut Vec<u8>, accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool| {
            stream.send(source, now, out, accept)
        };
        (&mut video, session.delivery)
    } else {
        let file = session.program.file();
        let file_sound = file.and_then(|m| m.sound.as_ref());
        let cues = file.and_then(|m| m.captions.as_deref()).unwrap_or_default();
        let Some(track) = session.tracks.get_mut(part - 1) else {
            return Step::Done(Next::Idle);
        };
        let packets = feed.and_then(|f| f.track(track.kind));
        let stream = &mut track.stream;
        other = move |out: &mut Vec<u8>, accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool| match (
            &mut *stream,
            file_sound,
            packets,
        ) {
            (TrackStream::File(s), Some(sound), _) => s.send(sound, now, out, accept),
            (TrackStream::Captions(s), _, _) => s.send(cues, now, out, accept),
            (TrackStream::Live(s), _, Some(packets)) => s.send(packets, now, out, accept),
            _ => Next::Idle,
        };
        (&mut other, track.delivery)
    };
    poll_stream(
        delivery,
        conn,
        send,
        connections,
        tcp_queue_limit,
        room,
        buf,
    )
}

/// Polls one stream: over UDP, one run of due packets written into `buf`; over TCP, every
/// due packet onto its connection (up to `tcp_queue_limit` queued).
fn poll_stream(
    delivery: Delivery,
    conn: ConnId,
    send: &mut Send<'_>,
    connections: &mut HashMap<ConnId, Connection>,
    tcp_queue_limit: usize,
    room: Room,
    buf: &mut Vec<u8>,
) -> Step {
    match delivery {
        Delivery::Udp { rtp, .. } => {
            let mut run = Run::new(room);
            let next = send(buf, &mut |len, _| run.offer(len));
            match (run.transmit(Socket::Rtp, rtp), next) {
                (Some(transmit), next) => Step::Sent(transmit, next),
                (None, Next::Held) => Step::NoRoom,
                (None, next) => Step::Done(next),
            }
        }
        Delivery::Tcp { rtp: channel, .. } => {
            let Some(c) = connections.get_mut(&conn) else {
                return Step::Done(Next::Idle);
            };
            let mut queued = c.queued();
            let mut frame = |len: usize, out: &mut Vec<u8>| {
                let Ok(header) = Data::header(channel, len) else {
                    return false;
                };
                if queued >= tcp_queue_limit {
                    return false;
                }
                queued += header.len() + len;
                out.extend_from_slice(&header);
                true
            };
            match send(c.output_mut(), &mut frame) {
                // The connection is full: the stream waits for it to drain.
                Next::Held => Step::Done(Next::Idle),
                next => Step::Done(next),
            }
        }
    }
}

/// Sends an RTCP packet to a session's client, for the track that goes to `delivery`: UDP
/// through the outbox, interleaved onto its connection.
fn deliver_rtcp(
    session: &Session,
    delivery: Delivery,
    packet: &[u8],
    connections: &mut HashMap<ConnId, Connection>,
    outbox: &mut VecDeque<(SocketAddr, Vec<u8>)>,
) {
    if packet.is_empty() || session.course {
        return;
    }
    match delivery {
        Delivery::Udp { rtcp: Some(to), .. } => outbox.push_back((to, packet.to_vec())),
        Delivery::Udp { rtcp: None, .. } => {}
        Delivery::Tcp { rtcp, .. } => {
            if let (Some(c), Ok(header)) = (
                connections.get_mut(&session.conn),
                Data::header(rtcp, packet.len()),
            ) {
                c.push(&header);
                c.push(packet);
            }
        }
    }
}

/// The end-of-session summary line.
fn log_summary(session: &Session, reason: &str, now: Instant) {
    let c = session.stream.counters;
    let secs = session
        .first_play
        .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
    let mbps = if secs > 0.0 {
        c.octets as f64 * 8.0 / secs / 1e6
    } else {
        0.0
    };
    tracing::info!(
        session = %session.id,
        peer = %session.peer,
        media = %session.program.name(),
        reason,
        frames = c.frames,
        packets = c.packets,
        bytes = c.octets,
        skipped = c.skipped,
        unsendable = c.unsendable,
        seconds = format_args!("{secs:.2}"),
        mbit_per_s = format_args!("{mbps:.2}"),
        "session ended"
    );
}

#[cfg(test)]
mod tests;
