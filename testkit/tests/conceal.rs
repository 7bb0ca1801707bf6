//! Concealment through the pair (RFC 2435 §3.1.7): with test media that restarts every MCU
//! row, the server aligns packets with the restart intervals, and a client that lost packets
//! (repair off) still shows the frame — its own pixels wherever its packets arrived, the frame
//! before's in the bands that were lost. Without restart markers the same loss loses frames.

use std::time::Duration;

use hdstream_testkit::{Impairment, Pair, PairConfig, Restart, media};

/// 10 s at 30 fps.
const FRAMES: u64 = 300;

fn lossy(restart: Restart, conceal: bool, loss: f64, seed: u64) -> Pair {
    let mut pair = Pair::new(PairConfig {
        size: (640, 360),
        frames: FRAMES,
        link: Impairment {
            loss,
            mtu: Some(1400),
            ..Impairment::default()
        },
        repair: false,
        restart,
        conceal,
        seed,
        ..PairConfig::default()
    });
    pair.run_until_done(Duration::from_secs(30));
    pair
}

/// Checks every released frame against the file: intact ones pixel for pixel, concealed ones
/// outside their concealed bands (and the one pixel row beside a band that 4:2:0 chroma
/// upsampling blends). Answers (intact, concealed).
fn check_released(pair: &Pair) -> (usize, usize) {
    let file = media::pictures_of(&pair.file);
    let width = 640;
    let (mut intact, mut concealed) = (0, 0);
    let mut seen = std::collections::BTreeSet::new();
    for r in &pair.released {
        let k = (r.stamp.npt * 30.0).round() as usize;
        assert!(seen.insert(k), "frame {k} released once");
        let truth = &file[k];
        let shown = media::pixels(&r.jpeg);
        match &r.concealed {
            None => {
                assert!(shown == *truth, "frame {k} released intact");
                intact += 1;
            }
            Some(c) => {
                let differ = shown
                    .iter()
                    .zip(truth)
                    .enumerate()
                    .filter(|&(i, (a, b))| a != b && !c.covers(i % width, i / width, 1))
                    .count();
                assert_eq!(differ, 0, "frame {k}: own pixels outside {c:?}");
                concealed += 1;
            }
        }
    }
    (intact, concealed)
}

#[test]
fn at_1_percent_loss_restart_media_shows_99_percent_of_frames() {
    let pair = lossy(Restart::Rows(1), true, 0.01, 5);
    let s = pair.client_stats();
    let link = pair.rtp_link();
    assert!(link.lost > 10, "the seed drops packets: {link:?}");
    let (intact, concealed) = check_released(&pair);
    eprintln!(
        "{} packets lost: {intact} frames intact, {concealed} concealed, {} lost",
        link.lost, s.frames_lost
    );
    assert!(concealed > 5, "{concealed} concealed");
    assert_eq!(concealed as u64, s.frames_concealed);
    assert!(
        (intact + concealed) * 100 >= 99 * FRAMES as usize,
        "{intact} intact + {concealed} concealed of {FRAMES}"
    );
    assert_eq!(
        s.frames_received + s.frames_lost,
        FRAMES,
        "each frame shown or lost"
    );
}

#[test]
fn at_5_percent_loss_most_frames_are_still_shown() {
    let pair = lossy(Restart::Rows(1), true, 0.05, 6);
    let s = pair.client_stats();
    let (intact, concealed) = check_released(&pair);
    eprintln!(
        "{intact} intact, {concealed} concealed, {} lost",
        s.frames_lost
    );
    assert!((intact + concealed) * 100 >= 95 * FRAMES as usize);
    assert_eq!(s.frames_received + s.frames_lost, FRAMES);
}

#[test]
fn without_restart_markers_or_with_concealment_off_the_same_loss_loses_frames() {
    for pair in [
        lossy(Restart::None, true, 0.01, 5),
        lossy(Restart::Rows(1), false, 0.01, 5),
    ] {
        let s = pair.client_stats();
        assert_eq!(s.frames_concealed, 0);
        assert!(s.frames_lost > 5, "{} lost", s.frames_lost);
        pair.assert_released_intact();
    }
}
