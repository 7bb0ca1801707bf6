//! The size a scan was coded for, when the RFC 2435 header cannot say it.
//!
//! RFC 2435 §3.1.5–3.1.6 carries a frame's width and height in 8-pixel units in one byte each,
//! so nothing over 2040 pixels fits. The RFC leaves larger frames out; GStreamer sends 0 there and
//! the real size in SDP `a=x-dimensions`, but some senders (ffmpeg's RTP muxer, 5.1) send the
//! size modulo 2048 and say nothing else: a 3840x2160 frame arrives labelled 1792x112. The scan
//! itself knows better. A baseline scan codes exactly one MCU per 16x16 (4:2:0) or 16x8 (4:2:2)
//! block of the picture (ITU-T T.81 A.2), and types 0/1 use the standard Huffman tables
//! (§3.1.3, T.81 K.3), so walking the entropy-coded data — decoding each block's DC and AC
//! symbols, not its pixels — counts the MCUs. Of the sizes the header's bytes can stand for (the
//! sent value plus multiples of 256 units), the one whose MCU grid has that many MCUs is the
//! frame's ([`infer_size`]).

use super::Subsampling;
use super::restart::{mcu_grid, mcu_size};
use super::tables::{
    AC_CHROMA_BITS, AC_CHROMA_VALUES, AC_LUMA_BITS, AC_LUMA_VALUES, DC_CHROMA_BITS,
    DC_CHROMA_VALUES, DC_LUMA_BITS, DC_LUMA_VALUES,
};

/// A canonical Huffman table (T.81 Annex C, decoded as in F.2.2.3): for each code length, the
/// largest code of that length and where its values start.
struct Table {
    /// Largest code of each length 1..=16, or -1 when there is none.
    max_code: [i32; 17],
    /// Index into `values` of the first code of each length, less that code.
    offset: [i32; 17],
    values: &'static [u8],
}

impl Table {
    fn new(bits: &[u8; 16], values: &'static [u8]) -> Table {
        let mut max_code = [-1; 17];
        let mut offset = [0; 17];
        let mut code = 0i32;
        let mut index = 0i32;
        for len in 1..=16 {
            let count = i32::from(bits[len - 1]);
            if count > 0 {
                offset[len] = index - code;
                code += count;
                index += count;
                max_code[len] = code - 1;
            }
            code <<= 1;
        }
        Table {
            max_code,
            offset,
            values,
        }
    }

    /// The next symbol, or `None` past the end of the data or on a code no table has.
    fn decode(&self, bits: &mut Bits<'_>) -> Option<u8> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = code << 1 | i32::from(bits.bit()?);
            if code <= self.max_code[len] {
                return self.values.get((code + self.offset[len]) as usize).copied();
            }
        }
        None
    }
}

/// The four standard tables.
struct Tables {
    dc_luma: Table,
    ac_luma: Table,
    dc_chroma: Table,
    ac_chroma: Table,
}

impl Tables {
    fn standard() -> Tables {
        Tables {
            dc_luma: Table::new(&DC_LUMA_BITS, &DC_LUMA_VALUES),
            ac_luma: Table::new(&AC_LUMA_BITS, &AC_LUMA_VALUES),
            dc_chroma: Table::new(&DC_CHROMA_BITS, &DC_CHROMA_VALUES),
            ac_chroma: Table::new(&AC_CHROMA_BITS, &AC_CHROMA_VALUES),
        }
    }
}

