//! The sans-IO client core: one RTSP [`Session`] and its media [`Pipeline`], glued together.
//!
//! The driver feeds it what arrives (RTSP bytes, RTP and RTCP datagrams, user commands) with
//! the time, writes out what it produces (RTSP bytes, RTCP datagrams), hands released frames to
//! the decoder, and calls [`Client::handle_timeout`] at [`Client::poll_timeout`]. Nothing here
//! touches a socket or reads the clock, so the whole client runs under a fake clock in tests.
//!
//! The flow: OPTIONS → DESCRIBE → SETUP → PLAY (`Range: npt=0-`, `Speed: 2` to prefetch) →
//! once the cache holds the prebuffer, PLAY `Speed: 1` (when the server granted the speed-up) →
//! ... → the stream ends (RTCP BYE, or silence) and the cache plays out → TEARDOWN.
//!
//! With an audio track the client can play ([`Description::audio`]) and `Config::audio` set,
//! its SETUP follows the video's in the same session (its own UDP port pair, or the next
//! interleaved channels), the PLAY reply's `RTP-Info` entry places it, and its
//! [`audio::Track`] follows the video's playout: each frame released tells it which media time
//! is due when. The run ends when both the pictures and the sound have played out.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_common::course::Dialect;
use hdstream_common::rtsp::header::{ChannelRange, Transport as TransportHeader};
use hdstream_common::rtsp::{self, Data, Message, Method, Parsed, Response, StatusCode};

use crate::audio::{self, Playhead};
use crate::captions;

/// The delay of a live stream played with its sound, beyond how far ahead the sound output
/// writes ([`Config::sound_ahead`]): a sound packet (20 ms of sound) must have arrived before
/// it is written, with a margin for its arrival jitter. (Without sound, a live picture is
/// shown as it arrives.)
pub const SOUND_ARRIVAL_MARGIN: Duration = Duration::from_millis(60);
/// Seconds of a live stream's sound kept after it is played, for timeshift jumps back (48 kHz
/// stereo: 23 MB), and held waiting through a timeshift pause.
pub const LIVE_SOUND_KEPT_SECONDS: u32 = 120;
/// The delay of a live stream with sound by default: [`audio::output::AHEAD`] (100 ms) and
/// [`SOUND_ARRIVAL_MARGIN`].
pub const LIVE_SOUND_DELAY: Duration = audio::output::AHEAD.saturating_add(SOUND_ARRIVAL_MARGIN);
use crate::clock::Clock;
use crate::error::Error;
use crate::pipeline::{self, Pipeline, StreamStart};
use crate::playout::Release;
use crate::session::{Description, Event, PlayPurpose, Session, State, Track};
use crate::stats::NetStats;

/// How RTP reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// RTP and RTCP over UDP to these local ports (RFC 2326 §12.39 `client_port`).
    Udp {
        /// The RTP port (even).
        rtp_port: u16,
        /// The RTCP port (normally `rtp_port + 1`).
        rtcp_port: u16,
    },
    /// Interleaved on the RTSP connection (§10.12), channels 0 and 1.
    Tcp,
}

/// What the client core needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `rtsp://` URL, or the bare file name in the course dialect.
    pub url: String,
    /// Standard or course RTSP.
    pub dialect: Dialect,
    /// How RTP travels.
    pub transport: Transport,
    /// The media pipeline (and its playout) as it starts: the pipeline takes its own copy and
    /// owns it from then on (a live stream switches its playout to low latency).
    pub pipeline: pipeline::Config,
    /// `Speed` asked for while prefetching; `None` never asks.
    pub prefetch_speed: Option<f64>,
    /// Frame rate to assume when the server does not say.
    pub fps: Option<f64>,
    /// No RTP for this long while playing ends the stream.
    pub idle_timeout: Duration,
    /// No RTP at all this long after PLAY is an error.
    pub first_packet_timeout: Duration,
    /// Stop after this long of playing.
    pub max_duration: Option<Duration>,
    /// How long to wait for the TEARDOWN reply.
    pub teardown_timeout: Duration,
    /// A course reply (no blank line) is complete when the server has been quiet this long.
    pub quiet_delay: Duration,
    /// Ask for lost packets again (RFC 4585 NACK, RFC 4588 RTX) when the server offers it
    /// (UDP, not in low-latency mode).
    pub repair: bool,
    /// User name and password for a server that asks (RFC 7616 Digest, RFC 7617 Basic);
    /// credentials in the URL serve too.
    pub credentials: Option<(String, String)>,
    /// On a live stream (`a=range:npt=now-`), show each frame as soon as it is whole (no
    /// prebuffer, no prefetch, no repair): off when the user asked for a prebuffer.
    pub live_low_latency: bool,
    /// How the audio track's RTP travels (UDP: its own port pair); `None` leaves audio out
    /// (`--no-audio`). By default interleaved over TCP, and out over UDP until the caller
    /// binds a port pair for it.
    pub audio: Option<Transport>,
    /// How the captions track's RTP travels (UDP: its own port pair); `None` leaves captions
    /// out (`--no-captions`). Defaults as for [`Config::audio`].
    pub captions: Option<Transport>,
    /// How far ahead of play time the sound output writes (a device's buffer,
    /// [`audio::output::AHEAD`] by default): a live stream with sound is played this and
    /// [`SOUND_ARRIVAL_MARGIN`] behind its arrival. A call keeps it short.
    pub sound_ahead: Duration,
    /// How much longer a live picture with sound waits ([`SOUND_ARRIVAL_MARGIN`] by default).
    pub sound_margin: Duration,
}

impl Config {
    /// Defaults for `url` over `transport`.
    pub fn new(url: impl Into<String>, dialect: Dialect, transport: Transport) -> Config {
        Config {
            url: url.into(),
            dialect,
            transport,
            pipeline: pipeline::Config::default(),
            prefetch_speed: Some(2.0),
            fps: None,
            idle_timeout: Duration::from_secs(5),
            first_packet_timeout: Duration::from_secs(10),
            max_duration: None,
            teardown_timeout: Duration::from_secs(2),
            repair: true,
            credentials: None,
            quiet_delay: Duration::from_millis(30),
            live_low_latency: true,
            audio: (transport == Transport::Tcp).then_some(Transport::Tcp),
            captions: (transport == Transport::Tcp).then_some(Transport::Tcp),
            sound_ahead: audio::output::AHEAD,
            sound_margin: SOUND_ARRIVAL_MARGIN,
        }
    }
}

/// A command from the user (keys, clicks, a test script).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// PAUSE.
    Pause,
    /// PLAY from where it paused.
    Resume,
    /// PLAY from `to` seconds: a new epoch of the clock (pictures from before it are not
    /// shown).
    Seek {
        /// Target NPT, seconds.
        to: f64,
    },
    /// Live: back to the newest frame (timeshift's End).
    LiveEdge,
    /// TEARDOWN and stop.
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Closing { deadline: Instant },
    Done,
}

