//! JPEG marker codes (ITU-T T.81 §B.1.1.3, Table B.1).
//!
//! A marker is `0xFF` followed by a code byte that is neither `0x00` nor `0xFF`. Any marker may be
//! preceded by fill bytes `0xFF` (§B.1.1.2).

use std::fmt;

/// Start of image.
pub const SOI: u8 = 0xD8;
/// End of image.
pub const EOI: u8 = 0xD9;
/// Start of scan.
pub const SOS: u8 = 0xDA;
/// Define quantization table(s).
pub const DQT: u8 = 0xDB;
/// Define number of lines.
pub const DNL: u8 = 0xDC;
/// Define restart interval.
pub const DRI: u8 = 0xDD;
/// Define Huffman table(s).
pub const DHT: u8 = 0xC4;
/// Reserved for JPEG extensions (sits among the SOFn codes but is not one).
pub const JPG: u8 = 0xC8;
/// Define arithmetic coding conditioning(s).
pub const DAC: u8 = 0xCC;
/// Comment.
pub const COM: u8 = 0xFE;
/// Temporary private use in arithmetic coding; stands alone (no length).
pub const TEM: u8 = 0x01;
/// Baseline sequential DCT, Huffman (SOF0).
pub const SOF0: u8 = 0xC0;
/// Extended sequential DCT, Huffman (SOF1).
pub const SOF1: u8 = 0xC1;
/// Progressive DCT, Huffman (SOF2).
pub const SOF2: u8 = 0xC2;

/// RST0..RST7: restart markers, which stand alone and may sit inside entropy-coded data.
pub fn is_rst(code: u8) -> bool {
    (0xD0..=0xD7).contains(&code)
}

/// SOF0..SOF15, the frame headers (`C4`, `C8` and `CC` in that range are DHT, JPG and DAC).
pub fn is_sof(code: u8) -> bool {
    (0xC0..=0xCF).contains(&code) && !matches!(code, DHT | JPG | DAC)
}

/// A marker code, displayed by name: `SOF2`, `APP1`, `DHT`, or `marker 0x05` when reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Marker(pub u8);

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.0;
        match code {
            SOI => f.write_str("SOI"),
            EOI => f.write_str("EOI"),
            SOS => f.write_str("SOS"),
            DQT => f.write_str("DQT"),
            DNL => f.write_str("DNL"),
            DRI => f.write_str("DRI"),
            DHT => f.write_str("DHT"),
            DAC => f.write_str("DAC"),
            COM => f.write_str("COM"),
            JPG => f.write_str("JPG"),
            TEM => f.write_str("TEM"),
            0xDE => f.write_str("DHP"),
            0xDF => f.write_str("EXP"),
            c if is_sof(c) => write!(f, "SOF{}", c - SOF0),
            c if is_rst(c) => write!(f, "RST{}", c - 0xD0),
            0xE0..=0xEF => write!(f, "APP{}", code - 0xE0),
            0xF0..=0xFD => write!(f, "JPG{}", code - 0xF0),
            _ => write!(f, "marker 0x{code:02X}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_markers_as_t81_does() {
        assert_eq!(Marker(0xC0).to_string(), "SOF0");
        assert_eq!(Marker(0xC2).to_string(), "SOF2");
        assert_eq!(Marker(0xCF).to_string(), "SOF15");
        assert_eq!(Marker(0xC4).to_string(), "DHT");
        assert_eq!(Marker(0xE1).to_string(), "APP1");
        assert_eq!(Marker(0xD3).to_string(), "RST3");
        assert_eq!(Marker(0x05).to_string(), "marker 0x05");
    }

    #[test]
    fn sof_excludes_dht_jpg_dac() {
        let sofs: Vec<u8> = (0xC0..=0xCF).filter(|&c| is_sof(c)).collect();
        assert_eq!(sofs.len(), 13);
        assert!(!is_sof(DHT) && !is_sof(JPG) && !is_sof(DAC));
    }
}
