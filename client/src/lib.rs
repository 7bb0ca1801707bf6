//! `hdstream-client`: plays RFC 2435 Motion-JPEG streams from RTSP servers (RFC 2326), with a
//! prefetching frame cache, a playout clock, decode threads and a minifb window, or headless.
//!
//! ```text
//!  network thread (mio)                       decode thread(s)          caller's thread
//!  RTSP ─▶ Session ─┐                                                   (the main thread)
//!  RTP  ─▶ Pipeline ┴▶ Client ─ frames due ─▶ zune-jpeg ─ pictures ─▶ Presenter ─▶ window
//!  RTCP ◀─ receiver reports        (bounded)   RGBA buffers  (bounded)   keys ─┐   or null sink
//!              ▲──────────────────────────────── commands (pause, seek, quit) ◀┘
//! ```
//!
//! - [`session`]: the RTSP client session (sans-IO), standard or course dialect;
//! - [`reorder`], [`cache`], [`playout`], [`pipeline`]: RTP in, frames at their time out
//!   (sans-IO);
//! - [`captions`]: the captions track (RFC 4103 T.140), lines made cues on the media timeline;
//! - [`audio`]: the audio track, received and played out on the video's playout clock
//!   (sans-IO; the driver writes `--audio-out`);
//! - [`core`]: the two glued together, the core the driver runs (sans-IO);
//! - [`driver`]: the mio loop, the only code touching sockets;
//! - [`decode`]: decode threads; [`present`], [`sink`], [`window`], [`overlay`], [`inset`]:
//!   showing;
//! - [`stats`]: histograms and the [`Report`].
//!
//! [`play`] runs a whole playback and returns its report; the binary wraps it in a CLI.

pub mod audio;
pub mod cache;
pub mod captions;
pub mod cli;
pub mod clock;
pub mod controls;
pub mod core;
pub mod decode;
pub mod driver;
pub mod error;
pub mod inset;
pub mod options;
pub mod overlay;
pub mod pipeline;
pub mod playout;
pub mod present;
mod reception;
pub mod reorder;
pub mod repair;
pub mod session;
pub mod sink;
pub mod stats;
pub mod timeline;
pub mod tls;
pub mod tunnel;
#[cfg(feature = "window")]
pub mod window;

/// Built without the `window` feature: no window can open, so the sink plays headless (the
/// window-less client of the playback benchmark). Its [`Window`](window::Window) cannot be
/// made: every method is unreachable, and the type says so.
#[cfg(not(feature = "window"))]
pub mod window {
    use std::convert::Infallible;
    use std::sync::Arc;

    use crate::decode::Picture;
    use crate::inset::Inset;
    use crate::options::Step;
    use crate::overlay::Hud;

    /// Why no window opens.
    pub const ABSENT: &str = "this client was built without its window (cargo feature `window`)";

    /// No display this build can use.
    pub fn display_available() -> bool {
        false
    }

    /// A window that cannot exist in this build.
    #[derive(Debug)]
    pub struct Window(Infallible);

    impl Window {
        /// Always [`ABSENT`].
        pub fn open(_width: usize, _height: usize) -> Result<Window, String> {
            Err(ABSENT.into())
        }
        /// Unreachable: no `Window` exists.
        pub fn with_inset(self, _inset: Option<Arc<Inset>>) -> Window {
            match self.0 {}
        }
        /// Unreachable: no `Window` exists.
        pub fn is_open(&self) -> bool {
            match self.0 {}
        }
        /// Unreachable: no `Window` exists.
        pub fn show(&mut self, _picture: &Picture, _hud: &Hud) {
            match self.0 {}
        }
        /// Unreachable: no `Window` exists.
        pub fn pump(&mut self, _hud: &Hud) {
            match self.0 {}
        }
        /// Unreachable: no `Window` exists.
        pub fn actions(&mut self, _paused: bool, _range: Option<(f64, f64)>) -> Vec<Step> {
            match self.0 {}
        }
    }
}

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use error::Error;
pub use hdstream_common::rtsp::header::LowerTransport;
pub use options::{AudioDevice, Options, Step, Target};
pub use stats::Report;

