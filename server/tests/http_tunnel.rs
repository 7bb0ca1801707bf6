//! RTSP tunnelled in HTTP on the HTTP port (issue 20, the QuickTime tunnel: a GET and a POST
//! joined by `x-sessioncookie`): ffmpeg (`-rtsp_transport http`) and GStreamer (`rtsph://`)
//! play a file through it, every frame identical to their decode of the file; and bad tunnels
//! — a POST with no GET, a cookie used twice, an over-long cookie, bytes that are not base64,
//! a GET whose POST never comes — are refused or closed, each alone, beside a healthy tunnel;
//! the RTSP inside is the core's, Digest users included.
//!
//! ffmpeg and GStreamer both connect to the port of the URL (`rtsp://HOST:PORT/…` with
//! `-rtsp_transport http`, `rtsph://HOST:PORT/…`): the HTTP port's, 8080 by default.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Clip, DECODE_TO_CHECKSUMS, checksums, framemd5, tool};
use hdstream_server::core::Config;
use hdstream_server::driver::Handle;

/// 4 s of 1280x720 at 30 fps: 120 frames.
const HD: Clip = Clip::new(1280, 720, 4);

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| HD.path())
}

fn tunnel_server(name: &str, config: Config) -> (Handle, SocketAddr) {
    let root = common::media_root(name, &[("clip.mjpeg", file())]);
    let server = common::serve_http(&root, config);
    let http = server.http.expect("the HTTP port listens");
    (server, http)
}

/// Which frames of `reference` are missing from `got` (matched in order), and whether `got`
/// holds anything else.
fn assert_every_frame(reference: &[String], got: &[String], who: &str, log: &str) {
    let (missing, k) = common::missing_in_order(reference, got, 0);
    assert!(
        missing.is_empty() && k == got.len(),
        "{who}: {} frames decoded, {} in the file; not received identical: {missing:?}\n{log}",
        got.len(),
        reference.len()
    );
}

#[test]
fn ffmpeg_plays_through_the_tunnel_every_frame_identical() {
    let (reference, done) = framemd5(&["-i", file().to_str().unwrap()], Duration::from_secs(60));
    assert!(done.status.success(), "ffmpeg decodes the file");
    assert_eq!(reference.len(), 120);
    let (_server, http) = tunnel_server("tunnel-ffmpeg", Config::default());
    let url = format!("rtsp://{http}/clip.mjpeg");
    let (md5s, done) = framemd5(
        &["-rtsp_transport", "http", "-i", &url],
        Duration::from_secs(40),
    );
    assert!(
        done.status.success(),
        "ffmpeg through the tunnel exits 0: {:?}\n{}",
        done.status,
        done.stderr
    );
    assert_every_frame(
        &reference,
        &md5s,
        "ffmpeg -rtsp_transport http",
        &done.stderr,
    );
}

#[test]
fn gstreamer_plays_rtsph_every_frame_identical() {
    let decoded = common::run(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "filesrc"])
            .arg(format!("location={}", file().display()))
            .args(["!", "jpegparse"])
            .args(DECODE_TO_CHECKSUMS),
        Duration::from_secs(60),
    );
    assert!(decoded.status.success(), "{}", decoded.stderr);
    let reference = checksums(&decoded.stdout_text());
    assert_eq!(reference.len(), 120);
    let (_server, http) = tunnel_server("tunnel-gst", Config::default());
    let child = common::spawn(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "-e", "rtspsrc"])
            .arg(format!("location=rtsph://{http}/clip.mjpeg"))
            .args(["latency=500", "!", "rtpjpegdepay"])
            .args(DECODE_TO_CHECKSUMS),
    );
    // rtspsrc ends on the server's BYE; else SIGINT after the file and a margin.
    let done = child.stop_after(Duration::from_secs(4 + 20), Duration::from_secs(5));
    let got = checksums(&done.stdout_text());
    assert_every_frame(&reference, &got, "GStreamer rtsph://", &done.stderr);
}

/// A raw tunnel half: a connection with a request head sent.
fn half(http: SocketAddr, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(http).expect("connect to the HTTP port");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s
}

fn get_head(cookie: &str) -> String {
    format!(
        "GET /clip.mjpeg HTTP/1.0\r\nx-sessioncookie: {cookie}\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n"
    )
}

fn post_head(cookie: &str) -> String {
    format!(
        "POST /clip.mjpeg HTTP/1.0\r\nx-sessioncookie: {cookie}\r\nContent-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n"
    )
}

/// Reads until `needle` has arrived (or the close, or 15 s): what came.
fn read_until(s: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !out.windows(needle.len()).any(|w| w == needle) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Reads to the server's close (at most 15 s): what came, and whether it closed.
fn read_to_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
    (out, false)
}

