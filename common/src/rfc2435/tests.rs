//! End-to-end tests: real JPEGs from jpeg-encoder, packetized, depacketized and decoded with
//! zune-jpeg; and shared test helpers.

use std::sync::OnceLock;

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use proptest::prelude::*;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;

use super::{Depacketizer, Frame, Output, Packetizer, Subsampling};
use crate::rtp;

/// RTP payload type hdstream uses for JPEG (RFC 3551).
const PT_JPEG: u8 = 26;

/// One RTP packet's bytes.
pub(super) fn rtp_packet(
    sequence_number: u16,
    timestamp: u32,
    marker: bool,
    payload: &[&[u8]],
) -> Vec<u8> {
    let header = rtp::Header {
        marker,
        payload_type: PT_JPEG,
        sequence_number,
        timestamp,
        ssrc: 0x1234_5678,
    };
    let mut out = vec![0; 12 + payload.iter().map(|p| p.len()).sum::<usize>()];
    let n = header.write(payload, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Pushes every packet, then pulls every output.
pub(super) fn depacketize(depacketizer: &mut Depacketizer, packets: &[Vec<u8>]) -> Vec<Output> {
    let mut outputs = Vec::new();
    for bytes in packets {
        depacketizer.push(&rtp::Packet::parse(bytes).unwrap());
        outputs.extend(std::iter::from_fn(|| depacketizer.pull()));
    }
    outputs
}

/// The RTP packets of one frame, first sequence number `seq`.
fn packetize(frame: &Frame<'_>, max_payload: usize, seq: u16, timestamp: u32) -> Vec<Vec<u8>> {
    Packetizer::new(frame, max_payload)
        .unwrap()
        .enumerate()
        .map(|(i, f)| {
            assert!(f.len() <= max_payload);
            rtp_packet(
                seq.wrapping_add(i as u16),
                timestamp,
                f.marker,
                &[f.header(), f.data],
            )
        })
        .collect()
}

/// A deterministic test picture: gradients and some texture, so every block has AC energy.
fn picture(width: u16, height: u16) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
            rgb.push((x * 255 / u32::from(width)) as u8 ^ noise as u8);
            rgb.push((y * 255 / u32::from(height)) as u8);
            rgb.push(((x + y) * 4) as u8);
        }
    }
    rgb
}

/// A baseline JPEG with the standard Huffman tables.
fn encode(width: u16, height: u16, sampling: SamplingFactor, restart_interval: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(sampling);
    encoder.set_optimized_huffman_tables(false);
    if restart_interval != 0 {
        encoder.set_restart_interval(restart_interval);
    }
    encoder
        .encode(&picture(width, height), width, height, ColorType::Rgb)
        .unwrap();
    out
}

/// Decoded RGB pixels and (width, height).
fn decode(jpeg: &[u8]) -> (Vec<u8>, (usize, usize)) {
    let mut decoder = JpegDecoder::new(ZCursor::new(jpeg));
    let pixels = decoder.decode().unwrap();
    (pixels, decoder.dimensions().unwrap())
}

fn be16(bytes: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]))
}

/// A minimal JPEG marker walk, test-only (the real parser is the video crate's): the
/// [`Frame`] of a baseline JPEG with three components.
fn frame_of(jpeg: &[u8]) -> Frame<'_> {
    assert_eq!(jpeg[..2], [0xFF, 0xD8]);
    let mut tables: [&[u8]; 4] = [&[]; 4];
    let (mut width, mut height, mut restart_interval) = (0, 0, 0);
    let mut components = [(0u8, 0u8); 3]; // (sampling, table)
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF, "marker expected at {pos}");
        let code = jpeg[pos + 1];
        let len = be16(jpeg, pos + 2);
        let body = &jpeg[pos + 4..pos + 2 + len];
        pos += 2 + len;
        match code {
            0xDB => {
                let mut rest = body;
                while let [pq_tq, ..] = *rest {
                    let n = 64 << (pq_tq >> 4);
                    tables[usize::from(pq_tq & 3)] = &rest[1..1 + n];
                    rest = &rest[1 + n..];
                }
            }
            0xC0 => {
                height = be16(body, 1) as u16;
                width = be16(body, 3) as u16;
                assert_eq!(body[5], 3);
                for (i, c) in components.iter_mut().enumerate() {
                    *c = (body[6 + 3 * i + 1], body[6 + 3 * i + 2]);
                }
            }
            0xDD => restart_interval = be16(body, 0) as u16,
            0xDA => break,
            _ => {}
        }
    }
    // The scan ends at the first marker that is neither stuffing (FF 00) nor RSTn.
    let end = (pos..jpeg.len() - 1)
        .find(|&i| jpeg[i] == 0xFF && jpeg[i + 1] != 0 && !(0xD0..=0xD7).contains(&jpeg[i + 1]))
        .unwrap();
    assert_eq!(jpeg[end..end + 2], [0xFF, 0xD9]);
    let subsampling = match components[0].0 {
        0x21 => Subsampling::Yuv422,
        0x22 => Subsampling::Yuv420,
        other => panic!("sampling {other:#x}"),
    };
    assert_eq!(components[1], (0x11, components[2].1));
    Frame {
        subsampling,
        width,
        height,
        luma_table: tables[usize::from(components[0].1)],
        chroma_table: tables[usize::from(components[1].1)],
        restart_interval,
        scan: &jpeg[pos..end],
    }
}

