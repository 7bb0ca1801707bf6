//! The playout clock over the frame cache: when each frame is shown.
//!
//! ```text
//!            level >= prebuffer           cache empty past the next frame's time
//!  Filling ───────────────────▶ Playing ───────────────────────────────────────▶ Filling
//!  (prefetch)   anchor: now+lead,          frame due = anchor + (ts - anchor_ts) / clock   (rebuffer,
//!               first timestamp                                                            counted)
//!                                  end of stream and cache drained ──▶ Finished
//! ```
//!
//! Frames are released to the decoder `lead` before they are due. A frame whose successor is
//! already due (it is more than one frame interval late) is dropped and counted late, never
//! released. In low-latency mode there is no prebuffer and only the newest frame matters: it is
//! released at once, older ones are dropped as late.
//!
//! **Timeshift** (live streams, [`Playout::go_live`]): every frame released is also kept (a
//! copy, with the frames not yet released, within the cache's bounds), so the picture can go
//! back and forth inside what was received: [`Playout::hold`] at a pause (frames keep coming
//! and wait; play resumes from the paused frame, as far behind live as the pause lasted),
//! [`Playout::seek_buffered`] to a position in the window, [`Playout::to_live_edge`] back to
//! the newest frame and low latency.
//!
//! Frames are timed in play time, which the shared [`Clock`] keeps (it stops while paused, so
//! a pause moves nothing here); the clock also judges and counts late frames.
//!
//! Sans-IO: every call takes `now`; [`Playout::poll_timeout`] says when to poll next.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdstream_common::rfc2435::Concealed;

use crate::cache::{Cache, Frame, Refused};
use crate::clock::Clock;

/// A live schedule moves earlier only for an arrival this much quicker (less is noise).
const FOLLOW_SLACK: Duration = Duration::from_millis(2);

/// How the playout behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Media held before playing starts (and after a rebuffer).
    pub prebuffer: Duration,
    /// No prebuffer; always the newest complete frame.
    pub low_latency: bool,
    /// Frames are released to the decoder this long before they are due.
    pub lead: Duration,
    /// When playing starts, the first frame is due this long from then (a live stream with
    /// sound: [`Playout::go_live_delayed`]); zero: `lead` from then.
    pub delay: Duration,
    /// RTP clock rate (90 kHz for JPEG, RFC 2435 §3).
    pub clock_rate: u32,
    /// Time between frames when the stream says (SDP `a=framerate`); otherwise estimated from
    /// the timestamps.
    pub frame_interval: Option<Duration>,
    /// Cache bound in frames.
    pub max_frames: usize,
    /// Cache bound in JPEG bytes.
    pub max_bytes: usize,
}

impl Config {
    /// Low-latency mode: no prebuffer, no lead, no delay.
    pub fn go_live(&mut self) {
        self.low_latency = true;
        self.prebuffer = Duration::ZERO;
        self.lead = Duration::ZERO;
        self.delay = Duration::ZERO;
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prebuffer: Duration::from_millis(500),
            low_latency: false,
            lead: Duration::from_millis(100),
            delay: Duration::ZERO,
            clock_rate: 90_000,
            frame_interval: None,
            max_frames: 4096,
            max_bytes: 256 << 20,
        }
    }
}

/// What travels with a frame from its release to the screen: one value, set at release and
/// read by the decoder and the presentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// The seek epoch it belongs to ([`Clock::epoch`] when released).
    pub epoch: u64,
    /// RTP timestamp extended to 64 bits.
    pub timestamp: i64,
    /// Where it sits in the presentation, seconds (RFC 2326 §3.6 NPT).
    pub npt: f64,
    /// The play time ([`Clock`]) it is due on screen at.
    pub due: Instant,
    /// When its last packet arrived.
    pub arrival: Instant,
    /// When the sender captured it (its sender reports' NTP time on our clock), if known.
    pub captured: Option<Instant>,
    /// How long after `due` it may still be shown: until its successor is due.
    pub late_after: Duration,
}

/// A frame handed to the decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// Its times and place.
    pub stamp: Stamp,
    /// SOI .. EOI.
    pub jpeg: Vec<u8>,
    /// Set when it lost packets and its lost restart intervals are the frame before's.
    pub concealed: Option<Concealed>,
}

