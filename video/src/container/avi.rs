//! AVI (RIFF AVI 1.0 and its OpenDML "AVI 2.0" extension), as ffmpeg writes it: the `MJPG`
//! video stream's frames and a 16-bit PCM (`WAVE_FORMAT_PCM`) sound stream.
//!
//! ```text
//! RIFF 'AVI '
//! ├─ LIST 'hdrl' ─ avih, LIST 'strl'* ─ strh, strf, (indx, vprp, JUNK)
//! ├─ LIST 'movi' ─ '00dc' (a JPEG), '01wb' (PCM), ix00/ix01 (OpenDML), LIST 'rec ' …
//! └─ idx1
//! RIFF 'AVIX' ─ LIST 'movi' …          each further GB of an OpenDML file (ffmpeg: past 1 GiB)
//! ```
//!
//! A chunk is a FOURCC, a 32-bit little-endian size and its data, padded to an even length.
//! The frames and the sound are found by walking every `movi` list of every RIFF in file order,
//! so the index chunks (`idx1`, OpenDML `indx`/`ix##`) are not needed and not read: this reads
//! both kinds of file the same way. A chunk of stream *NN* is `NNdc`/`NNdb` (video) or `NNwb`
//! (sound); an empty video chunk (ffmpeg writes one for a frame it drops to keep the rate)
//! repeats the frame before. The frame rate is the video stream header's `dwRate / dwScale`,
//! and a stream's `dwStart` delays it by that many of its units.

use std::ops::Range;

use super::{Codec, Demuxed, Error, Kind, Packet, Problem, Sound, le16, le32};

/// `WAVE_FORMAT_PCM` (RFC 2361 appendix A).
const WAVE_FORMAT_PCM: u16 = 0x0001;
/// `WAVE_FORMAT_EXTENSIBLE`: the real format is the first two bytes of its SubFormat GUID.
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

fn fail(offset: usize, problem: Problem) -> Error {
    Error::new(Kind::Avi, offset, problem)
}

fn malformed(offset: usize, what: impl Into<String>) -> Error {
    fail(offset, Problem::Malformed(what.into()))
}

/// One chunk: its FOURCC, where it starts, its data.
#[derive(Debug, Clone)]
struct Chunk {
    fourcc: [u8; 4],
    at: usize,
    data: Range<usize>,
    /// Where the next chunk starts (after the pad byte).
    next: usize,
}

/// The chunk at `at`, inside a list ending at `end`.
fn chunk(data: &[u8], at: usize, end: usize) -> Result<Chunk, Error> {
    let head = data
        .get(at..at + 8)
        .filter(|_| at + 8 <= end)
        .ok_or_else(|| fail(at, Problem::Truncated("a chunk header")))?;
    let fourcc = [head[0], head[1], head[2], head[3]];
    let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    let body = at + 8;
    let available = end - body;
    if size > available {
        return Err(fail(
            at,
            Problem::PastEnd {
                what: format!("chunk '{}'", show(fourcc)),
                size: size as u64,
                available: available as u64,
            },
        ));
    }
    let data_end = body + size;
    Ok(Chunk {
        fourcc,
        at,
        data: body..data_end,
        // The pad byte may be missing after the very last chunk.
        next: (data_end + (size & 1)).min(end),
    })
}

/// A FOURCC as text.
fn show(fourcc: [u8; 4]) -> String {
    show_bytes(&fourcc)
}

/// Bytes as text, others as `?`.
fn show_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                char::from(c)
            } else {
                '?'
            }
        })
        .collect()
}

/// A `RIFF` or `LIST` chunk's form type and the range of its children.
fn list(data: &[u8], c: &Chunk) -> Result<([u8; 4], Range<usize>), Error> {
    let form = data
        .get(c.data.start..c.data.start + 4)
        .filter(|_| c.data.len() >= 4)
        .ok_or_else(|| fail(c.at, Problem::Truncated("a list's type")))?;
    Ok((
        [form[0], form[1], form[2], form[3]],
        c.data.start + 4..c.data.end,
    ))
}

/// Each chunk in `range`, in order.
fn each(
    data: &[u8],
    range: Range<usize>,
    mut f: impl FnMut(&Chunk) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut pos = range.start;
    while pos < range.end {
        let c = chunk(data, pos, range.end)?;
        f(&c)?;
        pos = c.next;
    }
    Ok(())
}

/// A stream of the header list.
#[derive(Debug, Clone, Default)]
struct Stream {
    at: usize,
    kind: [u8; 4],
    handler: [u8; 4],
    scale: u32,
    rate: u32,
    start: u32,
    format: Range<usize>,
}

