//! Reception of the audio track: RTP in, samples in the [`Store`] at their timestamp, and the
//! track's place on the media timeline ([`Anchor`]).
//!
//! ```text
//! RTP ─▶ gate (until the PLAY reply) ─▶ SSRC lock ─▶ PT ─▶ SequenceTracker ─▶ Jitter
//!     ─▶ Decoder (L16 §4.5.11, PCMU/PCMA §4.5.14, Opus RFC 7587) ─▶ Store (by extended timestamp)
//! RTCP ─▶ SR: NTP ↔ RTP of this track (RFC 3550 §6.4.1) · BYE: the track has ended
//! ```
//!
//! **SSRC.** The source named in the SETUP reply (`ssrc=`), else the first heard, is followed;
//! packets of another are ignored and counted, until the followed one has been silent for
//! [`SSRC_SILENCE`]: then the new one is followed (counted), its timestamps carried on from
//! where the old one stopped plus the silence between them, so its samples land after the old
//! one's on the same timeline.
//!
//! **Media time.** Extended timestamp `ts` sits at NPT `anchor.npt + (ts − anchor.ts) / rate`.
//! The anchor comes from the PLAY reply — `RTP-Info` `rtptime` is the timestamp of the Range
//! start (RFC 2326 §12.33), as for the video — or, without it, provisionally from the first
//! packet (taken as the Range start) until sender reports of both tracks put the audio's
//! timestamps on the video's wall clock ([`Receiver::anchor_by_report`], RFC 3550 §6.4.1).
//!
//! Nothing a packet carries can panic this: bad payloads (another payload type, a length that
//! is not whole sample frames) are counted and dropped.

use std::time::{Duration, Instant, SystemTime};

use hdstream_codec::Decoder;
use hdstream_common::audio::Format;
use hdstream_common::rtcp::{self, LastSr, ReportBlock};
use hdstream_common::rtp::{self, TimestampUnwrapper, timestamp_delta};

use super::stats::Counters;
use super::store::{Chunk, Store};
use crate::reception::{Reception, SincePlay};
use crate::session::TrackStart;

/// A followed source silent this long gives way to another SSRC.
pub const SSRC_SILENCE: Duration = Duration::from_secs(1);
/// Sample frames held at most, in seconds of sound (a paused live stream keeps receiving).
const MAX_STORE_SECONDS: usize = 30;
/// Packets held at most while a PLAY reply is awaited.
const GATE_CAPACITY: usize = 4096;

/// Where the track sits on the media timeline: extended timestamp `ts` is at NPT `npt`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Extended RTP timestamp (sample frames).
    pub ts: i64,
    /// Its NPT, seconds.
    pub npt: f64,
    /// Where it came from.
    pub by: AnchorBy,
}

/// What placed the track on the media timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorBy {
    /// `RTP-Info` `rtptime` ↔ the PLAY's Range start (RFC 2326 §12.33).
    RtpInfo,
    /// Sender reports of both tracks (RFC 3550 §6.4.1).
    Reports,
    /// The first packet taken as the Range start, until reports say better.
    FirstPacket,
}

impl Anchor {
    /// The NPT of extended timestamp `ts` at `rate` Hz.
    pub fn npt_of(&self, ts: i64, rate: u32) -> f64 {
        self.npt + (ts - self.ts) as f64 / f64::from(rate.max(1))
    }

    /// The extended timestamp at NPT `npt`, to the nearest sample frame.
    pub fn ts_of(&self, npt: f64, rate: u32) -> i64 {
        let frames = ((npt - self.npt) * f64::from(rate)).round();
        // Clamped to a day of frames either way: NPT comes from the network.
        self.ts + frames.clamp(-86_400.0 * 192_000.0, 86_400.0 * 192_000.0) as i64
    }
}

/// What the PLAY reply said about the audio's start.
#[derive(Debug, Clone, Copy)]
struct Start {
    npt: f64,
    rtptime: Option<u32>,
}

/// A packet waiting for the PLAY reply.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    arrival: Instant,
}

