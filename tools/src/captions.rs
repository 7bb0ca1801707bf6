//! Where `hdstream-publish`'s captions come from: lines of text on stdin, each a caption at the
//! moment it is read (its media time is then, on the publisher's clock), or the cues of a
//! WebVTT or SubRip file, each at its start time — looped with the video when the video is a
//! looped file (a cue that starts after the video's end is not shown), else once.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdstream_common::text::{self, Cue, srt, webvtt};

use crate::clock::Clock;

/// Lines longer than this from stdin are cut (a caption is a line or two).
const MAX_LINE: usize = 4096;

/// What the captions are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptionInput {
    /// Lines of UTF-8 on stdin (`-`), one caption each.
    Stdin,
    /// A WebVTT (`.vtt`) or SubRip (`.srt`) file.
    File(PathBuf),
}

impl FromStr for CaptionInput {
    type Err = String;

    fn from_str(s: &str) -> Result<CaptionInput, String> {
        match s {
            "-" => Ok(CaptionInput::Stdin),
            "" => Err("an empty captions name".into()),
            path => Ok(CaptionInput::File(PathBuf::from(path))),
        }
    }
}

/// A caption due: its text and media time.
pub type Caption = (String, Duration);

enum Source {
    /// Read on a thread (stdin blocks): each line and when it was read.
    Stdin {
        lines: Receiver<(String, Instant)>,
        ended: bool,
    },
    /// A file's cues.
    File(FileCues),
}

/// A file's cues, sorted by start; `next` is the next to go in loop `round`.
struct FileCues {
    cues: Vec<Cue>,
    next: usize,
    round: u32,
    period: Option<Duration>,
}

impl FileCues {
    /// The next cue to go and its media time (its start, shifted by the loops gone by).
    fn next(&self) -> Option<(&Cue, Duration)> {
        let cue = self.cues.get(self.next)?;
        let shift = self.period.map_or(Duration::ZERO, |p| p * self.round);
        Some((cue, cue.start + shift))
    }

    /// The next cue has gone; looping, the round is over once the cues are done.
    fn advance(&mut self) {
        self.next += 1;
        if self.period.is_some() && self.next == self.cues.len() {
            self.next = 0;
            self.round += 1;
        }
    }
}

/// The captions, as they fall due.
pub struct Captions {
    clock: Clock,
    source: Source,
}

impl std::fmt::Debug for Captions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.source {
            Source::Stdin { .. } => "stdin",
            Source::File(_) => "file",
        };
        f.debug_struct("Captions").field("source", &kind).finish()
    }
}

impl Captions {
    /// The captions of `input` on `clock`, looped every `loop_period` (a file's, with a looped
    /// video file).
    pub fn open(
        input: &CaptionInput,
        clock: Clock,
        loop_period: Option<Duration>,
    ) -> Result<Captions> {
        let source = match input {
            CaptionInput::Stdin => {
                let (tx, rx) = std::sync::mpsc::sync_channel(64);
                std::thread::Builder::new()
                    .name("publish-captions".into())
                    .spawn(move || read_stdin(&tx))?;
                Source::Stdin {
                    lines: rx,
                    ended: false,
                }
            }
            CaptionInput::File(path) => {
                let mut cues = read_file(path)?;
                let period = loop_period.filter(|p| !p.is_zero());
                if let Some(p) = period {
                    // Past the video's end, a cue is never shown.
                    cues.retain(|c| c.start < p);
                    if cues.is_empty() {
                        bail!("{}: no cue starts within the video", path.display());
                    }
                }
                Source::File(FileCues {
                    cues,
                    next: 0,
                    round: 0,
                    period,
                })
            }
        };
        Ok(Captions { clock, source })
    }

    /// The media time of the next cue of a file (none for stdin, or when the file is done).
    pub fn next_due(&self) -> Option<Duration> {
        match &self.source {
            Source::Stdin { .. } => None,
            Source::File(file) => file.next().map(|(_, at)| at),
        }
    }

    /// Whether captions come from stdin (looked at every few milliseconds).
    pub fn is_stdin(&self) -> bool {
        matches!(self.source, Source::Stdin { .. })
    }

