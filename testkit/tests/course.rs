//! The course's dialect through the pair: our server answers a course client (our client in
//! its course mode) and every frame arrives, whole JPEGs at 320x240 and raw pieces at 720p.

use std::time::Duration;

use hdstream_testkit::media::{pictures_of, pixels};
use hdstream_testkit::{Pair, PairConfig};

fn course(size: (u16, u16)) -> Pair {
    let mut pair = Pair::new(PairConfig {
        size,
        frames: 20,
        course: true,
        ..PairConfig::default()
    });
    assert!(pair.run_until_done(Duration::from_secs(20)));
    pair
}

fn every_frame_intact(pair: &Pair) {
    let file = pictures_of(&pair.file);
    assert_eq!(pair.released.len(), 20);
    for (k, r) in pair.released.iter().enumerate() {
        assert!(pixels(&r.jpeg) == file[k], "frame {k}");
    }
    let s = pair.client_stats();
    assert_eq!((s.frames_lost, s.packets_lost), (0, 0));
}

#[test]
fn whole_frames() {
    let pair = course((320, 240));
    every_frame_intact(&pair);
    assert_eq!(pair.rtp_link().sent, 20, "one packet a frame");
    assert_eq!(pair.client.total_frames(), Some(20), "Total-Frames read");
}

#[test]
fn hd_frames_in_pieces() {
    let pair = course((1280, 720));
    every_frame_intact(&pair);
    assert!(
        pair.rtp_link().sent > 40,
        "frames over 20 KB leave in pieces"
    );
}

#[test]
fn shown_at_the_sender_s_pace() {
    let pair = course((320, 240));
    // The course container plays at 20 fps: the released frames are 50 ms apart.
    let due: Vec<_> = pair.released.iter().map(|r| r.stamp.due).collect();
    for w in due.windows(2).skip(4) {
        let gap = (w[1] - w[0]).as_secs_f64();
        assert!((gap - 0.05).abs() < 0.002, "{gap}");
    }
}
