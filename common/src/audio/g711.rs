//! ITU-T G.711 companding: µ-law (PCMU) and A-law (PCMA), one byte per sample
//! (RFC 3551 §4.5.14).
//!
//! The classic segment (chord) arithmetic of the CCITT reference code, on 16-bit linear
//! samples: µ-law keeps the top 14 bits and A-law the top 13, in 8 segments of 16 steps each;
//! each step's decoded value is the middle of its interval. Codes are sent inverted as the
//! recommendation says (all bits for µ-law, the even bits — `0x55` — for A-law).

/// µ-law bias added before the segment search (0x84 = 132, on 16-bit samples).
const ULAW_BIAS: i32 = 0x84;
/// The largest biased 14-bit magnitude: the top code, 0x7F before inversion, and all above.
const ULAW_TOP: i32 = 0x1FFF;

/// The µ-law code of a 16-bit linear sample (magnitudes of 32632 and more clip to the top
/// code).
pub fn encode_ulaw(sample: i16) -> u8 {
    // The magnitude's top 14 bits, so that the coder is symmetric about 0 (the reference code
    // shifts the signed value, which takes -1 to -8 rather than to -0).
    let s = i32::from(sample);
    let (magnitude, mask) = if s < 0 { (-s, 0x7F) } else { (s, 0xFF) };
    let x = ((magnitude >> 2) + (ULAW_BIAS >> 2)).min(ULAW_TOP);
    // Segment: how many doublings past 0x3F (x ≤ 0x1FFF, so at most 7).
    let segment = (31 - (x as u32 | 0x3F).leading_zeros()) - 5;
    let code = (segment << 4) as i32 | ((x >> (segment + 1)) & 0x0F);
    (code ^ mask) as u8
}

/// The 16-bit linear sample of a µ-law code. `0xFF` and `0x7F` (±0) both give 0; the range
/// is ±32124.
pub fn decode_ulaw(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    let x = if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    };
    // |x| ≤ 32124.
    x as i16
}

/// The A-law code of a 16-bit linear sample.
pub fn encode_alaw(sample: i16) -> u8 {
    let mut x = i32::from(sample) >> 3;
    let mask = if x >= 0 {
        0xD5
    } else {
        x = -x - 1;
        0x55
    };
    // 0 ≤ x ≤ 0x0FFF: segment 0 up to 0x1F, then one per doubling, at most 7.
    let segment = (31 - (x as u32 | 0x1F).leading_zeros()) - 4;
    let shift = segment.max(1);
    let code = (segment << 4) as i32 | ((x >> shift) & 0x0F);
    (code ^ mask) as u8
}

/// The 16-bit linear sample of an A-law code; the range is ±32256, and 0 is never decoded
/// (the smallest magnitudes are ±8).
pub fn decode_alaw(code: u8) -> i16 {
    let a = code ^ 0x55;
    let segment = (a & 0x70) >> 4;
    let mut t = i32::from(a & 0x0F) << 4;
    t = match segment {
        0 => t + 8,
        s => (t + 0x108) << (s - 1),
    };
    // t ≤ 32256.
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Width of the quantisation step, in 16-bit units, of the segment a µ-law code is in.
    fn ulaw_step(code: u8) -> i32 {
        8 << ((!code & 0x70) >> 4)
    }

    /// Width of the quantisation step, in 16-bit units, of the segment an A-law code is in.
    fn alaw_step(code: u8) -> i32 {
        16 << (((code ^ 0x55) & 0x70) >> 4).saturating_sub(1)
    }

    #[test]
    fn ulaw_known_values() {
        assert_eq!(encode_ulaw(0), 0xFF);
        assert_eq!(decode_ulaw(0xFF), 0);
        assert_eq!(decode_ulaw(0x7F), 0);
        assert_eq!(decode_ulaw(0x00), -32124);
        assert_eq!(decode_ulaw(0x80), 32124);
        assert_eq!(encode_ulaw(i16::MAX), 0x80);
        assert_eq!(encode_ulaw(i16::MIN), 0x00);
        assert_eq!(decode_ulaw(0xFE), 8);
        assert_eq!(decode_ulaw(0x7E), -8);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(encode_alaw(0), 0xD5);
        assert_eq!(decode_alaw(0xD5), 8);
        assert_eq!(decode_alaw(0x55), -8);
        assert_eq!(encode_alaw(-1), 0x55);
        assert_eq!(decode_alaw(0xAA), 32256);
        assert_eq!(decode_alaw(0x2A), -32256);
        assert_eq!(encode_alaw(i16::MAX), 0xAA);
        assert_eq!(encode_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn ulaw_every_code_round_trips() {
        for code in 0..=255u8 {
            let back = encode_ulaw(decode_ulaw(code));
            // Negative zero (0x7F) decodes to 0, which is coded as positive zero.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(back, expected, "code {code:#04x}");
        }
    }

    #[test]
    fn alaw_every_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(encode_alaw(decode_alaw(code)), code, "code {code:#04x}");
        }
    }

    #[test]
    fn ulaw_every_sample_within_half_a_step() {
        for x in i16::MIN..=i16::MAX {
            let code = encode_ulaw(x);
            let y = i32::from(decode_ulaw(code));
            let x = i32::from(x);
            if x.abs() > 32124 {
                // Beyond the largest decoded value: clipped to it.
                assert_eq!(y, 32124 * x.signum(), "sample {x}");
                continue;
            }
            // Half a step, plus the 2 low bits the 14-bit coder drops.
            let error = (y - x).abs();
            assert!(
                error <= ulaw_step(code) / 2 + 3,
                "sample {x}: decoded {y}, error {error}, code {code:#04x}"
            );
        }
    }

    #[test]
    fn alaw_every_sample_within_half_a_step() {
        for x in i16::MIN..=i16::MAX {
            let code = encode_alaw(x);
            let y = i32::from(decode_alaw(code));
            let error = (y - i32::from(x)).abs();
            assert!(
                error <= alaw_step(code) / 2,
                "sample {x}: decoded {y}, error {error}, code {code:#04x}"
            );
        }
    }

    #[test]
    fn ulaw_symmetric() {
        for x in 1..=i16::MAX {
            assert_eq!(encode_ulaw(-x), encode_ulaw(x) ^ 0x80, "sample {x}");
        }
        assert_eq!(encode_ulaw(-1), 0x7F);
    }

    #[test]
    fn monotonic() {
        let mut last = (i16::MIN, i16::MIN);
        for x in i16::MIN..=i16::MAX {
            let now = (decode_ulaw(encode_ulaw(x)), decode_alaw(encode_alaw(x)));
            assert!(now.0 >= last.0 && now.1 >= last.1, "sample {x}");
            last = now;
        }
    }
}