/// What the playout has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames released to the decoder.
    pub released: u64,
    /// Frames refused because the cache was full.
    pub overflow: u64,
    /// Times the cache ran dry during play.
    pub rebuffers: u64,
    /// Time spent rebuffering.
    pub rebuffer_time: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Before the first PLAY.
    Idle,
    /// Prefetching (or rebuffering) until the cache holds the prebuffer.
    Filling { since: Instant, rebuffer: bool },
    /// The clock runs: timestamp `anchor_ts` is due at `anchor`.
    Playing { anchor: Instant, anchor_ts: i64 },
    /// The stream ended and every frame was released.
    Finished,
}

/// The frame cache and the clock that empties it.
#[derive(Debug)]
pub struct Playout {
    config: Config,
    cache: Cache,
    phase: Phase,
    clock: Arc<Clock>,
    ended: bool,
    last_released: Option<(i64, f64)>,
    estimated_ticks: Option<i64>,
    last_inserted: Option<i64>,
    /// A live stream played [`Config::delay`] behind its arrival: a frame that arrives
    /// earlier against its timestamp than the schedule assumed moves the schedule earlier
    /// (the schedule follows the quickest arrival, so a first frame that came late does not
    /// delay every frame after it). Off once the user holds or seeks in the kept window.
    follow_arrival: bool,
    counters: Counters,
    /// Live: frames already released, oldest first (copies), for going back.
    history: Option<Shown>,
}

/// Frames already shown, kept for timeshift.
#[derive(Debug, Default)]
struct Shown {
    frames: VecDeque<Frame>,
    bytes: usize,
}

impl Shown {
    fn push(&mut self, frame: Frame) {
        self.bytes += frame.jpeg.len();
        self.frames.push_back(frame);
    }

    fn pop_front(&mut self) -> Option<Frame> {
        let frame = self.frames.pop_front()?;
        self.bytes -= frame.jpeg.len();
        Some(frame)
    }

    fn pop_back(&mut self) -> Option<Frame> {
        let frame = self.frames.pop_back()?;
        self.bytes -= frame.jpeg.len();
        Some(frame)
    }
}

impl Playout {
    /// An idle playout.
    pub fn new(config: Config) -> Playout {
        Playout {
            cache: Cache::new(config.max_frames, config.max_bytes),
            config,
            phase: Phase::Idle,
            clock: Arc::new(Clock::new()),
            ended: false,
            last_released: None,
            estimated_ticks: None,
            last_inserted: None,
            follow_arrival: false,
            counters: Counters::default(),
            history: None,
        }
    }

    /// The clock it plays against (shared with the presentation): pause, seek epoch,
    /// lateness.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A live stream (RFC 2326 `npt=now-`): no prebuffer, each frame as soon as it is whole
    /// (low-latency mode), unless the caller asked for a prebuffer.
    pub fn go_live(&mut self) {
        self.config.go_live();
        self.history.get_or_insert_with(Shown::default);
    }

    /// A live stream played `delay` after it arrives: playing starts with the first frame (no
    /// prebuffer), due `delay` later, and each frame goes to the decoder as it arrives (up to
    /// `lead` early); kept for timeshift like any live stream.
    pub fn go_live_delayed(&mut self, delay: Duration) {
        self.config.low_latency = false;
        self.config.prebuffer = Duration::ZERO;
        self.config.delay = delay;
        self.follow_arrival = true;
        self.history.get_or_insert_with(Shown::default);
    }

    /// Whether frames are kept for timeshift (a live stream).
    pub fn is_timeshift(&self) -> bool {
        self.history.is_some()
    }

    /// Timeshift: the clock is paused (or about to be) and frames keep coming: they wait in the
    /// cache, and play resumes from the frame after the last released, at its pace.
    pub fn hold(&mut self, now: Instant) {
        self.follow_arrival = false;
        if self.history.is_none() {
            return;
        }
        self.config.low_latency = false;
        self.config.lead = Duration::ZERO;
        let next = self
            .last_released
            .map(|(ts, _)| ts + self.frame_ticks())
            .or_else(|| self.cache.first().map(|f| f.timestamp));
        if let Some(anchor_ts) = next {
            self.phase = Phase::Playing {
                anchor: self.clock.play_time(now),
                anchor_ts,
            };
        }
    }

