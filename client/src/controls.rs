//! The window's control bar along the bottom, as the course's players had buttons, and the
//! sound's volume.
//!
//! ```text
//! ┌──────┬──────────────────────────────┬─────────────┬────┬──────┬───┬───┐
//! │ ▶/❚❚ │ seek bar ████████░░░░░░░░░░░ │ 0:12 / 0:30 │ CC │ 100% │ - │ + │
//! └──────┴──────────────────────────────┴─────────────┴────┴──────┴───┴───┘
//! ```
//!
//! Every button does what its key does, by the same code path: the window turns a click on a
//! button into that key's press ([`Control::key`]) and handles it with the keys. The seek bar
//! spans what can be played — the file, or what a live stream keeps for timeshift, its right
//! end the live edge — and its label reads the position from that range's start and the
//! range's length. A click is a press and a release over the same button.
//!
//! The volume ([`VOLUME`]) is the player's, one per process: the window sets it (`M`, `+`, `-`,
//! the buttons) and the network thread applies it to the samples as they leave the audio
//! output ([`Volume::apply`], in `driver::Driver::record_audio`). Muting keeps the level.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[cfg(feature = "window")]
use minifb::Key;

use crate::overlay::{self, BAR_HEIGHT, Rect};

/// Volume change per `+` / `-`, percent.
pub const VOLUME_STEP: u32 = 10;

/// The sound's level and mute, shared by the window (which sets them) and the network thread
/// (which applies them).
#[derive(Debug)]
pub struct Volume {
    percent: AtomicU32,
    muted: AtomicBool,
}

/// The player's volume.
pub static VOLUME: Volume = Volume::new();

impl Volume {
    /// Full level (100 %), not muted.
    pub const fn new() -> Volume {
        Volume {
            percent: AtomicU32::new(100),
            muted: AtomicBool::new(false),
        }
    }

    /// The level, 0..=100 %, kept while muted.
    pub fn percent(&self) -> u32 {
        self.percent.load(Ordering::Relaxed)
    }

    /// Whether muted.
    pub fn is_muted(&self) -> bool {
        self.muted.load(Ordering::Relaxed)
    }

    /// Mutes or unmutes (`M`).
    pub fn toggle_mute(&self) {
        self.muted.fetch_xor(true, Ordering::Relaxed);
    }

    /// One [`VOLUME_STEP`] up (`+`) or down (`-`), within 0..=100 %.
    pub fn step(&self, up: bool) {
        let _ = self
            .percent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(if up {
                    (p + VOLUME_STEP).min(100)
                } else {
                    p.saturating_sub(VOLUME_STEP)
                })
            });
    }

    /// Scales `samples` by the level; muted, they become silence.
    pub fn apply(&self, samples: &mut [i16]) {
        let percent = if self.is_muted() { 0 } else { self.percent() };
        match percent {
            0 => samples.fill(0),
            100.. => {}
            p => {
                for s in samples {
                    // |s × p / 100| ≤ |s|: no overflow.
                    *s = (i32::from(*s) * p as i32 / 100) as i16;
                }
            }
        }
    }
}

impl Default for Volume {
    fn default() -> Volume {
        Volume::new()
    }
}

/// What a click on the bar hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// Play / pause (Space).
    Play,
    /// The seek bar, at this fraction of it (0..=1).
    Seek(f64),
    /// Captions on / off (C).
    Captions,
    /// Mute / unmute (M).
    Mute,
    /// Volume down (-).
    VolumeDown,
    /// Volume up (+).
    VolumeUp,
}

impl Control {
    /// The key whose press this button is (the seek bar has none).
    #[cfg(feature = "window")]
    pub fn key(self) -> Option<Key> {
        match self {
            Control::Play => Some(Key::Space),
            Control::Seek(_) => None,
            Control::Captions => Some(Key::C),
            Control::Mute => Some(Key::M),
            Control::VolumeDown => Some(Key::Minus),
            Control::VolumeUp => Some(Key::Equal),
        }
    }

    /// Whether `self` and `other` are the same button (anywhere on the seek bar is one).
    pub fn same_button(self, other: Control) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// Where the bar's parts are in a window of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The whole bar.
    pub bar: Rect,
    /// Play / pause.
    pub play: Rect,
    /// The seek bar (clicks land on its full height in the bar).
    pub seek: Rect,
    /// The time label.
    pub time: Rect,
    /// Captions.
    pub captions: Rect,
    /// Mute, showing the level.
    pub mute: Rect,
    /// Volume down.
    pub down: Rect,
    /// Volume up.
    pub up: Rect,
    /// Text scale in the bar.
    pub scale: usize,
}

/// Characters of the time label (`59:59 / 59:59`; longer times run into the CC button).
const TIME_CHARS: usize = 13;

