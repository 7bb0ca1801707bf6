//! JPEG decoding with zune-jpeg into buffers the caller keeps.
//!
//! [`Decoder::decode_0rgb`] writes one `u32` per pixel, `0x00RRGGBB`, which is what minifb's
//! `update_with_buffer` takes; the same `Vec<u32>` is reused frame after frame (it only grows).
//!
//! How: zune-jpeg decodes RGBA straight into the `u32` buffer viewed as bytes (its RGBA colour
//! conversion is SIMD; BGRA is scalar), then one pass swaps R and B and clears alpha in place.
//! Measured at 1920x1080 4:2:0 q80 on the 2-core build machine (`cargo test --release -p
//! hdstream-video decode_speed -- --ignored --nocapture`; best of two runs, machine shared):
//!
//! | frame | RGBA + swizzle | BGRA straight |
//! |---|---|---|
//! | test pattern, 79 KB | 2.5 ms | 6.2 ms |
//! | pattern + noise, 466 KB | 10.2 ms | 12.7 ms |

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;
use zune_jpeg::errors::DecodeErrors;

/// Why a frame cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// zune-jpeg rejected the data.
    #[error("JPEG decode: {0}")]
    Jpeg(#[from] DecodeErrors),
    /// The frame is larger than the decoder's limit.
    #[error(
        "{width}x{height} exceeds the decoder's limit of {max_side} a side and {max_pixels} pixels"
    )]
    Size {
        /// Width from the frame header.
        width: usize,
        /// Height from the frame header.
        height: usize,
        /// The limit on either side.
        max_side: usize,
        /// The limit on width × height.
        max_pixels: usize,
    },
}

/// Largest width or height decoded (8K is 7680; memory stays bounded at 16384² × 4 bytes).
pub const MAX_SIDE: usize = 16384;

/// How [`Decoder::decode_0rgb`] gets from zune-jpeg to `0x00RRGGBB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Decode RGBA into the buffer, then swap R/B and clear alpha in place.
    #[default]
    RgbaSwizzle,
    /// Decode BGRA straight into the buffer: on little-endian the bytes B,G,R,A read as
    /// `0xAARRGGBB`, so the top byte is 0xFF, not 0 (minifb ignores it unless the window is
    /// transparent). Big-endian falls back to `RgbaSwizzle`.
    Bgra,
}

/// Pixel size of a decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// A decoded picture with packed 8-bit samples (3 per pixel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major samples, `width * height * 3` bytes.
    pub samples: Vec<u8>,
}

impl Picture {
    /// The 3 samples of the pixel at (x, y), if inside.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width {
            return None;
        }
        let at = y.checked_mul(self.width)?.checked_add(x)?.checked_mul(3)?;
        let s = self.samples.get(at..at + 3)?;
        Some([s[0], s[1], s[2]])
    }
}

/// Decodes frames one after another (one per thread: zune-jpeg decodes a frame on one thread).
#[derive(Debug, Clone)]
pub struct Decoder {
    options: DecoderOptions,
    layout: Layout,
    max_pixels: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with zune-jpeg's fast paths (SIMD, unsafe intrinsics) and the default layout.
    pub fn new() -> Decoder {
        Decoder::with_layout(Layout::default())
    }

    /// A decoder that reaches `0x00RRGGBB` the given way (for measuring both).
    pub fn with_layout(layout: Layout) -> Decoder {
        let options = DecoderOptions::new_fast()
            .set_max_width(MAX_SIDE)
            .set_max_height(MAX_SIDE);
        Decoder {
            options,
            layout,
            max_pixels: MAX_SIDE * MAX_SIDE,
        }
    }

    /// The same decoder refusing frames of more than `max_pixels` (checked from the frame
    /// header, the one parse of it, before any pixel memory is touched).
    pub fn with_max_pixels(mut self, max_pixels: usize) -> Decoder {
        self.max_pixels = max_pixels.min(MAX_SIDE * MAX_SIDE);
        self
    }

