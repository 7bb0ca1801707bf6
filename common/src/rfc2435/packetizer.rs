//! Cutting one JPEG frame into RTP payloads (RFC 2435 §3).

use std::fmt;

use super::header::{MAX_SCAN_LEN, MainHeader, QuantHeader, RestartHeader};
use super::{Error, Frame};

/// Largest header a fragment can carry: main (8) + restart marker (4) + quantization table
/// header (4) with two 16-bit tables (2 x 128).
pub const MAX_HEADER_LEN: usize = MainHeader::LEN + RestartHeader::LEN + QuantHeader::LEN + 256;

/// The Q this packetizer sends: 255, "tables in band, may change on every frame" (§3.1.4), so
/// the receiver rebuilds the frame with its own tables and decodes exactly its pixels.
pub const Q_IN_BAND: u8 = 255;

/// One RTP payload: the RFC 2435 headers (held inline, no allocation) and a slice of the scan.
///
/// The RTP packet's payload is `header()` followed by `data`; its marker bit is `marker`.
#[derive(Clone)]
pub struct Fragment<'a> {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    /// This fragment's piece of the frame's scan data.
    pub data: &'a [u8],
    /// Set on the last fragment of the frame: the RTP marker bit (§3).
    pub marker: bool,
}

impl Fragment<'_> {
    /// The RFC 2435 headers: main JPEG header, restart marker header (types 64..=127), and in
    /// the first fragment the quantization table header.
    pub fn header(&self) -> &[u8] {
        // `header_len` never exceeds MAX_HEADER_LEN: set only by `Packetizer::next`.
        &self.header[..self.header_len]
    }

    /// Payload size: header plus data.
    pub fn len(&self) -> usize {
        self.header_len + self.data.len()
    }

    /// Whether the payload is empty (never: a fragment has at least its main header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Fragment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fragment")
            .field("header", &self.header())
            .field("data_len", &self.data.len())
            .field("marker", &self.marker)
            .finish()
    }
}

/// Yields the fragments of one [`Frame`], each at most `max_payload` bytes (RFC 2435 §3).
///
/// Every fragment carries the main JPEG header with Q = 255 ([`Q_IN_BAND`]); the first also
/// carries the frame's own quantization tables, so the receiver rebuilds it bit-exactly.
/// Width and height travel in 8-pixel units, or as 0 when either exceeds 2040 pixels (the
/// receiver then takes the size from SDP `a=x-dimensions`, as GStreamer does).
///
/// Restart intervals (DRI): the type becomes 64/65 and every fragment carries a restart marker
/// header. Fragments are cut by size, not on restart boundaries, so each header says so as
/// §3.1.7 requires: F = L = 1 and Restart Count = 0x3FFF, "reassemble the whole frame before
/// decoding". (Aligning would only help receivers that decode partial frames; ours drops a
/// frame with any fragment missing.)
#[derive(Debug, Clone)]
pub struct Packetizer<'a> {
    main: MainHeader,
    restart: Option<RestartHeader>,
    quant_precision: u8,
    luma_table: &'a [u8],
    chroma_table: &'a [u8],
    scan: &'a [u8],
    max_payload: usize,
    /// Scan bytes already handed out.
    offset: usize,
    /// Whether the last fragment has been handed out.
    done: bool,
}

