//! Matroska and AVI files as ffmpeg writes them (MJPEG video with 16-bit PCM or Opus sound)
//! are served like an MJPEG file with a WAV beside it: ffprobe lists both tracks; ffmpeg
//! decodes the served L16 to exactly the container's samples, and the served Opus to the same
//! tone at the same level — in fact to the file's decoded samples exactly, after the 312 of the
//! decoder's warm-up that a receiver of RTP keeps (RFC 7587 carries no pre-skip); every frame
//! arrives with the pixels of the container's JPEGs; a seek moves the sound with the video;
//! damaged files are refused at load with the file and the byte offset.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{framemd5, tool};
use hdstream_server::core::Config;
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_server::test_media::av;

/// Seconds of each clip.
const SECONDS: usize = 4;
/// Frames of each clip (30 fps).
const FRAMES: usize = SECONDS * 30;
/// The seed of the noise the PCM clips carry.
const SEED: u32 = 0x0C0F_FEE5;
/// The tone the Opus clip carries, Hz.
const TONE: f64 = 1000.0;

/// The noise the PCM clips carry (48 kHz stereo).
fn samples() -> &'static Vec<i16> {
    static SAMPLES: OnceLock<Vec<i16>> = OnceLock::new();
    SAMPLES.get_or_init(|| common::noise(SEED, SECONDS))
}

/// `target/test-media/<name>`: 320x240 testsrc2 at 30 fps as baseline 4:2:0 JPEGs with the
/// standard Huffman tables (RFC 2435), and `sound` (ffmpeg input arguments) coded with `codec`.
fn made(name: &str, sound: &[&str], codec: &[&str]) -> PathBuf {
    common::cached(name, |tmp| {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("mkv");
        let format = if ext == "avi" { "avi" } else { "matroska" };
        let done = common::run(
            Command::new(tool("ffmpeg"))
                .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("testsrc2=size=320x240:rate=30")
                .args(sound)
                .args(["-t", &SECONDS.to_string(), "-map", "0:v", "-map", "1:a"])
                .args(["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"])
                .args(["-huffman", "default"])
                .args(codec)
                .args(["-f", format])
                .arg(tmp),
            Duration::from_secs(120),
        );
        assert!(
            done.status.success(),
            "ffmpeg could not make {name}: {}",
            done.stderr
        );
    })
}

/// The noise as a WAV file ffmpeg reads.
fn wav() -> PathBuf {
    common::noise_wav("containers-noise-48k-stereo-4s.wav", SEED, SECONDS)
}

fn pcm_clip(ext: &str) -> PathBuf {
    let wav = wav();
    let wav = wav.to_str().expect("UTF-8 path");
    made(
        &format!("containers-pcm-4s.{ext}"),
        &["-i", wav],
        &["-c:a", "pcm_s16le"],
    )
}

fn opus_clip() -> PathBuf {
    let tone = format!("sine=frequency={TONE}:sample_rate=48000");
    made(
        "containers-opus-4s.mkv",
        &["-f", "lavfi", "-i", &tone],
        &["-ac", "2", "-c:a", "libopus", "-b:a", "128k"],
    )
}

/// A media root of the three clips.
fn root(name: &str) -> PathBuf {
    common::media_root(
        name,
        &[
            ("clip.avi", &pcm_clip("avi")),
            ("clip.mkv", &pcm_clip("mkv")),
            ("opus.mkv", &opus_clip()),
        ],
    )
}

/// ffmpeg's per-frame MD5s of the container's video, decoded from the file.
fn reference_frames(file: &Path) -> Vec<String> {
    let path = file.to_str().expect("UTF-8 path");
    let (md5s, done) = framemd5(&["-i", path, "-map", "0:v"], Duration::from_secs(60));
    assert!(
        done.status.success(),
        "ffmpeg decodes {path}: {}",
        done.stderr
    );
    assert_eq!(md5s.len(), FRAMES, "ffmpeg sees every frame of {path}");
    md5s
}

