//! Test-pattern frames that move and show their number, so a viewer sees every dropped frame.
//!
//! ```text
//! +--------+--------+--------+--------+--------+--------+--------+--------+
//! | white  | yellow |  cyan  | green  |magenta |  red   |  blue  | black  |  top quarter:
//! |        |        |        |        |        |        |        |        |  fixed colour bars
//! +--------+--------+--------+--------+--------+--------+--------+--------+
//! | hue gradient scrolling left by 1/120 of the width per frame    |      |
//! |                                  a white bar sweeping right ->  |      |
//! | +----------------------+                                       |      |
//! | | 0 0 0 4 2  (7-segment)|                                       |      |
//! | +----------------------+                                       |      |
//! +-----------------------------------------------------------------------+
//! ```
//!
//! Drawing works on whole row slices (`copy_from_slice`), fast enough for 2160p.

use crate::encoder::{EncodeError, Settings, encode_rgb_with};

/// The fixed colour bars across the top quarter, left to right.
pub const BARS: [[u8; 3]; 8] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
    [0, 0, 0],
];

/// Colour of the frame-number digits.
pub const DIGIT: [u8; 3] = [255, 255, 255];
/// Colour of the box behind the digits.
pub const DIGIT_BOX: [u8; 3] = [0, 0, 0];
/// Colour of the sweeping bar.
pub const SWEEP: [u8; 3] = [255, 255, 255];
/// Frames the gradient and the bar take to cross the picture once.
pub const PERIOD: u64 = 120;
/// Digits shown at least (more when the number needs them).
pub const MIN_DIGITS: usize = 5;

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: usize,
    /// Top edge.
    pub y: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
}

/// `frames` numbered pattern frames of `width` × `height` at `quality`, each a JPEG (for test
/// media: see [`plain`] and [`course`] for the two containers).
pub fn frames(
    width: u16,
    height: u16,
    frames: u64,
    quality: u8,
) -> Result<Vec<Vec<u8>>, EncodeError> {
    frames_with(width, height, frames, Settings::quality(quality))
}

/// [`frames`], encoded as `settings` say (restart markers, for one).
pub fn frames_with(
    width: u16,
    height: u16,
    frames: u64,
    settings: Settings,
) -> Result<Vec<Vec<u8>>, EncodeError> {
    let mut pattern = Pattern::new(width, height);
    (0..frames)
        .map(|n| {
            let mut jpeg = Vec::new();
            pattern.encode_with(n, settings, &mut jpeg)?;
            Ok(jpeg)
        })
        .collect()
}

