//! Compound RTCP packets, RFC 3550 §6.1 and the validity checks of Appendix A.2.

use super::nack::{GENERIC_NACK, Nack, TRANSPORT_FEEDBACK};
use super::parts::Parts;
use super::{
    APP, App, Error, GOODBYE, Goodbye, RECEIVER_REPORT, ReceiverReport, SENDER_REPORT,
    SOURCE_DESCRIPTION, SenderReport, SourceDescription,
};
use crate::rtp::{VERSION, be16};

/// One RTCP packet of a compound, as a borrowed view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// SR, §6.4.1.
    SenderReport(SenderReport<'a>),
    /// RR, §6.4.2.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES, §6.5.
    SourceDescription(SourceDescription<'a>),
    /// BYE, §6.6.
    Goodbye(Goodbye<'a>),
    /// APP, §6.7.
    App(App<'a>),
    /// Generic NACK (RTPFB, FMT 1), RFC 4585 §6.2.1.
    Nack(Nack<'a>),
    /// Any other type (other RTPFB, PSFB, XR, ...), passed through unread.
    Unknown(Unknown<'a>),
}

/// An RTCP packet of a type this crate does not read: its header fields and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unknown<'a> {
    /// The packet type.
    pub packet_type: u8,
    /// The 5-bit count field.
    pub count: u8,
    /// Bytes after the common header, without padding.
    pub body: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Reads a packet's body according to its type.
    fn from_parts(parts: Parts<'a>) -> Result<Packet<'a>, Error> {
        Ok(match parts.packet_type {
            SENDER_REPORT => Packet::SenderReport(SenderReport::parse(parts)?),
            RECEIVER_REPORT => Packet::ReceiverReport(ReceiverReport::parse(parts)?),
            SOURCE_DESCRIPTION => Packet::SourceDescription(SourceDescription::parse(parts)?),
            GOODBYE => Packet::Goodbye(Goodbye::parse(parts)?),
            APP => Packet::App(App::parse(parts)?),
            TRANSPORT_FEEDBACK if parts.count == GENERIC_NACK => Packet::Nack(Nack::parse(parts)?),
            packet_type => Packet::Unknown(Unknown {
                packet_type,
                count: parts.count,
                body: parts.body,
            }),
        })
    }

    /// The packet type (200 for SR, ...).
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::SenderReport(_) => SENDER_REPORT,
            Packet::ReceiverReport(_) => RECEIVER_REPORT,
            Packet::SourceDescription(_) => SOURCE_DESCRIPTION,
            Packet::Goodbye(_) => GOODBYE,
            Packet::App(_) => APP,
            Packet::Nack(_) => TRANSPORT_FEEDBACK,
            Packet::Unknown(u) => u.packet_type,
        }
    }

    /// The 5-bit count field as sent.
    pub fn count(&self) -> u8 {
        match self {
            Packet::SenderReport(p) => p.count(),
            Packet::ReceiverReport(p) => p.count(),
            Packet::SourceDescription(p) => p.count(),
            Packet::Goodbye(p) => p.count(),
            Packet::App(p) => p.subtype(),
            Packet::Nack(_) => GENERIC_NACK,
            Packet::Unknown(u) => u.count,
        }
    }

    /// The bytes after the common header, without padding: with [`Packet::packet_type`] and
    /// [`Packet::count`], enough to forward the packet unchanged ([`super::Writer::raw`]).
    pub fn body(&self) -> &'a [u8] {
        match self {
            Packet::SenderReport(p) => p.body(),
            Packet::ReceiverReport(p) => p.body(),
            Packet::SourceDescription(p) => p.body(),
            Packet::Goodbye(p) => p.body(),
            Packet::App(p) => p.body(),
            Packet::Nack(p) => p.body(),
            Packet::Unknown(u) => u.body,
        }
    }
}

/// Splits the packet at `offset` off the front of `rest` (the compound from `offset` on):
/// checks the version, the length and the padding; returns the parts and the bytes after it.
fn split(rest: &[u8], offset: usize) -> Result<(Parts<'_>, &[u8]), Error> {
    let available = rest.len();
    let &[b0, packet_type, _, _, ..] = rest else {
        return Err(Error::Truncated { offset, available });
    };
    let version = b0 >> 6;
    if version != VERSION {
        return Err(Error::Version { offset, version });
    }
    let claimed = 4 * (usize::from(be16(rest, 2)) + 1);
    let (Some(packet), Some(after)) = (rest.get(..claimed), rest.get(claimed..)) else {
        return Err(Error::Length {
            offset,
            claimed,
            available,
        });
    };
    let mut end = claimed;
    if b0 & 0x20 != 0 {
        let count = packet.last().copied().unwrap_or(0);
        // Only the last packet of a compound may be padded (§6.1, A.2), by a whole number of
        // words (§6.4.1).
        if !after.is_empty() || count == 0 || count % 4 != 0 || usize::from(count) > claimed - 4 {
            return Err(Error::Padding { offset, count });
        }
        end -= usize::from(count);
    }
    let parts = Parts {
        offset,
        count: b0 & 0x1f,
        packet_type,
        body: packet.get(4..end).unwrap_or_default(),
    };
    Ok((parts, after))
}

/// A validated compound RTCP packet (§6.1): one or more RTCP packets back to back, each with
/// a length that fits, only the last one padded.
///
/// Validation follows Appendix A.2 except that the first packet need not be an SR or RR, so
/// reduced-size RTCP (RFC 5506) and lone BYEs are accepted too; callers that care can look at
/// the first packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    /// The whole compound, padding included.
    buf: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Validates every packet of `buf` and its type-specific fields.
    pub fn parse(buf: &'a [u8]) -> Result<Compound<'a>, Error> {
        if buf.is_empty() {
            return Err(Error::Empty);
        }
        let mut rest = buf;
        while !rest.is_empty() {
            let (parts, after) = split(rest, buf.len() - rest.len())?;
            Packet::from_parts(parts)?;
            rest = after;
        }
        Ok(Compound { buf })
    }

    /// The packets, in order.
    pub fn iter(&self) -> Packets<'a> {
        Packets {
            buf: self.buf,
            rest: self.buf,
        }
    }

    /// The whole compound as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The padding count of the last packet (0 if it is not padded).
    pub fn padding_len(&self) -> u8 {
        let Some(&last) = self.buf.last() else {
            return 0;
        };
        // Find the last packet's first byte by walking the (validated) lengths.
        let mut rest = self.buf;
        while let Some(next) = rest.get(4 * (usize::from(be16(rest, 2)) + 1)..) {
            if next.is_empty() {
                break;
            }
            rest = next;
        }
        match rest.first() {
            Some(b0) if b0 & 0x20 != 0 => last,
            _ => 0,
        }
    }
}

impl std::fmt::Debug for Compound<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()?;
        match self.padding_len() {
            0 => Ok(()),
            padding => write!(f, " + {padding} bytes of padding"),
        }
    }
}

