//! The media pipeline: RTP and RTCP in, frames for the decoder and receiver reports out.
//!
//! ```text
//! RTP ─▶ rtp::Packet::parse ─▶ SequenceTracker ─▶ Jitter ─▶ Reorder ─▶ Depacketizer ─▶ Playout
//!        (SSRC, PT checked)    (loss, dups, A.1)  (§6.4.1)  (ext. seq) (RFC 2435)      (cache, clock)
//! RTCP ─▶ Compound::parse ─▶ SR: LSR/DLSR for the next report · BYE: end of stream
//!                                         every report interval: RR + SDES CNAME (RFC 3550 §6.4.2)
//! ```
//!
//! While a PLAY that moves the stream (the first, a seek) waits for its reply, packets are held
//! back: the reply's `RTP-Info` says which sequence number starts the new stream and which
//! timestamp its `Range` start carries (RFC 2326 §12.33), and packets sent before it are
//! dropped. Over UDP they often arrive before the reply does.
//!
//! The course's servers send raw JPEG bytes, whole or in pieces ([`course::Depacketizer`]);
//! their timestamps are not media time, so frames are placed by frame number at the pace they
//! arrive ([`Timeline`]), which also keeps the clock going when a standard sender's timestamps
//! stand still or restart.
//!
//! Sans-IO: every entry point takes `now`.

use std::time::{Duration, Instant, SystemTime};

use hdstream_common::course::{self, Dialect};
use hdstream_common::rfc2435::{Concealed, Depacketizer, Output};
use hdstream_common::rtcp::{self, LastSr, ReportBlock, Writer};
use hdstream_common::rtp::{self, TimestampUnwrapper, timestamp_delta};

use crate::cache::Frame;
use crate::playout::{self, Playout, Release};
use crate::reception::{Reception, SincePlay};
use crate::reorder::{Reorder, Verdict};
use crate::repair::Repair;
use crate::stats::NetStats;
use crate::timeline::{SenderTime, Timeline};

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our SSRC in receiver reports (random, RFC 3550 §8).
    pub ssrc: u32,
    /// Our CNAME (§6.5.1).
    pub cname: String,
    /// Between receiver reports (§6.2; about 5 s).
    pub report_interval: Duration,
    /// How long the reorder buffer waits for a missing packet.
    pub reorder_hold: Duration,
    /// Packets the reorder buffer holds at most.
    pub reorder_capacity: usize,
    /// Packets held at most while a PLAY reply is awaited.
    pub gate_capacity: usize,
    /// After an RTCP BYE, packets still in flight get this long before the stream ends.
    pub bye_grace: Duration,
    /// The playout.
    pub playout: playout::Config,
    /// An instant and the wall-clock time at it, to put the sender's capture times (RTCP NTP)
    /// on our clock; `None`: capture times are not worked out.
    pub wallclock: Option<(Instant, SystemTime)>,
    /// Show frames that lost packets with their lost restart intervals taken from the frame
    /// before (RFC 2435 §3.1.7), when the sender aligns packets with them.
    pub conceal: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ssrc: 0x4844_5354,
            cname: "hdstream-client".into(),
            report_interval: Duration::from_secs(5),
            reorder_hold: Duration::from_millis(30),
            reorder_capacity: 512,
            gate_capacity: 16_384,
            bye_grace: Duration::from_millis(150),
            playout: playout::Config::default(),
            wallclock: None,
            conceal: true,
        }
    }
}

/// What a PLAY reply says about where the new stream starts (RFC 2326 §12.29, §12.33).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamStart {
    /// NPT of the first frame, seconds (the reply's Range start).
    pub npt: Option<f64>,
    /// Sequence number of the first packet.
    pub seq: Option<u16>,
    /// RTP timestamp of `npt`.
    pub rtptime: Option<u32>,
}

/// The NPT ↔ timestamp mapping of the current stream.
#[derive(Debug, Clone, Copy)]
struct NptRef {
    npt: f64,
    rtptime: Option<u32>,
    /// The extended timestamp of `npt`, fixed by the first frame.
    ext: Option<i64>,
}

/// The frame being reassembled: its timestamp, first and last packet arrival.
#[derive(Debug, Clone, Copy)]
struct Assembling {
    timestamp: u32,
    first: Instant,
    last: Instant,
}

/// A packet waiting in the reorder buffer or the gate.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    arrival: Instant,
}

/// RTP/RTCP in; frames and reports out.
#[derive(Debug)]
pub struct Pipeline {
    config: Config,
    /// How frames travel: RFC 2435 fragments or the course's raw JPEG.
    dialect: Dialect,
    payload_type: Option<u8>,
    dimensions: Option<(u16, u16)>,
    media_ssrc: Option<u32>,
    reception: Reception,
    last_sr: Option<LastSr>,
    /// The newest sender report's RTP timestamp and NTP time (RFC 3550 §6.4.1).
    sender_clock: Option<(u32, SystemTime)>,
    /// The sender reports' NTP time is a capture clock (a live stream's publisher): frames get
    /// a capture time. A file's server reports its sending schedule, which a prefetch at
    /// `Speed` runs ahead of: no capture time there.
    capture_clock: bool,
    unwrapper: TimestampUnwrapper,
    reorder: Reorder<Held>,
    depacketizer: Depacketizer,
    course: course::Depacketizer,
    /// The number of the last course frame, for counting the ones of which nothing came.
    last_number: Option<i64>,
    timeline: Timeline,
    assembling: Option<Assembling>,
    gate: Option<Vec<Held>>,
    npt_ref: Option<NptRef>,
    last_frame_ts: Option<i64>,
    playout: Playout,
    next_report: Instant,
    bye_at: Option<Instant>,
    first_packet: Option<Instant>,
    last_packet: Option<Instant>,
    /// Repair of lost packets (NACK + RTX), when the server offers it: the RTX payload type
    /// and what is missing.
    repair: Option<(u8, Repair)>,
    stats: NetStats,
}