/// The audio track's receive side.
#[derive(Debug)]
pub struct Receiver {
    decoder: Decoder,
    rate: u32,
    /// The source followed.
    ssrc: Option<u32>,
    /// When the followed source was last heard, or followed from.
    heard: Option<Instant>,
    reception: Reception,
    unwrapper: TimestampUnwrapper,
    /// Added to unwrapped timestamps: continues a new source's timestamps after the old one's.
    offset: i64,
    /// The end (extended timestamp after the last sample) of what the source sent.
    received_end: Option<i64>,
    anchor: Option<Anchor>,
    start: Option<Start>,
    gate: Option<Vec<Held>>,
    last_sr: Option<LastSr>,
    /// The newest sender report's RTP timestamp and NTP time.
    sender_clock: Option<(u32, SystemTime)>,
    bye_at: Option<Instant>,
    store: Store,
    counters: Counters,
    /// Sender reports replace an anchor `RTP-Info` gave too (a live stream, where it is the
    /// server's guess at the next packet's timestamp).
    reports_first: bool,
}

impl Receiver {
    /// A receiver of `format`, held until its first PLAY reply ([`Receiver::start`]). `None`
    /// for a format that cannot be decoded.
    pub fn new(format: Format, now: Instant) -> Option<Receiver> {
        let decoder = Decoder::new(format).ok()?;
        let rate = format.clock_rate.max(1);
        let max_frames = MAX_STORE_SECONDS * rate as usize;
        Some(Receiver {
            decoder,
            rate,
            ssrc: None,
            heard: None,
            reception: Reception::new(now),
            unwrapper: TimestampUnwrapper::new(),
            offset: 0,
            received_end: None,
            anchor: None,
            start: None,
            gate: Some(Vec::new()),
            last_sr: None,
            sender_clock: None,
            bye_at: None,
            store: Store::new(format.channels, max_frames),
            counters: Counters::default(),
            reports_first: false,
        })
    }

    /// The format read.
    pub fn format(&self) -> Format {
        self.decoder.format()
    }

    /// The SSRC the SETUP reply named (RFC 2326 §12.39).
    pub fn expect_ssrc(&mut self, ssrc: u32) {
        self.ssrc = Some(ssrc);
    }

    /// The source followed.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Where the track sits on the media timeline, once known.
    pub fn anchor(&self) -> Option<Anchor> {
        self.anchor
    }

    /// The samples received and not yet played.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, for the output to take what it plays.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Counts so far (the output adds its own).
    pub fn counters(&self) -> Counters {
        let mut c = self.counters;
        c.packets_received = self.reception.tracker().received();
        c.packets_lost = self.reception.tracker().lost();
        c
    }

    /// When an RTCP BYE of the followed source came.
    pub fn bye_at(&self) -> Option<Instant> {
        self.bye_at
    }

    /// The extended sequence number the stream started at, once counted.
    pub fn first_seq(&self) -> Option<u64> {
        self.reception.tracker().base()
    }

    /// A PLAY that moves the stream was sent: what is held is forgotten, and packets wait
    /// for the reply.
    pub fn hold(&mut self) {
        self.store.clear();
        self.anchor = None;
        self.start = None;
        self.reception.hold();
        self.bye_at = None;
        self.gate = Some(Vec::new());
    }

    /// The PLAY reply came: the stream starts at `npt`, the audio as its `RTP-Info` entry
    /// says. Held packets are taken now.
    pub fn start(&mut self, npt: f64, info: Option<TrackStart>, now: Instant) {
        let info = info.unwrap_or_default();
        self.start = Some(Start {
            npt,
            rtptime: info.rtptime,
        });
        self.reception.play_starts(info.seq);
        self.heard.get_or_insert(now);
        for held in self.gate.take().unwrap_or_default() {
            self.packet(&held.bytes, held.arrival, None);
        }
    }

    /// One RTP packet of the audio track. `played_to` is the extended timestamp the output has
    /// played up to: samples before it are late.
    pub fn rtp(&mut self, data: &[u8], now: Instant, played_to: Option<i64>) {
        match &mut self.gate {
            Some(gate) if gate.len() < GATE_CAPACITY => gate.push(Held {
                bytes: data.to_vec(),
                arrival: now,
            }),
            Some(_) => self.counters.packets_ignored += 1,
            None => self.packet(data, now, played_to),
        }
    }

