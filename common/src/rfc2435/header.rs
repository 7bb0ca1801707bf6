//! The three RFC 2435 payload headers (§3.1): main JPEG header, restart marker header and
//! quantization table header, and [`Payload`], the split of one packet's payload into them.

use super::Error;

/// Largest fragment offset the 24-bit field can carry, plus one: a frame's scan data must be
/// shorter than this (16 MiB).
pub const MAX_SCAN_LEN: usize = 1 << 24;

/// The main JPEG header, present in every packet (RFC 2435 §3.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Type-specific |              Fragment Offset                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Type     |       Q       |     Width     |     Height    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainHeader {
    /// Type-specific field (§3.1.1); 0 for progressive frames, which is all this crate sends.
    pub type_specific: u8,
    /// Offset in bytes of this packet's data within the frame's scan data (§3.1.2); 24 bits.
    pub fragment_offset: u32,
    /// Type (§3.1.3, §4.1): 0 = 4:2:2, 1 = 4:2:0; +64 when a restart marker header follows.
    pub jpeg_type: u8,
    /// Q (§3.1.4): 1..=99 stand for scaled standard tables, 128..=255 for tables carried in a
    /// quantization table header.
    pub q: u8,
    /// Width in 8-pixel blocks (§3.1.5); 0 when the width does not fit (then `a=x-dimensions`).
    pub width: u8,
    /// Height in 8-pixel blocks (§3.1.6); 0 when the height does not fit.
    pub height: u8,
}

impl MainHeader {
    /// Size on the wire.
    pub const LEN: usize = 8;

    /// Reads the header from the start of `buf`; returns it and the bytes after it.
    pub fn parse(buf: &[u8]) -> Result<(MainHeader, &[u8]), Error> {
        let Some((h, rest)) = buf.split_first_chunk::<{ Self::LEN }>() else {
            return Err(Error::Truncated {
                needed: Self::LEN,
                available: buf.len(),
            });
        };
        let header = MainHeader {
            type_specific: h[0],
            fragment_offset: u32::from_be_bytes([0, h[1], h[2], h[3]]),
            jpeg_type: h[4],
            q: h[5],
            width: h[6],
            height: h[7],
        };
        Ok((header, rest))
    }

    /// The header's bytes. The fragment offset field is 24 bits wide: only the low 24 bits of
    /// `fragment_offset` are written (the packetizer never makes a larger one).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let [_, o1, o2, o3] = self.fragment_offset.to_be_bytes();
        [
            self.type_specific,
            o1,
            o2,
            o3,
            self.jpeg_type,
            self.q,
            self.width,
            self.height,
        ]
    }

    /// Whether a restart marker header follows (types 64..=127, §3.1.7).
    pub fn has_restart_header(&self) -> bool {
        (64..=127).contains(&self.jpeg_type)
    }

    /// Whether the packet carries a quantization table header (offset 0 and Q >= 128, §3.1.8).
    pub fn has_quant_header(&self) -> bool {
        self.fragment_offset == 0 && self.q >= 128
    }
}

/// The restart marker header, after the main header in packets of types 64..=127 (§3.1.7).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |       Restart Interval        |F|L|       Restart Count       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// F and L mark the first and last packet of a run of whole restart intervals, and Restart Count
/// numbers the first of them, so that a receiver can decode part of a frame. A sender that does
/// not align packets with restart intervals sets F = L = 1 and Restart Count = 0x3FFF
/// ([`RestartHeader::unaligned`]): the receiver must then reassemble the whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartHeader {
    /// MCUs between restart markers; the DRI value.
    pub restart_interval: u16,
    /// F: this packet starts a run of restart intervals.
    pub first: bool,
    /// L: this packet ends a run of restart intervals.
    pub last: bool,
    /// Index of the run's first restart interval, 14 bits; 0x3FFF when not aligned.
    pub restart_count: u16,
}

impl RestartHeader {
    /// Size on the wire.
    pub const LEN: usize = 4;
    /// The Restart Count that says "packets are not aligned with restart intervals".
    pub const UNALIGNED_COUNT: u16 = 0x3FFF;

    /// The header of a sender that does not align packets with restart intervals
    /// (F = L = 1, Restart Count = 0x3FFF).
    pub fn unaligned(restart_interval: u16) -> RestartHeader {
        RestartHeader {
            restart_interval,
            first: true,
            last: true,
            restart_count: Self::UNALIGNED_COUNT,
        }
    }

