//! Per-frame costs across resolutions: indexing, RFC 2435 packetize and depacketize, and
//! zune-jpeg decode.
//!
//! `cargo bench -p hdstream-benches --features criterion --bench media`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hdstream_common::rfc2435::scan::count_mcus;
use hdstream_common::rfc2435::{Depacketizer, Output, Packetizer, Position};
use hdstream_common::rtp;
use hdstream_video::decoder::Decoder;
use hdstream_video::jpeg::Header;
use hdstream_video::pattern::Pattern;
use hdstream_video::rfc2435::Layout;

/// RTP payload bytes per packet at a 1400-byte MTU (minus IPv4, UDP and RTP headers).
const MAX_PAYLOAD: usize = 1400 - 28 - 12;

const SIZES: [(&str, u16, u16); 4] = [
    ("720p", 1280, 720),
    ("1080p", 1920, 1080),
    ("1440p", 2560, 1440),
    ("2160p", 3840, 2160),
];

fn frame(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    Pattern::new(width, height)
        .encode(7, 80, &mut jpeg)
        .expect("encode test pattern");
    jpeg
}

/// Every RTP packet of `jpeg`, as a server sends them.
fn packets(jpeg: &[u8]) -> Vec<Vec<u8>> {
    let layout = layout(jpeg);
    let frame = layout.frame(jpeg).expect("layout fits its frame");
    let mut out = Vec::new();
    for (i, fragment) in Packetizer::new(&frame, MAX_PAYLOAD)
        .expect("packetizer")
        .enumerate()
    {
        let mut buf = vec![0; 1500];
        let h = rtp::Header {
            marker: fragment.marker,
            payload_type: 26,
            sequence_number: i as u16,
            timestamp: 9000,
            ssrc: 1,
        };
        let n = h
            .write(&[fragment.header(), fragment.data], &mut buf)
            .expect("write");
        buf.truncate(n);
        out.push(buf);
    }
    out
}