/// Packetizes `jpeg` at each payload size, depacketizes, and checks the rebuilt JPEG decodes
/// to exactly the original's pixels.
fn assert_round_trip(jpeg: &[u8], max_payloads: &[usize], dimensions: Option<(u16, u16)>) {
    let frame = frame_of(jpeg);
    let (pixels, size) = decode(jpeg);
    for (i, &max_payload) in max_payloads.iter().enumerate() {
        let timestamp = 90_000 * i as u32;
        let packets = packetize(&frame, max_payload, 65_530, timestamp);
        let mut depacketizer = Depacketizer::new();
        if let Some((w, h)) = dimensions {
            depacketizer.set_dimensions(w, h);
        }
        let outputs = depacketize(&mut depacketizer, &packets);
        let [Output::Frame(rebuilt)] = &outputs[..] else {
            panic!("max payload {max_payload}: {outputs:?}");
        };
        assert_eq!(rebuilt.timestamp, timestamp);
        assert_eq!((rebuilt.width, rebuilt.height), (frame.width, frame.height));
        assert_eq!(rebuilt.first_sequence_number, 65_530);
        assert_eq!(
            rebuilt.last_sequence_number,
            65_530u16.wrapping_add(packets.len() as u16 - 1)
        );
        assert!(rebuilt.data.ends_with(&[0xFF, 0xD9]));
        assert!(!rebuilt.data.ends_with(&[0xFF, 0xD9, 0xFF, 0xD9]));
        let (rebuilt_pixels, rebuilt_size) = decode(&rebuilt.data);
        assert_eq!(rebuilt_size, size, "max payload {max_payload}");
        assert!(
            rebuilt_pixels == pixels,
            "pixels differ at max payload {max_payload}"
        );
    }
}

const MAX_PAYLOADS: [usize; 4] = [200, 1400, 1472 - 12, 8972];

#[test]
fn yuv420_round_trips_to_identical_pixels() {
    let jpeg = encode(320, 240, SamplingFactor::F_2_2, 0);
    assert_round_trip(&jpeg, &MAX_PAYLOADS, None);
}

#[test]
fn yuv422_round_trips_to_identical_pixels() {
    let jpeg = encode(320, 240, SamplingFactor::F_2_1, 0);
    assert_round_trip(&jpeg, &MAX_PAYLOADS, None);
}

#[test]
fn restart_intervals_round_trip_to_identical_pixels() {
    for sampling in [SamplingFactor::F_2_2, SamplingFactor::F_2_1] {
        let jpeg = encode(176, 144, sampling, 3);
        assert_eq!(frame_of(&jpeg).restart_interval, 3);
        assert_round_trip(&jpeg, &MAX_PAYLOADS, None);
    }
}

#[test]
fn sizes_not_multiple_of_16_round_trip_with_exact_dimensions() {
    // 8-pixel units carry 200 x 120 exactly; 100 x 75 needs the exact size from SDP.
    let jpeg = encode(200, 120, SamplingFactor::F_2_2, 0);
    assert_round_trip(&jpeg, &[1400], None);
    let jpeg = encode(100, 75, SamplingFactor::F_2_2, 0);
    assert_round_trip(&jpeg, &[1400], Some((100, 75)));
}