    fn packet(&mut self, data: &[u8], arrival: Instant, played_to: Option<i64>) {
        let Ok(packet) = rtp::Packet::parse(data) else {
            self.counters.packets_dropped += 1;
            return;
        };
        if !self.follows(packet.ssrc(), packet.timestamp(), arrival) {
            self.counters.packets_ignored += 1;
            return;
        }
        if packet.payload_type() != self.format().payload_type {
            tracing::debug!(
                payload_type = packet.payload_type(),
                seq = packet.sequence_number(),
                "audio packet of another payload type dropped"
            );
            self.counters.packets_dropped += 1;
            return;
        }
        let seq = packet.sequence_number();
        if self.reception.since_play(seq) == SincePlay::Before {
            // Sent before the PLAY that moved the stream.
            return;
        }
        let Some(counted) = self
            .reception
            .count(seq, packet.timestamp(), arrival, self.rate)
        else {
            return;
        };
        let ext_seq = counted.ext;
        self.heard = Some(arrival);
        let mut samples = Vec::new();
        let frames = match self.decoder.decode(packet.payload(), &mut samples) {
            Ok(frames) => frames as i64,
            Err(e) => {
                tracing::debug!(seq, ssrc = packet.ssrc(), error = %e, "audio payload dropped");
                self.counters.packets_dropped += 1;
                return;
            }
        };
        let ts = self.unwrapper.unwrap(packet.timestamp()) + self.offset;
        self.place(packet.timestamp(), ts);
        self.received_end = self.received_end.max(Some(ts + frames));
        if played_to.is_some_and(|p| ts + frames <= p) {
            self.counters.packets_late += 1;
            return;
        }
        let chunk = Chunk {
            seq: ext_seq,
            samples,
            arrival,
        };
        if let Ok(dropped) = self.store.insert(ts, chunk) {
            self.counters.packets_overflow += dropped as u64;
        }
    }

    /// Whether a packet of `ssrc` belongs to the followed source, switching to it when the
    /// followed one has been silent for [`SSRC_SILENCE`].
    fn follows(&mut self, ssrc: u32, timestamp: u32, arrival: Instant) -> bool {
        match self.ssrc {
            None => {
                self.ssrc = Some(ssrc);
                true
            }
            Some(s) if s == ssrc => true,
            Some(old) => {
                let silent_since = self.heard.unwrap_or(arrival);
                if arrival < silent_since + SSRC_SILENCE {
                    return false;
                }
                tracing::info!(
                    old = format_args!("{old:08X}"),
                    new = format_args!("{ssrc:08X}"),
                    silent_ms = arrival.saturating_duration_since(silent_since).as_millis(),
                    "audio source changed"
                );
                self.counters.ssrc_changes += 1;
                self.ssrc = Some(ssrc);
                self.reception.restart();
                self.unwrapper = TimestampUnwrapper::new();
                self.last_sr = None;
                self.sender_clock = None;
                // The new timestamps carry on after the old ones, plus the silence.
                let first = self.unwrapper.unwrap(timestamp);
                let gap = arrival
                    .saturating_duration_since(silent_since)
                    .as_secs_f64();
                let continued = self.received_end.map_or(first, |end| {
                    end + (gap * f64::from(self.rate)).round().min(1e12) as i64
                });
                self.offset = continued - first;
                true
            }
        }
    }

    /// Fixes the anchor with the first packet after a PLAY: `timestamp` (as sent) is at
    /// extended timestamp `ts`.
    fn place(&mut self, timestamp: u32, ts: i64) {
        if self.anchor.is_some() {
            return;
        }
        let Some(start) = self.start else {
            return;
        };
        self.anchor = Some(match start.rtptime {
            Some(rtptime) => Anchor {
                ts: ts + i64::from(timestamp_delta(rtptime, timestamp)),
                npt: start.npt,
                by: AnchorBy::RtpInfo,
            },
            None => Anchor {
                ts,
                npt: start.npt,
                by: AnchorBy::FirstPacket,
            },
        });
    }

    /// The followed source's newest sender report: its RTP timestamp, extended as the packets
    /// are, and its NTP time.
    pub fn sender_clock(&self) -> Option<(i64, SystemTime)> {
        let (rtp, wall) = self.sender_clock?;
        let last = self.unwrapper.last()?;
        let ts = last + i64::from(timestamp_delta(rtp, last as u32)) + self.offset;
        Some((ts, wall))
    }

    /// Places the track by sender reports whenever they come, before `RTP-Info`: a live
    /// stream's tracks are lined up by the publisher's capture clock (RFC 3550 §6.4.1), which
    /// its sender reports carry through the server; `RTP-Info` there only guesses each
    /// track's next timestamp at the join.
    pub fn prefer_reports(&mut self) {
        self.reports_first = true;
    }

