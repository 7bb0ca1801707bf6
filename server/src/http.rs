//! The HTTP port (`--http`): Motion-JPEG for browsers beside RTSP, from the same mapped files
//! and live frames, on the same event loop. Sans-IO like the rest of the core: bytes and `now`
//! in, bytes out; the driver owns the sockets and the clock.
//!
//! - `GET /watch/<path>`: `multipart/x-mixed-replace`, one whole JPEG per part
//!   ([`hdstream_common::http::Multipart`]) at the stream's pace — what an `<img>` tag plays
//!   from an IP camera, and what ffmpeg's `mpjpeg` demuxer (so OpenCV) reads at any size. A
//!   file's frames go straight from its mapping into the connection's output, frame *n* due
//!   *n / fps* after the request; at the end the body ends (to an HTTP/1.1 client each part
//!   travels as one chunk, and the last chunk ends it cleanly; see [`Body`]) and so does the
//!   connection, unless the server loops files (`--loop`), as for RTSP. A live path's
//!   viewer gets the newest frame at once and every frame published after it.
//! - `GET /snapshot/<path>`: one `image/jpeg` — a live path's newest frame, or a file's frame
//!   at `?t=SECONDS` (default 0): frame ⌊t · fps⌋.
//! - HEAD answers the same heads without bodies; other methods get 405.
//!
//! Paths name what RTSP names ([`crate::media::Catalogue::lookup`], which refuses `..`;
//! `live/<name>` through [`crate::publish::live_path`]), with the same users and rights
//! ([`crate::access::Access`]: Digest, RFC 7616, over `GET`/`HEAD` and the request-target). A
//! file new to the catalogue (or replaced) is opened off the loop as for a DESCRIBE, the request
//! waiting meanwhile.
//!
//! Limits: a request head must arrive whole within [`Config::request_timeout`] of the
//! connection (slow loris), and within the parser's bounds (414, 431); connections count
//! against [`Config::max_connections`] and [`Config::max_connections_per_address`] with RTSP's
//! (503 and close beyond); a viewer's output holds at most [`Config::tcp_queue_limit`] bytes
//! (or one frame): a frame that does not fit whole is skipped for that viewer and counted, so a
//! slow reader drops frames and never grows the server; one whose output has not moved for
//! [`Config::session_timeout`] is closed. Every response ends its connection
//! (`Connection: close`) — but the two halves of an RTSP-over-HTTP tunnel ([`tunnel`]): the
//! GET becomes an RTSP connection of the core, the POST's body its input.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_common::http::{self, Multipart, Parsed, Request, Response, StatusCode};

use crate::access::{Access, Attempt, Right, Verdict};
use crate::config::Config;
use crate::connection::Connection;
use crate::media::{Catalogue, Job, LookupError};
use crate::ops::{self, Snapshot};
use crate::page;
use crate::publish::{Publishing, live_path};
use crate::session::{ConnId, Program};
use crate::sessions::Sessions;
use crate::source::Source;
use crate::tally;

mod tunnel;
pub use tunnel::Tunnelled;

/// The multipart boundary of `/watch` bodies: no JPEG marker begins with `-`.
pub const BOUNDARY: &str = "hdstream-mjpeg-frame";
/// The type of every part, and of a snapshot.
const JPEG: &str = "image/jpeg";

/// Every HTTP connection of the core, by the driver's connection id.
#[derive(Debug, Default)]
pub struct Viewers {
    viewers: HashMap<ConnId, Viewer>,
    /// Connections to close (their conversation is over and flushed, or they broke a limit).
    to_close: Vec<ConnId>,
    parser: http::Parser,
    /// The tunnels' cookies ([`tunnel`]).
    cookies: tunnel::Cookies,
    /// What the viewers that left were sent ([`crate::ops`]'s counters never go down).
    departed: tally::Departed,
}

/// One HTTP connection: its request as it arrives, then what it is being sent.
#[derive(Debug)]
pub struct Viewer {
    /// The peer.
    pub peer: SocketAddr,
    /// Received, while the request head is incomplete.
    input: Vec<u8>,
    /// To send; `output[sent..]` is still pending.
    output: Vec<u8>,
    sent: usize,
    /// When it was accepted: the head must be whole by [`Config::request_timeout`] after.
    opened: Instant,
    /// Whether output was written since the last pass, and when that was last seen.
    progressed: bool,
    last_progress: Instant,
    phase: Phase,
    /// Close once the output has gone.
    close_when_flushed: bool,
    /// Handed to the driver to close ([`Viewers::poll_close`]): once only.
    closing: bool,
    /// The request line, for the log.
    target: String,
    /// What its `/watch` plays (a file's name or a live path), for the log when it leaves.
    watched: Option<String>,
    /// Frames sent and skipped (a whole frame that did not fit the output).
    frames: u64,
    skipped: u64,
    /// Bytes written to it.
    bytes: u64,
}