#[test]
fn qhd_frame_travels_with_zero_size_and_x_dimensions() {
    let jpeg = encode(2560, 1440, SamplingFactor::F_2_2, 0);
    let frame = frame_of(&jpeg);
    let first = Packetizer::new(&frame, 1400).unwrap().next().unwrap();
    assert_eq!(
        first.header()[6..8],
        [0, 0],
        "width and height over 2040 travel as 0"
    );
    assert_round_trip(&jpeg, &[1400, 8972], Some((2560, 1440)));

    // Without x-dimensions the frame cannot be rebuilt.
    let packets = packetize(&frame, 8972, 0, 0);
    let outputs = depacketize(&mut Depacketizer::new(), &packets);
    assert_eq!(
        outputs,
        [Output::Lost {
            timestamp: 0,
            reason: super::Loss::UnknownDimensions
        }]
    );
}

/// Test JPEGs for the loss property, encoded once.
fn loss_corpus() -> &'static [(Vec<u8>, Vec<u8>)] {
    static CORPUS: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        [
            encode(64, 48, SamplingFactor::F_2_2, 0),
            encode(320, 240, SamplingFactor::F_2_1, 0),
            encode(160, 120, SamplingFactor::F_2_2, 4),
        ]
        .into_iter()
        .map(|jpeg| {
            let pixels = decode(&jpeg).0;
            (jpeg, pixels)
        })
        .collect()
    })
}

/// How fragments of one frame are dropped.
#[derive(Debug, Clone)]
enum Drop {
    None,
    /// Fragment `i` goes when bit `i % 64` is set (possibly every fragment).
    Mask(u64),
    /// Exactly one fragment goes: `n % fragments`.
    One(usize),
}

/// The packets `drop` leaves.
fn survivors(packets: Vec<Vec<u8>>, drop: &Drop) -> Vec<Vec<u8>> {
    let n = packets.len();
    packets
        .into_iter()
        .enumerate()
        .filter(|(i, _)| match drop {
            Drop::None => true,
            Drop::Mask(mask) => mask & (1 << (i % 64)) == 0,
            Drop::One(j) => *i != j % n,
        })
        .map(|(_, p)| p)
        .collect()
}

fn drop_strategy() -> impl Strategy<Value = Drop> {
    prop_oneof![
        2 => Just(Drop::None),
        1 => any::<u64>().prop_map(Drop::Mask),
        1 => any::<usize>().prop_map(Drop::One),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over a sequence of frames with random fragments lost: a frame that lost nothing comes
    /// back decoding to identical pixels; one that lost some (not all) fragments is reported
    /// lost and never returned; one that lost all is never heard of.
    #[test]
    fn lost_fragments_lose_exactly_their_frames(
        max_payload in 200usize..9000,
        first_seq in any::<u16>(),
        frames in prop::collection::vec((0usize..3, drop_strategy()), 1..6),
    ) {
        let corpus = loss_corpus();
        let mut depacketizer = Depacketizer::new();
        let mut seq = first_seq;
        let mut outputs = Vec::new();
        // (timestamp, corpus index, fragments sent, fragments total)
        let mut expected = Vec::new();
        for (k, (index, drop)) in frames.iter().enumerate() {
            let timestamp = 3000 * k as u32;
            let frame = frame_of(&corpus[*index].0);
            let packets = packetize(&frame, max_payload, seq, timestamp);
            seq = seq.wrapping_add(packets.len() as u16);
            let n = packets.len();
            let kept = survivors(packets, drop);
            expected.push((timestamp, *index, kept.len(), n));
            outputs.extend(depacketize(&mut depacketizer, &kept));
        }
        depacketizer.flush();
        outputs.extend(std::iter::from_fn(|| depacketizer.pull()));

        let mut outputs = outputs.into_iter();
        for (timestamp, index, sent, total) in expected {
            if sent == 0 {
                continue;
            }
            let output = outputs.next();
            if sent == total {
                let Some(Output::Frame(jpeg)) = output else {
                    panic!("frame {timestamp} complete but got {output:?}");
                };
                prop_assert_eq!(jpeg.timestamp, timestamp);
                prop_assert!(decode(&jpeg.data).0 == corpus[index].1, "pixels differ");
            } else {
                let Some(Output::Lost { timestamp: lost, .. }) = output else {
                    panic!("frame {timestamp} lost {} of {total} but got {output:?}", total - sent);
                };
                prop_assert_eq!(lost, timestamp);
            }
        }
        prop_assert_eq!(outputs.next(), None);
    }
}

/// [`picture`] moved right by `shift` pixels: another frame of the same scene.
fn moved_picture(width: u16, height: u16, shift: usize) -> Vec<u8> {
    let rgb = picture(width, height);
    let row = usize::from(width) * 3;
    let mut out = Vec::with_capacity(rgb.len());
    for line in rgb.chunks(row) {
        let cut = row - (shift * 3) % row;
        out.extend_from_slice(&line[cut..]);
        out.extend_from_slice(&line[..cut]);
    }
    out
}

/// 4:2:0 JPEGs of the moving picture with a restart marker every MCU row (width / 16 MCUs).
fn restart_frames(width: u16, height: u16, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|k| {
            let mut out = Vec::new();
            let mut encoder = Encoder::new(&mut out, 80);
            encoder.set_sampling_factor(SamplingFactor::F_2_2);
            encoder.set_optimized_huffman_tables(false);
            encoder.set_restart_interval(width.div_ceil(16));
            encoder
                .encode(
                    &moved_picture(width, height, 13 * k),
                    width,
                    height,
                    ColorType::Rgb,
                )
                .unwrap();
            out
        })
        .collect()
}

