//! RTSPS (RTSP over TLS, rustls) against real clients: ffmpeg (`rtsps://`, media interleaved on
//! the TLS connection) and GStreamer (`rtspsrc`, validation off for the self-signed test
//! certificate) play every frame; plaintext RTSP and garbage on the TLS port are closed without
//! harm to anyone else.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Clip, Rtsp, framemd5, tool};
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen, TlsListen};
use hdstream_server::media::{Catalogue, FpsPolicy};

const CLIP: Clip = Clip::new(320, 240, 3);

/// A self-signed certificate for 127.0.0.1 and localhost (openssl, P-256): (cert, key).
fn certificate(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("hdstream-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let done = common::run(
        Command::new(tool("openssl"))
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args([
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
        Duration::from_secs(20),
    );
    assert!(done.status.success(), "openssl: {}", done.stderr);
    (cert, key)
}

fn server(name: &str) -> Handle {
    common::log();
    let root = common::media_root(name, &[("clip.mjpeg", &CLIP.path())]);
    let (catalogue, _) = Catalogue::open(&root, &FpsPolicy::default()).unwrap();
    let (cert, key) = certificate(name);
    let tls = TlsListen {
        port: 0,
        config: hdstream_server::tls::server_config(&cert, &key).expect("the certificate loads"),
    };
    let listen = Listen {
        bind: common::LOCALHOST,
        port: 0,
        rtp_port: None,
    };
    driver::spawn_with_tls(Config::default(), Arc::new(catalogue), listen, Some(tls)).unwrap()
}

fn rtsps(handle: &Handle) -> String {
    format!(
        "rtsps://{}/clip.mjpeg",
        handle.rtsps.expect("listens for TLS")
    )
}

/// ffmpeg's decode of the file itself.
fn reference() -> Vec<String> {
    let path = CLIP.path().display().to_string();
    framemd5(&["-i", &path], Duration::from_secs(30)).0
}

#[test]
fn ffmpeg_plays_every_frame_over_tls() {
    let handle = server("tls-ffmpeg");
    let (md5s, done) = framemd5(&["-i", &rtsps(&handle)], Duration::from_secs(30));
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(md5s, reference(), "every frame, bit-exact, over TLS");
}

#[test]
fn gstreamer_plays_every_frame_over_tls() {
    let handle = server("tls-gst");
    let done = common::run(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "-e", "rtspsrc", "tls-validation-flags=0"])
            .arg(format!("location={}", rtsps(&handle)))
            .args(["!", "rtpjpegdepay"])
            .args(common::DECODE_TO_CHECKSUMS),
        Duration::from_secs(30),
    );
    let frames = common::checksums(&done.stdout_text()).len();
    assert_eq!(frames, CLIP.frames as usize, "{}", done.stderr);
}

/// Whether the server closes `stream` within 3 s of it sending `bytes` (anything it says
/// back, a TLS alert, is read and dropped); answers what came back.
fn closed_after(stream: &mut TcpStream, bytes: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(bytes).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(got),
        }
    }
    None
}

#[test]
fn plaintext_and_garbage_on_the_tls_port_are_closed_and_harm_nothing() {
    let handle = server("tls-garbage");
    let tls = handle.rtsps.unwrap();
    let mut plain = TcpStream::connect(tls).unwrap();
    let back = closed_after(&mut plain, b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        .expect("plaintext RTSP on the TLS port is closed");
    assert!(!back.starts_with(b"RTSP/1.0"), "no RTSP reply in the clear");
    let mut garbage = TcpStream::connect(tls).unwrap();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(
        closed_after(&mut garbage, &noise).is_some(),
        "garbage is closed"
    );
    // A handshake that starts and stops: only that connection waits.
    let mut half = TcpStream::connect(tls).unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x00, 0x40]).unwrap();
    // Everyone else is served: plain RTSP, and TLS.
    let mut rtsp = Rtsp::connect(handle.rtsp);
    assert_eq!(rtsp.request("OPTIONS", "*", &[]).status.as_u16(), 200);
    let (md5s, done) = framemd5(&["-i", &rtsps(&handle)], Duration::from_secs(30));
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(md5s.len(), CLIP.frames as usize);
    drop(half);
    handle.stop().expect("stops cleanly");
}
