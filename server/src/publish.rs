//! Publishing into the server (RFC 2326 §10.3 ANNOUNCE, §10.4 SETUP with `mode=record`, §10.11
//! RECORD): a publisher announces a JPEG stream (RFC 2435) under `live/<name>`, sets up its
//! track over TCP (interleaved) or UDP, records, and sends RTP, which is put back together into
//! frames here. One publisher per path; a second is refused while the first is there.
//!
//! Each path's frames go into its [`Feed`], which its viewers' streams play from
//! ([`Publishing::feed`]); the feed outlives its publisher, so one that comes back under the
//! same name resumes the path for the viewers still there. The publisher's RTCP sender reports
//! give the feed its capture clock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdstream_common::audio::Format;
use hdstream_common::rfc2435::{Depacketizer, Output};
use hdstream_common::rtsp::StatusCode;
use hdstream_common::rtsp::header::{
    ChannelRange, LowerTransport, PortRange, TransportParam, TransportSpec,
};
use hdstream_common::sdp::SessionDescription;
use hdstream_common::{rtcp, rtp};

use crate::live::{Feed, TrackKind};
use crate::session::ConnId;
use crate::speech::{self, Command, Exit, Listener, ListenerId};
use crate::tally::{Departed, Totals};

/// Where published paths live in URLs.
pub const PREFIX: &str = "live/";
/// The longest SDP an ANNOUNCE may carry.
pub const MAX_SDP: usize = 16 * 1024;
/// Paths published at once (each holds a frame being put together): beyond it, 503.
pub const MAX_PATHS: usize = 64;
/// The largest published frame (a 2160p JPEG is 1–3 MB): larger ones are lost, so that a
/// publisher cannot make the server hold 16 MiB a path.
pub const MAX_FRAME: usize = 8 << 20;
/// Bytes of published frames all live paths hold together by default (`--live-memory-mb`):
/// each path on the air holds its share, at most [`crate::live::MAX_BYTES`].
pub const LIVE_MEMORY: usize = 512 << 20;
/// A publisher's RTP comes from one SSRC (RFC 3550 §8); packets of another are dropped unless
/// the first has been silent this long (a publisher that restarted its stream).
pub const SSRC_SWITCH: Duration = Duration::from_secs(1);

/// How a publisher's RTP comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// Interleaved on its RTSP connection, on these channels.
    Tcp {
        /// The RTP channel.
        rtp: u8,
        /// The RTCP channel.
        rtcp: u8,
    },
    /// UDP datagrams from these addresses (its RTP and RTCP ports) to the server's ports.
    Udp {
        /// Where its RTP comes from.
        rtp: SocketAddr,
        /// Where its RTCP comes from.
        rtcp: SocketAddr,
    },
}

/// A path's publisher.
#[derive(Debug)]
struct Publisher {
    conn: ConnId,
    peer: SocketAddr,
    session: Option<String>,
    intake: Option<Intake>,
    recording: bool,
    depacketizer: Depacketizer,
    /// The SSRC its RTP comes from, and when it was last seen.
    ssrc: Option<(u32, Instant)>,
    /// When it was last heard from (RTP, RTCP, a request).
    last_heard: Instant,
    /// When its ANNOUNCE was taken.
    since: Instant,
    stats: PathStats,
    /// The `a=control` of its JPEG section, to tell its SETUPs apart.
    video_control: Option<String>,
    /// Its sound and captions tracks, when its ANNOUNCE had ones hdstream can pass on.
    tracks: Vec<TrackIn>,
    /// Captions from speech on its sound, when they are on and it announced sound and no
    /// captions of its own.
    listener: Option<Listener>,
}

/// A publisher's track beside its video.
#[derive(Debug)]
struct TrackIn {
    kind: TrackKind,
    /// Its `a=control` in the ANNOUNCE.
    control: Option<String>,
    /// Its payload type.
    payload_type: u8,
    intake: Option<Intake>,
    /// The SSRC its RTP comes from, and when it was last seen.
    ssrc: Option<(u32, Instant)>,
}

/// Whether a SETUP URL's `track` (what follows `live/<name>/`) names the section whose
/// `a=control` is `control` (relative, or a whole URL ending in it). Tracks are matched by
/// control URL, never by position: `rtspclientsink` announces its audio first.
fn names(control: Option<&str>, track: Option<&str>) -> bool {
    match (control, track) {
        (Some(control), Some(track)) => {
            let control = control.trim_end_matches('/');
            control == track || control.ends_with(&format!("/{track}"))
        }
        _ => false,
    }
}