/// The client core.
#[derive(Debug)]
pub struct Client {
    config: Config,
    session: Session,
    pipeline: Pipeline,
    input: Vec<u8>,
    last_input: Instant,
    output: Vec<u8>,
    datagrams: VecDeque<Vec<u8>>,
    phase: Phase,
    outcome: Option<Result<(), Error>>,
    description: Option<Description>,
    server_rtcp_port: Option<u16>,
    channels: ChannelRange,
    /// The audio track, once set up.
    audio: Option<audio::Track>,
    /// Where the audio output is, for the presenter (shared).
    playhead: Arc<Playhead>,
    /// The audio track's interleaved channels (TCP).
    audio_channels: Option<ChannelRange>,
    /// The server's RTCP port for the audio track (UDP).
    server_audio_rtcp_port: Option<u16>,
    audio_datagrams: VecDeque<Vec<u8>>,
    /// The captions track, once set up.
    captions: Option<captions::Track>,
    /// The cues received, for the presenter (shared).
    board: captions::Board,
    /// The captions track's interleaved channels (TCP).
    captions_channels: Option<ChannelRange>,
    moving_plays: u32,
    fast: bool,
    speed_ok: bool,
    pause_sent: Option<Instant>,
    play_started: Option<Instant>,
    activity: Instant,
    control_gone: bool,
}

impl Client {
    /// A client that starts talking at once (OPTIONS, or the course SETUP).
    pub fn new(config: Config, now: Instant) -> Client {
        let mut session = Session::new(config.url.clone(), config.dialect);
        if let Some((user, password)) = config.credentials.clone() {
            session.set_credentials(user, password);
        }
        let pipeline = Pipeline::new(config.pipeline.clone(), config.dialect, now);
        let playout = &config.pipeline.playout;
        let prefetch = !playout.low_latency && !playout.prebuffer.is_zero();
        let speed_ok =
            config.dialect == Dialect::Standard && config.prefetch_speed.is_some() && prefetch;
        let mut client = Client {
            session,
            pipeline,
            input: Vec::new(),
            last_input: now,
            output: Vec::new(),
            datagrams: VecDeque::new(),
            phase: Phase::Running,
            outcome: None,
            description: None,
            server_rtcp_port: None,
            channels: ChannelRange {
                rtp: 0,
                rtcp: Some(1),
            },
            audio: None,
            playhead: Arc::new(Playhead::new()),
            audio_channels: None,
            server_audio_rtcp_port: None,
            audio_datagrams: VecDeque::new(),
            captions: None,
            board: captions::Board::new(),
            captions_channels: None,
            moving_plays: 0,
            fast: false,
            speed_ok,
            pause_sent: None,
            play_started: None,
            activity: now,
            control_gone: false,
            config,
        };
        match client.config.dialect {
            Dialect::Standard => client.session.options(now),
            Dialect::Course => {
                // Frames are timed by their arrival unless the user gave a rate.
                let fps = client.config.fps;
                client.pipeline.describe(None, 90_000, fps, None);
                match client.config.transport {
                    Transport::Udp { rtp_port, .. } => client.session.course_setup(rtp_port, now),
                    Transport::Tcp => client.finish(Err(Error::Usage(
                        "the course dialect carries RTP over UDP only".into(),
                    ))),
                }
            }
        }
        client.after(now);
        client
    }

    /// The description from DESCRIBE, once known.
    pub fn description(&self) -> Option<&Description> {
        self.description.as_ref()
    }

    /// Frames in the presentation when the server says (the caching course server).
    pub fn total_frames(&self) -> Option<u64> {
        self.session.total_frames()
    }

    /// Length of the presentation in seconds: the SDP's range, else the course server's
    /// `Total-Frames` at the pace frames are shown.
    pub fn duration(&self) -> Option<f64> {
        self.description
            .as_ref()
            .and_then(|d| d.duration)
            .or_else(|| {
                let interval = self.pipeline.frame_interval().as_secs_f64();
                self.total_frames().map(|n| n as f64 * interval)
            })
    }

    /// The pipeline (playout level, counters).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The RTSP session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The server's RTCP port (UDP), once SETUP is answered.
    pub fn server_rtcp_port(&self) -> Option<u16> {
        self.server_rtcp_port
    }

    /// Whether the client has finished (successfully or not).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// How it finished; `None` while running.
    pub fn take_outcome(&mut self) -> Option<Result<(), Error>> {
        if self.phase == Phase::Done {
            self.outcome.take()
        } else {
            None
        }
    }

    /// Counters of the receive side.
    pub fn stats(&self) -> NetStats {
        let mut stats = self.pipeline.stats();
        if let Some(a) = &self.audio {
            stats.audio = a.counters();
            stats.audio_format = Some((a.format_name(), a.format().clock_rate));
        }
        if let Some(c) = &self.captions {
            stats.captions = c.counters();
        }
        stats
    }

    /// The cues of the captions track (empty without one), shared with the presentation.
    pub fn board(&self) -> &captions::Board {
        &self.board
    }

    /// An RTP datagram arrived on the captions track's port.
    pub fn receive_captions_rtp(&mut self, data: &[u8]) {
        if let Some(c) = &mut self.captions {
            c.rtp(data);
        }
    }

    /// An RTCP datagram arrived on the captions track's RTCP port.
    pub fn receive_captions_rtcp(&mut self, data: &[u8]) {
        if let Some(c) = &mut self.captions {
            c.rtcp(data);
        }
    }

    /// The audio track played, once set up.
    pub fn audio(&self) -> Option<&audio::Track> {
        self.audio.as_ref()
    }

    /// Where the audio output is (the media time heard at a moment), to share with the
    /// presentation.
    pub fn playhead(&self) -> &Arc<Playhead> {
        &self.playhead
    }

    /// Moves the audio samples played so far to the end of `out` (interleaved, in the
    /// [`Client::audio`] track's format): what `--audio-out` records.
    pub fn drain_audio(&mut self, out: &mut Vec<i16>) {
        if let Some(a) = &mut self.audio {
            a.drain(out);
        }
    }

    /// The server's RTCP port for the audio track (UDP), once its SETUP is answered.
    pub fn server_audio_rtcp_port(&self) -> Option<u16> {
        self.server_audio_rtcp_port
    }

    /// The next RTCP datagram for the server's audio RTCP port (from the audio RTCP socket).
    pub fn poll_audio_datagram(&mut self) -> Option<Vec<u8>> {
        self.audio_datagrams.pop_front()
    }

    /// An RTP datagram arrived on the audio track's port.
    pub fn receive_audio_rtp(&mut self, data: &[u8], now: Instant) {
        if let Some(a) = &mut self.audio {
            a.rtp(data, now);
        }
    }

    /// An RTCP datagram arrived on the audio track's RTCP port.
    pub fn receive_audio_rtcp(&mut self, data: &[u8], now: Instant) {
        if let Some(a) = &mut self.audio {
            a.rtcp(data, now);
        }
    }

    /// Bytes to write on the RTSP connection.
    pub fn control_output(&self) -> &[u8] {
        &self.output
    }

    /// `n` bytes of [`Client::control_output`] were written.
    pub fn control_written(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
    }

    /// The next RTCP datagram for the server's RTCP port.
    pub fn poll_datagram(&mut self) -> Option<Vec<u8>> {
        self.datagrams.pop_front()
    }

