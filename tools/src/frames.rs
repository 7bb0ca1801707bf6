//! Where `hdstream-publish`'s frames come from: an MJPEG file (looped), concatenated JPEGs on
//! stdin (split on a thread, timed by their arrival), or the moving test pattern with its
//! capture time drawn in — and, for lip-sync tests, a flash at each whole second
//! ([`crate::flash`]).

use std::io::{self, Read};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use hdstream_video::MjpegFile;
use hdstream_video::pattern::Pattern;
use hdstream_video::split::Splitter;

use crate::flash;

/// The largest frame read from stdin.
const MAX_FRAME: usize = 16 << 20;

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An MJPEG file (either container), looped.
    File(PathBuf),
    /// Concatenated JPEGs on stdin (`-`).
    Stdin,
    /// A moving test pattern of this size with its capture time drawn in (`pattern:WxH`).
    Pattern {
        /// Width in pixels.
        width: u16,
        /// Height in pixels.
        height: u16,
    },
}

impl FromStr for Input {
    type Err = String;

    fn from_str(s: &str) -> Result<Input, String> {
        if s == "-" {
            return Ok(Input::Stdin);
        }
        if let Some(size) = s.strip_prefix("pattern") {
            let size = size.strip_prefix(':').unwrap_or("1280x720");
            let size = if size.is_empty() { "1280x720" } else { size };
            let (w, h) = size
                .split_once('x')
                .ok_or_else(|| format!("{s:?}: the pattern's size is WIDTHxHEIGHT"))?;
            let parse = |v: &str| {
                v.parse::<u16>()
                    .ok()
                    .filter(|v| (16..=8192).contains(v) && v % 2 == 0)
                    .ok_or_else(|| format!("{s:?}: sizes are even numbers of 16 to 8192 pixels"))
            };
            return Ok(Input::Pattern {
                width: parse(w)?,
                height: parse(h)?,
            });
        }
        Ok(Input::File(PathBuf::from(s)))
    }
}

/// Frames, one at a time.
pub enum Frames {
    /// A file, looped.
    File {
        /// The file.
        file: MjpegFile,
        /// The next frame's index in it.
        next: usize,
    },
    /// Read and split on a thread of their own (stdin blocks), handed over as they come.
    Stdin {
        /// The frames read.
        frames: Receiver<Result<Vec<u8>, String>>,
    },
    /// The pattern.
    Pattern {
        /// Its canvas.
        pattern: Pattern,
        /// JPEG quality.
        quality: u8,
        /// The frame rate whose whole seconds flash, when it flashes.
        flash: Option<f64>,
    },
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Frames::File { file, next } => f
                .debug_struct("File")
                .field("path", &file.path())
                .field("next", next)
                .finish(),
            Frames::Stdin { .. } => f.write_str("Stdin"),
            Frames::Pattern { pattern, flash, .. } => f
                .debug_struct("Pattern")
                .field("size", &(pattern.width(), pattern.height()))
                .field("flash", flash)
                .finish(),
        }
    }
}

/// What [`Frames::next`] has.
#[derive(Debug)]
pub enum Next {
    /// A frame.
    Frame(Vec<u8>),
    /// Nothing yet (stdin): serve the link and ask again.
    Wait,
    /// The input has ended.
    End,
}

impl Frames {
    /// The frames of `input`; the pattern at `quality`, flashing at each second of `fps` when
    /// `flash`.
    pub fn open(input: &Input, quality: u8, fps: f64, flash: bool) -> Result<Frames> {
        if flash && !matches!(input, Input::Pattern { .. }) {
            bail!("only the test pattern flashes (for a file: encode_mjpeg --flash)");
        }
        Ok(match input {
            Input::File(path) => {
                let file = MjpegFile::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                if file.is_empty() {
                    bail!("{} holds no frames", path.display());
                }
                Frames::File { file, next: 0 }
            }
            Input::Stdin => {
                let (tx, rx) = std::sync::mpsc::sync_channel(2);
                std::thread::Builder::new()
                    .name("publish-stdin".into())
                    .spawn(move || read_stdin(&tx))?;
                Frames::Stdin { frames: rx }
            }
            Input::Pattern { width, height } => Frames::Pattern {
                pattern: Pattern::new(*width, *height),
                quality,
                flash: flash.then_some(fps),
            },
        })
    }