/// Reads the `strl` lists of `hdrl`.
fn streams(data: &[u8], hdrl: Range<usize>) -> Result<Vec<Stream>, Error> {
    let mut out = Vec::new();
    each(data, hdrl, |c| {
        if &c.fourcc != b"LIST" || list(data, c)?.0 != *b"strl" {
            return Ok(());
        }
        let mut s = Stream {
            at: c.at,
            ..Stream::default()
        };
        each(data, list(data, c)?.1, |h| {
            let d = data.get(h.data.clone()).unwrap_or_default();
            match &h.fourcc {
                // AVISTREAMHEADER: fccType, fccHandler, flags, priority, language,
                // initial frames, dwScale (20), dwRate (24), dwStart (28), …
                b"strh" => {
                    let field =
                        |at| le32(d, at).ok_or_else(|| malformed(h.at, "an 'strh' under 36 bytes"));
                    s.kind = field(0)?.to_le_bytes();
                    s.handler = field(4)?.to_le_bytes();
                    s.scale = field(20)?;
                    s.rate = field(24)?;
                    s.start = field(28)?;
                }
                b"strf" => s.format = h.data.clone(),
                _ => {}
            }
            Ok(())
        })?;
        out.push(s);
        Ok(())
    })?;
    Ok(out)
}

/// The two ASCII digits of a `movi` chunk's stream number.
fn stream_number(fourcc: [u8; 4]) -> Option<usize> {
    let (a, b) = (fourcc[0], fourcc[1]);
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| usize::from(a - b'0') * 10 + usize::from(b - b'0'))
}

/// What the walk of the `movi` lists collects.
#[derive(Default)]
struct Movi {
    /// Video frame slots; `None` for an empty chunk (the frame before, again).
    frames: Vec<Option<Range<usize>>>,
    sound: Vec<Range<usize>>,
}

/// Walks a `movi` list (and `rec ` lists in it).
fn movi(
    data: &[u8],
    range: Range<usize>,
    video: usize,
    audio: Option<usize>,
    out: &mut Movi,
) -> Result<(), Error> {
    each(data, range, |c| {
        if &c.fourcc == b"LIST" {
            let (form, children) = list(data, c)?;
            if &form == b"rec " {
                // A 'rec ' list holds chunks, never another list (a nest of them is refused,
                // not recursed into).
                return each(data, children, |r| {
                    if &r.fourcc == b"LIST" {
                        return Err(unsupported(r.at, "a list inside a 'rec ' list"));
                    }
                    take(r, video, audio, out);
                    Ok(())
                });
            }
            return Ok(());
        }
        take(c, video, audio, out);
        Ok(())
    })
}

/// Takes a `movi` chunk of the video or the sound stream.
fn take(c: &Chunk, video: usize, audio: Option<usize>, out: &mut Movi) {
    let Some(n) = stream_number(c.fourcc) else {
        return;
    };
    match &c.fourcc[2..] {
        b"dc" | b"db" if n == video => out
            .frames
            .push((!c.data.is_empty()).then(|| c.data.clone())),
        b"wb" if Some(n) == audio => out.sound.push(c.data.clone()),
        _ => {}
    }
}

fn unsupported(offset: usize, what: impl Into<String>) -> Error {
    fail(offset, Problem::Unsupported(what.into()))
}

