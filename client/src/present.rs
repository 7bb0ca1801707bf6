//! The presentation side of the sink: decoded pictures wait for their time; a picture whose
//! successor is already due (and decoded) is late, dropped and counted; pictures from before a
//! seek are thrown away. Their times are play time, and pause, the seek epoch and lateness are
//! the shared [`Clock`]'s (the client core pauses and seeks it). The window and the headless
//! sink both run this; it reads no clock (sans-IO), so it is tested with a fake one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_video::decoder::rgba_to_0rgb;

use crate::audio::{Offsets, Playhead};
use crate::clock::Clock;
use crate::decode::{Decoded, Picture};
#[cfg(test)]
use crate::playout::Stamp;
use crate::stats::{Histogram, PauseRecord, SeekRecord};

/// A picture is shown when its due time is at most this far ahead.
const EARLY: Duration = Duration::from_millis(1);

/// What the sink measured.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    /// Pictures shown.
    pub displayed: u64,
    /// Pictures thrown away by a seek.
    pub flushed: u64,
    /// Frames that did not decode (reported by the decoders).
    pub undecodable: u64,
    /// Arrival of the frame's last packet to the picture on screen.
    pub latency: Histogram,
    /// The sender's capture of the frame to the picture on screen (live streams, whose
    /// sender reports carry the publisher's capture clock; a file has no capture time).
    pub capture_latency: Histogram,
    /// Between consecutive pictures on screen.
    pub interval: Histogram,
    /// First and last picture on screen.
    pub first_shown: Option<Instant>,
    /// See `first_shown`.
    pub last_shown: Option<Instant>,
    /// Size of the last picture shown.
    pub size: Option<(usize, usize)>,
    /// NPT of every picture shown, when recording.
    pub displayed_npt: Vec<f64>,
    /// A checksum of every picture's pixels ([`pixel_checksum`]), when recording.
    pub displayed_checksums: Vec<u64>,
    /// Capture to display of every picture shown, ms (`None`: capture time unknown), when
    /// recording.
    pub displayed_capture_ms: Vec<Option<f64>>,
    /// Where the sound output was when each picture went on screen, seconds of the output
    /// stream ([`Playhead::position`]; `None`: no sound yet), when recording.
    pub displayed_sound_s: Vec<Option<f64>>,
    /// The mean brightness of every picture shown ([`brightness`]), when recording.
    pub displayed_brightness: Vec<u8>,
    /// Seeks.
    pub seeks: Vec<SeekRecord>,
    /// Pauses.
    pub pauses: Vec<PauseRecord>,
    /// For each picture shown while sound was heard: its NPT less the NPT of the sound the
    /// audio output plays at that moment ([`Playhead::media_time`]), seconds.
    pub av_offset: Offsets,
}

struct Entry(Picture);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.stamp.due == other.0.stamp.due
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .stamp
            .due
            .cmp(&other.0.stamp.due)
            .then(self.0.stamp.npt.total_cmp(&other.0.stamp.npt))
    }
}

/// What to do next.
#[derive(Debug)]
pub enum Next {
    /// Show this picture now (then call [`Presenter::shown`]).
    Show(Picture),
    /// Nothing before this instant.
    Wait(Instant),
    /// Nothing queued (or paused).
    Idle,
}

/// Pictures waiting for their time.
pub struct Presenter {
    clock: Arc<Clock>,
    playhead: Option<Arc<Playhead>>,
    queue: BinaryHeap<Reverse<Entry>>,
    record: bool,
    last_npt: Option<f64>,
    /// The epoch and due time of the last picture shown: one decoded after it, due no later,
    /// has missed its turn (two decode threads finish out of order).
    last_due: Option<(u64, Instant)>,
    seek_pending: Option<(usize, Instant)>,
    resume_pending: Option<usize>,
    stats: SinkStats,
}