#[derive(Debug)]
enum Phase {
    /// The request head is arriving.
    Reading,
    /// The request names a file being opened (its URL name): it is answered when the file is
    /// ([`Viewers::opened`]).
    Parked(Request, String),
    /// `/watch`: parts go out as frames fall due.
    Watching(Watch),
    /// An operations request (`/api/v1/...`, `/metrics`), allowed: answered from a snapshot
    /// of the whole core once this viewer is no longer borrowed ([`Viewers::receive`]).
    Ops(Ops, bool),
    /// Answered: the output drains, then the connection closes.
    Answered,
    /// The POST of a tunnel: its body is RTSP for the core ([`tunnel`]).
    Tunnel(tunnel::Post),
}

/// An operations answer ([`crate::ops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ops {
    /// `GET /`: the index page for people ([`crate::page::index`]).
    Index,
    /// `GET /api/v1/paths`.
    Paths,
    /// `GET /api/v1/sessions`.
    Sessions,
    /// `GET /metrics`.
    Metrics,
}

/// A `/watch` in progress.
#[derive(Debug)]
struct Watch {
    program: Program,
    /// The next frame to send (a file: by its index; a live path: by the feed's numbering).
    next: usize,
    /// When frame 0 of the file (of this loop of it) was due.
    start: Instant,
    body: Body,
}

/// How a `/watch` body is framed: multipart parts, each in a chunk of its own for HTTP/1.1
/// (RFC 9112 §7.1, so the end of a file is a clean end of the body — ffmpeg reports a body
/// ended by the connection's close as cut short), or up to the connection's close for HTTP/1.0.
#[derive(Debug, Clone)]
struct Body {
    multipart: Multipart,
    chunked: bool,
}

/// What answering a request needs from the core.
#[derive(Debug)]
pub struct Serving<'a> {
    /// The settings.
    pub config: &'a Config,
    /// The files: a request naming one that is new, replaced or gone is checked
    /// ([`Catalogue::check`]) and waits while it is opened.
    pub catalogue: &'a mut Catalogue,
    /// Files to open away from the loop ([`crate::core::Server::poll_open`]).
    pub jobs: &'a mut VecDeque<Job>,
    /// The names of the files being opened (one job a file, however many ask).
    pub opening: &'a mut HashSet<String>,
    /// The live paths.
    pub publishing: &'a Publishing,
    /// Who may watch, when a users file is given.
    pub access: Option<&'a mut Access>,
    /// The RTSP sessions, for the operations API ([`crate::ops`]).
    pub sessions: &'a Sessions,
    /// The RTSP connections (which are TLS), for the operations API.
    pub connections: &'a HashMap<ConnId, Connection>,
}

impl Viewers {
    /// HTTP connections open.
    pub fn len(&self) -> usize {
        self.viewers.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.viewers.is_empty()
    }

    /// Whether `conn` is an HTTP connection.
    pub fn contains(&self, conn: ConnId) -> bool {
        self.viewers.contains_key(&conn)
    }

    /// The peers of the connections open, for the connection limits.
    pub fn peers(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.viewers.values().map(|v| v.peer)
    }

    /// A connection from `peer` was accepted; `refusal` (the core's connection limits) answers
    /// it 503 at once and closes it.
    pub fn open(&mut self, conn: ConnId, peer: SocketAddr, now: Instant, refusal: Option<&str>) {
        let mut viewer = Viewer {
            peer,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            opened: now,
            progressed: false,
            last_progress: now,
            phase: Phase::Reading,
            close_when_flushed: false,
            closing: false,
            target: String::new(),
            watched: None,
            frames: 0,
            skipped: 0,
            bytes: 0,
        };
        if let Some(why) = refusal {
            tracing::warn!(%peer, why, "HTTP connection refused");
            viewer.answer(
                Response::new(StatusCode::SERVICE_UNAVAILABLE),
                &format!("{why}\r\n"),
                false,
            );
        }
        self.viewers.insert(conn, viewer);
    }

