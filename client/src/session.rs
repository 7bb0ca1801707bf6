//! The RTSP client session, RFC 2326: requests out, responses in, events for the player.
//!
//! Appendix A.1's client state machine, with what is in flight on top of it:
//!
//! ```text
//!            SETUP ok              PLAY ok
//!   Init ───────────────▶ Ready ───────────────▶ Playing
//!     ▲                    ▲  ◀─────────────────   │
//!     │     TEARDOWN ok    │       PAUSE ok        │
//!     └────────────────────┴───────────────────────┘
//! ```
//!
//! Standard servers get OPTIONS → DESCRIBE → SETUP → PLAY with CRLF messages, `CSeq`,
//! `User-Agent` and `Session` on every request, and a keep-alive at half the session timeout
//! (§12.37): GET_PARAMETER when the OPTIONS reply's `Public` lists it, else OPTIONS. The course
//! server gets the course dialect ([`course::request`]): SETUP → PLAY, LF line ends, no blank
//! line, no keep-alive.
//!
//! Sans-IO: every entry point takes `now`; requests accumulate in an output buffer the caller
//! drains; [`Session::poll_timeout`] says when the next keep-alive or request timeout is due.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hdstream_codec::Decoder;
use hdstream_common::audio::Format;
use hdstream_common::course::Dialect;
use hdstream_common::rtsp::header::{
    ContentBase, Public, Range, RtpInfo, RtpInfoEntry, Speed, Transport,
};
use hdstream_common::rtsp::requester::{self, Reply, Requester};
use hdstream_common::rtsp::{Method, Request, Response, course};
use hdstream_common::sdp::{RtxFormat, SessionDescription};

use crate::error::Error;
use hdstream_common::rtsp::auth::split_userinfo;
use hdstream_common::rtsp::authenticator::Authenticator;

/// How long a request may go unanswered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The session timeout assumed when the server names none (RFC 2326 §12.37).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// `User-Agent` of every standard request.
pub const USER_AGENT: &str = concat!("hdstream-client/", env!("CARGO_PKG_VERSION"));

/// Why a PLAY was sent; its reply is handed back with the same purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayPurpose {
    /// The first PLAY after SETUP.
    Start,
    /// A PLAY with a new `Range` (a seek or a restart).
    Seek,
    /// A PLAY after PAUSE, continuing where the stream stopped.
    Resume,
    /// A PLAY that only changes `Speed` (prefetch on or off).
    Speed,
}

/// What the DESCRIBE reply says about the JPEG stream (RFC 2326 C.1, RFC 4566).
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The stream's control URL, for SETUP (C.1.1).
    pub media_url: String,
    /// The aggregate control URL, for PLAY, PAUSE and TEARDOWN.
    pub aggregate_url: String,
    /// RTP payload type of the JPEG stream.
    pub payload_type: u8,
    /// RTP clock rate (90 kHz for JPEG).
    pub clock_rate: u32,
    /// `a=framerate:`.
    pub fps: Option<f64>,
    /// `a=x-dimensions:` (sizes over 2040 pixels).
    pub dimensions: Option<(u32, u32)>,
    /// Length of the presentation from `a=range:npt=0-D`.
    pub duration: Option<f64>,
    /// A live stream: `a=range:npt=now-` (RFC 2326 C.1.5).
    pub live: bool,
    /// Retransmission the server offers for the JPEG stream (RFC 4588 §8.1), when it takes
    /// generic NACKs: the AVPF profile (RFC 4585; gst-rtsp-server says no more) or
    /// `a=rtcp-fb:<pt> nack` (§4.2).
    pub rtx: Option<RtxFormat>,
    /// The offer's RTP profile, `AVP` or `AVPF`: SETUP asks for the same (an AVPF-only server,
    /// such as gst-rtsp-server with retransmission, answers 461 to RTP/AVP).
    pub profile: &'static str,
    /// The first audio track whose format the client reads (L16, PCMU, PCMA); the others are
    /// logged with the reason and left out.
    pub audio: Option<AudioTrack>,
    /// The first text section carrying T.140 (RFC 4103 §6: `m=text … t140/1000`).
    pub captions: Option<TextTrack>,
}

/// A real-time text `m=` section: the captions (RFC 4103).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTrack {
    /// Its control URL, for SETUP and to find its `RTP-Info` entry.
    pub control_url: String,
    /// The payload type its `a=rtpmap` gives `t140`.
    pub payload_type: u8,
}

/// An audio `m=` section the client can play (RFC 4566 §5.14, RFC 3551).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    /// Its control URL, for SETUP and to find its `RTP-Info` entry (C.1.1).
    pub control_url: String,
    /// Encoding, payload type, clock rate, channels.
    pub format: Format,
    /// The section's RTP profile, `AVP` or `AVPF`.
    pub profile: &'static str,
}