    /// Timeshift: plays on from the first frame at or after `npt` among those kept and
    /// waiting (the clock's seek has begun a new epoch); `false` when nothing is kept there.
    pub fn seek_buffered(&mut self, npt: f64, now: Instant) -> bool {
        let Some(history) = self.history.as_mut() else {
            return false;
        };
        // Kept frames at or after the target go back into the cache; waiting ones before it
        // join the kept ones.
        while history.frames.back().is_some_and(|f| f.npt >= npt) {
            if let Some(f) = history.pop_back() {
                let _ = self.cache.insert(f);
            }
        }
        while self.cache.first().is_some_and(|f| f.npt < npt) && self.cache.len() > 1 {
            if let Some(f) = self.cache.pop_first() {
                history.push(f);
            }
        }
        let Some(first) = self.cache.first() else {
            return false;
        };
        self.config.low_latency = false;
        self.config.lead = Duration::ZERO;
        self.follow_arrival = false;
        self.last_released = None;
        self.phase = Phase::Playing {
            anchor: self.clock.play_time(now),
            anchor_ts: first.timestamp,
        };
        true
    }

    /// Timeshift: back to the newest frame, and low latency from there — or, for a live
    /// stream played [`Config::delay`] behind its arrival (with sound), that delay again from
    /// the newest frame, following arrivals as at the start.
    pub fn to_live_edge(&mut self, now: Instant) {
        self.follow_arrival = false;
        let Some(history) = self.history.as_mut() else {
            return;
        };
        while self.cache.len() > 1 {
            if let Some(f) = self.cache.pop_first() {
                history.push(f);
            }
        }
        self.last_released = None;
        if !self.config.delay.is_zero() {
            let delay = self.config.delay;
            self.config.low_latency = false;
            self.config.lead = Config::default().lead.min(delay);
            self.follow_arrival = true;
            let newest = self
                .cache
                .first()
                .map(|f| f.timestamp)
                .or_else(|| history.frames.back().map(|f| f.timestamp));
            if let Some(anchor_ts) = newest {
                self.phase = Phase::Playing {
                    anchor: self.clock.play_time(now) + delay,
                    anchor_ts,
                };
            }
            return;
        }
        self.config.go_live();
        let anchor_ts = self
            .cache
            .first()
            .map(|f| f.timestamp)
            .or_else(|| history.frames.back().map(|f| f.timestamp + 1))
            .unwrap_or(0);
        self.phase = Phase::Playing {
            anchor: self.clock.play_time(now),
            anchor_ts,
        };
    }

    /// Timeshift: the NPT range of what is kept and waiting, oldest to newest.
    pub fn buffered(&self) -> Option<(f64, f64)> {
        let history = self.history.as_ref()?;
        let oldest = history
            .frames
            .front()
            .or(self.cache.first())
            .map(|f| f.npt)?;
        let newest = self.cache.last().or(history.frames.back()).map(|f| f.npt)?;
        Some((oldest, newest))
    }

    /// Timeshift: room for `len` more bytes and one more frame, the oldest kept frames going
    /// first, then (a long pause) the oldest waiting ones.
    fn make_room(&mut self, len: usize) {
        let Some(history) = self.history.as_mut() else {
            return;
        };
        let over = |cache: &Cache, history: &Shown| {
            cache.bytes() + history.bytes + len > self.config.max_bytes
                || cache.len() + history.frames.len() >= self.config.max_frames
        };
        while over(&self.cache, history) {
            if history.pop_front().is_none() {
                if self.cache.len() <= 1 || self.cache.pop_first().is_none() {
                    break;
                }
                self.counters.overflow += 1;
            }
        }
    }

    /// Sets the RTP clock rate and frame interval once the stream is described.
    pub fn set_timing(&mut self, clock_rate: u32, frame_interval: Option<Duration>) {
        self.config.clock_rate = clock_rate.max(1);
        self.config.frame_interval = frame_interval.filter(|d| !d.is_zero());
    }

    /// What has happened so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Frames in the cache.
    pub fn cached_frames(&self) -> usize {
        self.cache.len()
    }