    /// Reads the header from the start of `buf`; returns it and the bytes after it.
    pub fn parse(buf: &[u8]) -> Result<(RestartHeader, &[u8]), Error> {
        let Some((h, rest)) = buf.split_first_chunk::<{ Self::LEN }>() else {
            return Err(Error::Truncated {
                needed: Self::LEN,
                available: buf.len(),
            });
        };
        let flags_count = u16::from_be_bytes([h[2], h[3]]);
        let header = RestartHeader {
            restart_interval: u16::from_be_bytes([h[0], h[1]]),
            first: flags_count & 0x8000 != 0,
            last: flags_count & 0x4000 != 0,
            restart_count: flags_count & 0x3FFF,
        };
        Ok((header, rest))
    }

    /// The header's bytes (Restart Count keeps its low 14 bits).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let flags_count = u16::from(self.first) << 15
            | u16::from(self.last) << 14
            | (self.restart_count & 0x3FFF);
        let [i0, i1] = self.restart_interval.to_be_bytes();
        let [c0, c1] = flags_count.to_be_bytes();
        [i0, i1, c0, c1]
    }
}

/// The quantization table header, in the first packet of a frame (offset 0) whose Q is
/// 128..=255 (§3.1.8).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      MBZ      |   Precision   |             Length            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Quantization Table Data                    |
/// |                              ...                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Bit *i* of Precision (least significant bit first) is 1 when table *i* has 16-bit entries
/// (128 bytes) rather than 8-bit (64 bytes). For types 0 and 1 there are two tables, luma then
/// chroma, each in zig-zag order. Length 0 means "no tables in this frame": allowed for Q
/// 128..=254 when the receiver already has that Q's tables, never for Q = 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantHeader<'a> {
    /// Must be zero; kept as received.
    pub mbz: u8,
    /// Precision bits, one per table.
    pub precision: u8,
    /// The tables, back to back; Length is `tables.len()`.
    pub tables: &'a [u8],
}

impl<'a> QuantHeader<'a> {
    /// Size of the fixed part on the wire (before the tables).
    pub const LEN: usize = 4;

    /// Reads the header and its tables from the start of `buf`; returns it and the bytes after.
    pub fn parse(buf: &'a [u8]) -> Result<(QuantHeader<'a>, &'a [u8]), Error> {
        let Some((h, rest)) = buf.split_first_chunk::<4>() else {
            return Err(Error::Truncated {
                needed: Self::LEN,
                available: buf.len(),
            });
        };
        let length = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let Some((tables, rest)) = rest.split_at_checked(length) else {
            return Err(Error::Truncated {
                needed: Self::LEN + length,
                available: buf.len(),
            });
        };
        Ok((
            QuantHeader {
                mbz: h[0],
                precision: h[1],
                tables,
            },
            rest,
        ))
    }

    /// Size on the wire, tables included.
    pub fn len(&self) -> usize {
        Self::LEN + self.tables.len()
    }

    /// Whether the header carries no tables (Length = 0).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Writes the header and tables to the start of `out`; returns the bytes written.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        let length =
            u16::try_from(self.tables.len()).map_err(|_| Error::TableLength(self.tables.len()))?;
        let needed = self.len();
        let Some(out) = out.get_mut(..needed) else {
            return Err(Error::BufferTooSmall {
                needed,
                available: out.len(),
            });
        };
        let (head, tables) = out.split_at_mut(Self::LEN);
        let [l0, l1] = length.to_be_bytes();
        head.copy_from_slice(&[self.mbz, self.precision, l0, l1]);
        tables.copy_from_slice(self.tables);
        Ok(needed)
    }
}

/// One packet's RFC 2435 payload split into its headers and its piece of scan data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The main JPEG header.
    pub main: MainHeader,
    /// The restart marker header, for types 64..=127.
    pub restart: Option<RestartHeader>,
    /// The quantization table header, at offset 0 when Q >= 128.
    pub quant: Option<QuantHeader<'a>>,
    /// This packet's piece of the scan data, starting at `main.fragment_offset`.
    pub data: &'a [u8],
}