/// Bits of one restart interval's entropy-coded data, stuffed `FF 00` read as `FF` (T.81
/// F.1.2.3); the data ends at its end or at any other marker.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
    byte: u8,
    left: u8,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Bits<'a> {
        Bits {
            data,
            at: 0,
            byte: 0,
            left: 0,
        }
    }

    fn bit(&mut self) -> Option<u8> {
        if self.left == 0 {
            let byte = *self.data.get(self.at)?;
            if byte == 0xFF {
                // Only a stuffed zero continues the data; a marker ends it.
                if self.data.get(self.at + 1) != Some(&0x00) {
                    return None;
                }
                self.at += 1;
            }
            self.at += 1;
            self.byte = byte;
            self.left = 8;
        }
        self.left -= 1;
        Some(self.byte >> self.left & 1)
    }

    fn skip(&mut self, n: u8) -> Option<()> {
        for _ in 0..n {
            self.bit()?;
        }
        Some(())
    }
}

/// Walks one 8x8 block's DC and AC symbols (T.81 F.2.2.1–F.2.2.2). `None` when the data ends
/// inside it; `Some(false)` when the symbols cannot be a block (more than 64 coefficients).
fn block(bits: &mut Bits<'_>, dc: &Table, ac: &Table) -> Option<bool> {
    let size = dc.decode(bits)?;
    if size > 11 {
        return Some(false);
    }
    bits.skip(size)?;
    let mut k = 1u32;
    while k < 64 {
        let rs = ac.decode(bits)?;
        let (run, size) = (u32::from(rs >> 4), rs & 0x0F);
        if size == 0 {
            if run == 15 {
                k += 16;
                continue;
            }
            // End of block.
            return Some(run == 0);
        }
        k += run;
        if k >= 64 {
            return Some(false);
        }
        bits.skip(size)?;
        k += 1;
    }
    Some(k == 64)
}

/// MCUs coded in `scan` (the entropy-coded data after SOS, up to EOI; restart markers
/// allowed) with the standard Huffman tables and `subsampling`'s interleaving: Y blocks, then
/// one Cb and one Cr (T.81 A.2.3); the data's length bounds the count. `None` when the data is not such a
/// scan (symbols no block can hold). An MCU that the data ends inside is not counted: the
/// padding bits before a marker (T.81 F.1.2.3) are too few to code a block.
pub fn count_mcus(scan: &[u8], subsampling: Subsampling) -> Option<u32> {
    let tables = Tables::standard();
    let (h, v) = subsampling.luma_sampling();
    let luma_blocks = u32::from(h) * u32::from(v);
    let mut count = 0u32;
    for interval in super::restart::intervals(scan) {
        let mut bits = Bits::new(interval);
        'mcus: loop {
            for b in 0..luma_blocks + 2 {
                let (dc, ac) = if b < luma_blocks {
                    (&tables.dc_luma, &tables.ac_luma)
                } else {
                    (&tables.dc_chroma, &tables.ac_chroma)
                };
                match block(&mut bits, dc, ac) {
                    Some(true) => {}
                    Some(false) => return None,
                    None => break 'mcus,
                }
            }
            count += 1;
        }
    }
    Some(count)
}

/// The frame size `scan` was coded for, given the header's width and height bytes (8-pixel
/// units, sent modulo 256) and `mcus` counted in it: the one size those bytes can stand for
/// whose MCU grid holds `mcus` MCUs, preferring the fewest wraps; `None` when there is none, or
/// when two equally likely sizes fit.
pub fn infer_size(
    width8: u8,
    height8: u8,
    subsampling: Subsampling,
    mcus: u32,
) -> Option<(u16, u16)> {
    let (mcu_w, _) = mcu_size(subsampling);
    // A side is at most 65535 pixels: 8191 units of 8, 31 wraps of 256.
    let mut best: Option<((u16, u16), u32)> = None;
    let mut tie = false;
    for a in 0u32..32 {
        let w8 = u32::from(width8) + 256 * a;
        if w8 == 0 || w8 > 8191 {
            continue;
        }
        let width = (w8 * 8) as u16;
        let across = u32::from(width.div_ceil(mcu_w));
        if across == 0 || !mcus.is_multiple_of(across) {
            continue;
        }
        for b in 0u32..32 {
            let h8 = u32::from(height8) + 256 * b;
            if h8 == 0 || h8 > 8191 {
                continue;
            }
            let height = (h8 * 8) as u16;
            let (x, y) = mcu_grid(subsampling, width, height);
            if x * y != mcus {
                continue;
            }
            let wraps = a + b;
            match best {
                Some((_, w)) if w < wraps => {}
                Some((_, w)) if w == wraps => tie = true,
                _ => {
                    best = Some(((width, height), wraps));
                    tie = false;
                }
            }
        }
    }
    if tie {
        None
    } else {
        best.map(|(size, _)| size)
    }
}