    /// JPEG bytes in the cache.
    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    /// Timestamp ticks from one frame to the next.
    pub fn frame_ticks(&self) -> i64 {
        let clock = f64::from(self.config.clock_rate);
        match self.config.frame_interval {
            Some(i) => (i.as_secs_f64() * clock).round().max(1.0) as i64,
            None => self
                .estimated_ticks
                .unwrap_or((clock / 30.0).round() as i64),
        }
    }

    /// A tick count as a duration, capped at a day (timestamps come from the network).
    fn ticks_to_duration(&self, ticks: i64) -> Duration {
        let secs = ticks.max(0) as f64 / f64::from(self.config.clock_rate.max(1));
        Duration::from_secs_f64(secs.min(86_400.0))
    }

    /// How late a frame may be shown: until its successor is due.
    pub fn late_after(&self) -> Duration {
        self.ticks_to_duration(self.frame_ticks())
    }

    /// Media time held: from the earliest to the latest frame, plus one frame.
    pub fn level(&self) -> Duration {
        match self.cache.span() {
            Some(span) => self.ticks_to_duration(span + self.frame_ticks()),
            None => Duration::ZERO,
        }
    }

    /// The NPT of the last frame released.
    pub fn position(&self) -> Option<f64> {
        self.last_released.map(|(_, npt)| npt)
    }

    /// Whether it is prefetching or rebuffering (or has not started).
    pub fn is_filling(&self) -> bool {
        matches!(self.phase, Phase::Filling { .. } | Phase::Idle)
    }

    /// Whether the cache ran dry while playing and is filling again.
    pub fn is_rebuffering(&self) -> bool {
        matches!(self.phase, Phase::Filling { rebuffer: true, .. })
    }

    /// Whether the stream ended and every frame was released.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Whether the end of the stream was signalled.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// Starts filling afresh (the first PLAY, a seek): the cache is emptied into `recycle`.
    pub fn start(&mut self, now: Instant, recycle: impl FnMut(Frame)) {
        self.cache.clear(recycle);
        self.phase = Phase::Filling {
            since: self.clock.play_time(now),
            rebuffer: false,
        };
        self.ended = false;
        self.last_released = None;
        self.last_inserted = None;
    }

    /// No more frames will come: play out what is cached, then finish. A rebuffer that no
    /// frame ended was the end of the stream (a server that sends no BYE goes quiet), not a
    /// stall: it is not counted.
    pub fn end_of_stream(&mut self) {
        self.ended = true;
        if self.cache.is_empty() && self.is_rebuffering() {
            self.counters.rebuffers = self.counters.rebuffers.saturating_sub(1);
            self.phase = Phase::Finished;
        }
    }

    /// Adds a complete frame. A frame refused (too late, cache full, duplicate) is handed back
    /// for recycling.
    pub fn insert(&mut self, frame: Frame) -> Option<Frame> {
        if let Some(last) = self.last_inserted {
            let delta = frame.timestamp - last;
            if delta > 0 && self.estimated_ticks.is_none_or(|t| delta < t) {
                self.estimated_ticks = Some(delta);
            }
        }
        self.last_inserted = Some(frame.timestamp);
        self.follow(&frame);
        if self
            .last_released
            .is_some_and(|(ts, _)| frame.timestamp <= ts)
        {
            self.clock.count_late();
            return Some(frame);
        }
        if self.config.low_latency {
            while self
                .cache
                .first()
                .is_some_and(|f| f.timestamp < frame.timestamp)
            {
                if let Some(old) = self.cache.pop_first() {
                    self.keep(old);
                }
                self.clock.count_late();
            }
        }
        self.make_room(frame.jpeg.len());
        match self.cache.insert(frame) {
            Ok(()) => None,
            Err((why, frame)) => {
                if why == Refused::Full {
                    self.counters.overflow += 1;
                }
                Some(frame)
            }
        }
    }

    /// When timestamp `ts` is due. Timestamps come from the network: the offset is clamped to
    /// a day either way, so no arithmetic can overflow.
    fn due(anchor: Instant, anchor_ts: i64, ts: i64, clock: u32) -> Instant {
        const DAY: f64 = 86_400.0;
        let secs = (ts.saturating_sub(anchor_ts) as f64 / f64::from(clock.max(1))).clamp(-DAY, DAY);
        if secs >= 0.0 {
            anchor
                .checked_add(Duration::from_secs_f64(secs))
                .unwrap_or(anchor)
        } else {
            anchor
                .checked_sub(Duration::from_secs_f64(-secs))
                .unwrap_or(anchor)
        }
    }

