//! The captions track (RFC 4103 real-time text, ITU-T T.140): lines received become cues on
//! the media timeline, shown over the picture and written to `--captions-out`. Sans-IO.
//!
//! ```text
//! RTP ─▶ gate (until the PLAY reply) ─▶ SSRC ─▶ t140::Depacketizer ─▶ lines ─▶ cues ─▶ Board
//! RTCP ─▶ SR: NTP ↔ RTP of this track (RFC 3550 §6.4.1), when RTP-Info did not place it
//! ```
//!
//! **Media time.** The server sends each caption as one T.140 line (ending in U+2028, LF
//! inside for its line breaks), stamped in milliseconds with the caption's start. Extended
//! timestamp `ts` sits at NPT `anchor.npt + (ts − anchor.ts) / 1000`; the anchor is the PLAY
//! reply's `RTP-Info` `rtptime` ↔ its Range start (RFC 2326 §12.33), as for the sound, or else
//! the track's sender report against the video's (RFC 3550 §6.4.1). Lines of one timestamp
//! (a caption's lines, split by the depacketizer at LF) make one cue. A cue ends where the
//! next one starts, at most [`DEFAULT_DURATION`] after its own start.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use hdstream_common::rtcp;
use hdstream_common::rtp::{self, TimestampUnwrapper};
use hdstream_common::text::Cue;
use hdstream_common::text::t140::{self, Depacketizer};

/// How long a cue shows when no other follows it soon.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(3);
/// Packets held at most while a PLAY reply is awaited.
const GATE_CAPACITY: usize = 256;
/// Lines held at most while the track is not yet placed on the media timeline.
const UNPLACED_CAPACITY: usize = 256;
/// Cues kept at most (about 80 hours of a caption every 3 s); past that the oldest go.
const MAX_CUES: usize = 100_000;
/// An NPT from the network is taken within a day either way.
const MAX_NPT: f64 = 86_400.0 * 366.0;

/// The cues received so far, shared with the presenter (the window draws the one at the
/// picture's media time): their one owner. The track is the one writer.
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<Mutex<VecDeque<Cue>>>);

impl Board {
    /// An empty board.
    pub fn new() -> Board {
        Board::default()
    }

    /// The text of the latest cue covering media time `npt` seconds, if any.
    pub fn text_at(&self, npt: f64) -> Option<String> {
        let at = seconds(npt)?;
        let cues = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cues.iter()
            .rev()
            .find(|c| c.covers(at))
            .map(|c| c.text.clone())
    }

    /// A copy of every cue received, in the order received.
    pub fn cues(&self) -> Vec<Cue> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// The cues, to change (the track's).
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Cue>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `npt` seconds as a duration, `None` if negative or not finite.
fn seconds(npt: f64) -> Option<Duration> {
    (npt.is_finite() && npt >= 0.0).then(|| Duration::from_secs_f64(npt.min(MAX_NPT)))
}

/// Counts of the captions track, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Cues made from the lines received.
    pub received: u64,
    /// Characters and sequences the depacketizer dropped or replaced (control characters,
    /// invalid UTF-8), lines dropped before the track could be placed, and packets dropped
    /// (unparsable, another source, the gate full).
    pub dropped: u64,
}

/// Where the track sits on the media timeline: extended timestamp `ts` is at NPT `npt`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Anchor {
    ts: i64,
    npt: f64,
}

impl Anchor {
    fn npt_of(&self, ts: i64) -> f64 {
        self.npt + (ts - self.ts) as f64 / f64::from(t140::CLOCK_RATE)
    }
}

