//! Fixed tables of RFC 2435: the standard Huffman tables the receiver puts in the rebuilt JPEG
//! (RFC 2435 Appendix B; ITU-T T.81 Annex K.3) and the quantization tables a Q of 1..=99 stands
//! for (RFC 2435 Appendix A; T.81 Annex K.1/K.2, scaled as the IJG library does).
//!
//! Huffman tables are given the way a DHT segment carries them (T.81 §B.2.4.2): `BITS` is the
//! number of codes of each length 1..=16, `VALUES` the symbols in code order.
//! Quantization tables are in zig-zag order, the order a DQT segment carries them (T.81 §B.2.4.1).

/// Zig-zag scan: `ZIGZAG[k]` is the natural (row-major) index of the `k`-th coefficient of the
/// zig-zag order (T.81 Figure A.6).
pub const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// DC luminance code lengths (T.81 Table K.3).
pub const DC_LUMA_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
/// DC luminance symbols (T.81 Table K.3).
pub const DC_LUMA_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// DC chrominance code lengths (T.81 Table K.4).
pub const DC_CHROMA_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
/// DC chrominance symbols (T.81 Table K.4).
pub const DC_CHROMA_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// AC luminance code lengths (T.81 Table K.5).
pub const AC_LUMA_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
/// AC luminance symbols, run/size bytes in code order (T.81 Table K.5).
pub const AC_LUMA_VALUES: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];

/// AC chrominance code lengths (T.81 Table K.6).
pub const AC_CHROMA_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
/// AC chrominance symbols, run/size bytes in code order (T.81 Table K.6).
pub const AC_CHROMA_VALUES: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];

/// Luminance quantization table of T.81 Table K.1, natural (row-major) order — the table RFC 2435
/// Appendix A starts from.
const LUMA_QUANTIZER_NATURAL: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, //
    12, 12, 14, 19, 26, 58, 60, 55, //
    14, 13, 16, 24, 40, 57, 69, 56, //
    14, 17, 22, 29, 51, 87, 80, 62, //
    18, 22, 37, 56, 68, 109, 103, 77, //
    24, 35, 55, 64, 81, 104, 113, 92, //
    49, 64, 78, 87, 103, 121, 120, 101, //
    72, 92, 95, 98, 112, 100, 103, 99, //
];

/// Chrominance quantization table of T.81 Table K.2, natural (row-major) order.
const CHROMA_QUANTIZER_NATURAL: [u8; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, //
    18, 21, 26, 66, 99, 99, 99, 99, //
    24, 26, 56, 99, 99, 99, 99, 99, //
    47, 66, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
];

const fn to_zigzag(natural: &[u8; 64]) -> [u8; 64] {
    let mut out = [0; 64];
    let mut k = 0;
    while k < 64 {
        out[k] = natural[ZIGZAG[k] as usize];
        k += 1;
    }
    out
}

/// T.81 Table K.1 in zig-zag (DQT) order: the luminance table for Q = 50.
pub const LUMA_QUANTIZER: [u8; 64] = to_zigzag(&LUMA_QUANTIZER_NATURAL);
/// T.81 Table K.2 in zig-zag (DQT) order: the chrominance table for Q = 50.
pub const CHROMA_QUANTIZER: [u8; 64] = to_zigzag(&CHROMA_QUANTIZER_NATURAL);

/// The quantization tables a Q of 1..=99 stands for (RFC 2435 §4.2 and Appendix A,
/// `MakeTables`): `[luma, chroma]`, 8-bit, in zig-zag (DQT) order. `None` for any other Q
/// (0 is reserved; 100..=127 are reserved; 128..=255 carry their tables in band).
///
/// The scale is IJG's: `S = 5000 / Q` below 50, `S = 200 - 2 Q` from 50, and each entry is
/// `(base * S + 50) / 100` clamped to 1..=255.
///
/// RFC 2435's sample code indexes its tables through `zigzag[]`, but the tables it prints are
/// already in zig-zag order; receivers in the field (FFmpeg, GStreamer, cameras) use the
/// standard tables in zig-zag order, and so do we.
pub fn quantization_tables(q: u8) -> Option<[[u8; 64]; 2]> {
    if !(1..=99).contains(&q) {
        return None;
    }
    let q = u32::from(q);
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let scale_one = |base: u8| -> u8 {
        let v = (u32::from(base) * scale + 50) / 100;
        // Clamped to 1..=255, so the narrowing cannot lose anything.
        v.clamp(1, 255) as u8
    };
    Some([
        LUMA_QUANTIZER.map(scale_one),
        CHROMA_QUANTIZER.map(scale_one),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_is_a_permutation() {
        let mut seen = [false; 64];
        for &i in &ZIGZAG {
            assert!(!seen[usize::from(i)], "{i} twice");
            seen[usize::from(i)] = true;
        }
    }

    #[test]
    fn quantizers_are_in_zigzag_order() {
        // The first zig-zag entries of K.1 as every RFC 2435 receiver lists them.
        assert_eq!(LUMA_QUANTIZER[..8], [16, 11, 12, 14, 12, 10, 16, 14]);
        assert_eq!(LUMA_QUANTIZER[63], 99);
        assert_eq!(CHROMA_QUANTIZER[..8], [17, 18, 18, 24, 21, 24, 47, 26]);
    }

    #[test]
    fn huffman_tables_count_their_symbols() {
        let count = |bits: &[u8; 16]| bits.iter().map(|&b| usize::from(b)).sum::<usize>();
        assert_eq!(count(&DC_LUMA_BITS), DC_LUMA_VALUES.len());
        assert_eq!(count(&DC_CHROMA_BITS), DC_CHROMA_VALUES.len());
        assert_eq!(count(&AC_LUMA_BITS), AC_LUMA_VALUES.len());
        assert_eq!(count(&AC_CHROMA_BITS), AC_CHROMA_VALUES.len());
    }

    #[test]
    fn q50_is_the_standard_table() {
        let [luma, chroma] = quantization_tables(50).unwrap();
        assert_eq!(luma, LUMA_QUANTIZER);
        assert_eq!(chroma, CHROMA_QUANTIZER);
    }

    #[test]
    fn q_scaling_follows_appendix_a() {
        // Q = 10: S = 5000 / 10 = 500; 16 * 500 / 100 = 80; 11 * 5 = 55; 99 * 5 = 495 -> 255.
        let [luma, chroma] = quantization_tables(10).unwrap();
        assert_eq!((luma[0], luma[1], luma[63]), (80, 55, 255));
        assert_eq!(chroma[0], 85);
        // Q = 75: S = 50; (16 * 50 + 50) / 100 = 8; (11 * 50 + 50) / 100 = 6.
        let [luma, _] = quantization_tables(75).unwrap();
        assert_eq!((luma[0], luma[1]), (8, 6));
        // Q = 99: S = 2; (16 * 2 + 50) / 100 = 0 -> clamped to 1; (99 * 2 + 50) / 100 = 2.
        let [luma, _] = quantization_tables(99).unwrap();
        assert_eq!((luma[0], luma[63]), (1, 2));
        // Q = 1: S = 5000; everything saturates.
        let [luma, chroma] = quantization_tables(1).unwrap();
        assert!(luma.iter().chain(&chroma).all(|&v| v == 255));
    }

    #[test]
    fn q_outside_1_to_99_has_no_tables() {
        for q in [0, 100, 127, 128, 255] {
            assert_eq!(quantization_tables(q), None, "q {q}");
        }
    }
}