/// What a path has received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathStats {
    /// The path (`live/<name>`).
    pub path: String,
    /// Whether RECORD was answered.
    pub recording: bool,
    /// RTP packets taken.
    pub packets: u64,
    /// RTP bytes taken.
    pub bytes: u64,
    /// Whole frames put back together.
    pub frames: u64,
    /// Frames that lost a packet.
    pub frames_lost: u64,
    /// Frames that could not be served to viewers (not RFC 2435-ready once rebuilt).
    pub frames_refused: u64,
    /// RTCP packets taken (sender reports give the capture clock).
    pub rtcp: u64,
    /// Packets dropped: not RTP, or from another SSRC than the stream's.
    pub ignored: u64,
    /// Size of the last frame.
    pub size: Option<(u16, u16)>,
    /// Audio packets passed on to viewers.
    pub audio_packets: u64,
    /// Caption packets passed on to viewers.
    pub caption_packets: u64,
    /// Packets of the sound or captions dropped: not RTP, another SSRC, another payload type,
    /// too large.
    pub tracks_ignored: u64,
    /// Captions from speech: what the recogniser on its sound did and what was dropped.
    pub speech: speech::Counters,
}

/// A path's publisher as the operations API shows it ([`Publishing::publishers`]).
#[derive(Debug, Clone)]
pub struct PublisherView {
    /// The path (`live/<name>`).
    pub path: String,
    /// Its RTSP connection.
    pub conn: ConnId,
    /// Its address.
    pub peer: SocketAddr,
    /// How its RTP arrives: over UDP (`true`) or interleaved in its connection; `None` before
    /// its SETUP.
    pub udp: Option<bool>,
    /// When its ANNOUNCE was taken.
    pub since: Instant,
    /// Whether RECORD was answered.
    pub recording: bool,
    /// What it has sent.
    pub stats: PathStats,
}

/// A refusal: the status and why, for the reply's body.
pub type Refusal = (StatusCode, String);

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    (status, why.into())
}

/// Every published path.
#[derive(Debug)]
pub struct Publishing {
    /// Bytes of frames the feeds on the air share.
    budget: usize,
    paths: HashMap<String, Publisher>,
    /// Every path's frames, publisher or not (at most 2 × [`MAX_PATHS`]).
    feeds: HashMap<String, Feed>,
    /// Paths whose publisher left since the last [`Publishing::take_gone`].
    gone: Vec<String>,
    /// The final figures of paths that ended, until taken ([`Publishing::take_ended`]).
    ended: Vec<PathStats>,
    /// What the publishers that left had sent ([`crate::ops`]'s counters never go down).
    departed: Departed,
    /// Whether paths with sound get captions from speech ([`crate::speech`]).
    speech: bool,
    /// The recogniser turned out not to be installed: no more listeners.
    speech_missing: bool,
    /// The next listener's id.
    next_listener: ListenerId,
    /// What the driver must do about recognisers, in order.
    speech_commands: VecDeque<Command>,
}

/// Ended paths' figures kept at most until taken.
const MAX_ENDED: usize = 64;

/// `live/<name>` of a request URL (a track control after it dropped), if it is one.
pub fn live_path(url: &str) -> Option<String> {
    live_target(url).map(|(path, _)| path)
}

/// `live/<name>` of a request URL and the track control after it, if any.
pub fn live_target(url: &str) -> Option<(String, Option<String>)> {
    let segments = crate::media::url_segments(url).ok()?;
    let (first, rest) = segments.split_first()?;
    if first != PREFIX.trim_end_matches('/') || rest.is_empty() {
        return None;
    }
    let name = &rest[0];
    let track = (rest.len() > 1).then(|| rest[1..].join("/"));
    Some((format!("{PREFIX}{name}"), track))
}

impl Default for Publishing {
    fn default() -> Publishing {
        Publishing::new(LIVE_MEMORY)
    }
}

impl Publishing {
    /// No path yet; the feeds on the air will share `budget` bytes of frames.
    pub fn new(budget: usize) -> Publishing {
        Publishing {
            budget,
            paths: HashMap::new(),
            feeds: HashMap::new(),
            gone: Vec::new(),
            ended: Vec::new(),
            departed: Departed::default(),
            speech: false,
            speech_missing: false,
            next_listener: 1,
            speech_commands: VecDeque::new(),
        }
    }

    /// Turns captions from speech on (or off) for the paths announced from now on.
    pub fn set_speech(&mut self, on: bool) {
        self.speech = on;
    }

    /// Gives each feed on the air its share of the budget (called when the number of paths
    /// changes), so that many publishers together hold no more than the budget plus the
    /// newest frame of each.
    fn share_budget(&mut self) {
        let share = self.budget / self.paths.len().max(1);
        for path in self.paths.keys() {
            if let Some(feed) = self.feeds.get_mut(path) {
                feed.set_max_bytes(share);
            }
        }
    }

