//! What `hdstream-publish` does: publishes MJPEG — and sound and captions beside it — into an
//! RTSP server (RFC 2326 §10.3 ANNOUNCE, §10.4 SETUP with `mode=record` of each track,
//! §10.11 RECORD), as RTP over interleaved TCP or UDP, in real time, with RTCP sender reports
//! (RFC 3550 §6.4.1) on every track from one media clock ([`Clock`]), so that a viewer lines
//! the tracks up and measures capture-to-display latency.
//!
//! Frames ([`Input`]): an MJPEG file (looped), MJPEG read from stdin (concatenated JPEGs, as
//! `ffmpeg -f mjpeg -` or a camera pipe writes them; timed by their arrival), or a moving test
//! pattern with its capture time of day drawn in it, flashing at each whole second when asked.
//! Sound ([`AudioInput`]): the test tone, clicking at the flashes; a WAV file; or PCM on stdin.
//! Captions ([`CaptionInput`]): lines on stdin or a WebVTT/SubRip file. When the server goes
//! away the publisher keeps its clock and connects again (every second), so viewers of the
//! path resume where the live stream is.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};
use hdstream_common::audio::Encoding;
use hdstream_common::rtsp::header::LowerTransport;
use hdstream_video::jpeg::Header;
use rand::SeedableRng;

pub use crate::captions::CaptionInput;
use crate::captions::Captions;
use crate::clock::Clock;
pub use crate::frames::Input;
use crate::frames::{Frames, Next};
use crate::link::{self, Extras, Link};
use crate::record::{self, Recorder};
pub use crate::sound::AudioInput;
use crate::sound::Sound;
use crate::track::{Senders, Track};

/// Between connection attempts while the server is away.
const RETRY: Duration = Duration::from_secs(1);
/// How far behind its schedule the publisher may fall (a busy moment of the machine) before it
/// skips frames to catch up; at least two frames.
const MAX_BEHIND: Duration = Duration::from_millis(200);
/// How long to serve the link between looks at stdin.
const STDIN_WAIT: Duration = Duration::from_millis(10);
/// Bytes waiting for the RTSP connection beyond which a frame (or sound, or a caption) is
/// skipped rather than staged: a server that does not read cannot make the publisher hold its
/// media without end.
const MAX_BACKLOG: usize = 8 << 20;

/// How the sound travels, as the command lines name it (`--audio-codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SoundCodec {
    /// Linear 16-bit PCM, big-endian (RFC 3551 §4.5.11).
    #[default]
    L16,
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Opus (RFC 7587), 48 kHz, 64 kbit/s, encoded by libopus: 4 % of L16's rate.
    Opus,
}

impl SoundCodec {
    /// The RTP encoding.
    pub fn encoding(self) -> Encoding {
        match self {
            SoundCodec::L16 => Encoding::L16,
            SoundCodec::Pcmu => Encoding::Pcmu,
            SoundCodec::Pcma => Encoding::Pcma,
            SoundCodec::Opus => Encoding::Opus,
        }
    }
}

/// What to publish, where and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where frames come from.
    pub input: Input,
    /// `rtsp://host:port/live/<name>`.
    pub url: String,
    /// Frames per second (files and the pattern; stdin is timed by arrival but announces it).
    pub fps: f64,
    /// TCP or UDP.
    pub transport: LowerTransport,
    /// Largest IP packet over UDP (RTP payloads are cut to fit).
    pub mtu: usize,
    /// JPEG quality of the pattern.
    pub quality: u8,
    /// Stop after this many frames.
    pub frames: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Connect again when the server goes away (else that is an error).
    pub reconnect: bool,
    /// User and password for a server that asks (RFC 7616 Digest, RFC 7617 Basic over
    /// RTSPS); `user:password@` in the URL serves too.
    pub credentials: Option<(String, String)>,
    /// The pattern flashes at each whole second (for lip-sync tests).
    pub flash: bool,
    /// Sound to send beside the video.
    pub audio: Option<AudioInput>,
    /// How the sound travels: L16, PCMU or PCMA.
    pub audio_codec: Encoding,
    /// Captions to send beside the video.
    pub captions: Option<CaptionInput>,
    /// Each frame as it is captured, for a local view of what is sent (a call's near side):
    /// offered without waiting, so a slow reader misses frames and never holds the publisher.
    pub tap: Option<SyncSender<Vec<u8>>>,
}

