//! Pacing of a 1440p30 stream over UDP, as a receiver sees it: packets of a frame are spread
//! over the frame interval instead of leaving in one burst.
//!
//! The figures are printed (`cargo nextest run -p hdstream-server --no-capture -E "test(/^pacing::/)"`);
//! only structural facts are asserted, so a busy machine cannot make this fail. Arrival times
//! are taken in user space, so a descheduled receiver sees queued packets as back to back: the
//! figures are an upper bound on burstiness.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, client_ports, recv_until, session_id, udp_pair};
use hdstream_common::rtp;
use hdstream_server::core::Config;

/// 3 s of 2560x1440 at 30 fps (the GStreamer test's file).
const QHD: Clip = Clip::new(2560, 1440, 3);
/// Packets closer together than this count as back to back.
const BACK_TO_BACK: Duration = Duration::from_micros(50);

fn median(sorted: &[f64]) -> f64 {
    sorted[sorted.len() / 2]
}

#[test]
fn packets_of_a_1440p_frame_are_spread_over_its_interval() {
    let root = common::media_root("pacing", &[("f.mjpeg", &QHD.path())]);
    let server = common::serve(&root, Config::default());
    let (rtp_socket, _rtcp) = udp_pair();
    let mut c = Rtsp::connect(server.rtsp);
    let url = common::url(&server, "f.mjpeg");
    let reply = c.request(
        "SETUP",
        &format!("{url}/trackID=0"),
        &[("Transport", &client_ports(&rtp_socket))],
    );
    let id = session_id(&reply);
    assert_eq!(
        c.request("PLAY", &url, &[("Session", &id)]).status.as_u16(),
        200
    );

    // (arrival, sequence number, timestamp, marker) of every packet of the file.
    let mut packets = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut markers = 0;
    while markers < QHD.frames {
        let Some(n) = recv_until(&rtp_socket, &mut buf, deadline) else {
            break;
        };
        let at = Instant::now();
        let p = rtp::Packet::parse(&buf[..n]).expect("valid RTP");
        markers += u32::from(p.marker());
        packets.push((at, p.sequence_number(), p.timestamp(), p.marker()));
    }
    assert_eq!(markers, QHD.frames, "every frame's last packet arrived");
    for w in packets.windows(2) {
        assert_eq!(
            w[1].1,
            w[0].1.wrapping_add(1),
            "no packet lost or reordered"
        );
    }

    // Runs of back-to-back packets: how many of each length.
    let mut runs: BTreeMap<usize, usize> = BTreeMap::new();
    let mut run = 1usize;
    for w in packets.windows(2) {
        if w[1].0 - w[0].0 < BACK_TO_BACK {
            run += 1;
        } else {
            *runs.entry(run).or_default() += 1;
            run = 1;
        }
    }
    *runs.entry(run).or_default() += 1;
    let longest = runs.keys().next_back().copied().unwrap_or(0);
    // Per-frame send spread: first to last packet of one timestamp.
    let mut frames: BTreeMap<u32, (Instant, Instant, usize)> = BTreeMap::new();
    for &(at, _, ts, _) in &packets {
        let e = frames.entry(ts).or_insert((at, at, 0));
        e.1 = at;
        e.2 += 1;
    }
    let multi: Vec<&(Instant, Instant, usize)> = frames.values().filter(|f| f.2 > 1).collect();
    let mut spreads: Vec<f64> = multi
        .iter()
        .map(|f| (f.1 - f.0).as_secs_f64() * 1e3)
        .collect();
    spreads.sort_by(f64::total_cmp);
    let per_frame: Vec<usize> = frames.values().map(|f| f.2).collect();
    let interval = 1e3 / f64::from(QHD.fps);
    println!(
        "pacing 2560x1440@30 over UDP: {} packets, {} frames, {}-{} packets/frame; longest back-to-back run \
         (gap < {} µs): {longest} packets; frame spread ms: median {:.1}, min {:.1}, max {:.1} (interval {interval:.1}); \
         back-to-back runs (length: count) {runs:?}",
        packets.len(),
        frames.len(),
        per_frame.iter().min().unwrap(),
        per_frame.iter().max().unwrap(),
        BACK_TO_BACK.as_micros(),
        median(&spreads),
        spreads[0],
        spreads[spreads.len() - 1],
    );
    assert!(!multi.is_empty(), "1440p frames need several packets");
    assert!(
        spreads[0] > 0.0,
        "every multi-packet frame is spread, not sent in one instant"
    );
    assert!(longest <= 64, "longest back-to-back run {longest} packets");
}