impl Layout {
    /// The bar of a `w` × `h` window: buttons at the ends, the seek bar taking what is left.
    pub fn new((w, h): (usize, usize)) -> Layout {
        let scale = if w >= 600 { 2 } else { 1 };
        let cw = overlay::char_width(scale);
        let y = h.saturating_sub(BAR_HEIGHT);
        let cell = |x: usize, width: usize| Rect {
            x,
            y,
            w: width,
            h: BAR_HEIGHT.min(h),
        };
        let play = cell(0, 2 * BAR_HEIGHT);
        // From the right edge: +, -, the level, CC, the time.
        let up_w = cw + 2 * cw;
        let up = cell(w.saturating_sub(up_w), up_w);
        let down = cell(up.x.saturating_sub(up_w), up_w);
        let mute_w = 5 * cw;
        let mute = cell(down.x.saturating_sub(mute_w), mute_w);
        let cc_w = 4 * cw;
        let captions = cell(mute.x.saturating_sub(cc_w), cc_w);
        let time_w = (TIME_CHARS + 1) * cw;
        let time = cell(captions.x.saturating_sub(time_w), time_w);
        let pad = BAR_HEIGHT / 2;
        let seek_x = play.x + play.w + pad;
        let seek = cell(seek_x, time.x.saturating_sub(seek_x + pad));
        Layout {
            bar: cell(0, w),
            play,
            seek,
            time,
            captions,
            mute,
            down,
            up,
            scale,
        }
    }

    /// What window point `(x, y)` is on, if a control.
    pub fn hit(&self, (x, y): (f32, f32)) -> Option<Control> {
        if x < 0.0 || y < 0.0 {
            return None;
        }
        let (x, y) = (x as usize, y as usize);
        let inside = |r: &Rect| x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
        if inside(&self.seek) {
            return Some(Control::Seek(self.fraction(x)));
        }
        [
            (self.play, Control::Play),
            (self.captions, Control::Captions),
            (self.mute, Control::Mute),
            (self.down, Control::VolumeDown),
            (self.up, Control::VolumeUp),
        ]
        .into_iter()
        .find_map(|(r, c)| inside(&r).then_some(c))
    }

    /// The fraction of the seek bar at window column `x`.
    pub fn fraction(&self, x: usize) -> f64 {
        (x.saturating_sub(self.seek.x) as f64 / self.seek.w.max(1) as f64).clamp(0.0, 1.0)
    }
}

/// What the bar shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    /// Paused (the button shows play) or playing (it shows pause).
    pub paused: bool,
    /// Captions drawn.
    pub captions: bool,
    /// Where the picture is in the range, 0..=1 (`None`: no range known).
    pub progress: Option<f64>,
    /// What the seek bar spans, seconds (the file, or what a live stream keeps).
    pub range: Option<(f64, f64)>,
    /// The volume, percent.
    pub volume: u32,
    /// Muted.
    pub muted: bool,
}

const BACK: u32 = 0x0020_2020;
const TRACK: u32 = 0x0040_4040;
const DONE: u32 = 0x00E0_3030;
const TEXT: u32 = 0x00FF_FFFF;
const DIM: u32 = 0x0080_8080;
const ON: u32 = 0x0050_5050;