impl<'a> Payload<'a> {
    /// Splits an RTP payload into headers and data (§3.1). Checks lengths only: whether the
    /// type, Q and sizes are usable is the depacketizer's business.
    pub fn parse(payload: &'a [u8]) -> Result<Payload<'a>, Error> {
        let (main, rest) = MainHeader::parse(payload)?;
        let (restart, rest) = if main.has_restart_header() {
            let (restart, rest) = RestartHeader::parse(rest)?;
            (Some(restart), rest)
        } else {
            (None, rest)
        };
        let (quant, data) = if main.has_quant_header() {
            let (quant, rest) = QuantHeader::parse(rest)?;
            (Some(quant), rest)
        } else {
            (None, rest)
        };
        Ok(Payload {
            main,
            restart,
            quant,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_header_round_trips() {
        let header = MainHeader {
            type_specific: 0,
            fragment_offset: 0x01_23_45,
            jpeg_type: 65,
            q: 255,
            width: 80,
            height: 45,
        };
        let bytes = header.to_bytes();
        assert_eq!(bytes, [0, 0x01, 0x23, 0x45, 65, 255, 80, 45]);
        let input = [&bytes[..], &[9, 9]].concat();
        let (parsed, rest) = MainHeader::parse(&input).unwrap();
        assert_eq!(parsed, header);
        assert_eq!(rest, [9, 9]);
        assert!(parsed.has_restart_header());
        assert!(!parsed.has_quant_header());
    }

    #[test]
    fn main_header_rejects_short_input() {
        assert_eq!(
            MainHeader::parse(&[0; 7]),
            Err(Error::Truncated {
                needed: 8,
                available: 7
            })
        );
        let max = MainHeader {
            type_specific: 0,
            fragment_offset: (1 << 24) - 1,
            jpeg_type: 1,
            q: 50,
            width: 1,
            height: 1,
        };
        assert_eq!(max.to_bytes()[1..4], [0xff, 0xff, 0xff]);
    }

    #[test]
    fn restart_header_round_trips() {
        let header = RestartHeader {
            restart_interval: 0x0102,
            first: true,
            last: false,
            restart_count: 0x1234,
        };
        let bytes = header.to_bytes();
        assert_eq!(bytes, [0x01, 0x02, 0x80 | 0x12, 0x34]);
        assert_eq!(RestartHeader::parse(&bytes).unwrap(), (header, &[][..]));
        let unaligned = RestartHeader::unaligned(8).to_bytes();
        assert_eq!(unaligned, [0, 8, 0xff, 0xff]);
        assert_eq!(
            RestartHeader::parse(&bytes[..3]),
            Err(Error::Truncated {
                needed: 4,
                available: 3
            })
        );
    }

    #[test]
    fn quant_header_round_trips() {
        let tables: Vec<u8> = (0..192).map(|i| i as u8).collect();
        let header = QuantHeader {
            mbz: 0,
            precision: 0b10,
            tables: &tables,
        };
        let mut out = [0u8; 300];
        let n = header.write(&mut out).unwrap();
        assert_eq!(n, 196);
        assert_eq!(out[..4], [0, 0b10, 0, 192]);
        let (parsed, rest) = QuantHeader::parse(&out[..n + 3]).unwrap();
        assert_eq!(parsed, header);
        assert_eq!(rest.len(), 3);
        assert_eq!(
            header.write(&mut out[..195]),
            Err(Error::BufferTooSmall {
                needed: 196,
                available: 195
            })
        );
    }

    #[test]
    fn quant_header_rejects_length_past_the_packet() {
        let bytes = [0, 0, 0, 128, 1, 2, 3];
        assert_eq!(
            QuantHeader::parse(&bytes),
            Err(Error::Truncated {
                needed: 132,
                available: 7
            })
        );
    }

    #[test]
    fn payload_splits_all_three_headers() {
        let mut bytes = vec![0, 0, 0, 0, 64, 255, 10, 20];
        bytes.extend(RestartHeader::unaligned(4).to_bytes());
        bytes.extend([0, 0, 0, 128]);
        bytes.extend([7; 128]);
        bytes.extend([0xAA, 0xBB]);
        let payload = Payload::parse(&bytes).unwrap();
        assert_eq!(payload.main.jpeg_type, 64);
        assert_eq!(payload.restart, Some(RestartHeader::unaligned(4)));
        assert_eq!(payload.quant.unwrap().tables, [7; 128]);
        assert_eq!(payload.data, [0xAA, 0xBB]);

        // Not at offset 0: no quantization table header even with Q >= 128.
        let later = [0, 0, 0, 9, 1, 255, 10, 20, 0xCC];
        let payload = Payload::parse(&later).unwrap();
        assert_eq!((payload.restart, payload.quant), (None, None));
        assert_eq!(payload.data, [0xCC]);
    }
}