    /// Bytes `data` arrived on `conn`: the request head grows until it is whole, then it is
    /// answered. Bytes after the head are not looked at (every response ends the connection),
    /// but for a tunnel's POST, whose body is RTSP for the core: the answer says what the core
    /// is to do for a tunnel ([`Tunnelled`]; a GET's connection then leaves the viewers).
    pub fn receive(
        &mut self,
        conn: ConnId,
        data: &[u8],
        now: Instant,
        serving: &mut Serving<'_>,
    ) -> Option<Tunnelled> {
        let viewer = self.viewers.get_mut(&conn)?;
        if matches!(viewer.phase, Phase::Tunnel(_)) {
            return tunnel_input(viewer, conn, data, &mut self.to_close);
        }
        if !matches!(viewer.phase, Phase::Reading) {
            return None;
        }
        viewer.input.extend_from_slice(data);
        let mut tunnelled = None;
        match self.parser.parse(&viewer.input) {
            Ok(Parsed::Incomplete) => {}
            Ok(Parsed::Complete { request, consumed }) => {
                let rest = viewer.input.split_off(consumed.min(viewer.input.len()));
                viewer.input = Vec::new();
                viewer.target = request.target.clone();
                match http::tunnel::classify(&request) {
                    None => {
                        respond(viewer, request, now, serving, true);
                        if let Phase::Ops(which, head_only) = viewer.phase {
                            self.answer_ops(conn, which, head_only, now, serving);
                            return None;
                        }
                    }
                    Some(half) => {
                        tunnelled = self.tunnel_request(conn, &request, half, &rest);
                        if matches!(tunnelled, Some(Tunnelled::Opened { .. })) {
                            // An RTSP connection of the core from now on.
                            self.viewers.remove(&conn);
                            return tunnelled;
                        }
                    }
                }
            }
            Err(e) => {
                let status = e.status();
                tracing::info!(peer = %viewer.peer, error = %e, status = status.as_u16(), "bad HTTP request");
                viewer.input = Vec::new();
                viewer.answer(Response::new(status), &format!("{e}\r\n"), false);
            }
        }
        if let Some(viewer) = self.viewers.get_mut(&conn)
            && viewer.close_when_flushed
            && viewer.queued() == 0
        {
            viewer.close(conn, &mut self.to_close);
        }
        tunnelled
    }

    /// A whole request head on `conn` that asks for a tunnel's half (`rest`: the bytes after
    /// it, a POST's first body bytes).
    fn tunnel_request(
        &mut self,
        conn: ConnId,
        request: &Request,
        half: Result<(http::tunnel::Half, String), http::tunnel::CookieError>,
        rest: &[u8],
    ) -> Option<Tunnelled> {
        let viewer = self.viewers.get_mut(&conn)?;
        let verdict = self.cookies.request(conn, viewer.peer, half);
        let status = match &verdict {
            tunnel::Verdict::Get(_) => 200,
            tunnel::Verdict::Post(_) => 0,
            tunnel::Verdict::Refused(r, _) => r.status.as_u16(),
        };
        tracing::info!(peer = %viewer.peer, method = %request.method, target = %request.target, status, "HTTP tunnel request");
        match verdict {
            tunnel::Verdict::Get(opened) => Some(opened),
            tunnel::Verdict::Post(post) => {
                viewer.phase = Phase::Tunnel(post);
                tunnel_input(viewer, conn, rest, &mut self.to_close)
            }
            tunnel::Verdict::Refused(response, why) => {
                viewer.answer(response, &why, false);
                None
            }
        }
    }

    /// The GET of the tunnel whose POST is `post`.
    pub fn tunnel_get(&self, post: ConnId) -> Option<ConnId> {
        match &self.viewers.get(&post)?.phase {
            Phase::Tunnel(p) => Some(p.get),
            _ => None,
        }
    }

    /// The core closed `conn`, an RTSP connection: if it was a tunnel's GET, its cookie is
    /// free and its POST closes.
    pub fn rtsp_closed(&mut self, conn: ConnId) {
        if let Some(post) = self.cookies.get_closed(conn)
            && let Some(v) = self.viewers.get_mut(&post)
        {
            v.close(post, &mut self.to_close);
        }
    }