impl Settings {
    /// Defaults for publishing `input` to `url`.
    pub fn new(input: Input, url: impl Into<String>) -> Settings {
        Settings {
            input,
            url: url.into(),
            fps: 30.0,
            transport: LowerTransport::Tcp,
            mtu: 1400,
            quality: 80,
            frames: None,
            duration: None,
            reconnect: true,
            credentials: None,
            flash: false,
            audio: None,
            audio_codec: Encoding::L16,
            captions: None,
            tap: None,
        }
    }

    /// Where and how each connection publishes.
    pub fn destination(&self) -> link::Destination {
        link::Destination {
            url: self.url.clone(),
            credentials: self.credentials.clone(),
            transport: self.transport,
            fps: self.fps,
            mtu: self.mtu,
        }
    }

    /// Refuses what cannot be: a frame rate out of range, stdin read for two things.
    fn check(&self) -> Result<()> {
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 240.0) {
            bail!("the frame rate must be above 0 and at most 240");
        }
        let on_stdin = [
            self.input == Input::Stdin,
            matches!(self.audio, Some(AudioInput::Stdin { .. })),
            self.captions == Some(CaptionInput::Stdin),
        ];
        if on_stdin.into_iter().filter(|&s| s).count() > 1 {
            bail!("only one of the video, the sound and the captions can come from stdin");
        }

        Ok(())
    }
}

/// What a publication did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Frames sent whole.
    pub frames: u64,
    /// RTP packets of video sent.
    pub packets: u64,
    /// RTP payload bytes of video sent.
    pub bytes: u64,
    /// Frames not sent: due while the server was away, or while the publisher was behind.
    pub skipped: u64,
    /// Frames that cannot travel as RFC 2435 (left out).
    pub refused: u64,
    /// Sessions with the server (1 + reconnections).
    pub connections: u64,
    /// RTP packets of sound sent.
    pub audio_packets: u64,
    /// Sound packets not sent: due while the server was away or the publisher stalled.
    pub audio_skipped: u64,
    /// Captions sent.
    pub captions: u64,
    /// Captions not sent: due while the server was away.
    pub captions_skipped: u64,
}

/// The connection to the server as it comes and goes, and the RTP senders it borrows.
struct Connection<'a> {
    settings: &'a Settings,
    extras: Extras,
    clock: Clock,
    link: Option<Link>,
    /// Home between sessions; lent to each session's recorder and taken back.
    senders: Option<Senders>,
    next_attempt: Instant,
    connections: u64,
}

