//! Publishers with sound: ffmpeg and GStreamer's `rtspclientsink` record video and L16 sound
//! into `live/cam` (tracks matched by control URL: `rtspclientsink` announces its sound first),
//! and ffmpeg and GStreamer viewers get both tracks — the sound they decode is a run of the
//! publisher's samples with nothing changed, missing or added.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Clip, serve, tool};
use hdstream_common::sdp::SessionDescription;
use hdstream_server::core::Config;
use hdstream_server::test_media::av;

/// 8 s at 30 fps, 640x360.
const CLIP: Clip = Clip::new(640, 360, 8);
const RATE: usize = common::NOISE_RATE;
const CHANNELS: usize = common::NOISE_CHANNELS;
/// The seed of the publisher's noise.
const SEED: u32 = 0x0BAD_5EED;

/// The publisher's samples.
fn samples() -> Vec<i16> {
    common::noise(SEED, 8)
}

fn wav() -> PathBuf {
    common::noise_wav("live-noise-48k-stereo-8s.wav", SEED, 8)
}

/// Asserts that `decoded` holds at least `seconds` of the publisher's samples, as one run.
fn assert_a_run_of_the_source(decoded: &[i16], seconds: f64, who: &str) {
    let source = samples();
    let need = (seconds * (RATE * CHANNELS) as f64) as usize;
    assert!(
        decoded.len() >= need,
        "{who}: {} samples, want {need}",
        decoded.len()
    );
    // Where the viewer came in: the first 64 samples that are not silence, found in the
    // source (a decoder may lead with a little silence).
    let lead = decoded.iter().position(|&s| s != 0).unwrap_or(0);
    let probe = &decoded[lead..lead + 64];
    let at = source
        .windows(64)
        .position(|w| w == probe)
        .unwrap_or_else(|| panic!("{who}: the decoded samples are not the publisher's"));
    let run = decoded[lead..]
        .iter()
        .zip(&source[at..])
        .take_while(|(a, b)| a == b)
        .count();
    let whole = (decoded.len() - lead).min(source.len() - at);
    eprintln!(
        "{who}: {} samples decoded, {run} of {whole} from source sample {at} identical",
        decoded.len()
    );
    assert!(
        run + 4 * 960 >= whole,
        "{who}: only {run} of {whole} samples match the source from sample {at}"
    );
    assert!(run >= need, "{who}: {run} identical samples, want {need}");
}

/// ffmpeg reading `url` over UDP; the caller adds what it does with the streams.
fn ffmpeg_reading(url: &str) -> Command {
    let mut cmd = Command::new(tool("ffmpeg"));
    cmd.args([
        "-nostdin",
        "-v",
        "error",
        "-rtsp_transport",
        "udp",
        "-i",
        url,
    ]);
    cmd
}

/// An ffmpeg viewer of `url` over UDP for `seconds`: the sound it decoded and the frames.
fn ffmpeg_viewer(url: &str, seconds: u32, out: &Path) -> common::Bounded {
    common::spawn(
        ffmpeg_reading(url)
            .args(["-t", &seconds.to_string()])
            .args(["-map", "0:a", "-c:a", "pcm_s16le", "-f", "s16le"])
            .arg(out)
            .args(["-map", "0:v", "-f", "framemd5", "-"]),
    )
}