/// Reads an AVI file's MJPEG frames and sound.
pub fn demux(data: &[u8]) -> Result<Demuxed, Error> {
    if Kind::sniff(data) != Some(Kind::Avi) {
        let found = show_bytes(data.get(..12).unwrap_or(data));
        return Err(malformed(
            0,
            format!("starts with {found:?}, not RIFF … AVI"),
        ));
    }
    let first = chunk(data, 0, data.len())?;
    let (form, children) = list(data, &first)?;
    if &first.fourcc != b"RIFF" || &form != b"AVI " {
        return Err(malformed(0, "not RIFF 'AVI '"));
    }
    let mut hdrl = None;
    let mut movis = Vec::new();
    each(data, children, |c| {
        if &c.fourcc == b"LIST" {
            let (form, range) = list(data, c)?;
            match &form {
                b"hdrl" => hdrl = Some(range),
                b"movi" => movis.push(range),
                _ => {}
            }
        }
        Ok(())
    })?;
    // OpenDML: RIFF 'AVIX' after the first, each with its own 'movi'.
    let mut pos = first.next;
    while pos < data.len() {
        let c = chunk(data, pos, data.len())?;
        if &c.fourcc == b"RIFF" {
            let (form, range) = list(data, &c)?;
            if &form != b"AVIX" {
                return Err(malformed(
                    c.at,
                    format!("a RIFF '{}' after the first", show(form)),
                ));
            }
            each(data, range, |m| {
                if &m.fourcc == b"LIST" && list(data, m)?.0 == *b"movi" {
                    movis.push(list(data, m)?.1);
                }
                Ok(())
            })?;
        }
        pos = c.next;
    }
    let hdrl = hdrl.ok_or_else(|| malformed(12, "no 'hdrl' list"))?;
    let streams = streams(data, hdrl.clone())?;
    let kinds = || {
        streams
            .iter()
            .map(|s| format!("{} {}", show(s.kind), show(s.handler)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let video = streams
        .iter()
        .position(|s| &s.kind == b"vids" && is_mjpeg(data, s))
        .ok_or_else(|| {
            fail(
                hdrl.start,
                Problem::NoVideo(format!("no MJPG video stream (streams: {})", kinds())),
            )
        })?;
    let v = &streams[video];
    if v.scale == 0 || v.rate == 0 {
        return Err(malformed(
            v.at,
            format!("a frame rate of {}/{}", v.rate, v.scale),
        ));
    }
    let fps = f64::from(v.rate) / f64::from(v.scale);
    if !(0.01..=1000.0).contains(&fps) {
        return Err(malformed(v.at, format!("a frame rate of {fps}")));
    }
    let audio = streams.iter().position(|s| &s.kind == b"auds");
    let mut found = Movi::default();
    for range in movis {
        movi(data, range, video, audio, &mut found)?;
    }
    let frames = fill(&found.frames);
    if frames.is_empty() {
        return Err(fail(
            hdrl.start,
            Problem::NoVideo("no frame in the MJPG stream".into()),
        ));
    }
    let video_start = f64::from(v.start) / fps;
    let sound = audio.map(|a| sound(data, &streams[a], found.sound, video_start));
    Ok(Demuxed::new(frames, fps, sound))
}

/// Whether a video stream is Motion JPEG: `MJPG` as its handler or its BITMAPINFOHEADER's
/// biCompression (offset 16).
fn is_mjpeg(data: &[u8], s: &Stream) -> bool {
    let compression = data.get(s.format.clone()).and_then(|f| le32(f, 16));
    s.handler.eq_ignore_ascii_case(b"MJPG")
        || compression.is_some_and(|c| c.to_le_bytes().eq_ignore_ascii_case(b"MJPG"))
}

/// Frame slots with empty chunks filled by the frame before (the first frame, at the start).
fn fill(frames: &[Option<Range<usize>>]) -> Vec<Range<usize>> {
    let Some(first) = frames.iter().flatten().next() else {
        return Vec::new();
    };
    let mut last = first.clone();
    frames
        .iter()
        .map(|f| {
            if let Some(f) = f {
                last = f.clone();
            }
            last.clone()
        })
        .collect()
}

/// The sound stream's PCM, or why it is not read.
fn sound(
    data: &[u8],
    s: &Stream,
    chunks: Vec<Range<usize>>,
    video_start: f64,
) -> Result<Sound, String> {
    let at = s.at;
    // WAVEFORMATEX: wFormatTag, nChannels, nSamplesPerSec, nAvgBytesPerSec, nBlockAlign,
    // wBitsPerSample, [cbSize, wValidBitsPerSample, dwChannelMask, SubFormat GUID].
    let f = data.get(s.format.clone()).unwrap_or_default();
    let (Some(mut tag), Some(channels), Some(rate), Some(align), Some(bits)) =
        (le16(f, 0), le16(f, 2), le32(f, 4), le16(f, 12), le16(f, 14))
    else {
        return Err(format!(
            "a sound format ('strf') of {} bytes at byte {at}",
            f.len()
        ));
    };
    if tag == WAVE_FORMAT_EXTENSIBLE {
        tag = le16(f, 24).unwrap_or(0);
    }
    if tag != WAVE_FORMAT_PCM {
        return Err(format!(
            "the sound's format tag {tag:#06X} (only PCM) at byte {at}"
        ));
    }
    if bits != 16 {
        return Err(format!("{bits}-bit PCM (only 16-bit) at byte {at}"));
    }
    if channels == 0 || rate == 0 || usize::from(align) != 2 * usize::from(channels) {
        return Err(format!(
            "PCM of {channels} channels at {rate} Hz, blocks of {align} bytes, at byte {at}"
        ));
    }
    let mut packets = Vec::with_capacity(chunks.len());
    // Sound starts dwStart units in (units of dwScale/dwRate seconds), after the video's.
    let unit = if s.rate > 0 {
        f64::from(s.scale) / f64::from(s.rate)
    } else {
        0.0
    };
    let mut time = (f64::from(s.start) * unit - video_start) * 1e9;
    let frame_bytes = usize::from(align);
    for range in chunks {
        if range.len() % frame_bytes != 0 {
            return Err(format!(
                "a PCM chunk of {} bytes, not whole {frame_bytes}-byte sample frames, at byte {}",
                range.len(),
                range.start
            ));
        }
        let frames = (range.len() / frame_bytes) as f64;
        packets.push(Packet {
            range,
            time_ns: time as i64,
        });
        time += frames * 1e9 / f64::from(rate);
    }
    Ok(Sound {
        codec: Codec::PcmS16le,
        rate,
        channels,
        packets,
    })
}

#[cfg(test)]
mod tests;