/// The tracks of a session: the JPEG video, and the audio beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The JPEG video (set up first).
    Video,
    /// The audio track ([`Description::audio`]).
    Audio,
    /// The captions track ([`Description::captions`]).
    Captions,
}

/// Where a track starts after a PLAY (RFC 2326 §12.33 `RTP-Info`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackStart {
    /// `seq=`: sequence number of the first packet after the PLAY.
    pub seq: Option<u16>,
    /// `rtptime=`: RTP timestamp of the Range start.
    pub rtptime: Option<u32>,
}

/// The answer to a PLAY.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Played {
    /// Why the PLAY was sent.
    pub purpose: PlayPurpose,
    /// Start of the reply's `Range` in seconds, when given (§12.29).
    pub range_start: Option<f64>,
    /// `RTP-Info` `seq=`: sequence number of the first packet after this PLAY (§12.33).
    pub seq: Option<u16>,
    /// `RTP-Info` `rtptime=`: RTP timestamp of `range_start`.
    pub rtptime: Option<u32>,
    /// The `Speed` the server grants (§12.35); `None` if it ignored the request.
    pub speed: Option<f64>,
    /// The audio track's `RTP-Info` entry, when one names it.
    pub audio: Option<TrackStart>,
    /// The captions track's `RTP-Info` entry, when one names it.
    pub captions: Option<TrackStart>,
}

/// What the session reports to the player.
#[derive(Debug)]
pub enum Event {
    /// OPTIONS answered.
    Options,
    /// DESCRIBE answered with a playable description.
    Described(Description),
    /// SETUP of a track answered: the transport the server chose (none in the course dialect).
    SetUp(Track, Option<Transport>),
    /// SETUP of the audio track refused: the video plays on without it.
    AudioRefused {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// SETUP of the captions track refused: the video plays on without it.
    CaptionsRefused {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// PLAY answered.
    Played(Played),
    /// PAUSE answered.
    Paused,
    /// TEARDOWN answered (or refused: the session is gone either way).
    TornDown,
    /// A PLAY that only changed `Speed` was refused; stop asking.
    SpeedRefused,
    /// The session cannot go on.
    Failed(Error),
}

/// Appendix A.1's client states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No session yet (or torn down).
    Init,
    /// Set up, not playing (also paused).
    Ready,
    /// PLAY answered.
    Playing,
}

/// What a request in flight is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Options,
    Describe,
    Setup(Track),
    Play(PlayPurpose),
    Pause,
    Teardown,
    KeepAlive,
}

/// One RTSP session with one server.
#[derive(Debug)]
pub struct Session {
    url: String,
    dialect: Dialect,
    state: State,
    /// CSeq, the requests in flight and their replies, the session id, credentials and
    /// request timeouts (standard dialect: `User-Agent` and 401 retries too).
    requester: Requester<Intent>,
    output: Vec<u8>,
    events: VecDeque<Event>,
    timeout: Duration,
    keep_alive_method: Method,
    /// The `Server` header of the OPTIONS reply (RFC 2326 §12.36).
    server_software: Option<String>,
    description: Option<Description>,
    /// The caching course server's `Total-Frames` (its fourth reply line).
    total_frames: Option<u64>,
    failed: bool,
}

impl Session {
    /// Whether a `Speed` above 1 leaves RTP timestamps in media time, as RFC 2326 §12.35
    /// says ("the timestamps are not affected"), so frames fetched early can wait in the cache
    /// for their time. Known for hdstream; gst-rtsp-server instead runs the RTP clock at
    /// delivery speed (and ignores `Speed: 1` without a Range), which would play the prefetch
    /// fast-forward, so other servers are not asked.
    pub fn speed_keeps_media_time(&self) -> bool {
        self.server_software
            .as_deref()
            .is_some_and(|s| s.starts_with("hdstream/"))
    }

    /// A session for `url` (standard: an `rtsp://` URL; course: the bare file name).
    pub fn new(url: impl Into<String>, dialect: Dialect) -> Session {
        // Credentials in the URL (`rtsp://user:pass@host/…`) never go on the wire in it.
        let (url, userinfo) = split_userinfo(&url.into());
        let requester = match dialect {
            Dialect::Standard => Requester::new(REQUEST_TIMEOUT).with_user_agent(USER_AGENT),
            // The course server reads headers by position: no `User-Agent`, no credentials.
            Dialect::Course => Requester::new(REQUEST_TIMEOUT),
        };
        let mut session = Session {
            url,
            dialect,
            state: State::Init,
            requester,
            output: Vec::new(),
            events: VecDeque::new(),
            timeout: DEFAULT_SESSION_TIMEOUT,
            keep_alive_method: Method::Options,
            server_software: None,
            description: None,
            total_frames: None,
            failed: false,
        };
        if let Some((username, password)) = userinfo {
            session.set_credentials(username, password);
        }
        session
    }

