//! `hdstream-client`: the command line around [`hdstream_client::play`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use hdstream_client::{AudioDevice, LowerTransport, Options, Target, cli};

/// Plays Motion-JPEG streams (RFC 2435) from an RTSP server (RFC 2326) in a window, or headless,
/// with their sound on the default sound device (ALSA on Linux; see --audio-device).
///
/// Two forms:
///
///   hdstream-client rtsp://HOST[:PORT]/FILE [OPTIONS]     standard RTSP
///
///   hdstream-client rtsph://HOST:HTTP_PORT/FILE           RTSP tunnelled in HTTP to the
///                                                         server's --http port (also: an
///                                                         rtsp:// URL with --tunnel http),
///                                                         for networks that pass only HTTP
///
///   hdstream-client HOST PORT RTP_PORT FILE               the course's Python servers (basic,
///                                                         HD or caching), in their dialect
///                                                         (RTP over UDP to RTP_PORT, 0 = any;
///                                                         frames shown at the pace they come)
///
/// Keys in the window: Space pause/resume, Left/Right seek -/+10 s, Home restart, S statistics
/// overlay, Q or Esc quit; a click on the progress bar seeks there. On a live stream
/// (rtsp://HOST/live/NAME) the server keeps sending while paused and the client keeps what
/// it receives (timeshift, within --cache-mb): Space, Left/Right and the bar move inside it,
/// End goes back to the live edge. Without a display (no
/// DISPLAY or WAYLAND_DISPLAY) the client plays headless. At exit a statistics table goes to
/// stderr; the exit code is 0 after a normal end, 1 when the server refused or went away.
#[derive(Debug, Parser)]
#[command(name = "hdstream-client", version, verbatim_doc_comment)]
struct Cli {
    /// rtsp://HOST[:PORT]/FILE, or HOST PORT RTP_PORT FILE for the course's server.
    #[arg(value_name = "URL | HOST PORT RTP_PORT FILE", num_args = 1..=4, required = true)]
    target: Vec<String>,

    /// How RTP travels: UDP datagrams, or interleaved on the RTSP TCP connection.
    #[arg(long, value_enum, default_value_t = Transport::Udp)]
    transport: Transport,

    /// Tunnel RTSP in HTTP (the QuickTime tunnel: a GET and a POST joined by a cookie, as
    /// ffmpeg -rtsp_transport http and GStreamer rtsph:// do) to the URL's port, which must be
    /// the server's HTTP port (hdstream-server --http: 8080); media then travels interleaved
    /// in it. An rtsph:// URL does the same.
    #[arg(long, value_enum, value_name = "PROTOCOL")]
    tunnel: Option<Tunnel>,

    /// Media to buffer before playing starts (and after the cache runs dry), e.g. 500ms, 2s.
    /// Default 500ms for files; a live stream (the server says `npt=now-`) plays with low
    /// latency unless a prebuffer is given.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    prebuffer: Option<Duration>,

    /// Frame cache limit in MiB of JPEG data.
    #[arg(long, value_name = "MB", default_value_t = 256)]
    cache_mb: usize,

    /// No prebuffer: always show the newest complete frame.
    #[arg(long)]
    low_latency: bool,

    /// Do not ask for lost packets again. By default, when the server offers retransmission
    /// (RTP/AVPF with an rtx format in its SDP), each lost packet is asked for with an RTCP
    /// NACK (RFC 4585) while its frame can still make its time, and comes back in an RTX
    /// packet (RFC 4588). Off in --low-latency mode and over TCP.
    #[arg(long)]
    no_repair: bool,

    /// Never show a frame that lost packets. By default, when the server aligns packets with
    /// the JPEG's restart intervals (RFC 2435 §3.1.7; encode_mjpeg --restart makes such
    /// files), a frame whose lost packets could not be repaired in time is shown anyway,
    /// each lost interval (a band of the picture) taken from the frame before, and counted as
    /// concealed. Frames without restart markers are always lost whole.
    #[arg(long)]
    no_conceal: bool,

    /// User name for a server that asks for one (RFC 7616 Digest, MD5 or SHA-256; Basic when
    /// that is all it offers). Credentials in the URL (rtsp://user:password@host/…) serve too.
    #[arg(long, requires = "password")]
    user: Option<String>,

    /// Password for --user.
    #[arg(long, requires = "user")]
    password: Option<String>,

