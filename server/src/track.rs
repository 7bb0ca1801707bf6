//! A session's tracks beside its video (RFC 2326 §10.4: one SETUP per track, each with its own
//! control URL and transport, aggregate control for PLAY/PAUSE/TEARDOWN): a file's sound, sent
//! as L16 or a container's Opus packets ([`AudioStream`]), a file's captions as T.140
//! ([`CaptionStream`]), or a live path's sound or captions, passed on ([`LiveTrackStream`]).
//!
//! An audio stream is paced by the same PLAY as the video: sample frame *p* is due at
//! `anchor + (p − anchor_position) / rate / speed`, and a seek moves it to the sample at the
//! video's new position, so both tracks' RTP timestamps map to one media time through `RTP-Info`
//! and to one wall clock through their sender reports (RFC 3550 §6.4.1). L16 packets carry
//! [`PTIME`] of sound (RFC 3551 §4.5: 20 ms) each, Opus packets what the container holds (one
//! Opus packet each, RFC 7587 §4.2, at 48 kHz); the marker bit is on the first packet after
//! silence (a PLAY or a seek, §4.1); the timestamp counts sample frames and keeps growing
//! across seeks and pauses, as the video's does. A packet that began before the position
//! played from (the Opus packet a seek lands inside) carries the timestamp of its own first
//! sample, earlier than the `RTP-Info` one, so every sample keeps its place beside the video.

use std::time::{Duration, Instant, SystemTime};

use hdstream_common::rtp;

use crate::captions::CaptionStream;
use crate::delivery::Delivery;
use crate::live::TrackKind;
use crate::live_track::LiveTrackStream;
use crate::sender::{Counters, MAX_LAG, Next, Numbering};
use crate::sound::Sound;

/// Sound in one packet (RFC 3551 §4.5: 20 ms by default).
pub const PTIME: Duration = Duration::from_millis(20);

/// A track of a session beside its video.
#[derive(Debug)]
pub struct Track {
    /// Sound or captions.
    pub kind: TrackKind,
    /// Its control URL as SETUP named it (`RTP-Info: url=`).
    pub control_url: String,
    /// Where its packets go.
    pub delivery: Delivery,
    /// Its RTP stream.
    pub stream: TrackStream,
}

/// A track's RTP stream: a file's sound, or a live path's.
#[derive(Debug)]
pub enum TrackStream {
    /// A file's sound, paced by the session's PLAY.
    File(AudioStream),
    /// A file's captions, paced by the session's PLAY.
    Captions(CaptionStream),
    /// A published path's sound or captions, passed on as they arrive.
    Live(LiveTrackStream),
}

impl TrackStream {
    /// Its SSRC.
    pub fn ssrc(&self) -> u32 {
        match self {
            TrackStream::File(s) => s.ssrc,
            TrackStream::Captions(s) => s.ssrc,
            TrackStream::Live(s) => s.ssrc,
        }
    }

    /// The sequence number the next packet carries.
    pub fn next_sequence_number(&self) -> u16 {
        match self {
            TrackStream::File(s) => s.next_sequence_number(),
            TrackStream::Captions(s) => s.next_sequence_number(),
            TrackStream::Live(s) => s.next_sequence_number(),
        }
    }

    /// The RTP timestamp the next packet carries.
    pub fn next_timestamp(&self) -> u32 {
        match self {
            TrackStream::File(s) => s.next_timestamp(),
            TrackStream::Captions(s) => s.next_timestamp(),
            TrackStream::Live(s) => s.next_timestamp(),
        }
    }

    /// What it has sent.
    pub fn counters(&self) -> Counters {
        match self {
            TrackStream::File(s) => s.counters,
            TrackStream::Captions(s) => s.counters,
            TrackStream::Live(s) => s.counters,
        }
    }

    /// Stops sending at `now`.
    pub fn pause(&mut self, now: Instant) {
        match self {
            TrackStream::File(s) => s.pause(),
            TrackStream::Captions(s) => s.pause(now),
            TrackStream::Live(s) => s.pause(),
        }
    }