    /// A file [`Serving::jobs`] asked for is open (or could not be): the requests that waited
    /// for it are answered as the catalogue now has it.
    pub fn opened(&mut self, name: &str, now: Instant, serving: &mut Serving<'_>) {
        for viewer in self.viewers.values_mut() {
            if !matches!(&viewer.phase, Phase::Parked(_, n) if n == name) {
                continue;
            }
            let Phase::Parked(request, _) = std::mem::replace(&mut viewer.phase, Phase::Reading)
            else {
                continue;
            };
            respond(viewer, request, now, serving, false);
        }
    }

    /// `conn` closed (or failed).
    pub fn close(&mut self, conn: ConnId, now: Instant) {
        if let Some(viewer) = self.viewers.remove(&conn)
            && let Some(path) = &viewer.watched
        {
            self.departed.add(
                path,
                &tally::Totals {
                    http_bytes: viewer.bytes,
                    http_frames: viewer.frames,
                    http_skipped: viewer.skipped,
                    ..tally::Totals::default()
                },
            );
            tracing::info!(
                peer = %viewer.peer,
                path,
                frames = viewer.frames,
                skipped = viewer.skipped,
                seconds = format_args!("{:.1}", now.saturating_duration_since(viewer.opened).as_secs_f64()),
                "HTTP viewer gone"
            );
        }
    }

    /// Connections with bytes waiting to be written.
    pub fn pending_output(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.viewers
            .iter()
            .filter(|(_, v)| v.queued() > 0)
            .map(|(&id, _)| id)
    }

    /// Bytes waiting to be written to `conn`.
    pub fn output(&self, conn: ConnId) -> &[u8] {
        self.viewers.get(&conn).map_or(&[], |v| &v.output[v.sent..])
    }

    /// `n` bytes of [`Viewers::output`] were written.
    pub fn written(&mut self, conn: ConnId, n: usize) {
        let Some(v) = self.viewers.get_mut(&conn) else {
            return;
        };
        v.bytes += n.min(v.output.len() - v.sent) as u64;
        v.sent = (v.sent + n).min(v.output.len());
        v.progressed |= n > 0;
        if v.sent == v.output.len() {
            v.output.clear();
            v.sent = 0;
            if v.close_when_flushed {
                v.close(conn, &mut self.to_close);
            }
        } else if v.sent > 256 * 1024 && v.sent * 2 > v.output.len() {
            v.output.drain(..v.sent);
            v.sent = 0;
        }
    }

    /// Whether `conn` may be read: while its output is under `limit` (a peer that sends and
    /// does not read is held back by TCP).
    pub fn wants_input(&self, conn: ConnId, limit: usize) -> bool {
        self.viewers.get(&conn).is_some_and(|v| v.queued() < limit)
    }

    /// A connection to close, if any.
    pub fn poll_close(&mut self) -> Option<ConnId> {
        self.to_close.pop()
    }

    /// The earliest instant something is due: a file's next frame, a head's deadline, a stalled
    /// viewer's end.
    pub fn poll_timeout(&self, config: &Config) -> Option<Instant> {
        self.viewers
            .values()
            .filter_map(|v| {
                let stall = (v.queued() > 0).then(|| v.last_progress + config.session_timeout);
                let due = match &v.phase {
                    Phase::Reading => Some(v.opened + config.request_timeout),
                    Phase::Watching(w) => match &w.program {
                        Program::File(media) => Some(w.due(w.next, media.fps)),
                        Program::Live(_) => None,
                    },
                    Phase::Answered | Phase::Parked(..) | Phase::Ops(..) | Phase::Tunnel(_) => None,
                };
                stall.into_iter().chain(due).min()
            })
            .min()
    }

    /// Sends every viewer what is due at `now`, and closes those past a deadline.
    pub fn serve(&mut self, now: Instant, config: &Config, publishing: &Publishing) {
        for (&id, v) in &mut self.viewers {
            if v.closing {
                continue;
            }
            if v.progressed {
                v.progressed = false;
                v.last_progress = now;
            }
            if v.queued() == 0 {
                v.last_progress = now;
            }
            let closing = match &v.phase {
                Phase::Reading if now >= v.opened + config.request_timeout => {
                    tracing::info!(peer = %v.peer, "HTTP request not complete in time: closing");
                    true
                }
                _ if now >= v.last_progress + config.session_timeout => {
                    tracing::info!(peer = %v.peer, target = %v.target, "HTTP viewer reads nothing: closing");
                    true
                }
                _ => false,
            };
            if closing {
                v.close(id, &mut self.to_close);
                continue;
            }
            v.send_due(now, config, publishing);
            if v.close_when_flushed && v.queued() == 0 {
                v.close(id, &mut self.to_close);
            }
        }
    }

