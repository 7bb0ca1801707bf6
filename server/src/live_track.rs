//! A published path's tracks beside its frames — sound and captions: the publisher's packets
//! as they came ([`TrackFeed`]), and a viewer's stream of them ([`LiveTrackStream`]).
//!
//! The payloads are passed on untouched — L16, PCMU, PCMA or Opus sound (RFC 3551, RFC 7587), T.140
//! text (RFC 4103) alike (captions from speech decode a copy of the sound, [`crate::speech`], and
//! add their own T.140 packets, [`TrackFeed::push_made`]). Each viewer's stream gives them its own
//! SSRC, sequence numbers and timestamp origin (RFC 3550 §5.1), as it does the frames; a packet is
//! due when it arrives. Time works as for the frames ([`crate::live::Feed`]): the publisher's
//! timestamps become a media time that only grows (a jump back or far ahead is replaced by the
//! arrival gap), and its sender reports on the audio track give each packet its capture time, which
//! the viewer's own sender reports pass on — so the viewer lines sound up with the frames by the
//! publisher's clock (RFC 3550 §6.4.1).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use hdstream_common::rtp;

use crate::sender::{Counters, MAX_LAG, Next};

/// How long packets stay after they arrived.
pub const KEEP: Duration = Duration::from_millis(1000);
/// The largest payload taken (a 20 ms packet of 48 kHz stereo L16 is 3840 bytes).
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// Packets a path holds at most (1 s of 2.5 ms packets).
const MAX_PACKETS: usize = 400;
/// A timestamp step beyond the arrival gap by this much is a publisher's restart.
const LEAP: Duration = Duration::from_millis(500);

/// One published packet.
#[derive(Debug)]
struct Packet {
    payload: Vec<u8>,
    /// Its place on the track's clock, in its clock units from the first.
    media_time: u64,
    arrived: Instant,
    /// The server instant its timestamp stands for: its arrival, for the publisher's packets;
    /// the arrival of the sound it was heard in, for captions from speech
    /// ([`TrackFeed::push_made`]). Sender reports without a capture clock map it.
    reached: Instant,
    capture: Option<SystemTime>,
    marker: bool,
}

/// A path's recent packets of one track, and its clocks.
#[derive(Debug)]
pub struct TrackFeed {
    /// The payload type viewers get (the publisher's).
    pub payload_type: u8,
    /// The track's RTP clock rate.
    pub clock_rate: u32,
    packets: VecDeque<Packet>,
    /// Absolute index of `packets[0]`.
    first: usize,
    /// The newest packet's publisher timestamp, media time and arrival.
    last: Option<(u32, u64, Instant)>,
    /// The publisher's newest sender report for its audio: RTP timestamp and wall clock.
    sender_clock: Option<(u32, SystemTime)>,
}

impl TrackFeed {
    /// An empty feed of `payload_type` at `clock_rate`.
    pub fn new(payload_type: u8, clock_rate: u32) -> TrackFeed {
        TrackFeed {
            payload_type,
            clock_rate,
            packets: VecDeque::new(),
            first: 0,
            last: None,
            sender_clock: None,
        }
    }

    /// A new publisher takes the path with `payload_type` at `clock_rate`: what is held goes,
    /// the numbering stays.
    pub fn restart(&mut self, payload_type: u8, clock_rate: u32) {
        self.payload_type = payload_type;
        self.clock_rate = clock_rate;
        self.first += self.packets.len();
        self.packets.clear();
        self.sender_clock = None;
    }

    /// The publisher left: the packets go.
    pub fn off_air(&mut self) {
        self.first += self.packets.len();
        self.packets.clear();
        self.sender_clock = None;
    }

    /// Packets taken since the path began (the next one's absolute index).
    pub fn end(&self) -> usize {
        self.first + self.packets.len()
    }

    /// A sender report from the publisher about this track (RFC 3550 §6.4.1).
    pub fn sender_report(&mut self, rtp_timestamp: u32, wall: SystemTime) {
        self.sender_clock = Some((rtp_timestamp, wall));
    }

