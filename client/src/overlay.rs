//! Drawing into a window-sized `0x00RRGGBB` buffer: the picture scaled to fit with its aspect
//! kept (letterboxed), a 5×7 bitmap font for the statistics overlay, the captions and the control
//! bar (drawn by [`crate::controls`]).

use hdstream_video::decoder::rgba_to_0rgb;
pub use hdstream_video::pattern::Rect;

/// What the window shows besides the picture.
#[derive(Debug, Clone, Default)]
pub struct Hud {
    /// The title line.
    pub title: String,
    /// Overlay lines (shown when the overlay is on).
    pub lines: Vec<String>,
    /// Position in the range the seek bar spans, 0..=1 (`None`: no range known).
    pub progress: Option<f64>,
    /// The caption at the picture's media time, if any (drawn when captions are on).
    pub caption: Option<String>,
}

/// Height of the control bar along the bottom, pixels.
pub const BAR_HEIGHT: usize = 20;

/// The largest rectangle of `src`'s aspect that fits in `dst`, centred.
pub fn fit(src: (usize, usize), dst: (usize, usize)) -> Rect {
    let (sw, sh) = (src.0.max(1), src.1.max(1));
    let (dw, dh) = dst;
    // Width-limited unless that makes it too tall.
    let (w, h) = if dw * sh <= dh * sw {
        (dw, dw * sh / sw)
    } else {
        (dh * sw / sh, dh)
    };
    Rect {
        x: (dw - w) / 2,
        y: (dh - h) / 2,
        w,
        h,
    }
}

/// Scales `src` (`sw` × `sh`, RGBA pixels as the decoder writes them) into `dst` (`dw` × `dh`,
/// `0x00RRGGBB`) at `rect`, nearest neighbour, converting each pixel it copies; the rest of
/// `dst` is black. `xmap` is scratch space kept between calls.
pub fn scale_into(
    src: &[u32],
    (sw, sh): (usize, usize),
    dst: &mut [u32],
    (dw, dh): (usize, usize),
    rect: Rect,
    xmap: &mut Vec<usize>,
) {
    dst.fill(0);
    if sw == 0 || sh == 0 || src.len() < sw * sh || dst.len() < dw * dh {
        return;
    }
    let rect_w = rect.w.min(dw.saturating_sub(rect.x));
    let rect_h = rect.h.min(dh.saturating_sub(rect.y));
    xmap.clear();
    xmap.extend((0..rect_w).map(|x| (x * sw / rect.w.max(1)).min(sw - 1)));
    for y in 0..rect_h {
        let sy = (y * sh / rect.h.max(1)).min(sh - 1);
        let src_row = &src[sy * sw..(sy + 1) * sw];
        let start = (rect.y + y) * dw + rect.x;
        let dst_row = &mut dst[start..start + rect_w];
        for (d, &sx) in dst_row.iter_mut().zip(xmap.iter()) {
            *d = rgba_to_0rgb(src_row[sx]);
        }
    }
}

/// Fills `rect` (clipped) with `color`.
pub fn fill(dst: &mut [u32], (dw, dh): (usize, usize), rect: Rect, color: u32) {
    for y in rect.y..(rect.y + rect.h).min(dh) {
        let start = y * dw + rect.x.min(dw);
        let end = y * dw + (rect.x + rect.w).min(dw);
        if let Some(row) = dst.get_mut(start..end) {
            row.fill(color);
        }
    }
}

/// Halves the brightness of `rect` (clipped), so text on it stays readable.
pub fn darken(dst: &mut [u32], (dw, dh): (usize, usize), rect: Rect) {
    for y in rect.y..(rect.y + rect.h).min(dh) {
        let start = y * dw + rect.x.min(dw);
        let end = y * dw + (rect.x + rect.w).min(dw);
        if let Some(row) = dst.get_mut(start..end) {
            for p in row {
                *p = (*p >> 2) & 0x003F_3F3F;
            }
        }
    }
}

/// Glyph rows, 5 bits each (bit 4 is the left column).
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ' ' => [0; 7],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
    }
}

/// Width of one character cell at `scale`, pixels.
pub fn char_width(scale: usize) -> usize {
    6 * scale
}

/// Height of one text line at `scale`, pixels.
pub fn line_height(scale: usize) -> usize {
    9 * scale
}

/// Draws `text` with its top-left corner at (`x`, `y`), each font pixel `scale` × `scale`.
pub fn text(
    dst: &mut [u32],
    (dw, dh): (usize, usize),
    x: usize,
    y: usize,
    text: &str,
    scale: usize,
    color: u32,
) {
    for (i, c) in text.chars().enumerate() {
        let cx = x + i * char_width(scale);
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    let r = Rect {
                        x: cx + col * scale,
                        y: y + row * scale,
                        w: scale,
                        h: scale,
                    };
                    fill(dst, (dw, dh), r, color);
                }
            }
        }
    }
}

