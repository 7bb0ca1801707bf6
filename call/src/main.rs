//! `hdstream-call`: one side of a two-way video call.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use hdstream_call::{Publish, Settings, far_url};
use hdstream_client::LowerTransport;
use hdstream_tools::publish::{AudioInput, Input, SoundCodec};

/// A two-way video call: publishes this side's camera and microphone and plays the far side's,
/// both at once, with this side's picture small in the top right corner of the window. Run one
/// on each side:
///
///   alice$ hdstream-call bob.example.net        (each embeds a server on port 8554:
///   bob$   hdstream-call alice.example.net       the far side plays rtsp://HOST:8554/live/call)
///
///   Through a server both already reach (hdstream-server, or any that takes RECORD):
///   alice$ hdstream-call --publish rtsp://srv:8554/live/alice rtsp://srv:8554/live/bob
///   bob$   hdstream-call --publish rtsp://srv:8554/live/bob rtsp://srv:8554/live/alice
///
///   A real camera and microphone (pipes; any program that writes JPEGs and PCM will do):
///   ffmpeg -f v4l2 -input_format mjpeg -video_size 1280x720 -i /dev/video0 -c:v copy -f mjpeg - \
///     | hdstream-call --camera - --mic none bob.example.net
///   arecord -f S16_LE -r 48000 -c 2 | hdstream-call --mic - bob.example.net
///
/// By default the camera is a 720p30 test pattern that shows its capture time and flashes once
/// a second, and the microphone a tone that clicks at each flash (so sync can be seen and
/// heard). Frames are shown as they are whole and the sound is written 30 ms ahead of them, so
/// the far side's capture reaches this screen in about 100 ms on a LAN (ITU-T G.114 puts the
/// bound for interactive talk at 150 ms). Keys and buttons are the player's (hdstream-client
/// --help); Q or closing the window hangs up. At the end a summary is printed: what was sent,
/// and the far side's capture to this screen (p50/p99) with the sound against the picture.
#[derive(Debug, Parser)]
#[command(name = "hdstream-call", version, verbatim_doc_comment)]
struct Cli {
    /// The far side: HOST or HOST:PORT of its hdstream-call (its embedded server's live/call),
    /// or the rtsp:// URL of its live path.
    far: String,
    /// Where this side's embedded server listens for the far side.
    #[arg(long, default_value = "0.0.0.0:8554", conflicts_with = "publish")]
    listen: SocketAddr,
    /// Publish into this live path of a server already running instead of embedding one.
    #[arg(long, value_name = "rtsp://HOST:PORT/live/NAME")]
    publish: Option<String>,
    /// The camera: `pattern[:WxH]` (a test pattern, 1280x720 by default), an MJPEG file
    /// (looped), or `-` for JPEGs on stdin (as `ffmpeg -f mjpeg -` writes them).
    #[arg(long, default_value = "pattern:1280x720")]
    camera: Input,
    /// Frames per second of the pattern or a file.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// JPEG quality of the pattern (1–100).
    #[arg(long, default_value_t = 80)]
    quality: u8,
    /// The microphone: `tone` (440 Hz, a click at each of the pattern's flashes), a WAV file,
    /// `-` for 16-bit little-endian PCM on stdin (48 kHz stereo), or `none`.
    #[arg(long, default_value = "tone", value_name = "tone|FILE.wav|-|none")]
    mic: String,
    /// How the sound travels.
    #[arg(long, value_enum, default_value_t = SoundCodec::L16)]
    audio_codec: SoundCodec,
    /// How the far side's RTP reaches this side (UDP asks for lost packets again).
    #[arg(long, value_enum, default_value_t = Wire::Udp)]
    transport: Wire,
    /// No window: play the far side headless (its numbers are still measured).
    #[arg(long)]
    headless: bool,
    /// Hang up after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// How far ahead of play time the sound is written, ms (more rides out a busy machine,
    /// and adds as much latency).
    #[arg(long, default_value_t = 30, value_name = "MS")]
    sound_ahead_ms: u64,
    /// Write the far side's sound as played to FILE.wav.
    #[arg(long, value_name = "FILE.wav")]
    audio_out: Option<PathBuf>,
    /// Where the far side's sound plays: `default` (the system's default output, unless
    /// --headless), a device name as `aplay -L` lists it, or `none`.
    #[arg(long, value_name = "NAME", default_value = "default")]
    audio_device: String,
    /// Write the summary as JSON here.
    #[arg(long, value_name = "FILE.json")]
    stats_json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Wire {
    /// RTP/AVP over UDP.
    Udp,
    /// Interleaved on the RTSP connection.
    Tcp,
}

fn settings(cli: &Cli) -> Result<Settings> {
    let mut s = Settings::new(far_url(&cli.far));
    s.publish = match &cli.publish {
        Some(url) => Publish::To(url.clone()),
        None => Publish::Embedded(cli.listen),
    };
    s.camera = cli.camera.clone();
    s.fps = cli.fps;
    s.quality = cli.quality.clamp(1, 100);
    s.mic = match cli.mic.as_str() {
        "none" => None,
        other => Some(other.parse::<AudioInput>().map_err(anyhow::Error::msg)?),
    };
    if s.camera == Input::Stdin && matches!(s.mic, Some(AudioInput::Stdin { .. })) {
        bail!("the camera and the microphone cannot both come from stdin");
    }
    s.audio_codec = cli.audio_codec.encoding();
    s.transport = match cli.transport {
        Wire::Udp => LowerTransport::Udp,
        Wire::Tcp => LowerTransport::Tcp,
    };
    s.headless = cli.headless;
    if let Some(d) = cli.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        s.duration = Some(Duration::from_secs_f64(d));
    }
    s.sound_ahead = Duration::from_millis(cli.sound_ahead_ms.clamp(10, 1000));
    s.audio_out.clone_from(&cli.audio_out);
    s.audio_device = match cli.audio_device.as_str() {
        "none" => hdstream_client::options::AudioDevice::None,
        "default" => hdstream_client::options::AudioDevice::Default,
        name => hdstream_client::options::AudioDevice::Named(name.to_owned()),
    };
    Ok(s)
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let settings = settings(&cli)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let report = hdstream_call::run(&settings, &stop)?;
    hdstream_client::cli::report(&report, cli.stats_json.as_deref())?;
    Ok(())
}

fn main() -> ExitCode {
    hdstream_client::cli::main("hdstream-call", "warn,hdstream_call=info", run)
}