/// What ffmpeg decoded from the served stream: per-frame MD5s and s16le sound.
fn play(url: &str, transport: &str, dir: &Path, tag: &str) -> (Vec<String>, Vec<i16>) {
    let audio = dir.join(format!("{tag}.s16le"));
    let video = dir.join(format!("{tag}.md5"));
    common::ffmpeg_decodes(
        url,
        transport,
        &[],
        (&video, &audio),
        Duration::from_secs(40),
    )
}

/// The served L16 is the container's PCM sample for sample, and every frame arrives whole.
fn pcm_served(ext: &str, transport: &str) {
    let file = pcm_clip(ext);
    let reference = reference_frames(&file);
    let root = root(&format!("containers-{ext}-{transport}"));
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, &format!("clip.{ext}"));
    let (frames, decoded) = play(&url, transport, &root, "played");
    assert_eq!(frames.len(), FRAMES, "every frame");
    assert_eq!(frames, reference, "the container's pixels");
    let source = samples();
    assert!(
        decoded.len() as f64 >= source.len() as f64 * 0.98,
        "{} of {} samples",
        decoded.len(),
        source.len()
    );
    let n = decoded.len().min(source.len());
    let first_wrong = (0..n).find(|&i| decoded[i] != source[i]);
    assert_eq!(first_wrong, None, "sample {first_wrong:?} differs");
    eprintln!(
        "clip.{ext} over {transport}: {} frames with the container's pixels, {} samples \
         ({:.3} s) identical to its PCM",
        frames.len(),
        decoded.len(),
        decoded.len() as f64 / 96_000.0
    );
}

#[test]
fn avi_pcm_arrives_sample_for_sample_over_udp() {
    pcm_served("avi", "udp");
}

#[test]
fn mkv_pcm_arrives_sample_for_sample_over_tcp() {
    pcm_served("mkv", "tcp");
}

#[test]
fn ffprobe_lists_the_video_and_the_sound_of_each() {
    let root = root("containers-ffprobe");
    let server = common::serve(&root, Config::default());
    for (name, sound) in [
        ("clip.avi", "pcm_s16be,48000,2"),
        ("clip.mkv", "pcm_s16be,48000,2"),
        ("opus.mkv", "opus,48000,2"),
    ] {
        let url = common::url(&server, name);
        let out = common::ffprobe_streams(&url, &format!("ffprobe {name}"));
        eprintln!("ffprobe {name}: {}", out.trim().replace('\n', " | "));
        assert!(out.contains("mjpeg,320,240"), "{name}: {out}");
        assert!(out.contains(sound), "{name}: {out}");
    }
}

/// RMS in dBFS of the left channel of `samples` (stereo), from `skip` sample frames in.
fn level(samples: &[i16], skip: usize, frames: usize) -> f64 {
    20.0 * (av::rms(&av::left_channel(samples, skip, frames)) / 32768.0).log10()
}

/// The left channel's frequency from its upward zero crossings over `frames` sample frames at
/// 48 kHz, from `skip` in: first to last crossing, interpolated between samples.
fn frequency(samples: &[i16], skip: usize, frames: usize) -> f64 {
    av::frequency(&av::left_channel(samples, skip, frames))
}

