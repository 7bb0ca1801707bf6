//! The audio output: the track's samples played out on the playout clock as a sound device
//! would play them, into a stream of interleaved samples (`--audio-out` writes it to a WAV
//! file: the record of what was played).
//!
//! ```text
//!  output frame k ── heard at play time origin + k/rate ── media time (video's mapping) ──▶
//!  extended timestamp k + align ──▶ Store: samples │ hole (lost: silence) │ nothing yet (wait)
//! ```
//!
//! **One clock.** The video's playout owns the mapping from media time to play time: every
//! frame it releases says "NPT *x* is due at play time *d*" ([`Output::follow`]). The output
//! starts at the first such due time (frame 0) and plays each frame's sound at the same
//! mapping: output frame *k* is the sample at NPT `x + (origin + k/rate − d)`, found in the
//! store through the track's [`Anchor`]. Frames keep following on from one to the next
//! (`align`, an offset between frame index and timestamp); only when the video's mapping moves
//! by more than [`REALIGN`] (a seek, a rebuffer, a live hold) does the sound jump with it.
//!
//! **Writing.** Like a device's buffer, the output is written ahead of play time (by
//! [`AHEAD`] unless the caller chooses: a call keeps it short, [`Output::with_ahead`]), in steps
//! of at least [`TICK`]:
//! - samples held are written as they are;
//! - a hole (a later packet is held, this one is not) waits [`HOLD`] after that later packet
//!   came, or until it is almost due, then is played as silence: counted concealed by the
//!   sequence numbers missing;
//! - when nothing is held at or after the frame, the output waits; if play time passes it
//!   (the device ran dry) the frames heard meanwhile were silence: an underrun, counted once
//!   until sound resumes, and the samples that were due then are passed over (late);
//! - before the first mapping, across a seek, and after the track ended nothing is written
//!   ahead, and what play time passes meanwhile is silence that stands for nothing. After the
//!   track ends and its last sample is written, the output is finished.
//!
//! A pause stops play time, so the output stops with it. Sans-IO: every entry point takes
//! `now` and the shared [`Clock`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_common::audio::Format;

use super::playhead::Playhead;
use super::receive::{Anchor, Receiver};
use super::stats::Counters;
use super::store::Slot;
use crate::clock::Clock;

/// How far ahead of play time the output is written (a device's buffer): the pictures' lead
/// (`playout::Config::lead`), so a network thread held up that long (a busy machine) makes
/// neither late.
pub const AHEAD: Duration = Duration::from_millis(100);
/// Written at least this much at a time.
pub const TICK: Duration = Duration::from_millis(10);
/// A hole waits this long after the packet past it arrived before it is taken as lost.
pub const HOLD: Duration = Duration::from_millis(20);
/// The video's mapping moves the sound only when it moves by more than this (less is the
/// rounding of one release to the next, or a live stream's arrival jitter).
pub const REALIGN: Duration = Duration::from_millis(15);

/// The track's samples played out.
#[derive(Debug)]
pub struct Output {
    rate: u32,
    channels: usize,
    /// How far ahead of play time it is written.
    ahead: Duration,
    /// Play time of output frame 0.
    origin: Option<Instant>,
    /// The next output frame to write.
    head: u64,
    /// Output frame k plays extended timestamp `k + align`.
    align: Option<i64>,
    /// The video's newest mapping: NPT ↔ play time.
    follow: Option<(f64, Instant)>,
    /// The mapping (the video's, or the track's anchor) changed since the last alignment.
    remap: bool,
    /// In an underrun (counted once until sound resumes).
    underrun: bool,
    /// The highest extended sequence number played or passed over since the last PLAY.
    consumed_seq: Option<u64>,
    /// The hole whose loss was counted (by the timestamp it ends at).
    counted_hole: Option<i64>,
    /// When there is work to do without input (wall time).
    wake: Option<Instant>,
    finished: bool,
    out: Vec<i16>,
    playhead: Arc<Playhead>,
    counters: Counters,
}

impl Output {
    /// An output of `format` that reports its position on `playhead`.
    pub fn new(format: Format, playhead: Arc<Playhead>) -> Output {
        Output {
            rate: format.clock_rate.max(1),
            channels: usize::from(format.channels.max(1)),
            ahead: AHEAD,
            origin: None,
            head: 0,
            align: None,
            follow: None,
            remap: false,
            underrun: false,
            consumed_seq: None,
            counted_hole: None,
            wake: None,
            finished: false,
            out: Vec::new(),
            playhead,
            counters: Counters::default(),
        }
    }

