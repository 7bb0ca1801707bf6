//! The depacketizer's cases: headers, tables, restart markers, loss, reordering and
//! concealment, one RTP packet at a time.

use super::*;
use crate::rfc2435::header::RestartHeader;
use crate::rfc2435::tables::LUMA_QUANTIZER;
use crate::rfc2435::tests::{depacketize, rtp_packet};

/// A payload: main header, optional restart header, optional quantization table header
/// (precision, tables), data.
fn payload(
    offset: u32,
    jpeg_type: u8,
    q: u8,
    size: (u8, u8),
    restart: Option<RestartHeader>,
    quant: Option<(u8, &[u8])>,
    data: &[u8],
) -> Vec<u8> {
    let main = MainHeader {
        type_specific: 0,
        fragment_offset: offset,
        jpeg_type,
        q,
        width: size.0,
        height: size.1,
    };
    let mut out = main.to_bytes().to_vec();
    if let Some(restart) = restart {
        out.extend(restart.to_bytes());
    }
    if let Some((precision, tables)) = quant {
        out.extend([0, precision]);
        out.extend((tables.len() as u16).to_be_bytes());
        out.extend(tables);
    }
    out.extend(data);
    out
}

/// A packet of a type 1, Q 50, 16x16 frame.
fn simple(seq: u16, ts: u32, marker: bool, offset: u32, data: &[u8]) -> Vec<u8> {
    rtp_packet(
        seq,
        ts,
        marker,
        &[&payload(offset, 1, 50, (2, 2), None, None, data)],
    )
}

fn run(packets: &[Vec<u8>]) -> Vec<Output> {
    depacketize(&mut Depacketizer::new(), packets)
}

fn lost(timestamp: u32, reason: Loss) -> Output {
    Output::Lost { timestamp, reason }
}

fn frame(output: &Output) -> &Jpeg {
    match output {
        Output::Frame(jpeg) => jpeg,
        other => panic!("expected a frame, got {other:?}"),
    }
}

/// Finds a marker segment's body (after its length) in a rebuilt JPEG's headers.
fn segment(jpeg: &[u8], code: u8) -> Option<&[u8]> {
    let mut pos = 2;
    while jpeg.get(pos) == Some(&0xFF) && pos + 4 <= jpeg.len() {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if jpeg[pos + 1] == code {
            return Some(&jpeg[pos + 4..pos + 2 + len]);
        }
        if jpeg[pos + 1] == 0xDA {
            return None;
        }
        pos += 2 + len;
    }
    None
}

#[test]
fn fragments_make_a_complete_jpeg() {
    let outputs = run(&[
        simple(7, 900, false, 0, &[1, 2, 3]),
        simple(8, 900, false, 3, &[4, 5]),
        simple(9, 900, true, 5, &[6]),
    ]);
    let [output] = &outputs[..] else {
        panic!("{outputs:?}")
    };
    let jpeg = frame(output);
    assert_eq!((jpeg.timestamp, jpeg.width, jpeg.height), (900, 16, 16));
    assert_eq!(
        (jpeg.first_sequence_number, jpeg.last_sequence_number),
        (7, 9)
    );
    assert_eq!(jpeg.data[..2], [0xFF, 0xD8]);
    assert!(jpeg.data.ends_with(&[
        0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0, 1, 2, 3, 4, 5, 6, 0xFF, 0xD9
    ]));
    // Q 50 is the standard table itself (Appendix A).
    let dqt = segment(&jpeg.data, 0xDB).unwrap();
    assert_eq!(dqt[1..65], LUMA_QUANTIZER);
    assert_eq!(segment(&jpeg.data, 0xDD), None);
    assert_eq!(
        segment(&jpeg.data, 0xC0).unwrap()[..8],
        [8, 0, 16, 0, 16, 3, 1, 0x22]
    );
}

#[test]
fn eoi_is_added_only_when_missing() {
    let outputs = run(&[simple(1, 0, true, 0, &[9, 0xFF, 0xD9])]);
    let data = &frame(&outputs[0]).data;
    assert!(data.ends_with(&[9, 0xFF, 0xD9]));
    // An FF 00 (stuffed FF) before the end is scan data, not an EOI.
    let outputs = run(&[simple(1, 0, true, 0, &[0xFF, 0x00])]);
    assert!(frame(&outputs[0]).data.ends_with(&[0xFF, 0x00, 0xFF, 0xD9]));
}

