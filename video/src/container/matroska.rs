//! Matroska (RFC 9559) on EBML (RFC 8794), as ffmpeg writes it: the MJPEG frames of a
//! `V_MJPEG` track and the packets of an `A_PCM/INT/LIT` (16-bit) or `A_OPUS` track.
//!
//! ```text
//! EBML header (DocType "matroska" | "webm")
//! Segment                                     size may be unknown (ffmpeg to a pipe)
//! ├─ SeekHead, Void, Tags, Cues …             skipped
//! ├─ Info ─ TimestampScale                    ns per timestamp tick (default 1 ms)
//! ├─ Tracks ─ TrackEntry*                     number, type, CodecID, CodecPrivate (OpusHead),
//! │                                           DefaultDuration, CodecDelay, Audio
//! └─ Cluster* ─ Timestamp                     size may be unknown: it ends at the next
//!              ├─ SimpleBlock*                 top-level element (RFC 8794 §6.2)
//!              └─ BlockGroup* ─ Block
//! ```
//!
//! A block (RFC 9559 §10.1, §10.2) is the track number (a VINT), a signed 16-bit timestamp
//! relative to its cluster's, a flags byte and the frame. ffmpeg writes one frame per block;
//! a laced block (§10.3) or a track with ContentEncodings (§5.1.4.1.31, compression or
//! encryption) is refused by name. A frame's time is `(cluster + block) × TimestampScale`
//! nanoseconds, less the track's CodecDelay for sound (§5.1.4.1.20: "MUST be subtracted").

use std::ops::Range;

use super::{Codec, Demuxed, Error, Kind, Packet, Problem, Sound, opus, slots};

/// The EBML header's ID, the first four bytes of every Matroska file (RFC 8794 §11.2.1).
pub const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// Element IDs (RFC 8794 §11.2, RFC 9559 §5.1), marker bits kept as written.
mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const DEFAULT_DURATION: u32 = 0x23_E383;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;
    pub const CONTENT_ENCODINGS: u32 = 0x6D80;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const TAGS: u32 = 0x1254_C367;
    pub const CHAPTERS: u32 = 0x1043_A770;
    pub const ATTACHMENTS: u32 = 0x1941_A469;
}

/// Track types (RFC 9559 §5.1.4.1.3).
const VIDEO: u64 = 1;
const AUDIO: u64 = 2;

/// One element's place: its ID, where its header starts, its body.
#[derive(Debug, Clone, Copy)]
struct Element {
    id: u32,
    at: usize,
    body: usize,
    end: usize,
    /// Its size is "unknown" (all ones, RFC 8794 §6.2): `end` is its parent's.
    unknown: bool,
}

/// What a TrackEntry says.
#[derive(Debug, Clone, Default)]
struct Track {
    at: usize,
    number: u64,
    kind: u64,
    codec: String,
    private: Option<Range<usize>>,
    default_duration: Option<u64>,
    codec_delay: Option<u64>,
    rate: f64,
    channels: u64,
    bit_depth: u64,
    encoded: bool,
}

/// The file's elements, read from its bytes.
struct Reader<'d> {
    data: &'d [u8],
}

fn fail(offset: usize, problem: Problem) -> Error {
    Error::new(Kind::Matroska, offset, problem)
}

fn malformed(offset: usize, what: impl Into<String>) -> Error {
    fail(offset, Problem::Malformed(what.into()))
}

