//! Digest authentication against real clients (RFC 7616 via RFC 2326 §D.1): ffmpeg and
//! GStreamer's `rtspsrc` play with the right credentials and are refused with none or wrong
//! ones; an address that fails 50 times in 5 s is refused while a session from another address
//! goes on with every packet. (Neither ffmpeg 5.1 nor GStreamer 1.22 speaks SHA-256: both take
//! the MD5 challenge, offered last; GStreamer answers without qop, RFC 2069 style.)

use crate::common;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, framemd5, serve, tool, url};
use hdstream_server::access::Users;
use hdstream_server::core::Config;

/// 3 s at 30 fps, 320x240.
const CLIP: Clip = Clip::new(320, 240, 3);

fn users() -> Users {
    hdstream_server::test_media::alice().with_user("bob", "hunter2", vec!["other/*".into()], vec![])
}

fn server(name: &str) -> (hdstream_server::driver::Handle, String) {
    let root = common::media_root(name, &[("clip.mjpeg", &CLIP.path())]);
    let config = Config {
        users: Some(users()),
        ..Config::default()
    };
    let handle = serve(&root, config);
    let url = url(&handle, "clip.mjpeg");
    (handle, url)
}

/// `rtsp://user:password@host:port/clip.mjpeg`.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    url.replacen("rtsp://", &format!("rtsp://{user}:{password}@"), 1)
}

#[test]
fn ffmpeg_plays_with_the_right_credentials_only() {
    let (_server, url) = server("auth-ffmpeg");
    let (md5s, done) = framemd5(
        &[
            "-rtsp_transport",
            "tcp",
            "-i",
            &with_credentials(&url, "alice", "s3cret"),
        ],
        Duration::from_secs(30),
    );
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(md5s.len(), CLIP.frames as usize, "every frame");
    for (case, target) in [
        ("no credentials", url.clone()),
        ("wrong password", with_credentials(&url, "alice", "guess")),
        ("unknown user", with_credentials(&url, "eve", "s3cret")),
    ] {
        let (md5s, done) = framemd5(
            &["-rtsp_transport", "tcp", "-i", &target],
            Duration::from_secs(30),
        );
        assert!(!done.status.success() && md5s.is_empty(), "{case}: refused");
        assert!(
            done.stderr.contains("401"),
            "{case}: ffmpeg says 401: {}",
            done.stderr
        );
    }
    let (md5s, done) = framemd5(
        &[
            "-rtsp_transport",
            "tcp",
            "-i",
            &with_credentials(&url, "bob", "hunter2"),
        ],
        Duration::from_secs(30),
    );
    assert!(
        !done.status.success() && md5s.is_empty(),
        "bob may not watch"
    );
    assert!(
        done.stderr.contains("403"),
        "ffmpeg says 403: {}",
        done.stderr
    );
}

/// Frames GStreamer decodes from `url` with `rtspsrc` `properties`, and its stderr.
fn gstreamer(url: &str, properties: &[&str]) -> (usize, String) {
    let done = common::run(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "-e", "rtspsrc", "protocols=tcp"])
            .arg(format!("location={url}"))
            .args(properties)
            .args(["!", "rtpjpegdepay"])
            .args(common::DECODE_TO_CHECKSUMS),
        Duration::from_secs(30),
    );
    let frames = common::checksums(&done.stdout_text()).len();
    (frames, done.stderr)
}

#[test]
fn gstreamer_plays_with_the_right_credentials_only() {
    let (_server, url) = server("auth-gst");
    let (frames, stderr) = gstreamer(&url, &["user-id=alice", "user-pw=s3cret"]);
    assert_eq!(frames, CLIP.frames as usize, "every frame: {stderr}");
    let (frames, _) = gstreamer(&with_credentials(&url, "alice", "s3cret"), &[]);
    assert_eq!(frames, CLIP.frames as usize, "credentials in the URL");
    for (case, properties) in [
        ("no credentials", &[][..]),
        ("wrong password", &["user-id=alice", "user-pw=guess"][..]),
    ] {
        let (frames, stderr) = gstreamer(&url, properties);
        assert_eq!(frames, 0, "{case}: nothing played");
        assert!(stderr.contains("Unauthorized"), "{case}: {stderr}");
    }
}

