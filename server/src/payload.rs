//! How a frame travels in RTP packets, cut from the [`Source`] at the moment each packet
//! leaves: the payload bytes are copied once, from the source (the mapped file) into the buffer
//! the datagram leaves from, and a packet sent before can be cut again from where it started
//! (for retransmission) without having been kept.
//!
//! - [`Dialect::Standard`]: RFC 2435 fragments (§3.1, Q = 255 with the frame's own tables).
//! - [`Dialect::Course`]: the course's raw JPEG ([`course::pieces`]): whole when it fits the
//!   course clients' 20 KB reads, else 1400-byte pieces; marker on the last.

use hdstream_common::course::{self, Dialect};
use hdstream_common::rfc2435::{Packetizer, Position};
use hdstream_common::rtp;

use crate::source::Source;

/// One frame being cut into packet payloads, from byte `offset` of what it cuts (the scan
/// data for RFC 2435, the JPEG for the course).
#[derive(Debug, Clone)]
pub enum Cutter<'a> {
    /// RFC 2435 fragments.
    Rfc2435(Packetizer<'a>),
    /// The course's pieces.
    Course(Pieces<'a>),
}

/// A whole JPEG cut into pieces of one size (the last may be shorter): the course's payload.
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    jpeg: &'a [u8],
    /// Bytes in each piece but the last.
    piece: usize,
    /// Bytes already handed out.
    offset: usize,
    /// Whether the last piece has been handed out.
    done: bool,
}

impl<'a> Pieces<'a> {
    /// `jpeg` in [`course::pieces`]' sizes.
    pub fn new(jpeg: &'a [u8]) -> Pieces<'a> {
        Pieces {
            jpeg,
            piece: course::piece_size(jpeg.len()),
            offset: 0,
            done: false,
        }
    }

    /// The size of the next piece; `None` after the last.
    pub fn next_len(&self) -> Option<usize> {
        (!self.done).then(|| (self.jpeg.len() - self.offset).min(self.piece))
    }

    /// The next piece, and whether it is the last.
    pub fn next_piece(&mut self) -> Option<(&'a [u8], bool)> {
        let len = self.next_len()?;
        let data = &self.jpeg[self.offset..self.offset + len];
        self.offset += len;
        self.done = self.offset == self.jpeg.len();
        Some((data, self.done))
    }

    /// How many pieces the whole JPEG makes.
    fn count(&self) -> usize {
        self.jpeg.len().div_ceil(self.piece).max(1)
    }

    /// Bytes of all its pieces' RTP packets together.
    fn frame_len(&self) -> usize {
        self.jpeg.len() + self.count() * rtp::Header::LEN
    }

    fn resume_at(&mut self, at: usize) {
        self.offset = at.min(self.jpeg.len());
        self.done = self.offset == self.jpeg.len() && at != 0;
    }
}

impl<'a> Cutter<'a> {
    /// Frame `index` of `source`, cut into payloads of at most `max_payload` bytes; `None` when
    /// the frame is missing or cannot travel as `payload` (not RFC 2435-ready).
    pub fn new(
        source: &'a dyn Source,
        dialect: Dialect,
        index: usize,
        max_payload: usize,
    ) -> Option<Cutter<'a>> {
        match dialect {
            Dialect::Standard => {
                let frame = source.rfc2435_frame(index)?;
                Packetizer::new(&frame, max_payload)
                    .ok()
                    .map(Cutter::Rfc2435)
            }
            Dialect::Course => source
                .jpeg(index)
                .map(|jpeg| Cutter::Course(Pieces::new(jpeg))),
        }
    }

