//! Cutting one JPEG frame into RTP payloads (RFC 2435 §3).

use std::fmt;

use super::header::{MAX_SCAN_LEN, MainHeader, QuantHeader, RestartHeader};
use super::{Error, Frame, restart};

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

/// Where a [`Packetizer`] is in its frame: the next fragment's scan offset and, for fragments
/// aligned with restart intervals, the Restart Count it will carry (§3.1.7) — so a sender that
/// cuts a frame a run at a time resumes without reading the scan again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Scan bytes before the next fragment (its fragment offset, §3.1.2).
    pub offset: usize,
    /// Restart intervals before it, when fragments are aligned with them.
    pub restart_count: u16,
}

/// Yields the fragments of one [`Frame`], each at most `max_payload` bytes (RFC 2435 §3).
///
/// Every fragment carries the main JPEG header with Q = 255 ([`Q_IN_BAND`]); the first also
/// carries the frame's own quantization tables, so the receiver rebuilds it bit-exactly.
/// Width and height travel in 8-pixel units, or as 0 when either exceeds 2040 pixels (the
/// receiver then takes the size from SDP `a=x-dimensions`, as GStreamer does).
///
/// Restart intervals (DRI): the type becomes 64/65 and every fragment carries a restart marker
/// header (§3.1.7), and fragments are aligned with the intervals: each ends after the last
/// whole interval that fits, so a receiver that lost a fragment can still decode the intervals
/// of the others. F is set on a fragment that starts an interval, L on one that ends one, and
/// Restart Count numbers the first interval the fragment starts or continues; an interval
/// larger than a fragment spans several (F on the first, L on the last, one count). A frame
/// of more than 0x3FFE intervals cannot be counted in 14 bits: its fragments are cut by size
/// and say so (F = L = 1, Restart Count = 0x3FFF: "reassemble the whole frame").
#[derive(Debug, Clone)]
pub struct Packetizer<'a> {
    main: MainHeader,
    restart: Option<RestartHeader>,
    quant_precision: u8,
    luma_table: &'a [u8],
    chroma_table: &'a [u8],
    scan: &'a [u8],
    max_payload: usize,
    /// Whether fragments end on restart interval boundaries (Restart Count is meaningful).
    aligned: bool,
    /// Restart markers before `offset`: the Restart Count of the next fragment.
    restart_count: u16,
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
        let intervals = restart::interval_count(
            frame.subsampling,
            frame.width,
            frame.height,
            frame.restart_interval,
        );
        let aligned = restart_markers && intervals < u32::from(RestartHeader::UNALIGNED_COUNT);
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
            aligned,
            restart_count: 0,
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
        self.fragments_from(0)
    }

    /// How many fragments cover the scan from `offset` (a fragment boundary) to its end.
    fn fragments_from(&self, offset: usize) -> usize {
        if self.aligned {
            // Where fragments end depends on where intervals do: cut it through.
            let mut at = offset;
            let mut count = 0;
            loop {
                count += 1;
                at = self.end_from(at);
                if at == self.scan.len() {
                    return count;
                }
            }
        }
        let later = self.max_payload - self.header_len(false);
        if offset == 0 {
            let first = self.max_payload - self.header_len(true);
            1 + self.scan.len().saturating_sub(first).div_ceil(later)
        } else {
            (self.scan.len() - offset).div_ceil(later)
        }
    }

    /// Where the fragment starting at scan byte `offset` ends: the scan's end if it fits, else
    /// (aligned) after the last whole restart interval that fits, else as much as fits — but
    /// never between the two bytes of a marker.
    fn end_from(&self, offset: usize) -> usize {
        let room = self.max_payload - self.header_len(offset == 0);
        let rest = &self.scan[offset..];
        if rest.len() <= room {
            return self.scan.len();
        }
        if self.aligned {
            if let Some(end) = restart::last_boundary_within(rest, room) {
                return offset + end;
            }
            if room > 1 && rest[room - 1] == 0xFF {
                return offset + room - 1;
            }
        }
        offset + room
    }

    /// Scan bytes already handed out: where the next fragment starts (its fragment offset,
    /// RFC 2435 §3.1.2).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Where the next fragment starts, with what [`Packetizer::resume`] needs to go on from
    /// there at once.
    pub fn position(&self) -> Position {
        Position {
            offset: self.offset,
            restart_count: self.restart_count,
        }
    }

    /// Goes on from `at`, a [`Packetizer::position`] of a packetizer of the same frame and
    /// payload size: in constant time ([`Packetizer::resume_at`] counts the restart markers
    /// before the offset again).
    pub fn resume(&mut self, at: Position) {
        self.offset = at.offset.min(self.scan.len());
        self.done = self.offset == self.scan.len() && at.offset != 0;
        if self.aligned {
            self.restart_count = at.restart_count;
        }
    }

    /// Goes on from scan byte `offset` (an [`Packetizer::offset`] seen before; clamped to the
    /// scan), so a sender can cut the frame a few fragments at a time, or cut one fragment
    /// again, without keeping it.
    pub fn resume_at(&mut self, offset: usize) {
        self.offset = offset.min(self.scan.len());
        self.done = self.offset == self.scan.len() && offset != 0;
        if self.aligned {
            // Fewer than 0x3FFF intervals, checked in `new`.
            self.restart_count = restart::count_markers(&self.scan[..self.offset]) as u16;
        }
    }

    /// The payload size of the next fragment; `None` once the last has been handed out.
    pub fn next_len(&self) -> Option<usize> {
        if self.done {
            return None;
        }
        let headers = self.header_len(self.offset == 0);
        Some(headers + self.end_from(self.offset) - self.offset)
    }

    /// Payload bytes of all the frame's fragments together (headers and scan data).
    pub fn payload_len(&self) -> usize {
        let n = self.fragment_count();
        self.header_len(true) + (n - 1) * self.header_len(false) + self.scan.len()
    }

    /// The restart marker header of the fragment from `offset` to `end` (§3.1.7).
    fn restart_header(&self, end: usize) -> Option<RestartHeader> {
        let header = self.restart?;
        if !self.aligned {
            return Some(header);
        }
        Some(RestartHeader {
            first: restart::is_boundary(self.scan, self.offset),
            last: restart::is_boundary(self.scan, end),
            restart_count: self.restart_count,
            ..header
        })
    }

    fn write_header(&self, end: usize, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
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
        if let Some(restart) = self.restart_header(end) {
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
        let end = self.end_from(self.offset);
        let header_len = self.write_header(end, &mut header);
        let data = &self.scan[self.offset..end];
        if self.aligned {
            // Fewer than 0x3FFF intervals, checked in `new`.
            self.restart_count += restart::count_markers(data) as u16;
        }
        self.offset = end;
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
        } else {
            self.fragments_from(self.offset)
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
    fn more_intervals_than_14_bits_count_travel_unaligned() {
        let scan = [0x11; 3000];
        // 2160p 4:2:2 with a marker every MCU: 240 x 270 intervals.
        let frame = Frame {
            restart_interval: 1,
            subsampling: Subsampling::Yuv422,
            width: 3840,
            height: 2160,
            ..frame(&scan)
        };
        let fragments: Vec<Fragment<'_>> = Packetizer::new(&frame, 500).unwrap().collect();
        assert!(fragments.len() > 2);
        for fragment in &fragments {
            let parsed = Payload::parse(fragment.header()).unwrap();
            assert_eq!(parsed.main.jpeg_type, 64);
            assert_eq!(parsed.restart, Some(RestartHeader::unaligned(1)));
        }
    }

    /// Scan data of `sizes.len()` restart intervals: interval i is `sizes[i]` bytes of data
    /// (with a stuffed `FF 00` in it when long enough) followed by RSTm, except the last.
    fn restart_scan(sizes: &[usize]) -> Vec<u8> {
        let mut scan = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let start = scan.len();
            scan.extend((0..size).map(|j| (j % 200) as u8 + 1));
            if size > 4 {
                scan[start + 2] = 0xFF;
                scan[start + 3] = 0x00;
            }
            if i + 1 < sizes.len() {
                scan.extend([0xFF, 0xD0 + (i % 8) as u8]);
            }
        }
        scan
    }

    #[test]
    fn fragments_end_on_restart_intervals_and_count_them() {
        // Small intervals pack several to a fragment; a 1200-byte one spans three.
        let sizes = [100, 150, 90, 300, 1200, 40, 40, 500, 60];
        let scan = restart_scan(&sizes);
        let frame = Frame {
            restart_interval: 40,
            ..frame(&scan)
        };
        let packetizer = Packetizer::new(&frame, 500).unwrap();
        let count = packetizer.fragment_count();
        let payload_len = packetizer.payload_len();
        let fragments: Vec<Fragment<'_>> = packetizer.collect();
        assert_eq!(fragments.len(), count);
        assert_eq!(
            payload_len,
            fragments.iter().map(Fragment::len).sum::<usize>()
        );
        // Interval i starts at starts[i].
        let mut starts = vec![0];
        for (i, size) in sizes.iter().enumerate().take(sizes.len() - 1) {
            starts.push(starts[i] + size + 2);
        }
        let interval_at = |offset: usize| starts.iter().rposition(|&s| s <= offset).unwrap();
        let mut offset = 0;
        let mut chunks = Vec::new();
        let mut chunk: Option<(u16, usize)> = None;
        for fragment in &fragments {
            assert!(fragment.len() <= 500);
            let payload = [fragment.header(), fragment.data].concat();
            let parsed = Payload::parse(&payload).unwrap();
            assert_eq!(parsed.main.jpeg_type, 65);
            let r = parsed.restart.unwrap();
            assert_eq!(r.restart_interval, 40);
            let end = offset + fragment.data.len();
            assert_eq!(r.first, starts.contains(&offset), "F at {offset}");
            assert_eq!(
                r.last,
                end == scan.len() || starts.contains(&end),
                "L at {end}"
            );
            assert_eq!(usize::from(r.restart_count), interval_at(offset));
            if r.first {
                assert!(chunk.is_none(), "F inside a chunk");
                chunk = Some((r.restart_count, offset));
            }
            let (count, start) = chunk.expect("a chunk begins with F");
            assert_eq!(r.restart_count, count, "one count per chunk");
            if r.last {
                chunks.push((count, scan[start..end].to_vec()));
                chunk = None;
            }
            offset = end;
        }
        assert_eq!(offset, scan.len());
        // The chunks are the whole scan, each a run of whole intervals from its count.
        let rebuilt: Vec<u8> = chunks.iter().flat_map(|(_, d)| d.clone()).collect();
        assert_eq!(rebuilt, scan);
        let mut at = 0;
        for (count, data) in &chunks {
            assert_eq!(
                starts[usize::from(*count)],
                at,
                "a chunk starts at its count's interval"
            );
            at += data.len();
        }
        // The 1200-byte interval (4) spans three fragments: one chunk of count 4.
        let spanning = fragments.iter().filter(|f| {
            let r = Payload::parse(f.header()).unwrap().restart.unwrap();
            r.restart_count == 4
        });
        assert!(spanning.count() >= 3);
        // Resuming mid-way gives the same fragments.
        let mut p = Packetizer::new(&frame, 500).unwrap();
        let first_two: Vec<usize> = p.by_ref().take(2).map(|f| f.data.len()).collect();
        let at = p.offset();
        assert_eq!(at, first_two.iter().sum::<usize>());
        let mut resumed = Packetizer::new(&frame, 500).unwrap();
        resumed.resume_at(at);
        assert_eq!(resumed.len(), fragments.len() - 2);
        let again: Vec<Vec<u8>> = resumed.map(|f| [f.header(), f.data].concat()).collect();
        let whole: Vec<Vec<u8>> = fragments[2..]
            .iter()
            .map(|f| [f.header(), f.data].concat())
            .collect();
        assert_eq!(again, whole);
        // From a position (offset and restart count, no marker counting) at every fragment,
        // one fragment at a time: the same fragments, restart counts and all.
        let whole: Vec<Vec<u8>> = fragments
            .iter()
            .map(|f| [f.header(), f.data].concat())
            .collect();
        let mut at = Position::default();
        let mut one_by_one = Vec::new();
        loop {
            let mut p = Packetizer::new(&frame, 500).unwrap();
            p.resume(at);
            let Some(f) = p.next() else { break };
            one_by_one.push([f.header(), f.data].concat());
            at = p.position();
        }
        assert_eq!(one_by_one, whole);
    }

    #[test]
    fn a_marker_is_never_cut_in_two() {
        // One interval longer than a fragment whose cut would fall between FF and D0.
        let mut scan = vec![0x01; 1000];
        let room = 500 - 8 - 4 - 132;
        scan[room - 1] = 0xFF;
        scan[room] = 0x00;
        scan.extend([0xFF, 0xD0, 0x05]);
        let frame = Frame {
            restart_interval: 40,
            ..frame(&scan)
        };
        let fragments: Vec<Fragment<'_>> = Packetizer::new(&frame, 500).unwrap().collect();
        assert_eq!(fragments[0].data.len(), room - 1);
        assert!(fragments.iter().all(|f| f.data.last() != Some(&0xFF)));
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
