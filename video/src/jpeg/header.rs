//! What the parser learns about one JPEG frame: the frame header (SOF), the tables in effect
//! for the first scan (DQT, DHT), the restart interval (DRI) and where the scans are (SOS).

use std::fmt;
use std::ops::Range;

use super::marker::{self, Marker};

/// Most components a frame may have here (T.81 allows 255; baseline and every real file: ≤ 4).
pub const MAX_COMPONENTS: usize = 4;

/// One image component of the frame header (T.81 §B.2.2: `Ci`, `Hi`, `Vi`, `Tqi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Component {
    /// Component identifier `Ci` (1, 2, 3 from libjpeg and ffmpeg; 0, 1, 2 from some encoders).
    pub id: u8,
    /// Horizontal sampling factor `Hi`, 1..=4.
    pub h: u8,
    /// Vertical sampling factor `Vi`, 1..=4.
    pub v: u8,
    /// Quantization table selector `Tqi`, 0..=3.
    pub tq: u8,
}

/// One component of a scan header (T.81 §B.2.3: `Csj`, `Tdj`, `Taj`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanComponent {
    /// Index of the component in the frame header (not its id).
    pub component: u8,
    /// DC Huffman table selector `Tdj`, 0..=3.
    pub td: u8,
    /// AC Huffman table selector `Taj`, 0..=3.
    pub ta: u8,
}

/// A quantization table as stored in DQT (T.81 §B.2.4.1), in zig-zag order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantizationTable<'a> {
    /// `Pq`: 0 for 8-bit entries (64 bytes), 1 for 16-bit big-endian entries (128 bytes).
    pub precision: u8,
    /// The 64 or 128 bytes of `Qk`.
    pub values: &'a [u8],
}

/// A Huffman table as stored in DHT (T.81 §B.2.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HuffmanTable<'a> {
    /// `Li`: how many codes of each length 1..=16 (16 bytes).
    pub bits: &'a [u8],
    /// `Vi,j`: the symbols, in order of increasing code length.
    pub values: &'a [u8],
}

/// Chroma sampling of a frame, as people name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sampling {
    /// Y sampled 2x2 relative to Cb and Cr.
    Yuv420,
    /// Y sampled 2x1 relative to Cb and Cr.
    Yuv422,
    /// All components sampled alike.
    Yuv444,
    /// One component.
    Gray,
    /// Anything else (4:1:1, 4:4:0, chroma sampled unlike each other, 4 components...).
    Other,
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sampling::Yuv420 => "4:2:0",
            Sampling::Yuv422 => "4:2:2",
            Sampling::Yuv444 => "4:4:4",
            Sampling::Gray => "gray",
            Sampling::Other => "other",
        })
    }
}

/// The coding process a SOFn marker announces (T.81 Table B.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Process {
    /// SOF0: baseline sequential DCT.
    Baseline,
    /// SOF1, SOF5, SOF9, SOF13: extended sequential DCT.
    Extended,
    /// SOF2, SOF6, SOF10, SOF14: progressive DCT.
    Progressive,
    /// SOF3, SOF7, SOF11, SOF15: lossless.
    Lossless,
}

/// The first scan's spectral selection and successive approximation (`Ss`, `Se`, `Ah`, `Al`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spectral {
    /// Start of spectral selection `Ss`.
    pub ss: u8,
    /// End of spectral selection `Se`.
    pub se: u8,
    /// Successive approximation high bit `Ah`.
    pub ah: u8,
    /// Successive approximation low bit `Al`.
    pub al: u8,
}

