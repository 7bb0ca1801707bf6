//! MJPEG video with sound in a container, as ffmpeg writes it: Matroska ([`matroska`], RFC 9559
//! on EBML, RFC 8794) and AVI ([`avi`], RIFF AVI 1.0 and its OpenDML 2.0 extension).
//!
//! Each parser reads the whole file's bytes (a mapping) and answers a [`Demuxed`]: where each
//! JPEG lies (a byte range of those bytes, never a copy), one per frame slot at the container's
//! frame rate, and where the sound lies with its format and times. Nothing is decoded. What
//! ffmpeg does not write (Matroska lacing or content compression, AVI sound other than 16-bit
//! PCM …) is refused by name, and damage is an [`Error`] with the byte offset it was found at.

pub mod avi;
pub mod matroska;
pub mod opus;

use std::fmt;
use std::ops::Range;

/// Which container a file is, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Matroska or WebM: an EBML header (`1A 45 DF A3`, RFC 8794 §8).
    Matroska,
    /// AVI: `RIFF` … `AVI ` (RIFF AVI 1.0).
    Avi,
}

impl Kind {
    /// The container `data` starts with, if it is one of these.
    pub fn sniff(data: &[u8]) -> Option<Kind> {
        if data.starts_with(&matroska::EBML_MAGIC) {
            Some(Kind::Matroska)
        } else if data.len() >= 12 && data.starts_with(b"RIFF") && data.get(8..12) == Some(b"AVI ")
        {
            Some(Kind::Avi)
        } else {
            None
        }
    }

    /// The container a file's name says it is (`.mkv`, `.mka`, `.webm`; `.avi`), any case: its
    /// parser then says what is wrong with bytes that do not start as it should.
    pub fn by_extension(path: &std::path::Path) -> Option<Kind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "mkv" | "mka" | "webm" => Some(Kind::Matroska),
            "avi" => Some(Kind::Avi),
            _ => None,
        }
    }

    /// "Matroska" or "AVI".
    pub fn name(self) -> &'static str {
        match self {
            Kind::Matroska => "Matroska",
            Kind::Avi => "AVI",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a container holds, by byte range of the file's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Demuxed {
    /// Each frame slot's JPEG, in presentation order at [`Demuxed::fps`]: a frame the
    /// container repeats (an empty AVI chunk, a gap in Matroska timestamps) appears again.
    pub frames: Vec<Range<usize>>,
    /// Frames per second, from the container's timing.
    pub fps: f64,
    /// The sound, when there is a track this crate can read.
    pub sound: Option<Sound>,
    /// Why a sound track that is there is not read (its codec, its sample size), if so.
    pub sound_refused: Option<String>,
}

impl Demuxed {
    /// The frames at `fps`, and the sound track's reading: read, refused (why), or none.
    pub(crate) fn new(
        frames: Vec<Range<usize>>,
        fps: f64,
        sound: Option<Result<Sound, String>>,
    ) -> Demuxed {
        let (sound, sound_refused) = match sound {
            None => (None, None),
            Some(Ok(sound)) => (Some(sound), None),
            Some(Err(why)) => (None, Some(why)),
        };
        Demuxed {
            frames,
            fps,
            sound,
            sound_refused,
        }
    }
}

/// The sound of a container: its format and where its packets lie.
#[derive(Debug, Clone, PartialEq)]
pub struct Sound {
    /// How it is coded.
    pub codec: Codec,
    /// Sample frames per second (Opus: the input rate the header records; it decodes at 48 kHz).
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Its packets in file order: PCM blocks (whole sample frames, concatenated they are the
    /// sound) or Opus packets (one each, RFC 7587 §4.2).
    pub packets: Vec<Packet>,
}

/// How a container's sound is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Signed 16-bit little-endian PCM, channels interleaved (Matroska `A_PCM/INT/LIT` with
    /// BitDepth 16, AVI `WAVE_FORMAT_PCM` with 16 bits per sample).
    PcmS16le,
    /// Opus (Matroska `A_OPUS`): `pre_skip` samples at 48 kHz from its `OpusHead` (RFC 7845 §5.1)
    /// are the decoder's warm-up.
    Opus {
        /// Samples at 48 kHz to drop from the start of the decoded sound.
        pre_skip: u16,
    },
}

/// One packet of sound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Its bytes in the file.
    pub range: Range<usize>,
    /// When its first decoded sample plays, in nanoseconds from the first video frame (for
    /// Opus, before the pre-skip is dropped: Matroska's CodecDelay is already subtracted).
    pub time_ns: i64,
}