impl Reader<'_> {
    /// A variable-length integer at `at` of at most `max` bytes (RFC 8794 §4): its length, its
    /// bytes as a number with the marker kept, and its value without it.
    fn vint(&self, at: usize, max: usize, end: usize) -> Result<(usize, u64, u64), Error> {
        let first = *self
            .data
            .get(at)
            .filter(|_| at < end)
            .ok_or_else(|| fail(at, Problem::Truncated("an element header")))?;
        let len = first.leading_zeros() as usize + 1;
        if len > max {
            return Err(malformed(at, format!("a VINT starting {first:#04X}")));
        }
        let bytes = self
            .data
            .get(at..at + len)
            .filter(|_| at + len <= end)
            .ok_or_else(|| fail(at, Problem::Truncated("an element header")))?;
        let raw = bytes.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
        let value = raw & (u64::MAX >> (64 - 7 * len));
        Ok((len, raw, value))
    }

    /// The element whose header starts at `at`, inside a parent ending at `end`.
    fn element(&self, at: usize, end: usize) -> Result<Element, Error> {
        let (id_len, id, _) = self.vint(at, 4, end)?;
        let (size_len, _, size) = self.vint(at + id_len, 8, end)?;
        let body = at + id_len + size_len;
        let unknown = size == u64::MAX >> (64 - 7 * size_len);
        let id = id as u32;
        if unknown {
            return Ok(Element {
                id,
                at,
                body,
                end,
                unknown,
            });
        }
        let available = (end - body) as u64;
        if size > available {
            return Err(fail(
                at,
                Problem::PastEnd {
                    what: format!("element {}", name(id)),
                    size,
                    available,
                },
            ));
        }
        Ok(Element {
            id,
            at,
            body,
            end: body + size as usize,
            unknown,
        })
    }

    /// The children of `parent`, each handled by `each`; an unknown-sized child is refused.
    fn children(
        &self,
        parent: Element,
        mut each: impl FnMut(Element) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut pos = parent.body;
        while pos < parent.end {
            let child = self.element(pos, parent.end)?;
            if child.unknown {
                return Err(unsupported(
                    child.at,
                    format!("an unknown-sized {}", name(child.id)),
                ));
            }
            each(child)?;
            pos = child.end;
        }
        Ok(())
    }

    fn bytes(&self, e: Element) -> &[u8] {
        self.data.get(e.body..e.end).unwrap_or_default()
    }

    /// An unsigned integer element (RFC 8794 §7.2: 0–8 bytes, big-endian).
    fn uint(&self, e: Element) -> Result<u64, Error> {
        let b = self.bytes(e);
        if b.len() > 8 {
            return Err(malformed(
                e.at,
                format!("{} of {} bytes", name(e.id), b.len()),
            ));
        }
        Ok(b.iter().fold(0u64, |n, &x| n << 8 | u64::from(x)))
    }

    /// A float element (RFC 8794 §7.3: 0, 4 or 8 bytes).
    fn float(&self, e: Element) -> Result<f64, Error> {
        let b = self.bytes(e);
        match b.len() {
            0 => Ok(0.0),
            4 => Ok(f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
            8 => Ok(f64::from_be_bytes([
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
            ])),
            n => Err(malformed(e.at, format!("{} of {n} bytes", name(e.id)))),
        }
    }

    /// A string element, without its NUL padding (RFC 8794 §7.4).
    fn string(&self, e: Element) -> String {
        let b = self.bytes(e);
        let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
        String::from_utf8_lossy(b).into_owned()
    }
}

fn unsupported(offset: usize, what: impl Into<String>) -> Error {
    fail(offset, Problem::Unsupported(what.into()))
}

/// An element's name in messages.
fn name(id: u32) -> String {
    let known = match id {
        id::EBML => "EBML",
        id::SEGMENT => "Segment",
        id::SEEK_HEAD => "SeekHead",
        id::INFO => "Info",
        id::TRACKS => "Tracks",
        id::TRACK_ENTRY => "TrackEntry",
        id::CODEC_PRIVATE => "CodecPrivate",
        id::CLUSTER => "Cluster",
        id::SIMPLE_BLOCK => "SimpleBlock",
        id::BLOCK_GROUP => "BlockGroup",
        id::BLOCK => "Block",
        id::CUES => "Cues",
        id::TAGS => "Tags",
        _ => return format!("{id:#X}"),
    };
    known.to_owned()
}

