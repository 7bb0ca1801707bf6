//! Playing through the in-memory pair: every frame, in order, byte for byte, over UDP and
//! interleaved TCP, clean and through delay and jitter, each picture pixel for pixel the file's;
//! the stream ends with BYE and TEARDOWN.

use std::time::Duration;

use hdstream_testkit::media::{pictures_of, pixels};
use hdstream_testkit::{Impairment, Pair, PairConfig};

/// Plays to the end and checks every frame came once, in order, the file's own pixels.
fn plays_every_frame(config: PairConfig) -> Pair {
    hdstream_common::logs::init_for_test("error");
    let frames = config.frames as usize;
    let mut pair = Pair::new(config);
    assert!(
        pair.run_until_done(Duration::from_secs(20)),
        "the client finishes"
    );
    assert!(matches!(pair.client.take_outcome(), Some(Ok(()))));
    let file = pictures_of(&pair.file);
    let s = pair.client_stats();
    let counts = (
        s.frames_received,
        s.frames_lost,
        s.frames_late,
        s.packets_lost,
        s.packets_late,
    );
    assert_eq!(
        pair.released.len(),
        frames,
        "every frame released; (received, lost, late, packets lost, packets late) = {counts:?}; npt ms {:?}",
        pair.released_npt_ms()
    );
    for (k, r) in pair.released.iter().enumerate() {
        assert!(pixels(&r.jpeg) == file[k], "frame {k}: the file's pixels");
        assert!(
            (r.stamp.npt - k as f64 / 30.0).abs() < 1e-6,
            "frame {k} at its NPT"
        );
    }
    let due: Vec<_> = pair.released.iter().map(|r| r.stamp.due).collect();
    assert!(due.windows(2).all(|w| w[1] > w[0]), "due times go forward");
    assert_eq!(pair.server.session_count(), 0, "TEARDOWN ended the session");
    pair
}

#[test]
fn udp_on_a_clean_link() {
    let pair = plays_every_frame(PairConfig::default());
    let s = pair.client_stats();
    assert_eq!((s.packets_lost, s.frames_lost, s.frames_late), (0, 0, 0));
}

#[test]
fn interleaved_tcp() {
    let pair = plays_every_frame(PairConfig {
        tcp: true,
        ..PairConfig::default()
    });
    assert_eq!(pair.rtp_link().sent, 0, "nothing on the datagram link");
}

#[test]
fn through_delay_jitter_and_reordering() {
    let pair = plays_every_frame(PairConfig {
        link: Impairment {
            delay: Duration::from_millis(40),
            jitter: Duration::from_millis(3),
            jitter_reorders: true,
            reorder: 0.05,
            ..Impairment::default()
        },
        ..PairConfig::default()
    });
    let s = pair.client_stats();
    assert!(s.packets_reordered > 0, "{s:?}");
    assert_eq!(s.packets_lost, 0);
}

/// 50 ms of jitter (a queue whose delay varies, order kept) against the 500 ms prebuffer:
/// nothing late, no rebuffer, nothing lost.
#[test]
fn with_50_ms_of_jitter_nothing_is_late() {
    let pair = plays_every_frame(PairConfig {
        link: Impairment {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(50),
            ..Impairment::default()
        },
        ..PairConfig::default()
    });
    let s = pair.client_stats();
    assert_eq!((s.frames_late, s.rebuffer_count, s.packets_lost), (0, 0, 0));
}

#[test]
fn duplicates_are_counted_and_shown_once() {
    let pair = plays_every_frame(PairConfig {
        link: Impairment {
            duplicate: 0.1,
            ..Impairment::default()
        },
        ..PairConfig::default()
    });
    assert!(pair.client_stats().packets_duplicate > 0);
}