#[test]
fn offset_gap_loses_the_frame() {
    let outputs = run(&[
        simple(1, 0, false, 0, &[0; 10]),
        simple(2, 0, true, 20, &[0; 10]),
    ]);
    assert_eq!(
        outputs,
        [lost(
            0,
            Loss::OffsetGap {
                expected: 10,
                got: 20
            }
        )]
    );
}

#[test]
fn missing_first_fragment_loses_the_frame_once() {
    let outputs = run(&[
        simple(2, 0, false, 10, &[0; 10]),
        simple(3, 0, true, 20, &[0; 10]),
        simple(4, 3000, true, 0, &[1]),
    ]);
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0], lost(0, Loss::MissingFirst));
    assert_eq!(frame(&outputs[1]).timestamp, 3000);
}

#[test]
fn missing_last_fragment_loses_the_frame() {
    let outputs = run(&[
        simple(1, 0, false, 0, &[0; 10]),
        simple(3, 3000, true, 0, &[1]),
    ]);
    assert_eq!(outputs[0], lost(0, Loss::MissingLast));
    assert_eq!(frame(&outputs[1]).timestamp, 3000);

    let mut depacketizer = Depacketizer::new();
    assert_eq!(
        depacketize(&mut depacketizer, &[simple(1, 0, false, 0, &[0; 10])]),
        []
    );
    depacketizer.flush();
    assert_eq!(depacketizer.pull(), Some(lost(0, Loss::MissingLast)));
    assert_eq!(depacketizer.pull(), None);
}

#[test]
fn frames_sharing_one_timestamp_each_end_at_their_marker() {
    // A sender that stamps no time: every frame carries timestamp 7.
    let outputs = run(&[
        simple(1, 7, false, 0, &[1; 10]),
        simple(2, 7, true, 10, &[1; 10]),
        simple(3, 7, false, 0, &[2; 10]),
        simple(4, 7, true, 10, &[2; 10]),
        // A stray copy of the first packet of the frame just finished: ignored.
        simple(3, 7, false, 0, &[2; 10]),
        // The marker of this frame is lost: the next frame's first packet ends it.
        simple(5, 7, false, 0, &[3; 10]),
        simple(7, 7, false, 0, &[4; 10]),
        simple(8, 7, true, 10, &[4; 10]),
    ]);
    assert_eq!(outputs.len(), 4, "{outputs:?}");
    assert_eq!(frame(&outputs[0]).first_sequence_number, 1);
    assert_eq!(frame(&outputs[1]).first_sequence_number, 3);
    assert_eq!(outputs[2], lost(7, Loss::MissingLast));
    assert_eq!(frame(&outputs[3]).first_sequence_number, 7);
}

#[test]
fn sequence_gap_inside_a_frame_loses_it() {
    // Offsets agree (say a sender bug or a reordered duplicate), the sequence does not.
    let outputs = run(&[
        simple(1, 0, false, 0, &[0; 10]),
        simple(3, 0, true, 10, &[0; 10]),
    ]);
    assert_eq!(
        outputs,
        [lost(
            0,
            Loss::SequenceGap {
                expected: 2,
                got: 3
            }
        )]
    );
}

#[test]
fn sequence_numbers_wrap_inside_a_frame() {
    let outputs = run(&[
        simple(65_535, 0, false, 0, &[0; 10]),
        simple(0, 0, true, 10, &[0; 10]),
    ]);
    let jpeg = frame(&outputs[0]);
    assert_eq!(
        (jpeg.first_sequence_number, jpeg.last_sequence_number),
        (65_535, 0)
    );
}

#[test]
fn duplicates_and_stray_packets_are_ignored() {
    let mut depacketizer = Depacketizer::new();
    let outputs = depacketize(
        &mut depacketizer,
        &[
            simple(1, 0, false, 0, &[0; 10]),
            simple(1, 0, false, 0, &[0; 10]),
            simple(2, 0, true, 10, &[0; 10]),
            simple(2, 0, true, 10, &[0; 10]),
        ],
    );
    assert_eq!(outputs.len(), 1);
    frame(&outputs[0]);
    assert_eq!(depacketizer.ignored_packets(), 2);
}

