//! One baseline JPEG frame as RFC 2435 carries it: the packetizer's view of a file's frame, and
//! what the depacketizer rebuilds a frame's headers from.

/// Chroma subsampling of a frame, as the RFC 2435 type field names it (§4.1, §3.1.3).
///
/// Both have three components (Y, Cb, Cr), Cb and Cr sampled 1x1 and sharing a quantization
/// table; they differ in Y's sampling factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subsampling {
    /// Type 0 (64 with restart markers): Y sampled 2x1, "4:2:2".
    Yuv422,
    /// Type 1 (65 with restart markers): Y sampled 2x2, "4:2:0".
    Yuv420,
}

impl Subsampling {
    /// The RFC 2435 type (§3.1.3) for this subsampling: 0 or 1, plus 64 when the frame has
    /// restart markers (§3.1.7).
    pub fn rtp_type(self, restart_markers: bool) -> u8 {
        let base = match self {
            Subsampling::Yuv422 => 0,
            Subsampling::Yuv420 => 1,
        };
        if restart_markers { base + 64 } else { base }
    }

    /// The subsampling an RFC 2435 type stands for (0/1, or 64/65 with restart markers);
    /// `None` for the types this crate does not support.
    pub fn from_rtp_type(rtp_type: u8) -> Option<Subsampling> {
        match rtp_type {
            0 | 64 => Some(Subsampling::Yuv422),
            1 | 65 => Some(Subsampling::Yuv420),
            _ => None,
        }
    }

    /// Y's horizontal and vertical sampling factors (the SOF0 `H`, `V` of component 1).
    pub fn luma_sampling(self) -> (u8, u8) {
        match self {
            Subsampling::Yuv422 => (2, 1),
            Subsampling::Yuv420 => (2, 2),
        }
    }
}

/// One baseline JPEG frame as RFC 2435 carries it. The packetizer reads it from a file (found
/// by the video crate's header parser; the slices borrow the mmapped file); the depacketizer
/// makes one from a packet's headers, with no scan, to write the JPEG headers it rebuilds
/// ([`Frame::write_headers`], §4 and Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Y 2x1 (RFC 2435 type 0) or 2x2 (type 1); Cb and Cr 1x1.
    pub subsampling: Subsampling,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// The DQT table for Y: 64 bytes (8-bit precision) or 128 (16-bit), in DQT (zig-zag) order.
    pub luma_table: &'a [u8],
    /// The DQT table shared by Cb and Cr, same layout as `luma_table`.
    pub chroma_table: &'a [u8],
    /// Restart interval in MCUs, from DRI; 0 if the frame has none.
    pub restart_interval: u16,
    /// The entropy-coded data after the SOS header, up to (not including) EOI.
    pub scan: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_types_map_both_ways() {
        for (subsampling, plain, restart) in
            [(Subsampling::Yuv422, 0, 64), (Subsampling::Yuv420, 1, 65)]
        {
            assert_eq!(subsampling.rtp_type(false), plain);
            assert_eq!(subsampling.rtp_type(true), restart);
            assert_eq!(Subsampling::from_rtp_type(plain), Some(subsampling));
            assert_eq!(Subsampling::from_rtp_type(restart), Some(subsampling));
        }
        for other in [2, 3, 63, 66, 128, 129, 192, 193, 255] {
            assert_eq!(Subsampling::from_rtp_type(other), None, "type {other}");
        }
    }
}