    /// Written `ahead` of play time instead of [`AHEAD`] (the sound then needs to arrive only
    /// that long before it is heard).
    pub fn with_ahead(mut self, ahead: Duration) -> Output {
        self.ahead = ahead;
        self
    }

    /// Its counts: concealment, underruns, frames played.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether the track ended and all of it was written.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The extended timestamp played up to: samples before it are late.
    pub fn played_to(&self) -> Option<i64> {
        Some(self.head as i64 + self.align?)
    }

    /// The video released a frame of media time `npt` due at play time `due`.
    pub fn follow(&mut self, npt: f64, due: Instant) {
        self.follow = Some((npt, due));
        self.remap = true;
        if self.origin.is_none() {
            self.origin = Some(due);
            self.playhead.begin(due, self.rate);
        }
    }

    /// The track's anchor changed (sender reports placed it better).
    pub fn remap(&mut self) {
        self.remap = true;
    }

    /// A PLAY that moves the stream: no mapping until the video's next release.
    pub fn hold(&mut self) {
        self.follow = None;
        self.remap = false;
        self.align = None;
        self.underrun = false;
        self.consumed_seq = None;
        self.counted_hole = None;
        self.finished = false;
    }

    /// Moves the samples written so far to the end of `out` (interleaved).
    pub fn drain(&mut self, out: &mut Vec<i16>) {
        out.append(&mut self.out);
    }