use crate::core::{Client, Config, Transport};
use hdstream_common::course::Dialect;

/// Pixel buffers in flight besides one per decoder: decoded pictures waiting for their time
/// (the playout lead of 100 ms is six frames at 60 fps).
const PICTURE_BUFFERS: usize = 8;
/// Frames queued for the decoders.
const JOB_QUEUE: usize = 3;

/// Plays `options.target` to the end (or `options.duration`, or the user's quit) and returns
/// what was measured. The window, if any, is made on the calling thread, which should be the
/// main thread.
pub fn play(options: &Options) -> Result<Report, Error> {
    let started = Instant::now();
    let cpu_start = stats::process_cpu_time();
    let (host, stream, server, post) = connect(options)?;
    // RTSPS: TLS over the connection, and the media interleaved in it (as ffmpeg does).
    let tls = if options.tls() {
        Some(Box::new(tls::connect(&host, &options.trust)?))
    } else {
        None
    };
    let recording = match &options.audio_out {
        Some(path) => Some(
            audio::record::Recording::create(path)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?,
        ),
        None => None,
    };
    let media = media_sockets(options, server)?;
    let mut config = client_config(options, &host, media.transport);
    config.audio = options.audio.then_some(media.audio_transport).flatten();
    config.captions = options
        .captions
        .then_some(media.captions_transport)
        .flatten();
    let client = Client::new(config, Instant::now());
    // The cues received, for the window and `--captions-out`.
    let board = client.board().clone();
    // Pause, the seek epoch and lateness: one clock, shared by every thread.
    let clock = Arc::clone(client.clock());
    // What the sound plays at a moment, for the audio/video offset.
    let playhead = Arc::clone(client.playhead());
    let stop = stop_on_signals(options);
    // Opened when the first sound comes (on a thread of its own), so nothing waits for it here.
    let device = options
        .audio
        .then(|| {
            audio::device::DeviceSink::new(
                &options.audio_device,
                Arc::clone(&clock),
                options.sound_ahead,
            )
        })
        .flatten();

    let poll = mio::Poll::new().map_err(|e| Error::io("event loop", e))?;
    let waker = Arc::new(
        mio::Waker::new(poll.registry(), driver::WAKER).map_err(|e| Error::io("event loop", e))?,
    );
    let (command_tx, command_rx) = crossbeam_channel::unbounded();
    // Low latency: no queue of older frames in front of the decoder.
    let job_queue = if options.low_latency { 1 } else { JOB_QUEUE };
    let (job_tx, job_rx) = crossbeam_channel::bounded(job_queue);
    let (picture_tx, picture_rx) = crossbeam_channel::bounded(PICTURE_BUFFERS + 2);
    let (jpeg_tx, jpeg_rx) = crossbeam_channel::bounded(16);
    let live = Arc::new(Mutex::new(sink::Live::default()));

    let sockets = driver::Sockets {
        control: mio::net::TcpStream::from_std(stream),
        server,
        udp: media.udp,
        audio_udp: media.audio_udp,
        captions_udp: media.captions_udp,
        rcvbuf: media.rcvbuf,
        tls,
        tunnel: post.map(|p| tunnel::Post::new(mio::net::TcpStream::from_std(p))),
    };
    let net_ends = driver::Ends {
        commands: command_rx,
        jobs: job_tx,
        jpegs: jpeg_rx,
        live: Arc::clone(&live),
        stop: Arc::clone(&stop),
    };
    let net = std::thread::Builder::new()
        .name("hdstream-net".into())
        .spawn(move || driver::run(poll, client, sockets, net_ends, recording, device))
        .map_err(|e| Error::io("cannot start the network thread", e))?;

    let buffers = decode::Buffers::new(PICTURE_BUFFERS + options.decode_threads.unwrap_or(2));
    let pool = decode::Pool::spawn(
        job_rx,
        picture_tx,
        Arc::clone(&buffers),
        jpeg_tx,
        Arc::clone(&clock),
        options.decode_threads,
    );

    let want_window = !options.headless && {
        let available = window::display_available();
        #[cfg(not(feature = "window"))]
        tracing::warn!("{}: playing headless", window::ABSENT);
        #[cfg(feature = "window")]
        if !available {
            tracing::warn!("no display (DISPLAY and WAYLAND_DISPLAY are unset): playing headless");
        }
        available
    };
    let sink_ends = sink::Ends {
        pictures: picture_rx,
        buffers,
        commands: command_tx,
        waker,
        clock: Arc::clone(&clock),
        playhead,
        live,
        captions: board.clone(),
        inset: options.inset.clone(),
    };
    let shown = sink::run(
        sink_ends,
        want_window,
        options.script.clone(),
        options.record_frames,
    );
    let decoded = pool.join();
    let mut net = net
        .join()
        .map_err(|_| Error::Protocol("the network thread panicked".into()))?;
    // The cues received, however the run ended.
    let written = write_captions(options, &board);
    std::mem::replace(&mut net.result, Ok(()))?;
    written?;

    let cpu = stats::process_cpu_time()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start).as_secs_f64());
    Ok(report(
        options,
        &net,
        &shown,
        &decoded,
        &clock,
        cpu,
        started.elapsed(),
    ))
}