impl<'a> Packetizer<'a> {
    /// Prepares the fragments of `frame` for payloads of at most `max_payload` bytes (the MTU
    /// less IP, UDP and RTP headers).
    ///
    /// Errors: a table that is neither 64 nor 128 bytes, zero width or height, scan data of
    /// 16 MiB or more (the 24-bit offset), or a `max_payload` that leaves no byte of scan data
    /// after the first fragment's headers.
    pub fn new(frame: &Frame<'a>, max_payload: usize) -> Result<Packetizer<'a>, Error> {
        let precision_bit = |table: &[u8]| match table.len() {
            64 => Ok(0u8),
            128 => Ok(1u8),
            n => Err(Error::TableLength(n)),
        };
        let quant_precision =
            precision_bit(frame.luma_table)? | precision_bit(frame.chroma_table)? << 1;
        if frame.width == 0 || frame.height == 0 {
            return Err(Error::ZeroSize);
        }
        if frame.scan.len() >= MAX_SCAN_LEN {
            return Err(Error::ScanTooLarge(frame.scan.len()));
        }
        let (width, height) = match (
            u8::try_from(frame.width.div_ceil(8)),
            u8::try_from(frame.height.div_ceil(8)),
        ) {
            (Ok(w), Ok(h)) => (w, h),
            _ => (0, 0),
        };
        let restart_markers = frame.restart_interval != 0;
        let packetizer = Packetizer {
            main: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                jpeg_type: frame.subsampling.rtp_type(restart_markers),
                q: Q_IN_BAND,
                width,
                height,
            },
            restart: restart_markers.then(|| RestartHeader::unaligned(frame.restart_interval)),
            quant_precision,
            luma_table: frame.luma_table,
            chroma_table: frame.chroma_table,
            scan: frame.scan,
            max_payload,
            offset: 0,
            done: false,
        };
        let headers = packetizer.header_len(true);
        if max_payload <= headers {
            return Err(Error::PayloadTooSmall {
                max_payload,
                headers,
            });
        }
        Ok(packetizer)
    }

    /// Size of the headers of the first fragment (`first`) or of the others.
    fn header_len(&self, first: bool) -> usize {
        let restart = if self.restart.is_some() {
            RestartHeader::LEN
        } else {
            0
        };
        let quant = if first {
            QuantHeader::LEN + self.luma_table.len() + self.chroma_table.len()
        } else {
            0
        };
        MainHeader::LEN + restart + quant
    }

    /// How many fragments the whole frame takes (counting those already handed out).
    pub fn fragment_count(&self) -> usize {
        let first = self.max_payload - self.header_len(true);
        let later = self.max_payload - self.header_len(false);
        1 + self.scan.len().saturating_sub(first).div_ceil(later)
    }

    /// Scan bytes already handed out: where the next fragment starts (its fragment offset,
    /// RFC 2435 §3.1.2).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Goes on from scan byte `offset` (an [`Packetizer::offset`] seen before; clamped to the
    /// scan), so a sender can cut the frame a few fragments at a time, or cut one fragment
    /// again, without keeping it.
    pub fn resume_at(&mut self, offset: usize) {
        self.offset = offset.min(self.scan.len());
        self.done = self.offset == self.scan.len() && offset != 0;
    }

    /// The payload size of the next fragment; `None` once the last has been handed out.
    pub fn next_len(&self) -> Option<usize> {
        if self.done {
            return None;
        }
        let headers = self.header_len(self.offset == 0);
        let rest = self.scan.len() - self.offset;
        Some(headers + rest.min(self.max_payload - headers))
    }

    /// Payload bytes of all the frame's fragments together (headers and scan data).
    pub fn payload_len(&self) -> usize {
        let n = self.fragment_count();
        self.header_len(true) + (n - 1) * self.header_len(false) + self.scan.len()
    }

    fn write_header(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        let main = MainHeader {
            // `offset` <= scan.len() < 2^24, checked in `new`: fits the 24-bit field.
            fragment_offset: self.offset as u32,
            ..self.main
        }
        .to_bytes();
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            out[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        put(&main);
        if let Some(restart) = self.restart {
            put(&restart.to_bytes());
        }
        if self.offset == 0 {
            let tables = [self.luma_table, self.chroma_table];
            let table_len = self.luma_table.len() + self.chroma_table.len();
            // At most 256: both tables were checked to be 64 or 128 bytes.
            let [l0, l1] = (table_len as u16).to_be_bytes();
            put(&[0, self.quant_precision, l0, l1]);
            for table in tables {
                put(table);
            }
        }
        len
    }
}

impl<'a> Iterator for Packetizer<'a> {
    type Item = Fragment<'a>;

