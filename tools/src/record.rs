//! The publisher's side of an RTSP RECORD session, sans I/O (RFC 2326 §10.3 ANNOUNCE, §10.4
//! SETUP with `mode=record`, §10.11 RECORD, §10.7 TEARDOWN): requests out and replies in as
//! bytes; frames, sound and captions in, RTP (RFC 3550) out — RFC 2435 JPEG, RFC 3551 sound
//! (L16, PCMU, PCMA), RFC 4103 T.140 text — interleaved on the connection (§10.12; channels
//! 0-1, 2-3, 4-5) or as datagrams for the server's ports, a frame's spread over part of its
//! interval. Every track's timestamps and its RTCP sender reports (RFC 3550 §6.4.1, one CNAME)
//! come from one media clock ([`Clock`]). Time is passed in; [`crate::publish`] is the driver
//! that owns the sockets and the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hdstream_common::audio;
use hdstream_common::rfc2435::{self, Packetizer};
use hdstream_common::rtsp::authenticator::Authenticator;
use hdstream_common::rtsp::header::Transport;
use hdstream_common::rtsp::requester::{self, Reply, Requester};
use hdstream_common::rtsp::{self, Message, Method, Parsed, Request, Response};
use hdstream_common::text::{Cue, t140};
use hdstream_common::{rtcp, rtp};
use hdstream_video::jpeg::Header;

use crate::announce::{self, Contents, T140_PAYLOAD_TYPE};
use crate::clock::{self, Clock};
use crate::track::{Senders, TRACKS, Track};

/// RTP payload type of JPEG (RFC 3551 §6).
const JPEG: u8 = 26;
/// RTP clock rate of JPEG video (RFC 2435 §3).
const VIDEO_RATE: u32 = 90_000;
/// Between sender reports.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// How long a reply may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest reply taken from the server (an SDP-less RTSP reply is a few hundred bytes).
const MAX_REPLY: usize = 64 * 1024;
/// Datagrams of a frame go out in groups of this many, the groups spread over the frame's
/// share of its interval.
const GROUP: usize = 16;

