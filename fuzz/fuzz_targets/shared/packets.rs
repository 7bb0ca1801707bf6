//! Turns fuzz input into a sequence of RTP packets of one stream, for the depacketizer targets.
//!
//! Layout: chunks of `ctrl: u8`, `len: u16 BE`, `len` payload bytes, where `ctrl` bit 0 is the
//! RTP marker, bit 1 moves to the next timestamp (bit 5 instead jumps it backwards, a sender
//! that restarts), bits 2..=3 are the sequence number step (0 duplicate, 1 in order, 2..3 a
//! gap) and bit 4 ends the stream after the packet (flush).

use hdstream_common::rtp;

/// Calls `each(packet, extended sequence number, flush)` for every packet in `data`.
pub fn for_each(mut data: &[u8], mut each: impl FnMut(&rtp::Packet<'_>, u64, bool)) {
    let mut sequence_number: u64 = 0;
    let mut timestamp: u32 = 0;
    let mut buf = vec![0u8; 12 + usize::from(u16::MAX)];
    while let [ctrl, l0, l1, tail @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        data = tail;
        if ctrl & 2 != 0 {
            timestamp = timestamp.wrapping_add(3000);
        } else if ctrl & 32 != 0 {
            timestamp = timestamp.wrapping_sub(90_000);
        }
        sequence_number += u64::from(ctrl >> 2 & 3);
        let header = rtp::Header {
            marker: ctrl & 1 != 0,
            payload_type: 26,
            sequence_number: sequence_number as u16,
            timestamp,
            ssrc: 1,
        };
        let Ok(n) = header.write(&[payload], &mut buf) else {
            continue;
        };
        let Ok(packet) = rtp::Packet::parse(&buf[..n]) else {
            continue;
        };
        each(&packet, sequence_number, ctrl & 16 != 0);
    }
}
