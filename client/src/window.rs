//! The minifb window (main thread): the picture scaled to fit with its aspect kept, the control
//! bar along the bottom ([`crate::controls`]), a statistics overlay, the title, and the keys.
//!
//! | key | button | action |
//! |---|---|---|
//! | Space | ▶ / ❚❚ | pause / resume (RTSP PAUSE / PLAY) |
//! | Left / Right | | seek −10 s / +10 s (PLAY with Range) |
//! | Home | | restart from the beginning |
//! | End | | live: back to the live edge |
//! | | the seek bar | seek there (the file, or what a live stream keeps) |
//! | S | | statistics overlay on / off |
//! | C | CC | captions on / off (on at the start) |
//! | M | the level (`100%` / `MUTE`) | mute / unmute the sound (the level is kept) |
//! | `+` (`=`, keypad +) / `-` (keypad −) | `+` / `-` | volume up / down by 10 %, 0–100 % |
//! | Q, Esc | | teardown and quit |
//!
//! A click on a button is that key's press, handled with the keys (one path per action); a
//! click is a press and a release over the same button.
//!
//! Keys are taken as they are pressed (minifb's input callback), not polled: minifb's
//! `get_keys_pressed` reports a key only if it is still down at the update after the one that
//! saw it go down, so a tap shorter than one update interval (up to 16 ms: a quick finger,
//! xdotool) was lost. The mouse button can only be polled (minifb has no callback for it): a
//! click whose press and release reach the window between the same two updates is not seen.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minifb::{InputCallback, Key, MouseButton, MouseMode, ScaleMode, WindowOptions};

use crate::controls::{self, Control, Layout, VOLUME};
use crate::decode::Picture;
use crate::inset::Inset;
use crate::options::Step;
use crate::overlay::{self, Hud};

/// The largest initial window; bigger pictures are scaled down to fit.
pub const MAX_INITIAL: (usize, usize) = (1280, 720);
/// How often the title is rewritten.
const TITLE_EVERY: Duration = Duration::from_millis(250);
/// Key presses held between two calls of [`Window::actions`] at most (a held key repeats
/// nothing, so only a flood of distinct keys reaches this).
const MAX_PRESSES: usize = 64;

/// Whether a display server is there to open a window on.
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Key presses in the order they happened, fed by minifb's input callback on every key event.
/// A key counts once per press: auto-repeat (more presses without a release) adds nothing.
#[derive(Debug, Default)]
struct Presses {
    held: Vec<Key>,
    pressed: Vec<Key>,
}

impl Presses {
    fn set(&mut self, key: Key, down: bool) {
        let was_held = self.held.contains(&key);
        if down && !was_held {
            self.held.push(key);
            if self.pressed.len() < MAX_PRESSES {
                self.pressed.push(key);
            }
        } else if !down {
            self.held.retain(|&k| k != key);
        }
    }

    fn take(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.pressed)
    }
}

/// minifb's end of [`Presses`] (the window owns the callback; the window's owner reads it).
struct TypedKeys(Rc<RefCell<Presses>>);

impl InputCallback for TypedKeys {
    fn add_char(&mut self, _: u32) {}

    fn set_key_state(&mut self, key: Key, state: bool) {
        self.0.borrow_mut().set(key, state);
    }
}

/// What the keys pressed ask for, in order; `paused` is the state before the first of them
/// (each Space flips it; a seek plays on, as [`Presenter::seek`](crate::present::Presenter::seek)
/// does). The second value says how often S was pressed.
fn key_steps(keys: &[Key], mut paused: bool) -> (Vec<Step>, usize) {
    let mut steps = Vec::new();
    let mut overlay_switches = 0;
    for key in keys {
        let step = match key {
            Key::Space if paused => Step::Resume,
            Key::Space => Step::Pause,
            Key::Left => Step::SeekBy(-10.0),
            Key::Right => Step::SeekBy(10.0),
            Key::Home => Step::SeekTo(0.0),
            Key::End => Step::LiveEdge,
            Key::Q | Key::Escape => Step::Quit,
            Key::S => {
                overlay_switches += 1;
                continue;
            }
            _ => continue,
        };
        paused = match step {
            Step::Pause => true,
            Step::Resume | Step::SeekBy(_) | Step::SeekTo(_) | Step::LiveEdge => false,
            Step::Quit => paused,
        };
        steps.push(step);
    }
    (steps, overlay_switches)
}