/// `--captions-out`: the cues received, as SRT in media time.
fn write_captions(options: &Options, board: &captions::Board) -> Result<(), Error> {
    let Some(path) = &options.captions_out else {
        return Ok(());
    };
    let cues = board.cues();
    std::fs::write(path, hdstream_common::text::srt::write(&cues))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    tracing::info!(path = %path.display(), cues = cues.len(), "captions written");
    Ok(())
}

/// The RTSP connection to the server `options` names: (host, the connected stream, the
/// server's address, and for a tunnel its POST — the stream is then its GET).
type Connected = (
    String,
    std::net::TcpStream,
    SocketAddr,
    Option<std::net::TcpStream>,
);

fn connect(options: &Options) -> Result<Connected, Error> {
    let (host, port) = options.server()?;
    let mut stream = driver::connect(&host, port)?;
    let server = stream
        .peer_addr()
        .map_err(|e| Error::io("RTSP connection", e))?;
    let _ = stream.set_nodelay(true);
    let post = match options.tunnelled() {
        true => {
            let url = options.rtsp_url().unwrap_or_default();
            let post = tunnel::open(&mut stream, &host, port, &url)?;
            post.set_nonblocking(true)
                .map_err(|e| Error::io("RTSP-over-HTTP POST", e))?;
            Some(post)
        }
        false => None,
    };
    stream
        .set_nonblocking(true)
        .map_err(|e| Error::io("RTSP connection", e))?;
    Ok((host, stream, server, post))
}

/// The UDP sockets RTP and RTCP arrive on (none when they travel interleaved), the transport
/// to ask for, and the receive buffer the kernel granted; the same for an audio track.
struct MediaSockets {
    udp: Option<(mio::net::UdpSocket, mio::net::UdpSocket)>,
    transport: Transport,
    rcvbuf: Option<usize>,
    audio_udp: Option<(mio::net::UdpSocket, mio::net::UdpSocket)>,
    audio_transport: Option<Transport>,
    captions_udp: Option<(mio::net::UdpSocket, mio::net::UdpSocket)>,
    captions_transport: Option<Transport>,
}