    /// Credentials to answer the server's challenges with (instead of any in the URL; the
    /// course dialect has no authentication).
    pub fn set_credentials(&mut self, username: String, password: String) {
        if self.dialect == Dialect::Standard {
            let authenticator = Authenticator::new(username, password);
            self.requester.set_authenticator(Some(authenticator));
        }
    }

    /// Frames in the file, when a course server says (`Total-Frames`, the caching variant's
    /// fourth reply line).
    pub fn total_frames(&self) -> Option<u64> {
        self.total_frames
    }

    /// The dialect spoken.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appendix A.1 state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The session id from SETUP.
    pub fn id(&self) -> Option<&str> {
        self.requester.session()
    }

    /// The session timeout the server advertised (§12.37).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether a request of this kind is waiting for its reply.
    fn awaiting(&self, intent: Intent) -> bool {
        self.requester.pending().any(|p| p.tag == intent)
    }

    /// Whether any PLAY is waiting for its reply.
    pub fn play_pending(&self) -> bool {
        self.requester
            .pending()
            .any(|p| matches!(p.tag, Intent::Play(_)))
    }

    /// Whether a TEARDOWN was sent.
    pub fn tearing_down(&self) -> bool {
        self.awaiting(Intent::Teardown)
    }

    /// The method of the oldest request still waiting for its reply.
    pub fn oldest_pending(&self) -> Option<&str> {
        self.requester
            .pending()
            .next()
            .map(|p| p.request.method.as_str())
    }

    /// Moves the requests written so far to the end of `out`.
    pub fn drain_output(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.output);
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The URL the aggregate methods go to.
    fn aggregate_url(&self) -> String {
        self.description
            .as_ref()
            .map_or_else(|| self.url.clone(), |d| d.aggregate_url.clone())
    }

    fn send(
        &mut self,
        method: Method,
        uri: String,
        intent: Intent,
        extra: Vec<(&str, String)>,
        now: Instant,
    ) {
        let mut request = Request::new(method, uri);
        for (name, value) in extra {
            request.headers.append(name, value);
        }
        let wire = self.requester.send(request, intent, now);
        self.write(&wire);
    }

    /// Writes a request as the dialect wants it: CRLF and a blank line, or the course's
    /// headers by position (CSeq, then Transport or Session) with bare LF.
    fn write(&mut self, request: &Request) {
        match self.dialect {
            Dialect::Standard => request.write_to(&mut self.output),
            Dialect::Course => self.output.extend_from_slice(&course::request(request)),
        }
    }

    /// OPTIONS (§10.1), the first request to a standard server.
    pub fn options(&mut self, now: Instant) {
        let url = self.url.clone();
        self.send(Method::Options, url, Intent::Options, Vec::new(), now);
    }

    /// DESCRIBE (§10.2), asking for SDP.
    pub fn describe(&mut self, now: Instant) {
        let url = self.url.clone();
        let accept = vec![("Accept", "application/sdp".to_owned())];
        self.send(Method::Describe, url, Intent::Describe, accept, now);
    }

    /// SETUP (§10.4) of the described stream with `transport` (a `Transport` header value).
    pub fn setup(&mut self, transport: String, now: Instant) {
        let url = match (&self.description, self.dialect) {
            (Some(d), _) => d.media_url.clone(),
            (None, _) => self.url.clone(),
        };
        let transport = vec![("Transport", transport)];
        let intent = Intent::Setup(Track::Video);
        self.send(Method::Setup, url, intent, transport, now);
    }

    /// SETUP of the described audio track into the session the video's SETUP began (§10.4:
    /// the `Session` header goes with it); false when the description has none.
    pub fn setup_audio(&mut self, transport: String, now: Instant) -> bool {
        let Some(url) = self
            .description
            .as_ref()
            .and_then(|d| d.audio.as_ref())
            .map(|a| a.control_url.clone())
        else {
            return false;
        };
        let transport = vec![("Transport", transport)];
        let intent = Intent::Setup(Track::Audio);
        self.send(Method::Setup, url, intent, transport, now);
        true
    }

    /// SETUP of the described captions track into the session the video's SETUP began; false
    /// when the description has none.
    pub fn setup_captions(&mut self, transport: String, now: Instant) -> bool {
        let Some(url) = self
            .description
            .as_ref()
            .and_then(|d| d.captions.as_ref())
            .map(|c| c.control_url.clone())
        else {
            return false;
        };
        let transport = vec![("Transport", transport)];
        let intent = Intent::Setup(Track::Captions);
        self.send(Method::Setup, url, intent, transport, now);
        true
    }

    /// The course client's SETUP: `Transport: RTP/UDP; client_port= <rtp_port>`.
    pub fn course_setup(&mut self, rtp_port: u16, now: Instant) {
        self.setup(course::transport(rtp_port), now);
    }

