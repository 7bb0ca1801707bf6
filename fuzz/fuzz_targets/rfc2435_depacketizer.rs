//! Fuzzes the RFC 2435 depacketizer with arbitrary packet sequences: loss, duplicates,
//! reordering, marker bits, timestamp changes and arbitrary payloads.
//!
//! Input layout: one config byte (bit 0: a small frame cap; bit 1: x-dimensions 3840x2160),
//! then chunks of `ctrl: u8`, `len: u16 BE`, `len` payload bytes, where `ctrl` bit 0 is the
//! RTP marker, bit 1 moves to the next timestamp, bits 2..=3 are the sequence number step
//! (0 duplicate, 1 in order, 2..3 a gap) and bit 4 ends the stream (flush). Every frame that
//! comes out must be a JPEG from SOI to EOI.

#![no_main]

use hdstream_common::rfc2435::{Depacketizer, Output};
use hdstream_common::rtp;
use libfuzzer_sys::fuzz_target;

fn drain(depacketizer: &mut Depacketizer) {
    while let Some(output) = depacketizer.pull() {
        if let Output::Frame(jpeg) = output {
            assert!(jpeg.data.starts_with(&[0xFF, 0xD8]), "frame without SOI");
            assert!(jpeg.data.ends_with(&[0xFF, 0xD9]), "frame without EOI");
            depacketizer.recycle(jpeg.data);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let mut depacketizer = Depacketizer::new();
    if config & 1 != 0 {
        depacketizer.set_max_frame_len(4096);
    }
    if config & 2 != 0 {
        depacketizer.set_dimensions(3840, 2160);
    }
    let mut sequence_number: u16 = 0;
    let mut timestamp: u32 = 0;
    let mut buf = vec![0u8; 12 + usize::from(u16::MAX)];
    while let [ctrl, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        if ctrl & 2 != 0 {
            timestamp = timestamp.wrapping_add(3000);
        }
        sequence_number = sequence_number.wrapping_add(u16::from(ctrl >> 2 & 3));
        let header = rtp::Header {
            marker: ctrl & 1 != 0,
            payload_type: 26,
            sequence_number,
            timestamp,
            ssrc: 1,
        };
        let Ok(n) = header.write(&[payload], &mut buf) else {
            continue;
        };
        let Ok(packet) = rtp::Packet::parse(&buf[..n]) else {
            continue;
        };
        depacketizer.push(&packet);
        if ctrl & 16 != 0 {
            depacketizer.flush();
        }
        drain(&mut depacketizer);
    }
    depacketizer.flush();
    drain(&mut depacketizer);
});
