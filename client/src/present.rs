//! The presentation side of the sink: decoded pictures wait for their time; a picture whose
//! successor is already due (and decoded) is late, dropped and counted; pictures from before a
//! seek are thrown away. The window and the headless sink both run this; it reads no clock
//! (sans-IO), so it is tested with a fake one.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use hdstream_video::decoder::rgba_to_0rgb;

use crate::decode::{Decoded, Picture};
use crate::stats::{Histogram, PauseRecord, SeekRecord};

/// A picture is shown when its due time is at most this far ahead.
const EARLY: Duration = Duration::from_millis(1);

/// What the sink measured.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    /// Pictures shown.
    pub displayed: u64,
    /// Pictures dropped because they were late.
    pub late: u64,
    /// Pictures thrown away by a seek.
    pub flushed: u64,
    /// Frames that did not decode (reported by the decoders).
    pub undecodable: u64,
    /// Arrival of the frame's last packet to the picture on screen.
    pub latency: Histogram,
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
    /// Seeks.
    pub seeks: Vec<SeekRecord>,
    /// Pauses.
    pub pauses: Vec<PauseRecord>,
}

struct Entry(Picture);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.due == other.0.due
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
            .due
            .cmp(&other.0.due)
            .then(self.0.npt.total_cmp(&other.0.npt))
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
    epoch: u64,
    queue: BinaryHeap<Reverse<Entry>>,
    paused_at: Option<Instant>,
    record: bool,
    last_npt: Option<f64>,
    seek_pending: Option<(usize, Instant)>,
    resume_pending: Option<usize>,
    stats: SinkStats,
}

impl std::fmt::Debug for Presenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presenter")
            .field("epoch", &self.epoch)
            .field("queued", &self.queue.len())
            .field("paused_at", &self.paused_at)
            .finish_non_exhaustive()
    }
}

impl Presenter {
    /// An empty presenter; with `record`, the NPT of every picture shown is kept.
    pub fn new(record: bool) -> Presenter {
        Presenter {
            epoch: 0,
            queue: BinaryHeap::new(),
            paused_at: None,
            record,
            last_npt: None,
            seek_pending: None,
            resume_pending: None,
            stats: SinkStats::default(),
        }
    }

