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
    /// A restart interval of more MCUs than the DRI segment's 16 bits hold.
    #[error("restart every {rows} MCU rows of {width} pixels is more than 65535 MCUs")]
    RestartInterval {
        /// MCU rows asked for.
        rows: u16,
        /// Picture width.
        width: u16,
    },
}

/// How often the entropy-coded data restarts (ITU-T T.81 §B.2.4.4, the DRI segment, and RSTm
/// markers between intervals). Each restart interval decodes on its own, so a receiver that
/// lost part of a frame can still use the rest (RFC 2435 §3.1.7, types 64..=127).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// No restart markers.
    #[default]
    None,
    /// A marker every N rows of MCUs (a 4:2:0 MCU is 16 × 16 pixels).
    Rows(u16),
    /// A marker every N MCUs.
    Mcus(u16),
}

impl Restart {
    /// The DRI value for a picture `width` pixels wide: MCUs per interval, 0 for none.
    pub fn interval(self, width: u16) -> Result<u16, EncodeError> {
        match self {
            Restart::None | Restart::Rows(0) | Restart::Mcus(0) => Ok(0),
            Restart::Mcus(n) => Ok(n),
            Restart::Rows(rows) => u16::try_from(u32::from(rows) * u32::from(width.div_ceil(16)))
                .map_err(|_| EncodeError::RestartInterval { rows, width }),
        }
    }
}

impl std::str::FromStr for Restart {
    type Err = String;

    /// `N` (MCU rows), `Nmcu` or `Nmcus` (MCUs), `0` or `none` (no markers).
    fn from_str(s: &str) -> Result<Restart, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("none") {
            return Ok(Restart::None);
        }
        let lower = s.to_ascii_lowercase();
        let (digits, mcus) = match lower.strip_suffix("mcus").or(lower.strip_suffix("mcu")) {
            Some(digits) => (digits, true),
            None => (lower.as_str(), false),
        };
        let n: u16 = digits.trim().parse().map_err(|_| {
            format!("{s:?}: expected N (MCU rows), Nmcu (MCUs) or none, N up to 65535")
        })?;
        Ok(match (n, mcus) {
            (0, _) => Restart::None,
            (n, true) => Restart::Mcus(n),
            (n, false) => Restart::Rows(n),
        })
    }
}

impl std::fmt::Display for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restart::None => write!(f, "none"),
            Restart::Rows(n) => write!(f, "{n}"),
            Restart::Mcus(n) => write!(f, "{n}mcu"),
        }
    }
}

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// Restart markers.
    pub restart: Restart,
}

impl Settings {
    /// `quality`, no restart markers.
    pub fn quality(quality: u8) -> Settings {
        Settings {
            quality,
            restart: Restart::None,
        }
    }
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
    encode_rgb_with(rgb, width, height, Settings::quality(quality), out)
}

/// [`encode_rgb`] with restart markers as `settings` say.
pub fn encode_rgb_with(
    rgb: &[u8],
    width: u16,
    height: u16,
    settings: Settings,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let quality = settings.quality;
    if !(1..=100).contains(&quality) {
        return Err(EncodeError::Quality(quality));
    }
    let restart_interval = settings.restart.interval(width)?;
    out.clear();
    let mut encoder = Encoder::new(&mut *out, quality);
    if restart_interval != 0 {
        encoder.set_restart_interval(restart_interval);
    }
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
    fn restart_markers_every_row_or_every_n_mcus() {
        let rgb: Vec<u8> = (0..100 * 48 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = Vec::new();
        for (restart, interval, count) in [
            (Restart::Rows(1), 7, 2),
            (Restart::Rows(2), 14, 1),
            (Restart::Mcus(3), 3, 6),
            (Restart::None, 0, 0),
        ] {
            let settings = Settings {
                quality: 80,
                restart,
            };
            encode_rgb_with(&rgb, 100, 48, settings, &mut out).unwrap();
            let header = Header::parse(&out).unwrap();
            assert_eq!(header.restart_interval, interval, "{restart}");
            assert_eq!(rfc2435::check(&header), Ok(()), "{restart}");
            // 7 x 3 MCUs: the markers between intervals.
            let markers = out
                .windows(2)
                .filter(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
                .count();
            assert_eq!(markers, count, "{restart}");
        }
        assert_eq!("1".parse(), Ok(Restart::Rows(1)));
        assert_eq!("40mcu".parse(), Ok(Restart::Mcus(40)));
        assert_eq!("8 MCUs".parse(), Ok(Restart::Mcus(8)));
        assert_eq!("none".parse(), Ok(Restart::None));
        assert_eq!("0".parse(), Ok(Restart::None));
        assert!("x".parse::<Restart>().is_err());
        assert!(matches!(
            Restart::Rows(300).interval(3840),
            Err(EncodeError::RestartInterval { .. })
        ));
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
