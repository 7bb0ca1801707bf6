//! Can a frame travel as RFC 2435 RTP payload, and its [`Frame`] view if so.
//!
//! RFC 2435 sends only the entropy-coded data and a few numbers; the receiver rebuilds the
//! headers (§3.1, Appendix A/B) as: baseline DCT (SOF0), 8-bit samples, three components Y, Cb,
//! Cr with Y sampled 2x1 (type 0) or 2x2 (type 1) and Cb, Cr 1x1, Cb and Cr sharing a
//! quantization table, the standard Huffman tables of ITU-T T.81 §K.3, one interleaved scan.
//! A frame that differs in any of these would decode wrongly at the receiver, so it is
//! "not ready" and must be re-encoded (`encode_mjpeg --from`).

use std::ops::Range;

use hdstream_common::rfc2435::tables;
use hdstream_common::rfc2435::{Frame, Subsampling};

use crate::jpeg::{Header, HuffmanTable, Process, QuantizationTable, Sampling};

/// The 24-bit fragment offset of the main JPEG header (§3.1.2) limits a frame's scan data.
pub const MAX_FRAME_BYTES: usize = (1 << 24) - 1;

/// Which of the two Huffman table classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableClass {
    /// DC table (`Tc` = 0).
    Dc,
    /// AC table (`Tc` = 1).
    Ac,
}

impl std::fmt::Display for TableClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TableClass::Dc => "DC",
            TableClass::Ac => "AC",
        })
    }
}

/// Why a frame cannot travel as RFC 2435 payload: the first reason found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NotReady {
    /// One component; RFC 2435 carries YCbCr.
    #[error("grayscale (one component); RFC 2435 carries 3-component YCbCr")]
    Grayscale,
    /// Neither one nor three components (e.g. CMYK).
    #[error("{0} components; RFC 2435 carries 3-component YCbCr")]
    Components(u8),
    /// Progressive DCT (SOF2, SOF6, SOF10, SOF14).
    #[error("progressive JPEG ({0}); RFC 2435 carries baseline sequential DCT")]
    Progressive(crate::jpeg::marker::Marker),
    /// Arithmetic entropy coding (SOF9 and up).
    #[error("arithmetic coding ({0}); RFC 2435 carries Huffman-coded baseline JPEG")]
    Arithmetic(crate::jpeg::marker::Marker),
    /// Lossless or hierarchical (differential) coding.
    #[error("{0} coding process; RFC 2435 carries baseline sequential DCT")]
    Process(crate::jpeg::marker::Marker),
    /// Sample precision other than 8 bits.
    #[error("{0}-bit samples; RFC 2435 carries 8-bit samples")]
    Precision(u8),
    /// Chroma sampling other than 4:2:0 or 4:2:2.
    #[error("{0} chroma sampling; RFC 2435 carries 4:2:0 or 4:2:2 (Y 2x2 or 2x1, Cb and Cr 1x1)")]
    Sampling(Sampling),
    /// 4:2:0 or 4:2:2, but not with the factors RFC 2435 rebuilds (Y 2x2 or 2x1, chroma 1x1):
    /// ffmpeg writes 4:2:2 as Y 2x2, chroma 1x2, whose MCUs hold twice the blocks.
    #[error(
        "{sampling} with sampling factors Y {}x{}, Cb/Cr {}x{}; RFC 2435 rebuilds 4:2:2 as Y 2x1 \
         and 4:2:0 as Y 2x2, with Cb/Cr 1x1",
        luma.0, luma.1, chroma.0, chroma.1
    )]
    SamplingFactors {
        /// The sampling the factors amount to.
        sampling: Sampling,
        /// Y's `H`, `V`.
        luma: (u8, u8),
        /// Cb's (and Cr's) `H`, `V`.
        chroma: (u8, u8),
    },
    /// Width or height 0 (the height would come later in a DNL segment).
    #[error("size {width}x{height}; RFC 2435 needs the size in the frame header")]
    Size {
        /// Width from SOF.
        width: u16,
        /// Height from SOF.
        height: u16,
    },
    /// More than one scan.
    #[error("{0} scans; RFC 2435 carries one interleaved scan")]
    Scans(u16),
    /// The first scan does not hold Y, Cb, Cr in frame order.
    #[error("the scan does not hold Y, Cb, Cr in frame header order")]
    ScanOrder,
    /// The frame ends without EOI.
    #[error("missing EOI")]
    MissingEoi,
    /// A component's quantization table is not defined.
    #[error("quantization table {0} is used but not defined")]
    MissingQuantization(u8),
    /// Cb and Cr use different quantization tables.
    #[error("Cb and Cr use different quantization tables; RFC 2435 has one chroma table")]
    ChromaTables,
    /// A Huffman table in use is not the standard one (often: encoded with optimised tables).
    #[error(
        "non-standard Huffman {class} table for {role} (optimised tables?); RFC 2435 assumes \
         the standard Huffman tables of ITU-T T.81 K.3"
    )]
    Huffman {
        /// DC or AC.
        class: TableClass,
        /// "luma" or "chroma".
        role: &'static str,
    },
    /// The frame is larger than the 24-bit fragment offset can address.
    #[error("{0} bytes; RFC 2435 fragment offsets address at most 16 MiB")]
    TooLarge(usize),
}