#[test]
fn ffmpeg_publishes_video_and_sound_and_ffmpeg_hears_every_sample() {
    let root = common::media_root("live-sound-ffmpeg", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let publisher = common::spawn(
        common::ffmpeg_publishing(&CLIP.path())
            .arg("-i")
            .arg(wav())
            .args(av::copy_video_with_sound("pcm_s16be"))
            .args(["-f", "rtsp", "-rtsp_transport", "tcp"])
            .arg(&url),
    );
    common::wait_live(handle.rtsp, &url);
    // Viewers are told of both tracks.
    let mut c = common::Rtsp::connect(handle.rtsp);
    let r = c.request("DESCRIBE", &url, &[]);
    let sdp = SessionDescription::parse(&String::from_utf8_lossy(&r.body)).unwrap();
    let audio = sdp
        .media
        .iter()
        .find(|m| m.media == "audio")
        .expect("m=audio");
    let format = hdstream_common::audio::Format::from_sdp(audio).unwrap();
    assert_eq!((format.clock_rate, format.channels), (48_000, 2));
    drop(c);
    let out = root.join("heard.s16le");
    let viewer = ffmpeg_viewer(&url, 4, &out);
    let seen = viewer.wait(Duration::from_secs(20));
    let _ = publisher.stop_after(Duration::from_secs(1), Duration::from_secs(2));
    assert!(seen.status.success(), "viewer: {}", seen.stderr);
    let frames = common::parse_framemd5(&seen.stdout_text());
    assert!(frames.len() >= 110, "{} frames in 4 s", frames.len());
    assert_a_run_of_the_source(&common::read_s16le(&out), 3.5, "ffmpeg viewer of ffmpeg");
    handle.stop().unwrap();
}

#[test]
fn rtspclientsink_publishes_sound_first_and_gstreamer_hears_it() {
    let root = common::media_root("live-sound-gst", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    // The sound's branch is linked first, so rtspclientsink announces it as the first
    // section; both are paced by the pipeline clock.
    let publisher = common::spawn(
        Command::new(tool("gst-launch-1.0"))
            .args(["-q", "-e", "rtspclientsink", "name=s", "protocols=tcp"])
            .arg(format!("location={url}"))
            .args(["filesrc"])
            .arg(format!("location={}", wav().display()))
            .args([
                "!",
                "wavparse",
                "!",
                "audioconvert",
                "!",
                "audio/x-raw,format=S16BE",
            ])
            .args(["!", "s.sink_0"])
            .args(av::ball_jpeg_into("s.sink_1")),
    );
    common::wait_live(handle.rtsp, &url);
    let out = root.join("heard.s16le");
    let viewer = common::spawn(
        common::gst_l16_to_file(&url, &["protocols=udp", "latency=200", "name=v"], "v", &out)
            .args(["!", "fakesink"]),
    );
    let _heard = viewer.stop_after(Duration::from_secs(5), Duration::from_secs(3));
    let _published = publisher.stop_after(Duration::from_secs(1), Duration::from_secs(3));
    assert_a_run_of_the_source(
        &common::read_s16le(&out),
        3.0,
        "GStreamer viewer of rtspclientsink",
    );
    handle.stop().unwrap();
}

/// The dominant frequency of mono `samples` at 48 kHz, by zero crossings, and their RMS.
fn tone_of(samples: &[i16]) -> (f64, f64) {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let seconds = samples.len() as f64 / 48_000.0;
    let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt();
    (crossings as f64 / 2.0 / seconds, rms)
}

#[test]
fn ffmpeg_publishes_opus_and_ffmpeg_hears_the_tone() {
    let root = common::media_root("live-sound-opus", &[("clip.mjpeg", &CLIP.path())]);
    let handle = serve(&root, Config::default());
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let publisher = common::spawn(
        common::ffmpeg_publishing(&CLIP.path())
            .args(["-f", "lavfi", "-i"])
            .arg("sine=frequency=440:sample_rate=48000:duration=8")
            .args(["-map", "0:v", "-map", "1:a", "-c:v", "copy"])
            .args(["-c:a", "libopus", "-b:a", "96k", "-ac", "2"])
            .args(["-f", "rtsp", "-rtsp_transport", "tcp"])
            .arg(&url),
    );
    common::wait_live(handle.rtsp, &url);
    let mut c = common::Rtsp::connect(handle.rtsp);
    let r = c.request("DESCRIBE", &url, &[]);
    let sdp = String::from_utf8_lossy(&r.body).into_owned();
    assert!(sdp.to_ascii_lowercase().contains("opus/48000/2"), "{sdp}");
    drop(c);
    let out = root.join("heard.s16le");
    let viewer = common::spawn(
        ffmpeg_reading(&url)
            .args(["-t", "4", "-map", "0:a", "-ac", "1", "-ar", "48000"])
            .args(["-c:a", "pcm_s16le", "-f", "s16le"])
            .arg(&out),
    );
    let seen = viewer.wait(Duration::from_secs(20));
    let _ = publisher.stop_after(Duration::from_secs(1), Duration::from_secs(2));
    assert!(seen.status.success(), "viewer: {}", seen.stderr);
    let heard = common::read_s16le(&out);
    // Past the decoder's start-up. lavfi's sine is at 1/8 of full scale (RMS 2896); sent as
    // stereo and taken back to mono by ffmpeg's downmix at −3 dB: RMS 2048 untouched.
    let (hz, rms) = tone_of(&heard[48_000 / 2..]);
    eprintln!(
        "ffmpeg viewer of ffmpeg's Opus: {} samples, {hz:.1} Hz, RMS {rms:.0}",
        heard.len()
    );
    assert!(heard.len() >= 48_000 * 3, "{} samples", heard.len());
    assert!((hz - 440.0).abs() < 5.0, "{hz} Hz");
    assert!((1_900.0..2_200.0).contains(&rms), "RMS {rms}, 2048 sent");
    handle.stop().unwrap();
}