    /// Whether frames come when they come (stdin) rather than on a schedule.
    pub fn is_timed_by_arrival(&self) -> bool {
        matches!(self, Frames::Stdin { .. })
    }

    /// How long a looped file lasts at `fps` (its sound and captions loop with it).
    pub fn loop_period(&self, fps: f64) -> Option<Duration> {
        match self {
            Frames::File { file, .. } => Some(Duration::from_secs_f64(file.len() as f64 / fps)),
            _ => None,
        }
    }

    /// Frame `n`, captured at `clock` (the pattern draws it).
    pub fn next(&mut self, n: u64, clock: SystemTime) -> Result<Next> {
        match self {
            Frames::File { file, next } => {
                let frame = file.frame(*next).map(<[u8]>::to_vec);
                *next = (*next + 1) % file.len();
                frame
                    .map(Next::Frame)
                    .ok_or_else(|| anyhow!("frame {next} is missing"))
            }
            Frames::Pattern {
                pattern,
                quality,
                flash,
            } => {
                let since_epoch = clock.duration_since(UNIX_EPOCH).unwrap_or_default();
                let mut jpeg = Vec::new();
                let settings = hdstream_video::encoder::Settings::quality(*quality);
                flash::encode(pattern, n, Some(since_epoch), *flash, settings, &mut jpeg)?;
                Ok(Next::Frame(jpeg))
            }
            Frames::Stdin { frames } => match frames.try_recv() {
                Ok(Ok(frame)) => Ok(Next::Frame(frame)),
                Ok(Err(e)) => bail!("reading stdin: {e}"),
                Err(TryRecvError::Empty) => Ok(Next::Wait),
                Err(TryRecvError::Disconnected) => Ok(Next::End),
            },
        }
    }
}

/// Reads stdin to its end, handing over each whole JPEG (a frame that does not split is
/// logged and left out).
fn read_stdin(frames: &SyncSender<Result<Vec<u8>, String>>) {
    let mut splitter = Splitter::new(MAX_FRAME);
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0; 64 * 1024];
    let mut eof = false;
    loop {
        match splitter.next_frame() {
            Some(Ok(frame)) => {
                if frames.send(Ok(frame)).is_err() {
                    return;
                }
                continue;
            }
            Some(Err(e)) => tracing::warn!(error = %e, "stdin"),
            None if eof => return,
            None => {}
        }
        match stdin.read(&mut buf) {
            Ok(0) => eof = true,
            Ok(read) => splitter.push(&buf[..read]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = frames.send(Err(e.to_string()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_parse() {
        assert_eq!("-".parse(), Ok(Input::Stdin));
        assert_eq!(
            "pattern:1920x1080".parse(),
            Ok(Input::Pattern {
                width: 1920,
                height: 1080
            })
        );
        assert_eq!(
            "pattern".parse(),
            Ok(Input::Pattern {
                width: 1280,
                height: 720
            })
        );
        assert!("pattern:1x2".parse::<Input>().is_err());
        assert_eq!("a.mjpeg".parse(), Ok(Input::File("a.mjpeg".into())));
    }

    #[test]
    fn only_the_pattern_flashes() {
        let pattern = Input::Pattern {
            width: 64,
            height: 32,
        };
        let mut frames = Frames::open(&pattern, 80, 30.0, true).unwrap();
        assert!(matches!(
            frames.next(30, SystemTime::now()),
            Ok(Next::Frame(_))
        ));
        assert!(Frames::open(&Input::File("x.mjpeg".into()), 80, 30.0, true).is_err());
    }
}