/// Where a ready frame's RFC 2435 pieces lie in its bytes (offsets from its SOI), found once
/// when the file is indexed so that sending a frame needs no parsing: [`Layout::frame`] is the
/// [`Frame`] again, by slicing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    subsampling: Subsampling,
    width: u16,
    height: u16,
    restart_interval: u16,
    luma: Range<u32>,
    chroma: Range<u32>,
    scan: Range<u32>,
}

impl Layout {
    /// The layout of `frame`, whose slices all lie in `bytes` (the frame, SOI first).
    fn of(frame: &Frame<'_>, bytes: &[u8]) -> Option<Layout> {
        let range = |part: &[u8]| -> Option<Range<u32>> {
            let start = (part.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
            let end = start.checked_add(part.len())?;
            (end <= bytes.len()).then_some(u32::try_from(start).ok()?..u32::try_from(end).ok()?)
        };
        Some(Layout {
            subsampling: frame.subsampling,
            width: frame.width,
            height: frame.height,
            restart_interval: frame.restart_interval,
            luma: range(frame.luma_table)?,
            chroma: range(frame.chroma_table)?,
            scan: range(frame.scan)?,
        })
    }

    /// The frame as the packetizer wants it, borrowing `bytes` (the same frame's bytes, SOI
    /// first); `None` if they are shorter than the layout says.
    pub fn frame<'a>(&self, bytes: &'a [u8]) -> Option<Frame<'a>> {
        let slice = |r: &Range<u32>| bytes.get(r.start as usize..r.end as usize);
        Some(Frame {
            subsampling: self.subsampling,
            width: self.width,
            height: self.height,
            luma_table: slice(&self.luma)?,
            chroma_table: slice(&self.chroma)?,
            restart_interval: self.restart_interval,
            scan: slice(&self.scan)?,
        })
    }
}

/// [`check`], keeping the [`Layout`] of a ready frame (what the index stores).
pub fn layout(header: &Header<'_>) -> Result<Layout, NotReady> {
    let frame = view(header)?;
    // The frame's slices come from `header.bytes()`, so they always lie within it.
    Layout::of(&frame, header.bytes()).ok_or(NotReady::TooLarge(header.len()))
}

/// Checks a parsed frame against what RFC 2435 can carry; the first reason it cannot.
pub fn check(header: &Header<'_>) -> Result<(), NotReady> {
    view(header).map(|_| ())
}

/// The [`Frame`] the RFC 2435 packetizer needs, borrowing the frame's bytes; the first reason
/// the frame cannot travel as RFC 2435 payload otherwise.
pub fn frame<'a>(header: &Header<'a>) -> Result<Frame<'a>, NotReady> {
    view(header)
}