impl std::fmt::Debug for Presenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presenter")
            .field("clock", &self.clock)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Presenter {
    /// An empty presenter showing against `clock`; with `record`, the NPT of every picture
    /// shown is kept.
    pub fn new(clock: Arc<Clock>, record: bool) -> Presenter {
        Presenter {
            clock,
            playhead: None,
            queue: BinaryHeap::new(),
            record,
            last_npt: None,
            last_due: None,
            seek_pending: None,
            resume_pending: None,
            stats: SinkStats::default(),
        }
    }

    /// Measures each picture shown against the sound `playhead` says is heard then.
    pub fn with_playhead(mut self, playhead: Arc<Playhead>) -> Presenter {
        self.playhead = Some(playhead);
        self
    }

    /// The clock it shows against.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// The NPT of the last picture shown.
    pub fn position(&self) -> Option<f64> {
        self.last_npt
    }

    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    /// Pictures waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// What was measured.
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }

    /// Takes what was measured.
    pub fn into_stats(self) -> SinkStats {
        self.stats
    }

    /// Takes one decoder output; a picture it will not show is handed back for recycling.
    pub fn push(&mut self, decoded: Decoded) -> Option<Picture> {
        let epoch = self.clock.epoch();
        match decoded {
            Decoded::Failed { epoch: e } => {
                if e >= epoch {
                    self.stats.undecodable += 1;
                }
                None
            }
            Decoded::Picture(p) if p.stamp.epoch < epoch => {
                self.stats.flushed += 1;
                Some(p)
            }
            Decoded::Picture(p) => {
                self.queue.push(Reverse(Entry(p)));
                None
            }
        }
    }

    /// The next thing to do at wall time `now`; late pictures, and pictures from before a
    /// seek, met on the way go to `recycle`.
    pub fn poll(&mut self, now: Instant, mut recycle: impl FnMut(Picture)) -> Next {
        if self.clock.is_paused() {
            return Next::Idle;
        }
        let epoch = self.clock.epoch();
        let play = self.clock.play_time(now);
        loop {
            let Some(Reverse(Entry(first))) = self.queue.peek() else {
                return Next::Idle;
            };
            if first.stamp.epoch >= epoch && first.stamp.due > play + EARLY {
                let at = first
                    .stamp
                    .due
                    .checked_sub(EARLY)
                    .unwrap_or(first.stamp.due);
                return self.clock.wall_time(at).map_or(Next::Idle, Next::Wait);
            }
            let Some(Reverse(Entry(picture))) = self.queue.pop() else {
                return Next::Idle;
            };
            if picture.stamp.epoch < epoch {
                self.stats.flushed += 1;
                recycle(picture);
                continue;
            }
            // Its successor is already on screen: showing it now would step back in time.
            if self
                .last_due
                .is_some_and(|(e, due)| e == picture.stamp.epoch && picture.stamp.due <= due)
            {
                tracing::debug!(
                    npt = picture.stamp.npt,
                    "picture decoded after its successor was shown: dropped"
                );
                self.clock.count_late();
                recycle(picture);
                continue;
            }
            // Late: its successor's time has come and the successor is here to be shown.
            // (A late picture with nothing after it yet is still the best there is.)
            let successor_due = self
                .queue
                .peek()
                .is_some_and(|Reverse(Entry(next))| next.stamp.due <= play + EARLY);
            if successor_due
                && self
                    .clock
                    .is_late(picture.stamp.due, picture.stamp.late_after, now)
            {
                tracing::debug!(
                    npt = picture.stamp.npt,
                    late_ms = (play - picture.stamp.due).as_secs_f64() * 1e3,
                    "picture late after decoding: dropped"
                );
                self.clock.count_late();
                recycle(picture);
                continue;
            }
            return Next::Show(picture);
        }
    }

    /// `picture` went on screen at `now`.
    pub fn shown(&mut self, picture: &Picture, now: Instant) {
        let s = &mut self.stats;
        s.displayed += 1;
        s.latency
            .record(now.saturating_duration_since(picture.stamp.arrival));
        if let Some(captured) = picture.stamp.captured {
            s.capture_latency
                .record(now.saturating_duration_since(captured));
        }
        if let Some(last) = s.last_shown {
            s.interval.record(now.saturating_duration_since(last));
        }
        s.first_shown.get_or_insert(now);
        s.last_shown = Some(now);
        if let Some(heard) = self
            .playhead
            .as_ref()
            .and_then(|p| p.media_time(self.clock.play_time(now)))
        {
            s.av_offset.record(picture.stamp.npt - heard);
        }
        s.size = Some((picture.width, picture.height));
        if self.record {
            s.displayed_npt.push(picture.stamp.npt);
            s.displayed_checksums.push(rgba_checksum(&picture.pixels));
            s.displayed_brightness.push(brightness(&picture.pixels));
            s.displayed_capture_ms.push(
                picture
                    .stamp
                    .captured
                    .map(|c| now.saturating_duration_since(c).as_secs_f64() * 1000.0),
            );
            s.displayed_sound_s.push(
                self.playhead
                    .as_ref()
                    .and_then(|p| p.position(self.clock.play_time(now))),
            );
        }
        if let Some((i, asked)) = self.seek_pending.take()
            && let Some(seek) = s.seeks.get_mut(i)
        {
            seek.first_frame_s = Some(picture.stamp.npt);
            seek.delay_ms = Some(now.saturating_duration_since(asked).as_secs_f64() * 1000.0);
        }
        if let Some(i) = self.resume_pending.take()
            && let Some(pause) = s.pauses.get_mut(i)
        {
            pause.resumed_frame_s = Some(picture.stamp.npt);
        }
        self.last_npt = Some(picture.stamp.npt);
        self.last_due = Some((picture.stamp.epoch, picture.stamp.due));
    }

    /// The user asked for a seek to `target` at `now` (the client core then seeks the clock):
    /// everything queued is thrown away into `recycle`, and the seek is recorded.
    pub fn seek(&mut self, target: f64, now: Instant, mut recycle: impl FnMut(Picture)) {
        while let Some(Reverse(Entry(p))) = self.queue.pop() {
            self.stats.flushed += 1;
            recycle(p);
        }
        self.resume_pending = None;
        self.stats.seeks.push(SeekRecord {
            target_s: target,
            first_frame_s: None,
            delay_ms: None,
        });
        self.seek_pending = Some((self.stats.seeks.len() - 1, now));
    }

    /// The user asked for a pause (the client core pauses the clock): recorded.
    pub fn pause(&mut self) {
        self.stats.pauses.push(PauseRecord {
            last_frame_s: self.last_npt,
            ..PauseRecord::default()
        });
    }

    /// The user asked to resume: the next picture shown is recorded as where it went on.
    pub fn resume(&mut self) {
        self.resume_pending = Some(self.stats.pauses.len().saturating_sub(1));
    }
}

