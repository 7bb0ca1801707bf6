//! Protocol-core costs: RTSP parse, RTP build and parse, RTCP compound, token bucket.
//!
//! `cargo bench -p hdstream-benches --features criterion --bench protocol`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hdstream_common::pacing::TokenBucket;
use hdstream_common::rtsp::{self, Parsed};
use hdstream_common::{rtcp, rtp};

const SETUP: &[u8] = b"SETUP rtsp://127.0.0.1:8554/clip.mjpeg/trackID=0 RTSP/1.0\r\n\
CSeq: 3\r\n\
User-Agent: Lavf60.16.100\r\n\
Transport: RTP/AVP/UDP;unicast;client_port=50000-50001\r\n\
\r\n";

const DESCRIBE_REPLY: &[u8] = b"RTSP/1.0 200 OK\r\n\
CSeq: 2\r\n\
Content-Base: rtsp://127.0.0.1:8554/clip.mjpeg/\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 227\r\n\
\r\n\
v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=clip.mjpeg\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
a=tool:hdstream\r\na=control:*\r\na=range:npt=0-10\r\nm=video 0 RTP/AVP 26\r\n\
a=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\na=framerate:30\r\na=x-dimensions:2560,1440\r\n";

fn rtsp_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtsp_parse");
    for (name, msg) in [("setup_request", SETUP), ("describe_reply", DESCRIBE_REPLY)] {
        group.throughput(Throughput::Bytes(msg.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| match rtsp::parse(black_box(msg)) {
                Ok(Parsed::Complete { consumed, .. }) => consumed,
                other => panic!("{other:?}"),
            })
        });
    }
    group.finish();
}

fn rtp_packets(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtp");
    let payload = vec![0x5a; 1360];
    let header = [0u8; 8];
    let mut buf = vec![0u8; 1500];
    group.throughput(Throughput::Elements(1));
    group.bench_function("build_1372", |b| {
        let mut seq = 0u16;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let h = rtp::Header {
                marker: false,
                payload_type: 26,
                sequence_number: seq,
                timestamp: 0,
                ssrc: 7,
            };
            h.write(&[&header, &payload], &mut buf).expect("write")
        })
    });
    let n = rtp::Header {
        marker: true,
        payload_type: 26,
        sequence_number: 1,
        timestamp: 2,
        ssrc: 3,
    }
    .write(&[&header, &payload], &mut buf)
    .expect("write");
    let packet = buf[..n].to_vec();
    group.bench_function("parse_1372", |b| {
        b.iter(|| {
            let p = rtp::Packet::parse(black_box(&packet)).expect("parse");
            (p.sequence_number(), p.timestamp(), p.payload().len())
        })
    });
    let mut tracker = rtp::SequenceTracker::new();
    group.bench_function("sequence_tracker", |b| {
        let mut seq = 0u16;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(tracker.update(seq))
        })
    });
    group.finish();
}

fn rtcp_compound(c: &mut Criterion) {
    let mut buf = [0u8; 512];
    let info = rtcp::SenderInfo {
        ssrc: 1,
        ntp_timestamp: rtcp::NtpTimestamp(0x1234_5678_9abc_def0),
        rtp_timestamp: 3000,
        packet_count: 10,
        octet_count: 10_000,
    };
    c.bench_function("rtcp/sr_sdes_build_parse", |b| {
        b.iter(|| {
            let mut w = rtcp::Writer::new(&mut buf);
            w.sender_report(&info, &[]).expect("sr");
            w.cname(1, b"hdstream-00000001").expect("sdes");
            let n = w.finish();
            rtcp::Compound::parse(black_box(&buf[..n]))
                .expect("parse")
                .iter()
                .count()
        })
    });
}

fn token_bucket(c: &mut Criterion) {
    let start = Instant::now();
    let mut bucket = TokenBucket::new(20_000_000, 11_000, start);
    let mut now = start;
    c.bench_function("token_bucket/ready_at_take", |b| {
        b.iter(|| {
            now += Duration::from_micros(70);
            let ready = bucket.ready_at(1372, now);
            if ready <= now {
                bucket.take(1372, now);
            }
            black_box(ready)
        })
    });
}

criterion_group!(
    benches,
    rtsp_parse,
    rtp_packets,
    rtcp_compound,
    token_bucket
);
criterion_main!(benches);
