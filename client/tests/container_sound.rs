//! Our client plays a Matroska file with Opus sound, as ffmpeg writes it, from our server
//! (headless, `--audio-out`): every frame shown with the file's pixels, and the sound it
//! records (Opus passed through by the server, RFC 7587, decoded here through libopus) the
//! file's tone at the file's level, with no packet lost or concealed.

use crate::common;

use std::process::Command;

use hdstream_client::LowerTransport;
use hdstream_server::test_media::av;

/// Seconds of the clip, frames per second, the tone's frequency.
const SECONDS: u32 = 3;
const FPS: u32 = 30;
const TONE: f64 = 1000.0;

/// `target/test-media/client-opus-3s.mkv`: testsrc2 320x240 as RFC 2435-ready JPEGs and a
/// 1 kHz tone in stereo Opus.
fn clip() -> std::path::PathBuf {
    let dir = common::media_dir().join("container-sound");
    std::fs::create_dir_all(&dir).unwrap();
    common::cached(dir.join("opus.mkv"), || {
        common::ffmpeg_output(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
                .arg(format!("testsrc2=size=320x240:rate={FPS}"))
                .args(["-f", "lavfi", "-i"])
                .arg(format!("sine=frequency={TONE}:sample_rate=48000"))
                .args(["-t", &SECONDS.to_string(), "-map", "0:v", "-map", "1:a"])
                .args(["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"])
                .args(["-huffman", "default", "-ac", "2", "-c:a", "libopus"])
                .args(["-f", "matroska", "-"]),
        )
    })
}

/// The left channel's frequency (upward zero crossings) and RMS over `frames` from `skip`.
fn tone(samples: &[i16], skip: usize, frames: usize) -> (f64, f64) {
    let left = av::left_channel(samples, skip, frames);
    (av::frequency(&left), av::rms(&left))
}

#[test]
fn our_client_plays_a_matroska_file_s_opus_and_pictures() {
    common::logs();
    let file = clip();
    // The file's sound as ffmpeg decodes it from the file.
    let reference = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&file)
        .args(["-map", "0:a", "-f", "s16le", "-c:a", "pcm_s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(reference.status.success());
    let reference: Vec<i16> = reference
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let (report, rate, samples) =
        common::sound::play_recording_sound(&file, 25.0, "opus-mkv", |options| {
            options.transport = LowerTransport::Udp;
        });

    let frames = u64::from(SECONDS * FPS);
    common::assert_every_frame_delivered(
        &report,
        frames,
        "every frame shown at the file's 30 fps (not --fps 25)",
    );
    common::assert_shown_in_order(&file, &report, "opus.mkv");
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["audio_format"]
            .as_str()
            .is_some_and(|f| f.starts_with("opus/48000/2")),
        "{json:#}"
    );
    for field in ["audio_packets_lost", "audio_concealed_packets"] {
        assert_eq!(json[field], 0, "{field}: {report}");
    }
    assert_eq!(rate, 48_000);
    assert!(
        samples.len() / 2 >= (SECONDS as usize) * 48_000 * 97 / 100,
        "{} sample frames written",
        samples.len() / 2
    );
    // Past the silence the output may lead with, the middle second.
    let lead = samples
        .chunks_exact(2)
        .position(|s| s[0].unsigned_abs() > 200)
        .unwrap_or(0);
    let (hz, rms) = tone(&samples, lead + 24_000, 48_000);
    let (want_hz, want_rms) = tone(&reference, 24_000, 48_000);
    let db = 20.0 * (rms / want_rms).log10();
    eprintln!(
        "opus.mkv played: {} frames, sound {hz:.3} Hz at {db:+.2} dB against the file's \
         ({want_hz:.3} Hz), {} packets",
        report.frames_displayed, json["audio_packets_received"]
    );
    assert!((hz - TONE).abs() < 0.5, "{hz} Hz, want {TONE}");
    assert!(db.abs() <= 1.0, "{db:+.2} dB against the file's level");
}

/// `talk.mjpeg` and `talk.wav` (`common::sound`: every sample frame says where it is) muxed by
/// ffmpeg into one `.mkv` or `.avi` with 16-bit PCM, the JPEGs as they are. For AVI the rate
/// is given (`-r`): without it ffmpeg writes a copy of raw MJPEG as 60 fps with every other
/// video chunk empty (which the server shows as the frame before: the timing kept, twice the
/// frames sent).
fn talk_in(ext: &str) -> std::path::PathBuf {
    let mjpeg = common::sound::talk();
    let wav = mjpeg.with_extension("wav");
    let dir = common::media_dir().join("container-sound");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("talk.{ext}"));
    common::cached(path.clone(), || {
        let tmp = dir.join(format!("making-{}.{ext}", std::process::id()));
        common::ffmpeg_output(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-y", "-framerate"])
                .arg(common::sound::FPS.to_string())
                .args(["-f", "mjpeg", "-i"])
                .arg(&mjpeg)
                .arg("-i")
                .arg(&wav)
                .args(av::copy_video_with_sound("pcm_s16le"))
                .args(["-r", &common::sound::FPS.to_string()])
                .arg(&tmp),
        );
        let bytes = std::fs::read(&tmp).unwrap();
        let _ = std::fs::remove_file(&tmp);
        bytes
    })
}

/// Plays `file` with a pause from 1.5 s to 2.5 s: the sound written is the WAV's, whole, sample
/// for sample, and every frame is shown.
fn plays_whole_across_a_pause(file: &std::path::Path, transport: LowerTransport, what: &str) {
    common::logs();
    let fps = f64::from(common::sound::FPS);
    let (report, rate, samples) = common::sound::play_recording_sound(file, fps, what, |options| {
        options.transport = transport;
        options.script = common::sound::a_second_of_pause();
    });
    let (p50, p99) = common::sound::assert_clean_run(&report, &samples, rate, what);
    eprintln!(
        "{what}: the WAV's samples whole across the pause; a/v offset p50 {p50:.2} ms, p99 {p99:.2} ms"
    );
    common::assert_shown_in_order(file, &report, what);
}

#[test]
fn a_matroska_file_s_pcm_plays_whole_across_a_pause_over_udp() {
    plays_whole_across_a_pause(&talk_in("mkv"), LowerTransport::Udp, "talk.mkv");
}

#[test]
fn an_avi_file_s_pcm_plays_whole_across_a_pause_over_tcp() {
    plays_whole_across_a_pause(&talk_in("avi"), LowerTransport::Tcp, "talk.avi");
}
