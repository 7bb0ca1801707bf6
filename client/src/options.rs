//! What a playback is asked to do: [`Options`], as the command line or a caller builds them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hdstream_common::rtsp::header::LowerTransport;

use crate::error::Error;
use crate::inset::Inset;

/// What to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An `rtsp://host[:port]/path` URL, spoken to in standard RTSP.
    Url(String),
    /// The course's server, spoken to in its dialect: `HOST PORT RTP_PORT FILE`.
    Course {
        /// Server host.
        host: String,
        /// Server RTSP port.
        port: u16,
        /// Local RTP port the server sends to.
        rtp_port: u16,
        /// File name on the server (`movie.Mjpeg`).
        file: String,
    },
}

/// Where the sound is heard (`--audio-device`, `--no-audio-device`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AudioDevice {
    /// Nowhere: the samples are counted (and recorded with `--audio-out`), not played. The
    /// library's default, so tests and benchmarks stay silent.
    #[default]
    None,
    /// The system's default output device (ALSA's `default` PCM on Linux): the binary's
    /// default, unless `--headless`.
    Default,
    /// The output device of this name (as `aplay -L` lists it on Linux: `default`,
    /// `hw:CARD=PCH,DEV=0`, `null`, ...).
    Named(String),
}

/// A user action, from a key, a click or a script.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Pause (RTSP PAUSE).
    Pause,
    /// Resume (RTSP PLAY).
    Resume,
    /// Seek by this many seconds from the picture on screen (PLAY with Range).
    SeekBy(f64),
    /// Seek to this NPT, seconds.
    SeekTo(f64),
    /// Live: back to the newest frame (End).
    LiveEdge,
    /// Tear down and quit.
    Quit,
}

/// Everything [`play`](crate::play) needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to play.
    pub target: Target,
    /// RTSP tunnelled in HTTP to the server's HTTP port (`--tunnel http`; an `rtsph://` URL
    /// asks for it too): media interleaved, as over RTSPS.
    pub tunnel: bool,
    /// How RTP travels.
    pub transport: LowerTransport,
    /// Media held before playing starts.
    pub prebuffer: Duration,
    /// Cache bound, MiB of JPEG data.
    pub cache_mb: usize,
    /// Cache bound, frames.
    pub cache_frames: usize,
    /// No prebuffer; always the newest complete frame.
    pub low_latency: bool,
    /// Low latency on a live stream (`npt=now-`) unless a prebuffer was asked for.
    pub live_low_latency: bool,
    /// Ask for lost packets again when the server offers retransmission (RFC 4585/4588).
    pub repair: bool,
    /// User name and password for a server that asks (else from the URL, if any).
    pub credentials: Option<(String, String)>,
    /// How an `rtsps://` server's certificate is checked.
    pub trust: crate::tls::Trust,
    /// Show a frame that lost packets anyway when its JPEG has restart markers, the lost
    /// restart intervals taken from the frame before (RFC 2435 §3.1.7).
    pub conceal: bool,
    /// No window, even if a display is available.
    pub headless: bool,
    /// Stop after this long of playing.
    pub duration: Option<Duration>,
    /// Write the report as JSON here.
    pub stats_json: Option<PathBuf>,
    /// Local RTP port (RTCP is the next); 0 picks a free pair.
    pub rtp_port: u16,
    /// Decode threads; `None` starts one and adds a second if decoding cannot keep up.
    pub decode_threads: Option<usize>,
    /// Frame rate to assume when the server does not say (course: 20).
    pub fps: Option<f64>,
    /// Actions to take, each at a time after the first picture is shown (tests, benchmarks).
    pub script: Vec<(Duration, Step)>,
    /// Keep the NPT of every picture shown in the report.
    pub record_frames: bool,
    /// SIGINT and SIGTERM tear the session down (the binary sets this).
    pub handle_signals: bool,
    /// Set up and play the audio track when the server describes one the client reads
    /// (`--no-audio` clears it).
    pub audio: bool,
    /// Write the audio as played to this WAV file (`--audio-out`).
    pub audio_out: Option<PathBuf>,
    /// Play the audio on this sound device (`audio::device`).
    pub audio_device: AudioDevice,
    /// Set up the captions track when the server describes one (`--no-captions` clears it).
    pub captions: bool,
    /// Write the captions received to this SRT file at the end (`--captions-out`).
    pub captions_out: Option<PathBuf>,
    /// How far ahead of play time the sound is written (a device's buffer); a live stream
    /// with sound plays this and [`SOUND_ARRIVAL_MARGIN`](crate::core::SOUND_ARRIVAL_MARGIN)
    /// behind its arrival. A call keeps it short.
    pub sound_ahead: Duration,
    /// How much longer than `sound_ahead` a live picture with sound waits: the sound's arrival
    /// jitter ([`SOUND_ARRIVAL_MARGIN`](crate::core::SOUND_ARRIVAL_MARGIN) by default).
    pub sound_margin: Duration,
    /// Raised by the caller to tear the session down and end (as a signal does).
    pub stop: Option<Arc<AtomicBool>>,
    /// A second picture drawn small in a corner of the window (a call's near side).
    pub inset: Option<Arc<Inset>>,
}