    /// PLAY (§10.5): from `range` seconds when given, at `speed` times real time when given.
    pub fn play(
        &mut self,
        range: Option<f64>,
        speed: Option<f64>,
        purpose: PlayPurpose,
        now: Instant,
    ) {
        let mut extra = Vec::new();
        if self.dialect == Dialect::Standard {
            if let Some(range) = range.and_then(Range::from_seconds) {
                extra.push(("Range", range.to_string()));
            }
            if let Some(speed) = speed.and_then(Speed::new) {
                extra.push(("Speed", speed.to_string()));
            }
        }
        let url = self.aggregate_url();
        self.send(Method::Play, url, Intent::Play(purpose), extra, now);
    }

    /// PAUSE (§10.6).
    pub fn pause(&mut self, now: Instant) {
        let url = self.aggregate_url();
        self.send(Method::Pause, url, Intent::Pause, Vec::new(), now);
    }

    /// TEARDOWN (§10.7). Nothing is sent without a session.
    pub fn teardown(&mut self, now: Instant) -> bool {
        if self.id().is_none() || self.tearing_down() {
            return false;
        }
        let url = self.aggregate_url();
        self.send(Method::Teardown, url, Intent::Teardown, Vec::new(), now);
        true
    }

    /// When [`Session::handle_timeout`] wants to run: the next keep-alive or request timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let request = self.requester.poll_timeout();
        request.into_iter().chain(self.keep_alive_at()).min()
    }

    /// Half the session timeout after the last request (§12.37).
    fn keep_alive_at(&self) -> Option<Instant> {
        let standing = self.dialect == Dialect::Standard && self.id().is_some() && !self.failed;
        let last = self.requester.last_sent()?;
        (standing && !self.tearing_down()).then(|| last + self.timeout / 2)
    }

    /// Sends a keep-alive when due (§12.37: any request keeps the session alive), and fails a
    /// request that has waited too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.failed
            && let Some((intent, requester::Error::TimedOut { method, .. })) =
                self.requester.handle_timeout(now)
        {
            if intent == Intent::Teardown {
                self.requester.forget();
                self.events.push_back(Event::TornDown);
            } else {
                let hint = match (self.dialect, intent) {
                    (Dialect::Course, Intent::Setup(_)) => {
                        " (the course's caching server does not answer a SETUP for a file it does \
                         not have: is the name right?)"
                    }
                    _ => "",
                };
                self.fail(Error::Timeout {
                    method: method.as_str().to_owned(),
                    seconds: REQUEST_TIMEOUT.as_secs(),
                    hint,
                });
            }
            return;
        }
        if self.keep_alive_at().is_some_and(|t| now >= t) && !self.awaiting(Intent::KeepAlive) {
            let method = self.keep_alive_method.clone();
            let url = self.aggregate_url();
            self.send(method, url, Intent::KeepAlive, Vec::new(), now);
        }
    }

    fn fail(&mut self, error: Error) {
        if !self.failed {
            self.failed = true;
            self.events.push_back(Event::Failed(error));
        }
    }

    /// The RTSP connection closed: fatal unless the session is over.
    pub fn closed(&mut self) {
        if self.tearing_down() {
            self.requester.forget();
            self.events.push_back(Event::TornDown);
            return;
        }
        let during = match self.oldest_pending() {
            Some(method) => method.to_owned(),
            None if self.state == State::Playing => "PLAY".to_owned(),
            None if self.state == State::Ready => "PAUSE".to_owned(),
            None => "setup".to_owned(),
        };
        self.fail(Error::Closed { during });
    }

    /// Takes one response from the server.
    pub fn handle_response(&mut self, response: Response, now: Instant) {
        // Matched by CSeq; a 401 is asked again with credentials (RFC 7616).
        let (intent, request, response) = match self.requester.reply(response, now) {
            Reply::Answered {
                tag,
                request,
                response,
            } => (tag, request, response),
            Reply::Resent(request) => return self.write(&request),
            Reply::Ignored => return,
        };
        if let Some(Ok(session)) = response.session() {
            if let Some(timeout) = session.timeout.filter(|&t| t > 0) {
                self.timeout = Duration::from_secs(u64::from(timeout));
            }
            if self.id().is_none() {
                self.requester.set_session(Some(session.id));
            }
        }
        if !response.status.is_success() {
            self.refused(intent, &request, &response);
            return;
        }
        match intent {
            Intent::Options => {
                self.server_software = response.headers.get("Server").map(str::to_owned);
                if let Some(Ok(public)) = response.headers.typed::<Public>()
                    && public.contains(&Method::GetParameter)
                {
                    self.keep_alive_method = Method::GetParameter;
                }
                self.events.push_back(Event::Options);
            }
            Intent::Describe => match describe(&response, &self.url) {
                Ok(description) => {
                    self.description = Some(description.clone());
                    self.events.push_back(Event::Described(description));
                }
                Err(e) => self.fail(e),
            },
            Intent::Setup(track) => {
                if self.id().is_none() && self.dialect == Dialect::Standard {
                    self.fail(Error::Protocol(
                        "SETUP reply without a Session header".into(),
                    ));
                    return;
                }
                if self.id().is_none() {
                    // The course server's line 3 is `Session: <id>`; a missing one is taken as 0.
                    self.requester.set_session(Some("0".into()));
                }
                self.total_frames = response
                    .headers
                    .get(course::TOTAL_FRAMES)
                    .and_then(|n| n.trim().parse().ok());
                self.state = State::Ready;
                let transport = response.headers.typed::<Transport>().and_then(Result::ok);
                self.events.push_back(Event::SetUp(track, transport));
            }
            Intent::Play(purpose) => {
                self.state = State::Playing;
                let range_start = response
                    .headers
                    .typed::<Range>()
                    .and_then(Result::ok)
                    .and_then(|r| r.start_seconds());
                let entries = response
                    .headers
                    .typed::<RtpInfo>()
                    .and_then(Result::ok)
                    .map_or_else(Vec::new, |i| i.0);
                let audio_url = self
                    .description
                    .as_ref()
                    .and_then(|d| d.audio.as_ref())
                    .map(|a| a.control_url.as_str());
                let video_url = self.description.as_ref().map(|d| d.media_url.as_str());
                let captions_url = self
                    .description
                    .as_ref()
                    .and_then(|d| d.captions.as_ref())
                    .map(|c| c.control_url.as_str());
                let audio_entry = audio_url.and_then(|url| entry_for(&entries, url));
                let captions_entry = captions_url.and_then(|url| entry_for(&entries, url));
                let other = |e: &&_, track: Option<&_>| track.is_none_or(|t| !std::ptr::eq(*e, t));
                // The video's entry by its URL, else the first that is no other track's.
                let info = video_url
                    .and_then(|url| entry_for(&entries, url))
                    .or_else(|| {
                        entries
                            .iter()
                            .find(|e| other(e, audio_entry) && other(e, captions_entry))
                    })
                    .cloned();
                let start = |e: &RtpInfoEntry| TrackStart {
                    seq: e.seq,
                    rtptime: e.rtptime,
                };
                let audio = audio_entry.map(start);
                let captions = captions_entry.map(start);
                let speed = response
                    .headers
                    .typed::<Speed>()
                    .and_then(Result::ok)
                    .map(Speed::get);
                self.events.push_back(Event::Played(Played {
                    purpose,
                    range_start,
                    seq: info.as_ref().and_then(|i| i.seq),
                    rtptime: info.as_ref().and_then(|i| i.rtptime),
                    speed,
                    audio,
                    captions,
                }));
            }
            Intent::Pause => {
                self.state = State::Ready;
                self.events.push_back(Event::Paused);
            }
            Intent::Teardown => {
                self.state = State::Init;
                self.requester.set_session(None);
                self.events.push_back(Event::TornDown);
            }
            Intent::KeepAlive => {}
        }
    }

    /// A non-2xx reply to `request`, sent for `intent`.
    fn refused(&mut self, intent: Intent, request: &Request, response: &Response) {
        let status = response.status;
        let reason = requester::reason(response);
        match intent {
            Intent::KeepAlive if status.as_u16() != 454 => {
                // GET_PARAMETER refused (405, 501): fall back to OPTIONS.
                tracing::debug!(
                    status = status.as_u16(),
                    "keep-alive refused; using OPTIONS"
                );
                self.keep_alive_method = Method::Options;
            }
            Intent::Play(PlayPurpose::Speed) => {
                tracing::warn!(status = status.as_u16(), %reason, "server refused a Speed change");
                self.events.push_back(Event::SpeedRefused);
            }
            Intent::Setup(Track::Audio) if status.as_u16() != 401 => {
                self.events.push_back(Event::AudioRefused {
                    status: status.as_u16(),
                    reason,
                });
            }
            Intent::Setup(Track::Captions) if status.as_u16() != 401 => {
                self.events.push_back(Event::CaptionsRefused {
                    status: status.as_u16(),
                    reason,
                });
            }
            Intent::Teardown => {
                self.state = State::Init;
                self.requester.set_session(None);
                self.events.push_back(Event::TornDown);
            }
            _ if status.as_u16() == 401 => self.fail(Error::Unauthorized {
                method: request.method.as_str().to_owned(),
                tried: self.requester.has_credentials(),
            }),
            _ if status.as_u16() == 403 => self.fail(Error::Forbidden {
                method: request.method.as_str().to_owned(),
            }),
            _ => self.fail(Error::Status {
                method: request.method.as_str().to_owned(),
                status: status.as_u16(),
                reason,
            }),
        }
    }
}