/// The captions track of a session.
#[derive(Debug)]
pub struct Track {
    payload_type: u8,
    /// The source followed: the SETUP reply's, else the first heard.
    ssrc: Option<u32>,
    depacketizer: Depacketizer,
    unwrapper: TimestampUnwrapper,
    anchor: Option<Anchor>,
    /// The Range start of the last PLAY reply, until the track is placed.
    start_npt: Option<f64>,
    /// The newest sender report's RTP timestamp and NTP time.
    sender_clock: Option<(u32, SystemTime)>,
    gate: Option<Vec<Vec<u8>>>,
    /// Lines (extended timestamp, text) waiting for the anchor.
    unplaced: Vec<(i64, String)>,
    /// Extended timestamp of the last cue: a line with the same one joins it.
    last_ts: Option<i64>,
    board: Board,
    counters: Counters,
}

impl Track {
    /// A track of T.140 payload type `payload_type`, publishing its cues on `board`; packets
    /// wait for the first PLAY reply ([`Track::start`]).
    pub fn new(payload_type: u8, board: Board) -> Track {
        Track {
            payload_type,
            ssrc: None,
            depacketizer: Depacketizer::new(),
            unwrapper: TimestampUnwrapper::new(),
            anchor: None,
            start_npt: None,
            sender_clock: None,
            gate: Some(Vec::new()),
            unplaced: Vec::new(),
            last_ts: None,
            board,
            counters: Counters::default(),
        }
    }

    /// The SSRC the SETUP reply named (RFC 2326 §12.39).
    pub fn expect_ssrc(&mut self, ssrc: u32) {
        self.ssrc = Some(ssrc);
    }

    /// The cues received so far, in the order received.
    pub fn cues(&self) -> Vec<Cue> {
        self.board.cues()
    }

    /// Counts so far.
    pub fn counters(&self) -> Counters {
        let c = self.depacketizer.counts();
        Counters {
            received: self.counters.received,
            dropped: self.counters.dropped + c.controls + c.invalid,
        }
    }

    /// A PLAY that moves the stream was sent: packets wait for its reply, which places the
    /// track anew.
    pub fn hold(&mut self) {
        self.anchor = None;
        self.start_npt = None;
        self.gate.get_or_insert_with(Vec::new);
    }

    /// The PLAY reply came: the stream starts at `npt`, and the track's `RTP-Info` entry gives
    /// the timestamp there (`rtptime`), when it has one. Held packets are taken now.
    pub fn start(&mut self, npt: f64, rtptime: Option<u32>) {
        self.start_npt = Some(npt);
        if let Some(rtptime) = rtptime {
            self.anchor = Some(Anchor {
                ts: self.unwrapper.unwrap(rtptime),
                npt,
            });
        }
        for packet in self.gate.take().unwrap_or_default() {
            self.packet(&packet);
        }
        self.place();
    }

    /// One RTP packet of the track.
    pub fn rtp(&mut self, data: &[u8]) {
        match &mut self.gate {
            Some(gate) if gate.len() < GATE_CAPACITY => gate.push(data.to_vec()),
            Some(_) => self.counters.dropped += 1,
            None => self.packet(data),
        }
    }

    /// One RTCP compound packet of the track: its sender reports.
    pub fn rtcp(&mut self, data: &[u8]) {
        let Ok(compound) = rtcp::Compound::parse(data) else {
            tracing::debug!(len = data.len(), "malformed captions RTCP packet ignored");
            return;
        };
        for packet in compound.iter() {
            if let rtcp::Packet::SenderReport(sr) = packet
                && self.ssrc.is_none_or(|s| s == sr.ssrc())
            {
                let info = sr.sender_info();
                if let Some(wall) = info.ntp_timestamp.to_system_time() {
                    self.sender_clock = Some((info.rtp_timestamp, wall));
                }
            }
        }
    }

    /// Places the track by sender reports when the PLAY reply did not (RFC 3550 §6.4.1):
    /// `npt_at` gives the video's NPT at an NTP time.
    pub fn sync(&mut self, npt_at: impl FnOnce(SystemTime) -> Option<f64>) {
        if self.anchor.is_some() || self.start_npt.is_none() {
            return;
        }
        let Some((ts, wall)) = self.sender_clock else {
            return;
        };
        let Some(npt) = npt_at(wall) else {
            return;
        };
        tracing::info!("captions placed on the video's clock by sender reports");
        self.anchor = Some(Anchor {
            ts: self.unwrapper.unwrap(ts),
            npt,
        });
        self.place();
    }

