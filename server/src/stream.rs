//! One session's media stream: file frames → RTP packets, their timestamps, and when each may
//! leave.
//!
//! - Payload: RFC 2435 fragments (RFC 2435 §3, Q = 255 with the frame's own tables), or for the
//!   course's clients the raw JPEG, whole or in pieces ([`course`]).
//! - Timestamps: 90 kHz (RFC 2435 §3), from a frame-slot counter that only ever grows, so they
//!   stay monotonic across PAUSE, seeks and loops; `RTP-Info` (RFC 2326 §12.33) tells the client
//!   which timestamp the first frame after a PLAY carries.
//! - Pacing: frame slot *s* is due at `anchor + (s - anchor_slot) × interval / speed`; within a
//!   frame, a token bucket refilled at the rate that drains the frame in [`SPREAD`] of its
//!   interval spaces the packets, never more than [`BURST_PACKETS`] back to back (or
//!   [`TIMER_SLACK`] of the rate, if that is more: the event loop sleeps in whole milliseconds).
//! - A course client's pieces ([`Dialect::Course`]) leave one by one, evenly spaced over
//!   [`COURSE_SPREAD`] of the interval (piece *k* of *n* at `due + k × spread / n`), not
//!   through the bucket: the course's clients read in Python with the default receive buffer
//!   (about 92 datagrams on Linux), so every piece that arrives sooner than it must is a
//!   piece that may find the buffer full while the client draws a picture. A call that comes
//!   late (the loop was busy) sends one piece and spreads the rest over what is left of the
//!   interval, rather than all that fell due in one burst.
//! - A stream that falls behind catches up by sending faster; one more than [`MAX_LAG`] behind
//!   (CPU, a receiver that does not read) skips whole frames to the one now due and counts
//!   them; it never sends half a frame.
//!
//! Frames come from a [`Source`] and are cut into packets as they leave ([`Cutter`]), straight
//! into the caller's buffer; what left is remembered for a short time ([`History`]) so a packet
//! can be cut again on request.
//!
//! A live source (a publisher's path) changes three things: a frame is due when it arrives
//! (PLAY joins at the next one, RFC 2326 §10.5 `npt=now-`), its timestamp is the path's media
//! time (the publisher's own timing, offset by this stream's random origin), and its packets
//! leave within [`LIVE_SPREAD`] of an interval, so as little as possible is added to the
//! latency; a stream more than [`MAX_LAG`] behind the newest frame jumps to it.
//!
//! Sans-IO: [`Stream::send`] takes `now` and the buffer to append packets to, and answers when
//! to call again.

use std::time::{Duration, Instant};

use hdstream_common::course::Dialect;
use hdstream_common::pacing::TokenBucket;
use hdstream_common::rfc2435::Position;
use hdstream_common::rtp;

pub use crate::history::History;
use crate::history::Record;
use crate::payload::Cutter;
pub use crate::rtx::Retransmission;
use crate::sender::{Counters, MAX_LAG, Next};
use crate::source::Source;

/// RTP payload type of JPEG (RFC 3551 §6).
pub const PAYLOAD_TYPE: u8 = 26;
/// RTP clock rate of JPEG video (RFC 2435 §3).
pub const CLOCK_RATE: f64 = 90_000.0;
/// Share of a frame interval its packets are spread over.
pub const SPREAD: f64 = 0.8;
/// Share of a frame interval a course client's pieces are spread over, evenly: most of it, as
/// the course's own server (one piece a millisecond) spreads them — but at our frame rates a
/// millisecond each would not fit 1080p's ~70 pieces in 33 ms, so the spacing is the interval's
/// share divided among the frame's pieces. The tenth left over absorbs the driver's
/// whole-millisecond timer, so a frame that began a little late still ends before the next is
/// due instead of pushing every frame after it into catch-up.
pub const COURSE_SPREAD: f64 = 0.9;
/// Share of a frame interval a live frame's packets are spread over: enough to keep a frame
/// from leaving as one burst, little enough to add a few milliseconds of latency.
pub const LIVE_SPREAD: f64 = 0.25;
/// Packets that may leave back to back (the token bucket's burst).
pub const BURST_PACKETS: u64 = 8;
/// The bucket holds at least this long of the rate. The driver's timer rounds waits up to whole
/// milliseconds (mio, epoll), so a burst smaller than that capped a stream at about
/// `BURST_PACKETS` packets per millisecond (~10 MB/s): 1440p60 at `Speed: 2` skipped every
/// third frame.
pub const TIMER_SLACK: Duration = Duration::from_millis(2);
/// Retransmission's budget, as a share of the stream's own byte rate: with the budget's burst
/// (100 ms of that), a flood of NACKs keeps a session under twice what it sends anyway, even
/// over a stream of half a second.
pub const RTX_SHARE: f64 = 0.8;
/// IPv4 + UDP header bytes, subtracted from the MTU.
const IP_UDP_HEADERS: usize = 28;