    fn next(&mut self) -> Option<Fragment<'a>> {
        if self.done {
            return None;
        }
        let mut header = [0; MAX_HEADER_LEN];
        let header_len = self.write_header(&mut header);
        let room = self.max_payload - header_len;
        let rest = &self.scan[self.offset..];
        let (data, _) = rest.split_at(room.min(rest.len()));
        self.offset += data.len();
        let marker = self.offset == self.scan.len();
        self.done = marker;
        Some(Fragment {
            header,
            header_len,
            data,
            marker,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = if self.done {
            0
        } else if self.offset == 0 {
            self.fragment_count()
        } else {
            let later = self.max_payload - self.header_len(false);
            (self.scan.len() - self.offset).div_ceil(later)
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Packetizer<'_> {}

impl std::iter::FusedIterator for Packetizer<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc2435::Subsampling;
    use crate::rfc2435::header::Payload;

    const LUMA: [u8; 64] = [3; 64];
    const CHROMA: [u8; 64] = [5; 64];

    fn frame(scan: &[u8]) -> Frame<'_> {
        Frame {
            subsampling: Subsampling::Yuv420,
            width: 640,
            height: 360,
            luma_table: &LUMA,
            chroma_table: &CHROMA,
            restart_interval: 0,
            scan,
        }
    }

    #[test]
    fn resuming_at_an_offset_gives_the_same_fragments_and_payload_len_sums_them() {
        let scan: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let whole: Vec<Vec<u8>> = Packetizer::new(&frame(&scan), 1000)
            .unwrap()
            .map(|f| [f.header(), f.data].concat())
            .collect();
        assert_eq!(
            Packetizer::new(&frame(&scan), 1000).unwrap().payload_len(),
            whole.iter().map(Vec::len).sum::<usize>()
        );
        // Cut two fragments at a time, each time from a fresh packetizer.
        let mut offset = 0;
        let mut again = Vec::new();
        loop {
            let mut p = Packetizer::new(&frame(&scan), 1000).unwrap();
            p.resume_at(offset);
            let before = again.len();
            for _ in 0..2 {
                let len = p.next_len();
                let Some(f) = p.next() else { break };
                assert_eq!(len, Some(f.len()));
                again.push([f.header(), f.data].concat());
            }
            offset = p.offset();
            if again.len() == before {
                break;
            }
        }
        assert_eq!(again, whole);
        // An empty scan: one fragment, also when resumed at 0.
        let mut p = Packetizer::new(&frame(&[]), 1000).unwrap();
        p.resume_at(0);
        assert_eq!(p.count(), 1);
    }

    #[test]
    fn fragments_cover_the_scan_within_the_payload_size() {
        let scan: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let packetizer = Packetizer::new(&frame(&scan), 1000).unwrap();
        let count = packetizer.fragment_count();
        assert_eq!(packetizer.len(), count);
        let fragments: Vec<Fragment<'_>> = packetizer.collect();
        assert_eq!(fragments.len(), count);
        // First: 1000 - 8 - 4 - 128 = 860 bytes of scan; then 992 each.
        assert_eq!(count, 1 + (10_000usize - 860).div_ceil(992));
        let mut offset = 0;
        for (i, fragment) in fragments.iter().enumerate() {
            assert!(fragment.len() <= 1000);
            let payload = [fragment.header(), fragment.data].concat();
            let parsed = Payload::parse(&payload).unwrap();
            assert_eq!(parsed.main.fragment_offset as usize, offset);
            assert_eq!(parsed.data, fragment.data);
            assert_eq!((parsed.main.jpeg_type, parsed.main.q), (1, Q_IN_BAND));
            assert_eq!((parsed.main.width, parsed.main.height), (80, 45));
            assert_eq!(parsed.restart, None);
            assert_eq!(parsed.quant.is_some(), i == 0);
            assert_eq!(fragment.marker, i == count - 1);
            offset += fragment.data.len();
        }
        assert_eq!(offset, scan.len());
        let quant = Payload::parse(fragments[0].header())
            .unwrap()
            .quant
            .unwrap();
        assert_eq!(quant.precision, 0);
        assert_eq!(quant.tables, [&LUMA[..], &CHROMA[..]].concat());
    }

    #[test]
    fn restart_intervals_mark_every_fragment_unaligned() {
        let scan = [0x11; 3000];
        let frame = Frame {
            restart_interval: 6,
            subsampling: Subsampling::Yuv422,
            ..frame(&scan)
        };
        let fragments: Vec<Fragment<'_>> = Packetizer::new(&frame, 500).unwrap().collect();
        assert!(fragments.len() > 2);
        for fragment in &fragments {
            let parsed = Payload::parse(fragment.header()).unwrap();
            assert_eq!(parsed.main.jpeg_type, 64);
            assert_eq!(parsed.restart, Some(RestartHeader::unaligned(6)));
        }
    }

    #[test]
    fn sizes_over_2040_pixels_travel_as_zero() {
        let scan = [0; 10];
        for (width, height, expected) in [
            (2040, 1080, (255, 135)),
            (2041, 1080, (0, 0)),
            (1920, 2048, (0, 0)),
            (3840, 2160, (0, 0)),
            (100, 75, (13, 10)),
        ] {
            let frame = Frame {
                width,
                height,
                ..frame(&scan)
            };
            let first = Packetizer::new(&frame, 1400).unwrap().next().unwrap();
            assert_eq!(
                (first.header()[6], first.header()[7]),
                expected,
                "{width}x{height}"
            );
        }
    }

    #[test]
    fn sixteen_bit_tables_set_their_precision_bits() {
        let wide = [1u8; 128];
        let scan = [0; 10];
        let frame = Frame {
            chroma_table: &wide,
            ..frame(&scan)
        };
        let first = Packetizer::new(&frame, 1400).unwrap().next().unwrap();
        let quant = Payload::parse(first.header()).unwrap().quant.unwrap();
        assert_eq!(quant.precision, 0b10);
        assert_eq!(quant.tables.len(), 192);
    }

    #[test]
    fn empty_scan_is_one_marked_fragment() {
        let fragments: Vec<Fragment<'_>> = Packetizer::new(&frame(&[]), 200).unwrap().collect();
        assert_eq!(fragments.len(), 1);
        assert!(fragments[0].marker);
        assert!(fragments[0].data.is_empty());
    }

    #[test]
    fn payload_too_small_for_the_headers_is_refused() {
        let scan = [0; 10];
        assert_eq!(
            Packetizer::new(&frame(&scan), 140).err(),
            Some(Error::PayloadTooSmall {
                max_payload: 140,
                headers: 140
            })
        );
        assert!(Packetizer::new(&frame(&scan), 141).is_ok());
        let restart = Frame {
            restart_interval: 1,
            ..frame(&scan)
        };
        assert_eq!(
            Packetizer::new(&restart, 144).err(),
            Some(Error::PayloadTooSmall {
                max_payload: 144,
                headers: 144
            })
        );
    }

    #[test]
    fn bad_frames_are_refused() {
        let scan = [0; 10];
        let short = [0; 63];
        assert_eq!(
            Packetizer::new(
                &Frame {
                    luma_table: &short,
                    ..frame(&scan)
                },
                1400
            )
            .err(),
            Some(Error::TableLength(63))
        );
        assert_eq!(
            Packetizer::new(
                &Frame {
                    width: 0,
                    ..frame(&scan)
                },
                1400
            )
            .err(),
            Some(Error::ZeroSize)
        );
        let huge = vec![0; MAX_SCAN_LEN];
        assert_eq!(
            Packetizer::new(&frame(&huge), 1400).err(),
            Some(Error::ScanTooLarge(MAX_SCAN_LEN))
        );
        assert!(Packetizer::new(&frame(&huge[1..]), 1400).is_ok());
    }
}
