//! The publisher's side of an RTSP RECORD session, sans I/O (RFC 2326 §10.3 ANNOUNCE, §10.4
//! SETUP with `mode=record`, §10.11 RECORD, §10.7 TEARDOWN): requests out and replies in as
//! bytes, frames in as RFC 2435 RTP (RFC 3550) out — interleaved on the connection (§10.12) or
//! as datagrams for the server's ports, spread over part of a frame interval — with RTCP sender
//! reports (RFC 3550 §6.4.1) mapping the newest frame's timestamp to its capture time. Time is
//! passed in; [`crate::publish`] is the driver that owns the sockets and the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use hdstream_common::rfc2435::Packetizer;
use hdstream_common::rtsp::authenticator::Authenticator;
use hdstream_common::rtsp::header::{Session as SessionHeader, Transport};
use hdstream_common::rtsp::{self, Message, Method, Parsed, Request, Response, StatusCode};
use hdstream_common::sdp::{MjpegStream, SessionDescription};
use hdstream_common::{rtcp, rtp};
use hdstream_video::jpeg::Header;

/// RTP payload type of JPEG (RFC 3551 §6).
const JPEG: u8 = 26;
/// Between sender reports.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// How long a reply may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest reply taken from the server (an SDP-less RTSP reply is a few hundred bytes).
const MAX_REPLY: usize = 64 * 1024;
/// Datagrams of a frame go out in groups of this many, the groups spread over the frame's
/// share of its interval.
const GROUP: usize = 16;

/// How RTP goes to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carriage {
    /// Interleaved on the RTSP connection, channels 0 and 1.
    Tcp,
    /// Datagrams from these local RTP and RTCP ports to the ports the server names.
    Udp {
        /// Local RTP port.
        rtp: u16,
        /// Local RTCP port.
        rtcp: u16,
    },
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
    /// SDES CNAME of the sender reports.
    pub cname: String,
}

/// The RTP sender: identity, sequence and what it has sent. It outlives a session (a publisher
/// that connects again goes on with the same SSRC and numbering): [`Recorder::new`] takes it,
/// [`Recorder::into_sender`] gives it back.
#[derive(Debug, Clone)]
pub struct Sender {
    /// SSRC (RFC 3550 §8).
    pub ssrc: u32,
    /// Next sequence number.
    pub seq: u16,
    /// Frames sent whole.
    pub frames: u64,
    /// RTP packets sent.
    pub packets: u64,
    /// RTP payload bytes sent.
    pub bytes: u64,
    /// Frames that cannot travel as RFC 2435 (left out).
    pub refused: u64,
    /// The newest frame's RTP timestamp and capture time, for sender reports.
    last: Option<(u32, SystemTime)>,
}

impl Sender {
    /// A sender with this SSRC, starting at sequence number `seq`.
    pub fn new(ssrc: u32, seq: u16) -> Sender {
        Sender {
            ssrc,
            seq,
            frames: 0,
            packets: 0,
            bytes: 0,
            refused: 0,
            last: None,
        }
    }
}

/// Where the session is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Announcing,
    SettingUp,
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
    Failed(anyhow::Error),
}

/// A datagram for the server: to its RTCP port when `rtcp`, else its RTP port; due at `due`.
#[derive(Debug)]
pub struct Datagram {
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
    sender: Sender,
    state: State,
    cseq: u32,
    authenticator: Option<Authenticator>,
    /// The request awaiting its reply, when it was sent, and whether it was already retried
    /// with credentials.
    pending: Option<(Request, Instant, bool)>,
    session: Option<String>,
    /// The server's RTP and RTCP ports (UDP).
    server_ports: Option<(u16, u16)>,
    input: Vec<u8>,
    output: Vec<u8>,
    datagrams: VecDeque<Datagram>,
    events: VecDeque<Event>,
    next_report: Instant,
    packet: Vec<u8>,
}