/// Binds the RTP/RTCP port pair when RTP travels over UDP (the course's dialect always does),
/// and a second pair for an audio track unless `--no-audio`.
fn media_sockets(options: &Options, server: SocketAddr) -> Result<MediaSockets, Error> {
    let (kind, rtp_port) = match &options.target {
        Target::Url(_) if options.tls() || options.tunnelled() => {
            (LowerTransport::Tcp, options.rtp_port)
        }
        Target::Url(_) => (options.transport, options.rtp_port),
        Target::Course { rtp_port, .. } => (LowerTransport::Udp, *rtp_port),
    };
    if kind == LowerTransport::Tcp {
        return Ok(MediaSockets {
            udp: None,
            transport: Transport::Tcp,
            rcvbuf: None,
            audio_udp: None,
            audio_transport: Some(Transport::Tcp),
            captions_udp: None,
            captions_transport: Some(Transport::Tcp),
        });
    }
    let (rtp, rtcp, granted) = driver::bind_pair(server.ip(), rtp_port)?;
    tracing::info!(
        asked = driver::RCVBUF,
        granted,
        "UDP receive buffer (Linux reports twice what it grants; raise net.core.rmem_max for more)"
    );
    let port = |s: &std::net::UdpSocket, what: &str| {
        s.local_addr()
            .map(|a| a.port())
            .map_err(|e| Error::io(what.to_owned(), e))
    };
    let transport = Transport::Udp {
        rtp_port: port(&rtp, "RTP socket")?,
        rtcp_port: port(&rtcp, "RTCP socket")?,
    };
    let udp = (
        mio::net::UdpSocket::from_std(rtp),
        mio::net::UdpSocket::from_std(rtcp),
    );
    let course = matches!(options.target, Target::Course { .. });
    let track_pair = |wanted: bool, what: &str| -> Result<_, Error> {
        if !wanted || course {
            return Ok((None, None));
        }
        let (rtp, rtcp, _) = driver::bind_pair(server.ip(), 0)?;
        let transport = Transport::Udp {
            rtp_port: port(&rtp, &format!("{what} RTP socket"))?,
            rtcp_port: port(&rtcp, &format!("{what} RTCP socket"))?,
        };
        let pair = (
            mio::net::UdpSocket::from_std(rtp),
            mio::net::UdpSocket::from_std(rtcp),
        );
        Ok((Some(pair), Some(transport)))
    };
    let (audio_udp, audio_transport) = track_pair(options.audio, "audio")?;
    let (captions_udp, captions_transport) = track_pair(options.captions, "captions")?;
    Ok(MediaSockets {
        udp: Some(udp),
        transport,
        rcvbuf: Some(granted),
        audio_udp,
        audio_transport,
        captions_udp,
        captions_transport,
    })
}

/// The client core's settings from the options.
fn client_config(options: &Options, host: &str, transport: Transport) -> Config {
    let (dialect, url) = match &options.target {
        Target::Url(_) => (Dialect::Standard, options.rtsp_url().unwrap_or_default()),
        Target::Course { file, .. } => (Dialect::Course, file.clone()),
    };
    let mut config = Config::new(url, dialect, transport);
    config.fps = options.fps;
    config.max_duration = options.duration;
    config.repair = options.repair;
    config.pipeline.conceal = options.conceal;
    config.credentials = options.credentials.clone();
    if dialect == Dialect::Course {
        config.idle_timeout = Duration::from_secs(2);
    }
    config.live_low_latency = options.live_low_latency;
    config.sound_ahead = options.sound_ahead;
    config.sound_margin = options.sound_margin;
    config.pipeline.wallclock = Some((Instant::now(), std::time::SystemTime::now()));
    let playout = &mut config.pipeline.playout;
    playout.prebuffer = options.prebuffer;
    playout.max_bytes = options.cache_mb.saturating_mul(1 << 20).max(1 << 20);
    playout.max_frames = options.cache_frames.max(2);
    if options.low_latency {
        playout.go_live();
    }
    config.pipeline.ssrc = random_u32();
    config.pipeline.cname = format!("hdstream-client-{}@{}", std::process::id(), host);
    config
}

/// The flag that ends the run: the caller's ([`Options::stop`]) or a new one, raised by SIGINT
/// and SIGTERM when `options` asks for them (a second signal while the first is handled ends
/// the process at once).
fn stop_on_signals(options: &Options) -> Arc<AtomicBool> {
    let stop = options
        .stop
        .clone()
        .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
    if options.handle_signals {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ =
                signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop));
            let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
        }
    }
    stop
}

