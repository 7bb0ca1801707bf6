//! Writing RTP packets into the caller's buffer, RFC 3550 §5.1.

use super::{Error, VERSION};

/// The RTP fixed-header fields a sender chooses per packet (RFC 3550 §5.1).
///
/// [`Header::write`] lays out the header followed by each payload piece in turn, so an RFC 2435
/// packetizer can send its 8-byte JPEG header, the quantization tables and a slice of the frame
/// without first copying them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// M: for RFC 2435, set on the last packet of a frame.
    pub marker: bool,
    /// PT, 0..=127 (26 for JPEG).
    pub payload_type: u8,
    /// The 16-bit sequence number.
    pub sequence_number: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
}

/// The optional parts of an RTP header (§5.1, §5.3.1) and padding, which hdstream itself does
/// not send but other senders may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extras<'b> {
    /// Contributing sources, at most 15.
    pub csrcs: &'b [u32],
    /// Header extension: profile-defined identifier and data (a whole number of 32-bit words).
    pub extension: Option<(u16, &'b [u8])>,
    /// Padding count (§5.1, P): bytes appended after the payload, the count octet included;
    /// 0 for none. The padding bytes before the count octet are zero.
    pub padding: u8,
}

impl Header {
    /// Bytes in the fixed header.
    pub const LEN: usize = 12;

    /// Writes the header and then every piece of `payload` into `out`; returns the packet length.
    ///
    /// Fails, writing nothing meaningful, if the payload type does not fit 7 bits or `out` is too
    /// small.
    pub fn write(&self, payload: &[&[u8]], out: &mut [u8]) -> Result<usize, Error> {
        self.write_with(&Extras::default(), payload, out)
    }

    /// Appends the header and then every piece of `payload` to `out` (no zero-filling first);
    /// returns the packet length. Fails, appending nothing, if the payload type does not fit
    /// 7 bits.
    pub fn append(&self, payload: &[&[u8]], out: &mut Vec<u8>) -> Result<usize, Error> {
        let mut fixed = [0; Header::LEN];
        self.write(&[], &mut fixed)?;
        let len = Header::LEN + payload.iter().map(|p| p.len()).sum::<usize>();
        out.reserve(len);
        out.extend_from_slice(&fixed);
        for piece in payload {
            out.extend_from_slice(piece);
        }
        Ok(len)
    }

    /// Like [`Header::write`], with a CSRC list, header extension or padding.
    pub fn write_with(
        &self,
        extras: &Extras<'_>,
        payload: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if self.payload_type > 0x7f {
            return Err(Error::PayloadType(self.payload_type));
        }
        let csrc_count = u8::try_from(extras.csrcs.len())
            .ok()
            .filter(|&c| c <= 15)
            .ok_or(Error::CsrcCount(extras.csrcs.len()))?;
        let extension_words = match extras.extension {
            None => None,
            Some((_, data)) => Some(
                u16::try_from(data.len() / 4)
                    .ok()
                    .filter(|_| data.len().is_multiple_of(4))
                    .ok_or(Error::ExtensionLength(data.len()))?,
            ),
        };
        let header_len = Self::LEN
            + 4 * extras.csrcs.len()
            + extras.extension.map_or(0, |(_, data)| 4 + data.len());
        let payload_len: usize = payload.iter().map(|p| p.len()).sum();
        let needed = header_len + payload_len + usize::from(extras.padding);
        let available = out.len();
        let Some(out) = out.get_mut(..needed) else {
            return Err(Error::BufferTooSmall { needed, available });
        };

        let (fixed, mut rest) = out.split_at_mut(Self::LEN);
        let mut b0 = VERSION << 6 | csrc_count;
        if extras.padding != 0 {
            b0 |= 0x20;
        }
        if extras.extension.is_some() {
            b0 |= 0x10;
        }
        fixed[0] = b0;
        fixed[1] = u8::from(self.marker) << 7 | self.payload_type;
        fixed[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        fixed[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        fixed[8..12].copy_from_slice(&self.ssrc.to_be_bytes());

        for csrc in extras.csrcs {
            rest = put(rest, &csrc.to_be_bytes());
        }
        if let (Some((id, data)), Some(words)) = (extras.extension, extension_words) {
            rest = put(rest, &id.to_be_bytes());
            rest = put(rest, &words.to_be_bytes());
            rest = put(rest, data);
        }
        for piece in payload {
            rest = put(rest, piece);
        }
        if let Some((count, zeros)) = rest.split_last_mut() {
            zeros.fill(0);
            *count = extras.padding;
        }
        Ok(needed)
    }
}

/// Copies `bytes` to the front of `out` and returns what follows; `out` was sized to fit.
fn put<'o>(out: &'o mut [u8], bytes: &[u8]) -> &'o mut [u8] {
    let (head, tail) = out.split_at_mut(bytes.len());
    head.copy_from_slice(bytes);
    tail
}

