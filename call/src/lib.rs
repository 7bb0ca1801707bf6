//! `hdstream-call`: a two-way video call out of the parts hdstream already has. Each side runs
//! one command that
//!
//! - **publishes** its camera and microphone ([`near`]: `hdstream-publish`'s publisher, RFC 2326
//!   ANNOUNCE/RECORD) as a live path — into a server it embeds (`--listen`, the default: the
//!   far side watches `rtsp://<this host>:8554/live/call`) or into one both sides already run
//!   (`--publish URL`);
//! - **plays** the far side's live path ([`far`]: `hdstream-client`, at the latency a call
//!   needs) in a window, with its own camera's picture small in the top right corner
//!   ([`hdstream_client::inset`]), or headless;
//! - measures each frame from the far side's capture to this screen (the far publisher's RTCP
//!   sender reports carry its capture clock; the server passes them on) and the sound against
//!   the picture, and prints both at the end ([`Report`]).
//!
//! ```text
//!  camera, mic ─▶ publisher ─RTSP RECORD─▶ server (embedded or shared) ─RTSP PLAY─▶ far side
//!       └─ inset ◀── decoded near frames          far side's server ─RTSP PLAY─▶ client ─▶ window
//! ```

pub mod far;
pub mod near;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdstream_client::LowerTransport;
use hdstream_common::audio::Encoding;
use hdstream_tools::publish::{self, AudioInput, Input};

/// The live path each side publishes its camera to in its embedded server.
pub const PATH: &str = "live/call";
/// The RTSP port (RFC 2326's default is 554; hdstream's, unprivileged, 8554).
pub const PORT: u16 = 8554;
/// How far ahead of play time the sound is written in a call: short, so that sound and
/// picture are shown soon after they arrive (a player's default is 100 ms).
pub const SOUND_AHEAD: Duration = Duration::from_millis(30);
/// How much longer than [`SOUND_AHEAD`] a picture waits after it arrives, for the sound's
/// arrival jitter (a player's default is 60 ms). The publisher sends each 20 ms of sound as it
/// is captured, and a picture only after it is encoded (about 20 ms at 720p): the sound of a
/// moment arrives about as soon as its picture.
pub const SOUND_MARGIN: Duration = Duration::from_millis(30);

/// Where this side's camera goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publish {
    /// Into a server embedded in the call, listening here; published as [`PATH`].
    Embedded(SocketAddr),
    /// Into a server already running, at this `rtsp://…/live/NAME` URL.
    To(String),
}

/// One side of a call.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The far side's live path: `rtsp://host:port/live/NAME`.
    pub far: String,
    /// Where this side's camera goes.
    pub publish: Publish,
    /// The camera: an MJPEG file (looped), `-` for JPEGs on stdin, or the test pattern.
    pub camera: Input,
    /// Frames per second of files and the pattern.
    pub fps: f64,
    /// JPEG quality of the pattern.
    pub quality: u8,
    /// The microphone: the test tone (clicking at the pattern's flashes), a WAV file, PCM on
    /// stdin; `None`: no sound.
    pub mic: Option<AudioInput>,
    /// How the sound travels.
    pub audio_codec: Encoding,
    /// How the far side's RTP reaches this side.
    pub transport: LowerTransport,
    /// No window.
    pub headless: bool,
    /// End the call after this long.
    pub duration: Option<Duration>,
    /// How far ahead of play time the sound is written ([`SOUND_AHEAD`]).
    pub sound_ahead: Duration,
    /// How much longer a picture waits for its sound ([`SOUND_MARGIN`]).
    pub sound_margin: Duration,
    /// Write the far side's sound as played to this WAV file.
    pub audio_out: Option<PathBuf>,
    /// Where the far side's sound plays (the default device unless headless).
    pub audio_device: hdstream_client::options::AudioDevice,
    /// Keep every frame shown in the report (tests).
    pub record_frames: bool,
}

impl Settings {
    /// A call to `far` with the defaults: the 720p test pattern at 30 fps with its tone,
    /// published into an embedded server on port 8554.
    pub fn new(far: impl Into<String>) -> Settings {
        Settings {
            far: far.into(),
            publish: Publish::Embedded(SocketAddr::from(([0, 0, 0, 0], PORT))),
            camera: Input::Pattern {
                width: 1280,
                height: 720,
            },
            fps: 30.0,
            quality: 80,
            mic: Some(AudioInput::Tone),
            audio_codec: Encoding::L16,
            transport: LowerTransport::Udp,
            headless: false,
            duration: None,
            sound_ahead: SOUND_AHEAD,
            sound_margin: SOUND_MARGIN,
            audio_out: None,
            audio_device: hdstream_client::options::AudioDevice::Default,
            record_frames: false,
        }
    }
}

/// `HOST`, `HOST:PORT` or a whole `rtsp://` URL: the far side's live path (a host alone means
/// its embedded server's [`PATH`] on [`PORT`]).
pub fn far_url(far: &str) -> String {
    if far.contains("://") {
        return far.to_owned();
    }
    let host = if far.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{far}]:{PORT}")
    } else if far.contains(':') {
        far.to_owned()
    } else {
        format!("{far}:{PORT}")
    };
    format!("rtsp://{host}/{PATH}")
}

/// What one side of a call did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// What this side sent.
    pub sent: publish::Report,
    /// What this side played of the far side (its last connection), with the far side's
    /// capture to this screen (`capture_to_display_ms`) and the sound against the picture
    /// (`audio_video_offset_ms`).
    pub received: hdstream_client::Report,
    /// Times the far side was connected to.
    pub connections: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.sent;
        writeln!(
            f,
            "sent        {} frames ({} skipped), {} sound packets",
            s.frames, s.skipped, s.audio_packets
        )?;
        if let Some(c) = &self.received.capture_to_display_ms {
            writeln!(
                f,
                "far → here  capture to display p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                c.p50, c.p99, c.max
            )?;
        }
        write!(f, "{}", self.received)
    }
}

/// Runs one side of a call until `stop` is raised, the duration is over, or the far side
/// hangs up (its live path ends) or the window is closed.
pub fn run(settings: &Settings, stop: &Arc<AtomicBool>) -> Result<Report> {
    let started = Instant::now();
    let deadline = settings.duration.map(|d| started + d);
    let near = near::Near::start(settings, stop).context("cannot publish the camera")?;
    let watched = far::watch(settings, stop, deadline, near.inset());
    // The far side has hung up, or the call is over: stop sending.
    stop.store(true, Ordering::SeqCst);
    let sent = near.finish()?;
    let (received, connections) = watched?;
    Ok(Report {
        sent,
        received,
        connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_far_side_is_a_host_a_host_and_port_or_a_url() {
        assert_eq!(far_url("bob.example"), "rtsp://bob.example:8554/live/call");
        assert_eq!(far_url("10.0.0.2:9000"), "rtsp://10.0.0.2:9000/live/call");
        assert_eq!(far_url("fe80::1"), "rtsp://[fe80::1]:8554/live/call");
        assert_eq!(
            far_url("rtsps://srv:8322/live/bob"),
            "rtsps://srv:8322/live/bob"
        );
    }
}
