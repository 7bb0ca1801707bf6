//! The RTP retransmission payload format, RFC 4588 §4: a retransmitted packet travels in its
//! own stream (its own SSRC, payload type and sequence numbers, §5) with the original
//! sequence number (OSN) in front of the original payload.
//!
//! ```text
//! RTP header (RTX SSRC, RTX PT, RTX sequence number, original timestamp and marker)
//! | OSN: 16 bits | original RTP payload
//! ```

use super::{Error, Header, Packet};

/// Bytes the OSN adds to a payload.
pub const OSN_LEN: usize = 2;

/// Appends to `out` the RTX packet that carries `original` again (§4): `header` for the RTX
/// stream (its SSRC, payload type and sequence number; the original's timestamp and marker are
/// taken over), then the OSN, then the original payload. Answers its length.
pub fn append(header: Header, original: &Packet<'_>, out: &mut Vec<u8>) -> Result<usize, Error> {
    let header = Header {
        marker: original.marker(),
        timestamp: original.timestamp(),
        ..header
    };
    let osn = original.sequence_number().to_be_bytes();
    header.append(&[&osn, original.payload()], out)
}

/// The original sequence number and payload inside an RTX packet's payload; `None` when it is
/// too short to hold the OSN.
pub fn unwrap(payload: &[u8]) -> Option<(u16, &[u8])> {
    let (osn, rest) = payload.split_first_chunk::<OSN_LEN>()?;
    Some((u16::from_be_bytes(*osn), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_sent_again_comes_back_out_as_it_was() {
        let original = Header {
            marker: true,
            payload_type: 26,
            sequence_number: 4711,
            timestamp: 90_000,
            ssrc: 0xAAAA_AAAA,
        };
        let mut first = Vec::new();
        original.append(&[b"jpeg bytes"], &mut first).unwrap();
        let first = Packet::parse(&first).unwrap();
        let mut rtx = Vec::new();
        let rtx_header = Header {
            payload_type: 97,
            sequence_number: 3,
            ssrc: 0xBBBB_BBBB,
            ..Header::default()
        };
        let len = append(rtx_header, &first, &mut rtx).unwrap();
        assert_eq!(len, 12 + 2 + 10);
        let rtx = Packet::parse(&rtx).unwrap();
        assert_eq!(
            (rtx.payload_type(), rtx.sequence_number(), rtx.ssrc()),
            (97, 3, 0xBBBB_BBBB)
        );
        assert_eq!((rtx.timestamp(), rtx.marker()), (90_000, true));
        assert_eq!(unwrap(rtx.payload()), Some((4711, &b"jpeg bytes"[..])));
        assert_eq!(unwrap(&[1]), None, "no room for the OSN");
        assert_eq!(
            unwrap(&[1, 2]),
            Some((258, &[][..])),
            "an empty original payload"
        );
    }
}
