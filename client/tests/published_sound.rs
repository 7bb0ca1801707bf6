//! Our client plays what ffmpeg and GStreamer publish with sound into our server: every picture
//! one of the published frames, and the sound it records (`--audio-out`) the publisher's tone —
//! Opus (RFC 7587, decoded through libopus) from ffmpeg, L16 (RFC 3551) from `rtspclientsink`.

use crate::common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hdstream_client::{LowerTransport, Report, Target};
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Handle, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_server::test_media::av;

/// A server of `file` and of what is published into it.
fn server(file: &std::path::Path) -> Handle {
    let (catalogue, _) = Catalogue::open(file, &FpsPolicy::default()).unwrap();
    let listen = Listen {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        rtp_port: None,
    };
    driver::spawn(Config::default(), Arc::new(catalogue), listen).unwrap()
}

/// Kills the publisher however the test ends.
struct Publisher(Child);

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Plays `url` headless for `seconds` once it is live, recording the sound to `out`.
fn watch(url: &str, out: &std::path::Path, seconds: u64) -> Report {
    let mut options = common::recording(Target::Url(url.to_owned()));
    options.transport = LowerTransport::Udp;
    options.duration = Some(Duration::from_secs(seconds));
    options.audio_out = Some(out.to_owned());
    common::play_when_live(&options, url)
}

/// The first channel's dominant frequency (zero crossings) and RMS, past the first `skip` s.
fn tone_of(rate: u32, channels: usize, samples: &[i16], skip: f64) -> (f64, f64) {
    let first: Vec<i16> = samples
        .chunks_exact(channels)
        .skip((skip * f64::from(rate)) as usize)
        .map(|f| f[0])
        .collect();
    let crossings = first
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    let seconds = first.len() as f64 / f64::from(rate);
    let rms = (first.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
        / first.len().max(1) as f64)
        .sqrt();
    (crossings as f64 / 2.0 / seconds, rms)
}

/// Reads a 16-bit PCM WAV: its rate, channels and samples.
fn read_wav(path: &std::path::Path) -> (u32, usize, Vec<i16>) {
    let bytes = std::fs::read(path).expect("the WAV written");
    let wav = hdstream_common::audio::wav::parse(&bytes).expect("a WAV");
    let mut samples = Vec::new();
    wav.read_samples(&bytes, &mut samples);
    (wav.sample_rate, usize::from(wav.channels), samples)
}

fn plays_published_sound(who: &str, publish: impl FnOnce(&str) -> Command, codec: &str) {
    common::logs();
    let _one_at_a_time = common::serial();
    let file = common::pattern_file(640, 360, 240);
    let handle = server(&file);
    let url = format!("rtsp://{}/live/cam", handle.rtsp);
    let _publisher = Publisher(
        publish(&url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the publisher runs"),
    );
    let out = common::media_dir().join(format!("published-{codec}-{}.wav", std::process::id()));
    let report = watch(&url, &out, 4);
    handle.stop().unwrap();
    let (rate, channels, samples) = read_wav(&out);
    let _ = std::fs::remove_file(&out);
    let (hz, rms) = tone_of(rate, channels, &samples, 0.5);
    let json = serde_json::to_value(&report).unwrap();
    eprintln!(
        "{who} audio: underruns {} silent {} s late {} offset {}",
        json["audio_underruns"],
        json["audio_seconds_silent"],
        json["audio_packets_late"],
        json["audio_video_offset_ms"]
    );
    eprintln!(
        "{who} ({codec}): {} pictures, sound {} Hz x{channels}: {:.2} s, {hz:.1} Hz, RMS {rms:.0}, \
         packets {} lost {} concealed {}",
        report.frames_displayed,
        rate,
        samples.len() as f64 / channels as f64 / f64::from(rate),
        json["audio_packets_received"],
        json["audio_packets_lost"],
        json["audio_concealed_packets"],
    );
    assert!(
        report.frames_displayed >= 100,
        "{} pictures",
        report.frames_displayed
    );
    assert!(
        json["audio_format"]
            .as_str()
            .is_some_and(|f| f.to_lowercase().contains(codec)),
        "{json:#}"
    );
    assert!(
        samples.len() / channels >= 3 * rate as usize,
        "{} samples",
        samples.len()
    );
    assert!((hz - 440.0).abs() < 5.0, "{hz} Hz, 440 published");
    assert!(rms > 1000.0, "RMS {rms}: the tone, not silence");
}

#[test]
fn ffmpeg_publishes_opus_and_our_client_hears_the_tone() {
    let file = common::pattern_file(640, 360, 240);
    plays_published_sound(
        "ffmpeg",
        |url| {
            let mut ffmpeg = common::ffmpeg_reading(&file);
            ffmpeg
                .args(["-re", "-f", "lavfi", "-i"])
                .arg("sine=frequency=440:sample_rate=48000:duration=8")
                .args(["-map", "0:v", "-map", "1:a", "-c:v", "copy"])
                .args(["-c:a", "libopus", "-ac", "2"])
                .args(["-f", "rtsp", "-rtsp_transport", "tcp", url]);
            ffmpeg
        },
        "opus",
    );
}

#[test]
fn rtspclientsink_publishes_l16_and_our_client_hears_the_tone() {
    plays_published_sound(
        "rtspclientsink",
        |url| {
            let mut gst = Command::new("gst-launch-1.0");
            gst.args(["-q", "-e", "rtspclientsink", "name=s", "protocols=tcp"])
                .arg(format!("location={url}"))
                .args(av::ball_jpeg_into("s.sink_0"))
                .args(["audiotestsrc", "freq=440", "volume=0.3", "is-live=true"])
                .args(["!", "audio/x-raw,rate=48000,channels=2,format=S16BE"])
                .args(["!", "s.sink_1"]);
            gst
        },
        "l16",
    );
}
