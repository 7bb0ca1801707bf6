//! The RTP fixed header and what follows it, RFC 3550 §5.1 and §5.3.1.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      defined by profile       |           length              |  (if X)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  header extension (length words)              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 payload ...   | padding ...   | padding count |  (count if P)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{Error, Header, VERSION};

/// Bytes in the fixed header.
const FIXED_LEN: usize = 12;

/// A validated, borrowed view over one RTP packet (RFC 3550 §5.1).
///
/// [`Packet::parse`] checks every length once; the accessors then read fields from the bytes on
/// demand and cannot fail.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The whole packet, padding included.
    buf: &'a [u8],
    /// Offset of the payload (after CSRCs and extension).
    payload_start: usize,
    /// Offset one past the payload (where padding starts).
    payload_end: usize,
}

/// Reads a big-endian `u16` at `at`; callers have checked the length (0 if short).
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    match buf.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a big-endian `u32` at `at`; callers have checked the length (0 if short).
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    match buf.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

impl<'a> Packet<'a> {
    /// Validates `buf` as one RTP packet: version 2, the CSRC list, the header extension and the
    /// padding all within the buffer, and a padding count of at least one when P is set.
    pub fn parse(buf: &'a [u8]) -> Result<Packet<'a>, Error> {
        let len = buf.len();
        let &[b0, ..] = buf else {
            return Err(Error::Truncated { len });
        };
        if len < FIXED_LEN {
            return Err(Error::Truncated { len });
        }
        let version = b0 >> 6;
        if version != VERSION {
            return Err(Error::Version(version));
        }
        let count = b0 & 0x0f;
        let mut start = FIXED_LEN + 4 * usize::from(count);
        if start > len {
            return Err(Error::CsrcList {
                count,
                needed: start,
                len,
            });
        }
        if b0 & 0x10 != 0 {
            if start + 4 > len {
                return Err(Error::Extension {
                    needed: start + 4,
                    len,
                });
            }
            let needed = start + 4 + 4 * usize::from(be16(buf, start + 2));
            if needed > len {
                return Err(Error::Extension { needed, len });
            }
            start = needed;
        }
        let mut end = len;
        if b0 & 0x20 != 0 {
            let padding = buf.last().copied().unwrap_or(0);
            if padding == 0 {
                return Err(Error::ZeroPadding);
            }
            let available = len - start;
            if usize::from(padding) > available {
                return Err(Error::Padding { padding, available });
            }
            end = len - usize::from(padding);
        }
        Ok(Packet {
            buf,
            payload_start: start,
            payload_end: end,
        })
    }

    /// The first byte: V, P, X, CC.
    fn b0(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    /// The second byte: M, PT.
    fn b1(&self) -> u8 {
        self.buf.get(1).copied().unwrap_or(0)
    }

    /// The whole packet as received, padding included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The marker bit M; for RFC 2435, set on the last packet of a frame.
    pub fn marker(&self) -> bool {
        self.b1() & 0x80 != 0
    }

    /// The payload type PT (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.b1() & 0x7f
    }

    /// The 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// The 32-bit media timestamp (90 kHz for video).
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// The synchronization source identifier.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// The number of CSRC identifiers (CC field, 0..=15).
    pub fn csrc_count(&self) -> u8 {
        self.b0() & 0x0f
    }

    /// The contributing source identifiers, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let end = FIXED_LEN + 4 * usize::from(self.csrc_count());
        self.buf
            .get(FIXED_LEN..end)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| be32(c, 0))
    }

    /// The header extension (§5.3.1), if X is set: the profile-defined 16-bit identifier and
    /// the extension data (a whole number of 32-bit words, without the 4-byte extension header).
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        if self.b0() & 0x10 == 0 {
            return None;
        }
        let at = FIXED_LEN + 4 * usize::from(self.csrc_count());
        let data = self.buf.get(at + 4..self.payload_start)?;
        Some((be16(self.buf, at), data))
    }

    /// The padding count: bytes at the end of the packet that are not payload, the count octet
    /// included (0 when P is clear).
    pub fn padding_len(&self) -> u8 {
        u8::try_from(self.buf.len() - self.payload_end).unwrap_or(0)
    }

    /// The payload, without the padding.
    pub fn payload(&self) -> &'a [u8] {
        self.buf
            .get(self.payload_start..self.payload_end)
            .unwrap_or_default()
    }

    /// The fixed-header fields, as a [`Header`] that writes them back.
    pub fn header(&self) -> Header {
        Header {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence_number: self.sequence_number(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
        }
    }
}