    /// Decodes `jpeg` into `out` as RGBA bytes, one `u32` per pixel (R, G, B, 255 in memory:
    /// [`rgba_to_0rgb`] turns one into `0x00RRGGBB`), row-major — zune-jpeg's SIMD colour
    /// conversion with no pass after it, for a sink that converts only what it shows (the
    /// window, while scaling) or nothing. `out` is resized to width × height.
    pub fn decode_rgba(
        &mut self,
        jpeg: &[u8],
        out: &mut Vec<u32>,
    ) -> Result<Dimensions, DecodeError> {
        self.decode_4(jpeg, ColorSpace::RGBA, out)
    }

    /// Decodes `jpeg` into `out` as one `0x00RRGGBB` per pixel, row-major; `out` is resized to
    /// width × height (its allocation is kept and reused when big enough).
    pub fn decode_0rgb(
        &mut self,
        jpeg: &[u8],
        out: &mut Vec<u32>,
    ) -> Result<Dimensions, DecodeError> {
        if self.layout == Layout::Bgra && cfg!(target_endian = "little") {
            return self.decode_4(jpeg, ColorSpace::BGRA, out);
        }
        let dims = self.decode_rgba(jpeg, out)?;
        for px in out.iter_mut() {
            *px = rgba_to_0rgb(*px);
        }
        Ok(dims)
    }

    /// Decodes into 4 bytes a pixel of `colorspace` (RGBA or BGRA).
    fn decode_4(
        &mut self,
        jpeg: &[u8],
        colorspace: ColorSpace,
        out: &mut Vec<u32>,
    ) -> Result<Dimensions, DecodeError> {
        let mut decoder = JpegDecoder::new_with_options(
            ZCursor::new(jpeg),
            self.options.jpeg_set_out_colorspace(colorspace),
        );
        let dims = headers(&mut decoder, self.max_pixels)?;
        // Every pixel is written by the decoder: only a buffer that grows is filled first (a
        // 2160p frame is 33 MB, and zeroing it cost a tenth of the decode).
        out.resize(dims.width * dims.height, 0);
        decoder.decode_into(as_bytes_mut(out))?;
        Ok(dims)
    }

    /// Decodes `jpeg` into packed samples of `colorspace` (RGB or YCbCr, 3 per pixel), for
    /// comparing pixels in tests and for re-encoding.
    pub fn decode_packed(
        &mut self,
        jpeg: &[u8],
        colorspace: Packed,
    ) -> Result<Picture, DecodeError> {
        let mut samples = Vec::new();
        let dims = self.decode_packed_into(jpeg, colorspace, &mut samples)?;
        Ok(Picture {
            width: dims.width,
            height: dims.height,
            samples,
        })
    }

    /// As [`Decoder::decode_packed`], into a buffer the caller keeps (resized to
    /// width × height × 3).
    pub fn decode_packed_into(
        &mut self,
        jpeg: &[u8],
        colorspace: Packed,
        out: &mut Vec<u8>,
    ) -> Result<Dimensions, DecodeError> {
        let cs = match colorspace {
            Packed::Rgb => ColorSpace::RGB,
            Packed::YCbCr => ColorSpace::YCbCr,
        };
        let mut decoder = JpegDecoder::new_with_options(
            ZCursor::new(jpeg),
            self.options.jpeg_set_out_colorspace(cs),
        );
        let dims = headers(&mut decoder, self.max_pixels)?;
        out.resize(dims.width * dims.height * 3, 0);
        decoder.decode_into(out)?;
        Ok(dims)
    }
}

/// Packed 3-sample colour spaces [`Decoder::decode_packed`] can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packed {
    /// R, G, B.
    Rgb,
    /// Y, Cb, Cr as stored in the JPEG (no colour conversion).
    YCbCr,
}

/// One pixel of [`Decoder::decode_rgba`] (bytes R, G, B, A) as `0x00RRGGBB`: read big-endian
/// it is `0xRRGGBBAA`, shifted right a byte.
#[inline]
pub fn rgba_to_0rgb(px: u32) -> u32 {
    u32::from_be(px) >> 8
}

