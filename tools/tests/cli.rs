//! `encode_mjpeg` and `mjpeg_info` as a user runs them. The `--from` test makes its input with
//! ffmpeg (`apt-get install ffmpeg`); without ffmpeg it fails rather than skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use hdstream_video::ffmpeg;
use serde_json::Value;

/// A file under the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TempFile(
            std::env::temp_dir().join(format!("hdstream-tools-{}-{n}-{name}", std::process::id())),
        )
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn encode(args: &[&str]) -> String {
    ok(env!("CARGO_BIN_EXE_encode_mjpeg"), args)
}

fn info(paths: &[&Path]) -> Value {
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    serde_json::from_str(&ok(env!("CARGO_BIN_EXE_mjpeg_info"), &args)).unwrap()
}

#[test]
fn a_288p_second_in_both_containers_is_described_right() {
    let plain = TempFile::new("288p.mjpeg");
    let course = TempFile::new("288p.Mjpeg");
    let summary = encode(&[
        "--size",
        "288p",
        "--fps",
        "30",
        "--seconds",
        "1",
        "--out",
        plain.arg(),
    ]);
    assert!(summary.contains("frames: 30 at 512x288"), "{summary}");
    encode(&[
        "--size",
        "288p",
        "--fps",
        "20",
        "--seconds",
        "1",
        "--container",
        "course",
        "--out",
        course.arg(),
    ]);

    let v = info(&[&plain.0]);
    assert_eq!(v["path"], plain.arg());
    assert_eq!(v["container"], "plain");
    assert_eq!(v["frames"], 30);
    assert_eq!(
        (v["width"].clone(), v["height"].clone()),
        (512.into(), 288.into())
    );
    assert_eq!(v["sampling"], "4:2:0");
    assert_eq!(v["rfc2435_ready"], true);
    assert_eq!(v["not_ready_reason"], Value::Null);
    assert_eq!(v["damaged_frames"], 0);
    assert_eq!(v["bytes"], std::fs::metadata(&plain.0).unwrap().len());
    let mean = v["mean_frame_bytes"].as_f64().unwrap();
    assert!((mean - v["bytes"].as_f64().unwrap() / 30.0).abs() < 1.0);

    let both = info(&[&plain.0, &course.0]);
    let both = both.as_array().unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(both[1]["container"], "course");
    assert_eq!(both[1]["frames"], 20);
    assert_eq!(both[1]["rfc2435_ready"], true);
    assert_eq!(
        both[1]["bytes"],
        std::fs::metadata(&course.0).unwrap().len()
    );
}