/// The playable stream in a DESCRIBE reply (RFC 2326 C.1: control URLs resolve against
/// Content-Base, else Content-Location, else the request URL).
fn describe(response: &Response, request_url: &str) -> Result<Description, Error> {
    let base = match response.headers.typed::<ContentBase>() {
        Some(Ok(base)) => base.0,
        _ => response
            .headers
            .get("Content-Location")
            .unwrap_or(request_url)
            .to_owned(),
    };
    let text = std::str::from_utf8(&response.body)
        .map_err(|_| Error::Description("the session description is not UTF-8".into()))?;
    let sdp = SessionDescription::parse(text).map_err(|e| Error::Description(e.to_string()))?;
    let media = sdp.jpeg_video().ok_or_else(|| {
        Error::Description(
            "no JPEG video stream (RTP payload type 26 or a=rtpmap JPEG) in the description".into(),
        )
    })?;
    let payload_type = media
        .jpeg_payload_type()
        .ok_or_else(|| Error::Description("no JPEG payload type".into()))?;
    let avpf = media.proto.eq_ignore_ascii_case("RTP/AVPF");
    Ok(Description {
        media_url: media.control_url(&base),
        aggregate_url: sdp.aggregate_url(&base),
        payload_type,
        clock_rate: media.clock_rate(payload_type).unwrap_or(90_000),
        fps: media.framerate(),
        dimensions: media.x_dimensions(),
        duration: sdp.duration().filter(|d| d.is_finite() && *d > 0.0),
        live: sdp
            .range()
            .is_some_and(|r| r.start == Some(hdstream_common::rtsp::header::NptTime::Now)),
        rtx: media
            .rtx_for(payload_type)
            .filter(|_| avpf || media.accepts_nack(payload_type)),
        profile: if avpf { "AVPF" } else { "AVP" },
        audio: audio_track(&sdp, &base),
        captions: sdp
            .media
            .iter()
            .filter(|m| m.media == "text")
            .find_map(|m| {
                Some(TextTrack {
                    payload_type: m.t140_payload_type()?,
                    control_url: m.control_url(&base),
                })
            }),
    })
}