/// Elements that may follow a Cluster in a Segment: an unknown-sized Cluster ends where one
/// begins (RFC 8794 §6.2).
fn ends_a_cluster(id: u32) -> bool {
    matches!(
        id,
        id::CLUSTER
            | id::CUES
            | id::TAGS
            | id::INFO
            | id::TRACKS
            | id::SEEK_HEAD
            | id::CHAPTERS
            | id::ATTACHMENTS
            | id::EBML
            | id::SEGMENT
    )
}

/// What the walk of the clusters collects.
#[derive(Default)]
struct Blocks {
    /// (time in ns, track number, frame) of every block, in file order.
    all: Vec<(i64, u64, Range<usize>)>,
}

/// Reads a Matroska file's MJPEG frames and sound.
pub fn demux(data: &[u8]) -> Result<Demuxed, Error> {
    if !data.starts_with(&EBML_MAGIC) {
        let found: Vec<u8> = data.iter().take(4).copied().collect();
        return Err(malformed(
            0,
            format!("no EBML header: starts with {found:02X?}, not 1A 45 DF A3"),
        ));
    }
    let r = Reader { data };
    let end = data.len();
    let header = r.element(0, end)?;
    if header.id != id::EBML {
        return Err(malformed(0, "no EBML header"));
    }
    let mut doc_type = String::from("matroska");
    r.children(header, |e| {
        if e.id == id::DOC_TYPE {
            doc_type = r.string(e);
        }
        Ok(())
    })?;
    if doc_type != "matroska" && doc_type != "webm" {
        return Err(unsupported(header.at, format!("DocType {doc_type:?}")));
    }
    // The first Segment (Void or CRC elements may come before it).
    let mut pos = header.end;
    let segment = loop {
        let e = r.element(pos, end)?;
        if e.id == id::SEGMENT {
            break e;
        }
        if e.unknown {
            return Err(unsupported(
                e.at,
                format!("an unknown-sized {}", name(e.id)),
            ));
        }
        pos = e.end;
    };
    let mut scale: u64 = 1_000_000;
    let mut tracks: Vec<Track> = Vec::new();
    let mut blocks = Blocks::default();
    let mut pos = segment.body;
    while pos < segment.end {
        let e = r.element(pos, segment.end)?;
        match e.id {
            id::CLUSTER => {
                pos = cluster(&r, e, scale, &mut blocks)?;
                continue;
            }
            _ if e.unknown => {
                return Err(unsupported(
                    e.at,
                    format!("an unknown-sized {}", name(e.id)),
                ));
            }
            id::INFO => r.children(e, |c| {
                if c.id == id::TIMESTAMP_SCALE {
                    scale = r.uint(c)?;
                    if scale == 0 {
                        return Err(malformed(c.at, "TimestampScale 0"));
                    }
                }
                Ok(())
            })?,
            id::TRACKS => r.children(e, |c| {
                if c.id == id::TRACK_ENTRY {
                    tracks.push(track(&r, c)?);
                }
                Ok(())
            })?,
            _ => {}
        }
        pos = e.end;
    }
    assemble(&r, segment, &tracks, &blocks)
}