    fn packet(&mut self, data: &[u8]) {
        let Ok(packet) = rtp::Packet::parse(data) else {
            self.counters.dropped += 1;
            return;
        };
        match self.ssrc {
            Some(ssrc) if ssrc != packet.ssrc() => {
                self.counters.dropped += 1;
                return;
            }
            Some(_) => {}
            None => self.ssrc = Some(packet.ssrc()),
        }
        self.depacketizer.push_packet(&packet, self.payload_type);
        // The lines a packet completes, those of one timestamp joined: one caption's lines.
        let mut batch: Vec<(i64, String)> = Vec::new();
        while let Some(line) = self.depacketizer.pull() {
            let ts = self.unwrapper.unwrap(line.timestamp);
            match batch.last_mut() {
                Some((last, text)) if *last == ts => {
                    text.push('\n');
                    text.push_str(&line.text);
                }
                _ => batch.push((ts, line.text)),
            }
        }
        for line in batch {
            if self.unplaced.len() < UNPLACED_CAPACITY {
                self.unplaced.push(line);
            } else {
                self.counters.dropped += 1;
            }
        }
        self.place();
    }

    /// Turns the lines waiting into cues, once the track is placed.
    fn place(&mut self) {
        let Some(anchor) = self.anchor else {
            return;
        };
        if self.unplaced.is_empty() {
            return;
        }
        for (ts, text) in std::mem::take(&mut self.unplaced) {
            self.line(ts, anchor.npt_of(ts), text);
        }
    }

    /// The lines of one packet at extended timestamp `ts`, media time `npt`. The same text
    /// again at the same timestamp is the caption sent again (a sender that repeats the one
    /// showing after a PLAY) and is left out; other text at the same timestamp is the rest of
    /// a caption that took more than one packet.
    fn line(&mut self, ts: i64, npt: f64, text: String) {
        let mut cues = self.board.lock();
        if self.last_ts == Some(ts)
            && let Some(last) = cues.back_mut()
        {
            if last.text != text {
                last.text.push('\n');
                last.text.push_str(&text);
            }
            return;
        }
        let Some(start) = seconds(npt) else {
            // Before the start of the media: nothing to show it against.
            self.counters.dropped += 1;
            return;
        };
        push_cue(&mut cues, start, text);
        self.last_ts = Some(ts);
        self.counters.received += 1;
    }
}

