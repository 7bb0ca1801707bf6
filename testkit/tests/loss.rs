//! Loss accounting through the pair, against what the link really dropped (RFC 3550 A.3): the
//! client counts every lost packet, loses exactly the frames that missed one, and shows the
//! rest intact. Repair is off here (`repair.rs` has it on).

use std::time::Duration;

use hdstream_testkit::{Impairment, Pair, PairConfig};

fn lossy(seed: u64, loss: f64) -> Pair {
    let mut pair = Pair::new(PairConfig {
        frames: 60,
        link: Impairment {
            loss,
            mtu: Some(1400),
            ..Impairment::default()
        },
        repair: false,
        seed,
        ..PairConfig::default()
    });
    pair.run_until_done(Duration::from_secs(20));
    pair
}

/// The client's count of lost packets is exactly what the link dropped.
fn counts_every_lost_packet(seed: u64, loss: f64) {
    let pair = lossy(seed, loss);
    let link = pair.rtp_link();
    let s = pair.client_stats();
    assert!(link.lost > 0, "the seed drops something");
    assert_eq!(s.packets_lost, link.lost as i64, "{s:?} {link:?}");
    assert_eq!(s.packets_received, link.delivered);
}

#[test]
fn every_lost_packet_is_counted_at_1_percent() {
    counts_every_lost_packet(11, 0.01);
}

#[test]
fn every_lost_packet_is_counted_at_2_percent() {
    counts_every_lost_packet(14, 0.02);
}

#[test]
fn every_lost_packet_is_counted_at_5_percent() {
    counts_every_lost_packet(15, 0.05);
}

#[test]
fn every_lost_packet_is_counted_at_10_percent() {
    counts_every_lost_packet(16, 0.10);
}

#[test]
fn frames_missing_a_packet_are_lost_the_rest_intact() {
    let pair = lossy(12, 0.02);
    let s = pair.client_stats();
    assert!(s.frames_lost > 0);
    assert_eq!(s.frames_received + s.frames_lost, 60, "{s:?}");
    assert_eq!(
        pair.released.len() as u64,
        s.frames_received - s.frames_late
    );
    pair.assert_released_intact();
}

#[test]
fn same_seed_same_run() {
    let a = lossy(13, 0.05);
    let b = lossy(13, 0.05);
    assert_eq!(a.released_npt_ms(), b.released_npt_ms());
    assert_eq!(a.client_stats().packets_lost, b.client_stats().packets_lost);
}