    /// A sender report's NTP ↔ RTP pair at `now` (RFC 3550 §6.4.1), given the server's wall
    /// clock then and the track's clock rate; `None` while a live track has sent nothing.
    pub fn report_clock(
        &self,
        now: Instant,
        wall_now: SystemTime,
        clock_rate: u32,
    ) -> Option<(SystemTime, u32)> {
        match self {
            TrackStream::File(s) => Some((wall_now, s.rtp_time_at(now))),
            TrackStream::Captions(s) => Some((wall_now, s.rtp_time_at(now))),
            TrackStream::Live(s) => s.report_clock(now, wall_now, clock_rate),
        }
    }
}

/// The playing schedule set by PLAY.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    anchor: Instant,
    anchor_position: u64,
    speed: f64,
}

/// One session's outgoing audio RTP stream.
#[derive(Debug)]
pub struct AudioStream {
    /// RTP SSRC (random, RFC 3550 §8).
    pub ssrc: u32,
    payload_type: u8,
    clock_rate: u32,
    /// Sample frames in one packet.
    per_packet: usize,
    numbering: Numbering,
    /// Sample frames sent since the stream began (or skipped): the timestamp clock.
    clock: u64,
    /// The next sample frame of the sound to send, on the video's timeline
    /// ([`crate::sound`]).
    position: i64,
    /// Where the sound starts again when it loops.
    loop_to: i64,
    looping: bool,
    schedule: Option<Schedule>,
    /// The next packet starts a talkspurt (RFC 3551 §4.1: marker bit).
    marker: bool,
    /// Timestamp and due time of the newest packet, for sender reports.
    last_sent: Option<(u32, Instant)>,
    /// What has been sent (frames: packets).
    pub counters: Counters,
}

impl AudioStream {
    /// A stream of `sound` with random SSRC, initial sequence number and timestamp origin
    /// (RFC 3550 §5.1).
    pub fn new(sound: &Sound, looping: bool, random: [u32; 3]) -> AudioStream {
        let [ssrc, seq, ts] = random;
        let rate = sound.format.clock_rate.max(1);
        let per_packet = (u64::from(rate) * PTIME.as_millis() as u64 / 1000).max(1) as usize;
        AudioStream {
            ssrc,
            payload_type: sound.format.payload_type,
            clock_rate: rate,
            per_packet,
            numbering: Numbering::new(seq, ts),
            clock: 0,
            position: 0,
            loop_to: sound.start().min(0),
            looping,
            schedule: None,
            marker: true,
            last_sent: None,
            counters: Counters::default(),
        }
    }

    /// The sequence number the next packet carries.
    pub fn next_sequence_number(&self) -> u16 {
        self.numbering.next_sequence_number()
    }

    /// The RTP timestamp the next packet carries.
    pub fn next_timestamp(&self) -> u32 {
        self.numbering.timestamp(self.clock)
    }

    /// Moves to the sample at `npt` seconds (the video's position after its seek).
    pub fn seek(&mut self, npt: f64) {
        let at = (npt.max(0.0) * f64::from(self.clock_rate)).round();
        self.position = if at.is_finite() { at as i64 } else { 0 };
        self.marker = true;
    }

    /// Starts (or resumes) sending at `speed` times real time from the current position.
    pub fn play(&mut self, speed: f64, now: Instant) {
        self.schedule = Some(Schedule {
            anchor: now,
            anchor_position: self.clock,
            speed,
        });
        self.marker = true;
    }

    /// Stops sending.
    pub fn pause(&mut self) {
        self.schedule = None;
    }

    /// The RTP timestamp that corresponds to `now` (RFC 3550 §6.4.1), extrapolated from the
    /// newest packet; before any, the next packet's.
    pub fn rtp_time_at(&self, now: Instant) -> u32 {
        let Some((ts, due)) = self.last_sent else {
            return self.next_timestamp();
        };
        let speed = self.schedule.map_or(1.0, |s| s.speed);
        let ticks =
            now.saturating_duration_since(due).as_secs_f64() * f64::from(self.clock_rate) * speed;
        ts.wrapping_add(ticks as u32)
    }

    /// When packet clock `clock` is due (a clock before the PLAY's: at once).
    fn due(&self, schedule: Schedule, clock: u64) -> Instant {
        let secs = clock.saturating_sub(schedule.anchor_position) as f64
            / f64::from(self.clock_rate)
            / schedule.speed;
        schedule.anchor + Duration::from_secs_f64(secs)
    }