    /// Files whose lease is being broken: their viewers' bodies end now (the mapping must go,
    /// so the writer can go on).
    pub fn retire(&mut self, names: &[String]) {
        for v in self.viewers.values_mut() {
            if let Phase::Watching(w) = &v.phase
                && let Program::File(media) = &w.program
                && names.contains(&media.name)
            {
                let body = w.body.clone();
                body.close(&mut v.output);
                v.phase = Phase::Answered;
                v.close_when_flushed = true;
            }
        }
    }

    /// The `/watch` viewers, for the operations API.
    pub fn views(&self) -> Vec<ops::Viewer> {
        self.viewers
            .values()
            .filter_map(|v| {
                Some(ops::Viewer {
                    peer: v.peer,
                    path: v.watched.clone()?,
                    since: v.opened,
                    bytes: v.bytes,
                    frames: v.frames,
                    skipped: v.skipped,
                })
            })
            .collect()
    }

    /// Answers `conn`'s operations request from a snapshot of the core at `now`.
    fn answer_ops(
        &mut self,
        conn: ConnId,
        which: Ops,
        head_only: bool,
        now: Instant,
        serving: &Serving<'_>,
    ) {
        let inputs = ops::Inputs {
            catalogue: serving.catalogue,
            publishing: serving.publishing,
            sessions: serving.sessions,
            connections: serving.connections,
        };
        let watching = ops::Watching {
            viewers: self.views(),
            departed: &self.departed,
        };
        let snapshot = Snapshot::take(inputs, watching, now);
        let (body, kind) = match which {
            Ops::Index => (page::index(&snapshot).into_bytes(), page::HTML_TYPE),
            Ops::Paths => (ops::paths_json(&snapshot), ops::JSON_TYPE),
            Ops::Sessions => (ops::sessions_json(&snapshot), ops::JSON_TYPE),
            Ops::Metrics => (ops::metrics(&snapshot).into_bytes(), ops::METRICS_TYPE),
        };
        let Some(viewer) = self.viewers.get_mut(&conn) else {
            return;
        };
        viewer.answer_whole(kind, &body, head_only);
        tracing::info!(peer = %viewer.peer, target = %viewer.target, status = 200, bytes = body.len(), "HTTP request");
    }

    /// Frames sent and skipped by `conn` so far (for tests).
    pub fn counts(&self, conn: ConnId) -> Option<(u64, u64)> {
        self.viewers.get(&conn).map(|v| (v.frames, v.skipped))
    }
}

impl Viewer {
    /// Asks the driver to close it (once).
    fn close(&mut self, id: ConnId, to_close: &mut Vec<ConnId>) {
        if !self.closing {
            self.closing = true;
            to_close.push(id);
        }
    }

    fn queued(&self) -> usize {
        self.output.len() - self.sent
    }