/// Packets the reorder buffer holds at most while it waits for repairs (1440p60 sends about
/// 8,000 a second).
pub const REPAIR_REORDER_CAPACITY: usize = 8192;

impl Pipeline {
    /// A pipeline waiting for its first PLAY, for frames carried as `dialect` says.
    pub fn new(config: Config, dialect: Dialect, now: Instant) -> Pipeline {
        let playout = Playout::new(config.playout);
        let reorder = Reorder::new(config.reorder_hold, config.reorder_capacity);
        Pipeline {
            dialect,
            payload_type: None,
            dimensions: None,
            media_ssrc: None,
            reception: Reception::new(now),
            last_sr: None,
            sender_clock: None,
            capture_clock: false,
            unwrapper: TimestampUnwrapper::new(),
            reorder,
            depacketizer: Self::depacketizer(&config, None),
            course: course::Depacketizer::new(),
            last_number: None,
            timeline: Timeline::new(config.playout.clock_rate, None, Self::fallback_fps(dialect)),
            assembling: None,
            gate: None,
            npt_ref: None,
            last_frame_ts: None,
            playout,
            next_report: now + config.report_interval,
            bye_at: None,
            first_packet: None,
            last_packet: None,
            repair: None,
            stats: NetStats::default(),
            config,
        }
    }

    /// A fresh depacketizer as `config` and the SDP's `a=x-dimensions` say.
    fn depacketizer(config: &Config, dimensions: Option<(u16, u16)>) -> Depacketizer {
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_conceal(config.conceal);
        if let Some((w, h)) = dimensions {
            depacketizer.set_dimensions(w, h);
        }
        depacketizer
    }

    /// The frame rate assumed until the frames' arrival tells (the course's servers send 20).
    fn fallback_fps(dialect: Dialect) -> f64 {
        match dialect {
            Dialect::Course => course::FPS,
            Dialect::Standard => 30.0,
        }
    }