    /// The current epoch (seeks so far).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The NPT of the last picture shown.
    pub fn position(&self) -> Option<f64> {
        self.last_npt
    }

    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
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
        match decoded {
            Decoded::Failed { epoch } => {
                if epoch >= self.epoch {
                    self.stats.undecodable += 1;
                }
                None
            }
            Decoded::Picture(p) if p.epoch < self.epoch => {
                self.stats.flushed += 1;
                Some(p)
            }
            Decoded::Picture(mut p) => {
                if let Some(at) = self.paused_at {
                    // Released before the pause took effect: it waits with the rest.
                    p.due = p.due.max(at);
                }
                self.queue.push(Reverse(Entry(p)));
                None
            }
        }
    }

    /// The next thing to do at `now`; late pictures met on the way go to `recycle`.
    pub fn poll(&mut self, now: Instant, mut recycle: impl FnMut(Picture)) -> Next {
        if self.paused_at.is_some() {
            return Next::Idle;
        }
        loop {
            let Some(Reverse(Entry(first))) = self.queue.peek() else {
                return Next::Idle;
            };
            if first.due > now + EARLY {
                return Next::Wait(first.due.checked_sub(EARLY).unwrap_or(first.due));
            }
            let Some(Reverse(Entry(picture))) = self.queue.pop() else {
                return Next::Idle;
            };
            // Late: its successor's time has come and the successor is here to be shown.
            // (A late picture with nothing after it yet is still the best there is.)
            let successor_due = self
                .queue
                .peek()
                .is_some_and(|Reverse(Entry(next))| next.due <= now + EARLY);
            if now > picture.due + picture.late_after && successor_due {
                tracing::debug!(
                    npt = picture.npt,
                    late_ms = (now - picture.due).as_secs_f64() * 1e3,
                    "picture late after decoding: dropped"
                );
                self.stats.late += 1;
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
            .record(now.saturating_duration_since(picture.arrival));
        if let Some(last) = s.last_shown {
            s.interval.record(now.saturating_duration_since(last));
        }
        s.first_shown.get_or_insert(now);
        s.last_shown = Some(now);
        s.size = Some((picture.width, picture.height));
        if self.record {
            s.displayed_npt.push(picture.npt);
            s.displayed_checksums.push(rgba_checksum(&picture.pixels));
        }
        if let Some((i, asked)) = self.seek_pending.take()
            && let Some(seek) = s.seeks.get_mut(i)
        {
            seek.first_frame_s = Some(picture.npt);
            seek.delay_ms = Some(now.saturating_duration_since(asked).as_secs_f64() * 1000.0);
        }
        if let Some(i) = self.resume_pending.take()
            && let Some(pause) = s.pauses.get_mut(i)
        {
            pause.resumed_frame_s = Some(picture.npt);
        }
        self.last_npt = Some(picture.npt);
    }

    /// A seek to `target` at `now`: everything queued is thrown away into `recycle`; the new
    /// epoch is returned for the command.
    pub fn seek(&mut self, target: f64, now: Instant, mut recycle: impl FnMut(Picture)) -> u64 {
        self.epoch += 1;
        while let Some(Reverse(Entry(p))) = self.queue.pop() {
            self.stats.flushed += 1;
            recycle(p);
        }
        if self.paused_at.take().is_some() {
            self.resume_pending = None;
        }
        self.stats.seeks.push(SeekRecord {
            target_s: target,
            first_frame_s: None,
            delay_ms: None,
        });
        self.seek_pending = Some((self.stats.seeks.len() - 1, now));
        self.epoch
    }

    /// Pause at `now`.
    pub fn pause(&mut self, now: Instant) {
        if self.paused_at.is_none() {
            self.paused_at = Some(now);
            self.stats.pauses.push(PauseRecord {
                last_frame_s: self.last_npt,
                ..PauseRecord::default()
            });
        }
    }

    /// Resume at `now`: waiting pictures move by the length of the pause.
    pub fn resume(&mut self, now: Instant) {
        let Some(at) = self.paused_at.take() else {
            return;
        };
        let paused = now.saturating_duration_since(at);
        let pictures: Vec<Picture> = std::mem::take(&mut self.queue)
            .into_iter()
            .map(|Reverse(Entry(mut p))| {
                p.due += paused;
                p
            })
            .collect();
        self.queue = pictures.into_iter().map(|p| Reverse(Entry(p))).collect();
        self.resume_pending = Some(self.stats.pauses.len().saturating_sub(1));
    }
}

/// FNV-1a over the `0x00RRGGBB` pixels, so tests can compare every shown picture with a
/// decoding of the file's frame without keeping the pictures.
pub fn pixel_checksum(pixels: &[u32]) -> u64 {
    fnv(pixels.iter().copied())
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
            epoch,
            npt,
            due,
            arrival: due - 100 * MS,
            late_after: 33 * MS,
            width: 2,
            height: 2,
            pixels: vec![0; 4],
        })
    }

    #[test]
    fn pictures_show_at_their_time_in_order() {
        let t0 = Instant::now();
        let mut p = Presenter::new(true);
        // Two decode threads may finish out of order.
        p.push(picture(0, 0.033, t0 + 33 * MS));
        p.push(picture(0, 0.0, t0));
        let Next::Show(first) = p.poll(t0, drop) else {
            panic!()
        };
        assert_eq!(first.npt, 0.0);
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
        let mut p = Presenter::new(false);
        p.push(picture(0, 0.0, t0));
        p.push(picture(0, 0.033, t0 + 33 * MS));
        let mut recycled = 0;
        let Next::Show(shown) = p.poll(t0 + 40 * MS, |_| recycled += 1) else {
            panic!()
        };
        assert_eq!(
            shown.npt, 0.033,
            "frame 0 (due 0 ms) is late at 40 ms; frame 1 is not"
        );
        assert_eq!((p.stats().late, recycled), (1, 1));
    }

    #[test]
    fn a_late_picture_with_nothing_after_it_is_still_shown() {
        let t0 = Instant::now();
        let mut p = Presenter::new(false);
        p.push(picture(0, 0.0, t0));
        let Next::Show(shown) = p.poll(t0 + 100 * MS, drop) else {
            panic!()
        };
        assert_eq!(shown.npt, 0.0);
        assert_eq!(p.stats().late, 0);
    }

    #[test]
    fn a_seek_flushes_what_came_before() {
        let t0 = Instant::now();
        let mut p = Presenter::new(false);
        p.push(picture(0, 1.0, t0));
        let epoch = p.seek(6.0, t0, drop);
        assert_eq!(epoch, 1);
        assert!(
            p.push(picture(0, 1.033, t0)).is_some(),
            "released before the seek"
        );
        p.push(picture(1, 6.0, t0 + 50 * MS));
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
    fn pause_holds_pictures_and_resume_shifts_them() {
        let t0 = Instant::now();
        let mut p = Presenter::new(false);
        p.push(picture(0, 0.0, t0));
        let Next::Show(a) = p.poll(t0, drop) else {
            panic!()
        };
        p.shown(&a, t0);
        p.push(picture(0, 0.033, t0 + 33 * MS));
        p.pause(t0 + 10 * MS);
        assert!(matches!(p.poll(t0 + 500 * MS, drop), Next::Idle));
        p.resume(t0 + 1010 * MS);
        assert!(matches!(p.poll(t0 + 1010 * MS, drop), Next::Wait(_)));
        let Next::Show(b) = p.poll(t0 + 1033 * MS, drop) else {
            panic!()
        };
        p.shown(&b, t0 + 1033 * MS);
        let pause = p.stats().pauses[0];
        assert_eq!(
            (pause.last_frame_s, pause.resumed_frame_s),
            (Some(0.0), Some(0.033))
        );
        assert_eq!(p.stats().late, 0);
    }
}