/// The playing schedule set by PLAY.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    anchor: Instant,
    anchor_slot: u64,
    speed: f64,
}

/// The frame being sent: which, its timestamp, and where its next packet starts.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    frame: usize,
    timestamp: u32,
    at: Position,
    /// Course pieces: when each is due.
    spacing: Option<Spacing>,
    /// Packets of the frame sent so far.
    sent: u32,
}

/// When a course client's pieces leave: piece `k` at `from + (k - base) × gap`, the last
/// before `end`, when the next frame is due.
#[derive(Debug, Clone, Copy)]
struct Spacing {
    from: Instant,
    base: u32,
    gap: Duration,
    end: Instant,
}

impl Spacing {
    /// When piece `k` is due.
    fn due(&self, k: u32) -> Instant {
        self.from + self.gap * k.saturating_sub(self.base)
    }

    /// Piece `k` leaves at `now`, with `left` pieces after it. When it left later than the
    /// timer's own slack (the loop was busy elsewhere), the rest are spread again over what
    /// remains before `end` instead of all going at once: a late call sends one piece, not a
    /// burst of every piece that fell due meanwhile.
    fn sent(&mut self, k: u32, left: usize, now: Instant) {
        if left == 0 || now <= self.due(k) + TIMER_SLACK {
            return;
        }
        let remaining = self.end.saturating_duration_since(now);
        *self = Spacing {
            from: now,
            base: k,
            gap: self.gap.min(remaining / (left as u32 + 1)),
            end: self.end,
        };
    }
}

/// One session's outgoing RTP stream.
#[derive(Debug)]
pub struct Stream {
    /// RTP SSRC (random, RFC 3550 §8).
    pub ssrc: u32,
    dialect: Dialect,
    looping: bool,
    /// Live: the media time the next frame is expected at (for `RTP-Info` before it arrives).
    expected_media_time: u64,
    max_payload: usize,
    next_seq: u16,
    ts_origin: u32,
    /// Frame slots since the stream began: the timestamp clock.
    slot: u64,
    /// The next file frame to send.
    position: usize,
    schedule: Option<Schedule>,
    in_flight: Option<InFlight>,
    bucket: TokenBucket,
    history: History,
    rtx: Option<Retransmission>,
    /// Timestamp and due time of the newest frame, for sender reports.
    last_sent: Option<(u32, Instant)>,
    /// Timestamp and capture time of the newest live frame whose capture time is known: the
    /// sender report's NTP ↔ RTP pair, passed on from the publisher.
    captured: Option<(u32, std::time::SystemTime)>,
    /// What has been sent.
    pub counters: Counters,
}

impl Stream {
    /// A stream with random `ssrc`, initial sequence number and timestamp origin (RFC 3550
    /// §5.1), cut for `mtu`. Its frames, their rate and whether they are live are its
    /// [`Source`]'s, which every call that needs them is given (the one owner of those facts).
    pub fn new(
        dialect: Dialect,
        mtu: usize,
        looping: bool,
        random: [u32; 3],
        now: Instant,
    ) -> Stream {
        let max_payload = mtu
            .saturating_sub(IP_UDP_HEADERS + rtp::Header::LEN)
            .max(64);
        let [ssrc, seq, ts] = random;
        let mut stream = Stream {
            ssrc,
            dialect,
            looping,
            expected_media_time: 0,
            max_payload,
            next_seq: seq as u16,
            ts_origin: ts,
            slot: 0,
            position: 0,
            schedule: None,
            in_flight: None,
            bucket: TokenBucket::new(1, 1, now),
            history: History::new(crate::history::DEFAULT_KEEP),
            rtx: None,
            last_sent: None,
            captured: None,
            counters: Counters::default(),
        };
        if dialect == Dialect::Course {
            // The basic course client orders frames by sequence number, starting at 1.
            stream.next_seq = 1;
        }
        stream.bucket = TokenBucket::new(1_000_000, stream.burst_bytes(), now);
        stream
    }

    fn burst_bytes(&self) -> u64 {
        BURST_PACKETS * (self.max_payload + rtp::Header::LEN) as u64
    }

    /// Seconds per frame of `source`.
    fn interval(source: &dyn Source) -> Duration {
        Duration::from_secs_f64(1.0 / source.fps())
    }

    /// The file frame the next PLAY starts from.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Where the stream is, in seconds of media (the NPT of the next frame).
    pub fn npt(&self, source: &dyn Source) -> f64 {
        self.position as f64 / source.fps()
    }