#[test]
fn ffmpeg_decodes_the_served_opus_to_the_file_s_tone_and_samples() {
    let file = opus_clip();
    let reference_video = reference_frames(&file);
    // The container's sound, decoded by ffmpeg from the file.
    let dir = root("containers-opus");
    let from_file = dir.join("file.s16le");
    let done = common::run(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&file)
            .args(["-map", "0:a", "-c:a", "pcm_s16le", "-f", "s16le"])
            .arg(&from_file),
        Duration::from_secs(30),
    );
    assert!(
        done.status.success(),
        "ffmpeg decodes the file: {}",
        done.stderr
    );
    let reference = common::read_s16le(&from_file);
    let server = common::serve(&dir, Config::default());
    let url = common::url(&server, "opus.mkv");
    let (frames, decoded) = play(&url, "udp", &dir, "opus");
    assert_eq!(
        frames, reference_video,
        "every frame, the container's pixels"
    );
    let stereo = |s: &[i16]| s.len() as f64 / 96_000.0;
    assert!(
        stereo(&decoded) >= SECONDS as f64 * 0.97,
        "{:.3} s of sound decoded",
        stereo(&decoded)
    );
    // The middle 2 s, clear of the start and the end.
    let (skip, frames) = (48_000, 96_000);
    let (want_db, got_db) = (
        level(&reference, skip, frames),
        level(&decoded, skip, frames),
    );
    let (want_hz, got_hz) = (
        frequency(&reference, skip, frames),
        frequency(&decoded, skip, frames),
    );
    eprintln!(
        "opus.mkv: file {want_db:.2} dBFS {want_hz:.3} Hz, served {got_db:.2} dBFS \
         {got_hz:.3} Hz ({:.3} s)",
        stereo(&decoded)
    );
    // Where the file's decode starts in the served one: RTP carries no pre-skip (RFC 7587), so
    // a receiver keeps the decoder's 312 warm-up samples the file's reader drops.
    let same_from = (0..4000)
        .step_by(2)
        .find(|&k| decoded.len() > k + 96_000 && decoded[k..k + 96_000] == reference[..96_000]);
    eprintln!("opus.mkv: the file's decode starts at sample {same_from:?} of the served one");
    assert_eq!(
        same_from,
        Some(2 * 312),
        "after the pre-skip, the file's decode"
    );
    let whole = decoded.get(624..624 + reference.len());
    let first_wrong = whole.and_then(|w| (0..w.len()).find(|&i| w[i] != reference[i]));
    eprintln!(
        "opus.mkv: the served decode holds the file's {} samples: first difference {first_wrong:?}",
        reference.len()
    );
    assert!(
        whole.is_some() && first_wrong.is_none(),
        "sample for sample after the pre-skip"
    );
    assert!(
        (want_db - got_db).abs() <= 1.0,
        "level {got_db:.2} dB, want {want_db:.2} dB"
    );
    assert!(
        (got_hz - TONE).abs() < 0.5,
        "tone {got_hz:.3} Hz, want {TONE}"
    );
}

/// Copies `from` into `root/name` with `change` applied to its bytes.
fn damaged(root: &Path, name: &str, from: &Path, change: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(from).expect("read a clip");
    change(&mut bytes);
    let path = root.join(name);
    std::fs::write(&path, bytes).expect("write a damaged clip");
    path
}

/// Offset of the first `pattern` in `bytes`.
fn find(bytes: &[u8], pattern: &[u8]) -> usize {
    bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("pattern in the clip")
}

#[test]
fn damaged_files_are_refused_at_load_with_the_file_and_the_byte() {
    let root = common::media_root("containers-damaged", &[("good.mkv", &pcm_clip("mkv"))]);
    let (mkv, avi) = (pcm_clip("mkv"), pcm_clip("avi"));
    let len = std::fs::metadata(&mkv).expect("clip").len() as usize;
    let cases = [
        damaged(&root, "truncated.mkv", &mkv, |b| b.truncate(len / 2)),
        damaged(&root, "garbage.avi", &avi, |b| {
            let mut x = 7u32;
            for byte in b.iter_mut().skip(12) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                *byte = (x >> 16) as u8;
            }
        }),
        // A Cluster whose size (8 bytes after its ID) says 2^50 bytes.
        damaged(&root, "size-past-end.mkv", &mkv, |b| {
            let at = find(b, &[0x1F, 0x43, 0xB6, 0x75]) + 4;
            b[at..at + 8].copy_from_slice(&[0x01, 0x04, 0, 0, 0, 0, 0, 0]);
        }),
        // The first video chunk of the movi list says 0xFFFFFFF0 bytes (wraps 32-bit
        // offsets). ("00dc" also stands in the space ffmpeg keeps for an OpenDML index.)
        damaged(&root, "chunk-overflow.avi", &avi, |b| {
            let movi = find(b, b"movi");
            let at = movi + find(&b[movi..], b"00dc") + 4;
            b[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        }),
        damaged(&root, "empty.mkv", &mkv, |b| b.clear()),
    ];
    let (catalogue, skipped) = Catalogue::open(&root, &FpsPolicy::default()).expect("open root");
    let names: Vec<&str> = catalogue.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["good.mkv"], "only the good file is served");
    for path in &cases {
        let s = skipped
            .iter()
            .find(|s| s.path.file_name() == path.file_name())
            .unwrap_or_else(|| panic!("{} listed as not served: {skipped:?}", path.display()));
        eprintln!("not served: {}", s.reason);
        assert!(s.reason.contains(&*path.to_string_lossy()), "{}", s.reason);
        if path.file_name().is_some_and(|n| n != "empty.mkv") {
            assert!(s.reason.contains("at byte"), "{}", s.reason);
        }
    }
}