/// One parsed JPEG frame. Offsets and ranges are relative to [`Header::bytes`]; the tables
/// borrow those bytes.
///
/// Tables are the ones defined before the first SOS; a table redefined between scans only
/// matters to multi-scan frames, which RFC 2435 cannot carry anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub(super) bytes: &'a [u8],
    /// The SOFn code (`0xC0` for baseline).
    pub sof: u8,
    /// Sample precision `P` in bits (8, or 12 in extended and progressive frames).
    pub precision: u8,
    /// Number of lines `Y` (0 means "given later by DNL").
    pub height: u16,
    /// Samples per line `X`.
    pub width: u16,
    pub(super) components: [Component; MAX_COMPONENTS],
    pub(super) component_count: u8,
    /// Quantization tables by destination `Tq`.
    pub quantization: [Option<QuantizationTable<'a>>; 4],
    /// DC Huffman tables by destination `Th`.
    pub dc_tables: [Option<HuffmanTable<'a>>; 4],
    /// AC Huffman tables by destination `Th`.
    pub ac_tables: [Option<HuffmanTable<'a>>; 4],
    /// Whether any DHT segment came before the first scan (Motion-JPEG frames may omit them
    /// and mean the standard tables of T.81 §K.3).
    pub has_dht: bool,
    /// Whether a DAC segment (arithmetic conditioning) was seen.
    pub has_dac: bool,
    /// Restart interval `Ri` in MCUs from DRI; 0 when there is none.
    pub restart_interval: u16,
    /// Number of scans (SOS segments).
    pub scans: u16,
    /// Entropy-coded data of the first scan: after its SOS header, up to the next marker.
    pub scan: Range<usize>,
    pub(super) scan_components: [ScanComponent; MAX_COMPONENTS],
    pub(super) scan_component_count: u8,
    /// The first scan's `Ss`, `Se`, `Ah`, `Al`.
    pub spectral: Spectral,
    /// Whether the frame ends with EOI (only a course-container record may end without one).
    pub eoi: bool,
}

impl<'a> Header<'a> {
    /// The frame's bytes, SOI through EOI.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Total frame length in bytes, SOI through EOI.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a frame has at least SOI, SOF, SOS and EOI.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The frame header's components, in order.
    pub fn components(&self) -> &[Component] {
        let n = usize::from(self.component_count).min(MAX_COMPONENTS);
        &self.components[..n]
    }

    /// The first scan's components, in order.
    pub fn scan_components(&self) -> &[ScanComponent] {
        let n = usize::from(self.scan_component_count).min(MAX_COMPONENTS);
        &self.scan_components[..n]
    }

    /// The first scan's entropy-coded data.
    pub fn scan_data(&self) -> &'a [u8] {
        self.bytes.get(self.scan.clone()).unwrap_or_default()
    }

    /// The SOFn marker, for messages.
    pub fn sof_marker(&self) -> Marker {
        Marker(self.sof)
    }

    /// The coding process of the SOFn marker.
    pub fn process(&self) -> Process {
        match self.sof & 0x03 {
            0 if self.sof == marker::SOF0 => Process::Baseline,
            0 | 1 => Process::Extended,
            2 => Process::Progressive,
            _ => Process::Lossless,
        }
    }

    /// SOF9..SOF15: arithmetic entropy coding.
    pub fn is_arithmetic(&self) -> bool {
        self.sof >= 0xC9
    }

    /// SOF5..SOF7, SOF13..SOF15: differential (hierarchical) frames.
    pub fn is_differential(&self) -> bool {
        matches!(self.sof & 0x07, 5..=7)
    }

    /// The chroma sampling, from the components' sampling factors.
    pub fn sampling(&self) -> Sampling {
        match self.components() {
            [_] => Sampling::Gray,
            [y, cb, cr] if (cb.h, cb.v) == (cr.h, cr.v) => {
                match (y.h.checked_div(cb.h), y.v.checked_div(cb.v)) {
                    _ if (y.h, y.v) == (cb.h, cb.v) => Sampling::Yuv444,
                    (Some(2), Some(2)) if y.h % cb.h == 0 && y.v % cb.v == 0 => Sampling::Yuv420,
                    (Some(2), Some(1)) if y.h % cb.h == 0 && y.v == cb.v => Sampling::Yuv422,
                    _ => Sampling::Other,
                }
            }
            _ => Sampling::Other,
        }
    }
}
