//! A published path's recent frames, as its viewers' streams take them ([`Feed`], a
//! [`Source`]): each frame is held once, whole (the JPEG the publisher's RFC 2435 packets made,
//! with its RFC 2435 layout found once), and every viewer's stream cuts its own packets from it
//! as they leave, at its own pace — one copy in memory for any number of viewers, and a viewer
//! that falls behind skips frames on its own without holding up the others or the publisher.
//!
//! Frames are numbered from the path's first (absolute indices that only grow, across
//! publishers that come and go under the same name), kept for [`KEEP`] (what a viewer may lag
//! and a retransmission may ask for) and at most [`MAX_BYTES`] — less when many paths share the
//! server's live memory budget ([`Feed::set_max_bytes`]).
//!
//! Time: the publisher's RTP timestamps (RFC 3550 §5.1, 90 kHz for JPEG) become a media time
//! that only grows — a timestamp that goes back, stands still (senders that stamp every frame
//! alike) or leaps ahead (a publisher that restarted) is replaced by the arrival gap. The
//! publisher's sender reports (RFC 3550 §6.4.1) map its timestamps to the wall clock it captured
//! at; each frame carries that capture time, which the viewers' sender reports pass on so a
//! viewer can measure capture-to-display latency.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use hdstream_video::jpeg::Header;
use hdstream_video::rfc2435::{Layout, NotReady};

use hdstream_common::audio::Format;

use crate::live_track::TrackFeed;
use crate::source::{Moment, Source};

/// How long frames stay after they arrived: the retransmission time a viewer may ask within
/// (the server's default `rtx-time`), and more than any lag a viewer's stream keeps up with.
pub const KEEP: Duration = Duration::from_millis(1000);
/// Bytes of frames a path holds at most (a second of 2160p30 is 30–90 MB): the oldest go first.
pub const MAX_BYTES: usize = 48 << 20;
/// RTP clock rate of JPEG (RFC 2435 §3).
const CLOCK: f64 = 90_000.0;
/// A timestamp step larger than the arrival gap by this much is a publisher's restart.
const LEAP: Duration = Duration::from_millis(250);
/// Frame rate assumed until one is announced or measured.
const DEFAULT_FPS: f64 = 30.0;

/// Why a published frame cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum Unservable {
    /// Its rebuilt JPEG does not parse.
    #[error("not a JPEG: {0}")]
    Jpeg(#[from] hdstream_video::jpeg::Error),
    /// It cannot travel as RFC 2435 again.
    #[error(transparent)]
    NotReady(#[from] NotReady),
}

/// The tracks a session may have beside its video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// Sound (RFC 3551 L16, PCMU, PCMA; Opus, RFC 7587).
    Sound,
    /// Captions: T.140 real-time text (RFC 4103).
    Captions,
}

/// One published frame.
#[derive(Debug)]
struct Frame {
    jpeg: Vec<u8>,
    layout: Layout,
    moment: Moment,
}

/// A path's recent frames and its clocks.
#[derive(Debug)]
pub struct Feed {
    frames: VecDeque<Frame>,
    /// Absolute index of `frames[0]`.
    first: usize,
    bytes: usize,
    /// Bytes of frames it may hold (the newest frame stays whatever its size).
    max_bytes: usize,
    /// `a=framerate` of the ANNOUNCE, if any.
    announced_fps: Option<f64>,
    /// Smoothed media time between frames, in 90 kHz ticks.
    step: Option<f64>,
    /// Size of the newest frame (or the announced `a=x-dimensions`).
    size: Option<(u16, u16)>,
    /// The newest frame's publisher timestamp, media time and arrival.
    last: Option<(u32, u64, Instant)>,
    /// The publisher's newest sender report: its RTP timestamp and wall clock.
    sender_clock: Option<(u32, SystemTime)>,
    /// Whether a publisher is recording into it.
    on_air: bool,
    /// The path's sound, when its publisher announced some: its format and packets.
    sound: Option<(Format, TrackFeed)>,
    /// The path's captions (T.140, RFC 4103), when its publisher announced some or the
    /// server makes them from its sound.
    captions: Option<TrackFeed>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed::new()
    }
}

impl Feed {
    /// An empty feed, off the air.
    pub fn new() -> Feed {
        Feed {
            frames: VecDeque::new(),
            first: 0,
            bytes: 0,
            max_bytes: MAX_BYTES,
            announced_fps: None,
            step: None,
            size: None,
            last: None,
            sender_clock: None,
            on_air: false,
            sound: None,
            captions: None,
        }
    }

    /// A publisher starts (or resumes) the path, announcing `fps` and `size` if its SDP said.
    pub fn on_air(&mut self, fps: Option<f64>, size: Option<(u16, u16)>) {
        self.on_air = true;
        self.announced_fps = fps.filter(|f| f.is_finite() && *f > 0.0);
        if size.is_some() {
            self.size = size;
        }
        // A new publisher's clock is its own.
        self.sender_clock = None;
    }