impl<'a> IntoIterator for &Compound<'a> {
    type Item = Packet<'a>;
    type IntoIter = Packets<'a>;

    fn into_iter(self) -> Packets<'a> {
        self.iter()
    }
}

/// The packets of a [`Compound`], from [`Compound::iter`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    /// The whole compound, for offsets.
    buf: &'a [u8],
    /// The packets not yet yielded.
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = Packet<'a>;

    fn next(&mut self) -> Option<Packet<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // The compound was validated, so this cannot fail; stop quietly if it somehow does.
        let parsed = split(self.rest, self.buf.len() - self.rest.len())
            .and_then(|(parts, after)| Ok((Packet::from_parts(parts)?, after)));
        match parsed {
            Ok((packet, after)) => {
                self.rest = after;
                Some(packet)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SenderInfo, Writer};
    use super::*;

    /// SR (no blocks) + RR (one block) + BYE: 28 + 32 + 8 bytes.
    fn sample() -> Vec<u8> {
        let mut buf = vec![0u8; 256];
        let mut w = Writer::new(&mut buf);
        w.sender_report(&SenderInfo::default(), &[]).unwrap();
        w.receiver_report(2, &[super::super::ReportBlock::default()])
            .unwrap();
        w.goodbye(&[2], None).unwrap();
        let len = w.finish();
        buf.truncate(len);
        buf
    }

    #[test]
    fn parses_packet_sequence() {
        let buf = sample();
        let compound = Compound::parse(&buf).unwrap();
        let types: Vec<u8> = compound.iter().map(|p| p.packet_type()).collect();
        assert_eq!(types, [SENDER_REPORT, RECEIVER_REPORT, GOODBYE]);
        assert_eq!(compound.padding_len(), 0);
        assert_eq!((&compound).into_iter().count(), 3);
    }

    #[test]
    fn rejects_empty_and_truncated() {
        assert_eq!(Compound::parse(&[]), Err(Error::Empty));
        let mut buf = sample();
        buf.extend_from_slice(&[0x80, 203]);
        assert_eq!(
            Compound::parse(&buf),
            Err(Error::Truncated {
                offset: 68,
                available: 2
            })
        );
    }

    #[test]
    fn rejects_wrong_version() {
        let mut buf = sample();
        buf[28] = 0x41; // the RR, version 1
        assert_eq!(
            Compound::parse(&buf),
            Err(Error::Version {
                offset: 28,
                version: 1
            })
        );
    }

    #[test]
    fn rejects_length_past_end() {
        let buf = sample();
        assert_eq!(
            Compound::parse(&buf[..64]),
            Err(Error::Length {
                offset: 60,
                claimed: 8,
                available: 4
            })
        );
        let mut buf = sample();
        buf[3] = 7; // the SR claims 32 bytes: the next "packet" starts inside the RR
        assert!(Compound::parse(&buf).is_err());
    }

    #[test]
    fn rejects_report_count_past_length() {
        // The RR at 28 claims two blocks, the BYE at 60 two sources; each holds one.
        for (offset, packet_type) in [(28, RECEIVER_REPORT), (60, GOODBYE)] {
            let mut buf = sample();
            buf[offset] = 0x82;
            assert_eq!(
                Compound::parse(&buf),
                Err(Error::Count {
                    offset,
                    packet_type,
                    count: 2
                })
            );
        }
    }

    #[test]
    fn rejects_short_sender_report() {
        // SR whose length covers only the SSRC.
        let buf = [0x80, 200, 0, 1, 0, 0, 0, 1];
        assert_eq!(
            Compound::parse(&buf),
            Err(Error::TooShort {
                offset: 0,
                packet_type: SENDER_REPORT,
                len: 4,
                needed: 24
            })
        );
    }

    #[test]
    fn rejects_bad_padding() {
        // Padding on a packet that is not the last.
        let mut buf = sample();
        buf[0] |= 0x20;
        assert!(matches!(
            Compound::parse(&buf),
            Err(Error::Padding { offset: 0, .. })
        ));
        // Last packet: BYE with one word of padding.
        let bye = |count: u8| [0xa0, 203, 0, 1, 0, 0, 0, count];
        assert_eq!(
            Compound::parse(&bye(0)),
            Err(Error::Padding {
                offset: 0,
                count: 0
            })
        );
        assert_eq!(
            Compound::parse(&bye(8)),
            Err(Error::Padding {
                offset: 0,
                count: 8
            })
        );
        assert_eq!(
            Compound::parse(&bye(3)),
            Err(Error::Padding {
                offset: 0,
                count: 3
            })
        );
        let padded_bye = bye(4);
        let padded = Compound::parse(&padded_bye).unwrap();
        assert_eq!(padded.padding_len(), 4);
        assert_eq!(padded.iter().next().map(|p| p.body().len()), Some(0));
    }

    #[test]
    fn rejects_bad_sdes_and_bye() {
        // SDES chunk with an item running past the packet.
        let sdes = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b'];
        assert_eq!(Compound::parse(&sdes), Err(Error::Item { offset: 0 }));
        // SDES chunk with no terminator.
        let sdes = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b'];
        assert_eq!(Compound::parse(&sdes), Err(Error::Item { offset: 0 }));
        // BYE reason longer than the packet.
        let bye = [0x81, 203, 0, 2, 0, 0, 0, 1, 5, b'a', b'b', b'c'];
        assert_eq!(Compound::parse(&bye), Err(Error::Reason { offset: 0 }));
        // APP without its name.
        let app = [0x80, 204, 0, 1, 0, 0, 0, 1];
        assert!(matches!(
            Compound::parse(&app),
            Err(Error::TooShort { needed: 8, .. })
        ));
    }

    #[test]
    fn passes_unknown_and_app_through() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.raw(206, 1, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        w.app(3, 9, *b"HDST", &[0xaa; 4]).unwrap();
        let len = w.finish();
        let compound = Compound::parse(&buf[..len]).unwrap();
        let packets: Vec<_> = compound.iter().collect();
        assert_eq!(
            packets[0],
            Packet::Unknown(Unknown {
                packet_type: 206,
                count: 1,
                body: &[1, 2, 3, 4, 5, 6, 7, 8]
            })
        );
        let Packet::App(app) = packets[1] else {
            panic!("expected APP: {packets:?}");
        };
        assert_eq!(
            (app.subtype(), app.ssrc(), app.name(), app.data()),
            (3, 9, *b"HDST", &[0xaa; 4][..])
        );
        assert_eq!(packets[1].count(), 3);
    }
}