/// ffmpeg `-ss 2` (PLAY with `Range: npt=2-`): the sound moves with the video — frames 60 on,
/// the served L16 the container's PCM from 2.000 s on, the served Opus the file's tone from the
/// packet that plays at 2 s.
#[test]
fn a_seek_moves_the_sound_with_the_video() {
    let root = root("containers-seek");
    let server = common::serve(&root, Config::default());
    for (name, transport) in [("clip.mkv", "udp"), ("opus.mkv", "tcp")] {
        let url = common::url(&server, name);
        let audio = root.join(format!("{name}.seek.s16le"));
        let video = root.join(format!("{name}.seek.md5"));
        let (frames, decoded) = common::ffmpeg_decodes(
            &url,
            transport,
            &["-ss", "2"],
            (&video, &audio),
            Duration::from_secs(30),
        );
        eprintln!(
            "{name} from 2 s: {} frames, {:.3} s of sound",
            frames.len(),
            decoded.len() as f64 / 96_000.0
        );
        let file = if name == "clip.mkv" {
            pcm_clip("mkv")
        } else {
            opus_clip()
        };
        assert_eq!(
            frames,
            reference_frames(&file)[FRAMES / 2..],
            "frames 60 to 119"
        );
        if name == "clip.mkv" {
            let from = 2 * 96_000;
            let source = &samples()[from..];
            let n = decoded.len().min(source.len());
            assert!(n as f64 >= source.len() as f64 * 0.95, "{n} samples");
            let first_wrong = (0..n).find(|&i| decoded[i] != source[i]);
            assert_eq!(first_wrong, None, "the PCM from 2.000 s, sample for sample");
        } else {
            assert!(
                decoded.len() >= 96_000 * 19 / 10,
                "{} samples",
                decoded.len()
            );
            let hz = frequency(&decoded, 9_600, 48_000);
            assert!((hz - TONE).abs() < 0.5, "{hz} Hz after the seek");
        }
    }
}

/// A Matroska file whose JPEGs carry ffmpeg's optimised Huffman tables cannot travel as
/// RFC 2435 (it implies the standard tables): DESCRIBE answers 415 with the reason, as for an
/// MJPEG file.
#[test]
fn a_container_whose_jpegs_cannot_travel_as_rfc_2435_is_415() {
    let file = made(
        "containers-optimal-huffman-4s.mkv",
        &["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"],
        &["-huffman", "optimal", "-c:a", "pcm_s16le"],
    );
    let root = common::media_root("containers-415", &[("optimal.mkv", &file)]);
    let server = common::serve(&root, Config::default());
    let mut rtsp = common::Rtsp::connect(server.rtsp);
    let reply = rtsp.request("DESCRIBE", &common::url(&server, "optimal.mkv"), &[]);
    let why = String::from_utf8_lossy(&reply.body).into_owned();
    eprintln!("DESCRIBE optimal.mkv: {} {why}", reply.status.as_u16());
    assert_eq!(reply.status.as_u16(), 415, "{why}");
    assert!(
        why.contains("RFC 2435") && why.contains("-huffman default"),
        "{why}"
    );
}