fn status_of(reply: &[u8]) -> u16 {
    std::str::from_utf8(reply.get(9..12).unwrap_or(b""))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A tunnel made by hand: GET, POST, an OPTIONS split across two base64 encodings and two
/// writes, cut mid-quantum; the reply comes on the GET.
fn healthy_tunnel(http: SocketAddr, cookie: &str) -> (TcpStream, TcpStream) {
    let mut get = half(http, &get_head(cookie));
    let head = read_until(&mut get, b"\r\n\r\n");
    assert_eq!(status_of(&head), 200, "{}", String::from_utf8_lossy(&head));
    assert!(
        String::from_utf8_lossy(&head).contains("application/x-rtsp-tunnelled"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut post = half(http, &post_head(cookie));
    let request = format!("OPTIONS rtsp://{http}/clip.mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    let (a, b) = request.split_at(17);
    let body = format!("{}{}", STANDARD.encode(a), STANDARD.encode(b));
    let (x, y) = body.split_at(10);
    post.write_all(x.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    post.write_all(y.as_bytes()).unwrap();
    let reply = read_until(&mut get, b"\r\n\r\n");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("RTSP/1.0 200 OK") && text.contains("CSeq: 1"),
        "the OPTIONS reply on the GET: {text}"
    );
    (get, post)
}

#[test]
fn bad_tunnels_are_refused_each_alone_beside_a_healthy_one() {
    let config = Config {
        request_timeout: Duration::from_secs(2),
        ..Config::default()
    };
    let (_server, http) = tunnel_server("tunnel-hostile", config);
    let (mut get, mut post) = healthy_tunnel(http, "healthy-cookie-1");

    // A POST that no GET waits for: 400, closed.
    let mut orphan = half(http, &post_head("nobody-waits"));
    let (reply, closed) = read_to_close(&mut orphan);
    assert_eq!((status_of(&reply), closed), (400, true), "POST without GET");
    // The healthy tunnel's cookie again, as GET and as POST: 400 each.
    for head in [get_head("healthy-cookie-1"), post_head("healthy-cookie-1")] {
        let (reply, closed) = read_to_close(&mut half(http, &head));
        assert_eq!((status_of(&reply), closed), (400, true), "{head}");
    }
    // No cookie, and one past the bound: 400.
    let long = "c".repeat(129);
    for head in [
        "GET /clip.mjpeg HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n".to_owned(),
        get_head(&long),
    ] {
        let (reply, closed) = read_to_close(&mut half(http, &head));
        assert_eq!((status_of(&reply), closed), (400, true), "{head:.80}");
    }
    // Bytes that are not base64: that tunnel's halves close (after a whole request answered,
    // so that it is not the request timeout that closes them).
    let mut bad_get = half(http, &get_head("bad-body"));
    assert_eq!(status_of(&read_until(&mut bad_get, b"\r\n\r\n")), 200);
    let mut bad_post = half(http, &post_head("bad-body"));
    let options = format!("OPTIONS rtsp://{http}/clip.mjpeg RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    bad_post
        .write_all(STANDARD.encode(options).as_bytes())
        .unwrap();
    let reply = read_until(&mut bad_get, b"\r\n\r\n");
    assert!(
        reply.starts_with(b"RTSP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    bad_post.write_all(b"*&^%").unwrap();
    assert!(read_to_close(&mut bad_post).1, "the bad POST is closed");
    assert!(read_to_close(&mut bad_get).1, "its GET is closed");
    // A GET whose POST never comes: closed after the request timeout.
    let mut lonely = half(http, &get_head("lonely"));
    let (reply, closed) = read_to_close(&mut lonely);
    assert_eq!(status_of(&reply), 200);
    assert!(closed, "a GET with no POST is closed");

    // The healthy tunnel still answers.
    let describe = format!("DESCRIBE rtsp://{http}/clip.mjpeg RTSP/1.0\r\nCSeq: 2\r\n\r\n");
    post.write_all(STANDARD.encode(describe).as_bytes())
        .unwrap();
    let reply = read_until(&mut get, b"m=video");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("RTSP/1.0 200 OK") && text.contains("CSeq: 2"),
        "DESCRIBE through the healthy tunnel: {text}"
    );
    // Its GET closing closes its POST.
    drop(get);
    assert!(read_to_close(&mut post).1, "the POST closes with its GET");
}

#[test]
fn digest_users_apply_through_the_tunnel() {
    let config = Config {
        users: Some(hdstream_server::test_media::alice()),
        ..Config::default()
    };
    let (_server, http) = tunnel_server("tunnel-digest", config);
    let (md5s, done) = framemd5(
        &[
            "-rtsp_transport",
            "http",
            "-i",
            &format!("rtsp://alice:s3cret@{http}/clip.mjpeg"),
        ],
        Duration::from_secs(40),
    );
    assert!(done.status.success(), "alice plays: {}", done.stderr);
    assert_eq!(
        md5s.len(),
        120,
        "every frame, with Digest through the tunnel"
    );
    let (md5s, done) = framemd5(
        &[
            "-rtsp_transport",
            "http",
            "-i",
            &format!("rtsp://alice:guess@{http}/clip.mjpeg"),
        ],
        Duration::from_secs(40),
    );
    assert!(
        !done.status.success() && md5s.is_empty(),
        "a wrong password is refused"
    );
    assert!(
        done.stderr.contains("401"),
        "ffmpeg says 401: {}",
        done.stderr
    );
}