    /// Whether no caption will come any more.
    pub fn is_ended(&self) -> bool {
        match &self.source {
            Source::Stdin { ended, .. } => *ended,
            Source::File(_) => self.next_due().is_none(),
        }
    }

    /// The captions due at media time `now`, in order.
    pub fn poll(&mut self, now: Duration) -> Vec<Caption> {
        let mut due = Vec::new();
        match &mut self.source {
            Source::Stdin { lines, ended } => loop {
                match lines.try_recv() {
                    Ok((line, read)) => due.push((line, self.clock.media_time(read))),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        *ended = true;
                        break;
                    }
                }
            },
            Source::File(file) => {
                while let Some((cue, at)) = file.next() {
                    if at > now {
                        break;
                    }
                    due.push((cue.text.clone(), at));
                    file.advance();
                }
            }
        }
        due
    }
}

/// The cues of a caption file: WebVTT by its `.vtt` name or its `WEBVTT` signature, else SubRip.
fn read_file(path: &Path) -> Result<Vec<Cue>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not UTF-8 at byte {}",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let vtt = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("vtt"))
        || text.trim_start_matches('\u{FEFF}').starts_with("WEBVTT");
    let parsed: Result<text::Captions, text::Error> = if vtt {
        webvtt::parse(&text)
    } else {
        srt::parse(&text)
    };
    let captions = parsed.with_context(|| format!("{}", path.display()))?;
    for skipped in &captions.skipped {
        tracing::warn!(file = %path.display(), %skipped, "a cue skipped");
    }
    if captions.cues.is_empty() {
        bail!("{} holds no cue", path.display());
    }
    Ok(captions.cues)
}

/// Reads lines from stdin to its end, handing each over with when it was read.
fn read_stdin(lines: &SyncSender<(String, Instant)>) {
    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match stdin
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => return,
            Ok(_) => {
                let read = Instant::now();
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                if lines.send((text, read)).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading captions from stdin");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("hdstream-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn clock() -> Clock {
        Clock::new(Instant::now(), SystemTime::now())
    }

    const VTT: &str = "WEBVTT\n\n00:00.500 --> 00:01.000\nfirst\n\n00:01.200 --> 00:02.000\n<b>second</b>\nline\n\n00:03.000 --> 00:04.000\nafter the video\n";

    #[test]
    fn a_file_s_cues_go_at_their_times() {
        let path = file("cues.vtt", VTT);
        let mut c = Captions::open(&CaptionInput::File(path.clone()), clock(), None).unwrap();
        assert_eq!(c.next_due(), Some(Duration::from_millis(500)));
        assert!(c.poll(Duration::from_millis(499)).is_empty());
        assert_eq!(
            c.poll(Duration::from_millis(1500)),
            [
                ("first".to_owned(), Duration::from_millis(500)),
                ("second\nline".to_owned(), Duration::from_millis(1200))
            ]
        );
        assert_eq!(c.poll(Duration::from_secs(10)).len(), 1);
        assert!(c.is_ended());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn cues_loop_with_the_video() {
        let srt = "1\n00:00:00,500 --> 00:00:01,000\nfirst\n\n2\n00:00:03,000 --> 00:00:04,000\nafter the video\n";
        let path = file("cues.srt", srt);
        let period = Some(Duration::from_secs(2));
        let mut c = Captions::open(&CaptionInput::File(path.clone()), clock(), period).unwrap();
        let times: Vec<Duration> = c
            .poll(Duration::from_secs(7))
            .into_iter()
            .map(|(_, at)| at)
            .collect();
        assert_eq!(
            times,
            [500, 2500, 4500, 6500].map(Duration::from_millis),
            "the cue past the video's end is never shown"
        );
        assert!(!c.is_ended());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn not_captions_is_an_error() {
        let path = file("junk.vtt", "hello\n");
        assert!(Captions::open(&CaptionInput::File(path.clone()), clock(), None).is_err());
        std::fs::remove_file(path).unwrap();
        assert_eq!("-".parse(), Ok(CaptionInput::Stdin));
    }
}