#[test]
fn from_converts_an_ffmpeg_444_file_into_a_ready_one() {
    let src = TempFile::new("444.mjpeg");
    let out = TempFile::new("444-ready.Mjpeg");
    let make = ffmpeg::testsrc_mjpeg("320x240", "yuvj444p", &[], src.arg());
    ok(
        "ffmpeg",
        &make.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let before = info(&[&src.0]);
    assert_eq!(before["rfc2435_ready"], false);
    assert!(
        before["not_ready_reason"]
            .as_str()
            .unwrap()
            .contains("4:4:4")
    );

    encode(&[
        "--from",
        src.arg(),
        "--container",
        "course",
        "--quality",
        "75",
        "--out",
        out.arg(),
    ]);
    let after = info(&[&out.0]);
    assert_eq!(after["frames"], before["frames"]);
    assert_eq!(after["container"], "course");
    assert_eq!(after["sampling"], "4:2:0");
    assert_eq!(
        (after["width"].clone(), after["height"].clone()),
        (320.into(), 240.into())
    );
    assert_eq!(after["rfc2435_ready"], true, "{after}");
}

#[test]
fn a_missing_file_exits_1_naming_it_and_the_others_still_print() {
    let good = TempFile::new("good.mjpeg");
    encode(&["--size", "64x32", "--seconds", "0.1", "--out", good.arg()]);
    let missing = std::env::temp_dir().join(format!(
        "hdstream-tools-{}-missing.mjpeg",
        std::process::id()
    ));
    let out = run(
        env!("CARGO_BIN_EXE_mjpeg_info"),
        &[missing.to_str().unwrap(), good.arg()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed.as_array().unwrap().len(), 1);
    assert_eq!(printed[0]["frames"], 3);

    let alone = run(
        env!("CARGO_BIN_EXE_mjpeg_info"),
        &[missing.to_str().unwrap()],
    );
    assert_eq!(alone.status.code(), Some(1));
    assert!(alone.stdout.is_empty());
}

#[test]
fn a_garbage_file_is_reported_with_its_offset() {
    let junk = TempFile::new("junk.mjpeg");
    std::fs::write(&junk.0, b"this is not video").unwrap();
    let out = run(env!("CARGO_BIN_EXE_mjpeg_info"), &[junk.arg()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(junk.arg()) && stderr.contains("at byte 0"),
        "{stderr}"
    );
}

#[test]
fn help_explains_the_options() {
    let help = ok(env!("CARGO_BIN_EXE_encode_mjpeg"), &["--help"]);
    for word in [
        "--size",
        "1440p",
        "--container",
        "course",
        "--from",
        "--quality",
        "--flash",
        "--tone-wav",
        "clip.wav",
    ] {
        assert!(help.contains(word), "{word} missing from --help");
    }
    let help = ok(env!("CARGO_BIN_EXE_hdstream-publish"), &["--help"]);
    for word in [
        "--audio <tone|FILE.wav|->",
        "--audio-codec",
        "pcmu",
        "--audio-rate",
        "--audio-channels",
        "--captions <-|FILE.vtt|FILE.srt>",
        "--flash",
        "click",
        "trackID=0",
    ] {
        assert!(
            help.contains(word),
            "{word} missing from hdstream-publish --help"
        );
    }
}

/// Mean luma (BT.601) of a JPEG of the file.
fn mean_luma(jpeg: &[u8]) -> f64 {
    hdstream_tools::flash::mean_luma(jpeg).expect("a JPEG with pixels")
}

#[test]
fn flash_and_tone_wav_make_a_lip_sync_pair() {
    let out = TempFile::new("sync.mjpeg");
    let wav = TempFile(out.0.with_extension("wav"));
    let summary = encode(&[
        "--size",
        "160x96",
        "--fps",
        "25",
        "--seconds",
        "2.2",
        "--flash",
        "--tone-wav",
        "--out",
        out.arg(),
    ]);
    assert!(summary.contains(wav.arg()), "{summary}");
    let file = hdstream_video::MjpegFile::open(&out.0).unwrap();
    assert_eq!(file.len(), 55);
    let bright: Vec<usize> = (0..file.len())
        .filter(|&i| mean_luma(file.frame(i).unwrap()) >= hdstream_tools::flash::BRIGHT_MEAN)
        .collect();
    assert_eq!(bright, [0, 25, 50]);
    let bytes = std::fs::read(&wav.0).unwrap();
    let parsed = hdstream_common::audio::wav::parse(&bytes).unwrap();
    assert_eq!((parsed.sample_rate, parsed.channels), (48_000, 2));
    assert_eq!(parsed.frames(), 105_600, "as long as the video: 2.2 s");
    let mut pcm = Vec::new();
    parsed.read_samples(&bytes, &mut pcm);
    assert_eq!(
        hdstream_tools::tone::find_clicks(&pcm, 2, 48_000),
        [0, 48_000, 96_000]
    );
    // Without --flash, no tone; the defaults draw no flash.
    let plain = TempFile::new("plain.mjpeg");
    let refused = run(
        env!("CARGO_BIN_EXE_encode_mjpeg"),
        &[
            "--size",
            "64x32",
            "--seconds",
            "0.1",
            "--tone-wav",
            "--out",
            plain.arg(),
        ],
    );
    assert!(!refused.status.success());
    encode(&["--size", "160x96", "--seconds", "0.1", "--out", plain.arg()]);
    let file = hdstream_video::MjpegFile::open(&plain.0).unwrap();
    assert!(mean_luma(file.frame(0).unwrap()) < hdstream_tools::flash::BRIGHT_MEAN);
}
