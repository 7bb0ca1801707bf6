//! Captions from speech (`hdstream-server --captions-from-speech`): the sans-IO half of a
//! speech recogniser run on a live path's sound, whose lines become the path's T.140 caption
//! track (RFC 4103) — the same track a publisher's captions would be, so viewers get them as
//! any captions (`m=text … t140/1000`, `trackID=2`).
//!
//! A [`Listener`] per live path with sound (held by the path's publisher in
//! [`crate::publish`]):
//!
//! - **Sound in.** Each of the publisher's sound packets (RFC 3551: L16 §4.5.11, PCMU and PCMA
//!   §4.5.14; Opus, RFC 7587, through libopus) is decoded ([`hdstream_codec::Decoder`]), its
//!   channels averaged to mono, and
//!   resampled to 16 kHz ([`crate::resample`]: a windowed-sinc low-pass, no aliasing) into a
//!   queue of 16-bit little-endian samples for the recogniser's stdin ([`Listener::input`]).
//!   Where the sound's media time (the publisher's RTP timestamps, RFC 3550 §5.1, as
//!   [`crate::live_track::TrackFeed`] unwraps them) skips ahead by up to [`MAX_FILL`] (lost
//!   packets), silence fills the gap; a larger jump starts a new *run*.
//! - **Time kept.** The recogniser's input is one stream of 16 kHz samples from its start;
//!   each run, and each change of the publisher's capture clock (its sender reports on the
//!   sound, RFC 3550 §6.4.1), records a [`Segment`]: the stream position, the sound's media
//!   time, the server instant and the capture time there. Any position in the stream maps back
//!   to those through the segment before it.
//! - **Lines out.** The recogniser prints a line per utterance. pocketsphinx with `-time yes`
//!   follows it with one line per word, `word start end confidence`, times in seconds of the
//!   stream: the caption is then stamped at the stream position where the first word begins;
//!   a line without such times is stamped [`UNTIMED_LAG`] before the stream position written
//!   when it arrived. The stamp's sound media time becomes the caption's (in T.140's
//!   milliseconds), and its capture time and instant go with the packet, so the viewers' sender
//!   reports map the caption onto the sound's clock (the lip-sync of captions).
//! - **Bounds.** Output is read at most [`READ_RATE`] bytes a second (the driver reads no more
//!   than [`Listener::read_room`]; a flooding recogniser then blocks on its own pipe), lines are
//!   cut at [`MAX_LINE`] bytes, at most [`LINE_RATE`] lines and [`CAPTION_RATE`] captions a
//!   second are taken (the rest counted and dropped), and at most [`MAX_QUEUED`] bytes of sound
//!   wait for a recogniser that does not read (newer sound is dropped and counted).
//! - **Its process.** The listener asks the driver to start it ([`Command::Start`]) when the
//!   publisher records, and to stop it when the path ends. One that ends is started again after
//!   [`BACKOFF_FIRST`], doubling to [`BACKOFF_MAX`] (reset after [`STEADY`] of running); one that
//!   cannot be found turns captions from speech off, with one log line.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use hdstream_codec::Decoder;
use hdstream_common::audio::Format;
use hdstream_common::pacing::TokenBucket;
use hdstream_common::text::{Cue, t140};

use crate::live_track::TrackFeed;
use crate::resample::Resampler;
use crate::source::Moment;

/// The recogniser's sample rate: 16 kHz mono, 16-bit little-endian.
pub const RATE: u32 = 16_000;
/// Bytes of sound waiting for the recogniser at most (2 s).
pub const MAX_QUEUED: usize = 2 * 2 * RATE as usize;
/// The longest line taken, in bytes; the rest of a longer one is dropped.
pub const MAX_LINE: usize = 512;
/// Bytes a second read from a recogniser's output (and twice as many at once).
pub const READ_RATE: u64 = 64 * 1024;
/// Lines a second taken from a recogniser (and twice as many at once): pocketsphinx prints
/// about eight an utterance with word times.
pub const LINE_RATE: u64 = 50;
/// Captions a second made from a recogniser's lines (and twice as many at once).
pub const CAPTION_RATE: u64 = 4;
/// How far before the stream position written when a line arrived its caption is stamped,
/// when the recogniser gives no word times: pocketsphinx ends an utterance after 0.5 s of
/// silence and reads 128 ms at a time, so this lands the caption within the utterance's
/// last half second or so.
pub const UNTIMED_LAG: Duration = Duration::from_millis(1000);
/// How long a line waits for its word times before it becomes a caption without them.
pub const TIMES_WAIT: Duration = Duration::from_millis(200);
/// A gap in the sound's media time filled with silence at most; a larger one starts a run.
pub const MAX_FILL: Duration = Duration::from_secs(1);
/// The first wait before a recogniser that ended is started again.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between restarts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A recogniser that ran this long before it ended is restarted after [`BACKOFF_FIRST`] again.
pub const STEADY: Duration = Duration::from_secs(60);
/// Paths listened to at once (each recogniser is a process: pocketsphinx holds about 100 MB);
/// paths announced beyond it go without captions from speech (logged).
pub const MAX_LISTENERS: usize = 16;
/// Segments kept (the oldest go first; a caption is stamped within seconds of its line).
const MAX_SEGMENTS: usize = 64;
/// A capture time that drifts from the segment's by more than this starts a segment.
const CAPTURE_SLIP: Duration = Duration::from_millis(5);

