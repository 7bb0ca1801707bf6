//! RTP packet parser (RFC 3550 §5.1): parsing never panics, and a packet that parses is
//! rebuilt from its fields by the writer into the same bytes (all but the padding octets
//! before the count, whose content the sender chooses).

#![no_main]

use hdstream_common::rtp::{Extras, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let csrcs: Vec<u32> = packet.csrcs().collect();
    assert_eq!(csrcs.len(), usize::from(packet.csrc_count()));
    let extras = Extras {
        csrcs: &csrcs,
        extension: packet.extension(),
        padding: packet.padding_len(),
    };
    let mut out = vec![0u8; data.len()];
    let len = packet
        .header()
        .write_with(&extras, &[packet.payload()], &mut out)
        .expect("a parsed packet fits in its own length");
    assert_eq!(len, data.len());

    let payload_end = data.len() - usize::from(packet.padding_len());
    assert_eq!(out[..payload_end], data[..payload_end]);
    if packet.padding_len() > 0 {
        assert_eq!(out.last(), data.last(), "the padding count");
    }

    let again = Packet::parse(&out).expect("the rebuilt packet parses");
    assert_eq!(format!("{again:?}"), format!("{packet:?}"));
    assert_eq!(again.payload(), packet.payload());
});
