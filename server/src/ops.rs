//! Operations on the HTTP port (issue 20): what can be watched (`GET /api/v1/paths`), who
//! watches what (`GET /api/v1/sessions`), both as JSON, and `GET /metrics` in the Prometheus
//! text exposition format 0.0.4.
//!
//! Sans-IO: [`Snapshot::take`] reads the core's state at `now` (every figure from the one value
//! that owns it: [`crate::sender::Counters`] of each track, [`crate::rtx::Counters`],
//! [`crate::session::Session`]'s RTCP figures, [`crate::publish::PathStats`], the HTTP
//! viewers' counts), and [`paths_json`], [`sessions_json`] and [`metrics`] turn a snapshot into
//! bytes. The snapshot owns nothing: it is taken for one answer and dropped.
//!
//! Counters of the metrics never go down: each is what the sessions, viewers and publishers
//! open now have done, plus what those that left had done ([`Departed`], kept by the owner of
//! each: [`crate::sessions::Sessions`], [`crate::http::Viewers`],
//! [`crate::publish::Publishing`]), so Prometheus' `rate()` sees no false reset when one
//! leaves. They start from 0 when the server does.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;

use crate::connection::Connection;
use crate::delivery::Delivery;
use crate::media::Catalogue;
use crate::publish::Publishing;
use crate::session::{ConnId, State};
use crate::sessions::Sessions;
use crate::tally::{Departed, Totals};

/// The `Content-Type` of [`metrics`] (the text format, version 0.0.4).
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of the JSON answers.
pub const JSON_TYPE: &str = "application/json";

/// Everything the operations answers show, read at one instant.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Snapshot {
    /// The files of the media root that are open (mapped and indexed), by name.
    pub files: Vec<FileView>,
    /// The live paths with frames, by path.
    pub live: Vec<LiveView>,
    /// Every RTSP session, by id.
    pub sessions: Vec<SessionView>,
    /// Every HTTP `/watch` viewer, by peer.
    pub viewers: Vec<ViewerView>,
    /// Every publisher, by path.
    pub publishers: Vec<PublisherView>,
    /// What those that left had done, by path (counters only).
    #[serde(skip)]
    pub departed: BTreeMap<String, Totals>,
}

/// A file that can be watched.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileView {
    /// Its name in URLs.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// The first frame's width and height.
    pub width: u16,
    /// The first frame's height.
    pub height: u16,
    /// Frames per second it is played at.
    pub fps: f64,
    /// Frames.
    pub frames: u64,
    /// Seconds at its frame rate.
    pub duration: f64,
    /// Whether it has a sound track.
    pub sound: bool,
    /// Whether it has captions.
    pub captions: bool,
    /// Why RTSP cannot send it as RFC 2435 (HTTP can), if so.
    pub not_rtsp_ready: Option<String>,
    /// RTSP sessions and HTTP viewers watching it now.
    pub viewers: u64,
}

/// A live path.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveView {
    /// `live/<name>`.
    pub path: String,
    /// Whether a publisher is on the air.
    pub on_air: bool,
    /// The newest frame's width and height, once one arrived.
    pub width: Option<u16>,
    /// Its height.
    pub height: Option<u16>,
    /// RTSP sessions and HTTP viewers watching it now.
    pub viewers: u64,
}

/// A publisher (RTSP ANNOUNCE/RECORD).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PublisherView {
    /// The path it publishes.
    pub path: String,
    /// Its address.
    pub peer: String,
    /// `udp`, `tcp` or `tls` (interleaved on a TLS connection); `null` before its SETUP.
    pub transport: Option<&'static str>,
    /// Seconds since its ANNOUNCE.
    pub seconds: f64,
    /// Whether RECORD was answered.
    pub recording: bool,
    /// Whole frames put back together and served.
    pub frames_published: u64,
    /// Frames that could not be served (not RFC 2435-ready once rebuilt).
    pub frames_refused: u64,
    /// Frames that lost a packet.
    pub frames_lost: u64,
    /// RTP packets and bytes received.
    pub packets: u64,
    /// RTP bytes received.
    pub bytes: u64,
}