    /// rtsps:// (RTSP over TLS, media interleaved on the connection): trust the server
    /// certificates in this PEM file instead of the system's roots.
    #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
    ca: Option<PathBuf>,

    /// rtsps://: take any server certificate (a self-signed test server). Anyone between
    /// you and the server could then read and change the stream.
    #[arg(long)]
    insecure: bool,

    /// No window, even when a display is available (decode and count only; no sound device
    /// unless --audio-device names one).
    #[arg(long)]
    headless: bool,

    /// Stop after this many seconds of playing.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Also write the statistics as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,

    /// Keep a record of every frame shown in the --stats-json report: its NPT, a checksum and
    /// the brightness of its pixels, its capture to display, and where the sound output was
    /// when it went on screen (ms of what --audio-out records: a click there lines up with
    /// its picture). For tests and benchmarks; about 50 bytes a frame.
    #[arg(long, requires = "stats_json")]
    record_frames: bool,

    /// Local RTP port (RTCP uses the next one); default: any free pair.
    #[arg(long, value_name = "N")]
    rtp_port: Option<u16>,

    /// Decode threads; default: one, plus a second when one cannot keep up.
    #[arg(long, value_name = "N")]
    decode_threads: Option<usize>,

    /// Leave the sound out: no SETUP of an audio track even when the server describes one.
    #[arg(long)]
    no_audio: bool,

    /// Write the sound as played to FILE.wav (16-bit PCM at the track's rate and channels), in
    /// media-time order, with the silence that was played for lost packets, underruns and
    /// seeks. With no sound device this is the record of what was heard. The header's sizes
    /// are written at the end (after a quit or Ctrl-C too). The client plays L16 (any rate and
    /// channels, RFC 3551 §4.5.11) and G.711 PCMU/PCMA audio tracks.
    #[arg(long, value_name = "FILE.wav", conflicts_with = "no_audio")]
    audio_out: Option<PathBuf>,

    /// Play the sound on this output device: an ALSA PCM name as `aplay -L` lists it
    /// (default, null, hw:CARD=PCH,DEV=0, ...) or a device's description. By default the
    /// sound plays on the system's default device (none with --headless; `default` names it);
    /// `none` is --no-audio-device. Without a usable device one warning says so and the video plays on.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["no_audio", "no_audio_device"])]
    audio_device: Option<String>,

    /// Play the sound on no device: it is still received, timed and counted, and written by
    /// --audio-out (tests, benchmarks, a machine without sound).
    #[arg(long)]
    no_audio_device: bool,

    /// Leave the captions out: no SETUP of a text track (RFC 4103 T.140) even when the server
    /// describes one.
    #[arg(long)]
    no_captions: bool,

    /// Write the captions received to FILE.srt at the end of the run (after a quit or Ctrl-C
    /// too), timed in media time: each from its T.140 timestamp, ending at the next one or 3 s
    /// after it starts.
    #[arg(long, value_name = "FILE.srt", conflicts_with = "no_captions")]
    captions_out: Option<PathBuf>,