    /// A packet from the publisher, arrived at `now`. A payload over [`MAX_PAYLOAD`] is
    /// refused (`false`: the caller counts it).
    pub fn push(&mut self, packet: &rtp::Packet<'_>, now: Instant) -> bool {
        let payload = packet.payload();
        if payload.len() > MAX_PAYLOAD {
            return false;
        }
        let timestamp = packet.timestamp();
        let media_time = self.media_time(timestamp, now);
        let rate = f64::from(self.clock_rate.max(1));
        let capture = self.sender_clock.map(|(rtp, wall)| {
            let ticks = timestamp.wrapping_sub(rtp) as i32;
            let offset = Duration::from_secs_f64(f64::from(ticks.unsigned_abs()) / rate);
            if ticks >= 0 {
                wall + offset
            } else {
                wall.checked_sub(offset).unwrap_or(wall)
            }
        });
        self.packets.push_back(Packet {
            payload: payload.to_vec(),
            media_time,
            arrived: now,
            reached: now,
            capture,
            marker: packet.marker(),
        });
        self.evict(now);
        true
    }

    /// A packet the server made itself (captions from speech, [`crate::speech`]): `payload`
    /// at `media_time` (in the track's clock units, never before the previous packet's),
    /// standing for the server instant `reached` and the publisher's capture time `capture`,
    /// ready at `now`. A payload over [`MAX_PAYLOAD`] is refused (`false`).
    pub fn push_made(
        &mut self,
        payload: &[u8],
        marker: bool,
        media_time: u64,
        reached: Instant,
        capture: Option<SystemTime>,
        now: Instant,
    ) -> bool {
        if payload.len() > MAX_PAYLOAD {
            return false;
        }
        let media_time = self.last.map_or(media_time, |(_, m, _)| media_time.max(m));
        self.last = Some((media_time as u32, media_time, now));
        self.packets.push_back(Packet {
            payload: payload.to_vec(),
            media_time,
            arrived: now,
            reached,
            capture,
            marker,
        });
        self.evict(now);
        true
    }

    /// When the newest packet happened: its media time, the instant it stands for and its
    /// capture time.
    pub fn newest(&self) -> Option<crate::source::Moment> {
        self.packets.back().map(|p| crate::source::Moment {
            media_time: p.media_time,
            arrived: p.reached,
            capture: p.capture,
        })
    }

    /// Drops the packets beyond [`MAX_PACKETS`] and those older than [`KEEP`]; never the
    /// newest.
    fn evict(&mut self, now: Instant) {
        while self.packets.len() > 1
            && (self.packets.len() > MAX_PACKETS
                || now.saturating_duration_since(self.packets[0].arrived) > KEEP)
        {
            self.packets.pop_front();
            self.first += 1;
        }
    }

    /// The media time of a packet stamped `timestamp` arriving at `now`.
    fn media_time(&mut self, timestamp: u32, now: Instant) -> u64 {
        let Some((last_ts, last_media, last_arrival)) = self.last else {
            self.last = Some((timestamp, 0, now));
            return 0;
        };
        let rate = f64::from(self.clock_rate.max(1));
        let gap = now.saturating_duration_since(last_arrival);
        let gap_ticks = (gap.as_secs_f64() * rate) as i64;
        let delta = i64::from(timestamp.wrapping_sub(last_ts) as i32);
        let leap = (LEAP.as_secs_f64() * rate) as i64;
        // Packets of one burst may arrive together: any forward step within the gap and the
        // leap is the publisher's own timing.
        let usable = delta >= 0 && delta <= gap_ticks + leap;
        let step = if usable { delta } else { gap_ticks.max(1) };
        let media = last_media + step as u64;
        self.last = Some((timestamp, media, now));
        media
    }

    fn get(&self, index: usize) -> Option<&Packet> {
        self.packets.get(index.checked_sub(self.first)?)
    }
}

/// One viewer's stream of a path's track.
#[derive(Debug)]
pub struct LiveTrackStream {
    /// RTP SSRC (random, RFC 3550 §8).
    pub ssrc: u32,
    next_seq: u16,
    ts_origin: u32,
    /// The next packet (absolute index) to send.
    position: usize,
    playing: bool,
    /// Media time the next packet is expected at (for `RTP-Info` before it arrives).
    expected_media_time: u64,
    /// The newest packet's timestamp, and its capture time (or, unknown, its arrival).
    last_sent: Option<(u32, Instant, Option<SystemTime>)>,
    /// The packet whose sender report has gone ahead of it ([`LiveTrackStream::wants_report`]).
    reported: Option<usize>,
    /// What has been sent.
    pub counters: Counters,
}