/// Puts the pieces each thread measured together.
fn report(
    options: &Options,
    net: &driver::Outcome,
    shown: &present::SinkStats,
    decoded: &decode::DecodeStats,
    clock: &clock::Clock,
    cpu: Option<f64>,
    elapsed: Duration,
) -> Report {
    let n = &net.stats;
    let description = net.description.as_ref();
    let fps = description
        .and_then(|d| d.fps)
        .or(options.fps)
        .or(n.paced_fps);
    let duration = description
        .and_then(|d| d.duration)
        .or(net.total_frames.zip(fps).map(|(n, f)| n as f64 / f));
    let (width, height) = shown
        .size
        .map(|(w, h)| (w as u32, h as u32))
        .or(n.size.map(|(w, h)| (u32::from(w), u32::from(h))))
        .unwrap_or_default();
    let fps_displayed = match (shown.first_shown, shown.last_shown) {
        (Some(a), Some(b)) if b > a && shown.displayed > 1 => {
            (shown.displayed - 1) as f64 / (b - a).as_secs_f64()
        }
        _ => 0.0,
    };
    let transport = match (&options.target, options.transport) {
        (Target::Course { .. }, _) => "course",
        (_, LowerTransport::Udp) => "udp",
        (_, LowerTransport::Tcp) => "tcp",
    };
    let pauses = shown
        .pauses
        .iter()
        .enumerate()
        .map(|(i, p)| stats::PauseRecord {
            rtp_tail_ms: n.pause_tails.get(i).map(|d| d.as_secs_f64() * 1000.0),
            ..*p
        })
        .collect();
    Report {
        url: options.name(),
        transport: transport.into(),
        width,
        height,
        fps_stream: fps,
        duration_s: duration,
        frames_expected: net
            .total_frames
            .or(duration.zip(fps).map(|(d, f)| (d * f).round() as u64)),
        frames_received: n.frames_received,
        frames_displayed: shown.displayed,
        frames_late: clock.late(),
        frames_lost: n.frames_lost,
        frames_concealed: n.frames_concealed,
        frames_undecodable: shown.undecodable.max(decoded.undecodable),
        frames_overflow: n.frames_overflow,
        frames_flushed: shown.flushed,
        frames_unplayed: n.frames_unplayed,
        packets_received: n.packets_received,
        packets_lost: n.packets_lost,
        packets_reordered: n.packets_reordered,
        packets_duplicate: n.packets_duplicate,
        packets_repaired: n.packets_repaired,
        packets_unrepaired: n.packets_unrepaired,
        rtx_bytes: n.rtx_bytes,
        loss_rate: n.packets_lost.max(0) as f64 / n.packets_expected.max(1) as f64,
        bytes_received: n.bytes_received,
        data_rate_mbps: if n.receive_seconds > 0.0 {
            n.bytes_received as f64 * 8.0 / n.receive_seconds / 1e6
        } else {
            0.0
        },
        timestamps_unusable: n.timestamps_unusable,
        timestamp_restarts: n.timestamp_restarts,
        rebuffer_count: n.rebuffer_count,
        rebuffer_ms: n.rebuffer_time.as_secs_f64() * 1000.0,
        fps_displayed,
        elapsed_s: elapsed.as_secs_f64(),
        decode_threads: decoded.threads,
        rcvbuf_bytes: net.rcvbuf,
        cpu_s: cpu,
        cpu_ms_per_frame: cpu
            .filter(|_| shown.displayed > 0)
            .map(|c| c * 1000.0 / shown.displayed as f64),
        latency_ms: shown.latency.percentiles(),
        capture_to_display_ms: (!shown.capture_latency.is_empty())
            .then(|| shown.capture_latency.percentiles()),
        decode_ms: decoded.decode.percentiles(),
        assembly_ms: n.assembly.percentiles(),
        display_interval_ms: shown.interval.percentiles(),
        seeks: shown.seeks.clone(),
        pauses,
        displayed_npt: shown.displayed_npt.clone(),
        displayed_checksums: shown.displayed_checksums.clone(),
        displayed_capture_ms: shown.displayed_capture_ms.clone(),
        displayed_brightness: shown.displayed_brightness.clone(),
        displayed_sound_ms: shown
            .displayed_sound_s
            .iter()
            .map(|s| s.map(|s| s * 1000.0))
            .collect(),
        audio: audio::AudioReport::new(n.audio_format.clone(), &n.audio, &shown.av_offset),
        captions_received: n.captions.received,
        captions_dropped: n.captions.dropped,
    }
}

/// A random 32-bit value for our SSRC (RFC 3550 §8 wants it random), from the standard
/// library's randomly keyed hasher.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}