/// One DESCRIBE with a wrong Digest answer, from `from`: the status, or 0 when the
/// connection was refused or closed.
fn failed_attempt(server: SocketAddr, from: Ipv4Addr, url: &str) -> u16 {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    if socket
        .connect_timeout(&server.into(), Duration::from_secs(2))
        .is_err()
    {
        return 0;
    }
    let stream: TcpStream = socket.into();
    let mut rtsp = Rtsp::from_stream(stream);
    let wrong = format!(
        "Digest username=\"alice\", realm=\"hdstream\", nonce=\"AAAA\", uri=\"{url}\", response=\"00000000000000000000000000000000\""
    );
    rtsp.try_request("DESCRIBE", url, &[("Authorization", &wrong)])
        .map_or(0, |r| r.status.as_u16())
}

#[test]
fn an_address_failing_50_times_is_refused_and_others_play_on() {
    let (server, url) = server("auth-flood");
    let addr = server.rtsp;
    // A healthy session from 127.0.0.1, playing throughout.
    let healthy = std::thread::spawn({
        let url = with_credentials(&url, "alice", "s3cret");
        move || {
            framemd5(
                &["-rtsp_transport", "udp", "-i", &url],
                Duration::from_secs(30),
            )
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // 50 failures from 127.0.0.2 within 5 s.
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let started = Instant::now();
    let statuses: Vec<u16> = (0..50)
        .map(|_| failed_attempt(addr, attacker, &url))
        .collect();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "50 attempts in 5 s"
    );
    assert!(statuses[..20].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(
        statuses[25..].iter().all(|&s| s == 503 || s == 0),
        "later attempts refused: {statuses:?}"
    );
    let (md5s, done) = healthy.join().unwrap();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(
        md5s.len(),
        CLIP.frames as usize,
        "the healthy session got every frame"
    );
}

/// The exchange itself, raw: the challenges offered, a replayed answer refused, and an expired
/// nonce answered `stale=true`.
#[test]
fn challenges_replays_and_stale_nonces_on_the_wire() {
    use hdstream_common::rtsp::auth::{self, Algorithm, Challenge, Credentials, DigestCredentials};
    let root = common::media_root("auth-raw", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(
        &root,
        Config {
            users: Some(users()),
            nonce_lifetime: Duration::from_secs(1),
            ..Config::default()
        },
    );
    let url = url(&handle, "clip.mjpeg");
    let mut rtsp = Rtsp::connect(handle.rtsp);
    assert_eq!(
        rtsp.request("OPTIONS", &url, &[]).status.as_u16(),
        200,
        "OPTIONS is open"
    );
    let reply = rtsp.request("DESCRIBE", &url, &[]);
    assert_eq!(reply.status.as_u16(), 401);
    let challenges: Vec<Challenge> = reply
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| Challenge::parse(v).expect("a valid challenge"))
        .collect();
    let algorithms: Vec<Option<Algorithm>> = challenges
        .iter()
        .map(|c| match c {
            Challenge::Digest(d) => d.algorithm,
            Challenge::Basic { .. } => None,
        })
        .collect();
    assert_eq!(
        algorithms,
        [Some(Algorithm::Sha256), Some(Algorithm::Md5)],
        "no Basic in the clear"
    );
    let Challenge::Digest(c) = &challenges[0] else {
        unreachable!()
    };
    let answer = |method: &str, uri: &str| {
        let ha1 = auth::ha1(Algorithm::Sha256, "alice", &c.realm, "s3cret");
        let response = auth::response(
            Algorithm::Sha256,
            &ha1,
            &c.nonce,
            Some(("00000001", "ab")),
            method,
            uri,
        );
        Credentials::Digest(DigestCredentials {
            username: "alice".into(),
            realm: c.realm.clone(),
            nonce: c.nonce.clone(),
            uri: uri.into(),
            response,
            algorithm: Some(Algorithm::Sha256),
            opaque: None,
            qop: Some(("00000001".into(), "ab".into())),
        })
        .to_string()
    };
    let good = answer("DESCRIBE", &url);
    assert_eq!(
        rtsp.request("DESCRIBE", &url, &[("Authorization", &good)])
            .status
            .as_u16(),
        200
    );
    let other = url.replace("clip.mjpeg", "other.mjpeg");
    assert_eq!(
        rtsp.request("DESCRIBE", &other, &[("Authorization", &good)])
            .status
            .as_u16(),
        401,
        "replayed for another URL"
    );
    assert_eq!(
        rtsp.request("GET_PARAMETER", &url, &[("Authorization", &good)])
            .status
            .as_u16(),
        401,
        "replayed for another method"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let reply = rtsp.request("DESCRIBE", &url, &[("Authorization", &good)]);
    assert_eq!(reply.status.as_u16(), 401);
    assert!(
        reply
            .headers
            .get_all("WWW-Authenticate")
            .all(|v| v.contains("stale=true")),
        "an expired nonce is stale, not wrong"
    );
}