    /// Bytes arrived on the RTSP connection.
    pub fn receive_control(&mut self, data: &[u8], now: Instant) {
        self.input.extend_from_slice(data);
        self.last_input = now;
        self.parse_input(now, false);
        self.after(now);
    }

    /// The RTSP connection closed (or failed).
    pub fn control_closed(&mut self, now: Instant) {
        if self.phase == Phase::Done {
            return;
        }
        self.control_gone = true;
        if self.phase == Phase::Running
            && (self.pipeline.bye_received() || self.pipeline.playout().has_ended())
        {
            // The stream was over anyway (RTCP BYE): play out what is cached, then finish
            // without a TEARDOWN.
            self.pipeline.end_of_stream(now);
            return;
        }
        self.session.closed();
        self.after(now);
    }

    /// The playout clock — pause, seek epoch, lateness — to share with the presentation.
    pub fn clock(&self) -> &Arc<Clock> {
        self.pipeline.playout().clock()
    }

    /// An RTP datagram arrived.
    pub fn receive_rtp(&mut self, data: &[u8], now: Instant) {
        self.pipeline.rtp(data, now);
        self.send_nacks(now);
    }

    /// How long a lost packet is asked for again, when repair applies: the server offers it
    /// over UDP, and frames wait in the cache (half the prebuffer, at most the server's
    /// `rtx-time`).
    fn repair_window(&self, d: &Description) -> Option<Duration> {
        let rtx = d.rtx?;
        // The playout's own settings (a live stream switches them to low latency).
        let playout = self.pipeline.playout().config();
        let applies = self.config.repair
            && matches!(self.config.transport, Transport::Udp { .. })
            && self.session.dialect() == Dialect::Standard
            && !playout.low_latency;
        let window = (playout.prebuffer / 2).min(Duration::from_millis(rtx.rtx_time_ms.into()));
        (applies && !window.is_zero()).then_some(window)
    }

    /// NACKs for what is missing and due to be asked for.
    fn send_nacks(&mut self, now: Instant) {
        if self.session.id().is_some()
            && let Some(nack) = self.pipeline.poll_nack(now)
        {
            self.send_rtcp(nack);
        }
    }

    /// An RTCP datagram arrived.
    pub fn receive_rtcp(&mut self, data: &[u8], now: Instant) {
        self.pipeline.rtcp(data, now);
    }

    /// A user command.
    pub fn command(&mut self, command: Command, now: Instant) {
        if self.phase != Phase::Running {
            return;
        }
        if self.pipeline.playout().is_timeshift() {
            self.timeshift(command, now);
            self.after(now);
            return;
        }
        match command {
            // The sink may have stopped the clock already (at the key press); pausing it
            // again changes nothing.
            Command::Pause
                if self.pause_sent.is_none() && self.session.state() == State::Playing =>
            {
                self.session.pause(now);
                self.clock().pause(now);
                self.pause_sent = Some(now);
            }
            Command::Resume if self.pause_sent.is_some() => {
                let speed = self.fast.then_some(1.0).filter(|_| self.speed_ok);
                self.session.play(None, speed, PlayPurpose::Resume, now);
                self.fast = false;
                self.clock().resume(now);
                self.note_pause();
                self.activity = now;
            }
            Command::Seek { to } => {
                if self.session.dialect() == Dialect::Course {
                    tracing::warn!("seeking needs a standard RTSP server: ignored");
                    return;
                }
                let duration = self.description.as_ref().and_then(|d| d.duration);
                let last = duration.map_or(f64::MAX, |d| (d - self.frame_seconds()).max(0.0));
                let to = to.clamp(0.0, last);
                // Frames released from now on belong to the new epoch (and play time runs).
                self.clock().seek(now);
                self.play_moving(Some(to), PlayPurpose::Seek, now);
                self.note_pause();
            }
            Command::Quit => self.close(now),
            Command::Pause | Command::Resume | Command::LiveEdge => {}
        }
        self.after(now);
    }

    /// A user command on a live stream: the server goes on sending, and the playout moves in
    /// what it keeps (timeshift): a pause holds the picture while frames keep coming, a seek
    /// goes to a kept frame, the live edge to the newest.
    fn timeshift(&mut self, command: Command, now: Instant) {
        match command {
            Command::Pause if self.pause_sent.is_none() => {
                self.clock().pause(now);
                self.pipeline.playout_mut().hold(now);
                self.pause_sent = Some(now);
            }
            Command::Resume if self.pause_sent.is_some() => {
                self.clock().resume(now);
                self.pause_sent = None;
            }
            Command::Seek { to } => {
                self.clock().seek(now);
                self.pause_sent = None;
                if !self.pipeline.playout_mut().seek_buffered(to, now) {
                    self.pipeline.playout_mut().to_live_edge(now);
                }
            }
            Command::LiveEdge => {
                self.clock().seek(now);
                self.pause_sent = None;
                self.pipeline.playout_mut().to_live_edge(now);
            }
            Command::Quit => self.close(now),
            Command::Pause | Command::Resume => {}
        }
    }

    fn note_pause(&mut self) {
        if let Some(sent) = self.pause_sent.take() {
            self.pipeline.note_pause(sent);
        }
    }

    fn frame_seconds(&self) -> f64 {
        self.description
            .as_ref()
            .and_then(|d| d.fps)
            .or(self.config.fps)
            .map_or(1.0 / 30.0, |f| 1.0 / f)
    }

    /// A PLAY that moves the stream (start, seek): the pipeline holds packets until its reply.
    fn play_moving(&mut self, range: Option<f64>, purpose: PlayPurpose, now: Instant) {
        let speed = self.config.prefetch_speed.filter(|_| self.speed_ok);
        let range = range.filter(|_| self.session.dialect() == Dialect::Standard);
        self.session.play(range, speed, purpose, now);
        self.fast = speed.is_some_and(|s| s > 1.0);
        self.moving_plays += 1;
        self.pipeline.hold(now);
        if let Some(a) = &mut self.audio {
            a.hold();
        }
        if let Some(c) = &mut self.captions {
            c.hold();
        }
        self.activity = now;
    }

    /// The next frame for the decoder. Its stamp tells the audio track which media time is
    /// due when.
    pub fn poll_release(&mut self, now: Instant) -> Option<Release> {
        if self.phase != Phase::Running {
            return None;
        }
        let release = self.pipeline.poll_release(now)?;
        if let Some(a) = &mut self.audio {
            a.follow(release.stamp.npt, release.stamp.due);
        }
        Some(release)
    }