/// `m:ss`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// Draws the bar in `state` over the bottom of `dst` (`size`).
pub fn draw(dst: &mut [u32], size: (usize, usize), state: &State) {
    let l = Layout::new(size);
    overlay::fill(dst, size, l.bar, BACK);
    let label = |dst: &mut [u32], r: Rect, text: &str, color: u32| {
        let width = text.chars().count() * overlay::char_width(l.scale);
        let x = r.x + r.w.saturating_sub(width) / 2;
        let y = r.y + r.h.saturating_sub(7 * l.scale) / 2;
        overlay::text(dst, size, x, y, text, l.scale, color);
    };
    // Play (a triangle) when paused, else pause (two bars).
    let (cx, cy, half) = (
        l.play.x + l.play.w / 2,
        l.play.y + l.play.h / 2,
        l.play.h / 3,
    );
    if state.paused {
        for dx in 0..=2 * half {
            let reach = half.saturating_sub(dx / 2);
            overlay::fill(
                dst,
                size,
                Rect {
                    x: cx + dx - half,
                    y: cy - reach,
                    w: 1,
                    h: 2 * reach + 1,
                },
                TEXT,
            );
        }
    } else {
        for x in [cx - half, cx + half / 3] {
            let r = Rect {
                x,
                y: cy - half,
                w: (2 * half / 3).max(1),
                h: 2 * half + 1,
            };
            overlay::fill(dst, size, r, TEXT);
        }
    }
    // The seek bar: a track, filled to the position.
    let track = Rect {
        y: l.seek.y + l.seek.h / 3,
        h: (l.seek.h / 3).max(1),
        ..l.seek
    };
    overlay::fill(dst, size, track, TRACK);
    if let Some(p) = state.progress {
        let done = (p.clamp(0.0, 1.0) * track.w as f64) as usize;
        overlay::fill(dst, size, Rect { w: done, ..track }, DONE);
    }
    if let (Some(p), Some((a, b))) = (state.progress, state.range) {
        let length = b - a;
        let text = format!("{} / {}", clock(p.clamp(0.0, 1.0) * length), clock(length));
        label(dst, l.time, &text, TEXT);
    }
    if state.captions {
        overlay::fill(dst, size, l.captions, ON);
    }
    label(
        dst,
        l.captions,
        "CC",
        if state.captions { TEXT } else { DIM },
    );
    let level = if state.muted {
        "MUTE".to_owned()
    } else {
        format!("{}%", state.volume)
    };
    label(dst, l.mute, &level, if state.muted { DONE } else { TEXT });
    label(dst, l.down, "-", TEXT);
    label(dst, l.up, "+", TEXT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gain_scales_mute_silences_and_the_level_stays_in_range() {
        let v = Volume::new();
        let mut s = [1000, -32768, 32767, 0];
        v.apply(&mut s);
        assert_eq!(s, [1000, -32768, 32767, 0], "100 %: as it is");
        for _ in 0..5 {
            v.step(false);
        }
        assert_eq!(v.percent(), 50);
        v.apply(&mut s);
        assert_eq!(s, [500, -16384, 16383, 0]);
        v.toggle_mute();
        v.apply(&mut s);
        assert_eq!(s, [0; 4], "muted");
        assert_eq!(v.percent(), 50, "the level is kept");
        v.toggle_mute();
        for _ in 0..20 {
            v.step(true);
        }
        assert_eq!((v.percent(), v.is_muted()), (100, false));
        for _ in 0..20 {
            v.step(false);
        }
        assert_eq!(v.percent(), 0);
    }

    #[test]
    fn each_button_is_where_it_is_drawn_and_is_its_key() {
        let size = (640, 360);
        let l = Layout::new(size);
        let centre = |r: Rect| ((r.x + r.w / 2) as f32, (r.y + r.h / 2) as f32);
        assert_eq!(l.hit(centre(l.play)), Some(Control::Play));
        assert_eq!(l.hit(centre(l.captions)), Some(Control::Captions));
        assert_eq!(l.hit(centre(l.mute)), Some(Control::Mute));
        assert_eq!(l.hit(centre(l.down)), Some(Control::VolumeDown));
        assert_eq!(l.hit(centre(l.up)), Some(Control::VolumeUp));
        assert_eq!(l.hit(centre(l.time)), None, "the label is no button");
        assert_eq!(l.hit((320.0, 100.0)), None, "the picture is no button");
        let Some(Control::Seek(f)) = l.hit(((l.seek.x + l.seek.w / 4) as f32, 355.0)) else {
            panic!("{l:?}")
        };
        assert!((f - 0.25).abs() < 0.01, "{f}");
        assert!(l.seek.w > 200, "{l:?}");
        assert_eq!(l.up.x + l.up.w, 640, "{l:?}");
        #[cfg(feature = "window")]
        {
            assert_eq!(Control::Play.key(), Some(Key::Space));
            assert_eq!(Control::Captions.key(), Some(Key::C));
        }
        assert!(Control::Seek(0.1).same_button(Control::Seek(0.9)));
        assert!(!Control::Mute.same_button(Control::Play));
        // A tiny window: nothing drawn out of bounds.
        for size in [(640, 360), (100, 40), (8, 4), (1, 1)] {
            let mut dst = vec![0; size.0 * size.1];
            let state = State {
                paused: true,
                captions: true,
                progress: Some(0.5),
                range: Some((0.0, 30.0)),
                volume: 100,
                muted: true,
            };
            draw(&mut dst, size, &state);
        }
    }

    #[test]
    fn the_bar_shows_the_state() {
        let size = (640, 360);
        let l = Layout::new(size);
        let mut state = State {
            paused: false,
            captions: true,
            progress: Some(0.5),
            range: Some((10.0, 40.0)),
            volume: 100,
            muted: false,
        };
        let mut a = vec![0x0012_3456; 640 * 360];
        draw(&mut a, size, &state);
        assert_eq!(a[(l.bar.y - 1) * 640], 0x0012_3456, "nothing above the bar");
        let mid = l.seek.y + l.seek.h / 2;
        assert_eq!(a[mid * 640 + l.seek.x + l.seek.w / 4], DONE);
        assert_eq!(a[mid * 640 + l.seek.x + 3 * l.seek.w / 4], TRACK);
        assert_eq!(clock(75.9), "1:15");
        state.captions = false;
        state.muted = true;
        state.paused = true;
        let mut b = vec![0x0012_3456; 640 * 360];
        draw(&mut b, size, &state);
        let differ = |r: Rect| {
            (r.y..r.y + r.h)
                .flat_map(|y| (r.x..r.x + r.w).map(move |x| y * 640 + x))
                .any(|i| a[i] != b[i])
        };
        assert!(differ(l.play) && differ(l.captions) && differ(l.mute));
        assert!(!differ(l.time) && !differ(l.seek));
    }
}