impl Recorder {
    /// A session that starts by announcing (the request is in [`Recorder::control_output`]).
    pub fn new(config: Config, sender: Sender, now: Instant) -> Recorder {
        let authenticator = config
            .credentials
            .clone()
            .map(|(user, password)| Authenticator::new(user, password));
        let mut recorder = Recorder {
            config,
            sender,
            state: State::Announcing,
            cseq: 0,
            authenticator,
            pending: None,
            session: None,
            server_ports: None,
            input: Vec::new(),
            output: Vec::new(),
            datagrams: VecDeque::new(),
            events: VecDeque::new(),
            next_report: now,
            packet: Vec::new(),
        };
        let mut announce = Request::new(Method::Announce, recorder.config.url.clone());
        announce.headers.set("Content-Type", "application/sdp");
        announce.body = recorder.announcement().into_bytes();
        recorder.ask(announce, now, false);
        recorder
    }

    /// The RTP sender back, to go on with in the next session.
    pub fn into_sender(self) -> Sender {
        self.sender
    }

    /// The RTP sender's figures.
    pub fn sender(&self) -> &Sender {
        &self.sender
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

    /// The next datagram due at `now`.
    pub fn poll_datagram(&mut self, now: Instant) -> Option<Datagram> {
        if self.datagrams.front().is_some_and(|d| d.due <= now) {
            return self.datagrams.pop_front();
        }
        None
    }

    /// The server's RTP and RTCP ports, once SETUP named them (UDP).
    pub fn server_ports(&self) -> Option<(u16, u16)> {
        self.server_ports
    }

    /// What happened since the last call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Recorder::handle_timeout`] is next due: a reply's deadline, a sender report, a
    /// datagram's turn.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let reply = self.pending.as_ref().map(|(_, at, _)| *at + REPLY_TIMEOUT);
        let report = (self.state == State::Recording && self.sender.last.is_some())
            .then_some(self.next_report);
        let datagram = self.datagrams.front().map(|d| d.due);
        [reply, report, datagram].into_iter().flatten().min()
    }