/// An RTSP session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionView {
    /// Its `Session` id.
    pub id: String,
    /// The RTSP peer.
    pub peer: String,
    /// The file or live path it plays.
    pub path: String,
    /// `udp`, `tcp` (interleaved) or `tls` (interleaved on a TLS connection).
    pub transport: &'static str,
    /// `playing`, `paused`, `ended` (the file's end, BYE sent), or `ready` before its first
    /// PLAY.
    pub state: &'static str,
    /// Seconds since its SETUP.
    pub seconds: f64,
    /// RTP payload octets sent, all tracks (RFC 3550 §6.4.1 sender's octet count).
    pub bytes_out: u64,
    /// RTP packets sent, all tracks.
    pub packets_out: u64,
    /// Bits per second of payload over the last seconds ([`crate::tally::RATE_WINDOW`]).
    pub bitrate: f64,
    /// Video frames sent whole, and skipped because the session fell behind.
    pub frames: u64,
    /// Frames skipped.
    pub frames_skipped: u64,
    /// The client's latest reception report about the video, if any.
    pub loss: Option<LossView>,
    /// RTCP NACK packets received.
    pub nacks: u64,
    /// RTX packets sent (RFC 4588).
    pub rtx_packets: u64,
    /// RTCP packets received.
    pub rtcp_received: u64,
}

/// What a client's reception report says (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LossView {
    /// Fraction lost since its previous report, 0 to 1.
    pub fraction_lost: f64,
    /// Packets lost since the start.
    pub cumulative_lost: i64,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
}

/// An HTTP `/watch` viewer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ViewerView {
    /// The peer.
    pub peer: String,
    /// The file or live path it watches.
    pub path: String,
    /// Seconds since its connection.
    pub seconds: f64,
    /// Bytes written to it.
    pub bytes_out: u64,
    /// Frames queued for it whole.
    pub frames: u64,
    /// Frames skipped for it (it read too slowly, or a live frame came between two passes).
    pub frames_skipped: u64,
}

/// What a viewer is, as [`crate::http::Viewers::views`] hands it over (the times are instants).
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The peer.
    pub peer: SocketAddr,
    /// What it watches.
    pub path: String,
    /// When it connected.
    pub since: Instant,
    /// Bytes written to it.
    pub bytes: u64,
    /// Frames sent.
    pub frames: u64,
    /// Frames skipped.
    pub skipped: u64,
}

/// The core's state that the snapshot reads.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The files.
    pub catalogue: &'a Catalogue,
    /// The live paths.
    pub publishing: &'a Publishing,
    /// The RTSP sessions.
    pub sessions: &'a Sessions,
    /// The RTSP connections (whether one is TLS).
    pub connections: &'a HashMap<ConnId, Connection>,
}

/// What the HTTP viewers open now are doing, and what those that left did.
#[derive(Debug, Clone)]
pub struct Watching<'a> {
    /// The viewers open.
    pub viewers: Vec<Viewer>,
    /// Those that left.
    pub departed: &'a Departed,
}

fn seconds(now: Instant, since: Instant) -> f64 {
    // Milliseconds are enough, and keep the JSON short.
    (now.saturating_duration_since(since).as_secs_f64() * 1000.0).round() / 1000.0
}

