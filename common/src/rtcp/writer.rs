//! Building compound RTCP packets into the caller's buffer, RFC 3550 §6.1.

use super::report::{BLOCK_LEN, SENDER_INFO_LEN};
use super::{
    APP, Error, GOODBYE, MAX_COUNT, RECEIVER_REPORT, ReportBlock, SENDER_REPORT,
    SOURCE_DESCRIPTION, SdesItem, SenderInfo,
};
use crate::rtp::VERSION;

/// The largest body the 16-bit length field allows: (65535 + 1) words less the header.
const MAX_BODY: usize = 4 * 65_536 - 4;

/// Writes a compound RTCP packet (§6.1), packet by packet, into a buffer the caller owns.
///
/// Each method appends one packet, or fails and appends nothing. A compound should begin with
/// an SR or RR and carry an SDES with a CNAME (§6.1); the writer does not insist. [`Writer::finish`]
/// returns the length to send; [`Writer::finish_padded`] pads the last packet, the only one
/// that may be (§6.4.1, P).
///
/// ```
/// use hdstream_common::rtcp::{SenderInfo, Writer};
/// let mut buf = [0u8; 1500];
/// let mut w = Writer::new(&mut buf);
/// w.sender_report(&SenderInfo { ssrc: 7, ..SenderInfo::default() }, &[]).unwrap();
/// w.cname(7, b"server@example.invalid").unwrap();
/// let len = w.finish();
/// assert_eq!(len, 28 + 36); // SR without blocks, SDES with a 22-byte CNAME
/// ```
#[derive(Debug)]
pub struct Writer<'o> {
    /// The caller's buffer.
    out: &'o mut [u8],
    /// Bytes written so far.
    len: usize,
    /// Where the most recent packet starts.
    last: Option<usize>,
}