impl LiveTrackStream {
    /// A stream with random SSRC, initial sequence number and timestamp origin.
    pub fn new(random: [u32; 3]) -> LiveTrackStream {
        let [ssrc, seq, ts] = random;
        LiveTrackStream {
            ssrc,
            next_seq: seq as u16,
            ts_origin: ts,
            position: 0,
            playing: false,
            expected_media_time: 0,
            last_sent: None,
            reported: None,
            counters: Counters::default(),
        }
    }

    /// Whether a packet of `feed` waits to be sent whose sender report has not gone ahead of
    /// it; captions want one (ffmpeg times T.140 from the last report, see
    /// [`crate::captions`]). The report maps the packet's own capture time and timestamp.
    pub fn wants_report(&self, feed: &TrackFeed) -> bool {
        let next = self.position.max(feed.first);
        self.playing && feed.get(next).is_some() && self.reported != Some(next)
    }

    /// The report for the next packet of `feed` has gone: it maps that packet.
    pub fn reported(&mut self, feed: &TrackFeed) {
        let next = self.position.max(feed.first);
        if let Some(p) = feed.get(next) {
            let timestamp = self.ts_origin.wrapping_add(p.media_time as u32);
            self.last_sent = Some((timestamp, p.reached, p.capture));
        }
        self.reported = Some(next);
    }

    /// The sequence number the next packet carries.
    pub fn next_sequence_number(&self) -> u16 {
        self.next_seq
    }

    /// The RTP timestamp the next packet carries (expected).
    pub fn next_timestamp(&self) -> u32 {
        self.ts_origin.wrapping_add(self.expected_media_time as u32)
    }

    /// Starts from the next packet `feed` gets (RFC 2326 §10.5 `npt=now-`).
    pub fn join(&mut self, feed: &TrackFeed) {
        self.position = feed.end();
        self.playing = true;
        if let Some((_, media, _)) = feed.last {
            self.expected_media_time = media + u64::from(feed.clock_rate / 50);
        }
    }

    /// Stops sending.
    pub fn pause(&mut self) {
        self.playing = false;
    }

    /// A sender report's NTP ↔ RTP pair (RFC 3550 §6.4.1) at `now`: the newest packet's
    /// capture time passed on, else `wall_now` and the timestamp due now; `None` before the
    /// first packet.
    pub fn report_clock(
        &self,
        now: Instant,
        wall_now: SystemTime,
        clock_rate: u32,
    ) -> Option<(SystemTime, u32)> {
        let (ts, arrived, capture) = self.last_sent?;
        if let Some(capture) = capture {
            return Some((capture, ts));
        }
        let ticks = now.saturating_duration_since(arrived).as_secs_f64() * f64::from(clock_rate);
        Some((wall_now, ts.wrapping_add(ticks as u32)))
    }

