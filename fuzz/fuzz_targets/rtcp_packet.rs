//! Compound RTCP parser (RFC 3550 §6): parsing never panics; a compound that parses is
//! (1) forwarded packet by packet as raw bodies into the same bytes (padding octets aside), and
//! (2) rebuilt from its parsed fields into a compound that parses to the same fields, and that
//! rebuilds to itself.

#![no_main]

use hdstream_common::rtcp::{Compound, Packet, SdesItem, Writer};
use libfuzzer_sys::fuzz_target;

/// Writes `packet` from its parsed fields (raw where the typed writer cannot represent it).
fn rebuild(w: &mut Writer<'_>, packet: &Packet<'_>) {
    let written = match packet {
        Packet::SenderReport(sr) if sr.extension().is_empty() => {
            let blocks: Vec<_> = sr.report_blocks().collect();
            w.sender_report(&sr.sender_info(), &blocks)
        }
        Packet::ReceiverReport(rr) if rr.extension().is_empty() => {
            let blocks: Vec<_> = rr.report_blocks().collect();
            w.receiver_report(rr.ssrc(), &blocks)
        }
        Packet::SourceDescription(sdes) => {
            let chunks: Vec<(u32, Vec<SdesItem<'_>>)> = sdes
                .chunks()
                .map(|c| (c.ssrc, c.items().collect()))
                .collect();
            let refs: Vec<(u32, &[SdesItem<'_>])> = chunks
                .iter()
                .map(|(ssrc, items)| (*ssrc, items.as_slice()))
                .collect();
            w.source_description(&refs)
        }
        Packet::Goodbye(bye) => {
            let sources: Vec<u32> = bye.sources().collect();
            w.goodbye(&sources, bye.reason())
        }
        Packet::App(app) => w.app(app.subtype(), app.ssrc(), app.name(), app.data()),
        Packet::Nack(nack) => {
            let entries: Vec<(u16, u16)> = nack.entries().collect();
            w.nack(nack.sender_ssrc(), nack.media_ssrc(), &entries)
        }
        other => w.raw(other.packet_type(), other.count(), other.body()),
    };
    written.expect("a parsed packet can be written back");
}

/// Finishes `w` with the same padding as `compound`.
fn finish(w: Writer<'_>, compound: &Compound<'_>) -> usize {
    match compound.padding_len() {
        0 => w.finish(),
        padding => w.finish_padded(padding).expect("parsed padding is valid"),
    }
}

/// The parsed fields of every packet.
fn fields(compound: &Compound<'_>) -> Vec<String> {
    compound.iter().map(|p| format!("{p:?}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(compound) = Compound::parse(data) else {
        return;
    };

    // (1) Raw forwarding reproduces the compound.
    let mut out = vec![0u8; data.len()];
    let mut w = Writer::new(&mut out);
    for packet in &compound {
        w.raw(packet.packet_type(), packet.count(), packet.body())
            .expect("a parsed packet can be forwarded");
    }
    let len = finish(w, &compound);
    assert_eq!(len, data.len());
    let padding = usize::from(compound.padding_len());
    let end = data.len() - padding;
    assert_eq!(out[..end], data[..end]);
    assert_eq!(out.last(), data.last());

    // (2) Rebuilding from fields keeps every field.
    let mut out = vec![0u8; data.len()];
    let mut w = Writer::new(&mut out);
    for packet in &compound {
        rebuild(&mut w, &packet);
    }
    let len = finish(w, &compound);
    let rebuilt = Compound::parse(&out[..len]).expect("the rebuilt compound parses");
    assert_eq!(fields(&rebuilt), fields(&compound));
    assert_eq!(rebuilt.padding_len(), compound.padding_len());

    let mut again = vec![0u8; len];
    let mut w = Writer::new(&mut again);
    for packet in &rebuilt {
        rebuild(&mut w, &packet);
    }
    let again_len = finish(w, &rebuilt);
    assert_eq!(again[..again_len], out[..len], "rebuilding is idempotent");
});