    /// The publisher left: the frames go (memory back), the numbering and media time stay for
    /// one that resumes the path.
    pub fn off_air(&mut self) {
        self.on_air = false;
        self.first += self.frames.len();
        self.frames.clear();
        self.bytes = 0;
        self.sender_clock = None;
        if let Some((_, sound)) = &mut self.sound {
            sound.off_air();
        }
        if let Some(captions) = &mut self.captions {
            captions.off_air();
        }
    }

    /// The publisher's sound is of `format` (or there is none).
    pub fn set_sound(&mut self, format: Option<Format>) {
        let (pt, rate) = match format {
            Some(f) => (f.payload_type, f.clock_rate),
            None => {
                self.sound = None;
                return;
            }
        };
        match &mut self.sound {
            Some((old, feed)) => {
                *old = format.unwrap_or(*old);
                feed.restart(pt, rate);
            }
            None => self.sound = format.map(|f| (f, TrackFeed::new(pt, rate))),
        }
    }

    /// The path has captions on `payload_type` (T.140 at 1000 Hz), or none.
    pub fn set_captions(&mut self, payload_type: Option<u8>) {
        let rate = hdstream_common::text::t140::CLOCK_RATE;
        match (payload_type, &mut self.captions) {
            (Some(pt), Some(feed)) => feed.restart(pt, rate),
            (Some(pt), None) => self.captions = Some(TrackFeed::new(pt, rate)),
            (None, _) => self.captions = None,
        }
    }

    /// The format of the path's sound, if its publisher sends some.
    pub fn sound_format(&self) -> Option<Format> {
        self.sound.as_ref().map(|(f, _)| *f)
    }

    /// The packets of the path's `kind` of track, if it has one.
    pub fn track(&self, kind: TrackKind) -> Option<&TrackFeed> {
        match kind {
            TrackKind::Sound => self.sound.as_ref().map(|(_, f)| f),
            TrackKind::Captions => self.captions.as_ref(),
        }
    }

    /// The same, to take packets.
    pub fn track_mut(&mut self, kind: TrackKind) -> Option<&mut TrackFeed> {
        match kind {
            TrackKind::Sound => self.sound.as_mut().map(|(_, f)| f),
            TrackKind::Captions => self.captions.as_mut(),
        }
    }

    /// Whether a publisher is recording into it.
    pub fn is_on_air(&self) -> bool {
        self.on_air
    }

    /// The frame size viewers will get, once known.
    pub fn size(&self) -> Option<(u16, u16)> {
        self.size
    }

    /// Holds at most `max_bytes` of frames from now on (at most [`MAX_BYTES`]; the newest frame
    /// always stays), dropping the oldest beyond it at once.
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes.min(MAX_BYTES);
        self.evict(None);
    }

    /// Bytes of frames held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// A sender report from the publisher (RFC 3550 §6.4.1): `rtp_timestamp` was captured at
    /// `wall`.
    pub fn sender_report(&mut self, rtp_timestamp: u32, wall: SystemTime) {
        self.sender_clock = Some((rtp_timestamp, wall));
    }

    /// A whole frame from the publisher, with its RTP `timestamp`, arrived at `now`. A frame that
    /// cannot travel as RFC 2435 again is refused (the caller counts it).
    pub fn push(&mut self, jpeg: Vec<u8>, timestamp: u32, now: Instant) -> Result<(), Unservable> {
        let layout = hdstream_video::rfc2435::layout(&Header::parse(&jpeg)?)?;
        let media_time = self.media_time(timestamp, now);
        let capture = self.sender_clock.map(|(rtp, wall)| {
            let ticks = timestamp.wrapping_sub(rtp) as i32;
            let offset = Duration::from_secs_f64(f64::from(ticks.unsigned_abs()) / CLOCK);
            if ticks >= 0 {
                wall + offset
            } else {
                wall.checked_sub(offset).unwrap_or(wall)
            }
        });
        if let Some(frame) = layout.frame(&jpeg) {
            self.size = Some((frame.width, frame.height));
        }
        self.bytes += jpeg.len();
        self.frames.push_back(Frame {
            jpeg,
            layout,
            moment: Moment {
                media_time,
                arrived: now,
                capture,
            },
        });
        self.evict(Some(now));
        Ok(())
    }

    /// The media time of a frame stamped `timestamp` arriving at `now` (see the module
    /// documentation).
    fn media_time(&mut self, timestamp: u32, now: Instant) -> u64 {
        let Some((last_ts, last_media, last_arrival)) = self.last else {
            self.last = Some((timestamp, 0, now));
            return 0;
        };
        let gap = now.saturating_duration_since(last_arrival);
        let gap_ticks = (gap.as_secs_f64() * CLOCK) as i64;
        let delta = i64::from(timestamp.wrapping_sub(last_ts) as i32);
        let usable = delta > 0 && delta <= gap_ticks + (LEAP.as_secs_f64() * CLOCK) as i64;
        let step = if usable { delta } else { gap_ticks.max(1) };
        let media = last_media + step as u64;
        self.step = Some(match self.step {
            Some(s) => s * 0.9 + step as f64 * 0.1,
            None => step as f64,
        });
        self.last = Some((timestamp, media, now));
        media
    }

    /// Drops the frames beyond its byte bound and, given `now`, those older than [`KEEP`];
    /// never the newest.
    fn evict(&mut self, now: Option<Instant>) {
        while self.frames.len() > 1 {
            let oldest = &self.frames[0];
            let stale =
                now.is_some_and(|now| now.saturating_duration_since(oldest.moment.arrived) > KEEP);
            if !stale && self.bytes <= self.max_bytes {
                break;
            }
            self.bytes -= oldest.jpeg.len();
            self.frames.pop_front();
            self.first += 1;
        }
    }

    fn get(&self, index: usize) -> Option<&Frame> {
        self.frames.get(index.checked_sub(self.first)?)
    }
}