impl Snapshot {
    /// Reads `state` and the HTTP `viewers` at `now`.
    pub fn take(state: Inputs<'_>, http: Watching<'_>, now: Instant) -> Snapshot {
        let mut departed: BTreeMap<String, Totals> = BTreeMap::new();
        for (path, t) in state
            .sessions
            .departed()
            .iter()
            .chain(http.departed.iter())
            .chain(state.publishing.departed().iter())
        {
            departed.entry(path.to_owned()).or_default().add(t);
        }
        let viewers = http.viewers;
        let tls = |conn: ConnId| state.connections.get(&conn).is_some_and(|c| c.tls);
        let mut watching: HashMap<&str, u64> = HashMap::new();
        let mut sessions: Vec<SessionView> = state
            .sessions
            .iter()
            .map(|s| {
                *watching.entry(s.program.name()).or_default() += 1;
                let counters = s.counters();
                let rtx = s.stream.rtx().map_or(0, |r| r.counters.sent);
                SessionView {
                    id: s.id.clone(),
                    peer: s.peer.to_string(),
                    path: s.program.name().to_owned(),
                    transport: match s.delivery {
                        Delivery::Udp { .. } => "udp",
                        Delivery::Tcp { .. } if tls(s.conn) => "tls",
                        Delivery::Tcp { .. } => "tcp",
                    },
                    state: match (s.state, s.first_play) {
                        (State::Playing, _) => "playing",
                        _ if s.ended => "ended",
                        (State::Ready, Some(_)) => "paused",
                        (State::Ready, None) => "ready",
                    },
                    seconds: seconds(now, s.created),
                    bytes_out: counters.octets,
                    packets_out: counters.packets,
                    bitrate: s.rate.bits_per_second(now, counters.octets).round(),
                    frames: s.stream.counters.frames,
                    frames_skipped: s.stream.counters.skipped,
                    loss: s.reported.map(|r| LossView {
                        fraction_lost: f64::from(r.fraction_lost) / 256.0,
                        cumulative_lost: i64::from(r.cumulative_lost),
                        jitter: r.jitter,
                    }),
                    nacks: s.nacks,
                    rtx_packets: rtx,
                    rtcp_received: s.rtcp_received,
                }
            })
            .collect();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        let mut viewers: Vec<ViewerView> = viewers
            .into_iter()
            .map(|v| ViewerView {
                peer: v.peer.to_string(),
                path: v.path,
                seconds: seconds(now, v.since),
                bytes_out: v.bytes,
                frames: v.frames,
                frames_skipped: v.skipped,
            })
            .collect();
        viewers.sort_by(|a, b| (&a.path, &a.peer).cmp(&(&b.path, &b.peer)));
        for v in &viewers {
            *watching.entry(v.path.as_str()).or_default() += 1;
        }
        let mut files: Vec<FileView> = state
            .catalogue
            .iter()
            .map(|m| {
                let first = m.file.info(0);
                FileView {
                    name: m.name.clone(),
                    size: m.file.bytes().len() as u64,
                    width: first.map_or(0, |f| f.width),
                    height: first.map_or(0, |f| f.height),
                    fps: m.fps,
                    frames: m.file.len() as u64,
                    duration: (m.duration() * 1000.0).round() / 1000.0,
                    sound: m.sound.is_some(),
                    captions: m.captions.is_some(),
                    not_rtsp_ready: m.not_ready.clone(),
                    viewers: watching.get(m.name.as_str()).copied().unwrap_or(0),
                }
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let publishers: Vec<PublisherView> = state
            .publishing
            .publishers()
            .into_iter()
            .map(|p| PublisherView {
                transport: match p.udp {
                    Some(true) => Some("udp"),
                    Some(false) if tls(p.conn) => Some("tls"),
                    Some(false) => Some("tcp"),
                    None => None,
                },
                peer: p.peer.to_string(),
                seconds: seconds(now, p.since),
                recording: p.recording,
                frames_published: p.stats.frames,
                frames_refused: p.stats.frames_refused,
                frames_lost: p.stats.frames_lost,
                packets: p.stats.packets,
                bytes: p.stats.bytes,
                path: p.path,
            })
            .collect();
        let mut live: Vec<LiveView> = state
            .publishing
            .feed_paths()
            .map(|(path, feed)| LiveView {
                path: path.to_owned(),
                on_air: publishers.iter().any(|p| p.path == path),
                width: feed.size().map(|s| s.0),
                height: feed.size().map(|s| s.1),
                viewers: watching.get(path).copied().unwrap_or(0),
            })
            .collect();
        live.sort_by(|a, b| a.path.cmp(&b.path));
        Snapshot {
            files,
            live,
            sessions,
            viewers,
            publishers,
            departed,
        }
    }
}

/// `GET /api/v1/paths`: what can be watched — `{"files": [...], "live": [...]}`.
pub fn paths_json(snapshot: &Snapshot) -> Vec<u8> {
    #[derive(Serialize)]
    struct Paths<'a> {
        files: &'a [FileView],
        live: &'a [LiveView],
    }
    let mut out = serde_json::to_vec_pretty(&Paths {
        files: &snapshot.files,
        live: &snapshot.live,
    })
    .unwrap_or_default();
    out.push(b'\n');
    out
}

/// `GET /api/v1/sessions`: who watches what — `{"rtsp": [...], "http": [...], "publishers":
/// [...]}`.
pub fn sessions_json(snapshot: &Snapshot) -> Vec<u8> {
    #[derive(Serialize)]
    struct Sessions<'a> {
        rtsp: &'a [SessionView],
        http: &'a [ViewerView],
        publishers: &'a [PublisherView],
    }
    let mut out = serde_json::to_vec_pretty(&Sessions {
        rtsp: &snapshot.sessions,
        http: &snapshot.viewers,
        publishers: &snapshot.publishers,
    })
    .unwrap_or_default();
    out.push(b'\n');
    out
}