/// Names a listener (and its recogniser process) to the driver.
pub type ListenerId = u64;

/// The recogniser to run: a program and its arguments, reading 16 kHz mono s16le on stdin and
/// printing a line per utterance on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recogniser {
    /// The program and its arguments.
    pub argv: Vec<String>,
}

impl Default for Recogniser {
    /// Debian's pocketsphinx (`pocketsphinx` + `pocketsphinx-en-us`): `-infile /dev/stdin`
    /// reads raw 16 kHz s16le from stdin (no WAV header: the name does not end `.wav`),
    /// `-logfn /dev/null` silences its log so stdout holds only hypotheses, and `-time yes`
    /// adds each word's times.
    fn default() -> Recogniser {
        Recogniser {
            argv: [
                "pocketsphinx_continuous",
                "-infile",
                "/dev/stdin",
                "-logfn",
                "/dev/null",
                "-time",
                "yes",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

impl Recogniser {
    /// A shell command line (`--speech-command`), run by `/bin/sh -c`.
    pub fn shell(command: &str) -> Recogniser {
        Recogniser {
            argv: vec!["/bin/sh".into(), "-c".into(), command.into()],
        }
    }

    /// How it reads in a log line.
    pub fn describe(&self) -> String {
        self.argv.join(" ")
    }
}

/// What the driver must do about recognisers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start the recogniser of listener `id`, which listens to `path`.
    Start {
        /// The listener.
        id: ListenerId,
        /// Its live path, for the log.
        path: String,
    },
    /// Stop it (the path ended): close its input, end the process.
    Stop {
        /// The listener.
        id: ListenerId,
    },
}

/// How a recogniser went, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Its program is not there (the spawn failed with "not found", or the shell answered 127).
    NotFound(String),
    /// It could not be started, or it ended: why (the exit status, its last words on stderr).
    Ended(String),
}

/// What a listener has done and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Captions made.
    pub captions: u64,
    /// Lines dropped: over [`LINE_RATE`], or captions over [`CAPTION_RATE`], or with no sound
    /// heard to stamp them.
    pub dropped_lines: u64,
    /// Lines cut at [`MAX_LINE`].
    pub cut_lines: u64,
    /// 16 kHz samples dropped because the recogniser did not read them.
    pub dropped_samples: u64,
    /// Sound packets that could not be read (not whole samples).
    pub unreadable: u64,
    /// Restarts of the recogniser.
    pub restarts: u64,
}

/// Where the recogniser's process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not asked for yet (the publisher has not recorded).
    Idle,
    /// Asked for at `since` (the driver starts it at once).
    Running { since: Instant },
    /// Ended; started again at `at`.
    Waiting { at: Instant },
    /// Cannot be had: the path goes on without captions.
    Off,
}

/// A point of the recogniser's stream and what it stands for (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Position in the stream: 16 kHz samples since the recogniser started.
    pub stream: f64,
    /// The sound's media time there, in its clock units.
    pub media: f64,
    /// When that sound reached the server.
    pub reached: Instant,
    /// When the publisher captured it, if its sender reports say.
    pub capture: Option<SystemTime>,
}

/// Contiguous sound going through one resampler: output sample `n` of the run is stream
/// position `stream + n` and media time `media + n · rate / 16 kHz`.
#[derive(Debug)]
struct Run {
    resampler: Resampler,
    /// Stream position of the run's first output sample.
    stream: u64,
    /// Media time of its first input sample.
    media: u64,
    /// Media time of the next input sample expected.
    expected: u64,
}

/// A line of words waiting for its word times.
#[derive(Debug, Clone)]
struct Utterance {
    text: String,
    /// Where its first word starts, in seconds of the stream, when the times said.
    start: Option<f64>,
    /// When the line arrived, and the stream position written then.
    arrived: Instant,
    written: u64,
}

/// What one line of the recogniser's output says.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// An utterance's words (a hypothesis).
    Words(&'a str),
    /// One word's times, `word start end confidence`, in seconds of the stream.
    Time {
        /// The word, or a filler (`<s>`, `</s>`, `<sil>`, `[NOISE]`, `++…++`).
        word: &'a str,
        /// Where it starts.
        start: f64,
        /// Where it ends.
        end: f64,
    },
}

impl Line<'_> {
    /// Reads one line (trimmed).
    pub fn parse(line: &str) -> Line<'_> {
        let line = line.trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [word, start, end, confidence] = fields[..]
            && let (Ok(start), Ok(end)) = (start.parse::<f64>(), end.parse::<f64>())
            && confidence.parse::<f64>().is_ok()
            && start.is_finite()
            && end.is_finite()
            && 0.0 <= start
            && start <= end
        {
            return Line::Time { word, start, end };
        }
        Line::Words(line)
    }
}