impl<'o> Writer<'o> {
    /// A writer that fills `out` from the start.
    pub fn new(out: &'o mut [u8]) -> Writer<'o> {
        Writer {
            out,
            len: 0,
            last: None,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no packet has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a packet with a `body_len`-byte body that `fill` writes.
    fn packet(
        &mut self,
        packet_type: u8,
        count: usize,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        let count = u8::try_from(count)
            .ok()
            .filter(|&c| usize::from(c) <= MAX_COUNT)
            .ok_or(Error::TooMany(count))?;
        if !body_len.is_multiple_of(4) || body_len > MAX_BODY {
            return Err(Error::BodyLength(body_len));
        }
        let needed = self.len + 4 + body_len;
        let available = self.out.len();
        let Some(packet) = self.out.get_mut(self.len..needed) else {
            return Err(Error::BufferTooSmall { needed, available });
        };
        let (header, body) = packet.split_at_mut(4);
        let words = u16::try_from(body_len / 4).unwrap_or(u16::MAX);
        header[0] = VERSION << 6 | count;
        header[1] = packet_type;
        header[2..4].copy_from_slice(&words.to_be_bytes());
        fill(body);
        self.last = Some(self.len);
        self.len = needed;
        Ok(())
    }

    /// Appends a sender report (§6.4.1) with up to 31 report blocks.
    pub fn sender_report(
        &mut self,
        info: &SenderInfo,
        blocks: &[ReportBlock],
    ) -> Result<(), Error> {
        let body_len = SENDER_INFO_LEN + BLOCK_LEN * blocks.len();
        self.packet(SENDER_REPORT, blocks.len(), body_len, |body| {
            let (head, rest) = body.split_at_mut(SENDER_INFO_LEN);
            info.write(head);
            write_blocks(blocks, rest);
        })
    }

    /// Appends a receiver report (§6.4.2) from `ssrc` with up to 31 report blocks.
    pub fn receiver_report(&mut self, ssrc: u32, blocks: &[ReportBlock]) -> Result<(), Error> {
        let body_len = 4 + BLOCK_LEN * blocks.len();
        self.packet(RECEIVER_REPORT, blocks.len(), body_len, |body| {
            let (head, rest) = body.split_at_mut(4);
            head.copy_from_slice(&ssrc.to_be_bytes());
            write_blocks(blocks, rest);
        })
    }

    /// Appends an SDES packet (§6.5) with one chunk per `(ssrc, items)`, at most 31.
    pub fn source_description(&mut self, chunks: &[(u32, &[SdesItem<'_>])]) -> Result<(), Error> {
        let mut body_len = 0;
        for (_, items) in chunks {
            let mut chunk_len = 4;
            for item in *items {
                if item.value.len() > 255 {
                    return Err(Error::TextLength(item.value.len()));
                }
                chunk_len += 2 + item.value.len();
            }
            // At least one null octet, then up to the next 32-bit boundary.
            body_len += (chunk_len + 1).next_multiple_of(4);
        }
        self.packet(SOURCE_DESCRIPTION, chunks.len(), body_len, |body| {
            let mut at = 0;
            for (ssrc, items) in chunks {
                let start = at;
                at = put(body, at, &ssrc.to_be_bytes());
                for item in *items {
                    // Checked above: at most 255.
                    at = put(body, at, &[item.kind, item.value.len() as u8]);
                    at = put(body, at, item.value);
                }
                let end = start + (at - start + 1).next_multiple_of(4);
                body.get_mut(at..end).unwrap_or_default().fill(0);
                at = end;
            }
        })
    }

    /// Appends an SDES packet carrying only the CNAME of `ssrc` (§6.5.1).
    pub fn cname(&mut self, ssrc: u32, cname: &[u8]) -> Result<(), Error> {
        let items = [SdesItem {
            kind: SdesItem::CNAME,
            value: cname,
        }];
        self.source_description(&[(ssrc, &items)])
    }

    /// Appends a BYE (§6.6) for up to 31 sources, with an optional reason of up to 255 bytes.
    pub fn goodbye(&mut self, sources: &[u32], reason: Option<&[u8]>) -> Result<(), Error> {
        let reason_len = match reason {
            Some(r) if r.len() > 255 => return Err(Error::TextLength(r.len())),
            Some(r) => (1 + r.len()).next_multiple_of(4),
            None => 0,
        };
        let body_len = 4 * sources.len() + reason_len;
        self.packet(GOODBYE, sources.len(), body_len, |body| {
            let mut at = 0;
            for ssrc in sources {
                at = put(body, at, &ssrc.to_be_bytes());
            }
            if let Some(reason) = reason {
                // Checked above: at most 255.
                at = put(body, at, &[reason.len() as u8]);
                at = put(body, at, reason);
                body.get_mut(at..).unwrap_or_default().fill(0);
            }
        })
    }

    /// Appends a generic NACK (RFC 4585 §6.2.1) from `sender_ssrc` about `media_ssrc`'s
    /// packets, with FCI `entries` as (PID, BLP) ([`super::nack_entries`] packs them).
    pub fn nack(
        &mut self,
        sender_ssrc: u32,
        media_ssrc: u32,
        entries: &[(u16, u16)],
    ) -> Result<(), Error> {
        self.packet(
            super::TRANSPORT_FEEDBACK,
            usize::from(super::GENERIC_NACK),
            8 + 4 * entries.len(),
            |body| {
                let mut at = put(body, 0, &sender_ssrc.to_be_bytes());
                at = put(body, at, &media_ssrc.to_be_bytes());
                for (pid, blp) in entries {
                    at = put(body, at, &pid.to_be_bytes());
                    at = put(body, at, &blp.to_be_bytes());
                }
            },
        )
    }

    /// Appends an APP packet (§6.7); `data` must be a whole number of 32-bit words.
    pub fn app(&mut self, subtype: u8, ssrc: u32, name: [u8; 4], data: &[u8]) -> Result<(), Error> {
        if !data.len().is_multiple_of(4) {
            return Err(Error::BodyLength(data.len()));
        }
        self.packet(APP, usize::from(subtype), 8 + data.len(), |body| {
            let at = put(body, 0, &ssrc.to_be_bytes());
            let at = put(body, at, &name);
            put(body, at, data);
        })
    }

    /// Appends a packet from its type, count field and body as they are, e.g. to forward a
    /// [`super::Packet`] unchanged (`packet.packet_type()`, `packet.count()`, `packet.body()`).
    pub fn raw(&mut self, packet_type: u8, count: u8, body: &[u8]) -> Result<(), Error> {
        self.packet(packet_type, usize::from(count), body.len(), |out| {
            out.copy_from_slice(body)
        })
    }

    /// The compound's length.
    pub fn finish(self) -> usize {
        self.len
    }

    /// Pads the last packet with `padding` bytes (zeros, then the count), sets its P bit and
    /// returns the compound's length. `padding` must be a non-zero multiple of 4 so that the
    /// packet stays a whole number of words.
    pub fn finish_padded(self, padding: u8) -> Result<usize, Error> {
        let Some(last) = self.last else {
            return Err(Error::PaddingLength(padding));
        };
        if padding == 0 || !padding.is_multiple_of(4) {
            return Err(Error::PaddingLength(padding));
        }
        let needed = self.len + usize::from(padding);
        let available = self.out.len();
        let packet_len = needed - last;
        let words =
            u16::try_from(packet_len / 4 - 1).map_err(|_| Error::BodyLength(packet_len - 4))?;
        let Some(packet) = self.out.get_mut(last..needed) else {
            return Err(Error::BufferTooSmall { needed, available });
        };
        if let Some(b0) = packet.first_mut() {
            *b0 |= 0x20;
        }
        packet[2..4].copy_from_slice(&words.to_be_bytes());
        if let Some((count, zeros)) = packet[self.len - last..].split_last_mut() {
            zeros.fill(0);
            *count = padding;
        }
        Ok(needed)
    }
}

/// Writes `blocks` back to back into `out`, which holds exactly that many.
fn write_blocks(blocks: &[ReportBlock], out: &mut [u8]) {
    for (block, chunk) in blocks.iter().zip(out.chunks_exact_mut(BLOCK_LEN)) {
        block.write(chunk);
    }
}

/// Copies `bytes` into `out` at `at`, returning the offset after them; `out` was sized to fit.
fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> usize {
    let end = at + bytes.len();
    if let Some(dst) = out.get_mut(at..end) {
        dst.copy_from_slice(bytes);
    }
    end
}

#[cfg(test)]
mod tests {
    use super::super::{Compound, NtpTimestamp, Packet};
    use super::*;
    use proptest::prelude::*;

    fn block_strategy() -> impl Strategy<Value = ReportBlock> {
        (
            any::<u32>(),
            any::<u8>(),
            -0x80_0000i32..=0x7f_ffff,
            any::<[u32; 4]>(),
        )
            .prop_map(
                |(ssrc, fraction_lost, cumulative_lost, [e, j, l, d])| ReportBlock {
                    ssrc,
                    fraction_lost,
                    cumulative_lost,
                    extended_highest_sequence: e,
                    jitter: j,
                    last_sr: l,
                    delay_since_last_sr: d,
                },
            )
    }

    fn info_strategy() -> impl Strategy<Value = SenderInfo> {
        any::<(u32, u64, u32, u32, u32)>().prop_map(|(ssrc, ntp, rtp, packets, octets)| {
            SenderInfo {
                ssrc,
                ntp_timestamp: NtpTimestamp(ntp),
                rtp_timestamp: rtp,
                packet_count: packets,
                octet_count: octets,
            }
        })
    }

    /// SDES chunks as plain data: SSRC, then items as (type, text).
    type Chunks = Vec<(u32, Vec<(u8, Vec<u8>)>)>;

    /// SDES chunks: SSRC and items of any kind but 0, text up to 255 bytes.
    fn chunks_strategy() -> impl Strategy<Value = Chunks> {
        prop::collection::vec(
            (
                any::<u32>(),
                prop::collection::vec(
                    (1u8..=255, prop::collection::vec(any::<u8>(), 0..=255)),
                    0..4,
                ),
            ),
            0..4,
        )
    }

    fn padding_strategy() -> impl Strategy<Value = u8> {
        prop_oneof![Just(0u8), (1u8..=63).prop_map(|w| w * 4)]
    }

    /// Writes the chunks as one SDES packet.
    fn write_chunks(w: &mut Writer<'_>, chunks: &Chunks) {
        let items: Vec<Vec<SdesItem<'_>>> = chunks
            .iter()
            .map(|(_, items)| {
                items
                    .iter()
                    .map(|(kind, value)| SdesItem { kind: *kind, value })
                    .collect()
            })
            .collect();
        let refs: Vec<(u32, &[SdesItem<'_>])> = chunks
            .iter()
            .zip(&items)
            .map(|((ssrc, _), items)| (*ssrc, items.as_slice()))
            .collect();
        w.source_description(&refs).unwrap();
    }

    /// The chunks an SDES view holds, in the strategy's shape.
    fn read_chunks(packet: Option<Packet<'_>>) -> Chunks {
        let Some(Packet::SourceDescription(sdes)) = packet else {
            panic!("expected SDES, got {packet:?}");
        };
        sdes.chunks()
            .map(|c| {
                (
                    c.ssrc,
                    c.items().map(|i| (i.kind, i.value.to_vec())).collect(),
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// SR + SDES: build → parse gives back every field.
        #[test]
        fn sender_report_and_sdes_round_trip(
            info in info_strategy(),
            blocks in prop::collection::vec(block_strategy(), 0..=31),
            chunks in chunks_strategy(),
            padding in padding_strategy(),
        ) {
            let mut buf = vec![0u8; 4096];
            let mut w = Writer::new(&mut buf);
            w.sender_report(&info, &blocks).unwrap();
            write_chunks(&mut w, &chunks);
            let len = if padding == 0 { w.finish() } else { w.finish_padded(padding).unwrap() };

            let compound = Compound::parse(&buf[..len]).unwrap();
            prop_assert_eq!(compound.padding_len(), padding);
            let mut packets = compound.iter();
            let Some(Packet::SenderReport(sr)) = packets.next() else {
                panic!("expected SR");
            };
            prop_assert_eq!(sr.sender_info(), info);
            prop_assert_eq!(sr.report_blocks().collect::<Vec<_>>(), blocks);
            prop_assert_eq!(sr.extension(), &[][..]);
            prop_assert_eq!(read_chunks(packets.next()), chunks);
            prop_assert!(packets.next().is_none());
        }

        /// RR + SDES + BYE: build → parse gives back every field.
        #[test]
        fn receiver_report_sdes_bye_round_trip(
            ssrc in any::<u32>(),
            blocks in prop::collection::vec(block_strategy(), 0..=31),
            cname in prop::collection::vec(any::<u8>(), 0..=255),
            sources in prop::collection::vec(any::<u32>(), 0..=31),
            reason in prop::option::of(prop::collection::vec(any::<u8>(), 0..=255)),
            padding in padding_strategy(),
        ) {
            let mut buf = vec![0u8; 4096];
            let mut w = Writer::new(&mut buf);
            w.receiver_report(ssrc, &blocks).unwrap();
            w.cname(ssrc, &cname).unwrap();
            w.goodbye(&sources, reason.as_deref()).unwrap();
            let len = if padding == 0 { w.finish() } else { w.finish_padded(padding).unwrap() };

            let compound = Compound::parse(&buf[..len]).unwrap();
            prop_assert_eq!(compound.padding_len(), padding);
            let packets: Vec<Packet<'_>> = compound.iter().collect();
            let [Packet::ReceiverReport(rr), Packet::SourceDescription(sdes), Packet::Goodbye(bye)] =
                packets[..]
            else {
                panic!("expected RR, SDES, BYE: {packets:?}");
            };
            prop_assert_eq!(rr.ssrc(), ssrc);
            prop_assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks);
            prop_assert_eq!(sdes.cname(ssrc), Some(cname.as_slice()));
            prop_assert_eq!(bye.sources().collect::<Vec<_>>(), sources);
            prop_assert_eq!(bye.reason(), reason.as_deref());
        }
    }

    #[test]
    fn sdes_chunk_layout() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.cname(0x0102_0304, b"ab").unwrap();
        let len = w.finish();
        // 4 header + 4 SSRC + 2 item header + 2 text + null, padded to 16.
        assert_eq!(len, 16);
        assert_eq!(
            buf[..16],
            [0x81, 202, 0, 3, 1, 2, 3, 4, 1, 2, b'a', b'b', 0, 0, 0, 0]
        );
        // Item ending exactly on a boundary still gets a whole word of nulls.
        let mut w = Writer::new(&mut buf);
        w.cname(1, b"abcdef").unwrap();
        assert_eq!(w.finish(), 20);
    }

    #[test]
    fn writer_rejects_what_does_not_fit() {
        let mut buf = [0u8; 40];
        let mut w = Writer::new(&mut buf);
        assert_eq!(
            w.receiver_report(1, &[ReportBlock::default(); 2]),
            Err(Error::BufferTooSmall {
                needed: 56,
                available: 40
            })
        );
        assert!(w.is_empty(), "a failed packet writes nothing");
        assert_eq!(
            w.receiver_report(1, &[ReportBlock::default(); 32]),
            Err(Error::TooMany(32))
        );
        assert_eq!(w.goodbye(&[], Some(&[0; 256])), Err(Error::TextLength(256)));
        assert_eq!(w.app(0, 1, *b"name", b"abc"), Err(Error::BodyLength(3)));
        assert_eq!(w.raw(205, 32, &[]), Err(Error::TooMany(32)));
        w.goodbye(&[1], None).unwrap();
        assert_eq!(w.finish_padded(3), Err(Error::PaddingLength(3)));
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.len(), 0);
        assert_eq!(
            Writer::new(&mut [0u8; 8]).finish_padded(4),
            Err(Error::PaddingLength(4))
        );
        w.goodbye(&[1], None).unwrap();
        assert_eq!(w.finish_padded(4), Ok(12));
    }

    #[test]
    fn cumulative_lost_is_clamped_to_24_bits() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let blocks = [
            ReportBlock {
                cumulative_lost: 10_000_000,
                ..ReportBlock::default()
            },
            ReportBlock {
                cumulative_lost: -10_000_000,
                fraction_lost: 0xff,
                ..ReportBlock::default()
            },
        ];
        w.receiver_report(1, &blocks).unwrap();
        let len = w.finish();
        let compound = Compound::parse(&buf[..len]).unwrap();
        let Some(Packet::ReceiverReport(rr)) = compound.iter().next() else {
            panic!("expected RR");
        };
        let read: Vec<_> = rr.report_blocks().collect();
        assert_eq!(read[0].cumulative_lost, 0x7f_ffff);
        assert_eq!(read[1].cumulative_lost, -0x80_0000);
        assert_eq!(read[1].fraction_lost, 0xff);
    }
}