    /// The status code at the front of the output, for the log.
    fn status_sent(&self) -> u16 {
        self.output
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Queues a whole short response and ends the conversation.
    fn answer(&mut self, response: Response, text: &str, head_only: bool) {
        response.write_text(text, head_only, &mut self.output);
        self.phase = Phase::Answered;
        self.close_when_flushed = true;
    }

    /// Answers `200 OK` with `body` of type `kind` (not kept by caches: it changes), then the
    /// close.
    fn answer_whole(&mut self, kind: &str, body: &[u8], head_only: bool) {
        Response::new(StatusCode::OK)
            .with("Content-Type", kind)
            .with("Content-Length", body.len().to_string())
            .with("Cache-Control", "no-cache")
            .with("Connection", "close")
            .write_head(&mut self.output);
        if !head_only {
            self.output.extend_from_slice(body);
        }
        self.phase = Phase::Answered;
        self.close_when_flushed = true;
    }

    /// Queues the parts due at `now`: a file's frames up to the one due now (each that does not
    /// fit skipped), then the end or the next loop; a live path's newest frame.
    fn send_due(&mut self, now: Instant, config: &Config, publishing: &Publishing) {
        let Phase::Watching(watch) = &mut self.phase else {
            return;
        };
        let limit = config.tcp_queue_limit;
        match &watch.program {
            Program::File(media) => {
                let media = Arc::clone(media);
                let count = media.frame_count();
                loop {
                    if watch.next >= count {
                        if config.looping && count > 0 {
                            watch.start = watch.due(count, media.fps);
                            watch.next = 0;
                            continue;
                        }
                        watch.body.close(&mut self.output);
                        self.phase = Phase::Answered;
                        self.close_when_flushed = true;
                        return;
                    }
                    if watch.due(watch.next, media.fps) > now {
                        return;
                    }
                    let jpeg = media.jpeg(watch.next).unwrap_or(&[]);
                    let sent = watch
                        .body
                        .push_part(&mut self.output, self.sent, jpeg, limit);
                    self.frames += u64::from(sent);
                    self.skipped += u64::from(!sent);
                    watch.next += 1;
                }
            }
            Program::Live(path) => {
                let Some(feed) = publishing.feed(path) else {
                    // Forgotten (its publisher left long ago): the body ends.
                    watch.body.close(&mut self.output);
                    self.phase = Phase::Answered;
                    self.close_when_flushed = true;
                    return;
                };
                let count = feed.frame_count();
                if count <= watch.next {
                    return;
                }
                let newest = count - 1;
                self.skipped += (newest - watch.next) as u64;
                if let Some(jpeg) = feed.jpeg(newest) {
                    let sent = watch
                        .body
                        .push_part(&mut self.output, self.sent, jpeg, limit);
                    self.frames += u64::from(sent);
                    self.skipped += u64::from(!sent);
                }
                watch.next = count;
            }
        }
    }
}

impl Watch {
    /// When frame `index` of this loop of a file at `fps` is due.
    fn due(&self, index: usize, fps: f64) -> Instant {
        self.start + Duration::from_secs_f64(index as f64 / fps.max(0.001))
    }
}

impl Body {
    /// Appends `jpeg` as a part when it fits whole beside what is queued (`output[sent..]`)
    /// within `limit` — or when nothing is queued, so a frame larger than the limit still goes;
    /// answers whether it went.
    fn push_part(&self, output: &mut Vec<u8>, sent: usize, jpeg: &[u8], limit: usize) -> bool {
        let queued = output.len() - sent;
        let part = self.multipart.part_len(JPEG, jpeg.len());
        let len = part + if self.chunked { 20 } else { 0 };
        if queued > 0 && queued + len > limit {
            return false;
        }
        output.reserve(len);
        if self.chunked {
            output.extend_from_slice(format!("{part:x}\r\n").as_bytes());
        }
        self.multipart.write_part_head(JPEG, jpeg.len(), output);
        output.extend_from_slice(jpeg);
        Multipart::write_part_tail(output);
        if self.chunked {
            output.extend_from_slice(b"\r\n");
        }
        true
    }

