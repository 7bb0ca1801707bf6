//! Generic NACK, RFC 4585 §6.2.1: a transport-layer feedback message (RTPFB, PT 205, FMT 1)
//! asking the media sender to send lost RTP packets again (RFC 4588 retransmission).
//!
//! ```text
//! header (FMT = 1, PT = 205) | SSRC of packet sender | SSRC of media source |
//! FCI: (PID: 16 bits | BLP: 16 bits) × n
//! ```
//!
//! Each FCI entry names packet `PID` and, through the bitmask of following lost packets
//! (`BLP`), any of the 16 packets after it: bit *i* (least significant first) set means
//! `PID + i + 1` is lost too (§6.2.1).

use super::Error;
use super::parts::Parts;
use crate::rtp::be32;

/// Packet type of transport-layer feedback, RTPFB (RFC 4585 §6.1).
pub const TRANSPORT_FEEDBACK: u8 = 205;
/// Feedback message type (the count field) of a generic NACK within RTPFB (§6.2.1).
pub const GENERIC_NACK: u8 = 1;

/// A generic NACK as a borrowed view.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Nack<'a> {
    /// Body after the common header, without padding: the two SSRCs, then the FCI entries.
    body: &'a [u8],
}

impl<'a> Nack<'a> {
    /// Checks the two SSRCs are there. §6.2.1 asks for at least one FCI entry; one without
    /// any is read as asking for nothing rather than spoiling the compound it came in.
    pub(super) fn parse(parts: Parts<'a>) -> Result<Nack<'a>, Error> {
        let needed = 8;
        if parts.body.len() < needed {
            return Err(Error::TooShort {
                offset: parts.offset,
                packet_type: parts.packet_type,
                len: parts.body.len(),
                needed,
            });
        }
        Ok(Nack { body: parts.body })
    }

    /// The body after the common header.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// SSRC of the packet sender (the receiver asking).
    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }

    /// SSRC of the media source whose packets are missing.
    pub fn media_ssrc(&self) -> u32 {
        be32(self.body, 4)
    }

    /// The FCI entries as (PID, BLP).
    pub fn entries(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        let fci = self.body.get(8..).unwrap_or_default();
        fci.chunks_exact(4).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u16::from_be_bytes([c[2], c[3]]),
            )
        })
    }

    /// Every sequence number asked for, entry by entry, in the order the entries list them.
    pub fn lost(&self) -> impl Iterator<Item = u16> + 'a {
        self.entries().flat_map(|(pid, blp)| {
            std::iter::once(pid).chain(
                (0..16u16)
                    .filter(move |i| blp & (1 << i) != 0)
                    .map(move |i| pid.wrapping_add(i + 1)),
            )
        })
    }
}

impl std::fmt::Debug for Nack<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nack")
            .field("sender_ssrc", &self.sender_ssrc())
            .field("media_ssrc", &self.media_ssrc())
            .field("entries", &self.entries().collect::<Vec<_>>())
            .finish()
    }
}

/// Packs sequence numbers (in the order given; each run of up to 17 within 16 of its first
/// shares an entry) into FCI entries (PID, BLP).
pub fn entries(lost: impl IntoIterator<Item = u16>) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for seq in lost {
        if let Some((pid, blp)) = out.last_mut() {
            let ahead = seq.wrapping_sub(*pid);
            if ahead == 0 {
                continue;
            }
            if ahead <= 16 {
                *blp |= 1 << (ahead - 1);
                continue;
            }
        }
        out.push((seq, 0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{Compound, Packet, Writer};

    fn parse_one(bytes: &[u8]) -> Nack<'_> {
        let compound = Compound::parse(bytes).unwrap();
        let packets: Vec<Packet<'_>> = compound.iter().collect();
        match packets.as_slice() {
            [Packet::Nack(n)] => *n,
            other => panic!("one NACK, got {other:?}"),
        }
    }

    #[test]
    fn a_nack_round_trips_with_its_lost_packets() {
        let lost = [100u16, 101, 103, 116, 117, 200, 65_535, 0, 1];
        let fci = entries(lost);
        assert_eq!(
            fci,
            [
                (100, 0b1000_0000_0000_0101),
                (117, 0),
                (200, 0),
                (65_535, 0b11)
            ]
        );
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.nack(0x1111_1111, 0x2222_2222, &fci).unwrap();
        let len = w.finish();
        assert_eq!(len, 12 + 4 * fci.len());
        assert_eq!(&buf[..4], &[0x80 | GENERIC_NACK, TRANSPORT_FEEDBACK, 0, 6]);
        let nack = parse_one(&buf[..len]);
        assert_eq!(
            (nack.sender_ssrc(), nack.media_ssrc()),
            (0x1111_1111, 0x2222_2222)
        );
        assert_eq!(nack.lost().collect::<Vec<_>>(), lost);
    }

    #[test]
    fn a_nack_without_its_ssrcs_is_refused_and_other_feedback_passes_through() {
        // PT 205, FMT 1, length 1: only 4 body bytes.
        let short = [0x81, 205, 0, 1, 0, 0, 0, 1];
        assert!(matches!(
            Compound::parse(&short),
            Err(crate::rtcp::Error::TooShort { needed: 8, .. })
        ));
        // FMT 3 (TMMBR) is not a NACK.
        let tmmbr = [0x83, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        let compound = Compound::parse(&tmmbr).unwrap();
        assert!(matches!(compound.iter().next(), Some(Packet::Unknown(_))));
    }

    #[test]
    fn packing_keeps_the_order_and_drops_repeats() {
        assert_eq!(entries([5, 5, 6]), [(5, 1)]);
        assert_eq!(
            entries([9, 5]),
            [(9, 0), (5, 0)],
            "backwards starts a new entry"
        );
        assert_eq!(entries(std::iter::empty()), []);
        let many: Vec<u16> = (0..100).collect();
        let packed = entries(many.iter().copied());
        assert_eq!(packed.len(), 6, "17 a word");
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.nack(1, 2, &packed).unwrap();
        let len = w.finish();
        assert_eq!(parse_one(&buf[..len]).lost().collect::<Vec<_>>(), many);
    }
}