    /// Frame rate for a stream that does not time its frames: a sender whose RTP timestamps
    /// are unusable and whose SDP has no a=framerate, or the course's servers. Without it such
    /// frames are shown at the pace they arrive (a burst: at 30 fps).
    #[arg(long, value_name = "FPS")]
    fps: Option<f64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Transport {
    /// RTP/AVP over UDP (client_port).
    Udp,
    /// RTP/AVP/TCP interleaved on the RTSP connection.
    Tcp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Tunnel {
    /// RTSP tunnelled in HTTP.
    Http,
}

/// `500ms`, `2s`, `1.5s` or a bare number of milliseconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else {
        (s, 0.001)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms or 2s"))?;
    if !value.is_finite() || value < 0.0 || value * scale > 3600.0 {
        return Err(format!("{s:?}: a duration from 0 to 3600 s"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

fn options(cli: &Cli) -> Result<Options> {
    let target = match cli.target.as_slice() {
        [url] => Target::Url(url.clone()),
        [host, port, rtp_port, file] => Target::Course {
            host: host.clone(),
            port: port
                .parse()
                .with_context(|| format!("PORT {port:?} is not a port number"))?,
            rtp_port: rtp_port
                .parse()
                .with_context(|| format!("RTP_PORT {rtp_port:?} is not a port number"))?,
            file: file.clone(),
        },
        other => bail!(
            "expected a URL or HOST PORT RTP_PORT FILE, got {} argument(s); see --help",
            other.len()
        ),
    };
    let mut options = Options::new(target);
    options.tunnel = matches!(cli.tunnel, Some(Tunnel::Http));
    options.transport = match cli.transport {
        Transport::Udp => LowerTransport::Udp,
        Transport::Tcp => LowerTransport::Tcp,
    };
    if let Some(prebuffer) = cli.prebuffer {
        options.prebuffer = prebuffer;
        options.live_low_latency = false;
    }
    options.cache_mb = cli.cache_mb;
    options.low_latency = cli.low_latency;
    options.repair = !cli.no_repair;
    options.conceal = !cli.no_conceal;
    options.credentials = cli.user.clone().zip(cli.password.clone());
    options.trust = match (&cli.ca, cli.insecure) {
        (Some(ca), _) => hdstream_client::tls::Trust::Ca(ca.clone()),
        (None, true) => hdstream_client::tls::Trust::Insecure,
        (None, false) => hdstream_client::tls::Trust::System,
    };
    options.headless = cli.headless;
    if let Some(d) = cli.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("--duration must be a positive number of seconds");
        }
        options.duration = Some(Duration::from_secs_f64(d));
    }
    options.stats_json = cli.stats_json.clone();
    options.record_frames = cli.record_frames;
    options.rtp_port = cli.rtp_port.unwrap_or(0);
    options.decode_threads = cli.decode_threads.filter(|&n| n > 0);
    options.fps = cli.fps.filter(|f| f.is_finite() && *f > 0.0);
    options.handle_signals = true;
    options.audio = !cli.no_audio;
    options.audio_out = cli.audio_out.clone();
    options.audio_device = match cli.audio_device.as_deref() {
        Some("none") => AudioDevice::None,
        Some("default") => AudioDevice::Default,
        Some(name) => AudioDevice::Named(name.to_string()),
        None if cli.no_audio_device || cli.headless => AudioDevice::None,
        None => AudioDevice::Default,
    };
    options.captions = !cli.no_captions;
    options.captions_out = cli.captions_out.clone();
    Ok(options)
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let options = options(&cli)?;
    let report = hdstream_client::play(&options)?;
    cli::report(&report, options.stats_json.as_deref())?;
    Ok(())
}

fn main() -> ExitCode {
    cli::main("hdstream-client", "warn,hdstream_client=info", run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn both_command_line_forms_parse() {
        let cli = Cli::try_parse_from([
            "c",
            "rtsp://h:8554/m.mjpeg",
            "--transport",
            "tcp",
            "--prebuffer",
            "1s",
        ])
        .unwrap();
        let o = options(&cli).unwrap();
        assert_eq!(o.target, Target::Url("rtsp://h:8554/m.mjpeg".into()));
        assert_eq!(
            (o.transport, o.prebuffer),
            (LowerTransport::Tcp, Duration::from_secs(1))
        );
        let cli = Cli::try_parse_from(["c", "localhost", "8554", "25000", "movie.Mjpeg"]).unwrap();
        let o = options(&cli).unwrap();
        assert_eq!(
            o.target,
            Target::Course {
                host: "localhost".into(),
                port: 8554,
                rtp_port: 25000,
                file: "movie.Mjpeg".into()
            }
        );
        let cli = Cli::try_parse_from(["c", "a", "b"]).unwrap();
        assert!(options(&cli).is_err());
        Cli::command_for_test();
    }

    #[test]
    fn the_sound_plays_on_the_default_device_unless_headless_or_told_otherwise() {
        let device = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["c", "rtsp://h/m"], args].concat()).unwrap();
            options(&cli).unwrap().audio_device
        };
        assert_eq!(device(&[]), AudioDevice::Default);
        assert_eq!(device(&["--headless"]), AudioDevice::None);
        assert_eq!(device(&["--no-audio-device"]), AudioDevice::None);
        assert_eq!(device(&["--audio-device", "none"]), AudioDevice::None);
        assert_eq!(
            device(&["--headless", "--audio-device", "default"]),
            AudioDevice::Default
        );
        assert_eq!(
            device(&["--audio-device", "hw:CARD=PCH,DEV=0"]),
            AudioDevice::Named("hw:CARD=PCH,DEV=0".into())
        );
        assert!(Cli::try_parse_from(["c", "u", "--no-audio", "--audio-device", "x"]).is_err());
    }

    impl Cli {
        fn command_for_test() {
            use clap::CommandFactory;
            Cli::command().debug_assert();
        }
    }
}
