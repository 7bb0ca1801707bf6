//! The minifb window (main thread): the picture scaled to fit with its aspect kept, a progress
//! bar along the bottom, a statistics overlay, the title, and the keys.
//!
//! | key | action |
//! |---|---|
//! | Space | pause / resume (RTSP PAUSE / PLAY) |
//! | Left / Right | seek −10 s / +10 s (PLAY with Range) |
//! | Home | restart from the beginning |
//! | S | statistics overlay on / off |
//! | Q, Esc | teardown and quit |
//! | click on the bar | seek there |

use std::time::{Duration, Instant};

use minifb::{Key, KeyRepeat, MouseButton, MouseMode, ScaleMode, WindowOptions};

use crate::decode::Picture;
use crate::options::Step;
use crate::overlay;

/// The largest initial window; bigger pictures are scaled down to fit.
pub const MAX_INITIAL: (usize, usize) = (1280, 720);
/// How often the title is rewritten.
const TITLE_EVERY: Duration = Duration::from_millis(250);

/// What the window shows besides the picture.
#[derive(Debug, Clone, Default)]
pub struct Hud {
    /// The title line.
    pub title: String,
    /// Overlay lines (shown when the overlay is on).
    pub lines: Vec<String>,
    /// Position in the presentation, 0..=1 (`None`: no duration known).
    pub progress: Option<f64>,
}

/// Whether a display server is there to open a window on.
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// The player window.
pub struct Window {
    window: minifb::Window,
    size: (usize, usize),
    /// The scaled picture, before overlay.
    base: Vec<u32>,
    /// What goes on screen.
    frame: Vec<u32>,
    xmap: Vec<usize>,
    overlay: bool,
    title_at: Option<Instant>,
    mouse_was_down: bool,
    dirty: bool,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Window {
    /// Opens a window for pictures of `width` × `height`, scaled down to fit
    /// [`MAX_INITIAL`].
    pub fn open(width: usize, height: usize) -> Result<Window, String> {
        let (w, h) = if width <= MAX_INITIAL.0 && height <= MAX_INITIAL.1 {
            (width.max(64), height.max(64))
        } else {
            let r = overlay::fit((width, height), MAX_INITIAL);
            (r.w.max(64), r.h.max(64))
        };
        let options = WindowOptions {
            resize: true,
            scale_mode: ScaleMode::UpperLeft,
            ..WindowOptions::default()
        };
        let mut window =
            minifb::Window::new("hdstream", w, h, options).map_err(|e| e.to_string())?;
        window.set_target_fps(0);
        Ok(Window {
            window,
            size: (w, h),
            base: vec![0; w * h],
            frame: vec![0; w * h],
            xmap: Vec::new(),
            overlay: false,
            title_at: None,
            mouse_was_down: false,
            dirty: false,
        })
    }

    /// Whether the user has not closed it.
    pub fn is_open(&self) -> bool {
        self.window.is_open()
    }

    /// The window's size now (it may be resized).
    fn track_size(&mut self) -> bool {
        let (w, h) = self.window.get_size();
        let size = (w.max(1), h.max(1));
        if size == self.size {
            return false;
        }
        self.size = size;
        self.base = vec![0; size.0 * size.1];
        self.frame = vec![0; size.0 * size.1];
        true
    }

    /// Puts `picture` on screen.
    pub fn show(&mut self, picture: &Picture, hud: &Hud) {
        self.track_size();
        let rect = overlay::fit((picture.width, picture.height), self.size);
        overlay::scale_into(
            &picture.pixels,
            (picture.width, picture.height),
            &mut self.base,
            self.size,
            rect,
            &mut self.xmap,
        );
        self.compose(hud);
        self.title(hud);
        self.dirty = false;
    }

    fn compose(&mut self, hud: &Hud) {
        self.frame.copy_from_slice(&self.base);
        if self.overlay {
            overlay::panel(&mut self.frame, self.size, &hud.lines, 2);
        }
        if let Some(progress) = hud.progress {
            overlay::progress_bar(&mut self.frame, self.size, progress);
        }
        let (w, h) = self.size;
        if let Err(e) = self.window.update_with_buffer(&self.frame, w, h) {
            tracing::debug!(error = %e, "window update failed");
        }
    }

    fn title(&mut self, hud: &Hud) {
        if self.title_at.is_none_or(|t| t.elapsed() >= TITLE_EVERY) {
            self.window.set_title(&hud.title);
            self.title_at = Some(Instant::now());
        }
    }

    /// Keeps the window alive between pictures (events, resizes, the overlay switched).
    pub fn pump(&mut self, hud: &Hud) {
        if self.track_size() || self.dirty {
            // After a resize the base is blank until the next picture; after an overlay
            // switch it still holds the last one.
            self.compose(hud);
            self.dirty = false;
        } else {
            self.window.update();
        }
        self.title(hud);
    }

    /// What the user asked for since the last call; `duration` turns bar clicks into seeks.
    pub fn actions(&mut self, paused: bool, duration: Option<f64>) -> Vec<Step> {
        let mut steps = Vec::new();
        for key in self.window.get_keys_pressed(KeyRepeat::No) {
            match key {
                Key::Space if paused => steps.push(Step::Resume),
                Key::Space => steps.push(Step::Pause),
                Key::Left => steps.push(Step::SeekBy(-10.0)),
                Key::Right => steps.push(Step::SeekBy(10.0)),
                Key::Home => steps.push(Step::SeekTo(0.0)),
                Key::S => {
                    self.overlay = !self.overlay;
                    self.dirty = true;
                }
                Key::Q | Key::Escape => steps.push(Step::Quit),
                _ => {}
            }
        }
        let down = self.window.get_mouse_down(MouseButton::Left);
        if down && !self.mouse_was_down {
            let hit = self
                .window
                .get_mouse_pos(MouseMode::Discard)
                .and_then(|pos| overlay::bar_hit(pos, self.size));
            if let (Some(fraction), Some(d)) = (hit, duration) {
                steps.push(Step::SeekTo(fraction * d));
            }
        }
        self.mouse_was_down = down;
        if !self.window.is_open() {
            steps.push(Step::Quit);
        }
        steps
    }
}