    /// Gives a JPEG buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.pipeline.recycle(buf);
    }

    /// When [`Client::handle_timeout`] should run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Done {
            return None;
        }
        let quiet = (self.session.dialect() == Dialect::Course && !self.input.is_empty())
            .then(|| self.last_input + self.config.quiet_delay);
        let closing = match self.phase {
            Phase::Closing { deadline } => Some(deadline),
            _ => None,
        };
        let idle = self.idle_deadline();
        let end = self
            .play_started
            .zip(self.config.max_duration)
            .map(|(t, d)| t + d);
        [
            self.session.poll_timeout(),
            self.pipeline.poll_timeout(),
            self.audio.as_ref().and_then(audio::Track::poll_timeout),
            quiet,
            closing,
            idle,
            end,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let watching = self.phase == Phase::Running
            && !self.clock().is_paused()
            && self.session.state() == State::Playing
            && !self.pipeline.is_gated()
            && !self.pipeline.playout().has_ended();
        if !watching {
            return None;
        }
        Some(match self.pipeline.last_packet() {
            Some(last) => last.max(self.activity) + self.config.idle_timeout,
            None => self.activity + self.config.first_packet_timeout,
        })
    }

    /// Runs everything that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Done {
            return;
        }
        if self.session.dialect() == Dialect::Course
            && !self.input.is_empty()
            && now >= self.last_input + self.config.quiet_delay
        {
            self.parse_input(now, true);
        }
        self.session.handle_timeout(now);
        self.pipeline.handle_timeout(now);
        self.run_audio(now);
        if let Some(c) = &mut self.captions {
            let pipeline = &self.pipeline;
            c.sync(|wall| pipeline.npt_at(wall));
        }
        self.send_nacks(now);
        if self.idle_deadline().is_some_and(|t| now >= t) {
            if self.pipeline.last_packet().is_some() {
                tracing::warn!(
                    seconds = self.config.idle_timeout.as_secs_f64(),
                    "no RTP for a while: taking the stream as ended"
                );
                self.pipeline.end_of_stream(now);
            } else {
                let hint = match self.session.dialect() {
                    Dialect::Course => {
                        "the course's basic and HD servers answer a missing file with 200 and \
                         then send nothing (is the name right?), or a firewall blocks UDP"
                    }
                    Dialect::Standard => "blocked by a firewall? (--transport tcp avoids UDP)",
                };
                self.finish(Err(Error::NoMedia {
                    seconds: self.config.first_packet_timeout.as_secs(),
                    hint,
                }));
            }
        }
        if let Phase::Closing { deadline } = self.phase
            && now >= deadline
        {
            self.finish(Ok(()));
        }
        self.after(now);
    }

    /// Parses what arrived on the connection. With `quiet`, a course reply without its blank
    /// line is taken as complete.
    fn parse_input(&mut self, now: Instant, quiet: bool) {
        let mut input = std::mem::take(&mut self.input);
        let mut at = 0;
        while let Some(rest) = input.get(at..).filter(|r| !r.is_empty()) {
            let parsed = match rtsp::parse(rest) {
                Ok(Parsed::Complete { message, consumed }) => Some((message, consumed)),
                Ok(Parsed::Incomplete { .. }) if quiet => match rtsp::parse_unterminated(rest) {
                    Ok(found) => found,
                    Err(e) => {
                        self.finish(Err(Error::Protocol(e.to_string())));
                        at = input.len();
                        break;
                    }
                },
                Ok(Parsed::Incomplete { .. }) => None,
                Err(e) => {
                    self.finish(Err(Error::Protocol(e.to_string())));
                    at = input.len();
                    break;
                }
            };
            let Some((message, consumed)) = parsed else {
                break;
            };
            at += consumed;
            self.message(message, now);
        }
        input.drain(..at.min(input.len()));
        self.input = input;
    }

    fn message(&mut self, message: Message<'_>, now: Instant) {
        match message {
            Message::Response(response) => self.session.handle_response(response, now),
            Message::Data(data) => {
                if data.channel == self.channels.rtp {
                    self.pipeline.rtp(&data.payload, now);
                } else if Some(data.channel) == self.channels.rtcp {
                    self.pipeline.rtcp(&data.payload, now);
                } else if let (Some(ch), Some(a)) = (self.audio_channels, &mut self.audio)
                    && (data.channel == ch.rtp || Some(data.channel) == ch.rtcp)
                {
                    if data.channel == ch.rtp {
                        a.rtp(&data.payload, now);
                    } else {
                        a.rtcp(&data.payload, now);
                    }
                } else if let (Some(ch), Some(c)) = (self.captions_channels, &mut self.captions) {
                    if data.channel == ch.rtp {
                        c.rtp(&data.payload);
                    } else if Some(data.channel) == ch.rtcp {
                        c.rtcp(&data.payload);
                    }
                }
            }
            Message::Request(request) => {
                // A server may ask us things too (§10: OPTIONS, GET_PARAMETER, ANNOUNCE...).
                let status = match request.method {
                    Method::Options | Method::GetParameter => StatusCode::OK,
                    _ => StatusCode::NOT_IMPLEMENTED,
                };
                if self.session.dialect() == Dialect::Standard {
                    Response::reply_to(&request, status).write_to(&mut self.output);
                }
            }
        }
    }

    /// Works through the session's events, then everything that follows from the new state.
    fn after(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            self.event(event, now);
        }
        self.session.drain_output(&mut self.output);
        if self.phase != Phase::Running {
            return;
        }
        self.adjust_speed(now);
        let playing_for = self.play_started.map(|t| now.saturating_duration_since(t));
        let out_of_time = playing_for
            .zip(self.config.max_duration)
            .is_some_and(|(p, max)| p >= max);
        let played_out = self.pipeline.playout().is_finished()
            && self.audio.as_ref().is_none_or(audio::Track::is_finished);
        if played_out || out_of_time {
            self.close(now);
        } else if self.session.id().is_some() {
            if let Some(report) = self.pipeline.poll_report(now) {
                self.send_rtcp(report);
            }
            let (ssrc, cname) = self.pipeline.reporter();
            if let Some(report) = self
                .audio
                .as_mut()
                .and_then(|a| a.poll_report(now, ssrc, cname))
            {
                self.send_audio_rtcp(report);
            }
        }
        self.session.drain_output(&mut self.output);
    }

    /// Runs the audio track: ends it with the video (the track's own BYE ends it too), places
    /// it by sender reports when the PLAY reply did not, and writes what is due.
    fn run_audio(&mut self, now: Instant) {
        let Some(a) = &mut self.audio else {
            return;
        };
        if self.pipeline.playout().has_ended() {
            a.end_of_stream();
        }
        let pipeline = &self.pipeline;
        a.sync(|wall| pipeline.npt_at(wall));
        a.handle_timeout(now, pipeline.playout().clock());
    }

    /// Sends an RTCP compound about the audio track: interleaved on its channel, or to the
    /// server's audio RTCP port.
    fn send_audio_rtcp(&mut self, packet: Vec<u8>) {
        if packet.is_empty() {
            return;
        }
        match (self.config.audio, self.audio_channels) {
            (Some(Transport::Tcp), Some(ch)) => {
                let data = Data {
                    channel: ch.rtcp.unwrap_or(ch.rtp.wrapping_add(1)),
                    payload: packet.into(),
                };
                let _ = data.write_to(&mut self.output);
            }
            (Some(Transport::Udp { .. }), _)
                if self.server_audio_rtcp_port.is_some() && self.audio_datagrams.len() < 16 =>
            {
                self.audio_datagrams.push_back(packet);
            }
            _ => {}
        }
    }

    fn send_rtcp(&mut self, packet: Vec<u8>) {
        if packet.is_empty() || self.session.dialect() == Dialect::Course {
            return;
        }
        match self.config.transport {
            Transport::Udp { .. } => {
                if self.server_rtcp_port.is_some() && self.datagrams.len() < 16 {
                    self.datagrams.push_back(packet);
                }
            }
            Transport::Tcp => {
                let channel = self
                    .channels
                    .rtcp
                    .unwrap_or(self.channels.rtp.wrapping_add(1));
                let data = Data {
                    channel,
                    payload: packet.into(),
                };
                let _ = data.write_to(&mut self.output);
            }
        }
    }

    /// Prefetch off once the cache holds the prebuffer, on again while it rebuffers (§12.35
    /// Speed). The PLAYs that start or move the stream ask for it themselves.
    fn adjust_speed(&mut self, now: Instant) {
        let can = self.speed_ok
            && !self.clock().is_paused()
            && self.session.state() == State::Playing
            && !self.session.play_pending()
            && !self.pipeline.is_gated()
            && !self.pipeline.playout().has_ended();
        if !can {
            return;
        }
        let playout = self.pipeline.playout();
        if self.fast && !playout.is_filling() {
            self.session.play(None, Some(1.0), PlayPurpose::Speed, now);
            self.fast = false;
        } else if !self.fast
            && playout.is_rebuffering()
            && let Some(speed) = self.config.prefetch_speed
        {
            self.session
                .play(None, Some(speed), PlayPurpose::Speed, now);
            self.fast = true;
        }
    }

    fn event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Options => {
                if !self.session.speed_keeps_media_time() {
                    self.speed_ok = false;
                }
                self.session.describe(now)
            }
            Event::Described(d) => {
                if d.live {
                    self.pipeline.capture_clock();
                }
                if d.live && self.config.live_low_latency {
                    if d.audio.is_some() && self.config.audio.is_some() {
                        // The sound is written ahead of the playout clock (as a device's
                        // buffer is): it must have arrived before its picture is due.
                        let delay = self.config.sound_ahead + self.config.sound_margin;
                        tracing::info!(?delay, "live stream with sound");
                        self.pipeline.go_live_delayed(delay);
                    } else {
                        tracing::info!("live stream: low latency (no prebuffer)");
                        self.pipeline.go_live();
                    }
                    self.speed_ok = false;
                }
                self.pipeline.describe(
                    Some(d.payload_type),
                    d.clock_rate,
                    d.fps.or(self.config.fps),
                    d.dimensions,
                );
                if let Some(window) = self.repair_window(&d) {
                    let rtx = d.rtx.map_or(0, |r| r.payload_type);
                    tracing::debug!(
                        rtx,
                        window_ms = window.as_millis(),
                        "repairing lost packets"
                    );
                    self.pipeline.enable_repair(rtx, window);
                }
                let profile = d.profile;
                self.description = Some(d);
                let transport = match self.config.transport {
                    Transport::Udp {
                        rtp_port,
                        rtcp_port,
                    } => {
                        format!("RTP/{profile};unicast;client_port={rtp_port}-{rtcp_port}")
                    }
                    Transport::Tcp => format!("RTP/{profile}/TCP;unicast;interleaved=0-1"),
                };
                self.session.setup(transport, now);
            }
            Event::SetUp(Track::Video, transport) => {
                self.set_up(transport.as_ref());
                if !self.setup_audio(now) && !self.setup_captions(now) {
                    self.play_moving(Some(0.0), PlayPurpose::Start, now);
                }
            }
            Event::SetUp(Track::Audio, transport) => {
                self.audio_set_up(transport.as_ref());
                if !self.setup_captions(now) {
                    self.play_moving(Some(0.0), PlayPurpose::Start, now);
                }
            }
            Event::SetUp(Track::Captions, transport) => {
                self.captions_set_up(transport.as_ref());
                self.play_moving(Some(0.0), PlayPurpose::Start, now);
            }
            Event::AudioRefused { status, reason } => {
                tracing::warn!(status, %reason, "the server refused the audio track's SETUP: playing without sound");
                self.audio = None;
                self.audio_channels = None;
                if !self.setup_captions(now) {
                    self.play_moving(Some(0.0), PlayPurpose::Start, now);
                }
            }
            Event::CaptionsRefused { status, reason } => {
                tracing::warn!(status, %reason, "the server refused the captions track's SETUP: playing without captions");
                self.captions = None;
                self.captions_channels = None;
                self.play_moving(Some(0.0), PlayPurpose::Start, now);
            }
            Event::Played(played) => match played.purpose {
                PlayPurpose::Start | PlayPurpose::Seek => {
                    self.moving_plays = self.moving_plays.saturating_sub(1);
                    if self.fast && played.speed.is_none() {
                        // The server ignores Speed: it plays in real time, so stop asking.
                        self.speed_ok = false;
                        self.fast = false;
                    }
                    if self.moving_plays == 0 {
                        self.pipeline.start(
                            StreamStart {
                                npt: played.range_start,
                                seq: played.seq,
                                rtptime: played.rtptime,
                            },
                            now,
                        );
                        if let Some(a) = &mut self.audio {
                            a.start(played.range_start.unwrap_or(0.0), played.audio, now);
                        }
                        if let Some(c) = &mut self.captions {
                            let rtptime = played.captions.and_then(|s| s.rtptime);
                            c.start(played.range_start.unwrap_or(0.0), rtptime);
                        }
                    }
                    self.play_started.get_or_insert(now);
                    self.activity = now;
                }
                PlayPurpose::Resume => self.activity = now,
                PlayPurpose::Speed => {}
            },
            Event::SpeedRefused => {
                self.speed_ok = false;
                self.fast = false;
            }
            Event::Paused => {}
            Event::TornDown => self.finish(Ok(())),
            Event::Failed(e) => self.finish(Err(e)),
        }
    }

    /// Reads the server's choice of transport (RFC 2326 §12.39).
    fn set_up(&mut self, transport: Option<&TransportHeader>) {
        let Some(spec) = transport.and_then(|t| t.0.first()) else {
            return;
        };
        if let Some(ssrc) = spec.ssrc() {
            self.pipeline.expect_ssrc(ssrc);
        }
        match self.config.transport {
            Transport::Udp { .. } => {
                self.server_rtcp_port = spec
                    .server_port()
                    .map(|p| p.rtcp.unwrap_or(p.rtp.wrapping_add(1)));
            }
            Transport::Tcp => {
                if let Some(channels) = spec.interleaved() {
                    self.channels = channels;
                }
            }
        }
    }

    /// SETUP of the described audio track, when there is one to play and a way for it to
    /// travel: false when there is none (PLAY goes out at once).
    fn setup_audio(&mut self, now: Instant) -> bool {
        let Some(track) = self.description.as_ref().and_then(|d| d.audio.clone()) else {
            return false;
        };
        let Some(transport) = self.config.audio else {
            tracing::info!(track = %track.control_url, "audio track left out (--no-audio)");
            return false;
        };
        // Over TCP, the channels after the video's (the reply may choose others).
        let (spec, channels) = track_transport(track.profile, transport, self.channels);
        self.audio_channels = channels;
        let interval = self.config.pipeline.report_interval;
        let Some(mut audio) = audio::Track::new(
            track.format,
            Arc::clone(&self.playhead),
            self.config.sound_ahead,
            interval,
            now,
        ) else {
            return false;
        };
        if self.description.as_ref().is_some_and(|d| d.live) {
            audio.keep_played(LIVE_SOUND_KEPT_SECONDS);
            audio.prefer_reports();
        }
        tracing::info!(track = %track.control_url, format = %audio.format_name(), "audio track");
        self.audio = Some(audio);
        self.session.setup_audio(spec, now)
    }

    /// SETUP of the described captions track, when there is one and a way for it to travel:
    /// false when there is none (PLAY goes out at once). Over TCP its channels follow the
    /// audio's (4-5 after the video's and the sound's).
    fn setup_captions(&mut self, now: Instant) -> bool {
        let Some(track) = self.description.as_ref().and_then(|d| d.captions.clone()) else {
            return false;
        };
        let Some(transport) = self.config.captions else {
            tracing::info!(track = %track.control_url, "captions track left out (--no-captions)");
            return false;
        };
        let profile = self.description.as_ref().map_or("AVP", |d| d.profile);
        let profile = if profile == "AVPF" { "AVP" } else { profile };
        let after = self.audio_channels.unwrap_or(self.channels);
        let (spec, channels) = track_transport(profile, transport, after);
        self.captions_channels = channels;
        tracing::info!(track = %track.control_url, payload_type = track.payload_type, "captions track");
        self.captions = Some(captions::Track::new(track.payload_type, self.board.clone()));
        self.session.setup_captions(spec, now)
    }

    /// Reads the server's choice of transport for the captions track (RFC 2326 §12.39).
    fn captions_set_up(&mut self, transport: Option<&TransportHeader>) {
        let Some(spec) = transport.and_then(|t| t.0.first()) else {
            return;
        };
        if let (Some(ssrc), Some(c)) = (spec.ssrc(), &mut self.captions) {
            c.expect_ssrc(ssrc);
        }
        if self.config.captions == Some(Transport::Tcp)
            && let Some(channels) = spec.interleaved()
        {
            self.captions_channels = Some(channels);
        }
    }

    /// Reads the server's choice of transport for the audio track (RFC 2326 §12.39).
    fn audio_set_up(&mut self, transport: Option<&TransportHeader>) {
        let Some(spec) = transport.and_then(|t| t.0.first()) else {
            return;
        };
        if let (Some(ssrc), Some(a)) = (spec.ssrc(), &mut self.audio) {
            a.expect_ssrc(ssrc);
        }
        match self.config.audio {
            Some(Transport::Udp { .. }) => {
                self.server_audio_rtcp_port = spec
                    .server_port()
                    .map(|p| p.rtcp.unwrap_or(p.rtp.wrapping_add(1)));
            }
            Some(Transport::Tcp) => {
                if let Some(channels) = spec.interleaved() {
                    self.audio_channels = Some(channels);
                }
            }
            None => {}
        }
    }

    /// Starts leaving: RTCP BYE and TEARDOWN, then done when answered (or after a while).
    pub fn close(&mut self, now: Instant) {
        if self.phase != Phase::Running {
            return;
        }
        if self.control_gone {
            self.finish(Ok(()));
            return;
        }
        if self.session.id().is_some() {
            let bye = self.pipeline.goodbye(now);
            self.send_rtcp(bye);
            let (ssrc, cname) = self.pipeline.reporter();
            if let Some(bye) = self.audio.as_mut().map(|a| a.goodbye(now, ssrc, cname)) {
                self.send_audio_rtcp(bye);
            }
        }
        if self.session.teardown(now) {
            self.phase = Phase::Closing {
                deadline: now + self.config.teardown_timeout,
            };
            self.session.drain_output(&mut self.output);
        } else {
            self.finish(Ok(()));
        }
    }

    fn finish(&mut self, outcome: Result<(), Error>) {
        if self.phase == Phase::Done {
            return;
        }
        if outcome.is_err() || self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
        self.phase = Phase::Done;
    }
}