    /// Whether PLAY is in force.
    pub fn is_playing(&self) -> bool {
        self.schedule.is_some()
    }

    /// The sequence number the next packet carries.
    pub fn next_sequence_number(&self) -> u16 {
        self.next_seq
    }

    /// The RTP timestamp of frame slot `slot`: 90 kHz media time, or for the course's clients
    /// the frame number (from 1; their HD client orders frames by it).
    fn timestamp(&self, source: &dyn Source, slot: u64) -> u32 {
        if self.dialect == Dialect::Course {
            return (slot as u32).wrapping_add(1);
        }
        if source.is_live() {
            return self.ts_origin.wrapping_add(self.expected_media_time as u32);
        }
        let ticks = (slot as f64 * CLOCK_RATE / source.fps()).round() as u64;
        self.ts_origin.wrapping_add(ticks as u32)
    }

    /// The RTP timestamp the next frame will carry.
    pub fn next_timestamp(&self, source: &dyn Source) -> u32 {
        self.timestamp(source, self.slot)
    }

    /// The wall clock and RTP timestamp a sender report maps (RFC 3550 §6.4.1), given the
    /// server's wall clock `wall_now` at `now`: a live frame's capture time and the timestamp it
    /// left with (the newest such frame), passed on from the publisher's reports; else
    /// `wall_now` and the timestamp due `now`. `None` for a live stream before its first frame
    /// has left, when only a guess at the next timestamp is known: its first report waits.
    pub fn report_clock(
        &self,
        source: &dyn Source,
        now: Instant,
        wall_now: std::time::SystemTime,
    ) -> Option<(std::time::SystemTime, u32)> {
        if let Some((timestamp, captured)) = self.captured {
            return Some((captured, timestamp));
        }
        match self.rtp_time_at(now) {
            Some(timestamp) => Some((wall_now, timestamp)),
            None if source.is_live() => None,
            None => Some((wall_now, self.next_timestamp(source))),
        }
    }

    /// The RTP timestamp that corresponds to `now` on the media clock (RFC 3550 §6.4.1: the
    /// sender report's RTP timestamp), extrapolated from the newest frame; `None` before any.
    pub fn rtp_time_at(&self, now: Instant) -> Option<u32> {
        let (ts, due) = self.last_sent?;
        let speed = self.schedule.map_or(1.0, |s| s.speed);
        let ticks = now.saturating_duration_since(due).as_secs_f64() * CLOCK_RATE * speed;
        Some(ts.wrapping_add(ticks as u32))
    }

    /// Moves to the first frame at or after `npt` seconds (RFC 2326 §12.29); past the end → the
    /// end. A frame whose first packets already left still leaves whole first.
    pub fn seek(&mut self, source: &dyn Source, npt: f64) {
        let frame = (npt.max(0.0) * source.fps() - 1e-6).ceil();
        self.position = if frame.is_finite() {
            (frame as usize).min(source.frame_count())
        } else {
            0
        };
    }

    /// Starts (or resumes) sending at `speed` times real time from the current position.
    pub fn play(&mut self, source: &dyn Source, speed: f64, now: Instant) {
        if self.position >= source.frame_count() && self.looping {
            self.position = 0;
        }
        self.schedule = Some(Schedule {
            anchor: now,
            anchor_slot: self.slot,
            speed,
        });
    }

    /// Live: starts from the next frame `source` gets (RFC 2326 §10.5 `npt=now-`); call after
    /// [`Stream::play`].
    pub fn join(&mut self, source: &dyn Source) {
        let end = source.frame_count();
        self.position = end;
        let fps = source.fps();
        self.expected_media_time = end
            .checked_sub(1)
            .and_then(|newest| source.moment(newest))
            .map_or(0, |m| m.media_time + (CLOCK_RATE / fps).round() as u64);
    }

    /// Stops sending once the frame in flight has left whole (RFC 2326 §10.6).
    pub fn pause(&mut self, now: Instant) {
        self.schedule = None;
        if let Some(rtx) = &mut self.rtx {
            rtx.stop_refill(now);
        }
    }

    /// What the stream sent lately (for retransmission).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Keeps what is sent retrievable for `keep` (zero: not at all).
    pub fn keep_history(&mut self, keep: Duration) {
        self.history = History::new(keep);
    }

    /// Answers NACKs with RTX packets of `payload_type` (RFC 4588), SSRC and first sequence
    /// number from `random`, for packets sent within `keep` (the offer's `rtx-time`).
    pub fn enable_rtx(&mut self, payload_type: u8, random: [u32; 2], keep: Duration) {
        self.keep_history(keep);
        self.rtx = Some(Retransmission::new(payload_type, random));
    }