/// Adds a cue starting at `start`: the one before it ends there if it was still showing, and
/// the new one shows for [`DEFAULT_DURATION`]. The oldest go past [`MAX_CUES`].
fn push_cue(cues: &mut VecDeque<Cue>, start: Duration, text: String) {
    if let Some(last) = cues.back_mut()
        && last.start <= start
        && start < last.end
    {
        last.end = start;
    }
    if cues.len() >= MAX_CUES {
        cues.pop_front();
    }
    cues.push_back(Cue::new(start, start + DEFAULT_DURATION, text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdstream_common::rtp::Header;

    const PT: u8 = 98;
    const SSRC: u32 = 0x7e57;
    /// The sender's random timestamp offset, just below the wrap.
    const OFFSET: u32 = u32::MAX - 1500;

    fn header(seq: u16, timestamp: u32, ssrc: u32) -> Header {
        Header {
            marker: false,
            payload_type: PT,
            sequence_number: seq,
            timestamp,
            ssrc,
        }
    }

    fn packet(seq: u16, ms: u32, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        header(seq, OFFSET.wrapping_add(ms), SSRC)
            .append(&[t140::write(text).as_bytes()], &mut out)
            .unwrap();
        out
    }

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_cue_ends_at_the_next_one_or_three_seconds_after_it_starts() {
        let mut cues = VecDeque::new();
        push_cue(&mut cues, ms(1000), "a".into());
        push_cue(&mut cues, ms(2500), "b".into());
        push_cue(&mut cues, ms(9000), "c".into());
        let ends: Vec<_> = cues.iter().map(|c| (c.start, c.end)).collect();
        assert_eq!(
            ends,
            [
                (ms(1000), ms(2500)),
                (ms(2500), ms(5500)),
                (ms(9000), ms(12000))
            ]
        );
    }

    #[test]
    fn a_cue_after_a_seek_back_leaves_the_one_before_alone() {
        let mut cues = VecDeque::new();
        push_cue(&mut cues, ms(8000), "late".into());
        push_cue(&mut cues, ms(1000), "early".into());
        assert_eq!(cues[0].end, ms(11000));
        assert_eq!(cues[1].end, ms(4000));
    }

    #[test]
    fn lines_are_placed_by_rtp_info_across_the_timestamp_wrap() {
        let board = Board::new();
        let mut track = Track::new(PT, board.clone());
        track.expect_ssrc(SSRC);
        // Sent before the reply: held until it comes.
        track.rtp(&packet(1, 2000, "Two\nlines"));
        // The PLAY from NPT 1.5 s: rtptime is the timestamp of 1.5 s.
        track.start(1.5, Some(OFFSET.wrapping_add(1500)));
        track.rtp(&packet(2, 3200, "Later"));
        // The same caption sent again (a PLAY changing the speed): one cue.
        track.rtp(&packet(3, 3200, "Later"));
        track.rtp(&packet(4, 7000, "Last"));
        let cues = track.cues();
        assert_eq!(cues.len(), 3, "{cues:?}");
        assert_eq!((cues[0].start, cues[0].end), (ms(2000), ms(3200)));
        assert_eq!(cues[0].text, "Two\nlines");
        assert_eq!((cues[1].start, cues[1].end), (ms(3200), ms(6200)));
        assert_eq!((cues[2].start, cues[2].end), (ms(7000), ms(10000)));
        assert_eq!(
            track.counters(),
            Counters {
                received: 3,
                dropped: 0
            }
        );
        assert_eq!(board.text_at(2.5).as_deref(), Some("Two\nlines"));
        assert_eq!(board.text_at(6.5), None);
        assert_eq!(board.text_at(7.0).as_deref(), Some("Last"));
    }

    #[test]
    fn without_rtp_info_sender_reports_place_the_lines() {
        let mut track = Track::new(PT, Board::new());
        track.start(0.0, None);
        track.rtp(&packet(1, 4000, "Waits"));
        assert!(track.cues().is_empty(), "not placed yet");
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        track.sender_clock = Some((OFFSET.wrapping_add(3000), wall));
        track.sync(|at| (at == wall).then_some(3.25));
        assert_eq!(track.cues()[0].start, ms(4250));
    }

    #[test]
    fn bad_text_and_other_sources_are_counted_as_dropped() {
        let mut track = Track::new(PT, Board::new());
        track.expect_ssrc(SSRC);
        track.start(0.0, Some(OFFSET));
        let mut bell = Vec::new();
        header(1, OFFSET.wrapping_add(100), SSRC)
            .append(&[b"ok\x07\xE2\x80\xA8".as_slice()], &mut bell)
            .unwrap();
        track.rtp(&bell);
        let mut bad = packet(2, 200, "x");
        let n = bad.len();
        bad[n - 4] = 0xFF; // the 'x' becomes invalid UTF-8
        track.rtp(&bad);
        let mut other = Vec::new();
        header(3, OFFSET, SSRC + 1)
            .append(&[b"y\xE2\x80\xA8".as_slice()], &mut other)
            .unwrap();
        track.rtp(&other);
        track.rtp(&[1, 2, 3]);
        assert_eq!(track.cues().len(), 2);
        assert_eq!(track.cues()[0].text, "ok");
        assert_eq!(
            track.counters(),
            Counters {
                received: 2,
                dropped: 4
            }
        );
    }
}