/// Pixels (RGB) of `got` that differ from `want` where `outside` holds for (x, y).
fn differing(
    got: &[u8],
    want: &[u8],
    width: usize,
    mut outside: impl FnMut(usize, usize) -> bool,
) -> usize {
    got.chunks(3)
        .zip(want.chunks(3))
        .enumerate()
        .filter(|&(i, (a, b))| a != b && outside(i % width, i / width))
        .count()
}

/// Outputs without their bytes, to print.
fn summary(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .map(|o| match o {
            Output::Frame(j) => format!("frame {} concealed {:?}", j.timestamp, j.concealed),
            Output::Lost { timestamp, reason } => format!("lost {timestamp}: {reason}"),
        })
        .collect()
}

/// Packetized frames at `max_payload`, timestamps 3000 apart, one sequence run.
fn packetize_all(jpegs: &[Vec<u8>], max_payload: usize) -> Vec<Vec<Vec<u8>>> {
    let mut seq = 100u16;
    jpegs
        .iter()
        .enumerate()
        .map(|(k, jpeg)| {
            let packets = packetize(&frame_of(jpeg), max_payload, seq, 3000 * k as u32);
            seq = seq.wrapping_add(packets.len() as u16);
            packets
        })
        .collect()
}

#[test]
fn lost_restart_intervals_are_taken_from_the_frame_before() {
    let (w, h) = (320u16, 240u16);
    let jpegs = restart_frames(w, h, 2);
    let frames = packetize_all(&jpegs, 300);
    assert!(frames[1].len() > 20, "{} fragments", frames[1].len());
    // Lose two fragments of the second frame, in the middle.
    let mid = frames[1].len() / 2;
    let mut packets: Vec<Vec<u8>> = frames[0].clone();
    packets.extend(
        frames[1]
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != mid && *i != mid + 3)
            .map(|(_, p)| p.clone()),
    );
    let mut depacketizer = Depacketizer::new();
    depacketizer.set_conceal(true);
    let outputs = depacketize(&mut depacketizer, &packets);
    let [Output::Frame(first), Output::Frame(second)] = &outputs[..] else {
        panic!("{:?}", summary(&outputs));
    };
    assert_eq!(first.concealed, None, "the first frame is intact");
    let concealed = second.concealed.as_ref().expect("the second is concealed");
    let lost = concealed.interval_count();
    assert!((1..=4).contains(&lost), "{concealed:?}");
    assert_eq!((concealed.mcu, concealed.mcus_across), ((16, 16), 20));
    let (before, _) = decode(&jpegs[0]);
    let (truth, _) = decode(&jpegs[1]);
    let (shown, size) = decode(&second.data);
    assert_eq!(size, (320, 240));
    let width = usize::from(w);
    // Outside the lost rows (and the one pixel row chroma upsampling blends across an edge)
    // every pixel is the frame's own; inside, the frame before's.
    assert_eq!(
        differing(&shown, &truth, width, |x, y| !concealed.covers(x, y, 1)),
        0
    );
    let interior = |x: usize, y: usize| {
        concealed.covers(x, y, 0)
            && concealed.covers(x, y.saturating_sub(1), 0)
            && concealed.covers(x, (y + 1).min(usize::from(h) - 1), 0)
    };
    assert_eq!(differing(&shown, &before, width, interior), 0);
    assert!(differing(&shown, &truth, width, |_, _| true) > 0);
    // With concealment off the same loss loses the frame.
    let mut plain = Depacketizer::new();
    let outputs = depacketize(&mut plain, &packets);
    assert!(
        matches!(&outputs[..], [Output::Frame(_), Output::Lost { .. }]),
        "{:?}",
        summary(&outputs)
    );
}

