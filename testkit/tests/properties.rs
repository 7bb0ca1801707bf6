//! Properties of playback through any bad link, with repair on (RFC 4585/4588): whatever the
//! loss (0–20 %), reordering, duplication and delay, no broken frame is ever released — each
//! is pixel for pixel the file's frame at its time, once — and every frame of the file is
//! released or counted lost or late, never more than one of them.

use std::collections::BTreeSet;
use std::time::Duration;

use hdstream_testkit::media::{pictures_of, pixels};
use hdstream_testkit::{Impairment, Pair, PairConfig};
use proptest::prelude::*;

const FRAMES: u64 = 30;

proptest! {
    // Each case plays a second of video in simulated time (tens of milliseconds of CPU).
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn no_broken_frame_and_every_frame_accounted_for(
        loss in 0.0..0.2f64,
        reorder in 0.0..0.1f64,
        duplicate in 0.0..0.05f64,
        delay_ms in 0u64..30,
        seed in any::<u64>(),
    ) {
        let mut pair = Pair::new(PairConfig {
            frames: FRAMES,
            link: Impairment {
                loss,
                reorder,
                duplicate,
                delay: Duration::from_millis(delay_ms),
                mtu: Some(1400),
                ..Impairment::default()
            },
            seed,
            ..PairConfig::default()
        });
        pair.run_until_done(Duration::from_secs(30));
        let s = pair.client_stats();
        let file = pictures_of(&pair.file);
        let mut seen = BTreeSet::new();
        for r in &pair.released {
            let k = (r.stamp.npt * 30.0).round() as usize;
            prop_assert!(k < file.len(), "frame {k} is in the file");
            prop_assert!(pixels(&r.jpeg) == file[k], "frame {k} released intact");
            prop_assert!(seen.insert(k), "frame {k} released once");
        }
        prop_assert!(
            pair.released.len() as u64 + s.frames_lost + s.frames_late == FRAMES,
            "released {} + lost {} + late {} over {FRAMES}",
            pair.released.len(), s.frames_lost, s.frames_late
        );
    }
}
