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
//! - A stream that falls behind catches up by sending faster; one more than [`MAX_LAG`] behind
//!   (CPU, a receiver that does not read) skips whole frames to the one now due and counts
//!   them; it never sends half a frame.
//!
//! Frames come from a [`Source`] (a file today, a live publisher next).
//!
//! Sans-IO: [`Stream::poll`] takes `now` and a sink for packets and answers when to call again.

use std::ops::Range;
use std::time::{Duration, Instant};

use hdstream_common::course;
use hdstream_common::pacing::TokenBucket;
use hdstream_common::rfc2435::Packetizer;
use hdstream_common::rtp;

use crate::source::Source;

/// RTP payload type of JPEG (RFC 3551 §6).
pub const PAYLOAD_TYPE: u8 = 26;
/// RTP clock rate of JPEG video (RFC 2435 §3).
pub const CLOCK_RATE: f64 = 90_000.0;
/// Share of a frame interval its packets are spread over.
pub const SPREAD: f64 = 0.8;
/// How far behind schedule a stream may fall (at least one frame) before it skips frames rather
/// than catching up.
pub const MAX_LAG: Duration = Duration::from_millis(200);
/// Packets that may leave back to back (the token bucket's burst).
pub const BURST_PACKETS: u64 = 8;
/// The bucket holds at least this long of the rate. The driver's timer rounds waits up to whole
/// milliseconds (mio, epoll), so a burst smaller than that capped a stream at about
/// `BURST_PACKETS` packets per millisecond (~10 MB/s): 1440p60 at `Speed: 2` skipped every
/// third frame.
pub const TIMER_SLACK: Duration = Duration::from_millis(2);
/// IPv4 + UDP header bytes, subtracted from the MTU.
const IP_UDP_HEADERS: usize = 28;

/// How frames are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// RFC 2435 fragments.
    Rfc2435,
    /// The course's dialect ([`course`]): the raw JPEG, whole when it fits the course clients'
    /// 20 KB reads (sequence number = frame number) or in pieces; timestamp = frame number.
    Course,
}

/// What a stream has done, for logs and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames whose every packet left.
    pub frames: u64,
    /// RTP packets sent.
    pub packets: u64,
    /// RTP payload octets sent (RFC 3550 §6.4.1 sender's octet count).
    pub octets: u64,
    /// Whole frames skipped because the stream fell behind.
    pub skipped: u64,
    /// Frames that could not be packetized (not RFC 2435-ready) and were left out.
    pub unsendable: u64,
}

/// What [`Stream::poll`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Call again at this instant (or earlier).
    At(Instant),
    /// Not playing: nothing to send until the next PLAY.
    Idle,
    /// The sink refused a packet (socket buffer full): call again when it can take more.
    Blocked,
    /// The last frame of the file has gone (and the stream does not loop).
    Ended,
}

/// The playing schedule set by PLAY.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    anchor: Instant,
    anchor_slot: u64,
    speed: f64,
}

/// The packets of the frame being sent.
#[derive(Debug, Default)]
struct FramePackets {
    data: Vec<u8>,
    packets: Vec<Range<usize>>,
    next: usize,
}

impl FramePackets {
    fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
        self.next = 0;
    }

    fn pending(&self) -> Option<&[u8]> {
        self.packets
            .get(self.next)
            .and_then(|r| self.data.get(r.clone()))
    }
}

/// One session's outgoing RTP stream.
#[derive(Debug)]
pub struct Stream {
    /// RTP SSRC (random, RFC 3550 §8).
    pub ssrc: u32,
    payload: Payload,
    fps: f64,
    frames_in_file: usize,
    looping: bool,
    max_payload: usize,
    next_seq: u16,
    ts_origin: u32,
    /// Frame slots since the stream began: the timestamp clock.
    slot: u64,
    /// The next file frame to send.
    position: usize,
    schedule: Option<Schedule>,
    frame: FramePackets,
    bucket: TokenBucket,
    /// Timestamp and due time of the newest frame, for sender reports.
    last_sent: Option<(u32, Instant)>,
    /// What has been sent.
    pub counters: Counters,
}