#[cfg(test)]
mod tests {
    use super::super::Packet;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn writes_header_then_pieces() {
        let header = Header {
            marker: true,
            payload_type: 26,
            sequence_number: 0x1234,
            timestamp: 0xdead_beef,
            ssrc: 0x0102_0304,
        };
        let mut out = [0u8; 32];
        let n = header.write(&[b"ab", b"", b"cde"], &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                0x80,
                0x80 | 26,
                0x12,
                0x34,
                0xde,
                0xad,
                0xbe,
                0xef,
                1,
                2,
                3,
                4,
                b'a',
                b'b',
                b'c',
                b'd',
                b'e'
            ]
        );
    }

    #[test]
    fn rejects_small_buffer_and_bad_fields() {
        let header = Header::default();
        let mut out = [0u8; 14];
        assert_eq!(
            header.write(&[b"abc"], &mut out),
            Err(Error::BufferTooSmall {
                needed: 15,
                available: 14
            })
        );
        let bad_pt = Header {
            payload_type: 128,
            ..header
        };
        assert_eq!(bad_pt.write(&[], &mut out), Err(Error::PayloadType(128)));
        let csrcs = [0u32; 16];
        let extras = Extras {
            csrcs: &csrcs,
            ..Extras::default()
        };
        assert_eq!(
            header.write_with(&extras, &[], &mut [0u8; 128]),
            Err(Error::CsrcCount(16))
        );
        let extras = Extras {
            extension: Some((1, b"abc")),
            ..Extras::default()
        };
        assert_eq!(
            header.write_with(&extras, &[], &mut [0u8; 128]),
            Err(Error::ExtensionLength(3))
        );
    }

    fn header_strategy() -> impl Strategy<Value = Header> {
        (
            any::<bool>(),
            0u8..128,
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(marker, payload_type, sequence_number, timestamp, ssrc)| Header {
                    marker,
                    payload_type,
                    sequence_number,
                    timestamp,
                    ssrc,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Build → parse gives back every field, and the payload is the pieces concatenated.
        #[test]
        fn build_then_parse_round_trips(
            header in header_strategy(),
            csrcs in prop::collection::vec(any::<u32>(), 0..=15),
            extension in prop::option::of((any::<u16>(), prop::collection::vec(any::<u8>(), 0..5).prop_map(|w| w.repeat(4)))),
            padding in prop_oneof![Just(0u8), 1u8..=255],
            pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..5),
        ) {
            let extras = Extras {
                csrcs: &csrcs,
                extension: extension.as_ref().map(|(id, d)| (*id, d.as_slice())),
                padding,
            };
            let slices: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            let mut out = vec![0u8; 2048];
            let n = header.write_with(&extras, &slices, &mut out).unwrap();
            let packet = Packet::parse(&out[..n]).unwrap();
            prop_assert_eq!(packet.header(), header);
            prop_assert_eq!(packet.csrcs().collect::<Vec<_>>(), csrcs.clone());
            prop_assert_eq!(packet.extension(), extras.extension);
            prop_assert_eq!(packet.padding_len(), padding);
            let concatenated = pieces.concat();
            prop_assert_eq!(packet.payload(), concatenated.as_slice());
            // One byte short of the packet is always refused.
            prop_assert!(header.write_with(&extras, &slices, &mut out[..n - 1]).is_err());
        }
    }
}