fn view<'a>(h: &Header<'a>) -> Result<Frame<'a>, NotReady> {
    let components = h.components();
    let &[y, cb, cr] = components else {
        return Err(match components.len() {
            1 => NotReady::Grayscale,
            // At most MAX_COMPONENTS (4).
            n => NotReady::Components(n as u8),
        });
    };
    if h.is_arithmetic() {
        return Err(NotReady::Arithmetic(h.sof_marker()));
    }
    match h.process() {
        Process::Progressive => return Err(NotReady::Progressive(h.sof_marker())),
        Process::Lossless => return Err(NotReady::Process(h.sof_marker())),
        _ if h.is_differential() => return Err(NotReady::Process(h.sof_marker())),
        Process::Baseline | Process::Extended => {}
    }
    if h.precision != 8 {
        return Err(NotReady::Precision(h.precision));
    }
    let subsampling = match h.sampling() {
        Sampling::Yuv420 if (y.h, y.v, cb.h, cb.v) == (2, 2, 1, 1) => Subsampling::Yuv420,
        Sampling::Yuv422 if (y.h, y.v, cb.h, cb.v) == (2, 1, 1, 1) => Subsampling::Yuv422,
        sampling @ (Sampling::Yuv420 | Sampling::Yuv422) => {
            return Err(NotReady::SamplingFactors {
                sampling,
                luma: (y.h, y.v),
                chroma: (cb.h, cb.v),
            });
        }
        other => return Err(NotReady::Sampling(other)),
    };
    if h.width == 0 || h.height == 0 {
        return Err(NotReady::Size {
            width: h.width,
            height: h.height,
        });
    }
    if h.scans != 1 {
        return Err(NotReady::Scans(h.scans));
    }
    if !h
        .scan_components()
        .iter()
        .map(|s| s.component)
        .eq([0, 1, 2])
    {
        return Err(NotReady::ScanOrder);
    }
    if !h.eoi {
        return Err(NotReady::MissingEoi);
    }
    let luma = quantization(h, y.tq)?;
    if cb.tq != cr.tq {
        return Err(NotReady::ChromaTables);
    }
    let chroma = quantization(h, cb.tq)?;
    for (i, sc) in h.scan_components().iter().enumerate() {
        let (role, dc_std, ac_std) = if i == 0 {
            (
                "luma",
                (&tables::DC_LUMA_BITS[..], &tables::DC_LUMA_VALUES[..]),
                (&tables::AC_LUMA_BITS[..], &tables::AC_LUMA_VALUES[..]),
            )
        } else {
            (
                "chroma",
                (&tables::DC_CHROMA_BITS[..], &tables::DC_CHROMA_VALUES[..]),
                (&tables::AC_CHROMA_BITS[..], &tables::AC_CHROMA_VALUES[..]),
            )
        };
        // Without any DHT, Motion-JPEG means the standard tables: 0 luma, 1 chroma.
        let default_id = if i == 0 { 0 } else { 1 };
        let standard = |table: Option<HuffmanTable<'_>>, id: u8, std: (&[u8], &[u8])| match table {
            Some(t) => t.bits == std.0 && t.values == std.1,
            None => !h.has_dht && id == default_id,
        };
        if !standard(h.dc_tables[usize::from(sc.td)], sc.td, dc_std) {
            return Err(NotReady::Huffman {
                class: TableClass::Dc,
                role,
            });
        }
        if !standard(h.ac_tables[usize::from(sc.ta)], sc.ta, ac_std) {
            return Err(NotReady::Huffman {
                class: TableClass::Ac,
                role,
            });
        }
    }
    if h.len() > MAX_FRAME_BYTES {
        return Err(NotReady::TooLarge(h.len()));
    }
    Ok(Frame {
        subsampling,
        width: h.width,
        height: h.height,
        luma_table: luma.values,
        chroma_table: chroma.values,
        restart_interval: h.restart_interval,
        scan: h.scan_data(),
    })
}