    /// Retransmission, when enabled.
    pub fn rtx(&self) -> Option<&Retransmission> {
        self.rtx.as_ref()
    }

    /// A receiver lost these packets (RFC 4585 generic NACK): they go out again as RTX packets
    /// ahead of new ones, within the budget. Ignored without retransmission.
    pub fn nack(&mut self, lost: impl IntoIterator<Item = u16>) {
        if let Some(rtx) = &mut self.rtx {
            rtx.ask(lost);
        }
    }

    /// Appends every packet due at `now` to `out`, each once `accept` (given its length, and
    /// `out` to write a framing prefix to) takes it, and says when to call again. A refused
    /// packet stays due ([`Next::Held`]).
    pub fn send(
        &mut self,
        source: &dyn Source,
        now: Instant,
        out: &mut Vec<u8>,
        accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool,
    ) -> Next {
        loop {
            if let Some(next) = self.send_rtx(source, now, out, accept) {
                return next;
            }
            if let Some(flight) = self.in_flight {
                let (dialect, max) = (self.dialect, self.max_payload);
                let cutter = Cutter::at(source, dialect, flight.frame, max, flight.at);
                let Some(mut cutter) = cutter else {
                    // The source lost the frame (it changed underneath): leave the rest out.
                    self.in_flight = None;
                    continue;
                };
                let held = self.send_frame(&mut cutter, flight, now, out, accept);
                if let Some(next) = held {
                    return next;
                }
                self.in_flight = None;
                self.counters.frames += 1;
                continue;
            }
            let Some(schedule) = self.schedule else {
                return Next::Idle;
            };
            if source.is_live() {
                let Some(frame) = self.next_live_frame(source, now) else {
                    // Waiting for the publisher.
                    return Next::Idle;
                };
                let Some(moment) = source.moment(frame) else {
                    continue;
                };
                self.expected_media_time = moment.media_time;
                let timestamp = self.timestamp(source, self.slot);
                self.slot += 1;
                if let Some(capture) = moment.capture {
                    self.captured = Some((timestamp, capture));
                }
                self.last_sent = Some((timestamp, moment.arrived));
                let interval = Stream::interval(source);
                self.begin_frame(source, frame, timestamp, interval, LIVE_SPREAD, now);
                continue;
            }
            let slot_interval = Stream::interval(source).div_f64(schedule.speed);
            let due =
                schedule.anchor + slot_interval.mul_f64((self.slot - schedule.anchor_slot) as f64);
            if due > now {
                return Next::At(due);
            }
            // A short lag (a scheduling hiccup) is caught up by sending faster; beyond
            // MAX_LAG (a receiver that does not read, a CPU that cannot keep up) whole frames
            // are skipped to the one now due.
            let mut behind = (now - due).as_secs_f64() / slot_interval.as_secs_f64();
            if now - due >= MAX_LAG.max(slot_interval) {
                let skip = behind.floor() as u64;
                self.slot += skip;
                self.position += skip as usize;
                self.counters.skipped += skip;
                behind -= skip as f64;
            }
            let frames = source.frame_count();
            if self.position >= frames {
                if !self.looping || frames == 0 {
                    self.schedule = None;
                    if let Some(rtx) = &mut self.rtx {
                        rtx.stop_refill(now);
                    }
                    return Next::Ended;
                }
                self.position %= frames;
            }
            let timestamp = self.timestamp(source, self.slot);
            let frame = self.position;
            self.position += 1;
            self.slot += 1;
            self.last_sent = Some((timestamp, due));
            // Late frames leave faster, so the stream gets back on schedule.
            let spread = match self.dialect {
                Dialect::Course => COURSE_SPREAD,
                Dialect::Standard => SPREAD,
            };
            let share = spread / (1.0 + behind);
            self.begin_frame(source, frame, timestamp, slot_interval, share, now);
        }
    }

    /// Live: the frame to send next, if it has arrived; a stream that fell behind (more than
    /// [`MAX_LAG`] since its next frame arrived, or past what the source still holds) jumps to
    /// the newest and counts what it skipped.
    fn next_live_frame(&mut self, source: &dyn Source, now: Instant) -> Option<usize> {
        let (first, end) = (source.first_frame(), source.frame_count());
        if self.position < first {
            self.counters.skipped += (first - self.position) as u64;
            self.position = first;
        }
        if self.position >= end {
            return None;
        }
        let newest = end - 1;
        let late = source
            .moment(self.position)
            .is_some_and(|m| now.saturating_duration_since(m.arrived) >= MAX_LAG);
        if late && self.position < newest {
            self.counters.skipped += (newest - self.position) as u64;
            self.position = newest;
        }
        self.position += 1;
        Some(self.position - 1)
    }

