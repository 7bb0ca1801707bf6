//! Encoding RFC 2435-ready JPEG frames with jpeg-encoder: baseline sequential DCT, 8-bit,
//! Y 2x2 with Cb and Cr 1x1 (4:2:0, RFC 2435 type 1), the standard Huffman tables of ITU-T T.81
//! §K.3 (jpeg-encoder's default; optimised tables stay off), 8-bit quantization tables.

use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};

/// Why a frame cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// jpeg-encoder rejected the input (wrong length, zero size).
    #[error("JPEG encode: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
    /// Quality outside 1..=100.
    #[error("quality {0} is outside 1..=100")]
    Quality(u8),
}

/// Encodes packed RGB (`width * height * 3` bytes) as an RFC 2435-ready JPEG, replacing the
/// contents of `out` (its allocation is reused).
pub fn encode_rgb(
    rgb: &[u8],
    width: u16,
    height: u16,
    quality: u8,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if !(1..=100).contains(&quality) {
        return Err(EncodeError::Quality(quality));
    }
    out.clear();
    let mut encoder = Encoder::new(&mut *out, quality);
    // jpeg-encoder picks 4:4:4 for quality >= 90 on its own: always ask for 4:2:0.
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    encoder.set_optimized_huffman_tables(false);
    encoder.set_progressive(false);
    encoder.encode(rgb, width, height, ColorType::Rgb)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jpeg::{Header, Sampling};
    use crate::rfc2435;

    #[test]
    fn output_is_rfc2435_ready_at_every_quality() {
        let rgb: Vec<u8> = (0..48 * 32 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = Vec::new();
        for quality in [1, 50, 80, 90, 100] {
            encode_rgb(&rgb, 48, 32, quality, &mut out).unwrap();
            let header = Header::parse(&out).unwrap();
            assert_eq!(header.sampling(), Sampling::Yuv420, "quality {quality}");
            assert_eq!(rfc2435::check(&header), Ok(()), "quality {quality}");
            assert_eq!((header.width, header.height), (48, 32));
            assert_eq!(header.len(), out.len());
        }
    }

    #[test]
    fn rejects_bad_quality_and_short_input() {
        let mut out = Vec::new();
        assert!(matches!(
            encode_rgb(&[0; 12], 2, 2, 0, &mut out),
            Err(EncodeError::Quality(0))
        ));
        assert!(matches!(
            encode_rgb(&[0; 12], 2, 2, 101, &mut out),
            Err(EncodeError::Quality(101))
        ));
        assert!(matches!(
            encode_rgb(&[0; 11], 2, 2, 80, &mut out),
            Err(EncodeError::Jpeg(_))
        ));
    }

    /// `cargo test --release -p hdstream-video encode_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn encode_speed() {
        let mut pattern = crate::pattern::Pattern::new(1920, 1080);
        let rgb = pattern.draw(1).to_vec();
        let mut out = Vec::new();
        encode_rgb(&rgb, 1920, 1080, 80, &mut out).unwrap();
        let n: u32 = 20;
        let start = std::time::Instant::now();
        for _ in 0..n {
            encode_rgb(&rgb, 1920, 1080, 80, &mut out).unwrap();
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
        println!("encode: {ms:.2} ms per 1080p frame ({} bytes)", out.len());
        let start = std::time::Instant::now();
        for i in 0..n {
            pattern.draw(i.into());
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
        println!("draw: {ms:.2} ms per 1080p frame");
    }
}