    /// Appends every packet due at `now` to `out`, each once `accept` (given its length, and
    /// `out` to write a framing prefix to) takes it, and says when to call again.
    pub fn send(
        &mut self,
        sound: &Sound,
        now: Instant,
        out: &mut Vec<u8>,
        accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool,
    ) -> Next {
        let Some(schedule) = self.schedule else {
            return Next::Idle;
        };
        loop {
            let due = self.due(schedule, self.clock);
            if due > now {
                return Next::At(due);
            }
            // Far behind (a stalled connection, no CPU): skip to the packet due now.
            let lag = now - due;
            if lag >= MAX_LAG {
                let behind = (lag.as_secs_f64() * f64::from(self.clock_rate) * schedule.speed)
                    as u64
                    / self.per_packet as u64
                    * self.per_packet as u64;
                self.clock += behind;
                self.position = self.position.saturating_add(behind as i64);
                self.counters.skipped += behind / self.per_packet as u64;
                self.marker = true;
            }
            let piece = match sound.piece(self.position, self.per_packet) {
                Some(piece) => piece,
                None if self.looping && self.position > self.loop_to => {
                    self.position = self.loop_to;
                    continue;
                }
                None => {
                    self.schedule = None;
                    return Next::Ended;
                }
            };
            // Nothing plays until the piece: its timestamp (and due time) is that much later.
            if let Ok(gap @ 1..) = u64::try_from(piece.start - self.position) {
                self.clock += gap;
                self.position = piece.start;
                continue;
            }
            // It began before the position (a seek inside an Opus packet): stamped earlier.
            let back = self.position.saturating_sub(piece.start).unsigned_abs();
            let payload = piece.payload;
            let len = rtp::Header::LEN + payload.len();
            if !accept(len, out) {
                return Next::Held;
            }
            let timestamp = self.numbering.timestamp(self.clock.wrapping_sub(back));
            let header = rtp::Header {
                marker: self.marker,
                payload_type: self.payload_type,
                sequence_number: self.numbering.next_sequence_number(),
                timestamp,
                ssrc: self.ssrc,
            };
            if header.append(&[payload], out).is_err() {
                return Next::Held;
            }
            let ahead = piece.frames.saturating_sub(back).max(1);
            // The position's RTP time and due time (a packet stamped early would be due before
            // the PLAY: one pair on the line both lie on).
            self.last_sent = Some((self.next_timestamp(), self.due(schedule, self.clock)));
            self.marker = false;
            self.numbering.take_sequence_number();
            self.clock += ahead;
            self.position = self.position.saturating_add(ahead as i64);
            self.counters.packets += 1;
            self.counters.frames += 1;
            self.counters.octets += payload.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sound::{Sound, wav_bytes};

    fn sound(seconds: usize) -> Sound {
        let samples: Vec<i16> = (0..48_000 * seconds).map(|i| (i % 5000) as i16).collect();
        Sound::from_wav(&wav_bytes(48_000, 1, &samples)).unwrap()
    }

    fn run(s: &mut AudioStream, sound: &Sound, from: Instant, ms: u64) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        for t in 0..ms {
            let now = from + Duration::from_millis(t);
            packets.extend(crate::testing::accepted(|out, accept| {
                s.send(sound, now, out, accept);
            }));
        }
        packets
    }

    #[test]
    fn twenty_ms_packets_on_schedule_with_the_samples_in_order() {
        let sound = sound(2);
        let t0 = Instant::now();
        let mut s = AudioStream::new(&sound, false, [7, 100, 1000]);
        s.play(1.0, t0);
        let packets = run(&mut s, &sound, t0, 1000);
        assert_eq!(packets.len(), 50, "1 s of 20 ms packets");
        let mut expected_ts = 1000u32;
        for (k, p) in packets.iter().enumerate() {
            let p = rtp::Packet::parse(p).unwrap();
            assert_eq!(p.payload_type(), L16_PT);
            assert_eq!(p.sequence_number(), 100 + k as u16);
            assert_eq!(p.timestamp(), expected_ts);
            assert_eq!(p.marker(), k == 0, "marker on the first only");
            assert_eq!(p.payload().len(), 960 * 2);
            let first = i16::from_be_bytes([p.payload()[0], p.payload()[1]]);
            assert_eq!(first, ((k * 960) % 5000) as i16);
            expected_ts += 960;
        }
    }

    const L16_PT: u8 = crate::sound::L16_PAYLOAD_TYPE;

    #[test]
    fn a_seek_moves_the_samples_not_the_timestamps_and_marks_the_next_packet() {
        let sound = sound(3);
        let t0 = Instant::now();
        let mut s = AudioStream::new(&sound, false, [7, 0, 0]);
        s.play(1.0, t0);
        run(&mut s, &sound, t0, 100);
        s.pause();
        let ts_before = s.next_timestamp();
        s.seek(2.0);
        let t1 = t0 + Duration::from_secs(5);
        s.play(1.0, t1);
        let p = run(&mut s, &sound, t1, 1);
        let p = rtp::Packet::parse(&p[0]).unwrap();
        assert!(p.marker());
        assert_eq!(p.timestamp(), ts_before);
        let first = i16::from_be_bytes([p.payload()[0], p.payload()[1]]);
        assert_eq!(first, (96_000 % 5000) as i16, "sample 96000");
    }

    /// A container's Opus: `n` 20 ms packets, the first 312 samples (its pre-skip) early.
    fn opus(n: u8) -> Sound {
        use hdstream_video::container;
        let file: Vec<u8> = (0..n).flat_map(|k| [0xFC, k, k]).collect();
        let packets = (0..n)
            .map(|k| container::Packet {
                range: usize::from(k) * 3..usize::from(k) * 3 + 3,
                time_ns: i64::from(k) * 20_000_000 - 6_500_000,
            })
            .collect();
        let c = container::Sound {
            codec: container::Codec::Opus { pre_skip: 312 },
            rate: 48_000,
            channels: 2,
            packets,
        };
        Sound::from_container(&file, &c).unwrap()
    }

    #[test]
    fn opus_packets_keep_their_own_timestamps_around_the_play_position() {
        let sound = opus(100);
        let t0 = Instant::now();
        let mut s = AudioStream::new(&sound, false, [7, 0, 10_000]);
        s.play(1.0, t0);
        // Each due 6.5 ms before its place at 20 ms steps: packet 50 at 993.5 ms.
        let packets = run(&mut s, &sound, t0, 990);
        assert_eq!(packets.len(), 50, "20 ms packets");
        for (k, p) in packets.iter().enumerate() {
            let p = rtp::Packet::parse(p).unwrap();
            assert_eq!(p.payload_type(), crate::sound::OPUS_PAYLOAD_TYPE);
            assert_eq!(p.payload(), [0xFC, k as u8, k as u8]);
            // Packet 0 began 312 samples before the PLAY's position (timestamp 10000).
            assert_eq!(p.timestamp(), 10_000 - 312 + 960 * k as u32, "packet {k}");
        }
        // A seek to 1.005 s lands inside the packet that starts at 1.0135 − 0.02 s.
        s.pause();
        let ts = s.next_timestamp();
        s.seek(1.005);
        let t1 = t0 + Duration::from_secs(5);
        s.play(1.0, t1);
        let p = run(&mut s, &sound, t1, 1);
        let p = rtp::Packet::parse(&p[0]).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload()[1], 50);
        let start = 50 * 960 - 312;
        assert_eq!(p.timestamp(), ts - (48_240 - start) as u32);
    }

    #[test]
    fn the_end_of_the_sound_ends_the_stream() {
        let sound = sound(1);
        let t0 = Instant::now();
        let mut s = AudioStream::new(&sound, false, [7, 0, 0]);
        s.play(1.0, t0);
        let packets = run(&mut s, &sound, t0, 1500);
        assert_eq!(packets.len(), 50);
        let mut out = Vec::new();
        assert_eq!(
            s.send(
                &sound,
                t0 + Duration::from_secs(2),
                &mut out,
                &mut |_, _| true
            ),
            Next::Idle
        );
    }
}