    /// Puts frame `frame` in flight with `timestamp`, its packets spread over `share` of
    /// `slot_interval`; an unsendable frame is counted instead.
    fn begin_frame(
        &mut self,
        source: &dyn Source,
        frame: usize,
        timestamp: u32,
        slot_interval: Duration,
        share: f64,
        now: Instant,
    ) {
        let Some(cutter) = Cutter::new(source, self.dialect, frame, self.max_payload) else {
            self.counters.unsendable += 1;
            return;
        };
        let frame_bytes = cutter.frame_len() as f64;
        let slot = slot_interval.as_secs_f64().max(1e-4);
        let rate = frame_bytes / (slot * share);
        self.bucket.set_rate(rate.ceil() as u64, now);
        let slack = (rate * TIMER_SLACK.as_secs_f64()).ceil() as u64;
        self.bucket.set_burst(self.burst_bytes().max(slack), now);
        if let Some(rtx) = &mut self.rtx {
            // Retransmission may add less than the stream's own rate.
            let own = frame_bytes / slot;
            rtx.set_rate((own * RTX_SHARE).ceil() as u64, self.max_payload, now);
        }
        // A course client's pieces are spaced evenly from now (piece k at now + k × gap).
        let spacing = (self.dialect == Dialect::Course).then(|| {
            let pieces = cutter.packet_count().max(1) as f64;
            Spacing {
                from: now,
                base: 0,
                gap: Duration::from_secs_f64(slot * share / pieces),
                end: now + Duration::from_secs_f64(slot),
            }
        });
        self.in_flight = Some(InFlight {
            frame,
            timestamp,
            at: Position::default(),
            spacing,
            sent: 0,
        });
    }

    /// Sends the RTX packets asked for that the budget and the pacing allow now; `None` when
    /// none is left to send now, else what to do next.
    fn send_rtx(
        &mut self,
        source: &dyn Source,
        now: Instant,
        out: &mut Vec<u8>,
        accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool,
    ) -> Option<Next> {
        self.rtx.as_ref()?.peek()?;
        self.history.expire(now);
        loop {
            let seq = self.rtx.as_ref()?.peek()?;
            let again = self.cut_again(source, seq);
            let rtx = self.rtx.as_mut()?;
            let Some((record, mut cutter, len)) = again else {
                rtx.unknown();
                continue;
            };
            let len = len + rtp::rtx::OSN_LEN;
            if !rtx.affordable(len, now) {
                continue;
            }
            let ready = self.bucket.ready_at(len, now);
            if ready > now {
                return Some(Next::At(ready));
            }
            if !accept(len, out) {
                return Some(Next::Held);
            }
            let header = rtp::Header {
                marker: false,
                payload_type: rtx.payload_type,
                sequence_number: rtx.sent(len, now),
                timestamp: record.timestamp,
                ssrc: rtx.ssrc,
            };
            cutter.append_next_after(header, &seq.to_be_bytes(), out);
            self.bucket.take(len, now);
        }
    }

