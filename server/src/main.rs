//! `hdstream-server`: serves MJPEG files over RTSP 1.0 / RTP (RFC 2326, 3550, 2435).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use hdstream_server::access::Users;
use hdstream_server::core::Config;
use hdstream_server::driver::{self, Listen};
use hdstream_server::media::{Catalogue, FpsPolicy};
use hdstream_server::speech::Recogniser;

/// Streams Motion-JPEG files over RTSP/RTP as RFC 2435 RTP/JPEG, paced, to any number of
/// clients (UDP unicast or TCP-interleaved). Plays in ffmpeg and GStreamer:
///
///   ffplay rtsp://127.0.0.1:8554/clip.mjpeg
///
/// Every *.mjpeg / *.mjpg file under the media directory is indexed at start-up and served at
/// rtsp://HOST:PORT/<path below the directory>, with clip.wav beside clip.mjpeg as its sound
/// and clip.vtt / clip.srt as its captions. Matroska and AVI files of MJPEG video with 16-bit
/// PCM or Opus sound, as ffmpeg writes them, are served the same way (*.mkv, *.avi: their own
/// frame rate and sound):
///
///   ffmpeg -i talk.mp4 -c:v mjpeg -q:v 3 -pix_fmt yuvj420p -huffman default -c:a pcm_s16le media/talk.mkv
/// Files that cannot travel as RFC 2435 (4:4:4,
/// progressive, optimised Huffman tables…) are listed with the reason and refused with 415;
/// convert them with `encode_mjpeg --from`.
///
/// Live: publishers (ffmpeg -f rtsp, GStreamer's rtspclientsink, hdstream-publish) ANNOUNCE and
/// RECORD into rtsp://HOST:PORT/live/NAME, over TCP or UDP; viewers play that URL like a file
/// (joining at the next frame). One publisher per path; any number of viewers.
///
///   hdstream-publish clip.mjpeg rtsp://127.0.0.1:8554/live/cam
///   hdstream-client rtsp://127.0.0.1:8554/live/cam
///
/// Captions from speech: with --captions-from-speech, a speech recogniser listens to the sound
/// of every live path and what it hears becomes the path's caption track (T.140, trackID=2),
/// each caption timed where its words began:
///
///   hdstream-server --captions-from-speech
///   ffmpeg -i rtsp://127.0.0.1:8554/live/cam -map 0:s -c:s srt captions.srt
///
/// Watch in a browser: with --http, an HTTP port serves the same files and live paths as
/// Motion-JPEG, as an IP camera does — <img src="http://HOST:8080/watch/clip.mjpeg"> plays it,
/// and so do ffmpeg and OpenCV (any size, 2160p too), and /snapshot/ gives one JPEG:
///
///   hdstream-server --http
///   ffmpeg -f mpjpeg -i http://127.0.0.1:8080/watch/clip.mjpeg -c copy frames-%04d.jpg
///   curl -o now.jpg http://127.0.0.1:8080/snapshot/live/cam
///
/// Through a firewall that passes only HTTP, RTSP itself goes over the HTTP port (the QuickTime
/// tunnel: a GET and a POST joined by x-sessioncookie) — give players the HTTP port:
///
///   ffmpeg -rtsp_transport http -i rtsp://127.0.0.1:8080/clip.mjpeg -f framemd5 -
///   gst-launch-1.0 rtspsrc location=rtsph://127.0.0.1:8080/clip.mjpeg ! rtpjpegdepay ! jpegdec ! autovideosink
///
/// UDP goes out in batches (sendmmsg), runs of equal-sized packets as one UDP GSO send where the
/// kernel offers it; HDSTREAM_NO_GSO=1 turns GSO off (a firewall then sees every datagram).
/// Logs: RUST_LOG=debug for every RTCP report and more.
#[derive(Debug, Parser)]
#[command(name = "hdstream-server", version, verbatim_doc_comment)]
struct Args {
    /// Media directory (every MJPEG file below it is served) or a single file.
    #[arg(long, short, default_value = ".")]
    media: PathBuf,
    /// Address to listen on (RTSP and RTP/RTCP).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// RTSP port.
    #[arg(long, short, default_value_t = 8554)]
    port: u16,
    /// Server RTP port (even; RTCP uses the next one). Default: any free pair.
    #[arg(long)]
    rtp_port: Option<u16>,
    /// Frames per second for every file without a rate of its own (Matroska and AVI have one)
    /// [default: 30; 20 for the course's 5-digit container].
    #[arg(long)]
    fps: Option<f64>,
    /// Frame rate of one file, by its URL path or file name: NAME=FPS (repeatable).
    #[arg(long = "fps-for", value_name = "NAME=FPS", value_parser = parse_override)]
    fps_for: Vec<(String, f64)>,
    /// Path MTU for RTP over UDP, bytes (IP + UDP + RTP + payload).
    #[arg(long, default_value_t = 1400, value_parser = clap::value_parser!(u16).range(256..=65535))]
    mtu: u16,
    /// Seconds without an RTSP request or RTCP report before a session is reclaimed.
    #[arg(long, default_value_t = 60)]
    session_timeout: u64,
    /// Seconds a publisher may send nothing (no RTP, RTCP or request) before its live path
    /// ends and its viewers get RTCP BYE.
    #[arg(long, default_value_t = 60)]
    publish_timeout: u64,
    /// MiB of published frames all live paths keep together for their viewers (each path
    /// its share, at most 48 MiB, about a second of 2160p); more paths, shorter history each.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(16..=65536))]
    live_memory_mb: u64,
    /// Most concurrent sessions (SETUP beyond it gets 503).
    #[arg(long, default_value_t = 1000)]
    max_sessions: usize,
    /// Loop files forever instead of ending with RTCP BYE.
    #[arg(long = "loop")]
    looping: bool,
    /// Highest Speed granted to clients prefetching faster than real time.
    #[arg(long, default_value_t = 4.0)]
    max_speed: f64,
    /// How long sent packets can be asked for again, ms: clients that send RTCP NACKs (RFC 4585)
    /// get lost packets again as RTX packets (RFC 4588), offered in the SDP. 0 turns it off.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    rtx_time: u64,
    /// Who may watch and publish: a TOML file of users (Digest HA1 values, never passwords)
    /// and the paths each may read or publish; a user named "*" is anyone. Without it anyone
    /// may watch. Add a user with: hdstream-user add FILE NAME --read '*'
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Connections at once, in all (RTSP and HTTP); a connection beyond it is answered 503
    /// and closed.
    #[arg(long, default_value_t = 4000)]
    max_connections: usize,
    /// Connections at once from one address, RTSP and HTTP (loopback addresses are exempt);
    /// beyond it, 503 and close (logged).
    #[arg(long, default_value_t = 64)]
    max_connections_per_address: usize,
    /// RTSPS: the server's certificate chain (PEM). With --tls-key, the server also listens
    /// for RTSP over TLS (rtsps://) on --tls-port; media then travels interleaved on the
    /// TLS connection (or over UDP if the client asks).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// RTSPS: the certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// RTSPS port.
    #[arg(long, default_value_t = hdstream_server::tls::DEFAULT_PORT)]
    tls_port: u16,
    /// Also serve HTTP on ADDR (off when not given; without a value, port 8080 on --bind's
    /// address: 0.0.0.0:8080 by default): GET /watch/<path> streams a file or live path as multipart/x-mixed-replace
    /// MJPEG at its pace (an <img> tag, ffmpeg -f mpjpeg and OpenCV play it; a file ends with
    /// it, or loops with --loop); GET /snapshot/<path> is one JPEG — a live path's newest
    /// frame, or a file's at ?t=SECONDS (default 0). The same paths and --users as RTSP
    /// (Digest). A request head must come whole within 10 s and 16 KiB (414/431 beyond); a
    /// viewer that reads slowly skips whole frames rather than queueing more than 4 MiB; one
    /// that reads nothing for --session-timeout is closed. Operations: GET /api/v1/paths and
    /// /api/v1/sessions (JSON: files and live paths; every RTSP session, HTTP viewer and
    /// publisher with its figures) and GET /metrics (Prometheus text format). With --users
    /// they need a user with the admin right (hdstream-user add FILE NAME --admin); without
    /// --users they are open to anyone who reaches the port, peer addresses included: bind
    /// --http to loopback (--http 127.0.0.1:8080) or put it behind a proxy.
    /// RTSP tunnelled in HTTP is served on it too: a GET with x-sessioncookie and Accept:
    /// application/x-rtsp-tunnelled, joined by a POST with the same cookie whose body is base64
    /// RTSP (ffmpeg -rtsp_transport http, GStreamer rtsph://); a cookie is used once, and a GET
    /// with no request within 10 s closes.
    #[arg(long, value_name = "ADDR", num_args = 0..=1)]
    http: Option<Option<SocketAddr>>,
    /// Captions from speech: run a speech recogniser on the sound of every live path (L16,
    /// PCMU, PCMA or Opus, any rate) and send what it hears as the path's captions
    /// (RFC 4103 T.140, offered as trackID=2), each stamped at the media time its words began.
    /// A publisher that sends captions of its own keeps them. The recogniser is Debian's
    /// pocketsphinx (apt-get install pocketsphinx pocketsphinx-en-us) unless --speech-command
    /// names another; a missing one is logged once and paths go on without captions; one that
    /// ends is started again after 1 s, 2 s, 4 s… up to 30 s; its output is bounded (512-byte
    /// lines, 50 lines and 4 captions a second, the rest dropped and counted). At most 16 paths
    /// are listened to at once.
    #[arg(long)]
    captions_from_speech: bool,
    /// The recogniser for --captions-from-speech, run by /bin/sh -c once per live path: it
    /// reads 16 kHz mono 16-bit little-endian samples on stdin and prints a line per utterance
    /// on stdout. Lines of the form "word start end confidence" (seconds of its input, as
    /// pocketsphinx -time yes prints) after an utterance time its caption; without them a
    /// caption is stamped 1 s before the sound written when its line came. Default:
    /// pocketsphinx_continuous -infile /dev/stdin -logfn /dev/null -time yes
    #[arg(long, value_name = "CMD", requires = "captions_from_speech")]
    speech_command: Option<String>,
}