#[test]
fn header_changes_inside_a_frame_lose_it() {
    let changed_q = rtp_packet(2, 0, true, &[&payload(10, 1, 60, (2, 2), None, None, &[0])]);
    let changed_size = rtp_packet(2, 0, true, &[&payload(10, 1, 50, (4, 2), None, None, &[0])]);
    let changed_type = rtp_packet(2, 0, true, &[&payload(10, 0, 50, (2, 2), None, None, &[0])]);
    for second in [changed_q, changed_size, changed_type] {
        let outputs = run(&[simple(1, 0, false, 0, &[0; 10]), second]);
        assert_eq!(outputs, [lost(0, Loss::HeaderMismatch)]);
    }
    let restart = |interval| Some(RestartHeader::unaligned(interval));
    let outputs = run(&[
        rtp_packet(
            1,
            0,
            false,
            &[&payload(0, 65, 50, (2, 2), restart(4), None, &[0; 10])],
        ),
        rtp_packet(
            2,
            0,
            true,
            &[&payload(10, 65, 50, (2, 2), restart(5), None, &[0])],
        ),
    ]);
    assert_eq!(outputs, [lost(0, Loss::HeaderMismatch)]);
}

#[test]
fn restart_marker_types_get_a_dri() {
    let restart = Some(RestartHeader::unaligned(0x0102));
    let outputs = run(&[rtp_packet(
        1,
        0,
        true,
        &[&payload(0, 64, 50, (2, 1), restart, None, &[0])],
    )]);
    let jpeg = frame(&outputs[0]);
    assert_eq!(segment(&jpeg.data, 0xDD), Some(&[1, 2][..]));
    assert_eq!(segment(&jpeg.data, 0xC0).unwrap()[7], 0x21);
    assert_eq!((jpeg.width, jpeg.height), (16, 8));
}

#[test]
fn unsupported_types_are_rejected() {
    for jpeg_type in [2, 63, 66, 127, 128, 255] {
        let packet = rtp_packet(
            1,
            0,
            true,
            &[&payload(0, jpeg_type, 50, (2, 2), None, None, &[0])],
        );
        // Types 64..=127 need a restart header to parse at all.
        let packet = if (64..=127).contains(&jpeg_type) {
            let restart = Some(RestartHeader::unaligned(1));
            rtp_packet(
                1,
                0,
                true,
                &[&payload(0, jpeg_type, 50, (2, 2), restart, None, &[0])],
            )
        } else {
            packet
        };
        assert_eq!(run(&[packet]), [lost(0, Loss::UnsupportedType(jpeg_type))]);
    }
}

#[test]
fn reserved_q_values_are_rejected() {
    for q in [0, 100, 127] {
        let packet = rtp_packet(1, 0, true, &[&payload(0, 1, q, (2, 2), None, None, &[0])]);
        assert_eq!(run(&[packet]), [lost(0, Loss::ReservedQ(q))]);
    }
}

#[test]
fn zero_size_needs_x_dimensions() {
    let packet = rtp_packet(1, 0, true, &[&payload(0, 1, 50, (0, 0), None, None, &[0])]);
    assert_eq!(
        run(std::slice::from_ref(&packet)),
        [lost(0, Loss::UnknownDimensions)]
    );
    let mut depacketizer = Depacketizer::new();
    depacketizer.set_dimensions(3840, 2160);
    let outputs = depacketize(&mut depacketizer, &[packet]);
    let jpeg = frame(&outputs[0]);
    assert_eq!((jpeg.width, jpeg.height), (3840, 2160));
    assert_eq!(
        segment(&jpeg.data, 0xC0).unwrap()[1..5],
        [0x08, 0x70, 0x0F, 0x00]
    );
}