    /// The next frame to hand to the decoder now, if any; frames found late on the way are
    /// dropped into `recycle`.
    pub fn poll(&mut self, wall: Instant, mut recycle: impl FnMut(Frame)) -> Option<Release> {
        if self.clock.is_paused() {
            return None;
        }
        let now = self.clock.play_time(wall);
        loop {
            match self.phase {
                Phase::Idle | Phase::Finished => return None,
                Phase::Filling { since, rebuffer } => {
                    if self.cache.is_empty() {
                        if self.ended {
                            self.phase = Phase::Finished;
                        }
                        return None;
                    }
                    let ready = self.config.low_latency
                        || self.ended
                        || self.level() >= self.config.prebuffer;
                    if !ready {
                        return None;
                    }
                    if rebuffer {
                        self.counters.rebuffer_time += now.saturating_duration_since(since);
                    }
                    let anchor_ts = self.cache.first().map_or(0, |f| f.timestamp);
                    let lead = if self.config.low_latency {
                        Duration::ZERO
                    } else {
                        self.config.lead
                    };
                    self.phase = Phase::Playing {
                        anchor: now
                            + if self.config.delay.is_zero() {
                                lead
                            } else {
                                self.config.delay
                            },
                        anchor_ts,
                    };
                }
                Phase::Playing { anchor, anchor_ts } => {
                    if self.config.low_latency {
                        while self.cache.len() > 1 {
                            if let Some(f) = self.cache.pop_first() {
                                self.clock.count_late();
                                if self.history.is_some() {
                                    self.keep(f);
                                } else {
                                    recycle(f);
                                }
                            }
                        }
                        let frame = self.cache.pop_first();
                        if frame.is_none() && self.ended {
                            self.phase = Phase::Finished;
                        }
                        return frame.map(|frame| self.released(frame, now));
                    }
                    let clock = self.config.clock_rate;
                    let Some(first) = self.cache.first() else {
                        if self.ended {
                            self.phase = Phase::Finished;
                        } else if self.dry_since(now).is_some() {
                            self.counters.rebuffers += 1;
                            self.phase = Phase::Filling {
                                since: now,
                                rebuffer: true,
                            };
                        }
                        return None;
                    };
                    let due = Self::due(anchor, anchor_ts, first.timestamp, clock);
                    if now + self.config.lead < due {
                        return None;
                    }
                    let frame = self.cache.pop_first()?;
                    if self.clock.is_late(due, self.late_after(), wall) {
                        tracing::debug!(
                            npt = frame.npt,
                            late_ms = (now - due).as_secs_f64() * 1e3,
                            "frame late in the cache: dropped"
                        );
                        self.clock.count_late();
                        self.last_released = Some((frame.timestamp, frame.npt));
                        if self.history.is_some() {
                            self.keep(frame);
                        } else {
                            recycle(frame);
                        }
                        continue;
                    }
                    return Some(self.released(frame, due));
                }
            }
        }
    }

    /// Moves the schedule earlier when `frame` came sooner after its capture than the frame
    /// the schedule was anchored on ([`Playout::follow_arrival`]; more than [`FOLLOW_SLACK`]).
    fn follow(&mut self, frame: &Frame) {
        if !self.follow_arrival || self.config.delay.is_zero() {
            return;
        }
        let clock = self.config.clock_rate;
        if let Phase::Playing { anchor, anchor_ts } = &mut self.phase {
            let wanted = self.clock.play_time(frame.arrival) + self.config.delay;
            let due = Self::due(*anchor, *anchor_ts, frame.timestamp, clock);
            if wanted + FOLLOW_SLACK < due {
                tracing::debug!(
                    earlier_ms = (due - wanted).as_secs_f64() * 1e3,
                    "live schedule moved to a quicker arrival"
                );
                *anchor = wanted;
                *anchor_ts = frame.timestamp;
            }
        }
    }

    /// Timeshift: keeps a frame that leaves the cache.
    fn keep(&mut self, frame: Frame) {
        if let Some(history) = self.history.as_mut() {
            history.push(frame);
        }
    }