/// Reads a TrackEntry.
fn track(r: &Reader<'_>, entry: Element) -> Result<Track, Error> {
    let mut t = Track {
        at: entry.at,
        rate: 8000.0,
        channels: 1,
        ..Track::default()
    };
    r.children(entry, |c| {
        match c.id {
            id::TRACK_NUMBER => t.number = r.uint(c)?,
            id::TRACK_TYPE => t.kind = r.uint(c)?,
            id::CODEC_ID => t.codec = r.string(c),
            id::CODEC_PRIVATE => t.private = Some(c.body..c.end),
            id::DEFAULT_DURATION => t.default_duration = Some(r.uint(c)?),
            id::CODEC_DELAY => t.codec_delay = Some(r.uint(c)?),
            id::CONTENT_ENCODINGS => t.encoded = true,
            id::AUDIO => r.children(c, |a| {
                match a.id {
                    id::SAMPLING_FREQUENCY => t.rate = r.float(a)?,
                    id::CHANNELS => t.channels = r.uint(a)?,
                    id::BIT_DEPTH => t.bit_depth = r.uint(a)?,
                    _ => {}
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(t)
}

/// Reads a Cluster's blocks; answers where the Segment goes on (an unknown-sized cluster ends
/// at the next top-level element).
fn cluster(
    r: &Reader<'_>,
    cluster: Element,
    scale: u64,
    blocks: &mut Blocks,
) -> Result<usize, Error> {
    let mut timestamp: u64 = 0;
    let mut pos = cluster.body;
    while pos < cluster.end {
        let e = r.element(pos, cluster.end)?;
        if cluster.unknown && ends_a_cluster(e.id) {
            return Ok(pos);
        }
        if e.unknown {
            return Err(unsupported(
                e.at,
                format!("an unknown-sized {}", name(e.id)),
            ));
        }
        match e.id {
            id::TIMESTAMP => timestamp = r.uint(e)?,
            id::SIMPLE_BLOCK => blocks.all.push(block(r, e, timestamp, scale)?),
            id::BLOCK_GROUP => r.children(e, |c| {
                if c.id == id::BLOCK {
                    blocks.all.push(block(r, c, timestamp, scale)?);
                }
                Ok(())
            })?,
            _ => {}
        }
        pos = e.end;
    }
    Ok(cluster.end)
}

/// A SimpleBlock or Block (RFC 9559 §10.1): (time in ns, track number, frame).
fn block(
    r: &Reader<'_>,
    e: Element,
    cluster: u64,
    scale: u64,
) -> Result<(i64, u64, Range<usize>), Error> {
    let (len, _, track) = r.vint(e.body, 8, e.end)?;
    let at = e.body + len;
    let head = r
        .data
        .get(at..at + 3)
        .filter(|_| at + 3 <= e.end)
        .ok_or_else(|| fail(e.body, Problem::Truncated("a block header")))?;
    let relative = i16::from_be_bytes([head[0], head[1]]);
    let flags = head[2];
    if flags & 0b0110 != 0 {
        return Err(unsupported(
            e.at,
            "a laced block (ffmpeg writes one frame per block)",
        ));
    }
    let ticks = i128::from(cluster) + i128::from(relative);
    let time = i64::try_from(ticks * i128::from(scale))
        .map_err(|_| malformed(e.at, format!("block time {ticks} × {scale} ns")))?;
    Ok((time, track, at + 3..e.end))
}

/// The frames and the sound from the tracks and blocks read.
fn assemble(
    r: &Reader<'_>,
    segment: Element,
    tracks: &[Track],
    blocks: &Blocks,
) -> Result<Demuxed, Error> {
    let codecs = || {
        tracks
            .iter()
            .map(|t| t.codec.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let video = tracks
        .iter()
        .find(|t| t.kind == VIDEO && t.codec == "V_MJPEG")
        .ok_or_else(|| {
            fail(
                segment.at,
                Problem::NoVideo(format!("no V_MJPEG track (tracks: {})", codecs())),
            )
        })?;
    if video.encoded {
        return Err(unsupported(
            video.at,
            "ContentEncodings (compression) on the V_MJPEG track",
        ));
    }
    let timed: Vec<(i64, Range<usize>)> = blocks
        .all
        .iter()
        .filter(|b| b.1 == video.number)
        .map(|b| (b.0, b.2.clone()))
        .collect();
    let (Some(first), Some(last)) = (timed.first(), timed.last()) else {
        return Err(fail(
            video.at,
            Problem::NoVideo("no frame in the V_MJPEG track".into()),
        ));
    };
    let t0 = first.0;
    let frame_ns = match video.default_duration {
        Some(d) if d > 0 => d as f64,
        _ if timed.len() > 1 && last.0 > t0 => (last.0 - t0) as f64 / (timed.len() - 1) as f64,
        _ => 1e9 / 30.0,
    };
    let fps = super::nominal_fps(1e9 / frame_ns);
    if !(0.01..=1000.0).contains(&fps) {
        return Err(malformed(
            video.at,
            format!("a frame duration of {frame_ns} ns"),
        ));
    }
    let frames = slots(&timed, frame_ns).map_err(|i| {
        malformed(
            timed[i].1.start,
            format!("a jump in the video's timestamps to {} ns", timed[i].0),
        )
    })?;
    let sound = tracks
        .iter()
        .find(|t| t.kind == AUDIO)
        .map(|audio| sound(r, audio, blocks, t0));
    Ok(Demuxed::new(frames, fps, sound))
}

/// The sound of an audio track, or why it is not read.
fn sound(r: &Reader<'_>, track: &Track, blocks: &Blocks, t0: i64) -> Result<Sound, String> {
    let at = track.at;
    if track.encoded {
        return Err(format!(
            "ContentEncodings on the {} track at byte {at}",
            track.codec
        ));
    }
    let channels = u16::try_from(track.channels)
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| format!("{} channels at byte {at}", track.channels))?;
    let (codec, rate, frame_bytes) = match track.codec.as_str() {
        "A_PCM/INT/LIT" if track.bit_depth == 16 => {
            let rate = track.rate;
            if !(1.0..=384_000.0).contains(&rate) || rate.fract() != 0.0 {
                return Err(format!("a sampling frequency of {rate} Hz at byte {at}"));
            }
            (Codec::PcmS16le, rate as u32, 2 * usize::from(channels))
        }
        "A_PCM/INT/LIT" => {
            return Err(format!(
                "{}-bit PCM (only 16-bit) at byte {at}",
                track.bit_depth
            ));
        }
        "A_OPUS" => {
            let private = track.private.clone().unwrap_or(0..0);
            let head = opus::head(r.data.get(private).unwrap_or_default())
                .map_err(|e| format!("A_OPUS CodecPrivate at byte {at}: {e}"))?;
            let codec = Codec::Opus {
                pre_skip: head.pre_skip,
            };
            (codec, head.input_rate.max(1), 0)
        }
        other => {
            return Err(format!(
                "the sound's codec {other} (only 16-bit PCM and Opus)"
            ));
        }
    };
    // CodecDelay; for Opus without one, its pre-skip (which CodecDelay should equal, as the
    // Matroska codec mapping of Opus asks).
    let delay = match (track.codec_delay, codec) {
        (Some(ns), _) => ns,
        (None, Codec::Opus { pre_skip }) => u64::from(pre_skip) * 1_000_000_000 / 48_000,
        (None, Codec::PcmS16le) => 0,
    };
    let delay = i64::try_from(delay).unwrap_or(i64::MAX);
    let mut packets = Vec::new();
    for (time, _, range) in blocks.all.iter().filter(|b| b.1 == track.number) {
        if frame_bytes > 0 && range.len() % frame_bytes != 0 {
            return Err(format!(
                "a PCM block of {} bytes, not whole {frame_bytes}-byte sample frames, at byte {}",
                range.len(),
                range.start
            ));
        }
        let bytes = r.data.get(range.clone()).unwrap_or_default();
        if matches!(codec, Codec::Opus { .. }) && opus::samples(bytes).is_none() {
            return Err(format!(
                "an Opus packet with a bad TOC at byte {}",
                range.start
            ));
        }
        packets.push(Packet {
            range: range.clone(),
            time_ns: time.saturating_sub(delay).saturating_sub(t0),
        });
    }
    Ok(Sound {
        codec,
        rate,
        channels,
        packets,
    })
}

#[cfg(test)]
mod tests;