    /// Replaces a provisional anchor (first packet as the Range start; with
    /// [`Receiver::prefer_reports`], `RTP-Info` too) with the sender reports' (RFC 3550
    /// §6.4.1): the timestamp of this track's newest report sits at the NPT `npt_at` gives for
    /// the report's NTP time on the video's clock. True when it did.
    pub fn anchor_by_report(&mut self, npt_at: impl FnOnce(SystemTime) -> Option<f64>) -> bool {
        let replaceable = |by: AnchorBy| {
            by == AnchorBy::FirstPacket || (self.reports_first && by == AnchorBy::RtpInfo)
        };
        if self.anchor.is_none_or(|a| !replaceable(a.by)) {
            return false;
        }
        let Some((ts, wall)) = self.sender_clock() else {
            return false;
        };
        let Some(npt) = npt_at(wall) else {
            return false;
        };
        self.anchor = Some(Anchor {
            ts,
            npt,
            by: AnchorBy::Reports,
        });
        true
    }

    /// One RTCP compound packet of the audio track (RFC 3550 §6.1).
    pub fn rtcp(&mut self, data: &[u8], now: Instant) {
        let Ok(compound) = rtcp::Compound::parse(data) else {
            tracing::debug!(len = data.len(), "malformed audio RTCP packet ignored");
            return;
        };
        for packet in compound.iter() {
            match packet {
                rtcp::Packet::SenderReport(sr) if self.ssrc.is_none_or(|s| s == sr.ssrc()) => {
                    let info = sr.sender_info();
                    self.last_sr = Some(LastSr::new(info.ntp_timestamp, now));
                    if let Some(wall) = info.ntp_timestamp.to_system_time() {
                        self.sender_clock = Some((info.rtp_timestamp, wall));
                    }
                }
                rtcp::Packet::Goodbye(bye)
                    if self.ssrc.is_none() || bye.sources().any(|s| Some(s) == self.ssrc) =>
                {
                    tracing::debug!("audio RTCP BYE");
                    self.bye_at.get_or_insert(now);
                }
                _ => {}
            }
        }
    }

