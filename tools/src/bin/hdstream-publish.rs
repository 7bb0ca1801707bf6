//! `hdstream-publish`: publishes MJPEG, with sound and captions, into an RTSP server's live
//! path.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use hdstream_common::rtsp::header::LowerTransport;
use hdstream_tools::publish::{self, AudioInput, CaptionInput, Input, Settings, SoundCodec};

/// Publishes Motion-JPEG into an RTSP server (ANNOUNCE, SETUP mode=record, RECORD; RFC 2435
/// RTP over TCP or UDP), in real time, so that any number of viewers can watch it — with sound
/// and captions beside it if asked:
///
///   hdstream-server --media media &
///   hdstream-publish media/clip.mjpeg rtsp://127.0.0.1:8554/live/cam      (a file, looped)
///   hdstream-publish pattern:1920x1080 rtsp://127.0.0.1:8554/live/cam     (a test pattern)
///   ffmpeg -f v4l2 -i /dev/video0 -c:v mjpeg -huffman default -pix_fmt yuvj420p -f mjpeg - \
///     | hdstream-publish - rtsp://127.0.0.1:8554/live/cam                 (a camera)
///   hdstream-publish pattern:640x360 --audio tone rtsp://127.0.0.1:8554/live/cam
///                                                      (lip-sync test: flash + click each second)
///   hdstream-publish clip.mjpeg --audio clip.wav --captions clip.vtt rtsp://127.0.0.1:8554/live/cam
///   arecord -f S16_LE -r 48000 -c 2 | hdstream-publish pattern --audio - rtsp://...
///   hdstream-publish clip.mjpeg --captions - rtsp://...   (type a line: it is shown now)
///   hdstream-client rtsp://127.0.0.1:8554/live/cam
///
/// The test pattern shows its frame number and its capture time of day (HHMMSSmmm). Every
/// second an RTCP sender report on each track maps its RTP timestamps to the capture time
/// (NTP), all from one clock, which the server passes on to viewers: players line sound and
/// captions up with the video by them, and hdstream-client reports capture-to-display latency.
/// Frames must be baseline 4:2:0 or 4:2:2 JPEGs with the standard Huffman tables (RFC 2435);
/// others are left out and counted. Each track has its own control URL (trackID=0 video, 1
/// sound, 2 captions) and, over TCP, its own interleaved channels (0-1, 2-3, 4-5). When the
/// server goes away, the publisher keeps time and connects again every second. Ends at the end
/// of the video from stdin, after --frames or --duration, or on Ctrl-C; prints a JSON summary
/// on stdout.
#[derive(Debug, Parser)]
#[command(name = "hdstream-publish", version, verbatim_doc_comment)]
struct Args {
    /// An MJPEG file (looped), `-` for concatenated JPEGs on stdin, or `pattern[:WxH]`
    /// (default 1280x720).
    input: Input,
    /// Where to publish: rtsp://HOST:PORT/live/NAME.
    url: String,
    /// Frames per second for files and the pattern (stdin frames go as they come).
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// How RTP travels to the server.
    #[arg(long, value_enum, default_value_t = Wire::Tcp)]
    transport: Wire,
    /// Largest IP packet over UDP.
    #[arg(long, default_value_t = 1400)]
    mtu: usize,
    /// JPEG quality of the pattern (1–100).
    #[arg(long, default_value_t = 80)]
    quality: u8,
    /// Stop after this many frames.
    #[arg(long)]
    frames: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Give up when the server goes away instead of connecting again.
    #[arg(long)]
    no_reconnect: bool,
    /// User name for a server that asks (needs the publish right in its users file);
    /// rtsp://user:password@host/... works too.
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// Password for --user.
    #[arg(long, requires = "user")]
    password: Option<String>,
    /// Draw the test pattern bright (near white) at each whole second of media time — frames
    /// 0, 30, 60... at 30 fps — for lip-sync tests. On with --audio tone.
    #[arg(long)]
    flash: bool,
    /// Sound beside the video. `tone`: a quiet 440 Hz sine with a loud 5 ms click at each
    /// flash of the pattern, stamped with the flash frame's media time (48 kHz stereo as L16,
    /// 8 kHz mono as PCMU/PCMA). FILE.wav: 16-bit PCM, paced in real time, looped with the
    /// video when the video is a looped file (cut or padded with silence to its length), else
    /// over its own length. `-`: 16-bit little-endian PCM on stdin (--audio-rate,
    /// --audio-channels), sent as it comes, at most in real time.
    #[arg(long, value_name = "tone|FILE.wav|-")]
    audio: Option<AudioInput>,
    /// How the sound travels: l16 (RFC 3551 §4.5.11; dynamic payload type 96, or static 10/11
    /// at 44.1 kHz), pcmu or pcma (G.711; static 0/8 at 8 kHz mono, else dynamic 96 at the
    /// input's rate and channels), opus (RFC 7587, 48 kHz sound only, 20 ms packets, 64 kbit/s).
    #[arg(long, value_enum, default_value_t = SoundCodec::L16, requires = "audio")]
    audio_codec: SoundCodec,
    /// Sample rate of --audio - (Hz).
    #[arg(long, default_value_t = 48_000, requires = "audio")]
    audio_rate: u32,
    /// Channels of --audio - (interleaved).
    #[arg(long, default_value_t = 2, requires = "audio")]
    audio_channels: u16,
    /// Captions beside the video, as real-time text (RFC 4103 T.140, one caption a line).
    /// `-`: each line read from stdin is a caption shown at the moment it is read.
    /// FILE.vtt or FILE.srt: each cue at its start time (looped with a looped video file).
    #[arg(long, value_name = "-|FILE.vtt|FILE.srt")]
    captions: Option<CaptionInput>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Wire {
    /// Interleaved on the RTSP connection.
    Tcp,
    /// UDP datagrams.
    Udp,
}

fn main() -> Result<()> {
    hdstream_common::logs::init("info");
    let args = Args::parse();
    let mut settings = Settings::new(args.input, args.url);
    settings.fps = args.fps;
    settings.transport = match args.transport {
        Wire::Tcp => LowerTransport::Tcp,
        Wire::Udp => LowerTransport::Udp,
    };
    settings.mtu = args.mtu;
    settings.quality = args.quality.clamp(1, 100);
    settings.frames = args.frames;
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        settings.duration = Some(Duration::from_secs_f64(d));
    }
    settings.reconnect = !args.no_reconnect;
    settings.credentials = args.user.zip(args.password);
    // The tone clicks at the pattern's flashes: it flashes with the tone.
    let pattern = matches!(settings.input, Input::Pattern { .. });
    settings.flash = args.flash || (pattern && args.audio == Some(AudioInput::Tone));
    settings.audio = args.audio.map(|audio| match audio {
        AudioInput::Stdin { .. } => AudioInput::Stdin {
            rate: args.audio_rate,
            channels: args.audio_channels,
        },
        other => other,
    });
    settings.audio_codec = args.audio_codec.encoding();
    settings.captions = args.captions;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let report = publish::run(&settings, &stop)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