/// JPEG frames as a plain MJPEG file: concatenated, SOI … EOI each.
pub fn plain(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// JPEG frames in the course's `movie.Mjpeg` container: each preceded by its length as 5 ASCII
/// digits (frames must be under 100,000 bytes).
pub fn course(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for jpeg in frames {
        out.extend_from_slice(format!("{:05}", jpeg.len()).as_bytes());
        out.extend_from_slice(jpeg);
    }
    out
}

/// Draws pattern frames into a canvas it keeps (packed RGB, reused frame after frame).
#[derive(Debug, Clone)]
pub struct Pattern {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    /// One row of the hue gradient, twice over, so any scroll offset is one slice.
    ramp: Vec<u8>,
}

impl Pattern {
    /// A canvas of `width` × `height` pixels.
    pub fn new(width: u16, height: u16) -> Pattern {
        let (width, height) = (usize::from(width), usize::from(height));
        let mut ramp = Vec::with_capacity(width * 6);
        for x in 0..width * 2 {
            ramp.extend_from_slice(&hue((x % width.max(1)) * 1536 / width.max(1)));
        }
        Pattern {
            width,
            height,
            rgb: vec![0; width * height * 3],
            ramp,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The top band of colour bars: bar `i` spans [`Pattern::bar`].
    pub fn bars_height(&self) -> usize {
        self.height / 4
    }

    /// Where colour bar `i` (0..8) is.
    pub fn bar(&self, i: usize) -> Rect {
        let x = self.width * i / BARS.len();
        let end = self.width * (i + 1) / BARS.len();
        Rect {
            x,
            y: 0,
            w: end - x,
            h: self.bars_height(),
        }
    }

    /// Height of one digit; digits are half as wide and `DIGIT_GAP` apart.
    fn digit_height(&self) -> usize {
        (self.height / 6).max(7)
    }

    /// Where the box behind the frame number is, for a number with `digits` digits.
    pub fn number_box(&self, digits: usize) -> Rect {
        let dh = self.digit_height();
        let dw = dh / 2;
        let pad = dh / 6;
        Rect {
            x: pad,
            y: self.height.saturating_sub(dh + 3 * pad),
            w: digits * (dw + pad) + pad,
            h: dh + 2 * pad,
        }
    }

    /// Where digit `i` (from the left) of the number is, and its segments' stroke width.
    pub fn digit(&self, i: usize, digits: usize) -> (Rect, usize) {
        let dh = self.digit_height();
        let dw = dh / 2;
        let pad = dh / 6;
        let b = self.number_box(digits);
        (
            Rect {
                x: b.x + pad + i * (dw + pad),
                y: b.y + pad,
                w: dw,
                h: dh,
            },
            (dh / 10).max(1),
        )
    }

    /// Draws frame `n` and returns it, packed RGB row-major.
    pub fn draw(&mut self, n: u64) -> &[u8] {
        self.draw_with_clock(n, None)
    }

    /// Draws frame `n` with a clock above its number (a capture time of day, shown as
    /// `HHMMSSmmm` in the same digits), so a camera pointed at a screen showing it measures
    /// glass-to-glass latency by eye.
    pub fn draw_with_clock(&mut self, n: u64, clock: Option<std::time::Duration>) -> &[u8] {
        let (w, h) = (self.width, self.height);
        if w == 0 || h == 0 {
            return &self.rgb;
        }
        let bars = self.bars_height();
        for (i, colour) in BARS.iter().enumerate() {
            self.fill(self.bar(i), *colour);
        }
        // Scrolling gradient: row = ramp[shift .. shift + w].
        let shift = ((n % PERIOD) as usize * w / PERIOD as usize) % w;
        let row_bytes = w * 3;
        if let Some(row) = self.ramp.get(shift * 3..shift * 3 + row_bytes) {
            for dst in self.rgb[bars * row_bytes..].chunks_exact_mut(row_bytes) {
                dst.copy_from_slice(row);
            }
        }
        // Sweeping bar.
        let bar_w = (w / 64).max(2).min(w);
        let x = ((n % PERIOD) as usize * (w - bar_w)) / (PERIOD as usize - 1).max(1);
        self.fill(
            Rect {
                x,
                y: bars,
                w: bar_w,
                h: h - bars,
            },
            SWEEP,
        );
        // Frame number, and the clock one row above it.
        self.digits(&format!("{n:0MIN_DIGITS$}"), 0);
        if let Some(clock) = clock {
            let ms = clock.as_millis() % 86_400_000;
            let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            let rise = self.number_box(1).h + self.digit_height() / 6;
            self.digits(&format!("{h:02}{m:02}{s:02}{milli:03}"), rise);
        }
        &self.rgb
    }

    /// Draws a row of decimal digits in the number's place, `rise` pixels higher.
    fn digits(&mut self, text: &str, rise: usize) {
        let digits = text.len();
        let raise = |r: Rect| Rect {
            y: r.y.saturating_sub(rise),
            ..r
        };
        self.fill(raise(self.number_box(digits)), DIGIT_BOX);
        for (i, c) in text.bytes().enumerate() {
            let (r, t) = self.digit(i, digits);
            for seg in segments(c.wrapping_sub(b'0'), raise(r), t) {
                self.fill(seg, DIGIT);
            }
        }
    }

    /// Draws frame `n` and encodes it (RFC 2435-ready, see [`crate::encoder::encode_rgb`])
    /// into `out`.
    pub fn encode(&mut self, n: u64, quality: u8, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode_with(n, Settings::quality(quality), out)
    }

    /// [`Pattern::encode`] as `settings` say.
    pub fn encode_with(
        &mut self,
        n: u64,
        settings: Settings,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        // Sizes come from u16 in `new`.
        let (w, h) = (self.width as u16, self.height as u16);
        let rgb = self.draw(n);
        encode_rgb_with(rgb, w, h, settings, out)
    }

    /// [`Pattern::encode_with`], the clock drawn too ([`Pattern::draw_with_clock`]).
    pub fn encode_with_clock(
        &mut self,
        n: u64,
        clock: std::time::Duration,
        settings: Settings,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let (w, h) = (self.width as u16, self.height as u16);
        let rgb = self.draw_with_clock(n, Some(clock));
        encode_rgb_with(rgb, w, h, settings, out)
    }

    /// Fills `r` (clipped to the canvas) with `colour`, one row slice at a time.
    fn fill(&mut self, r: Rect, colour: [u8; 3]) {
        let x0 = r.x.min(self.width);
        let x1 = r.x.saturating_add(r.w).min(self.width);
        let y1 = r.y.saturating_add(r.h).min(self.height);
        if x0 >= x1 || r.y >= y1 {
            return;
        }
        let mut span = Vec::with_capacity((x1 - x0) * 3);
        for _ in x0..x1 {
            span.extend_from_slice(&colour);
        }
        let row_bytes = self.width * 3;
        for y in r.y..y1 {
            let at = y * row_bytes + x0 * 3;
            self.rgb[at..at + span.len()].copy_from_slice(&span);
        }
    }
}

/// Seven-segment layout: which of a, b, c, d, e, f, g each digit lights (bit 0 = a).
const SEVEN: [u8; 10] = [
    0b011_1111, 0b000_0110, 0b101_1011, 0b100_1111, 0b110_0110, 0b110_1101, 0b111_1101, 0b000_0111,
    0b111_1111, 0b110_1111,
];

/// The lit segments of `digit` drawn in `r` with stroke `t`.
///
/// ```text
///  aaa
/// f   b
///  ggg
/// e   c
///  ddd
/// ```
fn segments(digit: u8, r: Rect, t: usize) -> impl Iterator<Item = Rect> {
    let half = r.h / 2;
    let rect = |x, y, w, h| Rect { x, y, w, h };
    let all = [
        rect(r.x, r.y, r.w, t),                         // a
        rect(r.x + r.w - t, r.y, t, half),              // b
        rect(r.x + r.w - t, r.y + half, t, r.h - half), // c
        rect(r.x, r.y + r.h - t, r.w, t),               // d
        rect(r.x, r.y + half, t, r.h - half),           // e
        rect(r.x, r.y, t, half),                        // f
        rect(r.x, r.y + half - t / 2, r.w, t),          // g
    ];
    let mask = SEVEN.get(usize::from(digit)).copied().unwrap_or(0);
    all.into_iter()
        .enumerate()
        .filter(move |(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| s)
}

/// A fully saturated hue, `h` in 0..1536 (six 256-step ramps).
fn hue(h: usize) -> [u8; 3] {
    let f = (h % 256) as u8;
    match h / 256 {
        0 => [255, f, 0],
        1 => [255 - f, 255, 0],
        2 => [0, 255, f],
        3 => [0, 255 - f, 255],
        4 => [f, 0, 255],
        _ => [255, 0, 255 - f],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: &Pattern, x: usize, y: usize) -> [u8; 3] {
        let i = (y * p.width() + x) * 3;
        let s = &p.rgb[i..i + 3];
        [s[0], s[1], s[2]]
    }

    fn centre(r: Rect) -> (usize, usize) {
        (r.x + r.w / 2, r.y + r.h / 2)
    }

    #[test]
    fn bars_are_fixed_and_the_rest_moves() {
        let mut p = Pattern::new(640, 360);
        let f0 = p.draw(0).to_vec();
        let f1 = p.draw(1).to_vec();
        let bars = p.bars_height() * 640 * 3;
        assert_eq!(f0[..bars], f1[..bars]);
        assert_ne!(f0[bars..], f1[bars..]);
        for (i, colour) in BARS.iter().enumerate() {
            let (x, y) = centre(p.bar(i));
            assert_eq!(at(&p, x, y), *colour, "bar {i}");
        }
    }

    #[test]
    fn the_sweeping_bar_crosses_the_picture_in_one_period() {
        let mut p = Pattern::new(640, 360);
        let y = p.bars_height() + 5;
        p.draw(0);
        assert_eq!(at(&p, 0, y), SWEEP);
        p.draw(PERIOD - 1);
        assert_eq!(at(&p, 639, y), SWEEP);
        p.draw(PERIOD);
        assert_eq!(at(&p, 0, y), SWEEP);
    }

    #[test]
    fn the_frame_number_is_drawn_in_seven_segments() {
        let mut p = Pattern::new(640, 360);
        p.draw(42);
        // "00042": digit 3 is a 4 (b, c, f, g lit; a, d, e dark), digit 4 is a 2 (a, b, d, e, g).
        let (r, t) = p.digit(3, 5);
        let four: Vec<Rect> = segments(4, r, t).collect();
        assert_eq!(four.len(), 4);
        for s in four {
            assert_eq!(at(&p, s.x + s.w / 2, s.y + s.h / 2), DIGIT);
        }
        let (x, y) = (r.x + r.w / 2, r.y + t / 2); // segment a
        assert_eq!(at(&p, x, y), DIGIT_BOX);
        let (r2, _) = p.digit(4, 5);
        assert_eq!(segments(2, r2, t).count(), 5);
        let b = p.number_box(5);
        assert_eq!(at(&p, b.x + 1, b.y + 1), DIGIT_BOX);
        // Numbers past 5 digits widen the box.
        p.draw(1_234_567);
        let (r, t) = p.digit(6, 7);
        let seven = segments(7, r, t).next().unwrap();
        assert_eq!(at(&p, seven.x + seven.w / 2, seven.y + seven.h / 2), DIGIT);
    }

    #[test]
    fn odd_and_tiny_sizes_draw_without_panicking() {
        for (w, h) in [(0, 0), (1, 1), (2, 7), (33, 17), (17, 33), (8, 8)] {
            let mut p = Pattern::new(w, h);
            assert_eq!(p.draw(123_456).len(), usize::from(w) * usize::from(h) * 3);
        }
    }

    #[test]
    fn encoded_frames_are_rfc2435_ready() {
        let mut p = Pattern::new(320, 180);
        let mut out = Vec::new();
        p.encode(7, 80, &mut out).unwrap();
        let h = crate::jpeg::Header::parse(&out).unwrap();
        assert_eq!(crate::rfc2435::check(&h), Ok(()));
        assert_eq!((h.width, h.height), (320, 180));
    }
}