    /// [`Cutter::new`], going on from `at` ([`Cutter::resume`]).
    pub fn at(
        source: &'a dyn Source,
        dialect: Dialect,
        index: usize,
        max_payload: usize,
        at: Position,
    ) -> Option<Cutter<'a>> {
        let mut cutter = Cutter::new(source, dialect, index, max_payload)?;
        cutter.resume(at);
        Some(cutter)
    }

    /// Where the next payload starts (to [`Cutter::resume`] at later, in constant time).
    pub fn position(&self) -> Position {
        match self {
            Cutter::Rfc2435(p) => p.position(),
            Cutter::Course(p) => Position {
                offset: p.offset,
                restart_count: 0,
            },
        }
    }

    /// Goes on from `at`, a [`Cutter::position`] of the same frame and payload size.
    pub fn resume(&mut self, at: Position) {
        match self {
            Cutter::Rfc2435(p) => p.resume(at),
            Cutter::Course(p) => p.resume_at(at.offset),
        }
    }

    /// Bytes of every RTP packet of the frame together, RTP headers included.
    pub fn frame_len(&self) -> usize {
        match self {
            Cutter::Rfc2435(p) => p.payload_len() + p.fragment_count() * rtp::Header::LEN,
            Cutter::Course(p) => p.frame_len(),
        }
    }

    /// How many RTP packets the whole frame makes.
    pub fn packet_count(&self) -> usize {
        match self {
            Cutter::Rfc2435(p) => p.fragment_count(),
            Cutter::Course(p) => p.count(),
        }
    }

    /// The size of the next RTP packet (header included); `None` after the last.
    pub fn next_len(&self) -> Option<usize> {
        let payload = match self {
            Cutter::Rfc2435(p) => p.next_len()?,
            Cutter::Course(p) => p.next_len()?,
        };
        Some(rtp::Header::LEN + payload)
    }

    /// Appends the next packet to `out`: `header` with the marker set on the frame's last
    /// packet, then the payload. Answers its length, `None` after the last.
    pub fn append_next(&mut self, header: rtp::Header, out: &mut Vec<u8>) -> Option<usize> {
        self.append_next_after(header, &[], out)
    }

    /// Like [`Cutter::append_next`], with `prefix` between the RTP header and the payload (an
    /// RFC 4588 retransmission's original sequence number).
    pub fn append_next_after(
        &mut self,
        header: rtp::Header,
        prefix: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        match self {
            Cutter::Rfc2435(p) => {
                let fragment = p.next()?;
                let header = rtp::Header {
                    marker: fragment.marker,
                    ..header
                };
                header
                    .append(&[prefix, fragment.header(), fragment.data], out)
                    .ok()
            }
            Cutter::Course(p) => {
                let (data, last) = p.next_piece()?;
                let header = rtp::Header {
                    marker: last,
                    ..header
                };
                header.append(&[prefix, data], out).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every packet of frame `index`, cut in one go.
    fn packets(source: &dyn Source, dialect: Dialect, index: usize, mtu: usize) -> Vec<Vec<u8>> {
        let mut cutter = Cutter::new(source, dialect, index, mtu).unwrap();
        let mut out = Vec::new();
        let mut seq = 0u16;
        loop {
            let mut packet = Vec::new();
            let header = rtp::Header {
                payload_type: 26,
                sequence_number: seq,
                timestamp: 9,
                ssrc: 7,
                marker: false,
            };
            let expected = cutter.next_len();
            let Some(len) = cutter.append_next(header, &mut packet) else {
                assert_eq!(expected, None);
                break;
            };
            assert_eq!((Some(len), len), (expected, packet.len()));
            out.push(packet);
            seq += 1;
        }
        out
    }

    /// [`Cutter::frame_len`] of frame `index` is the bytes of its `packets` together.
    fn frame_len_is_the_packets(
        source: &dyn Source,
        dialect: Dialect,
        index: usize,
        mtu: usize,
        packets: &[Vec<u8>],
    ) {
        let cutter = Cutter::new(source, dialect, index, mtu).unwrap();
        let total: usize = packets.iter().map(Vec::len).sum();
        assert_eq!(cutter.frame_len(), total);
    }

    #[test]
    fn rfc2435_packets_match_the_packetizer_and_carry_the_marker_last() {
        let media = crate::testing::clip();
        let frame = media.file.rfc2435_frame(3).unwrap();
        let fragments: Vec<Vec<u8>> = Packetizer::new(&frame, 500)
            .unwrap()
            .map(|f| [f.header(), f.data].concat())
            .collect();
        let packets = packets(&media, Dialect::Standard, 3, 500);
        assert_eq!(packets.len(), fragments.len());
        for (i, (packet, fragment)) in packets.iter().zip(&fragments).enumerate() {
            let p = rtp::Packet::parse(packet).unwrap();
            assert_eq!(p.payload(), &fragment[..]);
            assert_eq!(p.marker(), i + 1 == packets.len());
            assert_eq!(p.sequence_number(), i as u16);
        }
        frame_len_is_the_packets(&media, Dialect::Standard, 3, 500, &packets);
        let cutter = Cutter::new(&media, Dialect::Standard, 3, 500).unwrap();
        assert_eq!(cutter.packet_count(), packets.len());
    }

    #[test]
    fn course_frames_leave_whole_when_they_fit_else_in_pieces() {
        let media = crate::testing::clip();
        let jpeg = media.file.frame(0).unwrap();
        let packets = packets(&media, Dialect::Course, 0, 1400);
        assert_eq!(packets.len(), course::pieces(jpeg).len());
        let rebuilt: Vec<u8> = packets
            .iter()
            .flat_map(|p| rtp::Packet::parse(p).unwrap().payload().to_vec())
            .collect();
        assert_eq!(rebuilt, jpeg);
        frame_len_is_the_packets(&media, Dialect::Course, 0, 1400, &packets);
        let cutter = Cutter::new(&media, Dialect::Course, 0, 1400).unwrap();
        assert_eq!(cutter.packet_count(), packets.len());
    }

    #[test]
    fn a_packet_cut_again_from_its_offset_is_the_same() {
        let media = crate::testing::clip();
        for dialect in [Dialect::Standard, Dialect::Course] {
            let whole = packets(&media, dialect, 5, 400);
            let mut cutter = Cutter::new(&media, dialect, 5, 400).unwrap();
            let mut offsets = Vec::new();
            let mut sink = Vec::new();
            while cutter.next_len().is_some() {
                offsets.push(cutter.position());
                cutter.append_next(rtp::Header::default(), &mut sink);
            }
            for (k, &at) in offsets.iter().enumerate().rev() {
                let mut again = Cutter::new(&media, dialect, 5, 400).unwrap();
                again.resume(at);
                let mut packet = Vec::new();
                let header = rtp::Header {
                    payload_type: 26,
                    sequence_number: k as u16,
                    timestamp: 9,
                    ssrc: 7,
                    marker: false,
                };
                again.append_next(header, &mut packet).unwrap();
                assert_eq!(packet, whole[k], "{dialect:?} packet {k}");
            }
        }
    }
}
