//! Our client against our server with authentication on, on real sockets: credentials from
//! the URL or the options (Digest SHA-256, the first the server offers), every frame; wrong
//! ones a clear error.

use crate::common;

use common::{Server, pattern_file, recording, serial};
use hdstream_client::{Error, Target, play};
use hdstream_server::core::Config;

fn server() -> Server {
    let config = Config {
        users: Some(hdstream_server::test_media::alice()),
        ..Config::default()
    };
    Server::start_with(&pattern_file(320, 240, 60), 30.0, config)
}

#[test]
fn credentials_in_the_url_or_the_options_play_every_frame() {
    let _serial = serial();
    let server = server();
    let in_url = server.url.replacen("rtsp://", "rtsp://alice:s3cret@", 1);
    let report = play(&recording(Target::Url(in_url))).expect("plays");
    assert_eq!(report.frames_displayed, 60);
    assert!(
        !report.url.contains("s3cret"),
        "no password in the report: {}",
        report.url
    );
    let mut options = recording(Target::Url(server.url.clone()));
    options.credentials = Some(("alice".into(), "s3cret".into()));
    let report = play(&options).expect("plays");
    assert_eq!(report.frames_displayed, 60);
    server.handle.stop().unwrap();
}

#[test]
fn without_or_with_wrong_credentials_the_error_says_so() {
    let _serial = serial();
    let server = server();
    let err = play(&recording(Target::Url(server.url.clone()))).expect_err("refused");
    assert!(
        matches!(err, Error::Unauthorized { tried: false, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("rtsp://user:password@host"),
        "{err}"
    );
    let wrong = server.url.replacen("rtsp://", "rtsp://alice:guess@", 1);
    let err = play(&recording(Target::Url(wrong))).expect_err("refused");
    assert!(
        matches!(err, Error::Unauthorized { tried: true, .. }),
        "{err}"
    );
    server.handle.stop().unwrap();
}