impl Options {
    /// Defaults for playing `target`.
    pub fn new(target: Target) -> Options {
        Options {
            target,
            tunnel: false,
            transport: LowerTransport::Udp,
            prebuffer: Duration::from_millis(500),
            cache_mb: 256,
            cache_frames: 4096,
            low_latency: false,
            live_low_latency: true,
            repair: true,
            credentials: None,
            trust: crate::tls::Trust::System,
            conceal: true,
            headless: false,
            duration: None,
            stats_json: None,
            rtp_port: 0,
            decode_threads: None,
            fps: None,
            script: Vec::new(),
            record_frames: false,
            handle_signals: false,
            audio: true,
            audio_out: None,
            audio_device: AudioDevice::None,
            captions: true,
            captions_out: None,
            sound_ahead: crate::audio::output::AHEAD,
            sound_margin: crate::core::SOUND_ARRIVAL_MARGIN,
            stop: None,
            inset: None,
        }
    }

    /// Defaults for playing an `rtsp://` URL.
    pub fn url(url: impl Into<String>) -> Options {
        Options::new(Target::Url(url.into()))
    }

    /// Whether the URL is `rtsps://` (RTSP over TLS).
    pub fn tls(&self) -> bool {
        matches!(&self.target, Target::Url(url) if url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("rtsps://")))
    }

    /// Whether RTSP goes tunnelled in HTTP: `--tunnel http`, or an `rtsph://` URL.
    pub fn tunnelled(&self) -> bool {
        self.tunnel
            || matches!(&self.target, Target::Url(url) if url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("rtsph://")))
    }

    /// The URL as RTSP requests name it: an `rtsph://` URL as `rtsp://` (the scheme only says
    /// how to get there).
    pub fn rtsp_url(&self) -> Option<String> {
        match &self.target {
            Target::Url(url)
                if url
                    .get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("rtsph://")) =>
            {
                Some(format!("rtsp://{}", &url[8..]))
            }
            Target::Url(url) => Some(url.clone()),
            Target::Course { .. } => None,
        }
    }

    /// Where to connect: host and port (for a tunnel, the server's HTTP port).
    pub fn server(&self) -> Result<(String, u16), Error> {
        match &self.target {
            Target::Url(_) => parse_url(&self.rtsp_url().unwrap_or_default()),
            Target::Course { host, port, .. } => Ok((host.clone(), *port)),
        }
    }

    /// A name for the report: the URL (without any `user:password@`), or `host:port/file`.
    pub fn name(&self) -> String {
        match &self.target {
            Target::Url(url) => hdstream_common::rtsp::auth::split_userinfo(url).0,
            Target::Course {
                host, port, file, ..
            } => format!("{host}:{port}/{file}"),
        }
    }
}

/// Host and port of `rtsp://host[:port][/path]` ([`hdstream_common::rtsp::url::host_port`]).
pub fn parse_url(url: &str) -> Result<(String, u16), Error> {
    hdstream_common::rtsp::url::host_port(url)
        .map_err(|why| Error::Usage(format!("{url:?} is not an rtsp:// URL: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_a_usage_error_that_says_why() {
        assert_eq!(parse_url("rtsp://h:8554/m").unwrap(), ("h".into(), 8554));
        match parse_url("http://h/x") {
            Err(Error::Usage(why)) => assert!(why.contains("only rtsp://"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