    fn released(&mut self, frame: Frame, due: Instant) -> Release {
        if self.history.is_some() {
            self.keep(frame.clone());
        }
        self.counters.released += 1;
        self.last_released = Some((frame.timestamp, frame.npt));
        Release {
            stamp: Stamp {
                epoch: self.clock.epoch(),
                timestamp: frame.timestamp,
                npt: frame.npt,
                due,
                arrival: frame.arrival,
                captured: frame.captured,
                late_after: self.late_after().max(Duration::from_millis(1)),
            },
            jpeg: frame.jpeg,
            concealed: frame.concealed,
        }
    }

    /// While playing with an empty cache: the instant the next frame became overdue, if it has.
    fn dry_since(&self, now: Instant) -> Option<Instant> {
        let overdue = self.next_overdue()?;
        (now > overdue).then_some(overdue)
    }

    /// While playing: when the frame after the last released one is overdue.
    fn next_overdue(&self) -> Option<Instant> {
        let Phase::Playing { anchor, anchor_ts } = self.phase else {
            return None;
        };
        let (last, _) = self.last_released?;
        let next = Self::due(
            anchor,
            anchor_ts,
            last + self.frame_ticks(),
            self.config.clock_rate,
        );
        Some(next + self.late_after())
    }

    /// When [`Playout::poll`] has something to do without new input (wall time; none while
    /// paused).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.clock.wall_time(self.next_play_time()?)
    }

    /// [`Playout::poll_timeout`] in play time.
    fn next_play_time(&self) -> Option<Instant> {
        match self.phase {
            Phase::Playing { anchor, anchor_ts } if !self.config.low_latency => {
                match self.cache.first() {
                    Some(f) => Some(
                        Self::due(anchor, anchor_ts, f.timestamp, self.config.clock_rate)
                            .checked_sub(self.config.lead)
                            .unwrap_or(anchor),
                    ),
                    None => self.next_overdue().map(|t| t + Duration::from_millis(1)),
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    /// 90 kHz ticks per frame at 30 fps.
    const TICKS: i64 = 3000;

    fn config() -> Config {
        Config {
            prebuffer: 100 * MS,
            low_latency: false,
            lead: 10 * MS,
            delay: Duration::ZERO,
            clock_rate: 90_000,
            frame_interval: Some(Duration::from_secs_f64(1.0 / 30.0)),
            max_frames: 100,
            max_bytes: 1 << 20,
        }
    }

    fn frame(n: i64, at: Instant) -> Frame {
        Frame {
            timestamp: n * TICKS,
            npt: n as f64 / 30.0,
            jpeg: vec![n as u8; 10],
            arrival: at,
            captured: None,
            concealed: None,
        }
    }

    fn ids(releases: &[Release]) -> Vec<i64> {
        releases.iter().map(|r| r.stamp.timestamp / TICKS).collect()
    }

    /// Polls every millisecond from `from` for `ms` milliseconds, collecting releases.
    fn run(p: &mut Playout, from: Instant, ms: u64) -> Vec<Release> {
        let mut out = Vec::new();
        for i in 0..=ms {
            while let Some(r) = p.poll(from + MS * i as u32, drop) {
                out.push(r);
            }
        }
        out
    }

    #[test]
    fn a_delayed_live_stream_follows_its_quickest_arrival() {
        let t0 = Instant::now();
        // Released to the decoder up to 100 ms early: as each frame arrives.
        let mut p = Playout::new(Config {
            lead: 100 * MS,
            ..config()
        });
        p.go_live_delayed(90 * MS);
        p.start(t0, drop);
        // Frame 0 came 30 ms late (its sender was busy): playing starts, due 90 ms after it.
        let late = t0 + 30 * MS;
        assert!(p.insert(frame(0, late)).is_none());
        let r0 = p.poll(late, drop).expect("no prebuffer; released at once");
        assert_eq!(r0.stamp.due, late + 90 * MS);
        // Frame 1 comes on time (33 ms after frame 0's capture): due 90 ms after it, not
        // 90 ms after frame 0's late arrival plus a frame.
        let on_time = t0 + 34 * MS;
        assert!(p.insert(frame(1, on_time)).is_none());
        let r1 = p.poll(on_time, drop).expect("released as it arrives");
        assert_eq!(r1.stamp.due, on_time + 90 * MS);
        // Frame 2 comes late again: the schedule stays (it is due 33 ms after frame 1).
        let again = t0 + 90 * MS;
        assert!(p.insert(frame(2, again)).is_none());
        let r2 = p.poll(again, drop).expect("released");
        assert_eq!(
            r2.stamp.due,
            on_time + 90 * MS + Duration::from_secs_f64(1.0 / 30.0)
        );
        // Held (timeshift): arrivals no longer move it.
        p.hold(again);
        assert!(!p.follow_arrival);
    }

    #[test]
    fn it_prebuffers_then_plays_each_frame_at_its_time() {
        let t0 = Instant::now();
        let mut p = Playout::new(config());
        p.start(t0, drop);
        // Two frames (67 ms) are not 100 ms.
        for n in 0..2 {
            assert!(p.insert(frame(n, t0)).is_none());
        }
        assert!(p.poll(t0, drop).is_none());
        assert!(p.is_filling());
        // The third makes 100 ms: playing starts, the first frame due at now + lead.
        let t1 = t0 + 5 * MS;
        assert!(p.insert(frame(2, t1)).is_none());
        let r = p.poll(t1, drop).expect("released a lead ahead of its time");
        assert_eq!((r.stamp.timestamp, r.stamp.due), (0, t1 + 10 * MS));
        for n in 3..10 {
            p.insert(frame(n, t1));
        }
        let out = run(&mut p, t1, 400);
        assert_eq!(ids(&out), (1..10).collect::<Vec<_>>());
        for r in &out {
            let expected =
                t1 + 10 * MS + Duration::from_secs_f64(r.stamp.timestamp as f64 / 90_000.0);
            assert!(
                r.stamp.due.max(expected) - r.stamp.due.min(expected) < MS,
                "due on the RTP clock"
            );
        }
        assert_eq!(p.clock().late(), 0);
    }

    #[test]
    fn late_frames_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut p = Playout::new(config());
        p.start(t0, drop);
        for n in 0..8 {
            p.insert(frame(n, t0));
        }
        assert_eq!(p.poll(t0, drop).unwrap().stamp.timestamp, 0);
        // Nothing polled for 200 ms (a stalled decoder): frames 1..=4, due at 43, 77, 110 and
        // 143 ms, are past their successors' time; frame 5, due at 177 ms, is still shown.
        let t1 = t0 + 200 * MS;
        let mut dropped = Vec::new();
        let r = p.poll(t1, |f| dropped.push(f.timestamp / TICKS)).unwrap();
        assert_eq!(r.stamp.timestamp / TICKS, 5);
        assert_eq!(dropped, [1, 2, 3, 4]);
        assert_eq!(p.clock().late(), 4);
        let r = p
            .poll(t1, drop)
            .expect("frame 6, due at 210 ms, is released a lead early");
        assert_eq!((r.stamp.timestamp / TICKS, r.stamp.due), (6, t0 + 210 * MS));
        assert!(p.poll(t1, drop).is_none(), "frame 7 is due at 243 ms");
        // A frame older than one already released is late on arrival.
        assert!(p.insert(frame(4, t1)).is_some());
        assert_eq!(p.clock().late(), 5);
        assert_eq!(p.counters().rebuffers, 0);
    }

    #[test]
    fn an_empty_cache_rebuffers_and_the_time_is_measured() {
        let t0 = Instant::now();
        let mut p = Playout::new(config());
        p.start(t0, drop);
        for n in 0..3 {
            p.insert(frame(n, t0));
        }
        let out = run(&mut p, t0, 100);
        assert_eq!(ids(&out), [0, 1, 2]);
        // Frame 3 would be due at 110 ms, overdue at 143 ms: then the playout rebuffers.
        let overdue = p.poll_timeout().expect("a deadline for the dry cache");
        assert!(
            overdue > t0 + 140 * MS && overdue < t0 + 146 * MS,
            "{:?}",
            overdue - t0
        );
        assert!(p.poll(t0 + 140 * MS, drop).is_none());
        assert!(!p.is_filling());
        assert!(p.poll(overdue, drop).is_none());
        assert!(p.is_filling());
        assert_eq!(p.counters().rebuffers, 1);
        // Frames come back 300 ms later: it waits for 100 ms of them, then plays on.
        let t1 = overdue + 300 * MS;
        for n in 3..5 {
            p.insert(frame(n, t1));
        }
        assert!(p.poll(t1, drop).is_none(), "67 ms is not enough");
        p.insert(frame(5, t1));
        let r = p.poll(t1, drop).unwrap();
        assert_eq!((r.stamp.timestamp / TICKS, r.stamp.due), (3, t1 + 10 * MS));
        assert_eq!(p.counters().rebuffer_time, t1 - overdue);
        assert_eq!(p.clock().late(), 0, "nothing is late after a rebuffer");
    }

    #[test]
    fn low_latency_always_picks_the_newest() {
        let t0 = Instant::now();
        let mut p = Playout::new(Config {
            low_latency: true,
            prebuffer: Duration::ZERO,
            ..config()
        });
        p.start(t0, drop);
        p.insert(frame(0, t0));
        let r = p.poll(t0, drop).unwrap();
        assert_eq!(
            (r.stamp.timestamp, r.stamp.due),
            (0, t0),
            "no prebuffer, shown at once"
        );
        for n in 1..5 {
            p.insert(frame(n, t0));
        }
        let r = p.poll(t0 + MS, drop).unwrap();
        assert_eq!((r.stamp.timestamp / TICKS, r.stamp.due), (4, t0 + MS));
        assert!(p.poll(t0 + MS, drop).is_none());
        assert_eq!(p.clock().late(), 3);
        assert_eq!(p.counters().rebuffers, 0);
    }

    #[test]
    fn the_end_of_stream_plays_out_the_cache_then_finishes() {
        let t0 = Instant::now();
        let mut p = Playout::new(config());
        p.start(t0, drop);
        p.insert(frame(0, t0));
        p.end_of_stream();
        assert_eq!(
            ids(&run(&mut p, t0, 50)),
            [0],
            "a short stream plays without its prebuffer"
        );
        assert!(p.is_finished());
    }

    #[test]
    fn a_stream_that_ends_without_a_bye_is_not_a_rebuffer() {
        let t0 = Instant::now();
        let mut p = Playout::new(config());
        p.start(t0, drop);
        for n in 0..3 {
            p.insert(frame(n, t0));
        }
        assert_eq!(ids(&run(&mut p, t0, 200)), [0, 1, 2]);
        assert_eq!(p.counters().rebuffers, 1, "dry past frame 3's time");
        // Then silence ends the stream.
        p.end_of_stream();
        assert!(p.is_finished());
        assert_eq!(p.counters().rebuffers, 0);
    }

    #[test]
    fn pause_stops_the_clock_and_resume_goes_on_from_there() {
        let t0 = Instant::now();
        let mut p = Playout::new(config());
        p.start(t0, drop);
        for n in 0..6 {
            p.insert(frame(n, t0));
        }
        assert_eq!(ids(&run(&mut p, t0, 35)), [0, 1]);
        p.clock().pause(t0 + 35 * MS);
        assert!(p.poll(t0 + 500 * MS, drop).is_none());
        assert_eq!(p.poll_timeout(), None);
        p.clock().resume(t0 + 535 * MS);
        // Frame 2 was due at 77 ms; 500 ms of pause later it is due at 577 ms (its play time
        // is still 77 ms).
        let out = run(&mut p, t0 + 535 * MS, 200);
        assert_eq!(ids(&out), [2, 3, 4, 5]);
        let play_due = out[0].stamp.due - t0;
        assert!(play_due > 76 * MS && play_due < 78 * MS, "{play_due:?}");
        let due = p.clock().wall_time(out[0].stamp.due).unwrap() - t0;
        assert!(due > 576 * MS && due < 578 * MS, "{due:?}");
        assert_eq!(p.clock().late(), 0);
    }

    #[test]
    fn the_cache_is_bounded() {
        let t0 = Instant::now();
        let mut p = Playout::new(Config {
            max_frames: 4,
            ..config()
        });
        p.start(t0, drop);
        for n in 0..6 {
            let refused = p.insert(frame(n, t0));
            assert_eq!(refused.is_some(), n >= 4);
        }
        assert_eq!(p.counters().overflow, 2);
        assert_eq!(p.cached_frames(), 4);
    }
}