#[test]
fn x_dimensions_refine_a_size_that_agrees_in_8_pixel_units() {
    let mut depacketizer = Depacketizer::new();
    depacketizer.set_dimensions(1918, 1078);
    // 240 x 135 blocks = 1920 x 1080: 1918 x 1078 rounds up to the same.
    let packet = rtp_packet(
        1,
        0,
        true,
        &[&payload(0, 1, 50, (240, 135), None, None, &[0])],
    );
    let outputs = depacketize(&mut depacketizer, &[packet]);
    assert_eq!(
        (frame(&outputs[0]).width, frame(&outputs[0]).height),
        (1918, 1078)
    );
    // A size that disagrees is ignored in favour of the header.
    let packet = rtp_packet(
        2,
        1,
        true,
        &[&payload(0, 1, 50, (80, 45), None, None, &[0])],
    );
    let outputs = depacketize(&mut depacketizer, &[packet]);
    assert_eq!(
        (frame(&outputs[0]).width, frame(&outputs[0]).height),
        (640, 360)
    );
}

#[test]
fn in_band_tables_are_used_and_checked() {
    let tables: Vec<u8> = (1..=128).collect();
    let ok = rtp_packet(
        1,
        0,
        true,
        &[&payload(0, 1, 255, (2, 2), None, Some((0, &tables)), &[0])],
    );
    let outputs = run(&[ok]);
    let dqt = segment(&frame(&outputs[0]).data, 0xDB).unwrap();
    assert_eq!(
        dqt,
        [&[0x00][..], &tables[..64], &[0x01], &tables[64..]].concat()
    );

    let wide: Vec<u8> = (0..192).map(|i| i as u8).collect();
    let ok = rtp_packet(
        1,
        0,
        true,
        &[&payload(0, 1, 255, (2, 2), None, Some((0b01, &wide)), &[0])],
    );
    let outputs = run(&[ok]);
    let dqt = segment(&frame(&outputs[0]).data, 0xDB).unwrap();
    assert_eq!((dqt[0], dqt[129]), (0x10, 0x01));

    let short = rtp_packet(
        1,
        0,
        true,
        &[&payload(
            0,
            1,
            255,
            (2, 2),
            None,
            Some((0, &tables[..100])),
            &[0],
        )],
    );
    assert_eq!(
        run(&[short]),
        [lost(
            0,
            Loss::QuantTableLength {
                expected: 128,
                got: 100
            }
        )]
    );
    let mismatch = rtp_packet(
        1,
        0,
        true,
        &[&payload(
            0,
            1,
            255,
            (2, 2),
            None,
            Some((0b11, &[&tables[..], &tables[..64]].concat())),
            &[0],
        )],
    );
    assert_eq!(
        run(&[mismatch]),
        [lost(
            0,
            Loss::QuantTableLength {
                expected: 256,
                got: 192
            }
        )]
    );
    // One table alone (ffmpeg's form when every component uses table 0): both use it.
    let single = rtp_packet(
        1,
        0,
        true,
        &[&payload(
            0,
            1,
            255,
            (2, 2),
            None,
            Some((0, &tables[..64])),
            &[0],
        )],
    );
    let [Output::Frame(jpeg)] = &run(&[single])[..] else {
        panic!("a frame from one table");
    };
    let table = |id: u8| {
        let at = jpeg
            .data
            .windows(2)
            .position(|w| w == [0xFF, 0xDB])
            .unwrap();
        let body = &jpeg.data[at + 4..];
        let mut i = 0;
        loop {
            let (pq_tq, rest) = (body[i], &body[i + 1..]);
            let len = if pq_tq >> 4 == 0 { 64 } else { 128 };
            if pq_tq & 0x0F == id {
                return rest[..len].to_vec();
            }
            i += 1 + len;
        }
    };
    assert_eq!(table(0), table(1), "chroma uses the one table");
    assert_eq!(table(0), tables[..64].to_vec());
}

#[test]
fn tables_are_cached_for_q_128_to_254_only() {
    let empty = |q, seq, ts| {
        rtp_packet(
            seq,
            ts,
            true,
            &[&payload(0, 1, q, (2, 2), None, Some((0, &[])), &[0])],
        )
    };
    assert_eq!(
        run(&[empty(255, 1, 0)]),
        [lost(0, Loss::MissingQuantTables(255))]
    );
    assert_eq!(
        run(&[empty(200, 1, 0)]),
        [lost(0, Loss::MissingQuantTables(200))]
    );

    let tables: Vec<u8> = (1..=128).collect();
    let with = |q, seq, ts| {
        rtp_packet(
            seq,
            ts,
            true,
            &[&payload(0, 1, q, (2, 2), None, Some((0, &tables)), &[0])],
        )
    };
    let outputs = run(&[
        with(200, 1, 0),
        empty(200, 2, 3000),
        with(255, 3, 6000),
        empty(255, 4, 9000),
        empty(201, 5, 12_000),
    ]);
    let first = segment(&frame(&outputs[0]).data, 0xDB).unwrap().to_vec();
    assert_eq!(segment(&frame(&outputs[1]).data, 0xDB).unwrap(), first);
    frame(&outputs[2]);
    assert_eq!(outputs[3], lost(9000, Loss::MissingQuantTables(255)));
    assert_eq!(outputs[4], lost(12_000, Loss::MissingQuantTables(201)));
}