    /// Time has come to `now`: a reply overdue fails the session; a sender report goes when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((request, at, _)) = &self.pending
            && now >= *at + REPLY_TIMEOUT
        {
            let why = anyhow!(
                "{}: no reply from the server within {REPLY_TIMEOUT:?}",
                request.method.as_str()
            );
            self.fail(why);
            return;
        }
        if self.state == State::Recording
            && now >= self.next_report
            && let Some((timestamp, captured)) = self.sender.last
        {
            self.next_report = now + REPORT_INTERVAL;
            if let Err(e) = self.sender_report(timestamp, captured, now) {
                tracing::debug!(error = %e, "sender report");
            }
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
                    self.fail(anyhow!("the server's reply does not parse: {e}"));
                    return;
                }
            }
        }
        if self.input.len() > MAX_REPLY {
            self.fail(anyhow!(
                "a reply of more than {MAX_REPLY} bytes from the server"
            ));
        }
    }

    /// The RTSP connection closed.
    pub fn control_closed(&mut self) {
        if self.state != State::Done && self.state != State::Closing {
            self.fail(anyhow!("the server closed the connection"));
        }
        self.state = State::Done;
    }

    /// Sends frame `jpeg` stamped `timestamp`, captured at `captured`: its packets go into the
    /// control output (TCP) or the datagram queue, spread from `now` (UDP). Answers whether it
    /// went; a frame that cannot travel as RFC 2435 is left out (and counted).
    pub fn send_frame(
        &mut self,
        jpeg: &[u8],
        timestamp: u32,
        captured: SystemTime,
        now: Instant,
    ) -> Result<bool> {
        if self.state != State::Recording {
            bail!("not recording");
        }
        let frame = match Header::parse(jpeg)
            .map_err(anyhow::Error::from)
            .and_then(|h| Ok(hdstream_video::rfc2435::frame(&h)?))
        {
            Ok(frame) => frame,
            Err(e) => {
                if self.sender.refused == 0 {
                    tracing::warn!(error = %e, "a frame cannot travel as RFC 2435 (with ffmpeg: -c:v mjpeg -huffman default -pix_fmt yuvj420p); such frames are left out");
                }
                self.sender.refused += 1;
                return Ok(false);
            }
        };
        let packetizer = Packetizer::new(&frame, self.config.max_payload)?;
        let count = packetizer.fragment_count().max(1);
        for (i, fragment) in packetizer.enumerate() {
            self.packet.clear();
            let header = rtp::Header {
                marker: fragment.marker,
                payload_type: JPEG,
                sequence_number: self.sender.seq,
                timestamp,
                ssrc: self.sender.ssrc,
            };
            header.append(&[fragment.header(), fragment.data], &mut self.packet)?;
            // Each group of datagrams is due at its share of the spread.
            let due = now
                + self
                    .config
                    .spread
                    .mul_f64((i / GROUP * GROUP) as f64 / count as f64);
            let packet = std::mem::take(&mut self.packet);
            self.put(false, &packet, due)?;
            self.packet = packet;
            self.sender.seq = self.sender.seq.wrapping_add(1);
            self.sender.packets += 1;
            self.sender.bytes += (fragment.header().len() + fragment.data.len()) as u64;
        }
        self.sender.frames += 1;
        self.sender.last = Some((timestamp, captured));
        Ok(true)
    }

    /// Ends the session: TEARDOWN goes out; no reply is waited for.
    pub fn teardown(&mut self) {
        if let Some(session) = self.session.clone()
            && matches!(self.state, State::Recording | State::Starting)
        {
            self.cseq += 1;
            let mut teardown = Request::new(Method::Teardown, self.config.url.clone());
            teardown.headers.set("CSeq", self.cseq.to_string());
            teardown.headers.set_typed(&SessionHeader::new(session));
            self.output.extend_from_slice(&teardown.to_bytes());
        }
        self.pending = None;
        self.state = State::Closing;
    }

    /// The SDP announced: one RFC 2435 stream, live.
    fn announcement(&self) -> String {
        SessionDescription::mjpeg(&MjpegStream {
            session_id: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs()),
            session_version: 1,
            origin_address: "127.0.0.1",
            session_name: "hdstream-publish",
            control: "trackID=0",
            duration: None,
            live: true,
            framerate: self.config.fps,
            width: u32::from(self.config.size.0),
            height: u32::from(self.config.size.1),
            rtx: None,
        })
        .to_string()
    }

    /// Sends `request` (numbered, with credentials when the server asked for them).
    fn ask(&mut self, mut request: Request, now: Instant, retried: bool) {
        self.cseq += 1;
        request.headers.set("CSeq", self.cseq.to_string());
        request.headers.set(
            "User-Agent",
            concat!("hdstream-publish/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(auth) = self.authenticator.as_mut()
            && let Some(value) = auth.authorization(request.method.as_str(), &request.uri)
        {
            request.headers.set("Authorization", value);
        }
        self.output.extend_from_slice(&request.to_bytes());
        self.pending = Some((request, now, retried));
    }

    /// The reply to the pending request.
    fn answered(&mut self, reply: Response, now: Instant) {
        let Some((request, _, retried)) = self.pending.take() else {
            return;
        };
        if reply.status == StatusCode::UNAUTHORIZED
            && !retried
            && self
                .authenticator
                .as_mut()
                .is_some_and(|a| a.challenged(reply.headers.get_all("WWW-Authenticate")))
        {
            // Once more, now that the challenge can be answered.
            return self.ask(request, now, true);
        }
        if !reply.status.is_success() {
            let why = anyhow!(
                "{} {}: {} {} {}",
                request.method.as_str(),
                request.uri,
                reply.status.as_u16(),
                reply.reason,
                String::from_utf8_lossy(&reply.body).trim()
            );
            return self.fail(why);
        }
        if let Err(why) = self.next_step(&reply, now) {
            self.fail(why);
        }
    }

    /// After a successful reply: the next request, or recording.
    fn next_step(&mut self, reply: &Response, now: Instant) -> Result<()> {
        match self.state {
            State::Announcing => {
                let transport = match self.config.carriage {
                    Carriage::Tcp => "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record".to_owned(),
                    Carriage::Udp { rtp, rtcp } => {
                        format!("RTP/AVP;unicast;client_port={rtp}-{rtcp};mode=record")
                    }
                };
                let mut setup =
                    Request::new(Method::Setup, format!("{}/trackID=0", self.config.url));
                setup.headers.set("Transport", transport);
                self.state = State::SettingUp;
                self.ask(setup, now, false);
            }
            State::SettingUp => {
                let session = reply
                    .session()
                    .and_then(Result::ok)
                    .ok_or_else(|| anyhow!("SETUP reply without a Session"))?;
                if let Carriage::Udp { .. } = self.config.carriage {
                    let ports = reply
                        .headers
                        .typed::<Transport>()
                        .and_then(Result::ok)
                        .and_then(|t| t.0.into_iter().next())
                        .and_then(|spec| spec.server_port())
                        .ok_or_else(|| anyhow!("SETUP reply without server_port"))?;
                    let rtcp = ports.rtcp.unwrap_or(ports.rtp.wrapping_add(1));
                    self.server_ports = Some((ports.rtp, rtcp));
                }
                let mut record = Request::new(Method::Record, self.config.url.clone());
                record
                    .headers
                    .set_typed(&SessionHeader::new(session.id.clone()));
                record.headers.set("Range", "npt=now-");
                self.session = Some(session.id);
                self.state = State::Starting;
                self.ask(record, now, false);
            }
            State::Starting => {
                self.state = State::Recording;
                self.next_report = now;
                let session = self.session.clone().unwrap_or_default();
                self.events.push_back(Event::Recording { session });
            }
            State::Recording | State::Closing | State::Done => {}
        }
        Ok(())
    }

    fn fail(&mut self, why: anyhow::Error) {
        if self.state == State::Done {
            return;
        }
        self.state = State::Done;
        self.pending = None;
        self.events.push_back(Event::Failed(why));
    }

    /// A sender report with SDES CNAME (RFC 3550 §6.4.1, §6.5.1).
    fn sender_report(&mut self, timestamp: u32, captured: SystemTime, now: Instant) -> Result<()> {
        let info = rtcp::SenderInfo {
            ssrc: self.sender.ssrc,
            ntp_timestamp: rtcp::NtpTimestamp::from_system_time(captured),
            rtp_timestamp: timestamp,
            packet_count: self.sender.packets as u32,
            octet_count: self.sender.bytes as u32,
        };
        let mut buf = [0u8; 256];
        let mut writer = rtcp::Writer::new(&mut buf);
        writer.sender_report(&info, &[])?;
        writer.cname(self.sender.ssrc, self.config.cname.as_bytes())?;
        let len = writer.finish();
        self.put(true, &buf[..len], now)
    }

    /// Stages one RTP (or, `rtcp`, RTCP) packet: interleaved on channel 0 (1), or as a
    /// datagram due at `due`.
    fn put(&mut self, rtcp: bool, packet: &[u8], due: Instant) -> Result<()> {
        match self.config.carriage {
            Carriage::Udp { .. } => self.datagrams.push_back(Datagram {
                rtcp,
                data: packet.to_vec(),
                due,
            }),
            Carriage::Tcp => {
                let header = rtsp::Data::header(u8::from(rtcp), packet.len())?;
                self.output.extend_from_slice(&header);
                self.output.extend_from_slice(packet);
            }
        }
        Ok(())
    }
}