/// Why a container cannot be served; displays as `Matroska: … at byte 1234`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {problem} at byte {offset}")]
pub struct Error {
    /// The container.
    pub kind: Kind,
    /// Where in the file the problem is.
    pub offset: u64,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file ends inside a header or a field.
    #[error("the file ends inside {0}")]
    Truncated(&'static str),
    /// An element or chunk says it is longer than what holds it.
    #[error("{what} of {size} bytes runs past the end ({available} bytes remain)")]
    PastEnd {
        /// The element or chunk.
        what: String,
        /// Its declared size.
        size: u64,
        /// Bytes left in what holds it.
        available: u64,
    },
    /// The bytes are not what the format says must be there.
    #[error("{0}")]
    Malformed(String),
    /// Valid, but not what ffmpeg writes and not read here.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// No MJPEG video track, or no frame in it.
    #[error("{0}")]
    NoVideo(String),
}

impl Error {
    pub(crate) fn new(kind: Kind, offset: usize, problem: Problem) -> Error {
        Error {
            kind,
            offset: offset as u64,
            problem,
        }
    }
}

/// The largest gap between two frames filled by repeating the earlier one (a larger jump in
/// timestamps is damage, not a pause in the picture).
pub const MAX_GAP_FRAMES: usize = 60 * 60;

/// Frame slots from frames timed in nanoseconds (first frame at 0), `frame_ns` apart: a frame
/// lands in slot `round(t / frame_ns)`; a skipped slot repeats the frame before, a frame on a
/// taken slot is dropped. `Err(i)` names frame `i` whose gap is over [`MAX_GAP_FRAMES`].
pub(crate) fn slots(
    timed: &[(i64, Range<usize>)],
    frame_ns: f64,
) -> Result<Vec<Range<usize>>, usize> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(timed.len());
    let first = timed.first().map_or(0, |f| f.0);
    for (i, (t, range)) in timed.iter().enumerate() {
        let slot = ((t - first) as f64 / frame_ns).round();
        if !slot.is_finite() || slot < out.len() as f64 {
            continue;
        }
        let slot = slot as usize;
        if slot - out.len() > MAX_GAP_FRAMES {
            return Err(i);
        }
        while out.len() < slot {
            let last = out.last().cloned().unwrap_or_else(|| range.clone());
            out.push(last);
        }
        out.push(range.clone());
    }
    Ok(out)
}

/// `fps` snapped to the rate it stands for when nanosecond frame durations cannot say it
/// exactly: an integer (33333333 ns → 30) or NTSC's n × 1000/1001 (33366667 ns → 29.97…).
pub(crate) fn nominal_fps(fps: f64) -> f64 {
    let whole = fps.round();
    let ntsc = (fps * 1001.0 / 1000.0).round() * 1000.0 / 1001.0;
    if (fps - whole).abs() < 1e-5 * fps {
        whole
    } else if (fps - ntsc).abs() < 1e-5 * fps {
        ntsc
    } else {
        fps
    }
}

/// A little-endian `u16` at `at`.
pub(crate) fn le16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// A little-endian `u32` at `at`.
pub(crate) fn le32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// What the demuxers' robustness tests share: damaged and noisy files fed to a `demux`.
#[cfg(test)]
pub(crate) mod damage {
    /// Feeds `demux` the file `data` with `flips` (offset, byte; offsets wrap around the file)
    /// written into it, cut at `cut` and whole: it must not panic.
    pub(crate) fn cut_and_flipped<T, E>(
        mut data: Vec<u8>,
        cut: usize,
        flips: Vec<(usize, u8)>,
        demux: impl Fn(&[u8]) -> Result<T, E>,
    ) {
        for (at, b) in flips {
            let n = data.len();
            data[at % n] = b;
        }
        let cut = cut.min(data.len());
        let _ = demux(&data[..cut]);
        let _ = demux(&data);
    }

    /// Feeds `demux` the file `magic` followed by `noise`: it must not panic.
    pub(crate) fn noise_after<T, E>(
        magic: &[u8],
        noise: Vec<u8>,
        demux: impl Fn(&[u8]) -> Result<T, E>,
    ) {
        let mut data = magic.to_vec();
        data.extend(noise);
        let _ = demux(&data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_repeat_across_gaps_and_drop_doubles() {
        let t = |ms: i64, n: usize| (ms * 1_000_000, n..n + 1);
        let timed = [t(0, 0), t(33, 1), t(100, 2), t(110, 3), t(133, 4)];
        let s = slots(&timed, 1e9 / 30.0).unwrap();
        let starts: Vec<usize> = s.iter().map(|r| r.start).collect();
        assert_eq!(starts, [0, 1, 1, 2, 4]);
        assert_eq!(slots(&[t(0, 0), t(1 << 40, 1)], 1e9 / 30.0), Err(1));
    }

    #[test]
    fn nanosecond_durations_give_nominal_rates() {
        assert_eq!(nominal_fps(1e9 / 33_333_333.0), 30.0);
        assert_eq!(nominal_fps(1e9 / 33_366_667.0), 30_000.0 / 1001.0);
        assert_eq!(nominal_fps(1e9 / 41_708_333.0), 24_000.0 / 1001.0);
        assert_eq!(nominal_fps(12.5), 12.5);
    }

    #[test]
    fn sniffs_by_magic() {
        assert_eq!(
            Kind::sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0]),
            Some(Kind::Matroska)
        );
        assert_eq!(Kind::sniff(b"RIFF\0\0\0\0AVI LIST"), Some(Kind::Avi));
        assert_eq!(Kind::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(Kind::sniff(&[0xFF, 0xD8]), None);
    }
}