/// The server's per-frame cost: the index stored the frame's RFC 2435 layout at open, so a
/// send slices the mapped bytes by it and writes the fragments (RTP header + RFC 2435 §3.1
/// headers + data).
fn packetize(c: &mut Criterion) {
    let mut group = c.benchmark_group("packetize");
    for (name, w, h) in SIZES {
        let jpeg = frame(w, h);
        let layout = layout(&jpeg);
        group.throughput(Throughput::Bytes(jpeg.len() as u64));
        let mut buf = vec![0u8; 1500];
        group.bench_with_input(BenchmarkId::from_parameter(name), &jpeg, |b, jpeg| {
            b.iter(|| {
                let frame = layout.frame(jpeg).expect("layout fits its frame");
                let mut total = 0;
                for fragment in Packetizer::new(&frame, MAX_PAYLOAD).expect("packetizer") {
                    let h = rtp::Header {
                        marker: fragment.marker,
                        payload_type: 26,
                        sequence_number: 0,
                        timestamp: 0,
                        ssrc: 1,
                    };
                    total += h
                        .write(&[fragment.header(), fragment.data], &mut buf)
                        .expect("write");
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

/// The index's per-frame cost at open: the JPEG marker walk and entropy scan, then the
/// RFC 2435 readiness check that yields the stored layout.
fn index(c: &mut Criterion) {
    let mut group = c.benchmark_group("index");
    for (name, w, h) in SIZES {
        let jpeg = frame(w, h);
        group.throughput(Throughput::Bytes(jpeg.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &jpeg, |b, jpeg| {
            b.iter(|| black_box(layout(jpeg)))
        });
    }
    group.finish();
}

fn layout(jpeg: &[u8]) -> Layout {
    let header = Header::parse(jpeg).expect("parse");
    hdstream_video::rfc2435::layout(&header).expect("RFC 2435-ready")
}

fn depacketize(c: &mut Criterion) {
    let mut group = c.benchmark_group("depacketize");
    for (name, w, h) in SIZES {
        let jpeg = frame(w, h);
        let packets = packets(&jpeg);
        group.throughput(Throughput::Bytes(jpeg.len() as u64));
        let mut depacketizer = Depacketizer::new();
        depacketizer.set_dimensions(w, h);
        let mut ts = 0u32;
        let mut seq = 0u16;
        group.bench_with_input(BenchmarkId::from_parameter(name), &packets, |b, packets| {
            b.iter(|| {
                ts = ts.wrapping_add(3000);
                let mut buf = [0u8; 1500];
                for p in packets {
                    // Re-stamp so every iteration is a new frame in sequence.
                    let parsed = rtp::Packet::parse(p).expect("parse");
                    let h = rtp::Header {
                        sequence_number: seq,
                        timestamp: ts,
                        ..parsed.header()
                    };
                    seq = seq.wrapping_add(1);
                    let n = h.write(&[parsed.payload()], &mut buf).expect("write");
                    depacketizer.push(&rtp::Packet::parse(&buf[..n]).expect("parse"));
                }
                match depacketizer.pull() {
                    Some(Output::Frame(jpeg)) => {
                        let len = jpeg.data.len();
                        depacketizer.recycle(jpeg.data);
                        black_box(len)
                    }
                    other => panic!("expected a frame, got {other:?}"),
                }
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(20);
    for (name, w, h) in SIZES {
        let jpeg = frame(w, h);
        group.throughput(Throughput::Elements(1));
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        group.bench_with_input(BenchmarkId::from_parameter(name), &jpeg, |b, jpeg| {
            b.iter(|| black_box(decoder.decode_0rgb(jpeg, &mut out).expect("decode")))
        });
    }
    group.finish();
}

/// A sender that cuts a frame a run at a time (the server: a few packets per pacing slot) and
/// resumes the packetizer at each run's offset: restart-marker media, 2160p, one resume every
/// `run` fragments, against cutting the frame in one go.
fn resume(c: &mut Criterion) {
    let mut group = c.benchmark_group("packetize_resumed");
    group.sample_size(20);
    let mut jpeg = Vec::new();
    let settings = hdstream_video::encoder::Settings {
        quality: 80,
        restart: hdstream_video::encoder::Restart::Rows(1),
    };
    Pattern::new(3840, 2160)
        .encode_with(7, settings, &mut jpeg)
        .expect("encode test pattern");
    let layout = layout(&jpeg);
    group.throughput(Throughput::Bytes(jpeg.len() as u64));
    // Resumed from an offset (the restart markers before it counted again) or from a
    // position (offset and restart count: what the server keeps).
    for (run, by_position) in [
        (usize::MAX, true),
        (16, false),
        (16, true),
        (4, false),
        (4, true),
    ] {
        let name = match (run, by_position) {
            (usize::MAX, _) => "2160p_rst/whole".to_owned(),
            (run, false) => format!("2160p_rst/every_{run}_from_offset"),
            (run, true) => format!("2160p_rst/every_{run}_from_position"),
        };
        group.bench_function(name, |b| {
            let frame = layout.frame(&jpeg).expect("layout fits its frame");
            b.iter(|| {
                let mut at = Position::default();
                let mut total = 0;
                loop {
                    let mut p = Packetizer::new(&frame, MAX_PAYLOAD).expect("packetizer");
                    if by_position {
                        p.resume(at);
                    } else {
                        p.resume_at(at.offset);
                    }
                    let mut n = 0;
                    for fragment in p.by_ref() {
                        total += fragment.data.len();
                        n += 1;
                        if n == run {
                            break;
                        }
                    }
                    if p.next_len().is_none() {
                        break;
                    }
                    at = p.position();
                }
                black_box(total)
            })
        });
    }
    group.finish();
}

/// What a depacketizer spends once per stream (the first frame of each header size, without
/// `a=x-dimensions`) to learn the size from the scan: its MCUs counted by walking the Huffman
/// symbols — next to `decode`, which does that and the pixels too.
fn measure(c: &mut Criterion) {
    let mut group = c.benchmark_group("count_mcus");
    group.sample_size(20);
    for (name, w, h) in SIZES {
        let jpeg = frame(w, h);
        let layout = layout(&jpeg);
        let frame = layout.frame(&jpeg).expect("layout fits its frame");
        group.throughput(Throughput::Bytes(frame.scan.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &frame, |b, frame| {
            b.iter(|| black_box(count_mcus(frame.scan, frame.subsampling)))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    index,
    packetize,
    resume,
    depacketize,
    measure,
    decode
);
criterion_main!(benches);