/// A track's SETUP `Transport` (RFC 2326 §12.39) with `profile`: its UDP port pair, or over
/// TCP the interleaved channels after `after` (returned, to read the reply's RTP by).
fn track_transport(
    profile: &str,
    transport: Transport,
    after: ChannelRange,
) -> (String, Option<ChannelRange>) {
    match transport {
        Transport::Udp {
            rtp_port,
            rtcp_port,
        } => (
            format!("RTP/{profile};unicast;client_port={rtp_port}-{rtcp_port}"),
            None,
        ),
        Transport::Tcp => {
            let next = after.rtcp.unwrap_or(after.rtp).wrapping_add(1);
            let channels = ChannelRange {
                rtp: next,
                rtcp: Some(next.wrapping_add(1)),
            };
            let spec = format!(
                "RTP/{profile}/TCP;unicast;interleaved={next}-{}",
                next.wrapping_add(1)
            );
            (spec, Some(channels))
        }
    }
}

/// Test support: answers each request `client` has written (all of its control output) with
/// the bytes `reply` makes of it, as a server would.
#[cfg(test)]
pub(crate) fn answer_requests(
    client: &mut Client,
    now: Instant,
    mut reply: impl FnMut(hdstream_common::rtsp::Request) -> Vec<u8>,
) {
    let out = client.control_output().to_vec();
    client.control_written(out.len());
    let mut at = 0;
    while at < out.len() {
        let Ok(Parsed::Complete { message, consumed }) = rtsp::parse(&out[at..]) else {
            panic!("client sent garbage")
        };
        at += consumed;
        let Message::Request(req) = message else {
            continue;
        };
        let bytes = reply(req);
        client.receive_control(&bytes, now);
    }
}