#[test]
fn truncated_payloads_lose_their_frame() {
    let outputs = run(&[rtp_packet(1, 0, true, &[&[0, 0, 0, 0, 1]])]);
    assert_eq!(
        outputs,
        [lost(
            0,
            Loss::Malformed(Error::Truncated {
                needed: 8,
                available: 5
            })
        )]
    );
    // Quantization table header announcing more than the packet holds.
    let outputs = run(&[rtp_packet(
        1,
        0,
        true,
        &[&[0, 0, 0, 0, 1, 255, 2, 2, 0, 0, 0, 128, 1]],
    )]);
    assert_eq!(
        outputs,
        [lost(
            0,
            Loss::Malformed(Error::Truncated {
                needed: 132,
                available: 5
            })
        )]
    );
}

#[test]
fn a_malformed_packet_mid_frame_loses_it_once() {
    let outputs = run(&[
        simple(1, 0, false, 0, &[0; 10]),
        rtp_packet(2, 0, false, &[&[0, 0, 0]]),
        simple(3, 0, true, 13, &[0; 10]),
        simple(4, 3000, true, 0, &[0; 10]),
    ]);
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert!(matches!(
        outputs[0],
        Output::Lost {
            timestamp: 0,
            reason: Loss::Malformed(_)
        }
    ));
    assert_eq!(frame(&outputs[1]).timestamp, 3000);
}

#[test]
fn frames_over_the_cap_are_lost() {
    let mut depacketizer = Depacketizer::new();
    depacketizer.set_max_frame_len(1000);
    let outputs = depacketize(
        &mut depacketizer,
        &[
            simple(1, 0, false, 0, &[0; 500]),
            simple(2, 0, true, 500, &[0; 500]),
        ],
    );
    assert_eq!(outputs, [lost(0, Loss::TooLarge { max: 1000 })]);
}

#[test]
fn scan_data_past_16_mib_is_lost() {
    let chunk = vec![0u8; 60_000];
    let mut packets = Vec::new();
    let mut offset = 0u32;
    let mut seq = 0u16;
    while offset < (1 << 24) {
        packets.push(simple(seq, 0, false, offset, &chunk));
        offset += chunk.len() as u32;
        seq = seq.wrapping_add(1);
    }
    let outputs = run(&packets);
    assert_eq!(outputs, [lost(0, Loss::TooLarge { max: 1 << 24 })]);
}

#[test]
fn unpulled_outputs_stay_bounded() {
    let mut depacketizer = Depacketizer::new();
    for ts in 0..100 {
        let packet = simple(ts as u16, ts, true, 0, &[0]);
        depacketizer.push(&rtp::Packet::parse(&packet).unwrap());
    }
    let outputs: Vec<Output> = std::iter::from_fn(|| depacketizer.pull()).collect();
    assert_eq!(outputs.len(), MAX_QUEUED_OUTPUTS);
    assert_eq!(
        frame(&outputs[0]).timestamp,
        100 - MAX_QUEUED_OUTPUTS as u32
    );
}

#[test]
fn recycled_buffers_are_reused() {
    let mut depacketizer = Depacketizer::new();
    let outputs = depacketize(&mut depacketizer, &[simple(1, 0, true, 0, &[0; 100])]);
    let Some(Output::Frame(jpeg)) = outputs.into_iter().next() else {
        panic!()
    };
    let pointer = jpeg.data.as_ptr();
    depacketizer.recycle(jpeg.data);
    let outputs = depacketize(&mut depacketizer, &[simple(2, 1, true, 0, &[0; 100])]);
    assert_eq!(frame(&outputs[0]).data.as_ptr(), pointer);
}