impl Stream {
    /// A stream of `source` with random `ssrc`, initial sequence number and timestamp origin
    /// (RFC 3550 §5.1), cut for `mtu`.
    pub fn new(
        source: &dyn Source,
        payload: Payload,
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
            payload,
            fps: source.fps(),
            frames_in_file: source.frame_count(),
            looping,
            max_payload,
            next_seq: seq as u16,
            ts_origin: ts,
            slot: 0,
            position: 0,
            schedule: None,
            frame: FramePackets::default(),
            bucket: TokenBucket::new(1, 1, now),
            last_sent: None,
            counters: Counters::default(),
        };
        if payload == Payload::Course {
            // The basic course client orders frames by sequence number, starting at 1.
            stream.next_seq = 1;
        }
        stream.bucket = TokenBucket::new(1_000_000, stream.burst_bytes(), now);
        stream
    }

    fn burst_bytes(&self) -> u64 {
        BURST_PACKETS * (self.max_payload + rtp::Header::LEN) as u64
    }

    /// Seconds per frame.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.fps)
    }

    /// The file frame the next PLAY starts from.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Where the stream is, in seconds of media (the NPT of the next frame).
    pub fn npt(&self) -> f64 {
        self.position as f64 / self.fps
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
    fn timestamp(&self, slot: u64) -> u32 {
        if self.payload == Payload::Course {
            return (slot as u32).wrapping_add(1);
        }
        let ticks = (slot as f64 * CLOCK_RATE / self.fps).round() as u64;
        self.ts_origin.wrapping_add(ticks as u32)
    }

    /// The RTP timestamp the next frame will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp(self.slot)
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
    pub fn seek(&mut self, npt: f64) {
        let frame = (npt.max(0.0) * self.fps - 1e-6).ceil();
        self.position = if frame.is_finite() {
            (frame as usize).min(self.frames_in_file)
        } else {
            0
        };
    }

    /// Starts (or resumes) sending at `speed` times real time from the current position.
    pub fn play(&mut self, speed: f64, now: Instant) {
        if self.position >= self.frames_in_file && self.looping {
            self.position = 0;
        }
        self.schedule = Some(Schedule {
            anchor: now,
            anchor_slot: self.slot,
            speed,
        });
    }

    /// Stops sending once the frame in flight has left whole (RFC 2326 §10.6).
    pub fn pause(&mut self) {
        self.schedule = None;
    }

    /// Sends every packet that is due at `now` through `send` (which answers false when it
    /// cannot take the packet now), and says when to call again.
    pub fn poll(
        &mut self,
        source: &dyn Source,
        now: Instant,
        send: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Next {
        loop {
            if let Some(packet) = self.frame.pending() {
                let ready = self.bucket.ready_at(packet.len(), now);
                if ready > now {
                    return Next::At(ready);
                }
                if !send(packet) {
                    return Next::Blocked;
                }
                let len = packet.len();
                self.bucket.take(len, now);
                self.counters.packets += 1;
                self.counters.octets += (len - rtp::Header::LEN) as u64;
                self.frame.next += 1;
                if self.frame.pending().is_none() {
                    self.counters.frames += 1;
                }
                continue;
            }
            let Some(schedule) = self.schedule else {
                return Next::Idle;
            };
            let slot_interval = self.interval().div_f64(schedule.speed);
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
            if self.position >= self.frames_in_file {
                if !self.looping || self.frames_in_file == 0 {
                    self.schedule = None;
                    return Next::Ended;
                }
                self.position %= self.frames_in_file;
            }
            let ts = self.timestamp(self.slot);
            let position = self.position;
            self.position += 1;
            self.slot += 1;
            if self.prepare(source, position, ts).is_err() {
                self.counters.unsendable += 1;
                continue;
            }
            let frame_bytes = self.frame.data.len() as f64;
            // Late frames leave faster, so the stream gets back on schedule.
            let rate = frame_bytes * (1.0 + behind) / (slot_interval.as_secs_f64() * SPREAD);
            self.bucket.set_rate(rate.ceil() as u64, now);
            let slack = (rate * TIMER_SLACK.as_secs_f64()).ceil() as u64;
            self.bucket.set_burst(self.burst_bytes().max(slack), now);
            self.last_sent = Some((ts, due));
        }
    }

    /// Cuts file frame `index` into RTP packets stamped `ts`.
    fn prepare(&mut self, source: &dyn Source, index: usize, ts: u32) -> Result<(), ()> {
        self.frame.clear();
        match self.payload {
            Payload::Rfc2435 => {
                let frame = source.rfc2435_frame(index).ok_or(())?;
                let packetizer = Packetizer::new(&frame, self.max_payload).map_err(|_| ())?;
                for fragment in packetizer {
                    let header = rtp::Header {
                        marker: fragment.marker,
                        payload_type: PAYLOAD_TYPE,
                        sequence_number: self.next_seq,
                        timestamp: ts,
                        ssrc: self.ssrc,
                    };
                    self.push_packet(&header, &[fragment.header(), fragment.data])?;
                }
            }
            Payload::Course => {
                // Whole when it fits the course clients' 20 KB reads, else 1400-byte pieces,
                // all stamped with the frame number (from 1), marker on the last.
                let jpeg = source.jpeg(index).ok_or(())?;
                let pieces = course::pieces(jpeg);
                let count = pieces.len();
                for (k, piece) in pieces.enumerate() {
                    let header = rtp::Header {
                        marker: k + 1 == count,
                        payload_type: PAYLOAD_TYPE,
                        sequence_number: self.next_seq,
                        timestamp: ts,
                        ssrc: self.ssrc,
                    };
                    self.push_packet(&header, &[piece])?;
                }
            }
        }
        Ok(())
    }

    fn push_packet(&mut self, header: &rtp::Header, pieces: &[&[u8]]) -> Result<(), ()> {
        let len = rtp::Header::LEN + pieces.iter().map(|p| p.len()).sum::<usize>();
        let start = self.frame.data.len();
        self.frame.data.resize(start + len, 0);
        let written = header
            .write(pieces, &mut self.frame.data[start..])
            .map_err(|_| ())?;
        self.frame.packets.push(start..start + written);
        self.next_seq = header.sequence_number.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Media;

    /// The kit's 30 fps, 30-frame 320x240 file.
    fn media() -> Media {
        crate::testing::clip()
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
            let mut sink = |p: &[u8]| {
                let p = rtp::Packet::parse(p).unwrap();
                sent.push((now, p.timestamp(), p.marker()));
                true
            };
            stream.poll(media, now, &mut sink);
            now += Duration::from_millis(1);
        }
        sent
    }

    #[test]
    fn frames_leave_on_schedule_with_monotonic_timestamps() {
        let media = media();
        let t0 = Instant::now();
        let mut s = Stream::new(&media, Payload::Rfc2435, 1400, false, [1, 2, 3], t0);
        s.play(1.0, t0);
        let sent = run(&mut s, &media, t0, t0 + Duration::from_millis(500));
        let frames: Vec<_> = sent.iter().filter(|p| p.2).collect();
        assert_eq!(frames.len(), 15, "500 ms at 30 fps");
        for w in frames.windows(2) {
            assert_eq!(w[1].1.wrapping_sub(w[0].1), 3000, "90 kHz / 30 fps");
        }
        assert_eq!(s.counters.skipped, 0);
    }

    #[test]
    fn a_short_stall_is_caught_up_a_long_one_skips_whole_frames() {
        let media = media();
        let t0 = Instant::now();
        let mut s = Stream::new(&media, Payload::Rfc2435, 1400, true, [1, 2, 3], t0);
        s.play(1.0, t0);
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
        let mut s = Stream::new(&media, Payload::Rfc2435, 400, false, [1, 2, 3], t0);
        s.play(1.0, t0);
        // Send part of the first frame only (small MTU: many packets per frame).
        let mut n = 0;
        s.poll(&media, t0, &mut |_| {
            n += 1;
            true
        });
        assert!(n > 0);
        s.pause();
        let sent = run(&mut s, &media, t0, t0 + Duration::from_millis(300));
        assert_eq!(
            sent.iter().filter(|p| p.2).count(),
            1,
            "the frame in flight ends, no more"
        );
    }
}