    /// When [`Output::write`] has work to do without input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.wake
    }

    fn frames_to(&self, origin: Instant, t: Instant) -> u64 {
        (t.saturating_duration_since(origin).as_secs_f64() * f64::from(self.rate)) as u64
    }

    /// Play time of output frame `k`.
    fn heard_at(&self, origin: Instant, k: u64) -> Instant {
        origin + Duration::from_secs_f64(k as f64 / f64::from(self.rate))
    }

    /// Follows a new mapping: the timestamp frame 0 would play under it, kept unless it moved
    /// by more than [`REALIGN`]. Only when the mapping changed: while the video stalls
    /// (rebuffering) its last mapping goes stale, and the sound holds where it ran dry.
    fn realign(&mut self, anchor: Option<Anchor>) {
        let (true, Some((npt, due)), Some(anchor), Some(origin)) =
            (self.remap, self.follow, anchor, self.origin)
        else {
            return;
        };
        self.remap = false;
        let since_due = match origin.checked_duration_since(due) {
            Some(after) => after.as_secs_f64(),
            None => -due.saturating_duration_since(origin).as_secs_f64(),
        };
        let want = anchor.ts_of(npt + since_due, self.rate);
        let tolerance = (REALIGN.as_secs_f64() * f64::from(self.rate)) as i64;
        match self.align {
            Some(a) if (want - a).abs() <= tolerance => {}
            old => {
                if let Some(a) = old {
                    tracing::debug!(
                        by_ms = (want - a) as f64 * 1000.0 / f64::from(self.rate),
                        "audio follows the video's new mapping"
                    );
                }
                self.align = Some(want);
                self.counted_hole = None;
            }
        }
    }

    /// Appends `frames` of silence at the head; `npt` is the media time they stand for.
    fn silence(&mut self, frames: u64, npt: Option<f64>) {
        self.out
            .resize(self.out.len() + frames as usize * self.channels, 0);
        self.playhead.wrote(self.head, frames, npt);
        self.head += frames;
        self.counters.frames_played += frames;
        self.counters.frames_silent += frames;
    }

    /// Writes what is due at `now` from the receiver's store. `ended`: no more packets will
    /// come.
    pub fn write(&mut self, now: Instant, clock: &Clock, rx: &mut Receiver, ended: bool) {
        self.wake = None;
        let Some(origin) = self.origin else {
            if ended {
                self.finished = true;
            }
            return;
        };
        if self.finished || clock.is_paused() {
            return;
        }
        let play = clock.play_time(now);
        let anchor = rx.anchor();
        self.realign(anchor);
        let now_k = self.frames_to(origin, play);
        if self.head < now_k {
            // The device played past what was written: it played silence. The sound resumes
            // where it ran dry (the video's next new mapping may move it on).
            let behind = now_k - self.head;
            if let (Some(align), Some(_)) = (&mut self.align, anchor) {
                *align -= behind as i64;
                if !self.underrun && !ended {
                    self.counters.underruns += 1;
                    self.underrun = true;
                    tracing::debug!(
                        behind_ms = behind as f64 * 1000.0 / f64::from(self.rate),
                        "audio underrun"
                    );
                }
            }
            self.silence(behind, None);
        }
        let target = self.frames_to(origin, play + self.ahead);
        while self.head < target {
            let (Some(align), Some(anchor)) = (self.align, anchor) else {
                self.finished = ended;
                break;
            };
            let ts = self.head as i64 + align;
            let want = target - self.head;
            match rx.store().at(ts) {
                Slot::Samples(samples, seq) => {
                    let n = ((samples.len() / self.channels) as u64).min(want);
                    self.out
                        .extend_from_slice(&samples[..n as usize * self.channels]);
                    self.playhead
                        .wrote(self.head, n, Some(anchor.npt_of(ts, self.rate)));
                    self.head += n;
                    self.counters.frames_played += n;
                    self.underrun = false;
                    self.consumed_seq = self.consumed_seq.max(Some(seq));
                }
                Slot::Hole { next, seq, arrival } => {
                    let due = self.heard_at(origin, self.head);
                    if due > play + TICK && now < arrival + HOLD {
                        // Wait for the missing packet a little longer.
                        let until_due = clock.wall_time(due.checked_sub(TICK).unwrap_or(due));
                        self.wake =
                            until_due.map_or(Some(arrival + HOLD), |t| Some(t.min(arrival + HOLD)));
                        break;
                    }
                    if self.counted_hole != Some(next) {
                        self.counted_hole = Some(next);
                        if let Some(last) = self.consumed_seq {
                            self.counters.concealed_packets += seq.saturating_sub(last + 1);
                        }
                    }
                    let n = ((next - ts) as u64).min(want);
                    self.silence(n, Some(anchor.npt_of(ts, self.rate)));
                    self.underrun = false;
                }
                Slot::Empty => {
                    if ended {
                        self.finished = true;
                        tracing::debug!(
                            seconds = self.head as f64 / f64::from(self.rate),
                            "audio played out"
                        );
                    } else {
                        // Wake when the device would run dry (an underrun), if that is ahead.
                        let dry = clock.wall_time(self.heard_at(origin, self.head));
                        self.wake = dry.filter(|&t| t > now);
                    }
                    break;
                }
            }
        }
        if let Some(align) = self.align
            && let Some(seq) = rx.store_mut().prune(self.head as i64 + align)
        {
            self.consumed_seq = self.consumed_seq.max(Some(seq));
        }
        if self.head >= target && self.align.is_some() && !self.finished {
            // The next step: when play time has moved a tick on.
            let next = self.heard_at(origin, self.head) + TICK;
            self.wake = clock.wall_time(next.checked_sub(self.ahead).unwrap_or(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::TrackStart;
    use hdstream_common::audio::Encoding;

    const MS: Duration = Duration::from_millis(1);
    const RATE: u32 = 48_000;
    /// Sample frames a packet (20 ms).
    const PACKET: u32 = 960;
    /// The first packet's RTP timestamp (the `RTP-Info` rtptime of NPT 0).
    const TS0: u32 = 4_000_000_000;
    /// When the video's frame of NPT 0 is due, ms after t0 (the output is written from
    /// [`AHEAD`], 100 ms, before).
    const DUE: u32 = 200;

    fn format() -> Format {
        Format {
            encoding: Encoding::L16,
            payload_type: 96,
            clock_rate: RATE,
            channels: 2,
        }
    }

    use crate::audio::tests::{assert_samples, frame};

    /// Packet `i` of the source (frames `i × 960 ..`), sequence number `i`.
    fn packet(i: u32) -> Vec<u8> {
        crate::audio::tests::l16_packet(i, TS0)
    }

    /// A receiver and an output at t0, the stream started at NPT 0 with packet 0; the video's
    /// frame of NPT 0 due at [`DUE`].
    struct Rig {
        t0: Instant,
        clock: Clock,
        rx: Receiver,
        out: Output,
        playhead: Arc<Playhead>,
        played: Vec<i16>,
        now: Instant,
    }

    impl Rig {
        fn new() -> Rig {
            let t0 = Instant::now();
            let mut rx = Receiver::new(format(), t0).unwrap();
            let info = TrackStart {
                seq: Some(0),
                rtptime: Some(TS0),
            };
            rx.start(0.0, Some(info), t0);
            let playhead = Arc::new(Playhead::new());
            let mut out = Output::new(format(), Arc::clone(&playhead));
            out.follow(0.0, t0 + DUE * MS);
            Rig {
                t0,
                clock: Clock::new(),
                rx,
                out,
                playhead,
                played: Vec::new(),
                now: t0,
            }
        }

        fn receive(&mut self, i: u32) {
            let played_to = self.out.played_to();
            self.rx.rtp(&packet(i), self.now, played_to);
        }

        /// Runs the output every millisecond up to `t0 + ms`.
        fn run_to(&mut self, ms: u32, ended: bool) {
            while self.now < self.t0 + ms * MS {
                self.now += MS;
                self.out.write(self.now, &self.clock, &mut self.rx, ended);
                self.out.drain(&mut self.played);
            }
        }

        fn frames(&self) -> usize {
            self.played.len() / 2
        }

        /// The media time heard at `t0 + ms`.
        fn heard(&self, ms: u32) -> Option<f64> {
            let play = self.clock.play_time(self.t0 + ms * MS);
            self.playhead.media_time(play)
        }
    }

    fn source(from: u32, to: u32) -> Vec<i16> {
        (from..to).flat_map(frame).collect()
    }

    #[track_caller]
    fn assert_near(value: Option<f64>, expected: f64) {
        assert!(
            value.is_some_and(|v| (v - expected).abs() < 1e-3),
            "{value:?}, expected {expected}"
        );
    }

    #[test]
    fn plays_the_samples_in_order_on_the_video_clock_and_finishes_at_their_end() {
        let mut r = Rig::new();
        // 10 packets (200 ms) arrive at once, out of order.
        for i in [1, 0, 2, 3, 5, 4, 6, 7, 8, 9] {
            r.receive(i);
        }
        r.run_to(99, false);
        assert!(
            r.played.is_empty(),
            "nothing before 100 ms ahead of the first due time"
        );
        r.run_to(250, false);
        // Written 100 ms ahead: 150 ms of sound by 250 ms.
        assert!(
            (r.frames() as i64 - 150 * 48).abs() <= 480,
            "{}",
            r.frames()
        );
        assert_eq!(r.heard(DUE - 1), None, "before the first due time");
        assert_near(r.heard(250), 0.05);
        r.run_to(600, true);
        assert!(r.out.is_finished());
        assert_samples(&r.played, &source(0, 10 * PACKET));
        let c = r.out.counters();
        assert_eq!(
            (c.concealed_packets, c.underruns, c.frames_silent),
            (0, 0, 0)
        );
        assert_eq!(c.frames_played, u64::from(10 * PACKET));
    }

    #[test]
    fn a_lost_packet_is_played_as_silence_and_the_rest_stays_in_place() {
        let mut r = Rig::new();
        for i in (0..10).filter(|&i| i != 4) {
            r.receive(i);
        }
        r.run_to(600, true);
        let mut expected = source(0, 10 * PACKET);
        let lost = (4 * PACKET * 2) as usize..(5 * PACKET * 2) as usize;
        expected[lost].fill(0);
        assert_samples(&r.played, &expected);
        let c = r.out.counters();
        assert_eq!((c.concealed_packets, c.underruns), (1, 0));
        assert_eq!(c.frames_silent, u64::from(PACKET));
        // The silence stands for the lost packet's media time.
        assert_near(r.heard(DUE + 90), 0.09);
    }

    #[test]
    fn a_packet_that_comes_late_within_the_hold_fills_its_hole() {
        let mut r = Rig::new();
        for i in [0, 1] {
            r.receive(i);
        }
        // Packet 2 (due at 240 ms) is missing when packet 3 comes at 215 ms: the hole waits
        // 20 ms for it, or until 10 ms before it is due (230 ms).
        r.run_to(215, false);
        r.receive(3);
        r.run_to(225, false);
        r.receive(2);
        for i in 4..10 {
            r.receive(i);
        }
        r.run_to(600, true);
        assert_samples(&r.played, &source(0, 10 * PACKET));
        assert_eq!(r.out.counters().concealed_packets, 0);
    }

    #[test]
    fn an_underrun_plays_silence_and_the_sound_resumes_where_it_ran_dry() {
        let mut r = Rig::new();
        for i in 0..5 {
            r.receive(i);
        }
        // 100 ms of sound from 200 ms; nothing more until 400 ms.
        r.run_to(400, false);
        for i in 5..10 {
            r.receive(i);
        }
        r.run_to(800, true);
        let c = r.out.counters();
        assert_eq!(c.underruns, 1, "{c:?}");
        let silent = c.frames_silent as usize;
        assert!(
            (silent as i64 - 100 * 48).abs() <= 48,
            "{silent} frames of silence"
        );
        let mut expected = source(0, 5 * PACKET);
        expected.resize(expected.len() + silent * 2, 0);
        expected.extend(source(5 * PACKET, 10 * PACKET));
        assert_samples(&r.played, &expected);
        assert_eq!(r.rx.counters().packets_late, 0);
    }

    #[test]
    fn the_sound_jumps_with_the_video_when_its_mapping_moves() {
        let mut r = Rig::new();
        for i in 0..20 {
            r.receive(i);
        }
        r.run_to(250, false);
        // The video's clock re-anchors: NPT 0.2 is due at 260 ms (140 ms ahead of before).
        r.out.follow(0.2, r.t0 + 260 * MS);
        r.run_to(900, true);
        assert_near(r.heard(220), 0.02);
        // What was written ahead (to 350 ms) plays as written, then the new mapping.
        assert_near(r.heard(340), 0.14);
        assert_near(r.heard(360), 0.3);
        // Nothing was concealed: the samples between were passed over.
        assert_eq!(r.out.counters().concealed_packets, 0);
        assert_eq!(*r.played.last().unwrap(), frame(20 * PACKET - 1)[1]);
    }

    #[test]
    fn a_seek_plays_uncounted_silence_until_the_video_maps_again() {
        let mut r = Rig::new();
        for i in 0..5 {
            r.receive(i);
        }
        r.run_to(250, false);
        r.out.hold();
        r.rx.hold();
        r.run_to(400, false);
        assert_eq!(r.out.counters().underruns, 0);
        // The PLAY reply: the stream starts at NPT 10, packet 500 at TS0 + 480000.
        r.rx.start(
            10.0,
            Some(TrackStart {
                seq: Some(500),
                rtptime: Some(TS0.wrapping_add(500 * PACKET)),
            }),
            r.now,
        );
        for i in 500..505 {
            r.receive(i);
        }
        r.out.follow(10.0, r.t0 + 500 * MS);
        let before = r.frames();
        r.run_to(900, true);
        let c = r.out.counters();
        assert_eq!((c.underruns, c.concealed_packets), (0, 0));
        let after = &r.played[before * 2..];
        let first = after.iter().position(|&s| s != 0).unwrap() / 2;
        // The old sound (written ahead before the seek), silence, then the new sound from
        // when its picture is due (output frame 0 plays at DUE).
        let silence = before + first;
        let due = (500 - DUE) as i64 * 48;
        assert!(
            (silence as i64 - due).abs() <= 48,
            "the new sound starts at frame {silence}"
        );
        assert_samples(&after[first * 2..], &source(500 * PACKET, 505 * PACKET));
        assert!(r.out.is_finished());
    }

    #[test]
    fn a_pause_stops_the_output() {
        let mut r = Rig::new();
        for i in 0..10 {
            r.receive(i);
        }
        r.run_to(250, false);
        r.clock.pause(r.now);
        let frames = r.frames();
        r.run_to(1000, false);
        assert_eq!(r.frames(), frames, "nothing written while paused");
        assert_eq!(r.out.poll_timeout(), None);
        r.clock.resume(r.now);
        r.run_to(1400, true);
        assert_samples(&r.played, &source(0, 10 * PACKET));
        assert_eq!(r.out.counters().underruns, 0);
    }
}