/// Test support: `packet` framed as interleaved data on `channel` (RFC 2326 §10.12).
#[cfg(test)]
pub(crate) fn interleaved(channel: u8, packet: Vec<u8>) -> Vec<u8> {
    let mut framed = Vec::new();
    Data {
        channel,
        payload: packet.into(),
    }
    .write_to(&mut framed)
    .unwrap();
    framed
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdstream_common::rfc2435::Packetizer;
    use hdstream_common::rtp;
    use hdstream_common::rtsp::Request;

    const MS: Duration = Duration::from_millis(1);
    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=m\r\nt=0 0\r\na=range:npt=0-1\r\n\
        m=video 0 RTP/AVP 26\r\na=control:trackID=0\r\na=framerate:30\r\n";

    /// A client configuration with RTP on UDP `rtp_port` (RTCP on the next port).
    fn udp_config(url: &str, dialect: Dialect, rtp_port: u16) -> Config {
        let rtcp_port = rtp_port + 1;
        Config::new(
            url,
            dialect,
            Transport::Udp {
                rtp_port,
                rtcp_port,
            },
        )
    }

    /// A scripted server: answers each request the client sends.
    struct Server {
        requests: Vec<Request>,
        speed: bool,
        /// The `Server` header it sends (hdstream keeps RTP time under `Speed`).
        software: &'static str,
    }

    impl Server {
        /// Answers the client's OPTIONS, DESCRIBE, SETUP and PLAY (and a Speed re-PLAY).
        fn handshake(&mut self, client: &mut Client, now: Instant) {
            for _ in 0..5 {
                self.answer(client, now);
            }
        }

        /// A server that honours `Speed` or not, announcing itself as `software`.
        fn new(speed: bool, software: &'static str) -> Server {
            Server {
                requests: Vec::new(),
                speed,
                software,
            }
        }

        fn answer(&mut self, client: &mut Client, now: Instant) {
            answer_requests(client, now, |req| {
                let mut r = Response::reply_to(&req, StatusCode::OK);
                match req.method {
                    Method::Options => {
                        r.headers
                            .set("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN");
                        r.headers.set("Server", self.software);
                    }
                    Method::Describe => r.body = SDP.as_bytes().to_vec(),
                    Method::Setup => {
                        r.headers.set("Session", "s1;timeout=60");
                        r.headers.set("Transport", "RTP/AVP;unicast;client_port=5000-5001;server_port=7000-7001;ssrc=00000007");
                    }
                    Method::Play => {
                        if req.headers.get("Range").is_some() {
                            r.headers
                                .set("RTP-Info", "url=rtsp://h/m/trackID=0;seq=0;rtptime=0");
                            r.headers
                                .set("Range", req.headers.get("Range").unwrap_or("npt=0-"));
                        }
                        if self.speed
                            && let Some(s) = req.headers.get("Speed")
                        {
                            r.headers.set("Speed", s);
                        }
                    }
                    _ => {}
                }
                let mut bytes = Vec::new();
                r.write_to(&mut bytes);
                self.requests.push(req);
                bytes
            });
        }
    }

    /// RTP packets of 30 frames (1 s) of 32x16 JPEG.
    fn media() -> Vec<Vec<u8>> {
        media_stamped(30, |n| n * 3000)
    }

    /// RTP packets of `frames` frames of 32x16 JPEG, frame n stamped `timestamp(n)`.
    fn media_stamped(frames: u32, timestamp: impl Fn(u32) -> u32) -> Vec<Vec<u8>> {
        let mut pattern = hdstream_video::pattern::Pattern::new(32, 16);
        let mut out = Vec::new();
        let mut seq = 0u16;
        for n in 0..frames {
            let mut jpeg = Vec::new();
            pattern.encode(u64::from(n), 80, &mut jpeg).unwrap();
            let header = hdstream_video::jpeg::Header::parse(&jpeg).unwrap();
            let frame = hdstream_video::rfc2435::frame(&header).unwrap();
            for f in Packetizer::new(&frame, 1000).unwrap() {
                let h = rtp::Header {
                    marker: f.marker,
                    payload_type: 26,
                    sequence_number: seq,
                    timestamp: timestamp(n),
                    ssrc: 7,
                };
                let mut buf = vec![0; 1100];
                let len = h.write(&[f.header(), f.data], &mut buf).unwrap();
                buf.truncate(len);
                out.push(buf);
                seq += 1;
            }
        }
        out
    }

    /// A sender that restarts: its timestamps go back to a new origin after 1 s and leap ten
    /// hours ahead after 2 s, while frames keep coming every 33 ms. The playout clock is
    /// re-anchored each time: every frame is shown, 33 ms apart, with no stall.
    #[test]
    fn a_sender_that_restarts_its_timestamps_does_not_stall_the_playout() {
        let t0 = Instant::now();
        let config = udp_config("rtsp://h/m", Dialect::Standard, 5000);
        let prebuffer = config.pipeline.playout.prebuffer;
        let mut client = Client::new(config, t0);
        let mut server = Server::new(false, "other/1.0");
        server.handshake(&mut client, t0);
        let packets = media_stamped(90, |n| match n {
            0..30 => n * 3000,
            30..60 => 777 + (n - 30) * 3000,
            _ => 3_240_000_000 + (n - 60) * 3000,
        });
        let per_frame = packets.len() / 90;
        let mut next = 0;
        let mut released = Vec::new();
        for ms in 0..4000u32 {
            let now = t0 + MS * ms;
            while next < packets.len() && (next / per_frame) as u32 * 1000 / 30 <= ms {
                client.receive_rtp(&packets[next], now);
                next += 1;
            }
            client.handle_timeout(now);
            server.answer(&mut client, now);
            while let Some(r) = client.poll_release(now) {
                released.push((now, r));
            }
        }
        assert_eq!(released.len(), 90, "every frame released");
        let stats = client.stats();
        assert_eq!(stats.timestamp_restarts, 2);
        assert_eq!(stats.frames_late, 0);
        let longest = released.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap();
        eprintln!(
            "{} frames released, {} restarts, longest wait {longest:?} (prebuffer {prebuffer:?})",
            released.len(),
            stats.timestamp_restarts
        );
        assert!(
            longest < prebuffer && longest <= 40 * MS,
            "longest wait between frames {longest:?}"
        );
        let npts: Vec<f64> = released.iter().map(|(_, r)| r.stamp.npt).collect();
        assert!(npts.windows(2).all(|w| w[1] > w[0]), "{npts:?}");
    }

    #[test]
    fn prefetch_at_speed_two_then_real_time_then_teardown_at_the_end() {
        let t0 = Instant::now();
        let mut config = udp_config("rtsp://h/m", Dialect::Standard, 5000);
        config.pipeline.playout.prebuffer = 200 * MS;
        let mut client = Client::new(config, t0);
        let mut server = Server::new(true, "hdstream/test");
        server.handshake(&mut client, t0);
        let methods: Vec<&str> = server.requests.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]);
        assert_eq!(server.requests[3].headers.get("Speed"), Some("2"));
        assert_eq!(client.server_rtcp_port(), Some(7001));
        // Frames arrive at twice real time; after 200 ms of media the client asks for speed 1.
        let packets = media();
        let per_frame = packets.len() / 30;
        let mut released = Vec::new();
        let mut now = t0;
        for (i, p) in packets.iter().enumerate() {
            now = t0 + Duration::from_secs_f64((i / per_frame) as f64 / 60.0);
            client.receive_rtp(p, now);
            client.handle_timeout(now);
            server.answer(&mut client, now);
            while let Some(r) = client.poll_release(now) {
                released.push(r);
            }
        }
        let speeds: Vec<Option<&str>> = server
            .requests
            .iter()
            .skip(3)
            .map(|r| r.headers.get("Speed"))
            .collect();
        assert_eq!(speeds, [Some("2"), Some("1")]);
        // The server says BYE; the cache plays out; TEARDOWN goes out.
        let mut bye = [0u8; 64];
        let mut w = hdstream_common::rtcp::Writer::new(&mut bye);
        w.goodbye(&[7], None).unwrap();
        let len = w.finish();
        client.receive_rtcp(&bye[..len], now);
        for _ in 0..2000 {
            now += MS;
            client.handle_timeout(now);
            while let Some(r) = client.poll_release(now) {
                released.push(r);
            }
            server.answer(&mut client, now);
            if client.is_done() {
                break;
            }
        }
        assert_eq!(released.len(), 30, "every frame released");
        assert_eq!(
            server.requests.last().map(|r| r.method.as_str()),
            Some("TEARDOWN")
        );
        assert!(client.take_outcome().unwrap().is_ok());
        // RTCP: the BYE compound went to the server's RTCP port.
        let mut last = None;
        while let Some(d) = client.poll_datagram() {
            last = Some(d);
        }
        let kinds: Vec<u8> = hdstream_common::rtcp::Compound::parse(&last.unwrap())
            .unwrap()
            .iter()
            .map(|p| p.packet_type())
            .collect();
        assert_eq!(kinds.last(), Some(&hdstream_common::rtcp::GOODBYE));
    }

    #[test]
    fn a_gstreamer_server_is_never_asked_for_speed() {
        // gst-rtsp-server grants Speed by running the RTP clock faster (RFC 2326 §12.35 says
        // timestamps are not affected), so the prefetch would play fast-forward.
        let t0 = Instant::now();
        let config = Config::new("rtsp://h/m", Dialect::Standard, Transport::Tcp);
        let mut client = Client::new(config, t0);
        let mut server = Server::new(true, "GStreamer RTSP server");
        server.handshake(&mut client, t0);
        let plays: Vec<&Request> = server
            .requests
            .iter()
            .filter(|r| r.method == Method::Play)
            .collect();
        assert!(!plays.is_empty(), "the client plays");
        assert!(
            plays.iter().all(|r| r.headers.get("Speed").is_none()),
            "no Speed asked"
        );
    }

    #[test]
    fn a_server_that_ignores_speed_is_not_asked_again() {
        let t0 = Instant::now();
        let config = Config::new("rtsp://h/m", Dialect::Standard, Transport::Tcp);
        let mut client = Client::new(config, t0);
        let mut server = Server::new(false, "hdstream/test");
        server.handshake(&mut client, t0);
        assert_eq!(
            server.requests[2].headers.get("Transport"),
            Some("RTP/AVP/TCP;unicast;interleaved=0-1")
        );
        // Interleaved media on the connection.
        for p in media() {
            client.receive_control(&interleaved(0, p), t0 + 600 * MS);
        }
        client.handle_timeout(t0 + 600 * MS);
        server.answer(&mut client, t0 + 600 * MS);
        assert_eq!(
            server.requests.len(),
            4,
            "no Speed: 1 for a server that ignored Speed: 2"
        );
        assert!(client.poll_release(t0 + 600 * MS).is_some());
    }

    #[test]
    fn low_latency_never_asks_for_speed() {
        let t0 = Instant::now();
        let mut config = udp_config("rtsp://h/m", Dialect::Standard, 5000);
        config.pipeline.playout.low_latency = true;
        config.pipeline.playout.prebuffer = Duration::ZERO;
        let mut client = Client::new(config, t0);
        let mut server = Server::new(true, "hdstream/test");
        let mut now = t0;
        for p in media() {
            server.answer(&mut client, now);
            client.receive_rtp(&p, now);
            client.handle_timeout(now);
            while client.poll_release(now).is_some() {}
            now += MS;
        }
        server.answer(&mut client, now);
        let plays: Vec<Option<&str>> = server
            .requests
            .iter()
            .filter(|r| r.method == Method::Play)
            .map(|r| r.headers.get("Speed"))
            .collect();
        assert_eq!(plays, [None], "one PLAY, without Speed");
    }

    #[test]
    fn a_refusal_ends_with_the_status() {
        let t0 = Instant::now();
        let config = Config::new("rtsp://h/missing", Dialect::Standard, Transport::Tcp);
        let mut client = Client::new(config, t0);
        let out = client.control_output().to_vec();
        client.control_written(out.len());
        let Ok(Parsed::Complete {
            message: Message::Request(req),
            ..
        }) = rtsp::parse(&out)
        else {
            panic!()
        };
        let mut r = Response::reply_to(&req, StatusCode::OK);
        r.headers.set("Public", "DESCRIBE");
        client.receive_control(&r.to_bytes(), t0);
        let out = client.control_output().to_vec();
        let Ok(Parsed::Complete {
            message: Message::Request(req),
            ..
        }) = rtsp::parse(&out)
        else {
            panic!()
        };
        client.receive_control(
            &Response::reply_to(&req, StatusCode::NOT_FOUND).to_bytes(),
            t0,
        );
        assert!(client.is_done());
        assert_eq!(
            client.take_outcome().unwrap().unwrap_err().to_string(),
            "DESCRIBE: 404 Not Found"
        );
    }

    #[test]
    fn a_bye_then_a_closed_connection_plays_out_the_cache() {
        let t0 = Instant::now();
        let config = Config::new("rtsp://h/m", Dialect::Standard, Transport::Tcp);
        let mut client = Client::new(config, t0);
        let mut server = Server::new(false, "hdstream/test");
        server.handshake(&mut client, t0);
        let mut wire: Vec<u8> = media()
            .into_iter()
            .flat_map(|p| interleaved(0, p))
            .collect();
        let mut bye = [0u8; 64];
        let mut w = hdstream_common::rtcp::Writer::new(&mut bye);
        w.goodbye(&[7], None).unwrap();
        let len = w.finish();
        wire.extend(interleaved(1, bye[..len].to_vec()));
        client.receive_control(&wire, t0);
        client.control_closed(t0);
        let mut released = 0;
        let mut now = t0;
        while !client.is_done() && now < t0 + Duration::from_secs(5) {
            now += MS;
            client.handle_timeout(now);
            while client.poll_release(now).is_some() {
                released += 1;
            }
        }
        assert_eq!(released, 30);
        assert!(client.take_outcome().unwrap().is_ok());
        assert_eq!(
            server.requests.len(),
            4,
            "no TEARDOWN on a closed connection"
        );
    }

    #[test]
    fn a_dead_connection_during_play_is_an_error() {
        let t0 = Instant::now();
        let config = Config::new("rtsp://h/m", Dialect::Standard, Transport::Tcp);
        let mut client = Client::new(config, t0);
        let mut server = Server::new(true, "hdstream/test");
        server.handshake(&mut client, t0);
        client.control_closed(t0 + MS);
        assert_eq!(
            client.take_outcome().unwrap().unwrap_err().to_string(),
            "server closed the connection during PLAY"
        );
    }

    #[test]
    fn course_replies_without_a_blank_line_are_read_when_the_server_goes_quiet() {
        let t0 = Instant::now();
        let config = udp_config("movie.Mjpeg", Dialect::Course, 25000);
        let mut client = Client::new(config, t0);
        assert_eq!(
            client.control_output(),
            b"SETUP movie.Mjpeg RTSP/1.0\nCSeq: 1\nTransport: RTP/UDP; client_port= 25000"
        );
        client.control_written(usize::MAX);
        client.receive_control(b"RTSP/1.0 200 OK\nCSeq: 1\nSession: 4242", t0);
        assert!(
            client.control_output().is_empty(),
            "waits for the reply to end"
        );
        assert_eq!(client.poll_timeout(), Some(t0 + 30 * MS));
        client.handle_timeout(t0 + 30 * MS);
        assert_eq!(
            client.control_output(),
            b"PLAY movie.Mjpeg RTSP/1.0\nCSeq: 2\nSession: 4242"
        );
    }
}
