//! Fuzzes the course payload's depacketizer (raw JPEG bytes, whole or in pieces, any of the
//! course's senders) with arbitrary packet sequences, laid out as `shared/packets.rs` reads
//! them. Every frame that comes out must run from SOI to EOI, and frame numbers only go up.

#![no_main]

#[path = "shared/packets.rs"]
mod packets;

use hdstream_common::course::{Depacketizer, Output};
use libfuzzer_sys::fuzz_target;

fn drain(depacketizer: &mut Depacketizer, last: &mut Option<i64>) {
    while let Some(output) = depacketizer.pull() {
        let number = match output {
            Output::Frame(frame) => {
                assert!(frame.data.starts_with(&[0xFF, 0xD8]), "frame without SOI");
                assert!(frame.data.ends_with(&[0xFF, 0xD9]), "frame without EOI");
                let number = frame.number;
                depacketizer.recycle(frame.data);
                number
            }
            Output::Lost { number, .. } => number,
        };
        assert!(last.is_none_or(|l| number > l), "frame numbers go up");
        *last = Some(number);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut depacketizer = Depacketizer::new();
    let mut last = None;
    packets::for_each(data, |packet, ext, flush| {
        depacketizer.push(packet, ext);
        if flush {
            depacketizer.flush();
        }
        drain(&mut depacketizer, &mut last);
    });
    depacketizer.flush();
    drain(&mut depacketizer, &mut last);
});
