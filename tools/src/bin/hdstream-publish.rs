//! `hdstream-publish`: publishes MJPEG into an RTSP server's live path.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use hdstream_tools::publish::{self, Carriage, Input, Settings};

/// Publishes Motion-JPEG into an RTSP server (ANNOUNCE, SETUP mode=record, RECORD; RFC 2435
/// RTP over TCP or UDP), in real time, so that any number of viewers can watch it:
///
///   hdstream-server --media media &
///   hdstream-publish media/clip.mjpeg rtsp://127.0.0.1:8554/live/cam      (a file, looped)
///   hdstream-publish pattern:1920x1080 rtsp://127.0.0.1:8554/live/cam     (a test pattern)
///   ffmpeg -f v4l2 -i /dev/video0 -c:v mjpeg -huffman default -pix_fmt yuvj420p -f mjpeg - \
///     | hdstream-publish - rtsp://127.0.0.1:8554/live/cam                 (a camera)
///   hdstream-client rtsp://127.0.0.1:8554/live/cam
///
/// The test pattern shows its frame number and its capture time of day (HHMMSSmmm). Every
/// second an RTCP sender report maps the RTP timestamps to the capture time (NTP), which the
/// server passes on to viewers: hdstream-client reports capture-to-display latency from it.
/// Frames must be baseline 4:2:0 or 4:2:2 JPEGs with the standard Huffman tables (RFC 2435);
/// others are left out and counted. When the server goes away, the publisher keeps time and
/// connects again every second. Ends at the end of stdin, after --frames or --duration, or on
/// Ctrl-C; prints a JSON summary on stdout.
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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Wire {
    /// Interleaved on the RTSP connection.
    Tcp,
    /// UDP datagrams.
    Udp,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut settings = Settings::new(args.input, args.url);
    settings.fps = args.fps;
    settings.carriage = match args.transport {
        Wire::Tcp => Carriage::Tcp,
        Wire::Udp => Carriage::Udp,
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
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let report = publish::run(&settings, &stop)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