    /// Sends the frame in flight's packets that are due; `None` once its last has left, else
    /// what to do next (its place in the frame kept).
    fn send_frame(
        &mut self,
        cutter: &mut Cutter<'_>,
        flight: InFlight,
        now: Instant,
        out: &mut Vec<u8>,
        accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool,
    ) -> Option<Next> {
        let (mut sent, mut spacing) = (flight.sent, flight.spacing);
        let held = |stream: &mut Stream, cutter: &Cutter<'_>, sent, spacing, next| {
            stream.in_flight = Some(InFlight {
                at: cutter.position(),
                sent,
                spacing,
                ..flight
            });
            Some(next)
        };
        let count = cutter.packet_count();
        while let Some(len) = cutter.next_len() {
            let ready = match &spacing {
                Some(spacing) => spacing.due(sent),
                None => self.bucket.ready_at(len, now),
            };
            if ready > now {
                return held(self, cutter, sent, spacing, Next::At(ready));
            }
            if !accept(len, out) {
                return held(self, cutter, sent, spacing, Next::Held);
            }
            let record = Record {
                sequence_number: self.next_seq,
                timestamp: flight.timestamp,
                frame: flight.frame,
                at: cutter.position(),
                sent: now,
            };
            let header = rtp::Header {
                marker: false,
                payload_type: PAYLOAD_TYPE,
                sequence_number: self.next_seq,
                timestamp: flight.timestamp,
                ssrc: self.ssrc,
            };
            if cutter.append_next(header, out).is_none() {
                break;
            }
            self.history.push(record);
            self.next_seq = self.next_seq.wrapping_add(1);
            self.bucket.take(len, now);
            if let Some(spacing) = &mut spacing {
                spacing.sent(sent, count.saturating_sub(sent as usize + 1), now);
            }
            sent += 1;
            self.counters.packets += 1;
            self.counters.octets += (len - rtp::Header::LEN) as u64;
        }
        None
    }

    /// Appends packet `sequence_number` again, as it first left, if it is still in the
    /// history and its frame in the source; answers its length.
    pub fn resend(
        &self,
        source: &dyn Source,
        sequence_number: u16,
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let (record, mut cutter, _) = self.cut_again(source, sequence_number)?;
        let header = rtp::Header {
            marker: false,
            payload_type: PAYLOAD_TYPE,
            sequence_number,
            timestamp: record.timestamp,
            ssrc: self.ssrc,
        };
        cutter.append_next(header, out)
    }

    /// Packet `sequence_number` as it first left, if it is still in the history and its frame
    /// in the source: where it came from, the cutter at it, and its size.
    fn cut_again<'a>(
        &self,
        source: &'a dyn Source,
        sequence_number: u16,
    ) -> Option<(Record, Cutter<'a>, usize)> {
        let record = *self.history.get(sequence_number)?;
        let cutter = Cutter::at(
            source,
            self.dialect,
            record.frame,
            self.max_payload,
            record.at,
        )?;
        let len = cutter.next_len()?;
        Some((record, cutter, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Media;
    use hdstream_common::course;

    /// The kit's 30 fps, 30-frame 320x240 file.
    fn media() -> Media {
        crate::testing::clip()
    }

    /// The packets due at `now`, each as it left.
    fn due(stream: &mut Stream, source: &dyn Source, now: Instant) -> Vec<Vec<u8>> {
        crate::testing::accepted(|out, accept| {
            stream.send(source, now, out, accept);
        })
    }

    /// Polls from `from` to `until` in 1 ms steps (as the driver would), collecting
    /// (time, timestamp, marker) of every packet.
    fn run(
        stream: &mut Stream,
        media: &Media,
        from: Instant,
        until: Instant,
    ) -> Vec<(Instant, u32, bool)> {
        let mut sent = Vec::new();
        let mut now = from;
        while now < until {
            for p in due(stream, media, now) {
                let p = rtp::Packet::parse(&p).unwrap();
                sent.push((now, p.timestamp(), p.marker()));
            }
            now += Duration::from_millis(1);
        }
        sent
    }

    #[test]
    fn frames_leave_on_schedule_with_monotonic_timestamps() {
        let media = media();
        let t0 = Instant::now();
        let mut s = Stream::new(Dialect::Standard, 1400, false, [1, 2, 3], t0);
        s.play(&media, 1.0, t0);
        let sent = run(&mut s, &media, t0, t0 + Duration::from_millis(500));
        let frames: Vec<_> = sent.iter().filter(|p| p.2).collect();
        assert_eq!(frames.len(), 15, "500 ms at 30 fps");
        for w in frames.windows(2) {
            assert_eq!(w[1].1.wrapping_sub(w[0].1), 3000, "90 kHz / 30 fps");
        }
        assert_eq!(s.counters.skipped, 0);
    }

    /// 30 fps of 100 KB "JPEGs" (the course cuts bytes, it does not read them): 1080p-sized
    /// frames of 72 pieces each.
    struct Large(Vec<u8>);

    impl Source for Large {
        fn frame_count(&self) -> usize {
            30
        }
        fn fps(&self) -> f64 {
            30.0
        }
        fn rfc2435_frame(&self, _: usize) -> Option<hdstream_common::rfc2435::Frame<'_>> {
            None
        }
        fn jpeg(&self, _: usize) -> Option<&[u8]> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_course_clients_pieces_are_spread_evenly_over_most_of_the_interval() {
        let large = Large(vec![0x55; 100_000]);
        let t0 = Instant::now();
        let mut s = Stream::new(Dialect::Course, 1400, false, [1, 2, 3], t0);
        s.play(&large, 1.0, t0);
        // Polled every 100 µs: (when, timestamp) of every piece of the first 10 frames.
        let mut sent = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_millis(333) {
            for packet in due(&mut s, &large, now) {
                sent.push((now, rtp::Packet::parse(&packet).unwrap().timestamp()));
            }
            now += Duration::from_micros(100);
        }
        let pieces = 100_000usize.div_ceil(course::PIECE);
        assert_eq!(sent.len(), 10 * pieces, "ten whole frames");
        assert_eq!(s.counters.skipped, 0);
        for frame in sent.chunks(pieces) {
            let span = frame[pieces - 1].0 - frame[0].0;
            // 0.9 × 33.3 ms, less one gap: the last piece leaves a gap before the span ends.
            assert!(
                span >= Duration::from_millis(29) && span < Duration::from_millis(31),
                "a frame's pieces span {span:?}"
            );
            // Evenly: never two pieces closer than 0.3 ms (the gap is 0.42 ms), never a
            // bunch of them in one poll.
            for w in frame.windows(2) {
                assert!(w[1].0 - w[0].0 >= Duration::from_micros(300), "{w:?}");
            }
        }
    }

    #[test]
    fn a_late_call_sends_one_course_piece_and_spreads_the_rest_over_the_interval() {
        let large = Large(vec![0x55; 100_000]);
        let t0 = Instant::now();
        let mut s = Stream::new(Dialect::Course, 1400, false, [1, 2, 3], t0);
        s.play(&large, 1.0, t0);
        let mut per_call = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_micros(33_300) {
            // No call for 10 ms (the loop busy elsewhere).
            if now < t0 + Duration::from_millis(5) || now >= t0 + Duration::from_millis(15) {
                let mut out = Vec::new();
                let mut n = 0;
                s.send(&large, now, &mut out, &mut |_, _| {
                    n += 1;
                    true
                });
                per_call.push((now, n));
            }
            now += Duration::from_micros(100);
        }
        let pieces = 100_000usize.div_ceil(course::PIECE);
        let total: usize = per_call.iter().map(|c| c.1).sum();
        assert_eq!(
            total, pieces,
            "the first frame whole before the second is due"
        );
        assert!(per_call.iter().all(|c| c.1 <= 1), "one piece a call");
    }

    #[test]
    fn a_short_stall_is_caught_up_a_long_one_skips_whole_frames() {
        let media = media();
        let t0 = Instant::now();
        let mut s = Stream::new(Dialect::Standard, 1400, true, [1, 2, 3], t0);
        s.play(&media, 1.0, t0);
        run(&mut s, &media, t0, t0 + Duration::from_millis(100));
        // 150 ms without CPU: caught up, nothing skipped.
        let t1 = t0 + Duration::from_millis(250);
        run(&mut s, &media, t1, t1 + Duration::from_millis(400));
        assert_eq!(s.counters.skipped, 0, "short stall");
        let frames_before = s.counters.frames;
        // A whole second: about 30 frames skipped, and no half frame sent.
        let t2 = t1 + Duration::from_millis(1400);
        let sent = run(&mut s, &media, t2, t2 + Duration::from_millis(200));
        assert!(
            (28..=31).contains(&s.counters.skipped),
            "skipped {}",
            s.counters.skipped
        );
        assert!(s.counters.frames > frames_before);
        let markers = sent.iter().filter(|p| p.2).count();
        let timestamps: std::collections::BTreeSet<u32> = sent.iter().map(|p| p.1).collect();
        assert!(
            timestamps.len() <= markers + 1,
            "only whole frames after the skip"
        );
    }

    #[test]
    fn pause_lets_the_frame_in_flight_finish_then_stops() {
        let media = media();
        let t0 = Instant::now();
        let mut s = Stream::new(Dialect::Standard, 400, false, [1, 2, 3], t0);
        s.play(&media, 1.0, t0);
        // Send part of the first frame only (small MTU: many packets per frame).
        assert!(!due(&mut s, &media, t0).is_empty());
        s.pause(t0);
        let sent = run(&mut s, &media, t0, t0 + Duration::from_millis(300));
        assert_eq!(
            sent.iter().filter(|p| p.2).count(),
            1,
            "the frame in flight ends, no more"
        );
    }

    #[test]
    fn a_refused_packet_stays_due_and_the_stream_goes_on_from_it() {
        let media = media();
        let t0 = Instant::now();
        let packets = |refuse_every: usize| {
            let mut s = Stream::new(Dialect::Standard, 400, false, [1, 2, 3], t0);
            s.play(&media, 1.0, t0);
            let mut out = Vec::new();
            let mut now = t0;
            let mut offered = 0;
            while now < t0 + Duration::from_millis(200) {
                let next = s.send(&media, now, &mut out, &mut |_, _| {
                    offered += 1;
                    offered % refuse_every != 0
                });
                if next != Next::Held {
                    now += Duration::from_millis(1);
                }
            }
            (out, s.counters)
        };
        let (all, counters) = packets(usize::MAX);
        let (refused, refused_counters) = packets(3);
        assert_eq!(refused, all, "the same bytes, in the same order");
        assert_eq!(refused_counters, counters);
        assert_eq!(counters.frames, 6, "200 ms at 30 fps");
    }

    #[test]
    fn a_packet_sent_lately_can_be_sent_again_byte_for_byte() {
        for dialect in [Dialect::Standard, Dialect::Course] {
            let media = media();
            let t0 = Instant::now();
            let mut s = Stream::new(dialect, 400, true, [1, 2, 3], t0);
            s.play(&media, 1.0, t0);
            let mut sent = Vec::new();
            for ms in 0..1000 {
                sent.extend(due(&mut s, &media, t0 + Duration::from_millis(ms)));
            }
            assert!(
                sent.len() >= 30,
                "{dialect:?}: {} packets in a second",
                sent.len()
            );
            let keep = s.history().len();
            assert!(keep > 0 && keep < sent.len(), "{keep} of {}", sent.len());
            for packet in &sent[sent.len() - keep..] {
                let seq = rtp::Packet::parse(packet).unwrap().sequence_number();
                let mut again = Vec::new();
                assert_eq!(s.resend(&media, seq, &mut again), Some(packet.len()));
                assert_eq!(&again, packet, "{dialect:?} packet {seq}");
            }
            let old = rtp::Packet::parse(&sent[0]).unwrap().sequence_number();
            assert_eq!(s.resend(&media, old, &mut Vec::new()), None, "aged out");
        }
    }

    #[test]
    fn a_nack_is_answered_with_rtx_packets_that_carry_the_original() {
        let media = media();
        let t0 = Instant::now();
        let mut s = Stream::new(Dialect::Standard, 400, true, [1, 2, 3], t0);
        s.enable_rtx(97, [0xBEEF, 100], Duration::from_millis(500));
        s.play(&media, 1.0, t0);
        let mut sent = Vec::new();
        for ms in 0..200 {
            sent.extend(due(&mut s, &media, t0 + Duration::from_millis(ms)));
        }
        let lost: Vec<&Vec<u8>> = [10, 11, 40].iter().map(|&i| &sent[i]).collect();
        let seq = |p: &[u8]| rtp::Packet::parse(p).unwrap().sequence_number();
        s.nack(lost.iter().map(|p| seq(p)).chain([seq(lost[0])]));
        let now = t0 + Duration::from_millis(200);
        let out = due(&mut s, &media, now);
        let rtx: Vec<rtp::Packet<'_>> = out
            .iter()
            .map(|p| rtp::Packet::parse(p).unwrap())
            .filter(|p| p.payload_type() == 97)
            .collect();
        assert_eq!(rtx.len(), 3, "each lost packet once");
        for (k, (r, original)) in rtx.iter().zip(&lost).enumerate() {
            let original = rtp::Packet::parse(original).unwrap();
            assert_eq!((r.ssrc(), r.sequence_number()), (0xBEEF, 100 + k as u16));
            assert_eq!(r.timestamp(), original.timestamp());
            assert_eq!(r.marker(), original.marker());
            let (osn, payload) = rtp::rtx::unwrap(r.payload()).unwrap();
            assert_eq!(
                (osn, payload),
                (original.sequence_number(), original.payload())
            );
        }
        let counters = s.rtx().unwrap().counters;
        assert_eq!((counters.asked, counters.sent), (4, 3));
        // Packets older than the 500 ms kept are not sent again.
        s.nack([seq(&sent[0])]);
        let later = t0 + Duration::from_millis(900);
        assert!(
            due(&mut s, &media, later)
                .iter()
                .all(|p| rtp::Packet::parse(p).unwrap().payload_type() != 97)
        );
        assert_eq!(s.rtx().unwrap().counters.unknown, 1);
    }

    #[test]
    fn a_flood_of_nacks_keeps_the_session_under_twice_its_own_rate() {
        let media = media();
        let t0 = Instant::now();
        let bytes = |flood: bool| {
            let mut s = Stream::new(Dialect::Standard, 400, true, [1, 2, 3], t0);
            s.enable_rtx(97, [0xBEEF, 100], Duration::from_millis(500));
            s.play(&media, 1.0, t0);
            let mut total = 0;
            let mut seqs: Vec<u16> = Vec::new();
            for ms in 0..5000 {
                if flood {
                    // Every packet kept, asked for again every millisecond.
                    s.nack(seqs.iter().rev().take(1000).copied().collect::<Vec<_>>());
                }
                for p in due(&mut s, &media, t0 + Duration::from_millis(ms)) {
                    total += p.len();
                    let p = rtp::Packet::parse(&p).unwrap();
                    if p.payload_type() == PAYLOAD_TYPE {
                        seqs.push(p.sequence_number());
                    }
                }
            }
            total as f64
        };
        let own = bytes(false);
        let flooded = bytes(true);
        assert!(
            flooded > own * 1.5,
            "the flood was answered: {flooded} vs {own}"
        );
        assert!(flooded < own * 2.0, "{flooded} bytes against {own}");
    }
}