/// A label value in the text format: `\`, `"` and line feeds escaped.
fn escape_label(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// One metric family of [`metrics`]: its samples by label set.
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    samples: BTreeMap<Vec<(&'static str, String)>, f64>,
}

impl Family {
    fn new(name: &'static str, counter: bool, help: &'static str) -> Family {
        Family {
            name,
            help,
            counter,
            samples: BTreeMap::new(),
        }
    }

    fn add(&mut self, labels: &[(&'static str, &str)], value: f64) {
        let key = labels.iter().map(|&(k, v)| (k, v.to_owned())).collect();
        *self.samples.entry(key).or_default() += value;
    }

    fn write(&self, out: &mut String) {
        let kind = if self.counter { "counter" } else { "gauge" };
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {kind}", self.name);
        for (labels, value) in &self.samples {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label(v, out);
                    out.push('"');
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
}

/// `GET /metrics`: the snapshot in the Prometheus text exposition format 0.0.4 — `# HELP` and
/// `# TYPE` lines, then one sample a line; counters end in `_total`; label values escaped.
/// Per path (`path` label) and, for RTSP sessions, per transport.
pub fn metrics(snapshot: &Snapshot) -> String {
    let mut sessions = Family::new(
        "hdstream_rtsp_sessions",
        false,
        "RTSP sessions open, by path and transport (udp, tcp, tls).",
    );
    let mut packets = Family::new(
        "hdstream_rtp_packets_sent_total",
        true,
        "RTP packets sent to RTSP sessions, all tracks.",
    );
    let mut octets = Family::new(
        "hdstream_rtp_octets_sent_total",
        true,
        "RTP payload octets sent to RTSP sessions, all tracks (RFC 3550 sender's octet count).",
    );
    let mut rtx = Family::new(
        "hdstream_rtx_packets_sent_total",
        true,
        "RTX packets (RFC 4588) sent to RTSP sessions.",
    );
    let mut nacks = Family::new(
        "hdstream_rtcp_nacks_received_total",
        true,
        "RTCP NACK packets (RFC 4585) received from RTSP sessions.",
    );
    let mut viewers = Family::new(
        "hdstream_http_viewers",
        false,
        "HTTP /watch viewers connected, by path.",
    );
    let mut http_bytes = Family::new(
        "hdstream_http_bytes_sent_total",
        true,
        "Bytes written to HTTP /watch viewers.",
    );
    let mut http_frames = Family::new(
        "hdstream_http_frames_sent_total",
        true,
        "Frames queued whole for HTTP /watch viewers.",
    );
    let mut http_skipped = Family::new(
        "hdstream_http_frames_skipped_total",
        true,
        "Frames skipped for HTTP /watch viewers (slow readers).",
    );
    let mut publishers = Family::new(
        "hdstream_publishers",
        false,
        "Publishers on the air, by path.",
    );
    let mut published = Family::new(
        "hdstream_live_frames_published_total",
        true,
        "Frames received whole from publishers.",
    );
    let mut refused = Family::new(
        "hdstream_live_frames_refused_total",
        true,
        "Frames from publishers that could not be served (not RFC 2435-ready).",
    );
    let mut files = Family::new(
        "hdstream_files",
        false,
        "Files of the media root open (mapped and indexed).",
    );
    for s in &snapshot.sessions {
        let by_path = [("path", s.path.as_str())];
        sessions.add(&[("path", &s.path), ("transport", s.transport)], 1.0);
        packets.add(&by_path, s.packets_out as f64);
        octets.add(&by_path, s.bytes_out as f64);
        rtx.add(&by_path, s.rtx_packets as f64);
        nacks.add(&by_path, s.nacks as f64);
    }
    for v in &snapshot.viewers {
        let by_path = [("path", v.path.as_str())];
        viewers.add(&by_path, 1.0);
        http_bytes.add(&by_path, v.bytes_out as f64);
        http_frames.add(&by_path, v.frames as f64);
        http_skipped.add(&by_path, v.frames_skipped as f64);
    }
    for p in &snapshot.publishers {
        let by_path = [("path", p.path.as_str())];
        publishers.add(&by_path, 1.0);
        published.add(&by_path, p.frames_published as f64);
        refused.add(&by_path, p.frames_refused as f64);
    }
    for (path, t) in &snapshot.departed {
        let by_path = [("path", path.as_str())];
        packets.add(&by_path, t.packets as f64);
        octets.add(&by_path, t.octets as f64);
        rtx.add(&by_path, t.rtx_packets as f64);
        nacks.add(&by_path, t.nacks as f64);
        http_bytes.add(&by_path, t.http_bytes as f64);
        http_frames.add(&by_path, t.http_frames as f64);
        http_skipped.add(&by_path, t.http_skipped as f64);
        published.add(&by_path, t.frames_published as f64);
        refused.add(&by_path, t.frames_refused as f64);
    }
    files.add(&[], snapshot.files.len() as f64);
    let mut out = String::new();
    for family in [
        &sessions,
        &packets,
        &octets,
        &rtx,
        &nacks,
        &viewers,
        &http_bytes,
        &http_frames,
        &http_skipped,
        &publishers,
        &published,
        &refused,
        &files,
    ] {
        family.write(&mut out);
    }
    out
}

#[cfg(test)]
mod tests;
