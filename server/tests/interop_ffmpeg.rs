//! FFmpeg plays the server's streams: every frame of a 5 s 720p30 file arrives and decodes to
//! exactly the pixels of the file, over UDP and over TCP, and `-ss` seeks with `Range: npt=`.

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use common::{Clip, framemd5};
use hdstream_server::core::Config;

/// 5 s of 1280x720 at 30 fps: 150 frames.
const CLIP: Clip = Clip::new(1280, 720, 5);

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| CLIP.path())
}

/// The MD5 of each frame of the file decoded by ffmpeg straight from disk.
fn reference() -> &'static Vec<String> {
    static MD5S: OnceLock<Vec<String>> = OnceLock::new();
    MD5S.get_or_init(|| {
        let path = file().to_str().expect("UTF-8 path").to_owned();
        let (md5s, done) = framemd5(&["-i", &path], Duration::from_secs(60));
        assert!(
            done.status.success(),
            "ffmpeg decodes the file: {}",
            done.stderr
        );
        assert_eq!(
            md5s.len(),
            CLIP.frames as usize,
            "ffmpeg sees every frame of the file"
        );
        md5s
    })
}

/// Lines of ffmpeg's stderr that report an error (decoding, protocol).
fn errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("[error]") || l.contains("[fatal]"))
        .collect()
}

/// What ffmpeg decoded from the stream, and its warnings.
struct Played {
    md5s: Vec<String>,
    warnings: String,
}

fn play_through_ffmpeg(transport: &str, seek: Option<&str>) -> Played {
    // Made (and the file decoded) before any stream starts, so that work does not compete.
    let _ = reference();
    let root = common::media_root(
        &format!("ffmpeg-{transport}-{}", seek.unwrap_or("0")),
        &[("f.mjpeg", file())],
    );
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let mut args = Vec::new();
    if let Some(s) = seek {
        args.extend(["-ss", s]);
    }
    args.extend(["-rtsp_transport", transport, "-i", &url]);
    let (md5s, done) = framemd5(&args, Duration::from_secs(40));
    assert!(
        done.status.success(),
        "ffmpeg over {transport} exits 0: {:?}\n{}",
        done.status,
        done.stderr
    );
    assert!(
        errors(&done.stderr).is_empty(),
        "ffmpeg over {transport} reported errors:\n{}",
        done.stderr
    );
    assert!(!md5s.is_empty(), "ffmpeg decoded nothing over {transport}");
    Played {
        md5s,
        warnings: done.stderr,
    }
}

/// Checks that `played` is frames `first..` of the file, every one, bit-exact.
fn assert_frames(played: &Played, first: usize, transport: &str) {
    let reference = reference();
    let got = &played.md5s;
    // Which frames of the file arrived (decoded frames are matched in order).
    let (missing, k) = common::missing_in_order(reference, got, first);
    assert!(
        missing.is_empty() && k == got.len(),
        "over {transport}: {} frames decoded, expected {}; frames of the file not received \
         bit-exact: {missing:?}; ffmpeg's warnings:\n{}",
        got.len(),
        reference.len() - first,
        played.warnings
    );
}

#[test]
fn ffmpeg_over_udp_gets_every_frame_bit_exact() {
    assert_frames(&play_through_ffmpeg("udp", None), 0, "UDP");
}

#[test]
fn ffmpeg_over_tcp_gets_every_frame_bit_exact() {
    assert_frames(&play_through_ffmpeg("tcp", None), 0, "TCP");
}

#[test]
fn ffmpeg_seek_starts_at_frame_75() {
    let played = play_through_ffmpeg("tcp", Some("2.5"));
    // Only a server that honoured `Range: npt=2.5-` sends half the file.
    let n = played.md5s.len();
    assert!(
        (74..=76).contains(&n),
        "after -ss 2.5, {n} frames arrived (expected 75 ± 1)"
    );
    assert_eq!(
        played.md5s[0],
        reference()[75],
        "the first frame after -ss 2.5 is frame 75 of the file"
    );
    assert_frames(&played, 75, "TCP after -ss 2.5");
}