/// A restart packet of type 65, Q 50, `size` in 8-pixel units, aligned (F/L/count).
fn aligned(
    seq: u16,
    ts: u32,
    marker: bool,
    offset: u32,
    size: (u8, u8),
    restart: (u16, bool, bool, u16),
    data: &[u8],
) -> Vec<u8> {
    let (restart_interval, first, last, restart_count) = restart;
    let header = RestartHeader {
        restart_interval,
        first,
        last,
        restart_count,
    };
    rtp_packet(
        seq,
        ts,
        marker,
        &[&payload(offset, 65, 50, size, Some(header), None, data)],
    )
}

#[test]
fn concealment_believes_no_header_claiming_more_intervals_than_it_can_count() {
    // 65535 x 65535 from x-dimensions with a marker every MCU: 16 million intervals.
    let mut d = Depacketizer::new();
    d.set_conceal(true);
    d.set_dimensions(65535, 65535);
    let interval = |i: u8| [i, i, 0xFF, 0xD0 + i % 8];
    let mut packets = Vec::new();
    for ts in [0u32, 3000] {
        let base = (ts / 3000) as u16 * 10;
        packets.push(aligned(
            base,
            ts,
            false,
            0,
            (0, 0),
            (1, true, true, 0),
            &interval(0),
        ));
        // The packet with interval 1 is lost in the second frame.
        if ts == 0 {
            packets.push(aligned(
                base + 1,
                ts,
                false,
                4,
                (0, 0),
                (1, true, true, 1),
                &interval(1),
            ));
        }
        packets.push(aligned(
            base + 2,
            ts,
            true,
            8,
            (0, 0),
            (1, true, true, 2),
            &[7, 7],
        ));
    }
    let outputs = depacketize(&mut d, &packets);
    assert!(matches!(
        outputs[0],
        Output::Frame(Jpeg {
            concealed: None,
            ..
        })
    ));
    assert!(
        matches!(
            outputs[1],
            Output::Lost {
                reason: Loss::IntervalsLost,
                ..
            }
        ),
        "{:?}",
        outputs.get(1).map(|o| matches!(o, Output::Lost { .. }))
    );
}

#[test]
fn a_run_of_fragments_is_concealed_only_when_whole() {
    // 32 x 16 4:2:0: two MCUs, one interval each; frame 2 loses the first fragment of
    // interval 0's two, and the frame before stands in for it.
    let mut d = Depacketizer::new();
    d.set_conceal(true);
    let size = (4, 2);
    let frame = |seq: u16, ts: u32, a: u8, lose: bool| {
        let mut p = vec![
            aligned(seq, ts, false, 0, size, (1, true, false, 0), &[a, a]),
            aligned(
                seq + 1,
                ts,
                false,
                2,
                size,
                (1, false, true, 0),
                &[a, 0xFF, 0xD0],
            ),
            aligned(
                seq + 2,
                ts,
                true,
                5,
                size,
                (1, true, true, 1),
                &[a + 1, a + 1],
            ),
        ];
        if lose {
            p.remove(0);
        }
        p
    };
    let mut packets = frame(0, 0, 0x10, false);
    packets.extend(frame(3, 3000, 0x20, true));
    let outputs = depacketize(&mut d, &packets);
    let [Output::Frame(first), Output::Frame(second)] = &outputs[..] else {
        panic!("{} outputs", outputs.len());
    };
    assert_eq!(first.concealed, None);
    let c = second.concealed.as_ref().expect("concealed");
    assert_eq!(c.intervals, vec![std::ops::Range { start: 0, end: 1 }]);
    // Interval 0 from the first frame, interval 1 its own; the first frame's headers.
    let scan_of = |jpeg: &[u8]| jpeg[jpeg.len() - 9..].to_vec();
    assert_eq!(
        scan_of(&first.data),
        [0x10, 0x10, 0x10, 0xFF, 0xD0, 0x11, 0x11, 0xFF, 0xD9]
    );
    assert_eq!(
        scan_of(&second.data),
        [0x10, 0x10, 0x10, 0xFF, 0xD0, 0x21, 0x21, 0xFF, 0xD9]
    );
    assert_eq!(first.data.len(), second.data.len());
}