impl Source for Feed {
    fn frame_count(&self) -> usize {
        self.first + self.frames.len()
    }

    fn fps(&self) -> f64 {
        if let Some(fps) = self.announced_fps {
            return fps;
        }
        match self.step {
            Some(step) if step >= 1.0 => (CLOCK / step).clamp(1.0, 240.0),
            _ => DEFAULT_FPS,
        }
    }

    fn rfc2435_frame(&self, index: usize) -> Option<hdstream_common::rfc2435::Frame<'_>> {
        let frame = self.get(index)?;
        frame.layout.frame(&frame.jpeg)
    }

    fn jpeg(&self, index: usize) -> Option<&[u8]> {
        self.get(index).map(|f| f.jpeg.as_slice())
    }

    fn is_live(&self) -> bool {
        true
    }

    fn first_frame(&self) -> usize {
        self.first
    }

    fn moment(&self, index: usize) -> Option<Moment> {
        self.get(index).map(|f| f.moment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg() -> Vec<u8> {
        crate::testing::clip().file.frame(0).unwrap().to_vec()
    }

    #[test]
    fn frames_are_numbered_on_and_kept_for_a_while() {
        let mut feed = Feed::new();
        feed.on_air(None, None);
        let t0 = Instant::now();
        for i in 0..60u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 33);
            feed.push(jpeg(), i * 3000, now).unwrap();
        }
        assert_eq!(feed.frame_count(), 60);
        // About one second (KEEP) of 30 fps stays.
        assert!((30..=32).contains(&feed.len()), "{} kept", feed.len());
        assert!(feed.rfc2435_frame(feed.first_frame()).is_some());
        assert!(feed.rfc2435_frame(feed.first_frame() - 1).is_none());
        assert_eq!(feed.moment(59).unwrap().media_time, 59 * 3000);
        assert!((feed.fps() - 30.0).abs() < 0.01, "{}", feed.fps());
        feed.off_air();
        assert_eq!((feed.frame_count(), feed.len(), feed.bytes()), (60, 0, 0));
    }

    #[test]
    fn media_time_grows_when_timestamps_do_not() {
        let mut feed = Feed::new();
        feed.on_air(None, None);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // One timestamp for every frame (jpegparse without timestamps), then a restart.
        feed.push(jpeg(), 7, at(0)).unwrap();
        feed.push(jpeg(), 7, at(40)).unwrap();
        feed.push(jpeg(), 1_000_000_000, at(80)).unwrap();
        feed.push(jpeg(), 1_000_003_600, at(120)).unwrap();
        let times: Vec<u64> = (0..4).map(|i| feed.moment(i).unwrap().media_time).collect();
        assert_eq!(times, vec![0, 3600, 7200, 10_800]);
    }

    #[test]
    fn capture_time_comes_from_the_publishers_sender_report() {
        let mut feed = Feed::new();
        feed.on_air(Some(25.0), None);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        feed.sender_report(90_000, wall);
        let now = Instant::now();
        feed.push(jpeg(), 180_000, now).unwrap();
        feed.push(jpeg(), 0, now).unwrap();
        assert_eq!(
            feed.moment(0).unwrap().capture,
            Some(wall + Duration::from_secs(1))
        );
        assert_eq!(
            feed.moment(1).unwrap().capture,
            Some(wall - Duration::from_secs(1))
        );
        assert_eq!(feed.fps(), 25.0);
    }

    #[test]
    fn bytes_are_bounded() {
        let mut feed = Feed::new();
        feed.on_air(None, None);
        let now = Instant::now();
        let big = jpeg();
        let n = MAX_BYTES / big.len() + 50;
        for i in 0..n {
            feed.push(big.clone(), i as u32 * 3000, now).unwrap();
        }
        assert!(feed.bytes() <= MAX_BYTES);
        assert_eq!(feed.frame_count(), n);
    }
}
