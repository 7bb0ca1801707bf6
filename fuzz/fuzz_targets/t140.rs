//! Arbitrary bytes as RFC 4103 T.140 traffic. The first byte sets the line limit; the rest is
//! a run of packets, each a length byte (its top bit: mark a loss first) and that many payload
//! bytes, fed to a depacketizer as payloads and, parsed as RTP, to a second one. Neither may
//! panic, nor return a line over the limit or with a control character or a new line in it.
//! The same bytes, read as text, go through the packetizer and back: the lines must be the
//! caption's.

#![no_main]

use hdstream_common::rtp;
use hdstream_common::text::Cue;
use hdstream_common::text::t140::{self, Depacketizer, Packetizer};
use libfuzzer_sys::fuzz_target;

fn check(d: &mut Depacketizer, max: usize) {
    assert!(d.partial().len() <= max);
    while let Some(line) = d.pull() {
        assert!(line.text.len() <= max);
        assert!(
            !line
                .text
                .chars()
                .any(|c| c.is_control() || c == t140::LINE_SEPARATOR),
            "{line:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, mut rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(limit).max(4);
    let mut plain = Depacketizer::new();
    let mut from_rtp = Depacketizer::new();
    plain.set_max_line(max);
    from_rtp.set_max_line(max);
    let mut timestamp = 0u32;
    while let Some((&head, after)) = rest.split_first() {
        let len = usize::from(head & 0x7F).min(after.len());
        let (payload, after) = after.split_at(len);
        rest = after;
        timestamp = timestamp.wrapping_add(u32::from(head));
        if head & 0x80 != 0 {
            plain.lose(timestamp);
        }
        plain.push(timestamp, payload);
        if let Ok(packet) = rtp::Packet::parse(payload) {
            from_rtp.push_packet(&packet, 98);
        }
        check(&mut plain, max);
        check(&mut from_rtp, max);
    }
    plain.flush(timestamp);
    from_rtp.flush(timestamp);
    check(&mut plain, max);
    check(&mut from_rtp, max);

    // Round trip: the caption's lines come back, each whole (a line limit above the text).
    let text = String::from_utf8_lossy(&data[1..]);
    let cue = Cue::new(Default::default(), Default::default(), text.as_ref());
    let mut packetizer = Packetizer::new(max);
    let mut d = Depacketizer::new();
    d.set_max_line(text.len() + 4);
    for block in packetizer.push(&cue) {
        assert!(block.data.len() <= max);
        d.push(block.timestamp, &block.data);
    }
    let written = t140::write(&text);
    let body = written.trim_end_matches(t140::LINE_SEPARATOR);
    let expected: Vec<&str> = if body.is_empty() {
        Vec::new()
    } else {
        body.split('\n').collect()
    };
    let got: Vec<String> = std::iter::from_fn(|| d.pull()).map(|l| l.text).collect();
    assert_eq!(got, expected);
});