/// Restart-row frames for the concealment property, with their pixels, encoded once.
fn restart_corpus() -> &'static [(Vec<u8>, Vec<u8>)] {
    static CORPUS: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        restart_frames(160, 128, 4)
            .into_iter()
            .map(|jpeg| {
                let pixels = decode(&jpeg).0;
                (jpeg, pixels)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With concealment, over frames with random fragments lost: an intact frame decodes to
    /// its own pixels; a damaged one is either lost or shown with its own pixels outside the
    /// concealed intervals and, when the frame just before was shown, that frame's inside
    /// them; one that lost a single fragment right after a frame was shown is always shown.
    #[test]
    fn concealed_frames_are_their_own_outside_the_lost_intervals(
        max_payload in 150usize..1200,
        frames in prop::collection::vec((0usize..4, drop_strategy()), 1..7),
    ) {
        let corpus = restart_corpus();
        let (width, height) = (160usize, 128usize);
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_conceal(true);
        let mut seq = 7u16;
        let mut shown: Option<Vec<u8>> = None;
        for (k, (index, drop)) in frames.iter().enumerate() {
            let timestamp = 3000 * k as u32;
            let packets = packetize(&frame_of(&corpus[*index].0), max_payload, seq, timestamp);
            seq = seq.wrapping_add(packets.len() as u16);
            let n = packets.len();
            let kept = survivors(packets, drop);
            let mut outputs = depacketize(&mut depacketizer, &kept);
            // The frame ends for sure when the next one starts: flush instead.
            depacketizer.flush();
            outputs.extend(std::iter::from_fn(|| depacketizer.pull()));
            if kept.is_empty() {
                prop_assert!(outputs.is_empty());
                shown = None;
                continue;
            }
            prop_assert_eq!(outputs.len(), 1, "{:?}", summary(&outputs));
            let truth = &corpus[*index].1;
            match &outputs[0] {
                Output::Frame(jpeg) => {
                    let pixels = decode(&jpeg.data).0;
                    match &jpeg.concealed {
                        None => {
                            prop_assert_eq!(kept.len(), n, "a damaged frame shown as intact");
                            prop_assert!(pixels == *truth, "intact frame's pixels differ");
                        }
                        Some(c) => {
                            prop_assert!(kept.len() < n && c.interval_count() > 0);
                            let outside = differing(&pixels, truth, width, |x, y| !c.covers(x, y, 1));
                            prop_assert_eq!(outside, 0, "own pixels differ outside {:?}", c);
                            // The frame just before was shown: the picture it left is what
                            // stands in for the lost bands.
                            if let Some(before) = &shown {
                                let deep = |x: usize, y: usize| {
                                    [(x, y), (x.saturating_sub(1), y), ((x + 1).min(width - 1), y),
                                     (x, y.saturating_sub(1)), (x, (y + 1).min(height - 1))]
                                        .iter()
                                        .all(|&(x, y)| c.covers(x, y, 0))
                                };
                                prop_assert_eq!(differing(&pixels, before, width, deep), 0);
                            }
                        }
                    }
                    shown = Some(pixels);
                }
                Output::Lost { .. } => {
                    prop_assert!(kept.len() < n, "an intact frame lost");
                    prop_assert!(
                        !(matches!(drop, Drop::One(_)) && shown.is_some()),
                        "one fragment lost after a frame was shown, yet not concealed"
                    );
                    shown = None;
                }
            }
        }
    }
}

/// The packets of `jpeg` as a sender that wraps sizes over 2040 pixels sends them (ffmpeg 5.1):
/// the width and height bytes are the size in 8-pixel units modulo 256, and no `a=x-dimensions`.
fn wrapped_packets(jpeg: &[u8], max_payload: usize, seq: u16, timestamp: u32) -> Vec<Vec<u8>> {
    let frame = frame_of(jpeg);
    let w8 = (frame.width.div_ceil(8) & 0xFF) as u8;
    let h8 = (frame.height.div_ceil(8) & 0xFF) as u8;
    let mut packets = packetize(&frame, max_payload, seq, timestamp);
    for packet in &mut packets {
        // The RTP header is 12 bytes; the main JPEG header's bytes 6 and 7 are the size.
        packet[12 + 6] = w8;
        packet[12 + 7] = h8;
    }
    packets
}

#[test]
fn the_mcus_of_a_scan_are_counted() {
    for (width, height, sampling, restart) in [
        (320, 240, SamplingFactor::F_2_2, 0),
        (200, 120, SamplingFactor::F_2_1, 0),
        (100, 75, SamplingFactor::F_2_2, 0),
        (176, 144, SamplingFactor::F_2_2, 3),
        (176, 144, SamplingFactor::F_2_1, 5),
    ] {
        let jpeg = encode(width, height, sampling, restart);
        let frame = frame_of(&jpeg);
        let (across, down) = super::restart::mcu_grid(frame.subsampling, width, height);
        assert_eq!(
            super::scan::count_mcus(frame.scan, frame.subsampling),
            Some(across * down),
            "{width}x{height} {sampling:?} restart {restart}"
        );
    }
}

#[test]
fn a_size_wrapped_over_2040_pixels_is_read_from_the_scan() {
    for (width, height, sampling) in [
        (2560, 1440, SamplingFactor::F_2_2),
        (4096, 2160, SamplingFactor::F_2_1),
    ] {
        let jpeg = encode(width, height, sampling, 0);
        let (pixels, size) = decode(&jpeg);
        let mut depacketizer = Depacketizer::new();
        // Two frames: the first is measured, the second takes what the first taught.
        for round in 0..2 {
            let packets = wrapped_packets(&jpeg, 1400, round * 5000, u32::from(round) * 3000);
            let outputs = depacketize(&mut depacketizer, &packets);
            let [Output::Frame(rebuilt)] = &outputs[..] else {
                panic!("{width}x{height} round {round}: {outputs:?}");
            };
            assert_eq!((rebuilt.width, rebuilt.height), (width, height));
            let (rebuilt_pixels, rebuilt_size) = decode(&rebuilt.data);
            assert_eq!(rebuilt_size, size);
            assert!(rebuilt_pixels == pixels, "{width}x{height}: pixels differ");
        }
    }
}

#[test]
fn a_scan_that_cannot_be_walked_leaves_the_header_size() {
    let jpeg = encode(320, 240, SamplingFactor::F_2_2, 0);
    let frame = frame_of(&jpeg);
    // Scan bytes no Huffman walk gets far in: all ones, then a short valid tail.
    let garbage = vec![0xFE; 64];
    let broken = Frame {
        scan: &garbage,
        ..frame
    };
    let packets = packetize(&broken, 1400, 0, 0);
    let outputs = depacketize(&mut Depacketizer::new(), &packets);
    let [Output::Frame(rebuilt)] = &outputs[..] else {
        panic!("{outputs:?}");
    };
    assert_eq!((rebuilt.width, rebuilt.height), (320, 240));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any size and either sampling: the walk counts the encoder's MCU grid.
    #[test]
    fn mcu_counts_match_the_grid(width in 8u16..400, height in 8u16..300, wide in any::<bool>()) {
        let sampling = if wide { SamplingFactor::F_2_1 } else { SamplingFactor::F_2_2 };
        let jpeg = encode(width, height, sampling, 0);
        let frame = frame_of(&jpeg);
        let (across, down) = super::restart::mcu_grid(frame.subsampling, width, height);
        prop_assert_eq!(
            super::scan::count_mcus(frame.scan, frame.subsampling),
            Some(across * down)
        );
    }
}
