//! Rebuilding the JPEG headers a receiver puts before the scan data (RFC 2435 §4 and
//! Appendix B, `MakeHeaders`): SOI, DQT, SOF0, DHT, DRI, SOS.

use super::Frame;
use super::tables::{
    AC_CHROMA_BITS, AC_CHROMA_VALUES, AC_LUMA_BITS, AC_LUMA_VALUES, DC_CHROMA_BITS,
    DC_CHROMA_VALUES, DC_LUMA_BITS, DC_LUMA_VALUES,
};

/// Start of image.
pub(super) const SOI: [u8; 2] = [0xFF, 0xD8];
/// End of image.
pub(super) const EOI: [u8; 2] = [0xFF, 0xD9];
const DQT: u8 = 0xDB;
const SOF0: u8 = 0xC0;
const DHT: u8 = 0xC4;
const DRI: u8 = 0xDD;
const SOS: u8 = 0xDA;

/// Writes a marker segment: `FF code`, the 16-bit length (which counts itself), then `parts`.
fn segment(out: &mut Vec<u8>, code: u8, parts: &[&[u8]]) {
    let len: usize = 2 + parts.iter().map(|p| p.len()).sum::<usize>();
    // Every segment written here is a few hundred bytes at most.
    let [l0, l1] = (len as u16).to_be_bytes();
    out.extend_from_slice(&[0xFF, code, l0, l1]);
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// Pq/Tq byte of a DQT table: precision (0 = 8-bit, 1 = 16-bit) and destination.
fn pq_tq(table: &[u8], destination: u8) -> u8 {
    let precision = u8::from(table.len() == 128);
    precision << 4 | destination
}

/// Sets the frame size in rebuilt `headers` (SOI through SOS, as [`Frame::write_headers`] made them):
/// answers whether their SOF0 was found.
pub(super) fn set_size(headers: &mut [u8], width: u16, height: u16) -> bool {
    let mut at = 2;
    while at + 9 <= headers.len() && headers[at] == 0xFF {
        let len = usize::from(u16::from_be_bytes([headers[at + 2], headers[at + 3]]));
        if headers[at + 1] == SOF0 {
            // FF C0, length, precision, then height and width (ITU-T T.81 B.2.2).
            headers[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
            headers[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
            return true;
        }
        at += 2 + len;
    }
    false
}

impl Frame<'_> {
    /// Appends the headers a receiver rebuilds for this frame, SOI through SOS, to `out` (not
    /// the scan). Components are numbered 1, 2, 3 (Y, Cb, Cr); Y uses quantization table 0 and
    /// Huffman tables 0, Cb and Cr table 1 (§4.1).
    pub fn write_headers(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&SOI);
        segment(
            out,
            DQT,
            &[
                &[pq_tq(self.luma_table, 0)],
                self.luma_table,
                &[pq_tq(self.chroma_table, 1)],
                self.chroma_table,
            ],
        );
        let (h, v) = self.subsampling.luma_sampling();
        let [h0, h1] = self.height.to_be_bytes();
        let [w0, w1] = self.width.to_be_bytes();
        segment(
            out,
            SOF0,
            &[&[
                8,
                h0,
                h1,
                w0,
                w1,
                3,
                1,
                h << 4 | v,
                0,
                2,
                0x11,
                1,
                3,
                0x11,
                1,
            ]],
        );
        segment(
            out,
            DHT,
            &[
                &[0x00],
                &DC_LUMA_BITS,
                &DC_LUMA_VALUES,
                &[0x10],
                &AC_LUMA_BITS,
                &AC_LUMA_VALUES,
                &[0x01],
                &DC_CHROMA_BITS,
                &DC_CHROMA_VALUES,
                &[0x11],
                &AC_CHROMA_BITS,
                &AC_CHROMA_VALUES,
            ],
        );
        if self.restart_interval != 0 {
            segment(out, DRI, &[&self.restart_interval.to_be_bytes()]);
        }
        segment(out, SOS, &[&[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc2435::Subsampling;

    /// Walks the segments of a header block: (marker code, segment body without length).
    fn segments(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        assert_eq!(bytes[..2], SOI);
        bytes = &bytes[2..];
        let mut found = Vec::new();
        while !bytes.is_empty() {
            assert_eq!(bytes[0], 0xFF);
            let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
            found.push((bytes[1], bytes[4..2 + len].to_vec()));
            bytes = &bytes[2 + len..];
        }
        found
    }

    #[test]
    fn headers_have_the_segments_in_order() {
        let luma = [1u8; 64];
        let chroma = [2u8; 128];
        let mut out = Vec::new();
        Frame {
            subsampling: Subsampling::Yuv420,
            width: 2560,
            height: 1440,
            luma_table: &luma,
            chroma_table: &chroma,
            restart_interval: 5,
            scan: &[],
        }
        .write_headers(&mut out);
        let segs = segments(&out);
        let codes: Vec<u8> = segs.iter().map(|s| s.0).collect();
        assert_eq!(codes, [DQT, SOF0, DHT, DRI, SOS]);
        // DQT: table 0 8-bit, table 1 16-bit.
        assert_eq!(segs[0].1[0], 0x00);
        assert_eq!(segs[0].1[65], 0x11);
        assert_eq!(segs[0].1.len(), 1 + 64 + 1 + 128);
        // SOF0: 1440 x 2560, Y 2x2.
        assert_eq!(segs[1].1[..8], [8, 0x05, 0xA0, 0x0A, 0x00, 3, 1, 0x22]);
        // DHT: four tables.
        assert_eq!(segs[2].1.len(), 4 * 17 + 12 + 12 + 162 + 162);
        assert_eq!(segs[3].1, [0, 5]);
    }

    #[test]
    fn no_dri_without_restart_interval_and_422_sampling() {
        let table = [1u8; 64];
        let mut out = Vec::new();
        Frame {
            subsampling: Subsampling::Yuv422,
            width: 16,
            height: 8,
            luma_table: &table,
            chroma_table: &table,
            restart_interval: 0,
            scan: &[],
        }
        .write_headers(&mut out);
        let segs = segments(&out);
        let codes: Vec<u8> = segs.iter().map(|s| s.0).collect();
        assert_eq!(codes, [DQT, SOF0, DHT, SOS]);
        assert_eq!(segs[1].1[7], 0x21);
    }
}
