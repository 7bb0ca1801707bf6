//! The flash of the lip-sync test pattern: at each whole second of media time the pattern's
//! frame is drawn bright (every pixel most of the way to white, the picture still faintly
//! there), so that a test finds the flash frames by their mean luminance; the test tone
//! ([`crate::tone`]) clicks at the same moments.
//!
//! Frame `n` is shown at media time `n / fps`; the flash frames are the first of each second:
//! 0, 30, 60... at 30 fps, 0, 30, 60, ..., 2997 at 29.97 fps.

use std::time::Duration;

use hdstream_video::decoder::{Decoder, Packed};
use hdstream_video::encoder::{EncodeError, Settings, encode_rgb_with};
use hdstream_video::pattern::Pattern;

/// A frame whose mean luma (0–255) is at least this is a flash: the pattern's own frames
/// average about 125, a flash at least 224.
pub const BRIGHT_MEAN: f64 = 200.0;

/// Mean luma (BT.601, 0–255) of a JPEG, what a flash frame is told apart by (at least
/// [`BRIGHT_MEAN`]); `None` when it does not decode or has no pixels.
pub fn mean_luma(jpeg: &[u8]) -> Option<f64> {
    let mut rgb = Vec::new();
    Decoder::new()
        .decode_packed_into(jpeg, Packed::Rgb, &mut rgb)
        .ok()?;
    let pixels = rgb.len() / 3;
    if pixels == 0 {
        return None;
    }
    let sum: f64 = rgb
        .chunks_exact(3)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .sum();
    Some(sum / pixels as f64)
}

/// Slack for frame times that are whole seconds but not exactly so in floating point.
const EPS: f64 = 1e-6;

/// The whole second frame `n` is shown in, at `fps`.
fn second_of(n: u64, fps: f64) -> u64 {
    ((n as f64 + EPS) / fps).floor() as u64
}

/// The first frame shown at or after second `second`: the flash frame of that second.
pub fn flash_of_second(second: u64, fps: f64) -> u64 {
    (second as f64 * fps - EPS).ceil().max(0.0) as u64
}

/// Whether frame `n` is a flash frame at `fps`: the first frame of its second.
pub fn is_flash(n: u64, fps: f64) -> bool {
    n == 0 || second_of(n, fps) != second_of(n - 1, fps)
}

/// The flash frame at or before frame `n`.
pub fn latest_flash(n: u64, fps: f64) -> u64 {
    flash_of_second(second_of(n, fps), fps)
}

/// Brightens packed RGB most of the way to white: `255 - (255 - v) / 8`.
pub fn brighten(rgb: &mut [u8]) {
    for v in rgb {
        *v = 255 - (255 - *v) / 8;
    }
}

/// Draws pattern frame `n` (with `clock` drawn in as its capture time, if any), brightened when
/// `flash_fps` is given and `n` is a flash frame at that rate, and encodes it into `out`.
pub fn encode(
    pattern: &mut Pattern,
    n: u64,
    clock: Option<Duration>,
    flash_fps: Option<f64>,
    settings: Settings,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    // Sizes come from u16 in `Pattern::new`.
    let (w, h) = (pattern.width() as u16, pattern.height() as u16);
    let rgb = pattern.draw_with_clock(n, clock);
    if flash_fps.is_some_and(|fps| is_flash(n, fps)) {
        let mut bright = rgb.to_vec();
        brighten(&mut bright);
        return encode_rgb_with(&bright, w, h, settings, out);
    }
    encode_rgb_with(rgb, w, h, settings, out)
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn the_first_frame_of_each_second_flashes() {
        let flashes: Vec<u64> = (0..100).filter(|&n| is_flash(n, 30.0)).collect();
        assert_eq!(flashes, [0, 30, 60, 90]);
        let flashes: Vec<u64> = (0..3000).filter(|&n| is_flash(n, 29.97)).collect();
        assert_eq!(flashes.len(), 101);
        assert_eq!(flashes[1], 30);
        assert_eq!(flashes[100], 2997);
        for (second, &n) in flashes.iter().enumerate() {
            assert_eq!(flash_of_second(second as u64, 29.97), n);
            assert_eq!(latest_flash(n, 29.97), n);
            assert_eq!(latest_flash(n + 5, 29.97), n);
        }
        let at_25: Vec<u64> = (0..60).filter(|&n| is_flash(n, 12.5)).collect();
        assert_eq!(at_25, [0, 13, 25, 38, 50]);
    }

    #[test]
    fn flash_frames_are_found_by_their_mean_luminance() {
        let mut pattern = Pattern::new(320, 180);
        let settings = Settings::quality(80);
        for n in [0, 1, 29, 30, 31, 60] {
            let mut jpeg = Vec::new();
            encode(&mut pattern, n, None, Some(30.0), settings, &mut jpeg).unwrap();
            let mean = mean_luma(&jpeg).unwrap();
            assert_eq!(
                mean >= BRIGHT_MEAN,
                is_flash(n, 30.0),
                "frame {n}: mean {mean}"
            );
        }
        // Without a rate, no flash.
        let mut jpeg = Vec::new();
        encode(&mut pattern, 30, None, None, settings, &mut jpeg).unwrap();
        assert!(mean_luma(&jpeg).unwrap() < BRIGHT_MEAN);
    }
}