/// The first audio section whose format the client decodes (RFC 3551 L16, PCMU, PCMA; Opus,
/// RFC 7587, through libopus: [`Format::from_sdp`], [`Decoder::new`]); each one left out is
/// logged with why.
fn audio_track(sdp: &SessionDescription, base: &str) -> Option<AudioTrack> {
    let mut chosen: Option<AudioTrack> = None;
    for media in sdp.media.iter().filter(|m| m.media == "audio") {
        let control_url = media.control_url(base);
        let format = Format::from_sdp(media)
            .map_err(|e| e.to_string())
            .and_then(|f| Decoder::new(f).map(|_| f).map_err(|e| e.to_string()));
        match format {
            Ok(format) if chosen.is_none() => {
                let avpf = media.proto.eq_ignore_ascii_case("RTP/AVPF");
                chosen = Some(AudioTrack {
                    control_url,
                    format,
                    profile: if avpf { "AVPF" } else { "AVP" },
                });
            }
            Ok(format) => tracing::info!(
                track = %control_url,
                encoding = %format.encoding,
                "audio track left out: one audio track is played"
            ),
            Err(why) => tracing::warn!(
                track = %control_url,
                %why,
                "audio track left out: the video plays without it"
            ),
        }
    }
    chosen
}

/// The `RTP-Info` entry (RFC 2326 §12.33) of the track whose control URL is `url`: the same
/// URL, or (a server that writes them relative or rewrites the host) the same last path
/// segment (`trackID=1`, `stream=1`).
fn entry_for<'e>(entries: &'e [RtpInfoEntry], url: &str) -> Option<&'e RtpInfoEntry> {
    let last = |u: &str| {
        let u = u.trim_end_matches('/');
        u.rsplit('/').next().unwrap_or(u).to_owned()
    };
    entries
        .iter()
        .find(|e| e.url == url)
        .or_else(|| entries.iter().find(|e| last(&e.url) == last(url)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdstream_common::rtsp::{self, Message, Parsed, StatusCode};

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=m.mjpeg\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
        a=range:npt=0-10\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\n\
        a=framerate:30\r\na=x-dimensions:2560,1440\r\n";

    /// The requests written so far, parsed.
    fn requests(session: &mut Session) -> Vec<Request> {
        let mut out = Vec::new();
        session.drain_output(&mut out);
        let mut requests = Vec::new();
        let mut at = 0;
        while at < out.len() {
            match rtsp::parse(&out[at..]).unwrap() {
                Parsed::Complete {
                    message: Message::Request(r),
                    consumed,
                } => {
                    requests.push(r);
                    at += consumed;
                }
                other => panic!("not a request: {other:?}"),
            }
        }
        requests
    }

    fn reply(request: &Request, status: StatusCode) -> Response {
        Response::reply_to(request, status)
    }

    /// Drives a standard session to Playing; returns it and the time.
    fn playing(public: &str) -> (Session, Instant) {
        let t0 = Instant::now();
        let mut s = Session::new("rtsp://h:554/m.mjpeg", Dialect::Standard);
        s.options(t0);
        let r = requests(&mut s).remove(0);
        assert_eq!(r.method, Method::Options);
        assert_eq!(r.headers.get("User-Agent"), Some(USER_AGENT));
        let mut ok = reply(&r, StatusCode::OK);
        ok.headers.set("Public", public);
        s.handle_response(ok, t0);
        assert!(matches!(s.poll_event(), Some(Event::Options)));

        s.describe(t0);
        let r = requests(&mut s).remove(0);
        assert_eq!(r.headers.get("Accept"), Some("application/sdp"));
        let mut ok = reply(&r, StatusCode::OK);
        ok.headers.set("Content-Base", "rtsp://h:554/m.mjpeg/");
        ok.body = SDP.as_bytes().to_vec();
        s.handle_response(ok, t0);
        let Some(Event::Described(d)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(d.media_url, "rtsp://h:554/m.mjpeg/trackID=0");
        assert_eq!(d.aggregate_url, "rtsp://h:554/m.mjpeg/");
        assert_eq!(
            (d.fps, d.dimensions, d.duration),
            (Some(30.0), Some((2560, 1440)), Some(10.0))
        );

        s.setup("RTP/AVP;unicast;client_port=5000-5001".into(), t0);
        let r = requests(&mut s).remove(0);
        assert_eq!(r.uri, "rtsp://h:554/m.mjpeg/trackID=0");
        let mut ok = reply(&r, StatusCode::OK);
        ok.headers.set("Session", "abc;timeout=20");
        ok.headers.set(
            "Transport",
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;ssrc=0000BEEF",
        );
        s.handle_response(ok, t0);
        let Some(Event::SetUp(Track::Video, Some(t))) = s.poll_event() else {
            panic!()
        };
        assert_eq!(t.0[0].ssrc(), Some(0xBEEF));
        assert_eq!(s.timeout(), Duration::from_secs(20));

        s.play(Some(0.0), Some(2.0), PlayPurpose::Start, t0);
        let r = requests(&mut s).remove(0);
        assert_eq!(r.uri, "rtsp://h:554/m.mjpeg/");
        assert_eq!(r.headers.get("Session"), Some("abc"));
        assert_eq!(r.headers.get("Range"), Some("npt=0-"));
        assert_eq!(r.headers.get("Speed"), Some("2"));
        let mut ok = reply(&r, StatusCode::OK);
        ok.headers.set(
            "RTP-Info",
            "url=rtsp://h:554/m.mjpeg/trackID=0;seq=17;rtptime=9000",
        );
        ok.headers.set("Range", "npt=0-10");
        ok.headers.set("Speed", "2");
        s.handle_response(ok, t0);
        let Some(Event::Played(p)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(
            p,
            Played {
                purpose: PlayPurpose::Start,
                range_start: Some(0.0),
                seq: Some(17),
                rtptime: Some(9000),
                speed: Some(2.0),
                audio: None,
                captions: None,
            }
        );
        assert_eq!(s.state(), State::Playing);
        (s, t0)
    }

    #[test]
    fn a_standard_session_reaches_playing_and_keeps_alive_with_get_parameter() {
        let (mut s, t0) = playing("OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER");
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        s.handle_timeout(t0 + Duration::from_secs(9));
        assert!(requests(&mut s).is_empty());
        s.handle_timeout(t0 + Duration::from_secs(10));
        let r = requests(&mut s);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].method, Method::GetParameter);
        assert_eq!(r[0].headers.get("Session"), Some("abc"));
    }

    #[test]
    fn keep_alive_is_options_when_public_lacks_get_parameter() {
        let (mut s, t0) = playing("OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN");
        s.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(requests(&mut s)[0].method, Method::Options);
    }

    #[test]
    fn an_error_status_fails_with_method_and_reason() {
        let t0 = Instant::now();
        let mut s = Session::new("rtsp://h/none", Dialect::Standard);
        s.describe(t0);
        let r = requests(&mut s).remove(0);
        s.handle_response(reply(&r, StatusCode::NOT_FOUND), t0);
        let Some(Event::Failed(e)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(e.to_string(), "DESCRIBE: 404 Not Found");
    }

    #[test]
    fn a_closed_connection_names_what_was_going_on() {
        let (mut s, _) = playing("OPTIONS");
        s.closed();
        let Some(Event::Failed(e)) = s.poll_event() else {
            panic!()
        };
        assert_eq!(e.to_string(), "server closed the connection during PLAY");

        let (mut s, t0) = playing("OPTIONS");
        assert!(s.teardown(t0));
        s.closed();
        assert!(matches!(s.poll_event(), Some(Event::TornDown)));
    }

    #[test]
    fn an_unanswered_request_times_out() {
        let t0 = Instant::now();
        let mut s = Session::new("rtsp://h/m", Dialect::Standard);
        s.options(t0);
        assert_eq!(s.poll_timeout(), Some(t0 + REQUEST_TIMEOUT));
        s.handle_timeout(t0 + REQUEST_TIMEOUT);
        let Some(Event::Failed(Error::Timeout { method, .. })) = s.poll_event() else {
            panic!()
        };
        assert_eq!(method, "OPTIONS");
    }

    #[test]
    fn a_refused_speed_change_is_not_fatal() {
        let (mut s, t0) = playing("OPTIONS");
        s.play(None, Some(1.0), PlayPurpose::Speed, t0);
        let r = requests(&mut s).remove(0);
        assert_eq!(r.headers.get("Range"), None);
        s.handle_response(reply(&r, StatusCode::new(457).unwrap()), t0);
        assert!(matches!(s.poll_event(), Some(Event::SpeedRefused)));
        assert!(s.poll_event().is_none());
    }

    #[test]
    fn the_course_dialect_is_spoken_and_read_by_position() {
        let t0 = Instant::now();
        let mut s = Session::new("movie.Mjpeg", Dialect::Course);
        s.course_setup(25000, t0);
        let mut out = Vec::new();
        s.drain_output(&mut out);
        assert_eq!(
            out,
            b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000"
        );
        let reply = course::reply(StatusCode::OK, 1, "123456", Some(500));
        let Some((Message::Response(r), _)) = rtsp::parse_unterminated(&reply).unwrap() else {
            panic!()
        };
        s.handle_response(r, t0);
        assert!(matches!(
            s.poll_event(),
            Some(Event::SetUp(Track::Video, None))
        ));
        assert_eq!(s.id(), Some("123456"));
        assert_eq!(
            s.total_frames(),
            Some(500),
            "the caching variant's fourth line"
        );
        s.play(Some(3.0), Some(2.0), PlayPurpose::Start, t0);
        let mut out = Vec::new();
        s.drain_output(&mut out);
        assert_eq!(out, b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 123456");
        assert_eq!(
            s.poll_timeout(),
            Some(t0 + REQUEST_TIMEOUT),
            "no keep-alive"
        );
    }

    #[test]
    fn the_first_audio_track_the_client_reads_is_chosen_and_the_others_left_out() {
        let sdp = format!(
            "{SDP}m=audio 0 RTP/AVP 98\r\na=control:trackID=2\r\n\
             m=audio 0 RTP/AVP 10\r\na=control:trackID=3\r\n\
             m=audio 0 RTP/AVP 0\r\na=control:trackID=4\r\n"
        );
        let sdp = SessionDescription::parse(&sdp).unwrap();
        let track = audio_track(&sdp, "rtsp://h/m/").unwrap();
        // 98 has no rtpmap: static 10 (L16/44100/2) is the first read.
        assert_eq!(track.control_url, "rtsp://h/m/trackID=3");
        assert_eq!(track.format, Format::static_payload(10).unwrap());
        // Opus (RFC 7587) is decoded through libopus, stereo as sprop-stereo says.
        let opus = format!(
            "{SDP}m=audio 0 RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n\
             a=fmtp:97 sprop-stereo=1\r\na=control:trackID=1\r\n"
        );
        let opus = audio_track(&SessionDescription::parse(&opus).unwrap(), "rtsp://h/m/");
        assert_eq!(opus.unwrap().format, Format::opus(97, true));
        assert_eq!(track.profile, "AVP");
        let video_only = SessionDescription::parse(SDP).unwrap();
        assert_eq!(audio_track(&video_only, "rtsp://h/m/"), None);
    }

    #[test]
    fn rtp_info_entries_are_found_by_url_or_last_segment() {
        let entry = |url: &str, seq| RtpInfoEntry {
            url: url.into(),
            seq: Some(seq),
            rtptime: None,
        };
        let entries = [
            entry("rtsp://10.0.0.1/m/trackID=1", 1),
            entry("trackID=0", 0),
        ];
        let find = |url| entry_for(&entries, url).and_then(|e| e.seq);
        assert_eq!(find("rtsp://h/m/trackID=0"), Some(0), "relative");
        assert_eq!(find("rtsp://h/m/trackID=1"), Some(1), "another host");
        assert_eq!(find("rtsp://h/m/trackID=2"), None);
    }
}