    /// Appends every packet that has arrived and not left to `out`, each once `accept` takes
    /// it. A viewer more than [`MAX_LAG`] behind jumps to the newest packet.
    pub fn send(
        &mut self,
        feed: &TrackFeed,
        now: Instant,
        out: &mut Vec<u8>,
        accept: &mut dyn FnMut(usize, &mut Vec<u8>) -> bool,
    ) -> Next {
        if !self.playing {
            return Next::Idle;
        }
        if self.position < feed.first {
            self.counters.skipped += (feed.first - self.position) as u64;
            self.position = feed.first;
        }
        let end = feed.end();
        if let Some(p) = feed.get(self.position)
            && now.saturating_duration_since(p.arrived) >= MAX_LAG
            && end - 1 > self.position
        {
            self.counters.skipped += (end - 1 - self.position) as u64;
            self.position = end - 1;
        }
        while let Some(p) = feed.get(self.position) {
            // Captions, whose sender report goes right before each ([`Self::wants_report`]):
            // one caption (its blocks share a timestamp) at a time; the next after its own.
            if let Some(r) = self.reported
                && self.position > r
                && feed.get(r).is_none_or(|q| q.media_time != p.media_time)
            {
                return Next::At(now);
            }
            let len = rtp::Header::LEN + p.payload.len();
            if !accept(len, out) {
                return Next::Held;
            }
            let timestamp = self.ts_origin.wrapping_add(p.media_time as u32);
            let header = rtp::Header {
                marker: p.marker,
                payload_type: feed.payload_type,
                sequence_number: self.next_seq,
                timestamp,
                ssrc: self.ssrc,
            };
            if header.append(&[&p.payload], out).is_err() {
                return Next::Held;
            }
            self.last_sent = Some((timestamp, p.reached, p.capture));
            self.expected_media_time = p.media_time;
            self.next_seq = self.next_seq.wrapping_add(1);
            self.position += 1;
            self.counters.packets += 1;
            self.counters.frames += 1;
            self.counters.octets += p.payload.len() as u64;
        }
        Next::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sent_packets as sent;

    fn pcmu() -> TrackFeed {
        TrackFeed::new(0, 8000)
    }

    fn packet(seq: u16, ts: u32, fill: u8) -> Vec<u8> {
        let header = rtp::Header {
            marker: seq == 0,
            payload_type: 0,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 0xABC,
        };
        let mut out = Vec::new();
        header.append(&[&[fill; 160]], &mut out).unwrap();
        out
    }

    #[test]
    fn a_viewer_gets_each_packet_from_its_join_untouched_under_its_own_numbers() {
        let mut feed = pcmu();
        let t0 = Instant::now();
        let at = |k: u64| t0 + Duration::from_millis(20 * k);
        let p = packet(0, 5000, 0);
        feed.push(&rtp::Packet::parse(&p).unwrap(), at(0));
        let mut viewer = LiveTrackStream::new([9, 100, 1_000_000]);
        viewer.join(&feed);
        assert_eq!(viewer.next_timestamp(), 1_000_000 + 160);
        for k in 1..5u16 {
            let p = packet(k, 5000 + 160 * u32::from(k), k as u8);
            feed.push(&rtp::Packet::parse(&p).unwrap(), at(u64::from(k)));
        }
        let out = sent(&mut viewer, &feed, at(5));
        assert_eq!(out.len(), 4, "from the packet after the join");
        for (i, p) in out.iter().enumerate() {
            let p = rtp::Packet::parse(p).unwrap();
            assert_eq!(p.ssrc(), 9);
            assert_eq!(p.sequence_number(), 100 + i as u16);
            assert_eq!(p.timestamp(), 1_000_000 + 160 * (i as u32 + 1));
            assert_eq!(p.payload(), &[(i + 1) as u8; 160][..]);
        }
    }

    #[test]
    fn a_stalled_viewer_jumps_to_the_newest_and_counts_what_it_skipped() {
        let mut feed = pcmu();
        let t0 = Instant::now();
        let mut viewer = LiveTrackStream::new([9, 0, 0]);
        viewer.join(&feed);
        for k in 0..40u16 {
            let p = packet(k, 160 * u32::from(k), 1);
            let now = t0 + Duration::from_millis(20 * u64::from(k));
            feed.push(&rtp::Packet::parse(&p).unwrap(), now);
        }
        let out = sent(&mut viewer, &feed, t0 + Duration::from_millis(800));
        assert_eq!(out.len(), 1);
        assert_eq!(viewer.counters.skipped, 39);
    }

    #[test]
    fn capture_times_come_from_the_publishers_audio_reports() {
        let mut feed = pcmu();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        feed.sender_report(8000, wall);
        let t0 = Instant::now();
        let mut viewer = LiveTrackStream::new([9, 0, 50]);
        viewer.join(&feed);
        let p = packet(0, 16_000, 1);
        feed.push(&rtp::Packet::parse(&p).unwrap(), t0);
        sent(&mut viewer, &feed, t0);
        let (ntp, ts) = viewer.report_clock(t0, SystemTime::now(), 8000).unwrap();
        assert_eq!((ntp, ts), (wall + Duration::from_secs(1), 50));
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let mut feed = pcmu();
        let header = rtp::Header {
            marker: false,
            payload_type: 0,
            sequence_number: 0,
            timestamp: 0,
            ssrc: 1,
        };
        let mut out = Vec::new();
        header
            .append(&[&vec![0; MAX_PAYLOAD + 1]], &mut out)
            .unwrap();
        assert!(!feed.push(&rtp::Packet::parse(&out).unwrap(), Instant::now()));
        assert_eq!(feed.end(), 0);
    }
}