    /// Ends the body: the last chunk of a chunked one (a body up to the close ends with the
    /// connection). No RFC 2046 close delimiter: ffmpeg's `mpjpeg` demuxer takes one for the
    /// start of a part and fails on it ("Invalid data found when processing input"), and
    /// neither ffmpeg's `mpjpeg` muxer nor IP cameras write one — a browser needs none.
    fn close(&self, output: &mut Vec<u8>) {
        if self.chunked {
            output.extend_from_slice(b"0\r\n\r\n");
        }
    }
}

/// Bytes of a tunnel POST's body: decoded for the core, or the end of the tunnel (this
/// connection closes now, the core closes the GET).
fn tunnel_input(
    viewer: &mut Viewer,
    conn: ConnId,
    data: &[u8],
    to_close: &mut Vec<ConnId>,
) -> Option<Tunnelled> {
    let Phase::Tunnel(post) = &mut viewer.phase else {
        return None;
    };
    let get = post.get;
    match post.receive(data) {
        Ok(input) => Some(input),
        Err(e) => {
            tracing::info!(peer = %viewer.peer, error = %e, "bad tunnel POST body: closing the tunnel");
            viewer.phase = Phase::Answered;
            viewer.close(conn, to_close);
            Some(Tunnelled::Broken { get })
        }
    }
}

/// What a request asks for.
enum Route<'r> {
    Watch(&'r str),
    Snapshot(&'r str),
}

/// Answers a whole request head.
/// Answers a whole request head — unless it names a file new to the catalogue (or replaced)
/// and `may_open`: then it waits for the file ([`Phase::Parked`]) — and logs it.
fn respond(
    viewer: &mut Viewer,
    request: Request,
    now: Instant,
    serving: &mut Serving<'_>,
    may_open: bool,
) {
    answer(viewer, &request, now, serving, may_open);
    if matches!(viewer.phase, Phase::Ops(..)) {
        // Logged when answered (Viewers::answer_ops).
        return;
    }
    if matches!(viewer.phase, Phase::Parked(..)) {
        tracing::debug!(peer = %viewer.peer, target = %request.target, "HTTP request waits for its file");
        if let Phase::Parked(parked, _) = &mut viewer.phase {
            *parked = request;
        }
        return;
    }
    tracing::info!(
        peer = %viewer.peer,
        method = %request.method,
        target = %request.target,
        status = viewer.status_sent(),
        "HTTP request"
    );
}

/// [`respond`] without the log.
fn answer(
    viewer: &mut Viewer,
    request: &Request,
    now: Instant,
    serving: &mut Serving<'_>,
    may_open: bool,
) {
    let head_only = request.method == "HEAD";
    if !head_only && request.method != "GET" {
        let response = Response::new(StatusCode::METHOD_NOT_ALLOWED).with("Allow", "GET, HEAD");
        viewer.answer(response, "only GET and HEAD\r\n", false);
        return;
    }
    let path = request.path();
    let ops = match path {
        "/" => Some(Ops::Index),
        "/api/v1/paths" => Some(Ops::Paths),
        "/api/v1/sessions" => Some(Ops::Sessions),
        "/metrics" => Some(Ops::Metrics),
        _ => None,
    };
    if let Some(which) = ops {
        // The operations answers need the admin right (Digest over the request-target as for
        // /watch), the index the right to read the whole root (`read = ["*"]`: it shows every
        // path); without a users file they are open.
        let (right, over) = match which {
            Ops::Index => (Right::Read, ""),
            _ => (Right::Admin, path),
        };
        if let Some(access) = serving.access.as_deref_mut()
            && let Some((response, text)) =
                authorize(access, viewer.peer, request, over, right, now)
        {
            viewer.answer(response, &text, head_only);
            return;
        }
        viewer.phase = Phase::Ops(which, head_only);
        return;
    }
    let route = if let Some(rest) = path.strip_prefix("/watch/") {
        Route::Watch(rest)
    } else if let Some(rest) = path.strip_prefix("/snapshot/") {
        Route::Snapshot(rest)
    } else {
        let response = Response::new(StatusCode::NOT_FOUND);
        viewer.answer(
            response,
            "not found: GET /watch/<path>, /snapshot/<path>, /api/v1/paths, /api/v1/sessions or /metrics\r\n",
            head_only,
        );
        return;
    };
    let name = match &route {
        Route::Watch(rest) | Route::Snapshot(rest) => *rest,
    };
    if may_open
        && live_path(name).is_none()
        && let Some(job) = serving.catalogue.check(name)
    {
        let file = job.name.clone();
        if serving.opening.insert(file.clone()) {
            serving.jobs.push_back(job);
        }
        // The request itself is put in by `respond`.
        viewer.phase = Phase::Parked(request.clone(), file);
        return;
    }
    // The program, or the status and why not. `..` and malformed escapes never reach a file.
    let program = match live_path(name) {
        Some(path) => match serving.publishing.feed(&path) {
            Some(_) => Ok(Program::Live(path)),
            None => Err((
                path.clone(),
                StatusCode::NOT_FOUND,
                format!("no live path {path}"),
            )),
        },
        None => match serving.catalogue.lookup(name) {
            Ok((media, None)) => Ok(Program::File(Arc::clone(media))),
            Ok((media, Some(_))) => Err((
                media.name.clone(),
                StatusCode::NOT_FOUND,
                "not found".into(),
            )),
            Err(LookupError::Malformed(why)) => Err((
                String::new(),
                StatusCode::BAD_REQUEST,
                format!("malformed path: {why}"),
            )),
            Err(LookupError::Forbidden) => {
                Err((String::new(), StatusCode::NOT_FOUND, "not found".into()))
            }
            Err(LookupError::NotFound(n)) => Err((
                n.clone(),
                StatusCode::NOT_FOUND,
                format!("no such media: {n}"),
            )),
        },
    };
    let name_for_access = match &program {
        Ok(p) => p.name().to_owned(),
        Err((n, _, _)) => n.clone(),
    };
    if let Some(access) = serving.access.as_deref_mut()
        && let Some((response, text)) = authorize(
            access,
            viewer.peer,
            request,
            &name_for_access,
            Right::Read,
            now,
        )
    {
        viewer.answer(response, &text, head_only);
        return;
    }
    let program = match program {
        Ok(p) => p,
        Err((_, status, why)) => {
            viewer.answer(Response::new(status), &format!("{why}\r\n"), head_only);
            return;
        }
    };
    match route {
        Route::Snapshot(_) => snapshot(viewer, request, &program, serving, head_only),
        Route::Watch(_) => {
            let body = Body {
                multipart: Multipart::new(BOUNDARY),
                chunked: request.version == http::Version::Http11,
            };
            let mut response = Response::new(StatusCode::OK)
                .with("Content-Type", body.multipart.content_type())
                .with("Cache-Control", "no-cache, no-store, must-revalidate")
                .with("Pragma", "no-cache")
                .with("Connection", "close");
            if body.chunked {
                response.push("Transfer-Encoding", "chunked");
            }
            response.write_head(&mut viewer.output);
            if head_only {
                viewer.phase = Phase::Answered;
                viewer.close_when_flushed = true;
                return;
            }
            // A live viewer starts with the newest frame held, then every later one.
            let next = match &program {
                Program::File(_) => 0,
                Program::Live(path) => serving.publishing.feed(path).map_or(0, |f| {
                    f.frame_count().saturating_sub(1).max(f.first_frame())
                }),
            };
            viewer.watched = Some(program.name().to_owned());
            viewer.phase = Phase::Watching(Watch {
                program,
                next,
                start: now,
                body,
            });
            viewer.send_due(now, serving.config, serving.publishing);
        }
    }
}

/// `/snapshot/<path>`: one JPEG.
fn snapshot(
    viewer: &mut Viewer,
    request: &Request,
    program: &Program,
    serving: &Serving<'_>,
    head_only: bool,
) {
    let jpeg = match program {
        Program::File(media) => {
            let t = match request.query_value("t").map(str::parse::<f64>) {
                None => 0.0,
                Some(Ok(t)) if t.is_finite() && t >= 0.0 => t,
                Some(_) => {
                    let response = Response::new(StatusCode::BAD_REQUEST);
                    viewer.answer(response, "t must be seconds, 0 or more\r\n", head_only);
                    return;
                }
            };
            // The frame showing at t; the small allowance keeps 0.7 s at 30 fps frame 21.
            let index = (t * media.fps + 1e-6).floor();
            match (index < media.frame_count() as f64).then(|| media.jpeg(index as usize)) {
                Some(Some(jpeg)) => jpeg,
                _ => {
                    let why = format!("t={t} is past the end ({:.3} s)\r\n", media.duration());
                    viewer.answer(Response::new(StatusCode::BAD_REQUEST), &why, head_only);
                    return;
                }
            }
        }
        Program::Live(path) => {
            let newest = serving
                .publishing
                .feed(path)
                .and_then(|f| f.jpeg(f.frame_count().checked_sub(1)?));
            match newest {
                Some(jpeg) => jpeg,
                None => {
                    let response =
                        Response::new(StatusCode::SERVICE_UNAVAILABLE).with("Retry-After", "1");
                    viewer.answer(response, "no frame yet\r\n", head_only);
                    return;
                }
            }
        }
    };
    viewer.answer_whole(JPEG, jpeg, head_only);
    viewer.frames += u64::from(!head_only);
}

/// With a users file: the response that refuses `request` (401 with challenges, 403, 503 to an
/// address that failed too often), or `None` to go on — the RTSP check, for `GET`/`HEAD` and
/// the request-target (RFC 7616 §3.4: the method and `uri` the client's response covers).
fn authorize(
    access: &mut Access,
    peer: SocketAddr,
    request: &Request,
    path: &str,
    right: Right,
    now: Instant,
) -> Option<(Response, String)> {
    let attempt = Attempt {
        peer: peer.ip(),
        method: &request.method,
        uri: &request.target,
        path,
        right,
        authorization: request.header("Authorization"),
        tls: false,
    };
    let (status, challenges, why) = match access.check(&attempt, now) {
        Verdict::Allowed(_) => return None,
        Verdict::Challenge(c) => (StatusCode::UNAUTHORIZED, c, "credentials needed"),
        Verdict::Forbidden(_) => (StatusCode::FORBIDDEN, Vec::new(), "not allowed"),
        Verdict::Refused => (
            StatusCode::SERVICE_UNAVAILABLE,
            Vec::new(),
            "too many failures",
        ),
    };
    let mut response = Response::new(status);
    for challenge in challenges {
        response.push("WWW-Authenticate", challenge);
    }
    Some((response, format!("{why}\r\n")))
}

#[cfg(test)]
mod tests;
