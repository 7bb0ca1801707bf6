//! Repair of lost packets through the pair (RFC 4585 generic NACK, RFC 4588 retransmission):
//! with the server's offer taken up, frames survive loss that would otherwise take them, every
//! frame shown is the file's own, and retransmission costs little more than what was lost.

use std::time::Duration;

use hdstream_testkit::{Impairment, Pair, PairConfig};

/// The counts that matter here, printable.
fn counts(s: &hdstream_client::stats::NetStats) -> String {
    format!(
        "frames received {} lost {}; packets lost {} repaired {} unrepaired {}; RTX bytes {}",
        s.frames_received,
        s.frames_lost,
        s.packets_lost,
        s.packets_repaired,
        s.packets_unrepaired,
        s.rtx_bytes
    )
}

fn lossy(seed: u64, loss: f64, delay: Duration, repair: bool) -> Pair {
    let mut pair = Pair::new(PairConfig {
        frames: 90,
        link: Impairment {
            loss,
            delay,
            mtu: Some(1400),
            ..Impairment::default()
        },
        repair,
        seed,
        ..PairConfig::default()
    });
    pair.run_until_done(Duration::from_secs(30));
    pair
}

/// Every one of the 90 frames came through and was released intact.
fn every_frame_survives(pair: &Pair) {
    let s = pair.client_stats();
    assert_eq!(
        (s.frames_received, s.frames_lost),
        (90, 0),
        "{}",
        counts(&s)
    );
    assert_eq!(pair.released.len(), 90);
    pair.assert_released_intact();
}

#[test]
fn at_2_percent_loss_every_frame_survives() {
    let pair = lossy(21, 0.02, Duration::ZERO, true);
    let s = pair.client_stats();
    let link = pair.rtp_link();
    assert!(link.lost > 5, "the seed drops packets: {link:?}");
    every_frame_survives(&pair);
    assert!(
        s.packets_repaired > 0 && s.packets_unrepaired == 0,
        "{}",
        counts(&s)
    );
}

#[test]
fn at_5_percent_loss_and_20_ms_each_way_every_frame_survives() {
    let pair = lossy(22, 0.05, Duration::from_millis(20), true);
    every_frame_survives(&pair);
}

#[test]
fn retransmission_costs_at_most_one_and_a_half_times_what_was_lost() {
    let pair = lossy(23, 0.02, Duration::from_millis(5), true);
    let s = pair.client_stats();
    // The link drops datagrams of about the same size, RTX ones included: count bytes as
    // packets of the MTU.
    let lost_bytes = pair.rtp_link().lost as f64 * 1400.0;
    assert!(s.rtx_bytes > 0);
    assert!(
        (s.rtx_bytes as f64) <= 1.5 * lost_bytes,
        "{} RTX bytes for {lost_bytes} lost",
        s.rtx_bytes
    );
}

#[test]
fn without_repair_the_same_loss_takes_frames() {
    let pair = lossy(21, 0.02, Duration::ZERO, false);
    let s = pair.client_stats();
    assert!(s.frames_lost > 0, "{}", counts(&s));
    assert_eq!((s.packets_repaired, s.rtx_bytes), (0, 0));
    pair.assert_released_intact();
}

/// At 1080p a frame is ~150 packets: a repair 40 ms of round trip later comes hundreds of
/// packets behind the newest — beyond RFC 3550's misorder window — and must still go in.
#[test]
fn repairs_far_behind_the_newest_packet_go_in() {
    let mut pair = Pair::new(PairConfig {
        size: (1920, 1080),
        frames: 30,
        link: Impairment {
            loss: 0.01,
            delay: Duration::from_millis(20),
            mtu: Some(1400),
            ..Impairment::default()
        },
        seed: 24,
        ..PairConfig::default()
    });
    pair.run_until_done(Duration::from_secs(30));
    let s = pair.client_stats();
    assert!(s.packets_repaired > 10, "{}", counts(&s));
    assert_eq!(
        (s.frames_received, s.frames_lost, s.packets_lost),
        (30, 0, 0),
        "{}",
        counts(&s)
    );
    pair.assert_released_intact();
}
