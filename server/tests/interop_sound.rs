//! A file's sound plays in the peers beside its video: ffprobe sees both tracks, ffmpeg and
//! GStreamer decode the L16 track (RFC 3551 §4.5.11, big-endian) to exactly the WAV's samples
//! and every video frame arrives, over UDP and TCP; GStreamer's rtpbin sees one CNAME for both
//! tracks (RFC 3550 §6.5.1), so it can line them up.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::{Clip, tool};
use hdstream_server::core::Config;

/// 6 s of 640x360 at 30 fps.
const CLIP: Clip = Clip::new(640, 360, 6);
const RATE: usize = common::NOISE_RATE;
const CHANNELS: usize = common::NOISE_CHANNELS;
/// The seed of the WAV's noise.
const SEED: u32 = 0x1234_5678;

/// The WAV's samples.
fn samples() -> &'static Vec<i16> {
    static SAMPLES: OnceLock<Vec<i16>> = OnceLock::new();
    SAMPLES.get_or_init(|| common::noise(SEED, 6))
}

/// A media root holding `f.mjpeg` and `f.wav` beside it.
fn root(name: &str) -> PathBuf {
    let video = CLIP.path();
    let wav = common::noise_wav("sound-noise-48k-stereo-6s.wav", SEED, 6);
    let vtt = common::cached("captions-6s.vtt", |path| {
        std::fs::write(path, VTT).expect("write the WebVTT");
    });
    common::media_root(
        name,
        &[("f.mjpeg", &video), ("f.wav", &wav), ("f.vtt", &vtt)],
    )
}

/// Three captions within the clip's 6 s.
const VTT: &str = "WEBVTT\n\n00:01.000 --> 00:02.500\nfirst caption\n\n\
                   00:03.000 --> 00:04.000\ntwo\nlines\n\n\
                   00:04.500 --> 00:05.500\n\u{fc}n\u{ef}code \u{2713}\n";

/// (start in ms, text) of each cue of an SRT file.
fn srt_cues(text: &str) -> Vec<(u64, String)> {
    let captions = hdstream_common::text::srt::parse(text).expect("an SRT file");
    captions
        .cues
        .iter()
        .map(|c| {
            let text = c.text.trim_end_matches('\u{2028}').to_owned();
            (c.start.as_millis() as u64, text)
        })
        .collect()
}

/// Asserts that `decoded` is the WAV's samples from the start, at least `share` of them.
fn assert_identical(decoded: &[i16], share: f64, who: &str) {
    let source = samples();
    assert!(
        decoded.len() as f64 >= source.len() as f64 * share,
        "{who}: {} of {} samples",
        decoded.len(),
        source.len()
    );
    let n = decoded.len().min(source.len());
    let first_wrong = (0..n).find(|&i| decoded[i] != source[i]);
    assert_eq!(
        first_wrong, None,
        "{who}: sample {first_wrong:?} differs from the WAV's"
    );
    eprintln!(
        "{who}: {} samples ({:.3} s), identical to the WAV's",
        decoded.len(),
        decoded.len() as f64 / (RATE * CHANNELS) as f64
    );
}

#[test]
fn ffmpeg_writes_our_captions_as_srt_with_their_texts_and_times() {
    let root = root("captions-ffmpeg");
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let srt = root.join("out.srt");
    let done = common::run(
        Command::new(tool("ffmpeg"))
            .args(["-nostdin", "-loglevel", "level+warning", "-i", &url])
            .args(["-map", "0:s", "-c:s", "srt", "-flush_packets", "1"])
            .arg(&srt)
            .args(["-map", "0:a", "-f", "null", "-"]),
        Duration::from_secs(30),
    );
    assert!(done.status.success(), "ffmpeg: {}", done.stderr);
    let cues = srt_cues(&std::fs::read_to_string(&srt).unwrap_or_default());
    eprintln!("ffmpeg's SRT: {cues:?}");
    let texts: Vec<&str> = cues.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(
        texts,
        ["first caption", "two\nlines", "\u{fc}n\u{ef}code \u{2713}"]
    );
    for ((start, _), want) in cues.iter().zip([1000u64, 3000, 4500]) {
        assert!(
            start.abs_diff(want) <= 40,
            "a cue at {start} ms, want {want} ms"
        );
    }
}