/// Why the RECORD session, or a frame, sound or caption given to it, cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request refused or not answered in time (RFC 2326 §7.1.1).
    #[error(transparent)]
    Request(#[from] requester::Error),
    /// The server sent bytes that are not RTSP.
    #[error("the server's reply does not parse: {0}")]
    Reply(#[from] rtsp::ParseError),
    /// A reply longer than the session takes.
    #[error("a reply of more than {MAX_REPLY} bytes from the server")]
    ReplyTooLong,
    /// The RTSP connection closed while the session needed it.
    #[error("the server closed the connection")]
    Closed,
    /// A SETUP reply without `Session` (RFC 2326 §12.37).
    #[error("SETUP reply without a Session")]
    NoSession,
    /// A SETUP reply over UDP without the server's ports (RFC 2326 §12.39 `server_port`).
    #[error("SETUP of the {0} reply without server_port")]
    NoServerPort(&'static str),
    /// Media given before RECORD was answered (or after the session ended).
    #[error("not recording")]
    NotRecording,
    /// Media of a track that was not announced.
    #[error("no {0} track was announced")]
    NotAnnounced(&'static str),
    /// A frame the RFC 2435 packetizer refuses.
    #[error(transparent)]
    Frame(#[from] rfc2435::Error),
    /// Sound the RFC 3551 packetizer refuses (half a sample frame, a format it cannot cut).
    #[error(transparent)]
    Sound(#[from] audio::PacketizeError),
    /// An RTP packet that cannot be written.
    #[error(transparent)]
    Rtp(#[from] rtp::Error),
    /// An RTCP packet that cannot be written.
    #[error(transparent)]
    Rtcp(#[from] rtcp::Error),
    /// A packet too long to interleave (RFC 2326 §10.12).
    #[error(transparent)]
    Interleaved(#[from] rtsp::PayloadLength),
}

/// What the session's fallible calls answer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How RTP goes to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carriage {
    /// Interleaved on the RTSP connection, each track on its channels ([`Track::channel`]).
    Tcp,
    /// Datagrams from these local (RTP, RTCP) ports, a pair per track (by [`Track::index`];
    /// the pairs of tracks not sent are not used), to the ports the server names.
    Udp([(u16, u16); TRACKS]),
}

/// What one RECORD session needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The path's URL, without credentials.
    pub url: String,
    /// User and password for a server that asks (RFC 7616 Digest).
    pub credentials: Option<(String, String)>,
    /// How RTP travels.
    pub carriage: Carriage,
    /// Frame size and rate announced in the SDP.
    pub size: (u16, u16),
    /// Frames per second announced.
    pub fps: f64,
    /// Largest RTP payload.
    pub max_payload: usize,
    /// Share of a frame interval a frame's datagrams are spread over.
    pub spread: Duration,
    /// SDES CNAME of the sender reports, one for every track (RFC 3550 §6.5.1: it ties them
    /// together).
    pub cname: String,
    /// The media clock every timestamp and sender report comes from.
    pub clock: Clock,
    /// The sound track's format, when sound goes (PCM is cut into packets of at most
    /// `max_payload`; Opus comes encoded, a packet at a time).
    pub audio: Option<audio::Format>,
    /// Whether a captions track goes (RFC 4103).
    pub captions: bool,
}

/// Where the session is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Announcing,
    /// SETUP of the `n`th track of [`Recorder::setups`] asked, not yet answered.
    SettingUp(usize),
    /// RECORD asked, not yet answered.
    Starting,
    Recording,
    Closing,
    Done,
}

/// What the driver hears from the core.
#[derive(Debug)]
pub enum Event {
    /// RECORD was answered: frames may go.
    Recording {
        /// The session id the server gave.
        session: String,
    },
    /// The session cannot go on (a refusal, a timeout, the connection gone).
    Failed(Error),
}

/// A datagram for the server: for `track`'s RTCP port when `rtcp`, else its RTP port; due at
/// `due`.
#[derive(Debug)]
pub struct Datagram {
    /// The track it belongs to (whose socket sends it).
    pub track: Track,
    /// For the RTCP port.
    pub rtcp: bool,
    /// The bytes.
    pub data: Vec<u8>,
    due: Instant,
}

/// One RECORD session.
#[derive(Debug)]
pub struct Recorder {
    config: Config,
    senders: Senders,
    state: State,
    /// The tracks set up, in the order of their SETUPs: the video last, so that a server that
    /// takes the SETUP of a track it does not know for the video's (hdstream's before it knew
    /// captions) ends up with the video where it belongs.
    setups: Vec<Track>,
    /// CSeq, the request awaiting its reply, the session id, credentials (a 401 answered)
    /// and the reply deadline.
    requester: Requester<()>,
    /// The server's RTP and RTCP ports of each track (UDP).
    server_ports: [Option<(u16, u16)>; TRACKS],
    input: Vec<u8>,
    output: Vec<u8>,
    /// Datagrams waiting for their turn, a queue per track (each in sending order).
    datagrams: [VecDeque<Datagram>; TRACKS],
    events: VecDeque<Event>,
    next_report: Instant,
    packet: Vec<u8>,
    captions: t140::Packetizer,
}

impl Recorder {
    /// A session that starts by announcing (the request is in [`Recorder::control_output`]).
    pub fn new(config: Config, senders: Senders, now: Instant) -> Recorder {
        let user_agent = concat!("hdstream-publish/", env!("CARGO_PKG_VERSION"));
        let mut requester = Requester::new(REPLY_TIMEOUT).with_user_agent(user_agent);
        requester.set_authenticator(
            config
                .credentials
                .clone()
                .map(|(user, password)| Authenticator::new(user, password)),
        );
        let contents = Contents {
            size: config.size,
            fps: config.fps,
            audio: config.audio,
            captions: config.captions,
        };
        let mut setups = contents.tracks();
        setups.rotate_left(1);
        let captions = t140::Packetizer::new(config.max_payload);
        let mut recorder = Recorder {
            config,
            senders,
            state: State::Announcing,
            setups,
            requester,
            server_ports: [None; TRACKS],
            input: Vec::new(),
            output: Vec::new(),
            datagrams: Default::default(),
            events: VecDeque::new(),
            next_report: now,
            packet: Vec::new(),
            captions,
        };
        let mut announce = Request::new(Method::Announce, recorder.config.url.clone());
        announce.headers.set("Content-Type", "application/sdp");
        announce.body =
            announce::description(&contents, recorder.config.clock.wall_time(Duration::ZERO))
                .to_string()
                .into_bytes();
        recorder.ask(announce, now);
        recorder
    }

    /// The RTP senders back, to go on with in the next session.
    pub fn into_senders(self) -> Senders {
        self.senders
    }

    /// The RTP senders' figures.
    pub fn senders(&self) -> &Senders {
        &self.senders
    }

    /// Whether frames may go.
    pub fn is_recording(&self) -> bool {
        self.state == State::Recording
    }

    /// Bytes to write on the RTSP connection.
    pub fn control_output(&self) -> &[u8] {
        &self.output
    }

    /// `n` bytes of [`Recorder::control_output`] were written.
    pub fn control_written(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
    }

    /// The next datagram due at `now`: of the tracks whose next datagram is due, the one
    /// due first (a track's own datagrams leave in order).
    pub fn poll_datagram(&mut self, now: Instant) -> Option<Datagram> {
        let queue = self
            .datagrams
            .iter_mut()
            .filter(|q| q.front().is_some_and(|d| d.due <= now))
            .min_by_key(|q| q.front().map(|d| d.due))?;
        queue.pop_front()
    }

    /// The server's RTP and RTCP ports for `track`, once its SETUP named them (UDP).
    pub fn server_ports(&self, track: Track) -> Option<(u16, u16)> {
        self.server_ports[track.index()]
    }

    /// What happened since the last call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Recorder::handle_timeout`] is next due: a reply's deadline, the sender reports, a
    /// datagram's turn.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let reply = self.requester.poll_timeout();
        let report = (self.state == State::Recording).then_some(self.next_report);
        let datagram = self
            .datagrams
            .iter()
            .filter_map(|q| q.front())
            .map(|d| d.due)
            .min();
        [reply, report, datagram].into_iter().flatten().min()
    }

    /// Time has come to `now`: a reply overdue fails the session; sender reports go when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(((), why)) = self.requester.handle_timeout(now) {
            self.fail(why.into());
            return;
        }
        if self.state == State::Recording && now >= self.next_report {
            self.reports(now);
        }
    }

    /// Bytes arrived on the RTSP connection.
    pub fn receive_control(&mut self, data: &[u8], now: Instant) {
        self.input.extend_from_slice(data);
        loop {
            match rtsp::parse(&self.input) {
                Ok(Parsed::Complete { message, consumed }) => {
                    let response = match message {
                        Message::Response(r) => Some(r),
                        // Interleaved RTCP or a request from the server: not ours to answer.
                        _ => None,
                    };
                    self.input.drain(..consumed);
                    if let Some(response) = response {
                        self.answered(response, now);
                    }
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(e) => {
                    self.fail(e.into());
                    return;
                }
            }
        }
        if self.input.len() > MAX_REPLY {
            self.fail(Error::ReplyTooLong);
        }
    }

    /// The RTSP connection closed.
    pub fn control_closed(&mut self) {
        if self.state != State::Done && self.state != State::Closing {
            self.fail(Error::Closed);
        }
        self.state = State::Done;
    }

    /// Sends frame `jpeg` of media time `at`: its packets go into the control output (TCP) or
    /// the datagram queue, spread from `now` (UDP). Answers whether it went; a frame that
    /// cannot travel as RFC 2435 is left out (and counted).
    pub fn send_frame(&mut self, jpeg: &[u8], at: Duration, now: Instant) -> Result<bool> {
        self.recording()?;
        let frame = match Header::parse(jpeg)
            .map_err(|e| e.to_string())
            .and_then(|h| hdstream_video::rfc2435::frame(&h).map_err(|e| e.to_string()))
        {
            Ok(frame) => frame,
            Err(e) => {
                let sender = &mut self.senders[Track::Video];
                if sender.refused == 0 {
                    tracing::warn!(error = %e, "a frame cannot travel as RFC 2435 (with ffmpeg: -c:v mjpeg -huffman default -pix_fmt yuvj420p); such frames are left out");
                }
                sender.refused += 1;
                return Ok(false);
            }
        };
        let timestamp = clock::timestamp(self.senders[Track::Video].base, at, VIDEO_RATE);
        let packetizer = Packetizer::new(&frame, self.config.max_payload)?;
        let count = packetizer.fragment_count().max(1);
        for (i, fragment) in packetizer.enumerate() {
            // Each group of datagrams is due at its share of the spread.
            let due = now
                + self
                    .config
                    .spread
                    .mul_f64((i / GROUP * GROUP) as f64 / count as f64);
            let payload = [fragment.header(), fragment.data];
            self.send_rtp(
                Track::Video,
                JPEG,
                fragment.marker,
                timestamp,
                &payload,
                due,
            )?;
        }
        self.senders[Track::Video].units += 1;
        Ok(true)
    }

    /// Sends sound: `pcm` (interleaved i16, whole sample frames, in the format of
    /// [`Config::audio`]) whose first sample frame is at media time `at`, in as many packets
    /// as the packetizer cuts it into, at once. Answers how many packets went.
    pub fn send_sound(&mut self, pcm: &[i16], at: Duration, now: Instant) -> Result<usize> {
        self.recording()?;
        let Some(format) = self.config.audio else {
            return Err(Error::NotAnnounced("sound"));
        };
        let packetizer = audio::Packetizer::new(format, self.config.max_payload)?;
        let channels = usize::from(format.channels.max(1));
        let first = clock::timestamp(self.senders[Track::Audio].base, at, format.clock_rate);
        let (mut rest, mut frames, mut packets) = (pcm, 0u32, 0);
        let mut payload = Vec::with_capacity(packetizer.payload_len());
        while !rest.is_empty() {
            payload.clear();
            let n = packetizer.write(rest, &mut payload)?;
            if n == 0 {
                break;
            }
            let timestamp = first.wrapping_add(frames);
            self.send_rtp(
                Track::Audio,
                format.payload_type,
                false,
                timestamp,
                &[&payload],
                now,
            )?;
            self.senders[Track::Audio].units += 1;
            rest = &rest[n * channels..];
            frames = frames.wrapping_add(n as u32);
            packets += 1;
        }
        Ok(packets)
    }

    /// Sends one packet of encoded sound (Opus, RFC 7587 §4.2: one Opus packet per RTP
    /// packet) whose first sample is at media time `at`.
    pub fn send_sound_packet(&mut self, payload: &[u8], at: Duration, now: Instant) -> Result<()> {
        self.recording()?;
        let Some(format) = self.config.audio else {
            return Err(Error::NotAnnounced("sound"));
        };
        let timestamp = clock::timestamp(self.senders[Track::Audio].base, at, format.clock_rate);
        self.send_rtp(
            Track::Audio,
            format.payload_type,
            false,
            timestamp,
            &[payload],
            now,
        )?;
        self.senders[Track::Audio].units += 1;
        Ok(())
    }

    /// Sends one caption, `text`, shown from media time `at` (RFC 4103: one T.140 line, ending
    /// in U+2028, stamped with `at` in ms). Answers how many packets went (none for a caption
    /// without text).
    pub fn send_caption(&mut self, text: &str, at: Duration, now: Instant) -> Result<usize> {
        self.recording()?;
        if !self.config.captions {
            return Err(Error::NotAnnounced("captions"));
        }
        let blocks = self.captions.push(&Cue::new(at, at, text));
        let base = self.senders[Track::Text].base;
        for block in &blocks {
            let timestamp = base.wrapping_add(block.timestamp);
            let payload = [block.data.as_slice()];
            self.send_rtp(
                Track::Text,
                T140_PAYLOAD_TYPE,
                block.marker,
                timestamp,
                &payload,
                now,
            )?;
        }
        if !blocks.is_empty() {
            self.senders[Track::Text].units += 1;
        }
        Ok(blocks.len())
    }

    /// Ends the session: TEARDOWN goes out (in the session, with credentials); no reply is
    /// waited for.
    pub fn teardown(&mut self, now: Instant) {
        if self.requester.session().is_some()
            && matches!(self.state, State::Recording | State::Starting)
        {
            let teardown = Request::new(Method::Teardown, self.config.url.clone());
            self.ask(teardown, now);
        }
        self.requester.forget();
        self.state = State::Closing;
    }

    fn recording(&self) -> Result<()> {
        if self.state != State::Recording {
            return Err(Error::NotRecording);
        }
        Ok(())
    }

    /// Sends `request` (numbered, in the session, with credentials when the server asked
    /// for them).
    fn ask(&mut self, request: Request, now: Instant) {
        let wire = self.requester.send(request, (), now);
        wire.write_to(&mut self.output);
    }

    /// A reply from the server: to the pending request (matched by CSeq), answered again
    /// with credentials after a 401.
    fn answered(&mut self, reply: Response, now: Instant) {
        let (request, reply) = match self.requester.reply(reply, now) {
            Reply::Answered {
                request, response, ..
            } => (request, response),
            Reply::Resent(request) => return request.write_to(&mut self.output),
            Reply::Ignored => return,
        };
        if !reply.status.is_success() {
            return self.fail(requester::Error::refused(&request, &reply).into());
        }
        if let Err(why) = self.next_step(&reply, now) {
            self.fail(why);
        }
    }

    /// SETUP of the `n`th track of [`Recorder::setups`], in the session when there is one.
    fn setup(&mut self, n: usize, now: Instant) {
        let track = self.setups[n];
        let transport = match self.config.carriage {
            Carriage::Tcp => {
                let channel = track.channel();
                format!(
                    "RTP/AVP/TCP;unicast;interleaved={channel}-{};mode=record",
                    channel + 1
                )
            }
            Carriage::Udp(ports) => {
                let (rtp, rtcp) = ports[track.index()];
                format!("RTP/AVP;unicast;client_port={rtp}-{rtcp};mode=record")
            }
        };
        let url = format!("{}/{}", self.config.url, track.control());
        let mut setup = Request::new(Method::Setup, url);
        setup.headers.set("Transport", transport);
        self.state = State::SettingUp(n);
        self.ask(setup, now);
    }

    /// After a successful reply: the next request, or recording.
    fn next_step(&mut self, reply: &Response, now: Instant) -> Result<()> {
        match self.state {
            State::Announcing => self.setup(0, now),
            State::SettingUp(n) => {
                let session = reply
                    .session()
                    .and_then(std::result::Result::ok)
                    .ok_or(Error::NoSession)?;
                let track = self.setups[n];
                if let Carriage::Udp(_) = self.config.carriage {
                    let ports = reply
                        .headers
                        .typed::<Transport>()
                        .and_then(std::result::Result::ok)
                        .and_then(|t| t.0.into_iter().next())
                        .and_then(|spec| spec.server_port())
                        .ok_or(Error::NoServerPort(track.name()))?;
                    let rtcp = ports.rtcp.unwrap_or(ports.rtp.wrapping_add(1));
                    self.server_ports[track.index()] = Some((ports.rtp, rtcp));
                }
                self.requester.set_session(Some(session.id));
                if n + 1 < self.setups.len() {
                    self.setup(n + 1, now);
                    return Ok(());
                }
                let mut record = Request::new(Method::Record, self.config.url.clone());
                record.headers.set("Range", "npt=now-");
                self.state = State::Starting;
                self.ask(record, now);
            }
            State::Starting => {
                self.state = State::Recording;
                // The clock's mapping before the first packet, so the server times it.
                self.reports(now);
                let session = self.requester.session().unwrap_or_default().to_owned();
                self.events.push_back(Event::Recording { session });
            }
            State::Recording | State::Closing | State::Done => {}
        }
        Ok(())
    }

    fn fail(&mut self, why: Error) {
        if self.state == State::Done {
            return;
        }
        self.state = State::Done;
        self.requester.forget();
        self.events.push_back(Event::Failed(why));
    }

    /// A sender report on every track, all for the media time of `now` on the one clock.
    fn reports(&mut self, now: Instant) {
        self.next_report = now + REPORT_INTERVAL;
        let at = self.config.clock.media_time(now);
        for track in self.setups.clone() {
            if let Err(e) = self.sender_report(track, at, now) {
                tracing::debug!(error = %e, track = track.name(), "sender report");
            }
        }
    }

    /// The RTP clock rate of `track`.
    fn rate(&self, track: Track) -> u32 {
        match track {
            Track::Video => VIDEO_RATE,
            Track::Audio => self.config.audio.map_or(1, |f| f.clock_rate),
            Track::Text => t140::CLOCK_RATE,
        }
    }

    /// `track`'s sender report with SDES CNAME (RFC 3550 §6.4.1, §6.5.1): media time `at` as
    /// the track's RTP timestamp and as NTP time.
    fn sender_report(&mut self, track: Track, at: Duration, now: Instant) -> Result<()> {
        let sender = &self.senders[track];
        let info = rtcp::SenderInfo {
            ssrc: sender.ssrc,
            ntp_timestamp: rtcp::NtpTimestamp::from_system_time(self.config.clock.wall_time(at)),
            rtp_timestamp: clock::timestamp(sender.base, at, self.rate(track)),
            // The counts wrap (RFC 3550 §6.4.1).
            packet_count: sender.packets as u32,
            octet_count: sender.bytes as u32,
        };
        let mut buf = [0u8; 256];
        let mut writer = rtcp::Writer::new(&mut buf);
        writer.sender_report(&info, &[])?;
        writer.cname(info.ssrc, self.config.cname.as_bytes())?;
        let len = writer.finish();
        self.put(track, true, &buf[..len], now)
    }

    /// One RTP packet of `track`, counted and numbered, staged for `due`.
    fn send_rtp(
        &mut self,
        track: Track,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[&[u8]],
        due: Instant,
    ) -> Result<()> {
        let len = payload.iter().map(|p| p.len()).sum();
        let sender = &mut self.senders[track];
        let header = rtp::Header {
            marker,
            payload_type,
            sequence_number: sender.next_packet(len),
            timestamp,
            ssrc: sender.ssrc,
        };
        let mut packet = std::mem::take(&mut self.packet);
        packet.clear();
        let put = header
            .append(payload, &mut packet)
            .map_err(Error::from)
            .and_then(|_| self.put(track, false, &packet, due));
        self.packet = packet;
        put
    }

    /// Stages one RTP (or, `rtcp`, RTCP) packet of `track`: interleaved on its channel (the
    /// next one for RTCP), or as a datagram due at `due`.
    fn put(&mut self, track: Track, rtcp: bool, packet: &[u8], due: Instant) -> Result<()> {
        match self.config.carriage {
            Carriage::Udp(_) => self.datagrams[track.index()].push_back(Datagram {
                track,
                rtcp,
                data: packet.to_vec(),
                due,
            }),
            Carriage::Tcp => {
                let header = rtsp::Data::header(track.channel() + u8::from(rtcp), packet.len())?;
                self.output.extend_from_slice(&header);
                self.output.extend_from_slice(packet);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