/// The last picture shown, kept at its own size so that a resize redraws it (while paused no
/// other picture comes to do so). The copy costs a memcpy per picture (0.25 ms at 1080p, 2 ms
/// at 2160p); the picture's own buffer goes back to the decoders as soon as it is shown.
#[derive(Debug, Default)]
struct Still {
    pixels: Vec<u32>,
    size: (usize, usize),
}

/// The player window.
pub struct Window {
    window: minifb::Window,
    size: (usize, usize),
    still: Still,
    /// The scaled picture, before overlay.
    base: Vec<u32>,
    /// What goes on screen.
    frame: Vec<u32>,
    xmap: Vec<usize>,
    overlay: bool,
    /// Captions drawn over the picture (`C`).
    captions: bool,
    presses: Rc<RefCell<Presses>>,
    title_at: Option<Instant>,
    mouse_was_down: bool,
    /// The control a press of the mouse button began on (a click ends on the same one).
    pressed_on: Option<Control>,
    /// What the seek bar spans, as of the last [`Window::actions`] (for its label).
    range: Option<(f64, f64)>,
    /// Paused, as of the last [`Window::actions`] (for the play button).
    paused: bool,
    dirty: bool,
    /// Drawn small in the top right corner (a call's near side).
    inset: Option<Arc<Inset>>,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window")
            .field("size", &self.size)
            .field("still", &self.still.size)
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
        let presses = Rc::new(RefCell::new(Presses::default()));
        window.set_input_callback(Box::new(TypedKeys(Rc::clone(&presses))));
        Ok(Window {
            window,
            size: (w, h),
            still: Still::default(),
            base: vec![0; w * h],
            frame: vec![0; w * h],
            xmap: Vec::new(),
            overlay: false,
            captions: true,
            presses,
            title_at: None,
            mouse_was_down: false,
            pressed_on: None,
            range: None,
            paused: false,
            dirty: false,
            inset: None,
        })
    }

    /// Draws `inset`'s newest picture in the top right corner with every picture.
    pub fn with_inset(mut self, inset: Option<Arc<Inset>>) -> Window {
        self.inset = inset;
        self
    }

    /// Whether the user has not closed it.
    pub fn is_open(&self) -> bool {
        self.window.is_open()
    }

    /// The window's size now (it may be resized); true when it changed.
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

    /// Scales the still picture into `base` at the window's size.
    fn scale_still(&mut self) {
        let rect = overlay::fit(self.still.size, self.size);
        overlay::scale_into(
            &self.still.pixels,
            self.still.size,
            &mut self.base,
            self.size,
            rect,
            &mut self.xmap,
        );
    }

    /// Puts `picture` on screen (and keeps a copy for redrawing it after a resize).
    pub fn show(&mut self, picture: &Picture, hud: &Hud) {
        self.still.pixels.clear();
        self.still.pixels.extend_from_slice(&picture.pixels);
        self.still.size = (picture.width, picture.height);
        self.track_size();
        self.scale_still();
        self.compose(hud);
        self.title(hud);
        self.dirty = false;
    }

    fn compose(&mut self, hud: &Hud) {
        self.frame.copy_from_slice(&self.base);
        if let Some(inset) = &self.inset {
            inset.draw(&mut self.frame, self.size);
        }
        if self.overlay {
            overlay::panel(&mut self.frame, self.size, &hud.lines, 2);
        }
        if let Some(caption) = hud.caption.as_deref().filter(|_| self.captions) {
            let scale = if self.size.0 >= 960 { 3 } else { 2 };
            overlay::caption(&mut self.frame, self.size, caption, scale);
        }
        let state = controls::State {
            paused: self.paused,
            captions: self.captions,
            progress: hud.progress,
            range: self.range,
            volume: VOLUME.percent(),
            muted: VOLUME.is_muted(),
        };
        controls::draw(&mut self.frame, self.size, &state);
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
        if self.track_size() {
            // The last picture again, at the new size: paused, no other comes to fill it.
            self.scale_still();
            self.compose(hud);
            self.dirty = false;
        } else if self.dirty {
            self.compose(hud);
            self.dirty = false;
        } else {
            self.window.update();
        }
        self.title(hud);
    }

    /// What the user asked for since the last call; `range` (the file, or what a live
    /// stream keeps) turns clicks on the seek bar into seeks.
    pub fn actions(&mut self, paused: bool, range: Option<(f64, f64)>) -> Vec<Step> {
        if (paused, range) != (self.paused, self.range) {
            self.dirty = true;
        }
        self.paused = paused;
        self.range = range;
        let mut keys = self.presses.borrow_mut().take();
        let mut seek = None;
        if let Some(control) = self.click() {
            match (control, control.key(), range) {
                (_, Some(key), _) => keys.push(key),
                (Control::Seek(fraction), None, Some((a, b))) => {
                    seek = Some(Step::SeekTo(a + fraction * (b - a)));
                }
                _ => {}
            }
        }
        let (mut steps, overlay_switches) = key_steps(&keys, paused);
        steps.extend(seek);
        if overlay_switches % 2 == 1 {
            self.overlay = !self.overlay;
            self.dirty = true;
        }
        for key in &keys {
            self.dirty |= self.switch(*key);
        }
        if !self.window.is_open() {
            steps.push(Step::Quit);
        }
        steps
    }

    /// The window's own switches (captions, the volume); true if `key` was one.
    fn switch(&mut self, key: Key) -> bool {
        match key {
            Key::C => self.captions = !self.captions,
            Key::M => VOLUME.toggle_mute(),
            Key::Equal | Key::NumPadPlus => VOLUME.step(true),
            Key::Minus | Key::NumPadMinus => VOLUME.step(false),
            _ => return false,
        }
        true
    }

    /// A click that ended since the last call: the button pressed and released on (the seek
    /// bar where released).
    fn click(&mut self) -> Option<Control> {
        let down = self.window.get_mouse_down(MouseButton::Left);
        let at = self
            .window
            .get_mouse_pos(MouseMode::Discard)
            .and_then(|pos| Layout::new(self.size).hit(pos));
        let was_down = std::mem::replace(&mut self.mouse_was_down, down);
        if down && !was_down {
            self.pressed_on = at;
            return None;
        }
        if down || !was_down {
            return None;
        }
        let pressed_on = self.pressed_on.take()?;
        at.filter(|a| a.same_button(pressed_on))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_released_before_it_is_read_still_counts_once() {
        let mut p = Presses::default();
        // Press and release between two reads (xdotool's 6 ms tap), then auto-repeat.
        p.set(Key::Space, true);
        p.set(Key::Space, false);
        p.set(Key::Right, true);
        p.set(Key::Right, true);
        p.set(Key::Right, true);
        assert_eq!(p.take(), [Key::Space, Key::Right]);
        assert_eq!(p.take(), [], "read once");
        p.set(Key::Right, false);
        p.set(Key::Right, true);
        assert_eq!(p.take(), [Key::Right], "pressed again after the release");
    }

    #[test]
    fn presses_are_bounded() {
        let mut p = Presses::default();
        for _ in 0..1000 {
            p.set(Key::Left, true);
            p.set(Key::Left, false);
        }
        assert_eq!(p.take().len(), MAX_PRESSES);
        assert!(p.held.is_empty());
    }

    #[test]
    fn keys_become_steps_in_order_and_space_toggles() {
        let (steps, overlay) = key_steps(
            &[
                Key::Space,
                Key::S,
                Key::Space,
                Key::Right,
                Key::Left,
                Key::Home,
                Key::A,
                Key::Escape,
            ],
            false,
        );
        assert_eq!(
            steps,
            [
                Step::Pause,
                Step::Resume,
                Step::SeekBy(10.0),
                Step::SeekBy(-10.0),
                Step::SeekTo(0.0),
                Step::Quit
            ]
        );
        assert_eq!(overlay, 1);
        assert_eq!(key_steps(&[Key::Space], true).0, [Step::Resume]);
        assert_eq!(
            key_steps(&[Key::Home, Key::Space], true).0,
            [Step::SeekTo(0.0), Step::Pause],
            "a seek plays on, so Space after it pauses"
        );
        assert_eq!(key_steps(&[Key::Q], true).0, [Step::Quit]);
    }
}