/// The HTTP port when `--http` is given without an address.
const HTTP_PORT: u16 = 8080;

fn parse_override(s: &str) -> Result<(String, f64), String> {
    let (name, fps) = s.split_once('=').ok_or("expected NAME=FPS")?;
    let fps: f64 = fps.parse().map_err(|_| format!("bad frame rate {fps:?}"))?;
    if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
        return Err(format!("frame rate {fps} out of range"));
    }
    Ok((name.to_owned(), fps))
}

fn main() -> anyhow::Result<()> {
    hdstream_common::logs::init("info");
    let args = Args::parse();
    if let Some(fps) = args.fps
        && !(fps.is_finite() && fps > 0.0 && fps <= 1000.0)
    {
        bail!("--fps {fps} is out of range (0, 1000]");
    }
    let policy = FpsPolicy {
        fps: args.fps,
        overrides: args.fps_for,
    };
    let started = std::time::Instant::now();
    let (catalogue, skipped) = Catalogue::open(&args.media, &policy)
        .with_context(|| format!("cannot read media {}", args.media.display()))?;
    for s in &skipped {
        tracing::warn!(path = %s.path.display(), reason = %s.reason, "not served");
    }
    for m in catalogue.iter() {
        let stats = m.file.stats();
        tracing::info!(
            name = %m.name,
            container = %m.file.container(),
            frames = m.file.len(),
            size = format_args!("{}x{}", stats.width, stats.height),
            fps = m.fps,
            seconds = format_args!("{:.1}", m.duration()),
            mean_frame_bytes = stats.mean_frame_bytes as u64,
            rfc2435 = m.not_ready.as_deref().unwrap_or("ready"),
            sound = m.sound.as_ref().map_or_else(String::new, |s| format!(
                "{}/{}/{} {:.1} s",
                s.format.encoding, s.format.clock_rate, s.format.channels, s.duration()
            )),
            "media"
        );
    }
    if catalogue.is_empty() {
        tracing::warn!(
            media = %args.media.display(),
            "no MJPEG files: serving live paths only (rtsp://HOST:PORT/live/NAME)"
        );
    }
    tracing::info!(
        files = catalogue.len(),
        ms = started.elapsed().as_millis() as u64,
        "indexed"
    );
    let users = match &args.users {
        Some(path) => {
            let users = Users::load(path)?;
            tracing::info!(file = %path.display(), users = users.users.len(), realm = %users.realm, "authentication on");
            Some(users)
        }
        None => None,
    };
    let config = Config {
        users,
        max_connections: args.max_connections.min(4000),
        max_connections_per_address: args.max_connections_per_address,
        mtu: usize::from(args.mtu),
        session_timeout: Duration::from_secs(args.session_timeout.max(1)),
        max_sessions: args.max_sessions,
        looping: args.looping,
        max_speed: args.max_speed.clamp(1.0, 16.0),
        rtx_time: Duration::from_millis(args.rtx_time.min(10_000)),
        publish_timeout: Duration::from_secs(args.publish_timeout.max(1)),
        live_memory: usize::try_from(args.live_memory_mb << 20).unwrap_or(usize::MAX),
        speech: args
            .captions_from_speech
            .then(|| match &args.speech_command {
                Some(command) => Recogniser::shell(command),
                None => Recogniser::default(),
            }),
        ..Config::default()
    };
    let listen = Listen {
        bind: args.bind,
        port: args.port,
        rtp_port: args.rtp_port,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(driver::TlsListen {
            port: args.tls_port,
            config: hdstream_server::tls::server_config(cert, key)?,
        }),
        _ => None,
    };
    if let Some(recogniser) = &config.speech {
        tracing::info!(recogniser = %recogniser.describe(), "captions from speech on live paths");
    }
    let http = args
        .http
        .map(|addr| addr.unwrap_or(SocketAddr::new(args.bind, HTTP_PORT)));
    let listeners = driver::Listeners { tls, http };
    let handle =
        driver::spawn_with(config, Arc::new(catalogue), listen, listeners).with_context(|| {
            match http {
                Some(http) => format!("cannot listen on {}:{} and {http}", args.bind, args.port),
                None => format!("cannot listen on {}:{}", args.bind, args.port),
            }
        })?;
    if let Some(rtsps) = handle.rtsps {
        tracing::info!(%rtsps, "RTSPS (TLS) listening");
    }
    let stop = handle.stop_flag();
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    tracing::info!(
        rtsp = %handle.rtsp,
        http = %handle.http.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        rtp = handle.media_ports.0,
        rtcp = handle.media_ports.1,
        "listening: rtsp://{}:{}/<file>",
        if args.bind.is_unspecified() { "127.0.0.1".to_owned() } else { args.bind.to_string() },
        handle.rtsp.port()
    );
    if let Some(http) = handle.http {
        // After the listening line, which tests read the addresses from (rtsp=, http=).
        tracing::info!(
            "watch in a browser: http://{}:{}/watch/<file> (snapshots: /snapshot/<file>?t=SECONDS)",
            if http.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                http.ip().to_string()
            },
            http.port()
        );
    }
    handle.join().context("server loop failed")?;
    Ok(())
}