    /// The stream as described: payload type, clock rate, frame rate (`a=framerate`, or the
    /// user's), `a=x-dimensions`.
    pub fn describe(
        &mut self,
        payload_type: Option<u8>,
        clock_rate: u32,
        fps: Option<f64>,
        dimensions: Option<(u32, u32)>,
    ) {
        self.payload_type = payload_type;
        self.dimensions =
            dimensions.and_then(|(w, h)| Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?)));
        if let Some((w, h)) = self.dimensions {
            self.depacketizer.set_dimensions(w, h);
        }
        self.timeline = Timeline::new(clock_rate, fps, Self::fallback_fps(self.dialect));
        let interval = self
            .timeline
            .described_fps()
            .map(|f| Duration::from_secs_f64(1.0 / f));
        self.playout
            .set_timing(self.timeline.clock_rate(), interval);
    }

    /// The stream is live (RFC 2326 `npt=now-`): the playout shows each frame as soon as it is
    /// whole ([`crate::playout::Playout::go_live`]).
    pub fn go_live(&mut self) {
        self.playout.go_live();
    }

    /// A live stream played `delay` behind its arrival (timed, timeshift on): what a live
    /// stream with sound needs ([`crate::core::LIVE_SOUND_DELAY`]).
    pub fn go_live_delayed(&mut self, delay: Duration) {
        self.playout.go_live_delayed(delay);
    }

    /// Asks for lost packets again (RFC 4585 generic NACK) and takes them back from RTX packets
    /// of `rtx_payload_type` (RFC 4588), for `window` after each gap is seen; the reorder
    /// buffer waits as long for them.
    pub fn enable_repair(&mut self, rtx_payload_type: u8, window: Duration) {
        self.repair = Some((rtx_payload_type, Repair::new(window)));
        self.reorder = Reorder::new(window, REPAIR_REORDER_CAPACITY);
    }

    /// Repair, when enabled.
    pub fn repair(&self) -> Option<&Repair> {
        self.repair.as_ref().map(|(_, r)| r)
    }

    /// The SSRC the server named in its `Transport` reply (RFC 2326 §12.39).
    pub fn expect_ssrc(&mut self, ssrc: u32) {
        self.media_ssrc = Some(ssrc);
    }

    /// Seconds from one frame to the next as the frames are being placed ([`Timeline`]).
    pub fn frame_interval(&self) -> Duration {
        self.timeline.interval()
    }

    /// The playout.
    pub fn playout(&self) -> &Playout {
        &self.playout
    }

    /// The playout, to move in its timeshift window.
    pub fn playout_mut(&mut self) -> &mut Playout {
        &mut self.playout
    }

    /// When the last RTP packet arrived.
    pub fn last_packet(&self) -> Option<Instant> {
        self.last_packet
    }

    /// Whether packets are being held for a PLAY reply.
    pub fn is_gated(&self) -> bool {
        self.gate.is_some()
    }

    /// A PLAY that moves the stream was sent: empties everything and holds packets until
    /// [`Pipeline::start`].
    pub fn hold(&mut self, now: Instant) {
        let depacketizer = &mut self.depacketizer;
        self.playout.start(now, |f| depacketizer.recycle(f.jpeg));
        self.reorder.reset();
        if let Some((_, repair)) = &mut self.repair {
            repair.reset();
        }
        self.depacketizer = Self::depacketizer(&self.config, self.dimensions);
        self.course = course::Depacketizer::new();
        self.last_number = None;
        self.timeline.reset();
        self.assembling = None;
        self.gate = Some(Vec::new());
        self.npt_ref = None;
        self.reception.hold();
        self.last_frame_ts = None;
        self.bye_at = None;
    }

    /// The PLAY reply came: packets from `start.seq` on belong to the new stream, whose first
    /// frame is at `start.npt`. Held packets are processed now.
    pub fn start(&mut self, start: StreamStart, now: Instant) {
        self.npt_ref = Some(NptRef {
            npt: start.npt.unwrap_or(0.0),
            rtptime: start.rtptime,
            ext: None,
        });
        self.reception.play_starts(start.seq);
        if let Some(held) = self.gate.take() {
            for h in held {
                self.packet(&h.bytes, h.arrival, now);
            }
        }
    }

    /// One RTP packet (RFC 3550 §5.1) arrived at `now`.
    pub fn rtp(&mut self, data: &[u8], now: Instant) {
        if let Some(gate) = &mut self.gate {
            if gate.len() < self.config.gate_capacity {
                gate.push(Held {
                    bytes: data.to_vec(),
                    arrival: now,
                });
            } else {
                self.stats.packets_ignored += 1;
            }
            return;
        }
        self.packet(data, now, now);
    }

    fn packet(&mut self, data: &[u8], arrival: Instant, now: Instant) {
        let Ok(packet) = rtp::Packet::parse(data) else {
            self.stats.packets_ignored += 1;
            return;
        };
        if self
            .repair
            .as_ref()
            .is_some_and(|(pt, _)| *pt == packet.payload_type())
        {
            self.retransmitted(&packet, data.len(), arrival, now);
            return;
        }
        if self
            .payload_type
            .is_some_and(|pt| pt != packet.payload_type())
        {
            self.stats.packets_ignored += 1;
            return;
        }
        match self.media_ssrc {
            Some(ssrc) if ssrc != packet.ssrc() => {
                self.stats.packets_ignored += 1;
                return;
            }
            Some(_) => {}
            None => self.media_ssrc = Some(packet.ssrc()),
        }
        self.first_packet.get_or_insert(arrival);
        self.last_packet = Some(arrival);
        self.stats.bytes_received += data.len() as u64;
        let seq = packet.sequence_number();
        let clock_rate = self.timeline.clock_rate();
        let Some(counted) = self
            .reception
            .count(seq, packet.timestamp(), arrival, clock_rate)
        else {
            return;
        };
        if counted.restarted {
            self.reorder.reset();
            if let Some((_, repair)) = &mut self.repair {
                repair.reset();
            }
        }
        self.sequenced(data, seq, counted.ext, arrival, now);
    }

    /// A packet of the stream with extended sequence number `ext`: into the reorder buffer,
    /// unless it was sent before the PLAY that moved the stream.
    fn sequenced(&mut self, data: &[u8], seq: u16, ext: u64, arrival: Instant, now: Instant) {
        match self.reception.since_play(seq) {
            // Sent before the PLAY that moved the stream.
            SincePlay::Before => return,
            SincePlay::After(delta) => {
                if let Some(first) = ext.checked_sub(u64::from(delta)) {
                    // A later packet that overtook the stream's first waits for it.
                    self.reorder.start_at(first);
                }
            }
            SincePlay::Unknown => {}
        }
        if let Some((_, repair)) = &mut self.repair {
            repair.arrived(ext, arrival);
        }
        match self.reorder.check(ext) {
            Verdict::Deliver => self.ordered(data, ext, arrival),
            Verdict::Hold => self.reorder.hold_packet(
                ext,
                Held {
                    bytes: data.to_vec(),
                    arrival,
                },
                arrival,
            ),
            Verdict::Late => {}
        }
        self.release_reordered(now);
    }

    /// An RTX packet (RFC 4588 §4): the original it carries goes in as if it had arrived now.
    fn retransmitted(&mut self, rtx: &rtp::Packet<'_>, len: usize, arrival: Instant, now: Instant) {
        let (Some(media_ssrc), Some((osn, payload))) =
            (self.media_ssrc, rtp::rtx::unwrap(rtx.payload()))
        else {
            self.stats.packets_ignored += 1;
            return;
        };
        let original = rtp::Header {
            marker: rtx.marker(),
            // The described type, else JPEG's static one (RFC 3551 §6).
            payload_type: self.payload_type.unwrap_or(26),
            sequence_number: osn,
            timestamp: rtx.timestamp(),
            ssrc: media_ssrc,
        };
        let mut bytes = Vec::with_capacity(rtp::Header::LEN + payload.len());
        if original.append(&[payload], &mut bytes).is_err() {
            return;
        }
        // Only the first copy of a packet that is missing goes in; it is counted as received
        // (it may be far behind the newest: no restart, no reordering counted).
        let Some((_, repair)) = &mut self.repair else {
            return;
        };
        let Some(ext) = repair.repaired(osn, len, arrival) else {
            return;
        };
        self.reception.recovered(ext);
        self.sequenced(&bytes, osn, ext, arrival, now);
    }

    fn release_reordered(&mut self, now: Instant) {
        while let Some((ext, held)) = self.reorder.pop(now) {
            self.ordered(&held.bytes, ext, held.arrival);
        }
    }

    /// A packet in sequence order.
    fn ordered(&mut self, data: &[u8], ext: u64, arrival: Instant) {
        let Ok(packet) = rtp::Packet::parse(data) else {
            return;
        };
        let ts = packet.timestamp();
        match &mut self.assembling {
            Some(a) if a.timestamp == ts => a.last = arrival,
            _ => {
                self.assembling = Some(Assembling {
                    timestamp: ts,
                    first: arrival,
                    last: arrival,
                })
            }
        }
        match self.dialect {
            Dialect::Course => {
                self.course.push(&packet, ext);
                self.pull_course();
            }
            Dialect::Standard => {
                self.depacketizer.push(&packet);
                self.pull();
            }
        }
    }

    /// Arrival of the last packet of the frame stamped `timestamp` that just completed, and
    /// its assembly time. The next packet starts a new assembly, also under the same timestamp
    /// (senders that stamp every frame alike, the basic course server's seconds).
    fn assembled(&mut self, timestamp: u32) -> (Instant, Duration) {
        match self.assembling.take_if(|a| a.timestamp == timestamp) {
            Some(a) => (a.last, a.last - a.first),
            None => (
                self.last_packet.unwrap_or(self.reception.clock_epoch()),
                Duration::ZERO,
            ),
        }
    }

    /// Takes the course depacketizer's outputs.
    fn pull_course(&mut self) {
        while let Some(output) = self.course.pull() {
            let number = match &output {
                course::Output::Frame(f) => f.number,
                course::Output::Lost { number, .. } => *number,
            };
            // Frames of which nothing arrived.
            if let Some(last) = self.last_number {
                let missing = number - last - 1;
                if (1..1_000_000).contains(&missing) {
                    self.stats.frames_lost += missing as u64;
                }
            }
            self.last_number = Some(self.last_number.map_or(number, |l| l.max(number)));
            match output {
                course::Output::Frame(f) => {
                    let (arrival, assembly) = self.assembled(f.timestamp);
                    self.stats.frames_received += 1;
                    self.stats.assembly.record(assembly);
                    let ts = self.timeline.place(SenderTime::Number(f.number), arrival);
                    self.frame(ts, f.data, arrival, None, None);
                }
                course::Output::Lost { number, reason } => {
                    tracing::debug!(number, %reason, "course frame lost");
                    self.stats.frames_lost += 1;
                }
            }
        }
    }

    /// Takes the depacketizer's outputs.
    fn pull(&mut self) {
        while let Some(output) = self.depacketizer.pull() {
            match output {
                Output::Frame(jpeg) => {
                    let (arrival, assembly) = self.assembled(jpeg.timestamp);
                    self.stats.frames_received += 1;
                    if let Some(concealed) = &jpeg.concealed {
                        self.stats.frames_concealed += 1;
                        tracing::debug!(
                            timestamp = jpeg.timestamp,
                            intervals = concealed.interval_count(),
                            "frame concealed"
                        );
                    }
                    self.stats.assembly.record(assembly);
                    self.stats.size = Some((jpeg.width, jpeg.height));
                    let raw = self.unwrapper.unwrap(jpeg.timestamp);
                    let restarts = self.timeline.restarts();
                    let ts = self.timeline.place(SenderTime::Rtp(raw), arrival);
                    if self.timeline.restarts() == restarts && !self.timeline.timestamps_unusable()
                    {
                        self.count_gap(raw);
                    } else {
                        self.last_frame_ts = Some(raw);
                    }
                    let captured = self.captured(jpeg.timestamp);
                    self.frame(ts, jpeg.data, arrival, captured, jpeg.concealed);
                }
                Output::Lost { timestamp, reason } => {
                    tracing::debug!(timestamp, %reason, "frame lost");
                    let ts = self.unwrapper.unwrap(timestamp);
                    self.count_gap(ts);
                    self.stats.frames_lost += 1;
                }
            }
        }
    }

    /// Counts frames of which nothing arrived, from the timestamp step since the last frame.
    fn count_gap(&mut self, ts: i64) {
        if let (Some(last), Some(fps)) = (self.last_frame_ts, self.timeline.described_fps()) {
            let ticks = f64::from(self.timeline.clock_rate()) / fps;
            let frames = ((ts - last) as f64 / ticks).round();
            if frames > 1.0 && frames < 1e6 {
                self.stats.frames_lost += frames as u64 - 1;
            }
        }
        if self.last_frame_ts.is_none_or(|last| ts > last) {
            self.last_frame_ts = Some(ts);
        }
    }

    /// The stream is live: its sender reports carry the capture clock, and each frame's
    /// capture time is measured (capture to display).
    pub fn capture_clock(&mut self) {
        self.capture_clock = true;
    }

    /// When the frame stamped `timestamp` was captured, on our clock: the newest sender
    /// report's NTP time moved by the timestamp difference (RFC 3550 §6.4.1); only for a live
    /// stream ([`Pipeline::capture_clock`]).
    fn captured(&self, timestamp: u32) -> Option<Instant> {
        if !self.capture_clock {
            return None;
        }
        let (anchor, anchor_wall) = self.config.wallclock?;
        let (sr_rtp, sr_wall) = self.sender_clock?;
        let ticks = timestamp.wrapping_sub(sr_rtp) as i32;
        let offset = f64::from(ticks) / f64::from(self.timeline.clock_rate());
        let wall_secs = match sr_wall.duration_since(anchor_wall) {
            Ok(after) => after.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        } + offset;
        let shift = Duration::try_from_secs_f64(wall_secs.abs()).ok()?;
        if wall_secs >= 0.0 {
            anchor.checked_add(shift)
        } else {
            anchor.checked_sub(shift)
        }
    }

    /// A complete frame at media time `ts` (from the [`Timeline`]).
    fn frame(
        &mut self,
        ts: i64,
        jpeg: Vec<u8>,
        arrival: Instant,
        captured: Option<Instant>,
        concealed: Option<Concealed>,
    ) {
        let npt = self.npt(ts);
        let refused = self.playout.insert(Frame {
            timestamp: ts,
            npt,
            jpeg,
            arrival,
            captured,
            concealed,
        });
        if let Some(frame) = refused {
            self.depacketizer.recycle(frame.jpeg);
        }
    }

    /// The NPT of extended timestamp `ts` (RFC 2326 §12.33: `rtptime` is the Range start).
    fn npt(&mut self, ts: i64) -> f64 {
        let clock = f64::from(self.timeline.clock_rate());
        let Some(r) = &mut self.npt_ref else {
            return 0.0;
        };
        let ext = *r.ext.get_or_insert_with(|| match r.rtptime {
            Some(rtptime) => ts + i64::from(timestamp_delta(rtptime, ts as u32)),
            None => ts,
        });
        r.npt + (ts - ext) as f64 / clock
    }

    /// One RTCP compound packet (RFC 3550 §6.1) arrived at `now`.
    pub fn rtcp(&mut self, data: &[u8], now: Instant) {
        let Ok(compound) = rtcp::Compound::parse(data) else {
            tracing::debug!(len = data.len(), "malformed RTCP packet ignored");
            return;
        };
        for packet in compound.iter() {
            match packet {
                rtcp::Packet::SenderReport(sr)
                    if self.media_ssrc.is_none_or(|s| s == sr.ssrc()) =>
                {
                    let info = sr.sender_info();
                    self.last_sr = Some(LastSr::new(info.ntp_timestamp, now));
                    if let Some(wall) = info.ntp_timestamp.to_system_time() {
                        self.sender_clock = Some((info.rtp_timestamp, wall));
                    }
                }
                rtcp::Packet::Goodbye(bye) => {
                    let ours = self.media_ssrc;
                    if ours.is_none() || bye.sources().any(|s| Some(s) == ours) {
                        tracing::info!("RTCP BYE: the stream has ended");
                        self.bye_at.get_or_insert(now);
                    }
                }
                _ => {}
            }
        }
    }

    /// How long after a BYE the stream goes on: the grace for packets in flight, or, while
    /// packets are still being repaired, the repair window.
    fn bye_wait(&self) -> Duration {
        match &self.repair {
            Some((_, repair)) if repair.missing() > 0 => {
                self.config.bye_grace.max(self.reorder.hold())
            }
            _ => self.config.bye_grace,
        }
    }

    /// The stream is over (BYE, or silence): what is cached plays out.
    pub fn end_of_stream(&mut self, now: Instant) {
        if self.playout.has_ended() {
            return;
        }
        self.release_reordered(now + self.reorder.hold());
        self.depacketizer.flush();
        self.pull();
        self.course.flush();
        self.pull_course();
        self.playout.end_of_stream();
    }

    /// Whether a BYE arrived.
    pub fn bye_received(&self) -> bool {
        self.bye_at.is_some()
    }

    /// Runs what is due: reordered packets whose wait is over, the end after a BYE.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.release_reordered(now);
        if self.bye_at.is_some_and(|t| now >= t + self.bye_wait()) {
            self.end_of_stream(now);
        }
    }

    /// The next frame for the decoder; frames dropped as late are recycled.
    pub fn poll_release(&mut self, now: Instant) -> Option<Release> {
        let depacketizer = &mut self.depacketizer;
        self.playout.poll(now, |f| depacketizer.recycle(f.jpeg))
    }

    /// Gives a JPEG buffer back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.depacketizer.recycle(buf);
    }

    /// A receiver report (RR + SDES CNAME, RFC 3550 §6.4.2) when one is due.
    pub fn poll_report(&mut self, now: Instant) -> Option<Vec<u8>> {
        if now < self.next_report {
            return None;
        }
        self.next_report = now + self.config.report_interval;
        Some(self.report(now, false))
    }

    /// A NACK for the packets to ask for again now (RFC 4585 §6.2.1), in a compound after an
    /// RR and SDES CNAME as §3.1 wants; `None` when nothing is to be asked.
    pub fn poll_nack(&mut self, now: Instant) -> Option<Vec<u8>> {
        let (_, repair) = self.repair.as_mut()?;
        let lost = repair.poll(now);
        if lost.is_empty() {
            return None;
        }
        let entries = rtcp::nack_entries(lost);
        let mut packet = self.report(now, false);
        let mut buf = vec![0u8; 12 + 4 * entries.len()];
        let mut writer = Writer::new(&mut buf);
        let media = self.media_ssrc.unwrap_or(0);
        writer.nack(self.config.ssrc, media, &entries).ok()?;
        let len = writer.finish();
        packet.extend_from_slice(&buf[..len]);
        Some(packet)
    }

    /// The compound sent when leaving: RR, SDES CNAME and BYE (§6.6).
    pub fn goodbye(&mut self, now: Instant) -> Vec<u8> {
        self.report(now, true)
    }

    fn report(&mut self, now: Instant, bye: bool) -> Vec<u8> {
        let block = self.media_ssrc.and_then(|ssrc| {
            self.reception
                .report_block(ssrc, self.last_sr.as_ref(), now)
        });
        receiver_report(self.config.ssrc, &self.config.cname, block, bye)
    }

    /// Our SSRC and CNAME in reports (the audio track's reports say the same, RFC 3550 §6.5.1).
    pub fn reporter(&self) -> (u32, &str) {
        (self.config.ssrc, &self.config.cname)
    }

    /// The video's NPT at the sender's NTP time `wall`: the newest sender report's NTP ↔ RTP
    /// mapping (RFC 3550 §6.4.1) and the stream's NPT ↔ RTP mapping (RFC 2326 §12.33), once
    /// a frame fixed it. Puts another track of the same sender on the video's timeline.
    pub fn npt_at(&self, wall: SystemTime) -> Option<f64> {
        let (sr_rtp, sr_wall) = self.sender_clock?;
        let r = self.npt_ref.as_ref()?;
        let ext = r.ext?;
        let since_sr = match wall.duration_since(sr_wall) {
            Ok(after) => after.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        };
        let clock = f64::from(self.timeline.clock_rate());
        let ticks = f64::from(timestamp_delta(sr_rtp, ext as u32)) + since_sr * clock;
        Some(r.npt + ticks / clock)
    }

    /// When [`Pipeline::handle_timeout`] or [`Pipeline::poll_release`] have work without input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let bye = self
            .bye_at
            .filter(|_| !self.playout.has_ended())
            .map(|t| t + self.bye_wait());
        [
            self.reorder.poll_timeout(),
            self.repair.as_ref().and_then(|(_, r)| r.poll_timeout()),
            self.playout.poll_timeout(),
            Some(self.next_report),
            bye,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A pause request was sent at `sent`; `now` it is resumed: the last RTP packet after
    /// the request is recorded.
    pub fn note_pause(&mut self, sent: Instant) {
        let tail = self
            .last_packet
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(sent));
        self.stats.pause_tails.push(tail);
    }

    /// What was counted so far.
    pub fn stats(&self) -> NetStats {
        let mut s = self.stats.clone();
        s.packets_received = self.reception.tracker().received();
        s.packets_lost = self.reception.tracker().lost();
        s.packets_expected = self.reception.tracker().expected();
        s.packets_reordered = self.reception.tracker().reordered();
        s.packets_duplicate = self.reception.tracker().duplicates();
        s.packets_late = self.reorder.late();
        if let Some((_, repair)) = &self.repair {
            let r = repair.counters();
            (s.packets_repaired, s.packets_unrepaired, s.rtx_bytes) =
                (r.repaired, r.unrepaired, r.rtx_bytes);
        }
        let c = self.playout.counters();
        s.frames_late = self.playout.clock().late();
        s.frames_overflow = c.overflow;
        s.frames_unplayed = self.playout.cached_frames() as u64;
        s.rebuffer_count = c.rebuffers;
        s.rebuffer_time = c.rebuffer_time;
        s.timestamps_unusable = self.timeline.timestamps_unusable();
        s.timestamp_restarts = self.timeline.restarts();
        s.paced_fps = (self.dialect == Dialect::Course || self.timeline.timestamps_unusable())
            .then(|| 1.0 / self.timeline.interval().as_secs_f64().max(1e-6));
        s.receive_seconds = match (self.first_packet, self.last_packet) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        s
    }
}