    /// The report block about the followed source (RFC 3550 §6.4.2), closing the interval.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        self.reception
            .report_block(ssrc, self.last_sr.as_ref(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdstream_common::audio::{Encoding, l16};

    pub(crate) const MS: Duration = Duration::from_millis(1);

    pub(crate) fn l16_stereo() -> Format {
        Format {
            encoding: Encoding::L16,
            payload_type: 96,
            clock_rate: 48_000,
            channels: 2,
        }
    }

    /// An L16 stereo packet of `frames` sample frames, each sample `value`.
    pub(crate) fn packet(ssrc: u32, seq: u16, ts: u32, frames: usize, value: i16) -> Vec<u8> {
        let mut payload = Vec::new();
        l16::write(&vec![value; frames * 2], &mut payload);
        let h = rtp::Header {
            marker: false,
            payload_type: 96,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
        };
        let mut out = Vec::new();
        h.append(&[&payload], &mut out).unwrap();
        out
    }

    fn started(now: Instant, rtptime: Option<u32>) -> Receiver {
        let mut r = Receiver::new(l16_stereo(), now).unwrap();
        let info = TrackStart {
            seq: Some(100),
            rtptime,
        };
        r.start(2.0, Some(info), now);
        r
    }

    #[test]
    fn rtp_info_places_the_samples_on_the_media_timeline() {
        let t0 = Instant::now();
        let mut r = Receiver::new(l16_stereo(), t0).unwrap();
        // Before the PLAY reply, packets wait; one sent before the PLAY is dropped.
        r.rtp(&packet(7, 99, 1_000_000 - 960, 960, 9), t0, None);
        r.rtp(&packet(7, 101, 1_000_960, 960, 2), t0, None);
        r.rtp(&packet(7, 100, 1_000_000, 960, 1), t0, None);
        assert!(r.store().is_empty());
        r.start(
            2.0,
            Some(TrackStart {
                seq: Some(100),
                rtptime: Some(1_000_000),
            }),
            t0,
        );
        let a = r.anchor().unwrap();
        assert_eq!(a.by, AnchorBy::RtpInfo);
        assert_eq!(a.npt_of(a.ts + 48_000, 48_000), 3.0);
        assert_eq!(r.store().frames(), 1920);
        let c = r.counters();
        assert_eq!(
            (c.packets_received, c.packets_lost, c.packets_dropped),
            (2, 0, 0)
        );
        assert_eq!(r.first_seq(), Some(100));
    }

    #[test]
    fn bad_payloads_and_other_payload_types_are_counted_drops() {
        let t0 = Instant::now();
        let mut r = started(t0, Some(0));
        let mut odd = packet(7, 100, 0, 10, 0);
        odd.pop();
        r.rtp(&odd, t0, None);
        let mut other_pt = packet(7, 101, 0, 10, 0);
        other_pt[1] = 0; // PT 0
        r.rtp(&other_pt, t0, None);
        r.rtp(&[0x80, 96, 0], t0, None);
        assert_eq!(r.counters().packets_dropped, 3);
        assert!(r.store().is_empty());
    }

    #[test]
    fn another_ssrc_is_followed_only_after_silence_and_continues_the_timeline() {
        let t0 = Instant::now();
        let mut r = started(t0, Some(5000));
        r.rtp(&packet(7, 100, 5000, 960, 1), t0, None);
        r.rtp(&packet(8, 500, 77, 960, 2), t0 + 100 * MS, None);
        assert_eq!(
            r.counters().packets_ignored,
            1,
            "the followed source is alive"
        );
        // 1.5 s of silence, then the new source: its first packet lands 1.5 s after the old
        // source's last sample.
        r.rtp(&packet(8, 501, 1037, 960, 3), t0 + 1500 * MS, None);
        let c = r.counters();
        assert_eq!((c.ssrc_changes, c.packets_ignored), (1, 1));
        assert_eq!(r.ssrc(), Some(8));
        let a = r.anchor().unwrap();
        let ends = a.npt_of(a.ts + 960, 48_000);
        let Some(start) = r.store().end().map(|e| e - 960) else {
            panic!()
        };
        let at = a.npt_of(start, 48_000);
        assert!((at - ends - 1.5).abs() < 1e-3, "{at} after {ends}");
    }

    #[test]
    fn without_rtptime_the_first_packet_is_the_start_until_reports_say_better() {
        let t0 = Instant::now();
        let mut r = started(t0, None);
        r.rtp(&packet(7, 100, 480_000, 960, 1), t0, None);
        let a = r.anchor().unwrap();
        assert_eq!((a.by, a.ts, a.npt), (AnchorBy::FirstPacket, 480_000, 2.0));
        assert!(!r.anchor_by_report(|_| Some(0.0)), "no report yet");
        let mut sr = [0u8; 64];
        let mut w = rtcp::Writer::new(&mut sr);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let info = rtcp::SenderInfo {
            ssrc: 7,
            ntp_timestamp: rtcp::NtpTimestamp::from_system_time(wall),
            rtp_timestamp: 480_000 + 4800,
            packet_count: 1,
            octet_count: 3840,
        };
        w.sender_report(&info, &[]).unwrap();
        let len = w.finish();
        r.rtcp(&sr[..len], t0);
        // The video says that NTP time is NPT 2.25: the audio's report timestamp is there.
        assert!(r.anchor_by_report(|w| (w == wall).then_some(2.25)));
        let a = r.anchor().unwrap();
        assert_eq!(a.by, AnchorBy::Reports);
        assert!((a.npt_of(480_000, 48_000) - 2.15).abs() < 1e-9);
        assert!(!r.anchor_by_report(|_| Some(9.0)), "once");
    }

    #[test]
    fn late_and_duplicate_packets_are_not_stored() {
        let t0 = Instant::now();
        let mut r = started(t0, Some(0));
        r.rtp(&packet(7, 100, 0, 960, 1), t0, None);
        r.rtp(&packet(7, 100, 0, 960, 1), t0, None);
        r.rtp(&packet(7, 101, 960, 960, 1), t0, Some(1920));
        assert_eq!(r.store().frames(), 960);
        let c = r.counters();
        assert_eq!((c.packets_late, c.packets_received), (1, 3));
    }

    #[test]
    fn pcmu_with_a_marker_on_every_packet_is_read_as_ffmpeg_sends_it() {
        let t0 = Instant::now();
        let format = Format::static_payload(0).unwrap();
        let mut r = Receiver::new(format, t0).unwrap();
        r.start(0.0, None, t0);
        for i in 0..3u16 {
            let h = rtp::Header {
                marker: true,
                payload_type: 0,
                sequence_number: i,
                timestamp: u32::from(i) * 160,
                ssrc: 9,
            };
            let mut p = Vec::new();
            h.append(&[&[0xFF; 160]], &mut p).unwrap();
            r.rtp(&p, t0, None);
        }
        assert_eq!(r.store().frames(), 480);
        assert_eq!(r.anchor().map(|a| a.by), Some(AnchorBy::FirstPacket));
        let c = r.counters();
        assert_eq!((c.packets_received, c.packets_dropped), (3, 0));
    }
}