/// Scans a depacketizer measures at most: a sender that changes its header bytes on every frame
/// cannot make it walk every frame.
const MAX_MEASUREMENTS: u8 = 16;

/// What a depacketizer learned from scans (types 0 and 1, no `a=x-dimensions`): the size the
/// newest header bytes it measured stand for (`None`: no size fits them).
#[derive(Debug, Default)]
pub(super) struct Sizing {
    known: Option<(Bytes, Option<(u16, u16)>)>,
    measured: u8,
}

/// A frame's width and height bytes and type, as sent.
type Bytes = (u8, u8, u8);

/// What one measurement gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measured {
    /// The frame's size (the header's, or the one behind its wrapped bytes).
    Size(u16, u16),
    /// No size those bytes stand for fits the scan.
    Unknown,
    /// The scan could not be walked (damaged data): try the next frame.
    NotYet,
}

impl Sizing {
    /// Whether frames with these bytes are measured (types 0 and 1 only).
    pub(super) fn applies(jpeg_type: u8) -> bool {
        jpeg_type < 64
    }

    /// The size learned for these bytes: `Some(None)` when no size fits them, `None` when they
    /// have not been measured.
    pub(super) fn known(
        &self,
        width8: u8,
        height8: u8,
        jpeg_type: u8,
    ) -> Option<Option<(u16, u16)>> {
        match self.known {
            Some((bytes, size)) if bytes == (width8, height8, jpeg_type) => Some(size),
            _ => None,
        }
    }

    /// Measures `scan`, sent with these bytes, and remembers what it found.
    pub(super) fn measure(
        &mut self,
        width8: u8,
        height8: u8,
        jpeg_type: u8,
        scan: &[u8],
    ) -> Measured {
        let Some(subsampling) = Subsampling::from_rtp_type(jpeg_type) else {
            return Measured::NotYet;
        };
        let bytes = (width8, height8, jpeg_type);
        let header =
            (width8 != 0 && height8 != 0).then(|| (u16::from(width8) * 8, u16::from(height8) * 8));
        let found = if self.measured >= MAX_MEASUREMENTS {
            header
        } else {
            self.measured += 1;
            match count_mcus(scan, subsampling) {
                None | Some(0) => return Measured::NotYet,
                Some(mcus) => infer_size(width8, height8, subsampling, mcus).or(header),
            }
        };
        self.known = Some((bytes, found));
        match found {
            Some((w, h)) => Measured::Size(w, h),
            None => Measured::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_behind_wrapped_bytes_is_found() {
        // 3840x2160 4:2:0 is 240 x 135 MCUs; ffmpeg sends 480 & 255 = 224, 270 & 255 = 14.
        assert_eq!(
            infer_size(224, 14, Subsampling::Yuv420, 240 * 135),
            Some((3840, 2160))
        );
        // A header that is right stays right.
        assert_eq!(
            infer_size(240, 135, Subsampling::Yuv420, 120 * 68),
            Some((1920, 1080))
        );
        // 4:2:2 at 4096x2160: 256 x 270 MCUs of 16x8; the width byte is 0.
        assert_eq!(
            infer_size(0, 14, Subsampling::Yuv422, 256 * 270),
            Some((4096, 2160))
        );
        // No size those bytes stand for has 7 MCUs.
        assert_eq!(infer_size(224, 14, Subsampling::Yuv420, 7), None);
    }
}