/// A box of text lines at the top left, on a darkened background.
pub fn panel(dst: &mut [u32], size: (usize, usize), lines: &[String], scale: usize) {
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) * char_width(scale);
    let height = lines.len() * line_height(scale);
    let pad = 4 * scale;
    darken(
        dst,
        size,
        Rect {
            x: 0,
            y: 0,
            w: width + 2 * pad,
            h: height + 2 * pad,
        },
    );
    for (i, line) in lines.iter().enumerate() {
        text(
            dst,
            size,
            pad,
            pad + i * line_height(scale),
            line,
            scale,
            0x00FF_FFFF,
        );
    }
}

/// A caption's lines, each centred, over the bottom of the window just above the control
/// bar, on a darkened background; a line wider than the window is cut. Larger windows get
/// larger letters.
pub fn caption(dst: &mut [u32], (dw, dh): (usize, usize), caption: &str, scale: usize) {
    let scale = scale.max(1);
    let fits = (dw / char_width(scale)).saturating_sub(2);
    let lines: Vec<String> = caption
        .lines()
        .map(|l| l.trim().chars().take(fits).collect())
        .filter(|l: &String| !l.is_empty())
        .collect();
    if lines.is_empty() || fits == 0 {
        return;
    }
    let pad = 2 * scale;
    let height = lines.len() * line_height(scale);
    let bottom = dh.saturating_sub(BAR_HEIGHT + 2 * pad);
    let top = bottom.saturating_sub(height);
    for (i, line) in lines.iter().enumerate() {
        let width = line.chars().count() * char_width(scale);
        let x = dw.saturating_sub(width) / 2;
        let y = top + i * line_height(scale);
        let back = Rect {
            x: x.saturating_sub(pad),
            y: y.saturating_sub(pad / 2),
            w: width + 2 * pad,
            h: line_height(scale) + pad / 2,
        };
        darken(dst, (dw, dh), back);
        text(dst, (dw, dh), x, y, line, scale, 0x00FF_FF60);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caption_is_drawn_centred_above_the_bar_and_cut_to_the_window() {
        let size = (200, 140);
        let mut dst = vec![0x0080_8080; size.0 * size.1];
        caption(
            &mut dst,
            size,
            "Hi\nthere, a line much too long for this window",
            2,
        );
        let lit = |y: usize| {
            (0..size.0)
                .filter(|&x| dst[y * size.0 + x] == 0x00FF_FF60)
                .count()
        };
        let rows: Vec<usize> = (0..size.1).filter(|&y| lit(y) > 0).collect();
        assert!(!rows.is_empty());
        assert!(*rows.last().unwrap() < size.1 - BAR_HEIGHT, "above the bar");
        assert!(rows[0] >= size.1 / 2, "over the bottom: {rows:?}");
        // Nothing drawn for an empty caption, and a tiny window is left alone.
        let mut untouched = vec![7; 16];
        caption(&mut untouched, (4, 4), "Hello", 2);
        caption(&mut dst, size, " \n ", 2);
        assert_eq!(untouched, vec![7; 16]);
    }

    #[test]
    fn fitting_keeps_the_aspect_and_centres() {
        assert_eq!(
            fit((1920, 1080), (1280, 720)),
            Rect {
                x: 0,
                y: 0,
                w: 1280,
                h: 720
            }
        );
        assert_eq!(
            fit((1920, 1080), (1000, 1000)),
            Rect {
                x: 0,
                y: 219,
                w: 1000,
                h: 562
            }
        );
        assert_eq!(
            fit((1000, 1000), (1920, 1080)),
            Rect {
                x: 420,
                y: 0,
                w: 1080,
                h: 1080
            }
        );
    }

    #[test]
    fn scaling_maps_corners_and_letterboxes() {
        // 4x2 RGBA source: left half red, right half blue.
        let (red, blue) = (
            u32::from_ne_bytes([255, 0, 0, 255]),
            u32::from_ne_bytes([0, 0, 255, 255]),
        );
        let src = [red, red, blue, blue, red, red, blue, blue];
        let (dw, dh) = (8, 8);
        let mut dst = vec![0x123456; dw * dh];
        let rect = fit((4, 2), (dw, dh));
        assert_eq!(
            rect,
            Rect {
                x: 0,
                y: 2,
                w: 8,
                h: 4
            }
        );
        scale_into(&src, (4, 2), &mut dst, (dw, dh), rect, &mut Vec::new());
        assert_eq!(dst[0], 0, "letterbox is black");
        assert_eq!(dst[2 * dw], 0xFF0000);
        assert_eq!(dst[2 * dw + 7], 0x0000FF);
        assert_eq!(dst[5 * dw + 3], 0xFF0000);
        assert_eq!(dst[5 * dw + 4], 0x0000FF);
        assert_eq!(dst[6 * dw], 0);
    }

    #[test]
    fn text_stays_inside_the_buffer() {
        let size = (40, 20);
        let mut dst = vec![0; 40 * 20];
        text(&mut dst, size, 30, 15, "1080P 60FPS", 2, 0xFFFFFF);
        assert!(dst.contains(&0xFFFFFF));
        panel(&mut dst, size, &["A".into()], 1);
    }
}
