//! A second, small picture drawn in a corner of the window over the one played: a call's near
//! side (what the local camera sends), as video-call windows show it. Its owner (the call)
//! puts pictures in from its own thread; the window draws the newest one with every picture
//! it shows.

use parking_lot::Mutex;

use crate::overlay::{self, Rect};

/// The inset's width as a share of the window's.
pub const SHARE: usize = 4;
/// Pixels between the inset and the window's edges.
const MARGIN: usize = 8;
/// The inset's frame colour (`0x00RRGGBB`).
const FRAME: u32 = 0x00_e0_e0_e0;

/// The newest inset picture (`0x00RRGGBB`, row-major).
#[derive(Debug, Default)]
pub struct Inset {
    picture: Mutex<Picture>,
}

#[derive(Debug, Default)]
struct Picture {
    pixels: Vec<u32>,
    size: (usize, usize),
}

impl Inset {
    /// An empty inset (nothing is drawn until a picture is put in).
    pub fn new() -> Inset {
        Inset::default()
    }

    /// Puts in the newest picture, `width` × `height` `0x00RRGGBB` pixels (scaled down on the
    /// way in to at most `max_width` wide, its aspect kept, so drawing it is cheap).
    pub fn put(&self, pixels: &[u32], width: usize, height: usize, max_width: usize) {
        if width == 0 || height == 0 || pixels.len() < width * height {
            return;
        }
        let w = width.min(max_width.max(1));
        let h = (height * w / width).max(1);
        let mut p = self.picture.lock();
        p.pixels.clear();
        p.pixels.reserve(w * h);
        for y in 0..h {
            let row = &pixels[(y * height / h) * width..][..width];
            p.pixels.extend((0..w).map(|x| row[x * width / w]));
        }
        p.size = (w, h);
    }

    /// The size of the picture held (`(0, 0)`: none yet).
    pub fn size(&self) -> (usize, usize) {
        self.picture.lock().size
    }

    /// Draws the newest picture into `frame` (`size`), a [`SHARE`]th of its width, in the
    /// top right corner with a thin frame; nothing when there is none yet or the window is
    /// too small. Returns where it went.
    pub fn draw(&self, frame: &mut [u32], size: (usize, usize)) -> Option<Rect> {
        let p = self.picture.lock();
        let (sw, sh) = p.size;
        let (dw, dh) = size;
        if sw == 0 || sh == 0 || frame.len() < dw * dh {
            return None;
        }
        let w = dw / SHARE;
        let h = sh * w / sw;
        if w < 16 || h < 16 || w + 2 * MARGIN > dw || h + 2 * MARGIN > dh {
            return None;
        }
        let rect = Rect {
            x: dw - MARGIN - w,
            y: MARGIN,
            w,
            h,
        };
        let border = Rect {
            x: rect.x - 1,
            y: rect.y - 1,
            w: w + 2,
            h: h + 2,
        };
        overlay::fill(frame, size, border, FRAME);
        for y in 0..h {
            let src = &p.pixels[(y * sh / h) * sw..][..sw];
            let start = (rect.y + y) * dw + rect.x;
            for (x, d) in frame[start..start + w].iter_mut().enumerate() {
                *d = src[x * sw / w];
            }
        }
        Some(rect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_picture_goes_top_right_a_quarter_wide_with_its_aspect() {
        let inset = Inset::new();
        let mut frame = vec![0u32; 640 * 360];
        assert_eq!(inset.draw(&mut frame, (640, 360)), None, "nothing yet");
        // A 1280x720 picture: left half red, right half blue.
        let pixels: Vec<u32> = (0..1280 * 720)
            .map(|i| if i % 1280 < 640 { 0xff0000 } else { 0x0000ff })
            .collect();
        inset.put(&pixels, 1280, 720, 320);
        assert_eq!(inset.size(), (320, 180));
        let rect = inset.draw(&mut frame, (640, 360)).unwrap();
        assert_eq!((rect.x, rect.y, rect.w, rect.h), (472, 8, 160, 90));
        let at = |x: usize, y: usize| frame[y * 640 + x];
        assert_eq!(at(rect.x + 10, rect.y + 45), 0xff0000);
        assert_eq!(at(rect.x + 150, rect.y + 45), 0x0000ff);
        assert_eq!(at(rect.x - 1, rect.y + 45), FRAME, "framed");
        assert_eq!(at(100, 200), 0, "the rest untouched");
    }

    #[test]
    fn a_window_too_small_gets_no_inset() {
        let inset = Inset::new();
        inset.put(&[0x00ffffff; 64 * 36], 64, 36, 64);
        let mut frame = vec![0u32; 40 * 30];
        assert_eq!(inset.draw(&mut frame, (40, 30)), None);
        inset.put(&[1, 2], 4, 4, 64);
        assert_eq!(inset.size(), (64, 36), "a short buffer is refused");
    }
}