/// Whether a word of pocketsphinx's segmentation is a filler, not speech.
fn filler(word: &str) -> bool {
    word.starts_with(['<', '[', '+']) || word == "(NULL)"
}

/// The sans-IO side of one path's recogniser.
#[derive(Debug)]
pub struct Listener {
    id: ListenerId,
    path: String,
    format: Format,
    decoder: Decoder,
    state: State,
    /// Restarts since it last ran steadily.
    attempt: u32,
    /// Sound for the recogniser's stdin, s16le.
    pcm: Vec<u8>,
    /// Stream samples queued and bytes written since the recogniser started.
    queued: u64,
    written_bytes: u64,
    run: Option<Run>,
    segments: VecDeque<Segment>,
    /// The newest sound packet heard (to stamp a line when no segment is left).
    newest: Option<Segment>,
    /// Scratch: decoded samples, mono, resampled.
    decoded: Vec<i16>,
    mono: Vec<f32>,
    resampled: Vec<i16>,
    /// The line being read, and whether it was cut.
    line: Vec<u8>,
    cut: bool,
    pending: Option<Utterance>,
    read_bucket: TokenBucket,
    line_bucket: TokenBucket,
    caption_bucket: TokenBucket,
    /// When reading may go on, while the read bucket is empty.
    throttled_until: Option<Instant>,
    packetizer: t140::Packetizer,
    /// The newest caption's media time (ms): captions never go back.
    last_caption: Option<u64>,
    counters: Counters,
    /// Whether a drop of each kind has been logged.
    warned: [bool; 3],
}