impl Connection<'_> {
    /// Serves the link until `until` (with none, sleeps); a session that fails is lost.
    fn serve_until(&mut self, until: Instant) -> Result<()> {
        let served = match &mut self.link {
            Some(l) => l.drive(until),
            None => {
                if let Some(wait) = until.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                Ok(())
            }
        };
        served.or_else(|why| self.lost(why))
    }

    /// A session that failed gives its senders back and is gone; `Err` only when not
    /// reconnecting.
    fn lost(&mut self, why: anyhow::Error) -> Result<()> {
        if let Some(l) = self.link.take() {
            self.senders = Some(l.recorder.into_senders());
        }
        if !self.settings.reconnect {
            return Err(why.context("the server went away"));
        }
        tracing::warn!(error = %why, "the server went away: reconnecting");
        self.next_attempt = Instant::now() + RETRY;
        Ok(())
    }

    /// Connects when there is no session and it is time to try, announcing frames of `jpeg`'s
    /// size; `frames` were due so far (a first failure is an error, unless reconnecting after
    /// the first frames).
    fn connect(&mut self, jpeg: &[u8], frames: u64) -> Result<()> {
        if self.link.is_some() || Instant::now() < self.next_attempt {
            return Ok(());
        }
        let size = Header::parse(jpeg)
            .map(|h| (h.width, h.height))
            .unwrap_or((0, 0));
        let lent = self
            .senders
            .take()
            .expect("the senders are home between sessions");
        let e = match Link::open(
            &self.settings.destination(),
            size,
            self.extras,
            self.clock,
            lent.clone(),
        ) {
            Ok(mut l) => match l.start() {
                Ok(()) => {
                    self.connections += 1;
                    self.link = Some(l);
                    return Ok(());
                }
                Err(e) => {
                    self.senders = Some(l.recorder.into_senders());
                    e
                }
            },
            Err(e) => {
                self.senders = Some(lent);
                e
            }
        };
        // Tried again in a second when reconnecting and something was published before (or
        // the first frames are still coming); else the error.
        if self.settings.reconnect && (self.connections > 0 || frames > 1) {
            tracing::warn!(error = %e, "cannot publish now: trying again");
            self.next_attempt = Instant::now() + RETRY;
            return Ok(());
        }
        Err(e)
    }

    /// Hands the session to `send`, then writes what it staged; `Ok(None)` when there is no
    /// session or its connection is backed up (nothing sent).
    fn send<T>(
        &mut self,
        send: impl FnOnce(&mut Recorder) -> record::Result<T>,
    ) -> Result<Option<T>> {
        let Some(l) = self.link.as_mut() else {
            return Ok(None);
        };
        if l.recorder.control_output().len() > MAX_BACKLOG {
            return Ok(None);
        }
        let sent = send(&mut l.recorder).map_err(anyhow::Error::from);
        match sent.and_then(|sent| l.pump(Instant::now()).map(|()| sent)) {
            Ok(sent) => Ok(Some(sent)),
            Err(why) => self.lost(why).map(|()| None),
        }
    }

    /// Tears the session down; the senders back.
    fn close(self) -> Senders {
        match self.link {
            Some(l) => l.close(),
            None => self.senders.expect("the senders are home between sessions"),
        }
    }
}