#[test]
fn gstreamer_exposes_our_captions_as_t140() {
    let root = root("captions-gst");
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let out = root.join("t140.bin");
    let child = common::spawn(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "-e", "rtspsrc", "latency=100", "name=src"])
            .arg(format!("location={url}"))
            .args([
                "src.",
                "!",
                "application/x-rtp,media=text,encoding-name=T140",
            ])
            // Unbuffered: should GStreamer hang and be killed, what it received is on disk.
            .args(["!", "filesink", "buffer-mode=unbuffered"])
            .arg(format!("location={}", out.display()))
            .args([
                "src.",
                "!",
                "application/x-rtp,media=video",
                "!",
                "fakesink",
            ])
            .args([
                "src.",
                "!",
                "application/x-rtp,media=audio",
                "!",
                "fakesink",
            ]),
    );
    // GStreamer usually ends on our BYE; under load its rtspsrc with three pads has hung
    // in its teardown, ignoring even SIGINT (CI, 2026-12-07): what it wrote is what counts.
    let done = child.stop_after(Duration::from_secs(20), Duration::from_secs(5));
    if done.interrupted {
        eprintln!("gst-launch-1.0 did not end on BYE: stopped");
    }
    // What GStreamer received on the text pad: RTP packets of T.140, one per caption.
    let bytes = std::fs::read(&out).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    for caption in [
        "first caption\u{2028}",
        "two\nlines\u{2028}",
        "\u{fc}n\u{ef}code \u{2713}\u{2028}",
    ] {
        assert!(text.contains(caption), "{caption:?} in {text:?}");
    }
}

#[test]
fn ffprobe_sees_video_and_l16_sound() {
    let root = root("sound-ffprobe");
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let out = common::ffprobe_streams(&url, "ffprobe");
    eprintln!("ffprobe: {out}");
    assert!(out.contains("mjpeg,640,360"), "{out}");
    assert!(out.contains("pcm_s16be,48000,2"), "{out}");
}

fn ffmpeg_plays(transport: &str) {
    let root = root(&format!("sound-ffmpeg-{transport}"));
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let audio = root.join("decoded.s16le");
    let video = root.join("frames.md5");
    let (frames, decoded) = common::ffmpeg_decodes(
        &url,
        transport,
        &[],
        (&video, &audio),
        Duration::from_secs(40),
    );
    assert_eq!(frames.len(), CLIP.frames as usize, "every frame");
    assert_identical(&decoded, 0.98, &format!("ffmpeg over {transport}"));
}

#[test]
fn ffmpeg_decodes_the_wav_s_samples_over_udp() {
    ffmpeg_plays("udp");
}

#[test]
fn ffmpeg_decodes_the_wav_s_samples_over_tcp() {
    ffmpeg_plays("tcp");
}

fn gstreamer_plays(protocol: &str) {
    let root = root(&format!("sound-gst-{protocol}"));
    let server = common::serve(&root, Config::default());
    let url = common::url(&server, "f.mjpeg");
    let audio = root.join("decoded.s16le");
    let protocols = format!("protocols={protocol}");
    let child = common::spawn(
        common::gst_l16_to_file(
            &url,
            &[&protocols, "latency=300", "name=src"],
            "src",
            &audio,
        )
        .args(common::DECODE_TO_CHECKSUMS),
    );
    let done = child.wait_or_interrupt(Duration::from_secs(25), Duration::from_secs(5));
    assert!(
        !done.interrupted,
        "the pipeline did not end on the server's BYE: {}",
        done.stderr
    );
    let frames = common::checksums(&done.stdout_text());
    assert_eq!(
        frames.len(),
        CLIP.frames as usize,
        "every frame: {}",
        done.stderr
    );
    assert_identical(
        &common::read_s16le(&audio),
        0.98,
        &format!("GStreamer over {protocol}"),
    );
}

#[test]
fn gstreamer_decodes_the_wav_s_samples_over_udp() {
    gstreamer_plays("udp");
}

#[test]
fn gstreamer_decodes_the_wav_s_samples_over_tcp() {
    gstreamer_plays("tcp");
}
