//! Authentication through the pair (RFC 7616 Digest): the server's users file, the client's
//! credentials, and what each gets.

use std::time::Duration;

use hdstream_client::Error;
use hdstream_client::core::Command;
use hdstream_server::access::Users;
use hdstream_server::core::Config as ServerConfig;
use hdstream_testkit::{Pair, PairConfig};

fn users() -> Users {
    Users {
        realm: "hdstream".into(),
        users: Vec::new(),
    }
    .with_user("alice", "secret", vec!["*".into()], vec![])
    .with_user("bob", "hunter2", vec!["public/*".into()], vec![])
}

fn pair(credentials: Option<(&str, &str)>, frames: u64, nonce_lifetime: Duration) -> Pair {
    Pair::new(PairConfig {
        frames,
        server: ServerConfig {
            users: Some(users()),
            nonce_lifetime,
            ..ServerConfig::default()
        },
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        ..PairConfig::default()
    })
}

fn outcome(pair: &mut Pair) -> Result<(), Error> {
    assert!(
        pair.run_until_done(Duration::from_secs(20)),
        "the client ends"
    );
    pair.client.take_outcome().expect("an outcome")
}

#[test]
fn the_right_user_plays_every_frame() {
    let mut p = pair(Some(("alice", "secret")), 30, Duration::from_secs(300));
    assert!(outcome(&mut p).is_ok());
    assert_eq!(p.released.len(), 30);
    p.assert_released_intact();
}

#[test]
fn no_wrong_or_unentitled_credentials_play_nothing_and_say_why() {
    for (credentials, expected) in [
        (
            None,
            "401 Unauthorized: the server wants a user name and password",
        ),
        (
            Some(("alice", "guess")),
            "401 Unauthorized: the server refused",
        ),
        (
            Some(("mallory", "x")),
            "401 Unauthorized: the server refused",
        ),
        (Some(("bob", "hunter2")), "403 Forbidden"),
    ] {
        let mut p = pair(credentials, 30, Duration::from_secs(300));
        let err = outcome(&mut p).expect_err("refused");
        assert!(err.to_string().contains(expected), "{credentials:?}: {err}");
        assert!(matches!(
            err,
            Error::Unauthorized { .. } | Error::Forbidden { .. }
        ));
        assert!(p.released.is_empty(), "{credentials:?}: nothing played");
    }
}

/// Nonces good for 1 s; a pause of 2 s: the PLAY that resumes carries a stale nonce, the
/// server says so (401 stale=true) and the client asks again by itself.
#[test]
fn a_stale_nonce_is_renewed_without_the_user() {
    let mut p = pair(Some(("alice", "secret")), 90, Duration::from_secs(1));
    p.run_for(Duration::from_millis(1500));
    p.command(Command::Pause);
    p.run_for(Duration::from_millis(2500));
    p.command(Command::Resume);
    assert!(outcome(&mut p).is_ok());
    assert_eq!(p.released.len(), 90, "every frame after the resume too");
    p.assert_released_intact();
}