/// A receiver report compound (RFC 3550 §6.4.2): RR from `ssrc` with `block`, SDES CNAME,
/// and BYE when leaving (§6.6); empty if it does not fit (it always does).
pub(crate) fn receiver_report(
    ssrc: u32,
    cname: &str,
    block: Option<ReportBlock>,
    bye: bool,
) -> Vec<u8> {
    let blocks: Vec<ReportBlock> = block.into_iter().collect();
    let mut buf = [0u8; 512];
    let mut writer = Writer::new(&mut buf);
    let cname = cname.as_bytes();
    let cname = cname.get(..cname.len().min(255)).unwrap_or_default();
    let ok = writer.receiver_report(ssrc, &blocks).is_ok()
        && writer.cname(ssrc, cname).is_ok()
        && (!bye || writer.goodbye(&[ssrc], None).is_ok());
    let len = if ok { writer.finish() } else { 0 };
    buf.get(..len).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdstream_common::rfc2435::Packetizer;
    use hdstream_common::rtcp::{Compound, Packet as RtcpPacket, SenderInfo};

    const SSRC: u32 = 0x1234_5678;
    const MS: Duration = Duration::from_millis(1);

    /// RTP packets of `frames` 64x48 JPEG frames (30 fps, 90 kHz), several packets each,
    /// sequence numbers from `seq0`, timestamps from `ts0`.
    fn stream(frames: u32, seq0: u16, ts0: u32) -> Vec<Vec<u8>> {
        let mut pattern = hdstream_video::pattern::Pattern::new(64, 48);
        let mut out = Vec::new();
        let mut seq = seq0;
        for n in 0..frames {
            let mut jpeg = Vec::new();
            pattern.encode(u64::from(n), 80, &mut jpeg).unwrap();
            let header = hdstream_video::jpeg::Header::parse(&jpeg).unwrap();
            let frame = hdstream_video::rfc2435::frame(&header).unwrap();
            for fragment in Packetizer::new(&frame, 200).unwrap() {
                let header = rtp::Header {
                    marker: fragment.marker,
                    payload_type: 26,
                    sequence_number: seq,
                    timestamp: ts0.wrapping_add(n * 3000),
                    ssrc: SSRC,
                };
                let mut buf = vec![0; 1500];
                let len = header
                    .write(&[fragment.header(), fragment.data], &mut buf)
                    .unwrap();
                buf.truncate(len);
                out.push(buf);
                seq = seq.wrapping_add(1);
            }
        }
        out
    }

    fn pipeline(now: Instant) -> Pipeline {
        let mut p = Pipeline::new(
            Config {
                playout: playout::Config {
                    prebuffer: 100 * MS,
                    lead: 10 * MS,
                    ..playout::Config::default()
                },
                ..Config::default()
            },
            Dialect::Standard,
            now,
        );
        p.describe(Some(26), 90_000, Some(30.0), None);
        p
    }

    /// Every release from `from` over `ms` milliseconds.
    fn releases(p: &mut Pipeline, from: Instant, ms: u32) -> Vec<Release> {
        let mut out = Vec::new();
        for i in 0..=ms {
            let now = from + MS * i;
            p.handle_timeout(now);
            while let Some(r) = p.poll_release(now) {
                out.push(r);
            }
        }
        out
    }

    #[test]
    fn packets_before_the_play_reply_wait_and_older_ones_are_dropped() {
        let t0 = Instant::now();
        let mut p = pipeline(t0);
        let packets = stream(6, 65_530, 4_294_960_000);
        let per_frame = packets.len() / 6;
        p.hold(t0);
        // The tail of a frame sent before the PLAY, then the new stream: all before the reply.
        for pkt in &packets {
            p.rtp(pkt, t0);
        }
        let seq = 65_530u16.wrapping_add(per_frame as u16);
        p.start(
            StreamStart {
                npt: Some(5.0),
                seq: Some(seq),
                rtptime: Some(4_294_960_000u32.wrapping_add(3000)),
            },
            t0,
        );
        let out = releases(&mut p, t0, 300);
        let npts: Vec<f64> = out
            .iter()
            .map(|r| (r.stamp.npt * 30.0).round() / 30.0)
            .collect();
        let expected: Vec<f64> = (0..5)
            .map(|n| ((5.0 + f64::from(n) / 30.0) * 30.0).round() / 30.0)
            .collect();
        assert_eq!(
            npts, expected,
            "frames 1..6 from npt 5, across the timestamp wrap"
        );
        let s = p.stats();
        assert_eq!(
            (s.frames_received, s.frames_lost),
            (5, 0),
            "frame 0 came before the PLAY"
        );
        assert_eq!(s.packets_lost, 0);
        for r in &out {
            let jpeg = &r.jpeg;
            assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
            assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
        }
    }

    #[test]
    fn reordered_packets_are_put_back_in_order() {
        let t0 = Instant::now();
        let mut p = pipeline(t0);
        let mut packets = stream(4, 100, 0);
        assert!(packets.len() > 8);
        packets.swap(2, 3);
        packets.swap(5, 7);
        p.hold(t0);
        p.start(StreamStart::default(), t0);
        for pkt in &packets {
            p.rtp(pkt, t0);
        }
        p.end_of_stream(t0);
        let out = releases(&mut p, t0, 300);
        assert_eq!(out.len(), 4);
        let s = p.stats();
        assert_eq!(
            (s.frames_received, s.frames_lost, s.packets_reordered),
            (4, 0, 3)
        );
    }

    #[test]
    fn a_lost_packet_loses_its_frame_only() {
        let t0 = Instant::now();
        let mut p = pipeline(t0);
        let mut packets = stream(4, 100, 0);
        let per_frame = packets.len() / 4;
        packets.remove(per_frame + 1);
        p.hold(t0);
        p.start(StreamStart::default(), t0);
        for pkt in &packets {
            p.rtp(pkt, t0);
        }
        p.end_of_stream(t0 + 100 * MS);
        let out = releases(&mut p, t0 + 100 * MS, 300);
        let frames: Vec<i64> = out.iter().map(|r| r.stamp.timestamp / 3000).collect();
        assert_eq!(frames, [0, 2, 3]);
        let s = p.stats();
        assert_eq!(
            (s.frames_received, s.frames_lost, s.packets_lost),
            (3, 1, 1)
        );
    }

    #[test]
    fn a_frame_of_which_nothing_arrived_is_counted_lost() {
        let t0 = Instant::now();
        let mut p = pipeline(t0);
        let packets = stream(4, 100, 0);
        let per_frame = packets.len() / 4;
        p.hold(t0);
        p.start(StreamStart::default(), t0);
        for (i, pkt) in packets.iter().enumerate() {
            if i / per_frame != 2 {
                p.rtp(pkt, t0);
            }
        }
        p.end_of_stream(t0 + 100 * MS);
        assert_eq!(p.stats().frames_lost, 1);
    }

    #[test]
    fn receiver_reports_carry_loss_jitter_and_the_last_sr() {
        let t0 = Instant::now();
        let mut p = pipeline(t0);
        let mut packets = stream(10, 1000, 0);
        let total = packets.len();
        packets.remove(5);
        packets.remove(5);
        p.hold(t0);
        p.start(StreamStart::default(), t0);
        // Packets arrive with irregular spacing, so jitter is not zero.
        for (i, pkt) in packets.iter().enumerate() {
            p.rtp(pkt, t0 + MS * (i as u32 * 7 % 23));
        }
        // A sender report arrives.
        let mut sr = [0u8; 64];
        let mut w = Writer::new(&mut sr);
        let ntp = rtcp::NtpTimestamp(0x0001_2345_6789_0000);
        w.sender_report(
            &SenderInfo {
                ssrc: SSRC,
                ntp_timestamp: ntp,
                ..SenderInfo::default()
            },
            &[],
        )
        .unwrap();
        let len = w.finish();
        let t_sr = t0 + 100 * MS;
        p.rtcp(&sr[..len], t_sr);
        assert!(
            p.poll_report(t0 + 4 * Duration::from_secs(1)).is_none(),
            "not due before 5 s"
        );
        let now = t0 + Duration::from_secs(5);
        let rr = p.poll_report(now).expect("due every 5 s");
        let compound = Compound::parse(&rr).unwrap();
        let mut packets_seen = compound.iter();
        let Some(RtcpPacket::ReceiverReport(report)) = packets_seen.next() else {
            panic!("RR first")
        };
        assert_eq!(report.ssrc(), Config::default().ssrc);
        let block = report.report_blocks().next().unwrap();
        assert_eq!(block.ssrc, SSRC);
        assert_eq!(block.cumulative_lost, 2);
        assert_eq!(block.fraction_lost, (2 * 256 / total) as u8);
        assert_eq!(block.extended_highest_sequence, 1000 + total as u32 - 1);
        assert!(block.jitter > 0);
        assert_eq!(block.last_sr, ntp.middle());
        assert_eq!(block.delay_since_last_sr, rtcp::to_compact(now - t_sr));
        assert!(matches!(
            packets_seen.next(),
            Some(RtcpPacket::SourceDescription(_))
        ));
        // The next report covers a new interval: nothing more was lost.
        let rr = p.poll_report(now + Duration::from_secs(5)).unwrap();
        let Some(RtcpPacket::ReceiverReport(report)) = Compound::parse(&rr).unwrap().iter().next()
        else {
            panic!()
        };
        assert_eq!(report.report_blocks().next().unwrap().fraction_lost, 0);
        // Leaving: RR, SDES, BYE.
        let bye = p.goodbye(now);
        let kinds: Vec<u8> = Compound::parse(&bye)
            .unwrap()
            .iter()
            .map(|p| p.packet_type())
            .collect();
        assert_eq!(
            kinds,
            [
                rtcp::RECEIVER_REPORT,
                rtcp::SOURCE_DESCRIPTION,
                rtcp::GOODBYE
            ]
        );
    }

    #[test]
    fn a_bye_ends_the_stream_after_the_cache_plays_out() {
        let t0 = Instant::now();
        let mut p = pipeline(t0);
        p.hold(t0);
        p.start(StreamStart::default(), t0);
        for pkt in stream(2, 0, 0) {
            p.rtp(&pkt, t0);
        }
        let mut bye = [0u8; 64];
        let mut w = Writer::new(&mut bye);
        w.goodbye(&[SSRC], None).unwrap();
        let len = w.finish();
        p.rtcp(&bye[..len], t0);
        assert!(p.bye_received());
        let out = releases(&mut p, t0, 400);
        assert_eq!(out.len(), 2);
        assert!(p.playout().is_finished());
    }

    #[test]
    fn course_frames_are_placed_by_frame_number() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(
            Config {
                playout: playout::Config {
                    prebuffer: Duration::ZERO,
                    lead: Duration::ZERO,
                    ..playout::Config::default()
                },
                ..Config::default()
            },
            Dialect::Course,
            t0,
        );
        p.describe(Some(26), 90_000, Some(20.0), None);
        p.hold(t0);
        p.start(StreamStart::default(), t0);
        for n in [1u16, 2, 4] {
            let header = rtp::Header {
                marker: false,
                payload_type: 26,
                sequence_number: n,
                timestamp: 1_700_000_000,
                ssrc: 0,
            };
            let mut buf = vec![0; 64];
            let len = header.write(&[b"\xFF\xD8jpeg\xFF\xD9"], &mut buf).unwrap();
            p.rtp(&buf[..len], t0);
        }
        p.end_of_stream(t0);
        let out = releases(&mut p, t0, 300);
        let npts: Vec<f64> = out.iter().map(|r| r.stamp.npt).collect();
        assert_eq!(npts, [0.0, 0.05, 0.15]);
        assert_eq!(&out[0].jpeg[..], b"\xFF\xD8jpeg\xFF\xD9");
        assert_eq!(p.stats().frames_lost, 1);
    }
}
