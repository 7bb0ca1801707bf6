//! Matroska and AVI files made by ffmpeg, read by `container::{matroska, avi}` through
//! `MjpegFile`: frame and sound packet counts checked against ffprobe's, for every way ffmpeg
//! writes them that this crate reads — PCM and Opus in Matroska (to a file, and to a pipe: an
//! unknown-sized Segment and Clusters), PCM in AVI, and an OpenDML AVI over 1 GiB (RIFF AVIX).
//! ffmpeg and ffprobe must be installed: without them these tests fail rather than skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hdstream_video::MjpegFile;
use hdstream_video::container::Codec;
use hdstream_video::index::Container;

/// A file under the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        let pid = std::process::id();
        TempFile(std::env::temp_dir().join(format!("hdstream-containers-{pid}-{name}")))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn ffmpeg(args: &[&str], out: &Path) {
    let done = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        done.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// ffprobe's packet count of each stream: (video, audio).
fn packets(path: &Path) -> (usize, usize) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .args(["stream=codec_type,nb_read_packets", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let count = |kind: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(kind)?
                    .trim_start_matches(',')
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    (count("video"), count("audio"))
}

/// ffmpeg's inputs and video coding for every file here: 2 s of 160x120 testsrc2 as RFC
/// 2435-ready JPEGs and a 440 Hz tone in stereo (its codec and the format to follow).
const CLIP: [&str; 18] = [
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=160x120:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    "2",
    "-ac",
    "2",
    "-c:v",
    "mjpeg",
    "-pix_fmt",
    "yuvj420p",
    "-huffman",
    "default",
];

/// [`CLIP`] with the tone coded with `codec`, as `format`.
fn make(name: &str, codec: &str, format: &str) -> TempFile {
    let file = TempFile::new(name);
    ffmpeg(
        &[&CLIP[..], &["-c:a", codec, "-f", format]].concat(),
        &file.0,
    );
    file
}

fn check(path: &Path, container: Container, codec: fn(Codec) -> bool) {
    let file = MjpegFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let (video, audio) = packets(path);
    let sound = file.sound().expect("the sound is read");
    eprintln!(
        "{}: {} frames at {:?} fps (ffprobe {video}), {:?} {} Hz {} ch, {} packets (ffprobe {audio})",
        path.display(),
        file.len(),
        file.fps(),
        sound.codec,
        sound.rate,
        sound.channels,
        sound.packets.len()
    );
    assert_eq!(file.container(), container);
    assert_eq!(file.len(), video, "every frame");
    assert_eq!(file.fps(), Some(30.0));
    assert_eq!(file.index().first_not_ready(), None, "RFC 2435-ready");
    assert!(codec(sound.codec), "{:?}", sound.codec);
    assert_eq!((sound.channels, sound.packets.len()), (2, audio));
}

#[test]
fn matroska_with_pcm_and_opus() {
    let pcm = make("pcm.mkv", "pcm_s16le", "matroska");
    check(&pcm.0, Container::Matroska, |c| c == Codec::PcmS16le);
    let opus = make("opus.mkv", "libopus", "matroska");
    check(&opus.0, Container::Matroska, |c| {
        c == Codec::Opus { pre_skip: 312 }
    });
}

#[test]
fn matroska_written_to_a_pipe_has_unknown_sizes() {
    let file = TempFile::new("live.mkv");
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(CLIP)
        .args(["-c:a", "libopus", "-f", "matroska", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs");
    let mut out = child.stdout.take().expect("its stdout");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut out, &mut bytes).expect("read the pipe");
    assert!(child.wait().expect("ffmpeg ends").success());
    // The Segment's size after its ID: 01 FF FF FF FF FF FF FF, unknown (RFC 8794 §6.2).
    let at = bytes
        .windows(4)
        .position(|w| w == [0x18, 0x53, 0x80, 0x67])
        .expect("a Segment");
    assert_eq!(
        bytes[at + 4..at + 12],
        [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    std::fs::write(&file.0, &bytes).expect("write");
    check(&file.0, Container::Matroska, |c| {
        matches!(c, Codec::Opus { .. })
    });
}

#[test]
fn avi_with_pcm() {
    let avi = make("pcm.avi", "pcm_s16le", "avi");
    check(&avi.0, Container::Avi, |c| c == Codec::PcmS16le);
}

/// ffmpeg starts a RIFF 'AVIX' past 1 GiB (OpenDML): copying a small AVI's streams in a loop
/// makes one in seconds.
#[test]
fn an_opendml_avi_over_a_gigabyte() {
    let small = make("small.avi", "pcm_s16le", "avi");
    let big = TempFile::new("big.avi");
    let input = small.0.to_str().expect("UTF-8 path");
    ffmpeg(
        &[
            "-stream_loop",
            "-1",
            "-i",
            input,
            "-c",
            "copy",
            "-fs",
            "1150M",
            "-f",
            "avi",
        ],
        &big.0,
    );
    let file = MjpegFile::open(&big.0).unwrap_or_else(|e| panic!("{e}"));
    let bytes = file.bytes();
    assert!(bytes.len() > 1 << 30, "{} bytes", bytes.len());
    // The second top-level chunk, after the first RIFF's size (and its pad byte).
    let first = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let second = 8 + first + first % 2;
    assert_eq!(&bytes[second..second + 4], b"RIFF");
    assert_eq!(&bytes[second + 8..second + 12], b"AVIX", "OpenDML");
    drop(file);
    check(&big.0, Container::Avi, |c| c == Codec::PcmS16le);
}