/// FNV-1a over the `0x00RRGGBB` pixels, so tests can compare every shown picture with a
/// decoding of the file's frame without keeping the pictures.
pub fn pixel_checksum(pixels: &[u32]) -> u64 {
    fnv(pixels.iter().copied())
}

/// The mean of R, G and B over every 61st RGBA pixel (a prime stride, so no column or row is
/// favoured): 0 black … 255 white. What a test reads to find bright frames (the pattern's
/// flashes) without keeping the pictures.
pub fn brightness(pixels: &[u32]) -> u8 {
    let (sum, n) = pixels.iter().step_by(61).fold((0u64, 0u64), |(s, n), &p| {
        let [r, g, b, _] = p.to_le_bytes();
        (s + u64::from(r) + u64::from(g) + u64::from(b), n + 3)
    });
    (sum / n.max(1)) as u8
}

/// [`pixel_checksum`] of RGBA pixels (a decoded [`Picture`]'s): the same value as for the
/// picture in `0x00RRGGBB`.
pub fn rgba_checksum(pixels: &[u32]) -> u64 {
    fnv(pixels.iter().map(|&p| rgba_to_0rgb(p)))
}

fn fnv(pixels: impl Iterator<Item = u32>) -> u64 {
    pixels.fold(0xcbf2_9ce4_8422_2325u64, |h, p| {
        (h ^ u64::from(p & 0x00FF_FFFF)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn picture(epoch: u64, npt: f64, due: Instant) -> Decoded {
        Decoded::Picture(Picture {
            stamp: Stamp {
                epoch,
                timestamp: 0,
                npt,
                due,
                arrival: due - 100 * MS,
                captured: None,
                late_after: 33 * MS,
            },
            width: 2,
            height: 2,
            pixels: vec![0; 4],
        })
    }

    #[test]
    fn pictures_show_at_their_time_in_order() {
        let t0 = Instant::now();
        let mut p = Presenter::new(Arc::new(Clock::new()), true);
        // Two decode threads may finish out of order.
        p.push(picture(0, 0.033, t0 + 33 * MS));
        p.push(picture(0, 0.0, t0));
        let Next::Show(first) = p.poll(t0, drop) else {
            panic!()
        };
        assert_eq!(first.stamp.npt, 0.0);
        p.shown(&first, t0);
        assert!(matches!(p.poll(t0 + 10 * MS, drop), Next::Wait(t) if t == t0 + 32 * MS));
        let Next::Show(second) = p.poll(t0 + 33 * MS, drop) else {
            panic!()
        };
        p.shown(&second, t0 + 33 * MS);
        let s = p.stats();
        assert_eq!(s.displayed, 2);
        assert_eq!(s.displayed_npt, [0.0, 0.033]);
        assert!((s.latency.percentiles().max - 100.0).abs() < 0.2);
        assert!((s.interval.percentiles().p50 - 33.0).abs() < 0.1);
    }

    #[test]
    fn a_picture_past_its_successors_time_is_late() {
        let t0 = Instant::now();
        let mut p = Presenter::new(Arc::new(Clock::new()), false);
        p.push(picture(0, 0.0, t0));
        p.push(picture(0, 0.033, t0 + 33 * MS));
        let mut recycled = 0;
        let Next::Show(shown) = p.poll(t0 + 40 * MS, |_| recycled += 1) else {
            panic!()
        };
        assert_eq!(
            shown.stamp.npt, 0.033,
            "frame 0 (due 0 ms) is late at 40 ms; frame 1 is not"
        );
        assert_eq!((p.clock().late(), recycled), (1, 1));
    }

    #[test]
    fn a_picture_decoded_after_its_successor_was_shown_is_dropped() {
        let t0 = Instant::now();
        let mut p = Presenter::new(Arc::new(Clock::new()), true);
        // Thread B finishes frame 1 while thread A is still on frame 0.
        p.push(picture(0, 0.033, t0 + 33 * MS));
        let Next::Show(second) = p.poll(t0 + 33 * MS, drop) else {
            panic!()
        };
        p.shown(&second, t0 + 33 * MS);
        p.push(picture(0, 0.0, t0));
        let mut recycled = 0;
        assert!(matches!(
            p.poll(t0 + 34 * MS, |_| recycled += 1),
            Next::Idle
        ));
        assert_eq!((p.clock().late(), recycled), (1, 1));
        assert_eq!(p.stats().displayed_npt, [0.033], "shown in order, once");
    }

    #[test]
    fn a_late_picture_with_nothing_after_it_is_still_shown() {
        let t0 = Instant::now();
        let mut p = Presenter::new(Arc::new(Clock::new()), false);
        p.push(picture(0, 0.0, t0));
        let Next::Show(shown) = p.poll(t0 + 100 * MS, drop) else {
            panic!()
        };
        assert_eq!(shown.stamp.npt, 0.0);
        assert_eq!(p.clock().late(), 0);
    }

    #[test]
    fn a_seek_flushes_what_came_before() {
        let t0 = Instant::now();
        let mut p = Presenter::new(Arc::new(Clock::new()), false);
        p.push(picture(0, 1.0, t0));
        p.seek(6.0, t0, drop);
        // The client core seeks the clock when it takes the command.
        assert_eq!(p.clock().seek(t0 + MS), 1);
        assert!(
            p.push(picture(0, 1.033, t0)).is_some(),
            "released before the seek"
        );
        // One decoded before the seek was taken, one after it.
        p.push(picture(1, 6.0, t0 + 50 * MS));
        p.push(picture(1, 6.033, t0 + 83 * MS));
        p.clock().pause(t0 + 2 * MS);
        p.clock().resume(t0 + 2 * MS);
        let Next::Show(shown) = p.poll(t0 + 50 * MS, drop) else {
            panic!()
        };
        p.shown(&shown, t0 + 50 * MS);
        let s = p.stats();
        assert_eq!(s.flushed, 2);
        assert_eq!(s.seeks[0].first_frame_s, Some(6.0));
        assert_eq!(s.seeks[0].delay_ms, Some(50.0));
    }

    #[test]
    fn pause_holds_pictures_and_play_time_goes_on_from_there() {
        let t0 = Instant::now();
        let mut p = Presenter::new(Arc::new(Clock::new()), false);
        p.push(picture(0, 0.0, t0));
        let Next::Show(a) = p.poll(t0, drop) else {
            panic!()
        };
        p.shown(&a, t0);
        p.push(picture(0, 0.033, t0 + 33 * MS));
        p.pause();
        p.clock().pause(t0 + 10 * MS);
        assert!(matches!(p.poll(t0 + 500 * MS, drop), Next::Idle));
        p.resume();
        p.clock().resume(t0 + 1010 * MS);
        assert!(
            matches!(p.poll(t0 + 1010 * MS, drop), Next::Wait(t) if t == t0 + 1032 * MS),
            "due 23 ms of play time later"
        );
        let Next::Show(b) = p.poll(t0 + 1033 * MS, drop) else {
            panic!()
        };
        p.shown(&b, t0 + 1033 * MS);
        let pause = p.stats().pauses[0];
        assert_eq!(
            (pause.last_frame_s, pause.resumed_frame_s),
            (Some(0.0), Some(0.033))
        );
        assert_eq!(p.clock().late(), 0);
    }

    #[test]
    fn each_picture_shown_is_measured_against_the_sound_heard_then() {
        let t0 = Instant::now();
        let playhead = Arc::new(Playhead::new());
        // Sound from NPT 1.0 at t0, 1 kHz, 100 ms of it written.
        playhead.begin(t0, 1000);
        playhead.wrote(0, 100, Some(1.0));
        let mut p = Presenter::new(Arc::new(Clock::new()), false).with_playhead(playhead);
        p.push(picture(0, 1.033, t0 + 33 * MS));
        p.push(picture(0, 1.2, t0 + 200 * MS));
        let Next::Show(a) = p.poll(t0 + 35 * MS, drop) else {
            panic!()
        };
        p.shown(&a, t0 + 35 * MS);
        let Next::Show(b) = p.poll(t0 + 200 * MS, drop) else {
            panic!()
        };
        p.shown(&b, t0 + 200 * MS);
        let offsets = p.stats().av_offset.summary().unwrap();
        assert_eq!(offsets.count, 1, "no sound written at 200 ms: not measured");
        assert!(
            (offsets.p50 + 2.0).abs() < 1e-3,
            "shown 2 ms late: {offsets:?}"
        );
    }
}