fn quantization<'a>(h: &Header<'a>, tq: u8) -> Result<QuantizationTable<'a>, NotReady> {
    h.quantization
        .get(usize::from(tq))
        .copied()
        .flatten()
        .ok_or(NotReady::MissingQuantization(tq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jpeg::marker::{self, Marker};
    use crate::jpeg::tests::{SCAN, dht_standard, parts, segment, small_jpeg, sof};

    fn reason(p: &[Vec<u8>]) -> Result<(), NotReady> {
        let data = p.concat();
        check(&Header::parse(&data).unwrap())
    }

    fn with_sof(code: u8, precision: u8, comps: &[(u8, u8, u8)]) -> Vec<Vec<u8>> {
        let mut p = parts();
        p[3] = sof(code, precision, 64, 48, comps);
        if comps.len() == 1 {
            p[7] = segment(marker::SOS, &[1, 1, 0x00, 0, 63, 0]);
        }
        p
    }

    const YUV420: [(u8, u8, u8); 3] = [(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1)];

    #[test]
    fn a_baseline_420_frame_with_standard_tables_is_ready() {
        let data = small_jpeg();
        let h = Header::parse(&data).unwrap();
        let f = frame(&h).unwrap();
        assert_eq!(f.subsampling, Subsampling::Yuv420);
        assert_eq!((f.width, f.height, f.restart_interval), (64, 48, 4));
        assert_eq!(f.luma_table, (1..=64).collect::<Vec<u8>>());
        assert_eq!(f.chroma_table, (101..=164).collect::<Vec<u8>>());
        assert_eq!(f.scan, SCAN);
    }

    #[test]
    fn a_422_frame_with_16_bit_tables_is_ready() {
        let mut dqt = vec![0x10];
        dqt.extend([0; 128]);
        dqt.push(0x01);
        dqt.extend([7; 64]);
        let mut p = with_sof(marker::SOF0, 8, &[(1, 0x21, 0), (2, 0x11, 1), (3, 0x11, 1)]);
        p[2] = segment(marker::DQT, &dqt);
        let data = p.concat();
        let f = frame(&Header::parse(&data).unwrap()).unwrap();
        assert_eq!(f.subsampling, Subsampling::Yuv422);
        assert_eq!((f.luma_table.len(), f.chroma_table.len()), (128, 64));
    }

    #[test]
    fn motion_jpeg_without_dht_means_standard_tables() {
        let mut p = parts();
        p.remove(4);
        assert_eq!(reason(&p), Ok(()));
        // Without DHT only the conventional selectors (luma 0, chroma 1) are standard.
        p[6] = segment(marker::SOS, &[3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
        assert_eq!(
            reason(&p),
            Err(NotReady::Huffman {
                class: TableClass::Dc,
                role: "chroma"
            })
        );
    }

    #[test]
    fn each_reason_is_found() {
        let cases: Vec<(Vec<Vec<u8>>, NotReady)> = vec![
            (with_sof(0xC0, 8, &YUV420[..1]), NotReady::Grayscale),
            (
                with_sof(
                    0xC0,
                    8,
                    &[(1, 0x11, 0), (2, 0x11, 1), (3, 0x11, 1), (4, 0x11, 1)],
                ),
                NotReady::Components(4),
            ),
            (
                with_sof(0xC0, 8, &[(1, 0x11, 0), (2, 0x11, 1), (3, 0x11, 1)]),
                NotReady::Sampling(Sampling::Yuv444),
            ),
            (
                with_sof(0xC0, 8, &[(1, 0x41, 0), (2, 0x11, 1), (3, 0x11, 1)]),
                NotReady::Sampling(Sampling::Other),
            ),
            (
                with_sof(0xC0, 8, &[(1, 0x42, 0), (2, 0x21, 1), (3, 0x21, 1)]),
                NotReady::SamplingFactors {
                    sampling: Sampling::Yuv420,
                    luma: (4, 2),
                    chroma: (2, 1),
                },
            ),
            // How ffmpeg writes 4:2:2.
            (
                with_sof(0xC0, 8, &[(1, 0x22, 0), (2, 0x12, 1), (3, 0x12, 1)]),
                NotReady::SamplingFactors {
                    sampling: Sampling::Yuv422,
                    luma: (2, 2),
                    chroma: (1, 2),
                },
            ),
            (
                with_sof(0xC2, 8, &YUV420),
                NotReady::Progressive(Marker(0xC2)),
            ),
            (
                with_sof(0xC9, 8, &YUV420),
                NotReady::Arithmetic(Marker(0xC9)),
            ),
            (with_sof(0xC3, 8, &YUV420), NotReady::Process(Marker(0xC3))),
            (with_sof(0xC5, 8, &YUV420), NotReady::Process(Marker(0xC5))),
            (with_sof(0xC1, 12, &YUV420), NotReady::Precision(12)),
            (
                with_sof(0xC0, 8, &[(1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 2)]),
                NotReady::ChromaTables,
            ),
            (
                with_sof(0xC0, 8, &[(1, 0x22, 3), (2, 0x11, 1), (3, 0x11, 1)]),
                NotReady::MissingQuantization(3),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(reason(&p), Err(want), "{want}");
        }
        let mut p = parts();
        p[3] = sof(marker::SOF0, 8, 64, 0, &YUV420);
        assert_eq!(
            reason(&p),
            Err(NotReady::Size {
                width: 64,
                height: 0
            })
        );
        let mut p = parts();
        p.insert(
            9,
            segment(marker::SOS, &[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]),
        );
        assert_eq!(reason(&p), Err(NotReady::Scans(2)));
        let mut p = parts();
        p[7] = segment(marker::SOS, &[3, 2, 0x11, 1, 0x00, 3, 0x11, 0, 63, 0]);
        assert_eq!(reason(&p), Err(NotReady::ScanOrder));
        let mut p = parts();
        p[7] = segment(marker::SOS, &[1, 1, 0x00, 0, 63, 0]);
        assert_eq!(reason(&p), Err(NotReady::ScanOrder));
    }

    #[test]
    fn optimised_huffman_tables_are_found_per_class_and_role() {
        let standard = dht_standard();
        // Byte layout of the DHT: FF C4 Lh Ll, then DC luma (1+16+12), AC luma (1+16+162),
        // DC chroma (1+16+12), AC chroma.
        for (at, class, role) in [
            (4 + 1 + 16 + 3, TableClass::Dc, "luma"),
            (4 + 29 + 1 + 16 + 100, TableClass::Ac, "luma"),
            (4 + 29 + 179 + 1 + 16, TableClass::Dc, "chroma"),
            (4 + 29 + 179 + 29 + 1 + 16 + 161, TableClass::Ac, "chroma"),
        ] {
            let mut dht = standard.clone();
            dht[at] ^= 0x40;
            let mut p = parts();
            p[4] = dht;
            let got = reason(&p).unwrap_err();
            assert_eq!(got, NotReady::Huffman { class, role });
            assert!(got.to_string().contains("Huffman"));
        }
    }

    #[test]
    fn a_record_without_eoi_is_not_ready() {
        let data = small_jpeg();
        let h = Header::parse_record(&data[..data.len() - 2]).unwrap();
        assert_eq!(check(&h), Err(NotReady::MissingEoi));
    }

    #[test]
    fn frames_over_16_mib_are_too_large() {
        let mut p = parts();
        let com = segment(marker::COM, &[0x20; 65533]);
        p.splice(6..7, std::iter::repeat_n(com, 257));
        let data = p.concat();
        assert_eq!(reason(&p), Err(NotReady::TooLarge(data.len())));
    }

    #[test]
    fn reasons_read_well() {
        assert!(
            NotReady::Sampling(Sampling::Yuv444)
                .to_string()
                .contains("4:4:4")
        );
        assert!(
            NotReady::Progressive(Marker(0xC2))
                .to_string()
                .contains("progressive")
        );
    }
}