impl std::fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("rtp::Packet")
            .field("marker", &self.marker())
            .field("payload_type", &self.payload_type())
            .field("sequence_number", &self.sequence_number())
            .field("timestamp", &self.timestamp())
            .field("ssrc", &format_args!("{:08x}", self.ssrc()))
            .field("csrc_count", &self.csrc_count())
            .field("extension", &self.extension().map(|(id, d)| (id, d.len())))
            .field("payload_len", &self.payload().len())
            .field("padding_len", &self.padding_len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid packet: V=2, PT 26, seq 7, ts 9, SSRC 1, payload "hi".
    fn base() -> Vec<u8> {
        vec![0x80, 26, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1, b'h', b'i']
    }

    #[test]
    fn reads_fields() {
        let buf = base();
        let p = Packet::parse(&buf).unwrap();
        assert!(!p.marker());
        assert_eq!(p.payload_type(), 26);
        assert_eq!(p.sequence_number(), 7);
        assert_eq!(p.timestamp(), 9);
        assert_eq!(p.ssrc(), 1);
        assert_eq!(p.csrcs().count(), 0);
        assert_eq!(p.extension(), None);
        assert_eq!(p.padding_len(), 0);
        assert_eq!(p.payload(), b"hi");
    }

    #[test]
    fn rejects_short_buffer() {
        assert_eq!(Packet::parse(&[]), Err(Error::Truncated { len: 0 }));
        assert_eq!(
            Packet::parse(&base()[..11]),
            Err(Error::Truncated { len: 11 })
        );
    }

    #[test]
    fn rejects_version_1() {
        let mut buf = base();
        buf[0] = 0x40;
        assert_eq!(Packet::parse(&buf), Err(Error::Version(1)));
    }

    #[test]
    fn rejects_csrc_count_past_end() {
        let mut buf = base();
        buf[0] = 0x81; // one CSRC needs 16 bytes, 14 present
        assert_eq!(
            Packet::parse(&buf),
            Err(Error::CsrcList {
                count: 1,
                needed: 16,
                len: 14
            })
        );
    }

    #[test]
    fn rejects_extension_past_end() {
        let mut buf = base();
        buf[0] = 0x90; // X set, but only 2 bytes follow the fixed header
        assert_eq!(
            Packet::parse(&buf),
            Err(Error::Extension {
                needed: 16,
                len: 14
            })
        );
        // Extension header present, claiming one word that is not there.
        buf.extend_from_slice(&[0, 1]);
        buf[12..16].copy_from_slice(&[0xbe, 0xde, 0, 1]);
        assert_eq!(
            Packet::parse(&buf),
            Err(Error::Extension {
                needed: 20,
                len: 16
            })
        );
    }

    #[test]
    fn rejects_padding_larger_than_payload() {
        let mut buf = base();
        buf[0] = 0xa0;
        buf[13] = 3; // two bytes after the header, padding claims three
        assert_eq!(
            Packet::parse(&buf),
            Err(Error::Padding {
                padding: 3,
                available: 2
            })
        );
    }

    #[test]
    fn rejects_zero_padding_count() {
        let mut buf = base();
        buf[0] = 0xa0;
        buf[13] = 0;
        assert_eq!(Packet::parse(&buf), Err(Error::ZeroPadding));
    }

    #[test]
    fn padding_may_take_the_whole_payload() {
        let mut buf = base();
        buf[0] = 0xa0;
        buf[13] = 2;
        let p = Packet::parse(&buf).unwrap();
        assert_eq!(p.payload(), b"");
        assert_eq!(p.padding_len(), 2);
    }

    #[test]
    fn reads_csrcs_and_extension() {
        let mut buf = vec![0x92, 0xff, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        buf.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 11]); // CSRCs 10, 11
        buf.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension, one word
        buf.extend_from_slice(b"payload");
        let p = Packet::parse(&buf).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), 127);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), [10, 11]);
        assert_eq!(p.extension(), Some((0xbede, &[1u8, 2, 3, 4][..])));
        assert_eq!(p.payload(), b"payload");
    }
}
