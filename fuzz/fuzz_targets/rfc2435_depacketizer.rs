//! Fuzzes the RFC 2435 depacketizer with arbitrary packet sequences: loss, duplicates,
//! reordering, marker bits, timestamp changes (and frames sharing one timestamp) and arbitrary
//! payloads.
//!
//! Input layout: one config byte (bit 0: a small frame cap; bit 1: x-dimensions 3840x2160;
//! bit 2: concealment of lost restart intervals),
//! then packets as `shared/packets.rs` reads them. Every frame that comes out must be a JPEG
//! from SOI to EOI.

#![no_main]

#[path = "shared/packets.rs"]
mod packets;

use hdstream_common::rfc2435::{Depacketizer, Output};
use libfuzzer_sys::fuzz_target;

fn drain(depacketizer: &mut Depacketizer) {
    while let Some(output) = depacketizer.pull() {
        if let Output::Frame(jpeg) = output {
            assert!(jpeg.data.starts_with(&[0xFF, 0xD8]), "frame without SOI");
            assert!(jpeg.data.ends_with(&[0xFF, 0xD9]), "frame without EOI");
            if let Some(concealed) = &jpeg.concealed {
                assert!(concealed.interval_count() > 0, "concealed without a lost interval");
                assert!(concealed.restart_interval > 0, "concealed without restart intervals");
            }
            depacketizer.recycle(jpeg.data);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let mut depacketizer = Depacketizer::new();
    if config & 1 != 0 {
        depacketizer.set_max_frame_len(4096);
    }
    if config & 2 != 0 {
        depacketizer.set_dimensions(3840, 2160);
    }
    if config & 4 != 0 {
        depacketizer.set_conceal(true);
    }
    packets::for_each(rest, |packet, _, flush| {
        depacketizer.push(packet);
        if flush {
            depacketizer.flush();
        }
        drain(&mut depacketizer);
    });
    depacketizer.flush();
    drain(&mut depacketizer);
});