/// Why a path's sound cannot be listened to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unheard {
    /// It cannot be decoded (a channel count Opus does not take, say).
    #[error(transparent)]
    Decoder(#[from] hdstream_codec::Error),
    /// Its rate cannot be converted to 16 kHz.
    #[error(transparent)]
    Rate(#[from] crate::resample::RateError),
}

impl Listener {
    /// A listener `id` for `path`'s sound of `format`, idle until [`Listener::start`].
    pub fn new(
        id: ListenerId,
        path: &str,
        format: Format,
        now: Instant,
    ) -> Result<Listener, Unheard> {
        let decoder = Decoder::new(format)?;
        Resampler::new(format.clock_rate, RATE)?;
        let per_second = |rate: u64| TokenBucket::new(rate, 2 * rate, now);
        Ok(Listener {
            id,
            path: path.to_owned(),
            format,
            decoder,
            state: State::Idle,
            attempt: 0,
            pcm: Vec::new(),
            queued: 0,
            written_bytes: 0,
            run: None,
            segments: VecDeque::new(),
            newest: None,
            decoded: Vec::new(),
            mono: Vec::new(),
            resampled: Vec::new(),
            line: Vec::new(),
            cut: false,
            pending: None,
            read_bucket: per_second(READ_RATE),
            line_bucket: per_second(LINE_RATE),
            caption_bucket: per_second(CAPTION_RATE),
            throttled_until: None,
            packetizer: t140::Packetizer::new(crate::captions::MAX_PAYLOAD),
            last_caption: None,
            counters: Counters::default(),
            warned: [false; 3],
        })
    }

    /// Its id.
    pub fn id(&self) -> ListenerId {
        self.id
    }

    /// What it has done and dropped.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether its recogniser can no longer be had.
    pub fn is_off(&self) -> bool {
        self.state == State::Off
    }

    /// The publisher records: the recogniser is wanted. Answers the command for the driver
    /// (once: later calls answer `None`).
    pub fn start(&mut self, now: Instant) -> Option<Command> {
        if self.state != State::Idle {
            return None;
        }
        self.state = State::Running { since: now };
        Some(self.start_command())
    }

    fn start_command(&self) -> Command {
        Command::Start {
            id: self.id,
            path: self.path.clone(),
        }
    }

    /// A sound packet's `payload` at `moment` (its media time in the sound's clock units, its
    /// arrival and capture time): decoded, resampled and queued for the recogniser.
    pub fn hear(&mut self, payload: &[u8], moment: Moment) {
        if !matches!(self.state, State::Running { .. }) {
            return;
        }
        self.decoded.clear();
        let frames = match self.decoder.decode(payload, &mut self.decoded) {
            Ok(frames) => frames,
            Err(e) => {
                self.counters.unreadable += 1;
                tracing::debug!(path = %self.path, error = %e, "sound packet not heard");
                return;
            }
        };
        if frames == 0 {
            return;
        }
        let channels = usize::from(self.format.channels.max(1));
        self.mono.clear();
        self.mono.extend(
            self.decoded
                .chunks_exact(channels)
                .map(|frame| frame.iter().map(|&s| f32::from(s)).sum::<f32>() / channels as f32),
        );
        let rate = u64::from(self.format.clock_rate);
        let at = moment.media_time;
        let max_fill = MAX_FILL.as_secs() * rate;
        let gap = self
            .run
            .as_ref()
            .and_then(|run| at.checked_sub(run.expected))
            .filter(|&gap| gap <= max_fill);
        // What this packet (and silence before it) makes, at most, at 16 kHz.
        let coming = (gap.unwrap_or(0) + frames as u64) * u64::from(RATE) / rate + 2;
        if self.pcm.len() as u64 + 2 * coming > MAX_QUEUED as u64 {
            // The recogniser does not keep up: this sound is lost to it, and the next packet
            // that fits starts a new run (and segment) where the stream goes on.
            self.counters.dropped_samples += coming;
            self.warn(2, "the speech recogniser does not read: sound dropped");
            self.run = None;
            return;
        }
        let segment = self.at_media(at, moment);
        match (gap, &mut self.run) {
            (Some(gap), Some(run)) => {
                if gap > 0 {
                    // Lost packets: silence in their place keeps the stream on time.
                    let silence = vec![0f32; gap as usize];
                    run.resampler.push(&silence, &mut self.resampled);
                }
                let slipped = match (self.segments.back(), moment.capture) {
                    (Some(last), Some(capture)) => {
                        let predicted = extrapolate(last, segment.media, rate).capture;
                        predicted.is_none_or(|p| differ(p, capture) > CAPTURE_SLIP)
                    }
                    _ => false,
                };
                if slipped {
                    self.push_segment(segment);
                }
            }
            _ => {
                let Ok(resampler) = Resampler::new(self.format.clock_rate, RATE) else {
                    return;
                };
                self.run = Some(Run {
                    resampler,
                    stream: self.queued,
                    media: at,
                    expected: at,
                });
                self.push_segment(Segment {
                    stream: self.queued as f64,
                    ..segment
                });
            }
        }
        let Some(run) = self.run.as_mut() else {
            return;
        };
        run.resampler.push(&self.mono, &mut self.resampled);
        run.expected = at + frames as u64;
        self.newest = Some(segment);
        let bytes = self.resampled.len() * 2;
        self.pcm
            .extend(self.resampled.drain(..).flat_map(i16::to_le_bytes));
        self.queued += (bytes / 2) as u64;
    }

    /// The segment for media time `at` of the current run (its stream position from the run),
    /// with `moment`'s arrival and capture.
    fn at_media(&self, at: u64, moment: Moment) -> Segment {
        let stream = self.run.as_ref().map_or(self.queued as f64, |run| {
            let ratio = f64::from(RATE) / f64::from(self.format.clock_rate);
            run.stream as f64 + at.saturating_sub(run.media) as f64 * ratio
        });
        Segment {
            stream,
            media: at as f64,
            reached: moment.arrived,
            capture: moment.capture,
        }
    }

    fn push_segment(&mut self, segment: Segment) {
        if self.segments.len() == MAX_SEGMENTS {
            self.segments.pop_front();
        }
        self.segments.push_back(segment);
    }

    /// Sound waiting for the recogniser's stdin (16 kHz mono s16le).
    pub fn input(&self) -> &[u8] {
        &self.pcm
    }

    /// `n` bytes of [`Listener::input`] were written.
    pub fn written(&mut self, n: usize) {
        let n = n.min(self.pcm.len());
        self.pcm.drain(..n);
        self.written_bytes += n as u64;
    }

    /// Bytes of output the core takes now (0: read nothing; the driver asks again after
    /// [`Listener::deadline`]).
    pub fn read_room(&mut self, now: Instant) -> usize {
        let room = usize::try_from(self.read_bucket.available(now)).unwrap_or(0);
        let chunk = (READ_RATE / 8) as usize;
        self.throttled_until = (room == 0).then(|| self.read_bucket.ready_at(chunk, now));
        room
    }

    /// Bytes from the recogniser's stdout, read at `now`: lines become captions in
    /// `captions`.
    pub fn output(&mut self, bytes: &[u8], now: Instant, captions: &mut TrackFeed) {
        self.read_bucket.take(bytes.len(), now);
        for &b in bytes {
            match b {
                b'\n' => {
                    let line = std::mem::take(&mut self.line);
                    self.cut = false;
                    self.take_line(&line, now, captions);
                    self.line = line;
                    self.line.clear();
                }
                _ if self.line.len() < MAX_LINE => self.line.push(b),
                _ => {
                    if !self.cut {
                        self.cut = true;
                        self.counters.cut_lines += 1;
                        self.warn(0, "the speech recogniser prints over-long lines: cut");
                    }
                }
            }
        }
    }

    /// One whole line of output.
    fn take_line(&mut self, bytes: &[u8], now: Instant, captions: &mut TrackFeed) {
        if self.line_bucket.try_take(1, now).is_err() {
            self.counters.dropped_lines += 1;
            self.warn(1, "the speech recogniser prints too many lines: dropped");
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        match Line::parse(&text) {
            Line::Time { word, start, .. } => {
                if word == "</s>" {
                    // The utterance's times are all there.
                    if let Some(u) = self.pending.take() {
                        self.caption(u, now, captions);
                    }
                } else if !filler(word)
                    && let Some(u) = self.pending.as_mut()
                {
                    u.start.get_or_insert(start);
                }
            }
            Line::Words(words) => {
                if let Some(u) = self.pending.take() {
                    self.caption(u, now, captions);
                }
                self.pending = Some(Utterance {
                    text: words.to_owned(),
                    start: None,
                    arrived: now,
                    written: self.written_bytes / 2,
                });
            }
        }
    }

    /// Turns an utterance into a caption packet in `captions`.
    fn caption(&mut self, u: Utterance, now: Instant, captions: &mut TrackFeed) {
        if u.text.trim().is_empty() {
            return;
        }
        if self.caption_bucket.try_take(1, now).is_err() {
            self.counters.dropped_lines += 1;
            self.warn(1, "the speech recogniser prints too many lines: dropped");
            return;
        }
        let position = match u.start {
            Some(seconds) => seconds * f64::from(RATE),
            None => {
                let lag = UNTIMED_LAG.as_secs_f64() * f64::from(RATE);
                (u.written as f64 - lag).max(0.0)
            }
        };
        let Some(point) = self.locate(position) else {
            self.counters.dropped_lines += 1;
            return;
        };
        let rate = f64::from(self.format.clock_rate);
        let ms = (point.media / rate * 1000.0) as u64;
        let ms = self.last_caption.map_or(ms, |last| ms.max(last));
        self.last_caption = Some(ms);
        let cue = Cue::new(Duration::from_millis(ms), Duration::from_millis(ms), u.text);
        let mut sent = false;
        for block in self.packetizer.push(&cue) {
            sent |= captions.push_made(
                &block.data,
                block.marker,
                ms,
                point.reached,
                point.capture,
                now,
            );
        }
        if sent {
            self.counters.captions += 1;
            tracing::debug!(
                path = %self.path,
                text = %cue.text,
                media_ms = ms,
                timed = u.start.is_some(),
                after_ms = now.saturating_duration_since(point.reached).as_millis() as u64,
                "caption from speech"
            );
        }
    }

    /// The media time, instant and capture time of stream position `position`.
    pub fn locate(&self, position: f64) -> Option<Segment> {
        let rate = u64::from(self.format.clock_rate);
        let segment = self
            .segments
            .iter()
            .rev()
            .find(|s| s.stream <= position)
            .or(self.segments.front())
            .or(self.newest.as_ref())?;
        let ratio = f64::from(self.format.clock_rate) / f64::from(RATE);
        let media = segment.media + (position - segment.stream) * ratio;
        Some(extrapolate(segment, media.max(0.0), rate))
    }

    /// What is due at `now`: a line that waited long enough for its word times becomes a
    /// caption; a recogniser whose wait is over is started again (the command answered).
    pub fn tick(&mut self, now: Instant, captions: Option<&mut TrackFeed>) -> Option<Command> {
        if let Some(u) = &self.pending
            && now >= u.arrived + TIMES_WAIT
            && let (Some(u), Some(captions)) = (self.pending.take(), captions)
        {
            self.caption(u, now, captions);
        }
        match self.state {
            State::Waiting { at } if now >= at => {
                self.state = State::Running { since: now };
                tracing::info!(path = %self.path, attempt = self.attempt, "speech recogniser starting again");
                Some(self.start_command())
            }
            _ => None,
        }
    }

    /// The earliest instant [`Listener::tick`] or reading has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let pending = self.pending.as_ref().map(|u| u.arrived + TIMES_WAIT);
        let restart = match self.state {
            State::Waiting { at } => Some(at),
            _ => None,
        };
        [pending, restart, self.throttled_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// The recogniser ended (or never started) at `now`, as `exit` says; a line it printed
    /// last becomes a caption in `captions` now. Answers whether its program is missing
    /// (captions from speech then end everywhere).
    pub fn exited(&mut self, exit: &Exit, now: Instant, captions: Option<&mut TrackFeed>) -> bool {
        let State::Running { since } = self.state else {
            return false;
        };
        if let (Some(u), Some(captions)) = (self.pending.take(), captions) {
            self.caption(u, now, captions);
        }
        self.reset_stream();
        match exit {
            Exit::NotFound(_) => {
                self.state = State::Off;
                true
            }
            Exit::Ended(why) => {
                let ran = now.saturating_duration_since(since);
                if ran >= STEADY {
                    self.attempt = 0;
                }
                let wait = BACKOFF_FIRST
                    .saturating_mul(1 << self.attempt.min(16))
                    .min(BACKOFF_MAX);
                self.attempt += 1;
                self.counters.restarts += 1;
                self.state = State::Waiting { at: now + wait };
                tracing::warn!(
                    path = %self.path,
                    why,
                    ran_s = format_args!("{:.1}", ran.as_secs_f64()),
                    restart_in_s = wait.as_secs_f64(),
                    "speech recogniser ended: starting it again"
                );
                false
            }
        }
    }

    /// Captions from speech are off for good (the recogniser is not installed).
    pub fn turn_off(&mut self) {
        self.state = State::Off;
        self.reset_stream();
    }

    /// A new recogniser starts from an empty stream.
    fn reset_stream(&mut self) {
        self.pcm.clear();
        self.queued = 0;
        self.written_bytes = 0;
        self.run = None;
        self.segments.clear();
        self.line.clear();
        self.cut = false;
        self.pending = None;
        self.throttled_until = None;
    }

    /// Logs the first drop of kind `k` (later ones are counted only, and logged at the end).
    fn warn(&mut self, k: usize, what: &str) {
        if !std::mem::replace(&mut self.warned[k], true) {
            tracing::warn!(path = %self.path, "{what} (counted from now on)");
        }
    }

    /// The summary log line when the path ends.
    pub fn log_summary(&self) {
        let c = self.counters;
        tracing::info!(
            path = %self.path,
            captions = c.captions,
            dropped_lines = c.dropped_lines,
            cut_lines = c.cut_lines,
            dropped_sound_s = format_args!("{:.1}", c.dropped_samples as f64 / f64::from(RATE)),
            unreadable_packets = c.unreadable,
            restarts = c.restarts,
            "captions from speech ended"
        );
    }
}

/// `segment` moved on to media time `media` (at `rate` units a second): the instant and
/// capture time move with it.
fn extrapolate(segment: &Segment, media: f64, rate: u64) -> Segment {
    let seconds = (media - segment.media) / rate.max(1) as f64;
    let shift = |t: Instant| {
        let d = Duration::from_secs_f64(seconds.abs());
        if seconds >= 0.0 {
            t.checked_add(d).unwrap_or(t)
        } else {
            t.checked_sub(d).unwrap_or(t)
        }
    };
    let shift_wall = |t: SystemTime| {
        let d = Duration::from_secs_f64(seconds.abs());
        if seconds >= 0.0 {
            t.checked_add(d).unwrap_or(t)
        } else {
            t.checked_sub(d).unwrap_or(t)
        }
    };
    Segment {
        stream: segment.stream + (media - segment.media) * f64::from(RATE) / rate.max(1) as f64,
        media,
        reached: shift(segment.reached),
        capture: segment.capture.map(shift_wall),
    }
}

/// How far apart two wall-clock times are.
fn differ(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use hdstream_common::audio::Encoding;
    use hdstream_common::rtp;

    use super::*;
    use crate::live_track::LiveTrackStream;

    /// 48 kHz stereo L16, as ffmpeg publishes `pcm_s16be`.
    const FORMAT: Format = Format {
        encoding: Encoding::L16,
        payload_type: 96,
        clock_rate: 48_000,
        channels: 2,
    };
    /// Sample frames in a 20 ms packet.
    const FRAMES: u64 = 960;

    fn wall0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// A listener whose recogniser runs, started at `t0`.
    fn listening(t0: Instant) -> Listener {
        let mut l = Listener::new(1, "live/cam", FORMAT, t0).unwrap();
        assert!(matches!(l.start(t0), Some(Command::Start { id: 1, .. })));
        assert_eq!(l.start(t0), None, "asked for once");
        l
    }

    /// Sound packet `k` (20 ms of a 440 Hz tone) heard at `t0 + 20k ms`, media time
    /// `offset + 960k`, captured `20k ms` after [`wall0`].
    fn hear(l: &mut Listener, t0: Instant, offset: u64, k: u64) {
        let samples: Vec<i16> = (0..FRAMES)
            .flat_map(|i| {
                let t = (k * FRAMES + i) as f64 / 48_000.0;
                let v = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
                [v, v]
            })
            .collect();
        let mut payload = Vec::new();
        hdstream_common::audio::l16::write(&samples, &mut payload);
        let ms = Duration::from_millis(20 * k);
        l.hear(
            &payload,
            Moment {
                media_time: offset + k * FRAMES,
                arrived: t0 + ms,
                capture: Some(wall0() + ms),
            },
        );
    }

    /// Writes everything queued (the recogniser reads it all).
    fn drain(l: &mut Listener) -> usize {
        let n = l.input().len();
        l.written(n);
        n
    }

    /// The captions in `feed` from a viewer that joined at its start (timestamp origin 0):
    /// (timestamp in ms, text).
    fn captions(
        viewer: &mut LiveTrackStream,
        feed: &TrackFeed,
        now: Instant,
    ) -> Vec<(u32, String)> {
        crate::testing::sent_packets(viewer, feed, now)
            .into_iter()
            .map(|p| {
                let p = rtp::Packet::parse(&p).unwrap();
                let text = String::from_utf8_lossy(p.payload()).into_owned();
                (
                    p.timestamp(),
                    text.trim_end_matches(t140::LINE_SEPARATOR).to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn lines_are_words_or_word_times() {
        assert_eq!(Line::parse("one two three\n"), Line::Words("one two three"));
        assert_eq!(
            Line::parse("three 0.600 0.850 1.000100"),
            Line::Time {
                word: "three",
                start: 0.6,
                end: 0.85
            }
        );
        // Four fields that are not times are words; times that go back are not times.
        assert_eq!(
            Line::parse("one two three four"),
            Line::Words("one two three four")
        );
        assert_eq!(Line::parse("a 2.0 1.0 1"), Line::Words("a 2.0 1.0 1"));
        assert_eq!(Line::parse("a -1 1.0 1"), Line::Words("a -1 1.0 1"));
        assert!(filler("<s>") && filler("</s>") && filler("[NOISE]") && filler("++UH++"));
        assert!(!filler("two(2)"));
    }

    #[test]
    fn sound_is_resampled_to_16_khz_mono_as_it_comes() {
        let t0 = Instant::now();
        let mut l = listening(t0);
        for k in 0..50 {
            hear(&mut l, t0, 0, k);
        }
        // One second at 48 kHz: 16000 samples, less the filter's half length held back.
        let samples = l.input().len() / 2;
        assert!((15_900..=16_000).contains(&samples), "{samples} samples");
        // Not heard while the recogniser is not running.
        let mut idle = Listener::new(2, "live/x", FORMAT, t0).unwrap();
        hear(&mut idle, t0, 0, 0);
        assert!(idle.input().is_empty());
    }

    /// pocketsphinx's `-time yes` output: the caption is stamped where the first word began.
    #[test]
    fn a_line_with_word_times_is_stamped_where_its_first_word_began() {
        let t0 = Instant::now();
        let mut l = listening(t0);
        let mut feed = TrackFeed::new(98, 1000);
        let mut viewer = LiveTrackStream::new([7, 0, 0]);
        viewer.join(&feed);
        // The path's sound began at media time 48000 (1 s after the path's first packet).
        for k in 0..150 {
            hear(&mut l, t0, 48_000, k);
            drain(&mut l);
        }
        let now = t0 + Duration::from_millis(3000);
        let out = b"one two\n<s> 0.000 0.170 1.0\none 0.510 0.800 0.2\ntwo 0.810 1.200 0.3\n</s> 1.210 1.500 1.0\n";
        l.output(out, now, &mut feed);
        let got = captions(&mut viewer, &feed, now);
        // 0.51 s into the stream is media time 1.51 s.
        assert_eq!(got, vec![(1510, "one two".to_owned())]);
        // The viewer's sender report maps it to the capture time of that sound.
        let (ntp, ts) = viewer.report_clock(now, SystemTime::now(), 1000).unwrap();
        assert_eq!(ts, 1510);
        let want = wall0() + Duration::from_millis(510);
        assert!(
            differ(ntp, want) < Duration::from_millis(1),
            "{ntp:?} vs {want:?}"
        );
        assert_eq!(l.counters().captions, 1);
    }

    /// A recogniser without word times: the caption goes [`UNTIMED_LAG`] before the sound
    /// written when the line came, once [`TIMES_WAIT`] has passed without times.
    #[test]
    fn a_line_without_times_is_stamped_before_the_sound_written_when_it_came() {
        let t0 = Instant::now();
        let mut l = listening(t0);
        let mut feed = TrackFeed::new(98, 1000);
        let mut viewer = LiveTrackStream::new([7, 0, 0]);
        viewer.join(&feed);
        // The recogniser has read 2.5 s of the 3 s when its line comes.
        let mut written = 0;
        for k in 0..150 {
            hear(&mut l, t0, 0, k);
            let n = l.input().len().min(2 * 40_000 - written);
            l.written(n);
            written += n;
        }
        let now = t0 + Duration::from_millis(3000);
        l.output(b"hello there\n", now, &mut feed);
        assert!(
            captions(&mut viewer, &feed, now).is_empty(),
            "waits for word times"
        );
        assert_eq!(l.deadline(), Some(now + TIMES_WAIT));
        assert_eq!(l.tick(now + TIMES_WAIT, Some(&mut feed)), None);
        let got = captions(&mut viewer, &feed, now + TIMES_WAIT);
        assert_eq!(got, vec![(1500, "hello there".to_owned())]);
        // The next line ends the one before it at once.
        for k in 150..200 {
            hear(&mut l, t0, 0, k);
        }
        l.written(2 * 16_000);
        l.output(b"first\nsecond\n", now + Duration::from_secs(1), &mut feed);
        let got = captions(&mut viewer, &feed, now + Duration::from_secs(1));
        assert_eq!(got, vec![(2500, "first".to_owned())]);
    }

    #[test]
    fn lost_packets_are_filled_and_a_jump_starts_a_new_segment() {
        let t0 = Instant::now();
        let mut l = listening(t0);
        let mut feed = TrackFeed::new(98, 1000);
        let mut viewer = LiveTrackStream::new([7, 0, 0]);
        viewer.join(&feed);
        // 1 s, two packets lost (filled with 40 ms of silence), 1 s more.
        for k in (0..100).filter(|k| !(20..22).contains(k)) {
            hear(&mut l, t0, 0, k);
        }
        let filled = drain(&mut l) / 2;
        assert!((31_900..=32_000).contains(&filled), "{filled}");
        // Then the publisher's clock leaps 60 s: a new segment where the stream stands.
        let stream_at_jump = l.queued as f64;
        for k in 100..150 {
            hear(&mut l, t0, 60 * 48_000, k);
            drain(&mut l);
        }
        let p = l.locate(stream_at_jump + 8000.0).unwrap();
        assert_eq!(p.media, (60 * 48_000 + 100 * 960 + 24_000) as f64);
        let p = l.locate(16_000.0).unwrap();
        assert_eq!(p.media, 48_000.0, "one second in, before the jump");
        // A caption in the new segment is stamped on the leaping clock.
        let word = (stream_at_jump + 8000.0) / 16_000.0;
        let text = format!("late\nlate {word:.4} {:.4} 1.0\n</s> 9 9 1\n", word + 0.2);
        l.output(text.as_bytes(), t0 + Duration::from_secs(4), &mut feed);
        let got = captions(&mut viewer, &feed, t0 + Duration::from_secs(4));
        assert_eq!(got.len(), 1);
        let want = (60 * 48_000 + 100 * 960 + 24_000) / 48;
        assert!(got[0].0.abs_diff(want as u32) <= 1, "{got:?} vs {want}");
    }

    #[test]
    fn output_is_bounded() {
        let t0 = Instant::now();
        let mut l = listening(t0);
        let mut feed = TrackFeed::new(98, 1000);
        hear(&mut l, t0, 0, 0);
        // Reading: twice the rate at once, then nothing until it refills.
        assert_eq!(l.read_room(t0), 2 * READ_RATE as usize);
        l.output(&vec![b'x'; 2 * READ_RATE as usize], t0, &mut feed);
        assert_eq!(l.read_room(t0), 0);
        assert!(
            l.deadline()
                .is_some_and(|d| d > t0 && d <= t0 + Duration::from_millis(200))
        );
        // Half a second later, half a second's worth.
        let later = t0 + Duration::from_millis(500);
        assert_eq!(l.read_room(later), READ_RATE as usize / 2);
        assert_eq!(l.counters().cut_lines, 1, "the 128 KiB line is cut");
        // A flood of lines: at most the burst and the rate's worth are taken, the rest counted.
        let flood = "word\n".repeat(5000);
        l.output(flood.as_bytes(), later, &mut feed);
        let c = l.counters();
        assert!(c.dropped_lines >= 5000 - 2 * LINE_RATE - LINE_RATE, "{c:?}");
        // And of those taken, captions at most at their own rate.
        l.tick(later + TIMES_WAIT, Some(&mut feed));
        assert!(
            l.counters().captions <= 2 * CAPTION_RATE + CAPTION_RATE,
            "{:?}",
            l.counters()
        );
        // Sound for a recogniser that reads nothing: 2 s queued at most, the rest dropped.
        for k in 1..300 {
            hear(&mut l, t0, 0, k);
        }
        assert!(l.input().len() <= MAX_QUEUED);
        assert!(l.counters().dropped_samples > 0);
    }

    #[test]
    fn a_recogniser_that_ends_is_started_again_later_and_later() {
        let t0 = Instant::now();
        let mut l = listening(t0);
        hear(&mut l, t0, 0, 0);
        let ended = Exit::Ended("exited with status 1".into());
        let mut at = t0;
        for wait in [1, 2, 4, 8, 16, 30, 30] {
            assert!(!l.exited(&ended, at, None));
            assert!(
                l.input().is_empty(),
                "a new recogniser starts from an empty stream"
            );
            let due = at + Duration::from_secs(wait);
            assert_eq!(l.deadline(), Some(due));
            assert_eq!(l.tick(due - Duration::from_millis(1), None), None);
            assert!(matches!(
                l.tick(due, None),
                Some(Command::Start { id: 1, .. })
            ));
            at = due;
        }
        // One that ran steadily starts again soon.
        let steady = at + STEADY;
        l.exited(&ended, steady, None);
        assert_eq!(l.deadline(), Some(steady + BACKOFF_FIRST));
        assert_eq!(l.counters().restarts, 8);
        // One that is not installed is not started again.
        let mut missing = listening(t0);
        assert!(missing.exited(&Exit::NotFound("no such file".into()), t0, None));
        assert!(missing.is_off());
        assert_eq!(missing.deadline(), None);
        hear(&mut missing, t0, 0, 0);
        assert!(missing.input().is_empty());
    }

    /// Opus (RFC 7587) is decoded through libopus, at 48 kHz like L16 here.
    #[test]
    fn opus_is_heard() {
        let t0 = Instant::now();
        let mut encoder = hdstream_codec::OpusEncoder::new(2, 64_000).unwrap();
        let mut l = Listener::new(1, "live/cam", encoder.format(111), t0).unwrap();
        l.start(t0);
        for k in 0..50u64 {
            let pcm: Vec<i16> = (0..FRAMES)
                .flat_map(|i| {
                    let t = (k * FRAMES + i) as f64 / 48_000.0;
                    let v = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
                    [v, v]
                })
                .collect();
            let payload = encoder.encode(&pcm).unwrap().to_vec();
            let moment = Moment {
                media_time: k * FRAMES,
                arrived: t0 + Duration::from_millis(20 * k),
                capture: None,
            };
            l.hear(&payload, moment);
        }
        let samples: Vec<i16> = l
            .input()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert!(
            (15_900..=16_000).contains(&samples.len()),
            "{}",
            samples.len()
        );
        let loud = samples[8000..]
            .iter()
            .map(|&s| f64::from(s).abs())
            .fold(0.0, f64::max);
        assert!(loud > 4000.0, "the tone came through: peak {loud}");
    }
}