    /// ANNOUNCE of `path` with `sdp` from `conn`.
    pub fn announce(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        path: &str,
        sdp: &[u8],
        now: Instant,
    ) -> Result<(), Refusal> {
        if let Some(p) = self.paths.get(path)
            && p.conn != conn
        {
            return Err(refuse(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                format!("{path} already has a publisher"),
            ));
        }
        if !self.paths.contains_key(path) && self.paths.len() >= MAX_PATHS {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{MAX_PATHS} paths are being published already"),
            ));
        }
        if sdp.len() > MAX_SDP {
            return Err(refuse(StatusCode::BAD_REQUEST, "SDP too large"));
        }
        let text = std::str::from_utf8(sdp)
            .map_err(|_| refuse(StatusCode::BAD_REQUEST, "SDP is not UTF-8"))?;
        let description = SessionDescription::parse(text)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("SDP: {e}")))?;
        let media = description.jpeg_video().ok_or_else(|| {
            refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "no JPEG video (RFC 2435, payload type 26) in the SDP",
            )
        })?;
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_max_frame_len(MAX_FRAME);
        let mut size = None;
        if let Some((w, h)) = media.x_dimensions()
            && let (Ok(w), Ok(h)) = (u16::try_from(w), u16::try_from(h))
        {
            depacketizer.set_dimensions(w, h);
            size = Some((w, h));
        }
        if !self.feeds.contains_key(path) && self.feeds.len() >= 2 * MAX_PATHS {
            // Forget a path nobody publishes (its viewers, if any, wait in vain).
            let idle = self.feeds.iter().find(|(_, f)| !f.is_on_air());
            if let Some(idle) = idle.map(|(p, _)| p.clone()) {
                self.feeds.remove(&idle);
            }
        }
        let sound = description
            .media
            .iter()
            .filter(|m| m.media.eq_ignore_ascii_case("audio"))
            .find_map(|m| match Format::from_sdp(m) {
                Ok(format) => Some((format, m.control().map(str::to_owned))),
                Err(e) => {
                    tracing::warn!(path, error = %e, "a sound track that is not passed on");
                    None
                }
            });
        let captions = description.media.iter().find_map(|m| {
            let pt = m.t140_payload_type()?;
            Some((pt, m.control().map(str::to_owned)))
        });
        let video_control = media.control().map(str::to_owned);
        if let Some(old) = self.paths.get(path).and_then(|p| p.listener.as_ref()) {
            // Announced again: the new announcement's listener replaces it.
            self.speech_commands
                .push_back(Command::Stop { id: old.id() });
        }
        let listening = self
            .paths
            .iter()
            .filter(|(other, p)| *other != path && p.listener.is_some())
            .count();
        let listener = match (&sound, &captions) {
            (Some(_), None) if self.speech && listening >= speech::MAX_LISTENERS => {
                tracing::warn!(
                    path,
                    listening,
                    "no captions from speech: as many paths as the server listens to at once"
                );
                None
            }
            (Some((format, _)), None) if self.speech && !self.speech_missing => {
                match Listener::new(self.next_listener, path, *format, now) {
                    Ok(listener) => {
                        self.next_listener += 1;
                        Some(listener)
                    }
                    Err(e) => {
                        tracing::warn!(path, error = %e, "no captions from this sound");
                        None
                    }
                }
            }
            _ => None,
        };
        let feed = self.feeds.entry(path.to_owned()).or_default();
        feed.on_air(media.framerate(), size);
        feed.set_sound(sound.as_ref().map(|(format, _)| *format));
        let made = listener
            .is_some()
            .then_some(crate::captions::T140_PAYLOAD_TYPE);
        feed.set_captions(captions.as_ref().map(|(pt, _)| *pt).or(made));
        let tracks = sound
            .map(|(f, control)| (TrackKind::Sound, f.payload_type, control))
            .into_iter()
            .chain(captions.map(|(pt, control)| (TrackKind::Captions, pt, control)))
            .map(|(kind, payload_type, control)| TrackIn {
                kind,
                control,
                payload_type,
                intake: None,
                ssrc: None,
            })
            .collect();
        tracing::info!(%peer, path, "publisher announced");
        self.paths.insert(
            path.to_owned(),
            Publisher {
                conn,
                peer,
                session: None,
                intake: None,
                recording: false,
                depacketizer,
                ssrc: None,
                last_heard: now,
                since: now,
                stats: PathStats {
                    path: path.to_owned(),
                    ..PathStats::default()
                },
                video_control,
                tracks,
                listener,
            },
        );
        self.share_budget();
        Ok(())
    }

    /// SETUP with `mode=record` of `path`'s `track` (the control after the path) over `asked`:
    /// the session id (`id` when it is the path's first) and the transport to answer. A track
    /// that names the announced sound section sets up the sound; any other, the video.
    pub fn setup(
        &mut self,
        conn: ConnId,
        path: &str,
        track: Option<&str>,
        asked: &TransportSpec,
        id: String,
        server_ports: (u16, u16),
    ) -> Result<(String, TransportSpec), Refusal> {
        let p = self
            .paths
            .get_mut(path)
            .filter(|p| p.conn == conn)
            .ok_or_else(|| {
                refuse(
                    StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                    format!("ANNOUNCE {path} on this connection first"),
                )
            })?;
        let reply = TransportSpec::rtp_avp(asked.lower).with(TransportParam::Unicast);
        let (intake, reply) = match asked.lower_transport() {
            LowerTransport::Tcp => {
                let channels = asked.interleaved().unwrap_or(ChannelRange {
                    rtp: 0,
                    rtcp: Some(1),
                });
                let rtcp = channels.rtcp.unwrap_or(channels.rtp.wrapping_add(1));
                (
                    Intake::Tcp {
                        rtp: channels.rtp,
                        rtcp,
                    },
                    reply.with(TransportParam::Interleaved(ChannelRange {
                        rtp: channels.rtp,
                        rtcp: Some(rtcp),
                    })),
                )
            }
            LowerTransport::Udp => {
                let ports = asked.client_port().ok_or_else(|| {
                    refuse(StatusCode::BAD_REQUEST, "UDP publishing needs client_port=")
                })?;
                let rtcp = ports.rtcp.unwrap_or(ports.rtp.wrapping_add(1));
                (
                    Intake::Udp {
                        rtp: SocketAddr::new(p.peer.ip(), ports.rtp),
                        rtcp: SocketAddr::new(p.peer.ip(), rtcp),
                    },
                    reply
                        .with(TransportParam::ClientPort(ports))
                        .with(TransportParam::ServerPort(PortRange {
                            rtp: server_ports.0,
                            rtcp: Some(server_ports.1),
                        })),
                )
            }
        };
        let video = names(p.video_control.as_deref(), track);
        let other = p
            .tracks
            .iter_mut()
            .find(|t| !video && names(t.control.as_deref(), track));
        match other {
            Some(other) => other.intake = Some(intake),
            None => p.intake = Some(intake),
        }
        let session = p.session.get_or_insert(id).clone();
        Ok((session, reply.with(TransportParam::Mode("RECORD".into()))))
    }

    /// RECORD on `session` at `now`.
    pub fn record(&mut self, session: &str, now: Instant) -> Result<(), Refusal> {
        let p = self
            .paths
            .values_mut()
            .find(|p| p.session.as_deref() == Some(session))
            .ok_or_else(|| refuse(StatusCode::SESSION_NOT_FOUND, "no such session"))?;
        if p.intake.is_none() {
            return Err(refuse(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "SETUP the track first",
            ));
        }
        p.recording = true;
        p.stats.recording = true;
        tracing::info!(path = %p.stats.path, peer = %p.peer, "recording");
        if let Some(command) = p.listener.as_mut().and_then(|l| l.start(now)) {
            self.speech_commands.push_back(command);
        }
        Ok(())
    }

    /// Whether `session` is a publisher's; a request naming it keeps it alive.
    pub fn owns(&mut self, session: &str, now: Instant) -> bool {
        match self
            .paths
            .values_mut()
            .find(|p| p.session.as_deref() == Some(session))
        {
            Some(p) => {
                p.last_heard = now;
                true
            }
            None => false,
        }
    }

    /// Ends the paths whose publisher has not been heard from for `timeout`; answers their
    /// connections (to be closed).
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<ConnId> {
        let silent: Vec<(String, ConnId)> = self
            .paths
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_heard) >= timeout)
            .map(|(path, p)| (path.clone(), p.conn))
            .collect();
        silent
            .into_iter()
            .map(|(path, conn)| {
                self.end(&path, "publisher silent");
                conn
            })
            .collect()
    }

    /// When the next publisher falls silent for `timeout`, if any is there.
    pub fn next_expiry(&self, timeout: Duration) -> Option<Instant> {
        self.paths.values().map(|p| p.last_heard + timeout).min()
    }

    /// TEARDOWN of `session`: its path ends.
    pub fn teardown(&mut self, session: &str) {
        self.end_where(|p| p.session.as_deref() == Some(session), "teardown");
    }

    /// `conn` closed: the paths it published end.
    pub fn closed(&mut self, conn: ConnId) {
        self.end_where(|p| p.conn == conn, "publisher disconnected");
    }

    /// Ends every path whose publisher `which` picks.
    fn end_where(&mut self, which: impl Fn(&Publisher) -> bool, why: &str) {
        let paths: Vec<String> = self
            .paths
            .iter()
            .filter(|(_, p)| which(p))
            .map(|(path, _)| path.clone())
            .collect();
        for path in paths {
            self.end(&path, why);
        }
    }

    fn end(&mut self, path: &str, why: &str) {
        if let Some(mut p) = self.paths.remove(path) {
            if let Some(listener) = &p.listener {
                self.speech_commands
                    .push_back(Command::Stop { id: listener.id() });
                listener.log_summary();
                p.stats.speech = listener.counters();
            }
            p.depacketizer.flush();
            let feed = self.feeds.entry(path.to_owned()).or_default();
            take_outputs(&mut p, feed, None);
            feed.off_air();
            self.gone.push(path.to_owned());
            let s = &p.stats;
            tracing::info!(
                path,
                why,
                frames = s.frames,
                frames_lost = s.frames_lost,
                packets = s.packets,
                "publishing ended"
            );
            if self.ended.len() == MAX_ENDED {
                self.ended.remove(0);
            }
            self.departed.add(
                &p.stats.path,
                &Totals {
                    frames_published: p.stats.frames,
                    frames_refused: p.stats.frames_refused,
                    ..Totals::default()
                },
            );
            self.ended.push(p.stats);
            self.share_budget();
        }
    }

    /// The paths whose publisher left since the last call (their viewers get BYE).
    pub fn take_gone(&mut self) -> Vec<String> {
        std::mem::take(&mut self.gone)
    }

    /// The frames of `path`, while it has a publisher or had one.
    pub fn feed(&self, path: &str) -> Option<&Feed> {
        self.feeds.get(path)
    }

    /// The final figures of the paths that ended since the last call.
    pub fn take_ended(&mut self) -> Vec<PathStats> {
        std::mem::take(&mut self.ended)
    }

    /// Interleaved data on `conn`'s `channel`: answers whether it was a publisher's.
    pub fn interleaved(&mut self, conn: ConnId, channel: u8, data: &[u8], now: Instant) -> bool {
        let Some((path, p)) = self.paths.iter_mut().find(|(_, p)| p.conn == conn) else {
            return false;
        };
        let feed = self.feeds.entry(path.clone()).or_default();
        let on = |intake: Option<Intake>, rtcp: bool| match intake {
            Some(Intake::Tcp { rtp, rtcp: r }) => channel == if rtcp { r } else { rtp },
            _ => false,
        };
        for rtcp in [false, true] {
            if on(p.intake, rtcp) {
                take(p, None, feed, data, now, rtcp);
                return true;
            }
            if let Some(k) = p.tracks.iter().position(|t| on(t.intake, rtcp)) {
                take(p, Some(k), feed, data, now, rtcp);
                return true;
            }
        }
        false
    }

    /// An RTP datagram from `from` on the server's RTP port: answers whether a publisher sent it.
    pub fn udp(&mut self, from: SocketAddr, data: &[u8], now: Instant) -> bool {
        match self.sent_from(from, false) {
            Some((p, feed, track)) => take(p, track, feed, data, now, false),
            None => return false,
        }
        true
    }

    /// An RTCP datagram from `from` on the server's RTCP port: answers whether a publisher
    /// sent it.
    pub fn udp_rtcp(&mut self, from: SocketAddr, data: &[u8], now: Instant) -> bool {
        match self.sent_from(from, true) {
            Some((p, feed, track)) => take(p, track, feed, data, now, true),
            None => return false,
        }
        true
    }

    /// The UDP publisher whose RTP (or, `rtcp`, RTCP) port is `from`, its path's feed, and
    /// which of its other tracks the port is (`None`: the video's).
    fn sent_from(
        &mut self,
        from: SocketAddr,
        rtcp: bool,
    ) -> Option<(&mut Publisher, &mut Feed, Option<usize>)> {
        let port_of = |intake: Option<Intake>| match intake {
            Some(Intake::Udp { rtp, rtcp: r }) => from == if rtcp { r } else { rtp },
            _ => false,
        };
        let (path, p) = self
            .paths
            .iter_mut()
            .find(|(_, p)| port_of(p.intake) || p.tracks.iter().any(|t| port_of(t.intake)))?;
        let track = p.tracks.iter().position(|t| port_of(t.intake));
        let track = track.filter(|_| !port_of(p.intake));
        Some((p, self.feeds.entry(path.clone()).or_default(), track))
    }

    /// Who publishes each path, for the operations API ([`crate::ops`]), by path.
    pub fn publishers(&self) -> Vec<PublisherView> {
        let mut out: Vec<PublisherView> = self
            .paths
            .iter()
            .map(|(path, p)| PublisherView {
                path: path.clone(),
                conn: p.conn,
                peer: p.peer,
                udp: match p.intake {
                    Some(Intake::Udp { .. }) => Some(true),
                    Some(Intake::Tcp { .. }) => Some(false),
                    None => None,
                },
                since: p.since,
                recording: p.recording,
                stats: p.stats.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// What the publishers that left had sent, by path.
    pub fn departed(&self) -> &Departed {
        &self.departed
    }

    /// The paths whose frames are held (a publisher on the air, or one that left lately).
    pub fn feed_paths(&self) -> impl Iterator<Item = (&str, &Feed)> {
        self.feeds.iter().map(|(p, f)| (p.as_str(), f))
    }

    /// What each path has received.
    pub fn stats(&self) -> Vec<PathStats> {
        let mut out: Vec<PathStats> = self
            .paths
            .values()
            .map(|p| PathStats {
                speech: p
                    .listener
                    .as_ref()
                    .map(Listener::counters)
                    .unwrap_or_default(),
                ..p.stats.clone()
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

/// Captions from speech: what the driver asks and tells about each path's recogniser
/// ([`crate::speech`]; the core passes these on).
impl Publishing {
    /// The next thing the driver must do about recognisers.
    pub fn poll_speech(&mut self) -> Option<Command> {
        self.speech_commands.pop_front()
    }

    /// Listener `id` and its path's feed.
    fn listener(&mut self, id: ListenerId) -> Option<(&mut Listener, &mut Feed)> {
        let (path, p) = self
            .paths
            .iter_mut()
            .find(|(_, p)| p.listener.as_ref().is_some_and(|l| l.id() == id))?;
        let feed = self.feeds.entry(path.clone()).or_default();
        Some((p.listener.as_mut()?, feed))
    }

    /// Sound for recogniser `id`'s stdin (16 kHz mono s16le).
    pub fn speech_input(&self, id: ListenerId) -> &[u8] {
        self.paths
            .values()
            .filter_map(|p| p.listener.as_ref())
            .find(|l| l.id() == id)
            .map_or(&[], Listener::input)
    }

    /// `n` bytes of [`Publishing::speech_input`] were written.
    pub fn speech_written(&mut self, id: ListenerId, n: usize) {
        if let Some((listener, _)) = self.listener(id) {
            listener.written(n);
        }
    }

    /// Bytes of recogniser `id`'s output taken now (0: read nothing for now).
    pub fn speech_read_room(&mut self, id: ListenerId, now: Instant) -> usize {
        self.listener(id).map_or(0, |(l, _)| l.read_room(now))
    }

    /// Bytes recogniser `id` printed, read at `now`: its lines become the path's captions.
    pub fn speech_output(&mut self, id: ListenerId, bytes: &[u8], now: Instant) {
        if let Some((listener, feed)) = self.listener(id)
            && let Some(captions) = feed.track_mut(TrackKind::Captions)
        {
            listener.output(bytes, now, captions);
        }
    }

    /// Recogniser `id` ended, or could not start, at `now`. A missing one turns captions from
    /// speech off (one log line): every path goes on without them.
    pub fn speech_exited(&mut self, id: ListenerId, exit: Exit, now: Instant) {
        let Some((listener, feed)) = self.listener(id) else {
            return;
        };
        if !listener.exited(&exit, now, feed.track_mut(TrackKind::Captions)) {
            return;
        }
        if !std::mem::replace(&mut self.speech_missing, true) {
            let why = match &exit {
                Exit::NotFound(why) | Exit::Ended(why) => why.as_str(),
            };
            tracing::error!(
                why,
                "captions from speech: the speech recogniser is not installed; live paths go \
                 on without captions (Debian: apt-get install pocketsphinx pocketsphinx-en-us, \
                 or give --speech-command)"
            );
        }
        for (path, p) in &mut self.paths {
            if let Some(listener) = &mut p.listener {
                listener.turn_off();
                if let Some(feed) = self.feeds.get_mut(path) {
                    feed.set_captions(None);
                }
            }
        }
    }

    /// What is due at `now` about recognisers: captions of lines that waited for their word
    /// times, restarts.
    pub fn speech_tick(&mut self, now: Instant) {
        for (path, p) in &mut self.paths {
            let Some(listener) = &mut p.listener else {
                continue;
            };
            if listener.deadline().is_none_or(|d| d > now) {
                continue;
            }
            let captions = self
                .feeds
                .get_mut(path)
                .and_then(|f| f.track_mut(TrackKind::Captions));
            if let Some(command) = listener.tick(now, captions) {
                self.speech_commands.push_back(command);
            }
        }
    }

    /// When [`Publishing::speech_tick`] or a throttled read has something to do next.
    pub fn speech_deadline(&self) -> Option<Instant> {
        self.paths
            .values()
            .filter_map(|p| p.listener.as_ref()?.deadline())
            .min()
    }
}

fn take_rtp(p: &mut Publisher, feed: &mut Feed, data: &[u8], now: Instant) {
    if !p.recording {
        return;
    }
    p.last_heard = now;
    let Ok(packet) = rtp::Packet::parse(data) else {
        p.stats.ignored += 1;
        return;
    };
    let ssrc = packet.ssrc();
    match p.ssrc {
        Some((ours, seen)) if ours != ssrc && now.saturating_duration_since(seen) < SSRC_SWITCH => {
            p.stats.ignored += 1;
            return;
        }
        _ => p.ssrc = Some((ssrc, now)),
    }
    p.stats.packets += 1;
    p.stats.bytes += data.len() as u64;
    p.depacketizer.push(&packet);
    take_outputs(p, feed, Some(now));
}

/// A packet from the publisher: RTP or (`rtcp`) RTCP of its video (`track` `None`) or of its
/// other track `track`.
fn take(
    p: &mut Publisher,
    track: Option<usize>,
    feed: &mut Feed,
    data: &[u8],
    now: Instant,
    rtcp: bool,
) {
    let kind = track.and_then(|k| p.tracks.get(k)).map(|t| t.kind);
    match (track, rtcp) {
        (None, false) => take_rtp(p, feed, data, now),
        (Some(k), false) => take_track(p, k, feed, data, now),
        (_, true) => take_rtcp(p, feed, data, now, kind),
    }
}

/// An RTP packet of the publisher's track `k` (sound, captions): passed on as it is, from one
/// SSRC and of the announced payload type.
fn take_track(p: &mut Publisher, k: usize, feed: &mut Feed, data: &[u8], now: Instant) {
    let Some(track) = p.tracks.get_mut(k) else {
        return;
    };
    let Some(packets) = feed.track_mut(track.kind) else {
        return;
    };
    if !p.recording {
        return;
    }
    p.last_heard = now;
    let packet = match rtp::Packet::parse(data) {
        Ok(packet) if packet.payload_type() == track.payload_type => packet,
        _ => {
            p.stats.tracks_ignored += 1;
            return;
        }
    };
    let ssrc = packet.ssrc();
    match track.ssrc {
        Some((ours, seen)) if ours != ssrc && now.saturating_duration_since(seen) < SSRC_SWITCH => {
            p.stats.tracks_ignored += 1;
            return;
        }
        _ => track.ssrc = Some((ssrc, now)),
    }
    if !packets.push(&packet, now) {
        p.stats.tracks_ignored += 1;
    } else if track.kind == TrackKind::Sound {
        p.stats.audio_packets += 1;
        if let (Some(listener), Some(moment)) = (&mut p.listener, packets.newest()) {
            listener.hear(packet.payload(), moment);
        }
    } else {
        p.stats.caption_packets += 1;
    }
}

/// The publisher's RTCP (of its `kind` of track, `None` the video): its sender reports set the
/// feed's capture clock (RFC 3550 §6.4.1).
fn take_rtcp(
    p: &mut Publisher,
    feed: &mut Feed,
    data: &[u8],
    now: Instant,
    kind: Option<TrackKind>,
) {
    p.stats.rtcp += 1;
    p.last_heard = now;
    let Ok(compound) = rtcp::Compound::parse(data) else {
        return;
    };
    for packet in compound.iter() {
        if let rtcp::Packet::SenderReport(sr) = packet {
            let info = sr.sender_info();
            let Some(wall) = info.ntp_timestamp.to_system_time() else {
                continue;
            };
            match kind {
                Some(kind) => {
                    if let Some(track) = feed.track_mut(kind) {
                        track.sender_report(info.rtp_timestamp, wall);
                    }
                }
                None => feed.sender_report(info.rtp_timestamp, wall),
            }
        }
    }
}

/// Takes what the depacketizer put together: frames into the feed (at `now`; without it, as
/// the publisher leaves, they are counted only).
fn take_outputs(p: &mut Publisher, feed: &mut Feed, now: Option<Instant>) {
    while let Some(output) = p.depacketizer.pull() {
        match output {
            Output::Frame(jpeg) => {
                p.stats.frames += 1;
                p.stats.size = Some((jpeg.width, jpeg.height));
                let Some(now) = now else {
                    continue;
                };
                if let Err(e) = feed.push(jpeg.data, jpeg.timestamp, now) {
                    p.stats.frames_refused += 1;
                    tracing::debug!(path = %p.stats.path, error = %e, "published frame not served");
                }
            }
            Output::Lost { reason, .. } => {
                tracing::debug!(path = %p.stats.path, %reason, "published frame lost");
                p.stats.frames_lost += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_bounded() {
        let mut p = Publishing::default();
        let now = Instant::now();
        let peer = SocketAddr::from(([10, 0, 0, 1], 1));
        let sdp = b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\n";
        for i in 0..MAX_PATHS {
            assert!(p.announce(i, peer, &format!("live/{i}"), sdp, now).is_ok());
        }
        let refused = p.announce(999, peer, "live/more", sdp, now).unwrap_err();
        assert_eq!(refused.0, StatusCode::SERVICE_UNAVAILABLE);
        // Announcing again a path one holds is not a new path.
        assert!(p.announce(0, peer, "live/0", sdp, now).is_ok());
        p.closed(0);
        assert!(p.announce(999, peer, "live/more", sdp, now).is_ok());
    }

    const SDP: &[u8] = b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\n";

    /// A path `live/cam` recording over TCP channels 0-1 from connection 1.
    fn recording(now: Instant) -> Publishing {
        let mut p = Publishing::default();
        record(&mut p, 1, "live/cam", "7", now);
        p
    }

    /// `path` recording over TCP channels 0-1 from connection `conn`, session `id`.
    fn record(p: &mut Publishing, conn: ConnId, path: &str, id: &str, now: Instant) {
        let peer = SocketAddr::from(([10, 0, 0, 1], 1));
        p.announce(conn, peer, path, SDP, now).unwrap();
        let asked = TransportSpec::rtp_avp(Some(LowerTransport::Tcp)).with(
            TransportParam::Interleaved(ChannelRange {
                rtp: 0,
                rtcp: Some(1),
            }),
        );
        let (id, _) = p
            .setup(conn, path, None, &asked, id.into(), (0, 0))
            .unwrap();
        p.record(&id, now).unwrap();
    }

    /// Many paths on the air share the live memory budget: together they hold no more than
    /// it (plus the newest frame of each); when some leave, the others' share grows back.
    #[test]
    fn paths_on_the_air_share_the_memory_budget() {
        let t0 = Instant::now();
        let frame_len = {
            let media = crate::testing::clip();
            media.file.frame(0).unwrap().len()
        };
        // Room for 40 frames in all: 8 paths get 5 frames' worth each.
        let budget = 40 * frame_len;
        let mut p = Publishing::new(budget);
        for conn in 0..8 {
            record(
                &mut p,
                conn,
                &format!("live/{conn}"),
                &format!("s{conn}"),
                t0,
            );
        }
        let send = |p: &mut Publishing, conn: ConnId, frames: std::ops::Range<u16>| {
            for n in frames {
                for (i, mut packet) in packets(n % 4, 0xA).into_iter().enumerate() {
                    // Each frame its own sequence numbers and timestamp.
                    let seq = n.wrapping_mul(100).wrapping_add(i as u16);
                    packet[2..4].copy_from_slice(&seq.to_be_bytes());
                    packet[4..8].copy_from_slice(&(u32::from(n) * 3000).to_be_bytes());
                    assert!(p.interleaved(conn, 0, &packet, t0));
                }
            }
        };
        for conn in 0..8 {
            send(&mut p, conn, 0..20);
        }
        let held: usize = (0..8)
            .map(|c| p.feed(&format!("live/{c}")).unwrap().bytes())
            .sum();
        assert!(
            held <= budget + 8 * 2 * frame_len,
            "{held} bytes held, budget {budget}"
        );
        let one = p.feed("live/0").unwrap().len();
        assert!((3..=7).contains(&one), "{one} frames on one of 8 paths");
        // Seven leave: the last one's share is the whole budget.
        for conn in 1..8 {
            p.closed(conn);
        }
        send(&mut p, 0, 20..60);
        let alone = p.feed("live/0").unwrap().len();
        assert!(alone >= 30, "{alone} frames on the one path left");
        assert!(p.feed("live/0").unwrap().bytes() <= budget + 2 * frame_len);
    }

    /// The RTP packets of the test clip's frame `n` from `ssrc`.
    fn packets(n: u16, ssrc: u32) -> Vec<Vec<u8>> {
        let media = crate::testing::clip();
        let frame = media.file.rfc2435_frame(usize::from(n)).unwrap();
        hdstream_common::rfc2435::Packetizer::new(&frame, 1000)
            .unwrap()
            .enumerate()
            .map(|(i, f)| {
                let header = rtp::Header {
                    marker: f.marker,
                    payload_type: 26,
                    sequence_number: n * 100 + i as u16,
                    timestamp: u32::from(n) * 3000,
                    ssrc,
                };
                let mut out = Vec::new();
                header.append(&[f.header(), f.data], &mut out).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn garbage_and_a_foreign_ssrc_are_dropped_the_stream_goes_on() {
        let t0 = Instant::now();
        let mut p = recording(t0);
        for packet in packets(0, 0xA) {
            assert!(p.interleaved(1, 0, &packet, t0));
            // Between each of its packets: garbage, and the same frame from another source.
            p.interleaved(1, 0, b"\x00garbage", t0);
        }
        for packet in packets(1, 0xB) {
            p.interleaved(1, 0, &packet, t0);
        }
        for packet in packets(2, 0xA) {
            p.interleaved(1, 0, &packet, t0);
        }
        let stats = &p.stats()[0];
        assert_eq!((stats.frames, stats.frames_lost), (2, 0), "{stats:?}");
        assert!(stats.ignored >= 3, "{stats:?}");
        assert_eq!(p.feed("live/cam").unwrap().len(), 2);
        // The first source silent for a second: the other one is the stream now.
        let later = t0 + SSRC_SWITCH;
        for packet in packets(3, 0xB) {
            p.interleaved(1, 0, &packet, later);
        }
        assert_eq!(p.stats()[0].frames, 3);
    }

    #[test]
    fn a_silent_publisher_ends_its_path() {
        let t0 = Instant::now();
        let mut p = recording(t0);
        let timeout = Duration::from_secs(5);
        assert_eq!(p.next_expiry(timeout), Some(t0 + timeout));
        assert!(p.expire(t0 + Duration::from_secs(4), timeout).is_empty());
        // A keep-alive on its session counts as news.
        assert!(p.owns("7", t0 + Duration::from_secs(4)));
        assert!(p.expire(t0 + Duration::from_secs(6), timeout).is_empty());
        assert_eq!(p.expire(t0 + Duration::from_secs(9), timeout), vec![1]);
        assert!(p.stats().is_empty());
        assert_eq!(p.take_gone(), vec!["live/cam".to_owned()]);
        assert!(!p.feed("live/cam").unwrap().is_on_air());
    }

    #[test]
    fn live_paths_are_named_under_live() {
        assert_eq!(live_path("rtsp://h:8554/live/cam"), Some("live/cam".into()));
        assert_eq!(
            live_path("rtsp://h/live/cam/streamid=0"),
            Some("live/cam".into())
        );
        assert_eq!(live_path("rtsp://h/live"), None);
        assert_eq!(live_path("rtsp://h/clip.mjpeg"), None);
    }
}
