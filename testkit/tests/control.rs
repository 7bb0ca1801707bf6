//! RTSP control through the pair: pause and resume, seeking, keep-alives through a long pause,
//! and a connection that drops.

use std::time::Duration;

use hdstream_client::core::Command;
use hdstream_server::core::Config as ServerConfig;
use hdstream_testkit::{Pair, PairConfig};

fn three_seconds() -> PairConfig {
    PairConfig {
        frames: 90,
        ..PairConfig::default()
    }
}

#[test]
fn pause_holds_the_picture_and_resume_goes_on_from_the_next_frame() {
    let mut pair = Pair::new(three_seconds());
    pair.run_for(Duration::from_millis(1200));
    pair.command(Command::Pause);
    pair.run_for(Duration::from_millis(200));
    let at_pause = pair.released.len();
    pair.run_for(Duration::from_secs(2));
    assert_eq!(
        pair.released.len(),
        at_pause,
        "nothing released while paused"
    );
    pair.command(Command::Resume);
    assert!(pair.run_until_done(Duration::from_secs(10)));
    let npts = pair.released_npt_ms();
    assert_eq!(npts.len(), 90, "every frame once across the pause");
    assert!(npts.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn a_seek_lands_on_its_target_and_plays_on() {
    let mut pair = Pair::new(three_seconds());
    pair.run_for(Duration::from_millis(900));
    let before = pair.released.len();
    pair.command(Command::Seek { to: 2.0 });
    assert!(pair.run_until_done(Duration::from_secs(10)));
    let after: Vec<_> = pair.released[before..]
        .iter()
        .filter(|r| r.stamp.epoch == 1)
        .collect();
    assert_eq!(
        (after[0].stamp.npt * 30.0).round(),
        60.0,
        "the first frame after the seek is the target's"
    );
    assert_eq!(after.len(), 30, "and the rest of the file");
}

#[test]
fn keep_alives_hold_the_session_through_a_long_pause() {
    let mut pair = Pair::new(PairConfig {
        server: ServerConfig {
            session_timeout: Duration::from_secs(3),
            ..ServerConfig::default()
        },
        ..three_seconds()
    });
    pair.run_for(Duration::from_millis(1000));
    pair.command(Command::Pause);
    pair.run_for(Duration::from_secs(10));
    assert_eq!(pair.server.session_count(), 1, "kept alive for 10 s");
    pair.command(Command::Resume);
    assert!(pair.run_until_done(Duration::from_secs(10)));
    assert_eq!(pair.released.len(), 90);
}

#[test]
fn a_dropped_connection_ends_the_session_and_the_client_with_an_error() {
    let mut pair = Pair::new(three_seconds());
    pair.run_for(Duration::from_millis(1000));
    assert_eq!(pair.server.session_count(), 1);
    pair.disconnect();
    pair.run_for(Duration::from_millis(100));
    assert_eq!(
        pair.server.session_count(),
        0,
        "no session outlives its connection"
    );
    assert!(pair.run_until_done(Duration::from_secs(20)));
    let outcome = pair.client.take_outcome().expect("an outcome");
    assert!(outcome.is_err(), "{outcome:?}");
}