fn headers(
    decoder: &mut JpegDecoder<ZCursor<&[u8]>>,
    max_pixels: usize,
) -> Result<Dimensions, DecodeError> {
    decoder.decode_headers()?;
    let (width, height) = decoder
        .dimensions()
        .ok_or(DecodeErrors::FormatStatic("no frame header"))?;
    if width > MAX_SIDE || height > MAX_SIDE || width * height > max_pixels {
        return Err(DecodeError::Size {
            width,
            height,
            max_side: MAX_SIDE,
            max_pixels,
        });
    }
    Ok(Dimensions { width, height })
}

fn as_bytes_mut(pixels: &mut [u32]) -> &mut [u8] {
    let len = std::mem::size_of_val(pixels);
    // SAFETY: the pointer and length cover exactly the u32 slice, borrowed mutably for the
    // returned lifetime; u8 has alignment 1 and every byte pattern is a valid u32 and u8.
    unsafe { std::slice::from_raw_parts_mut(pixels.as_mut_ptr().cast::<u8>(), len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{BARS, DIGIT, DIGIT_BOX, Pattern};

    fn close(got: u32, want: [u8; 3], tolerance: u8) -> bool {
        let got = [(got >> 16) as u8, (got >> 8) as u8, got as u8];
        got.iter()
            .zip(want)
            .all(|(g, w)| g.abs_diff(w) <= tolerance)
    }

    #[test]
    fn rgba_pixels_converted_are_the_0rgb_decoding() {
        let mut pattern = Pattern::new(320, 240);
        let mut jpeg = Vec::new();
        pattern.encode(7, 85, &mut jpeg).unwrap();
        let mut decoder = Decoder::new();
        let (mut rgba, mut orgb) = (Vec::new(), Vec::new());
        decoder.decode_rgba(&jpeg, &mut rgba).unwrap();
        decoder.decode_0rgb(&jpeg, &mut orgb).unwrap();
        let converted: Vec<u32> = rgba.iter().map(|&p| rgba_to_0rgb(p)).collect();
        assert_eq!(converted, orgb);
        assert_eq!(
            rgba_to_0rgb(u32::from_ne_bytes([0x12, 0x34, 0x56, 0xFF])),
            0x0012_3456
        );
    }

    #[test]
    fn a_pattern_frame_decodes_to_its_colours_into_a_reused_buffer() {
        let mut pattern = Pattern::new(640, 360);
        let mut jpeg = Vec::new();
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        pattern.encode(42, 90, &mut jpeg).unwrap();
        let dims = decoder.decode_0rgb(&jpeg, &mut out).unwrap();
        assert_eq!(
            dims,
            Dimensions {
                width: 640,
                height: 360
            }
        );
        assert_eq!(out.len(), 640 * 360);
        let px = |x: usize, y: usize| out[y * 640 + x];
        for (i, colour) in BARS.iter().enumerate() {
            let r = pattern.bar(i);
            let got = px(r.x + r.w / 2, r.y + r.h / 2);
            assert!(close(got, *colour, 12), "bar {i}: {got:06X} vs {colour:?}");
            assert_eq!(got >> 24, 0, "top byte is 0");
        }
        let (r, t) = pattern.digit(3, 5); // a "4": segment f lit, segment a dark
        assert!(close(px(r.x + t / 2, r.y + r.h / 4), DIGIT, 40));
        assert!(close(px(r.x + r.w / 2, r.y + t / 2), DIGIT_BOX, 40));

        let (ptr, capacity) = (out.as_ptr(), out.capacity());
        for n in 43..46 {
            pattern.encode(n, 90, &mut jpeg).unwrap();
            decoder.decode_0rgb(&jpeg, &mut out).unwrap();
            assert_eq!((out.as_ptr(), out.capacity()), (ptr, capacity), "frame {n}");
        }
    }

    #[test]
    fn every_path_gives_the_same_pixels() {
        let mut jpeg = Vec::new();
        Pattern::new(320, 184).encode(3, 80, &mut jpeg).unwrap();
        let mut rgba = Vec::new();
        let mut bgra = Vec::new();
        Decoder::with_layout(Layout::RgbaSwizzle)
            .decode_0rgb(&jpeg, &mut rgba)
            .unwrap();
        Decoder::with_layout(Layout::Bgra)
            .decode_0rgb(&jpeg, &mut bgra)
            .unwrap();
        let rgb = Decoder::new().decode_packed(&jpeg, Packed::Rgb).unwrap();
        assert_eq!((rgb.width, rgb.height), (320, 184));
        let mut worst = 0u8;
        for (i, (&a, &b)) in rgba.iter().zip(&bgra).enumerate() {
            let p = rgb.pixel(i % 320, i / 320).unwrap();
            for (k, shift) in [16, 8, 0].into_iter().enumerate() {
                worst = worst.max(((a >> shift) as u8).abs_diff(p[k]));
                worst = worst.max(((b >> shift) as u8).abs_diff(p[k]));
            }
        }
        assert!(worst <= 2, "paths differ by {worst}");
        let ycc = Decoder::new().decode_packed(&jpeg, Packed::YCbCr).unwrap();
        // White bar: Y near 255, Cb and Cr near 128.
        let [y, cb, cr] = ycc.pixel(20, 20).unwrap();
        assert!(
            y > 240 && cb.abs_diff(128) < 6 && cr.abs_diff(128) < 6,
            "{y} {cb} {cr}"
        );
    }

    #[test]
    fn broken_input_is_an_error_not_a_panic() {
        let mut jpeg = Vec::new();
        Pattern::new(64, 48).encode(1, 80, &mut jpeg).unwrap();
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        assert!(decoder.decode_0rgb(b"not a jpeg", &mut out).is_err());
        assert!(decoder.decode_0rgb(&[], &mut out).is_err());
        assert!(decoder.decode_packed(&jpeg[..100], Packed::Rgb).is_err());
        // Cut anywhere in the scan: zune-jpeg may fill in, but must not panic.
        for cut in (200..jpeg.len()).step_by(37) {
            let _ = decoder.decode_0rgb(&jpeg[..cut], &mut out);
        }
    }

    /// `cargo test --release -p hdstream-video decode_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn decode_speed() {
        let mut flat = Vec::new();
        Pattern::new(1920, 1080).encode(1, 80, &mut flat).unwrap();
        // A busy frame: the pattern with noise, about as costly as camera footage.
        let mut rgb = Pattern::new(1920, 1080).draw(1).to_vec();
        let mut seed = 0x2545_f491_u32;
        for v in &mut rgb {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *v = v.saturating_add((seed & 63) as u8);
        }
        let mut busy = Vec::new();
        crate::encoder::encode_rgb(&rgb, 1920, 1080, 80, &mut busy).unwrap();
        let mut out = Vec::new();
        for jpeg in [&flat, &busy] {
            for layout in [
                Layout::RgbaSwizzle,
                Layout::Bgra,
                Layout::RgbaSwizzle,
                Layout::Bgra,
            ] {
                let mut decoder = Decoder::with_layout(layout);
                decoder.decode_0rgb(jpeg, &mut out).unwrap();
                let n = 30;
                let start = std::time::Instant::now();
                for _ in 0..n {
                    decoder.decode_0rgb(jpeg, &mut out).unwrap();
                }
                let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
                println!(
                    "{layout:?}: {ms:.2} ms per 1080p frame ({} bytes)",
                    jpeg.len()
                );
            }
        }
        let jpeg = &flat;
        let mut rgb = Vec::new();
        let start = std::time::Instant::now();
        for _ in 0..40 {
            Decoder::new()
                .decode_packed_into(jpeg, Packed::Rgb, &mut rgb)
                .unwrap();
        }
        println!(
            "packed RGB: {:.2} ms",
            start.elapsed().as_secs_f64() * 1000.0 / 40.0
        );
    }
}