/// Publishes as `settings` say until the video ends, the frame count or duration is reached,
/// or `stop` is raised; then tears down.
pub fn run(settings: &Settings, stop: &AtomicBool) -> Result<Report> {
    settings.check()?;
    let fps = settings.fps;
    let mut frames = Frames::open(&settings.input, settings.quality, fps, settings.flash)?;
    let by_arrival = frames.is_timed_by_arrival();
    let period = frames.loop_period(fps);
    let max_payload = link::max_payload(settings.mtu);
    let mut sound = match &settings.audio {
        Some(a) => Some(Sound::open(
            a,
            settings.audio_codec,
            fps,
            period,
            max_payload,
        )?),
        None => None,
    };
    let clock = Clock::new(Instant::now(), SystemTime::now());
    let mut captions = match &settings.captions {
        Some(c) => Some(Captions::open(c, clock, period)?),
        None => None,
    };
    let mut connection = Connection {
        settings,
        extras: Extras {
            audio: sound.as_ref().map(Sound::format),
            captions: captions.is_some(),
        },
        clock,
        link: None,
        senders: Some(Senders::random(&mut rand::rngs::StdRng::from_os_rng())),
        next_attempt: clock.origin,
        connections: 0,
    };
    let mut report = Report::default();
    let interval = Duration::from_secs_f64(1.0 / fps);
    let mut n: u64 = 0;
    loop {
        if stop.load(Ordering::SeqCst)
            || settings.frames.is_some_and(|max| n >= max)
            || settings
                .duration
                .is_some_and(|d| clock.origin.elapsed() >= d)
        {
            break;
        }
        // Serve the link until the next thing is due: frame n (the schedule; stdin is looked
        // at every few ms), the next sound packet, the next caption.
        let now = Instant::now();
        let poll_stdin = now + STDIN_WAIT;
        let due = interval.mul_f64(n as f64);
        let mut wake = if by_arrival {
            poll_stdin
        } else {
            clock.instant(due)
        };
        if let Some(s) = &sound {
            wake = wake.min(s.next_due().map_or(poll_stdin, |at| clock.instant(at)));
        }
        if let Some(c) = &captions {
            let next = c.next_due().map(|at| clock.instant(at));
            wake = wake.min(next.unwrap_or(if c.is_stdin() { poll_stdin } else { wake }));
        }
        connection.serve_until(wake)?;
        let now = Instant::now();
        let media = clock.media_time(now);

        // A scheduled frame is captured when due (the pattern draws that time); one from stdin
        // when it has been read.
        let at = if by_arrival { media } else { due };
        let jpeg = if by_arrival || media >= due {
            match frames.next(n, clock.wall_time(at))? {
                Next::Frame(jpeg) => Some(jpeg),
                Next::Wait => None,
                Next::End => break,
            }
        } else {
            None
        };
        if let Some(jpeg) = jpeg {
            n += 1;
            if let Some(tap) = &settings.tap {
                let _ = tap.try_send(jpeg.clone());
            }
            // Behind schedule by more than [`MAX_BEHIND`] (a pattern too big to draw in
            // time): the next frame goes on from now. Less is a busy moment of the machine,
            // caught up by the frames after it.
            let drawn = clock.media_time(Instant::now());
            if !by_arrival && drawn > due + MAX_BEHIND.max(interval * 2) {
                let behind = (drawn - due).as_secs_f64() / interval.as_secs_f64();
                let skip = behind.floor() as u64 - 1;
                n += skip;
                report.skipped += skip;
            }
            connection.connect(&jpeg, n)?;
            let sent = connection.send(|r| r.send_frame(&jpeg, at, Instant::now()))?;
            if sent.is_none() {
                report.skipped += 1;
            }
        }

        if let Some(s) = &mut sound {
            let media = clock.media_time(Instant::now());
            while let Some((pcm, at)) = s.poll(media)? {
                let sent = match s.encode(&pcm)? {
                    Some(payload) => connection
                        .send(|r| r.send_sound_packet(&payload, at, Instant::now()))?
                        .map(|()| 1),
                    None => connection.send(|r| r.send_sound(&pcm, at, Instant::now()))?,
                };
                if sent.is_none() {
                    report.audio_skipped += 1;
                }
            }
        }
        if let Some(c) = &mut captions {
            for (text, at) in c.poll(clock.media_time(Instant::now())) {
                tracing::debug!(text, at = ?at, "caption");
                if connection
                    .send(|r| r.send_caption(&text, at, Instant::now()))?
                    .is_none()
                {
                    report.captions_skipped += 1;
                }
            }
        }
    }
    report.connections = connection.connections;
    let senders = connection.close();
    let video = &senders[Track::Video];
    report.frames = video.units;
    report.packets = video.packets;
    report.bytes = video.bytes;
    report.refused = video.refused;
    report.audio_packets = senders[Track::Audio].packets;
    report.captions = senders[Track::Text].units;
    report.audio_skipped += sound.as_ref().map_or(0, Sound::skipped);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_feeds_one_thing() {
        let mut s = Settings::new(Input::Stdin, "rtsp://127.0.0.1/live/x");
        assert!(s.check().is_ok());
        s.audio = Some("-".parse().unwrap());
        assert!(s.check().is_err());
        s.input = Input::File("a.mjpeg".into());
        assert!(s.check().is_ok());
        s.captions = Some(CaptionInput::Stdin);
        assert!(s.check().is_err());
        s.audio = Some(AudioInput::Tone);
        assert!(s.check().is_ok());
    }
}
