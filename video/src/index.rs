//! The frame index of an MJPEG byte stream, built once by walking JPEG markers.
//!
//! Two containers, told apart by the first bytes:
//!
//! ```text
//! plain:  FF D8 … FF D9 FF D8 … FF D9 …            concatenated JPEGs (ffmpeg -f mjpeg)
//! course: "04523" FF D8 … FF D9 "04611" FF D8 …    each frame after its length, 5 ASCII digits
//! ```
//!
//! A frame is found by walking its markers ([`Header::parse`]), never by searching for `FF D9`
//! (which may sit inside an APPn thumbnail). A damaged frame in the middle is recorded as a
//! [`Damage`] and skipped; indexing resumes at the next SOI (or the next length header). A file
//! that ends inside a frame is [`IndexError::Truncated`].

use std::fmt;
use std::ops::Range;

use crate::jpeg::{self, Header, Sampling};
use crate::rfc2435::{self, Layout, NotReady};

/// Digits in a course-container length header; the largest frame it can describe is 99999.
pub const COURSE_DIGITS: usize = 5;
/// The largest frame the course container can hold.
pub const COURSE_MAX_FRAME: usize = 99_999;

/// How frames are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// Concatenated JPEGs, SOI…EOI (what `ffmpeg -f mjpeg` writes).
    Plain,
    /// The course's `movie.Mjpeg`: each JPEG preceded by its length as 5 ASCII digits.
    Course,
    /// Matroska (RFC 9559) with a `V_MJPEG` track: see [`crate::container::matroska`].
    Matroska,
    /// AVI with an `MJPG` stream: see [`crate::container::avi`].
    Avi,
}

impl Container {
    /// "plain", "course", "matroska" or "avi".
    pub fn name(self) -> &'static str {
        match self {
            Container::Plain => "plain",
            Container::Course => "course",
            Container::Matroska => "matroska",
            Container::Avi => "avi",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One indexed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Offset of its SOI in the data.
    pub offset: usize,
    /// Length in bytes, SOI through EOI.
    pub len: usize,
    /// Width from SOF.
    pub width: u16,
    /// Height from SOF.
    pub height: u16,
    /// Chroma sampling.
    pub sampling: Sampling,
    /// Where its RFC 2435 pieces lie, when it can travel as RFC 2435 payload; else the first
    /// reason it cannot.
    pub ready: Result<Layout, NotReady>,
}

impl FrameInfo {
    /// Its byte range in the data.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// Why bytes were skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Cause {
    /// A frame whose markers cannot be walked (offsets in the error are file offsets).
    #[error("{0}")]
    Frame(jpeg::Error),
    /// A course-container length header that is not 5 ASCII digits.
    #[error("bad length header {0:?}")]
    LengthHeader(String),
    /// A course-container length header that promises more bytes than remain.
    #[error("length header says {declared} bytes, only {available} remain")]
    Record {
        /// What the header says.
        declared: usize,
        /// What is left in the file.
        available: usize,
    },
    /// Bytes between frames that do not start a frame.
    #[error("bytes that do not start a frame")]
    Junk,
}

/// Bytes skipped while indexing, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("damaged frame at byte {offset} ({skipped} bytes skipped): {cause}")]
pub struct Damage {
    /// Where the damaged frame (or junk) starts.
    pub offset: usize,
    /// How many bytes were skipped to the next frame.
    pub skipped: usize,
    /// What is wrong.
    pub cause: Cause,
}

/// Why data cannot be indexed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// No bytes.
    #[error("empty file")]
    Empty,
    /// The first bytes are neither SOI nor a 5-digit length header.
    #[error(
        "not an MJPEG file: starts with {found:02X?} at byte 0 (expected a JPEG SOI FF D8, or \
         5 ASCII digits and FF D8)"
    )]
    Container {
        /// Up to the first 8 bytes.
        found: Vec<u8>,
    },
    /// The data ends inside a frame.
    #[error("truncated frame at byte {offset}: {cause}")]
    Truncated {
        /// Where the cut-off frame (or its length header) starts.
        offset: usize,
        /// What runs past the end.
        cause: Cause,
    },
    /// Not one frame could be indexed.
    #[error("no frame could be indexed: {first}")]
    NoFrames {
        /// The first damage found.
        first: Damage,
    },
}

/// Sizes across the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Size of the data (the whole file).
    pub bytes: usize,
    /// Sum of the indexed frames' sizes.
    pub frame_bytes: usize,
    /// Mean indexed frame size.
    pub mean_frame_bytes: f64,
    /// Width of the first frame.
    pub width: u16,
    /// Height of the first frame.
    pub height: u16,
}

/// Where every frame of an MJPEG byte stream is, and what it is.
#[derive(Debug, Clone)]
pub struct Index {
    container: Container,
    bytes: usize,
    frames: Vec<FrameInfo>,
    damages: Vec<Damage>,
}

impl Index {
    /// Indexes `data` (a whole file): detects the container, walks every frame.
    pub fn build(data: &[u8]) -> Result<Index, IndexError> {
        let container = match data {
            [] => return Err(IndexError::Empty),
            // A lone 0xFF is a cut-off SOI: walking it reports the truncation.
            [0xFF, jpeg::marker::SOI, ..] | [0xFF] => Container::Plain,
            [a, b, c, d, e, ..] if [a, b, c, d, e].iter().all(|x| x.is_ascii_digit()) => {
                Container::Course
            }
            // Fewer than 5 bytes, all digits: a cut-off length header.
            short if short.len() < COURSE_DIGITS && short.iter().all(u8::is_ascii_digit) => {
                Container::Course
            }
            _ => {
                return Err(IndexError::Container {
                    found: data.iter().take(8).copied().collect(),
                });
            }
        };
        let mut index = Index::empty(container, data.len(), 0);
        match container {
            Container::Plain => index.walk_plain(data)?,
            Container::Course => index.walk_course(data)?,
            // Not detected here: see `Index::from_frames`.
            Container::Matroska | Container::Avi => {}
        }
        index.found_frames()
    }

    /// Indexes the JPEGs a container parser found in `data` ([`crate::container`]), one per
    /// frame slot. A frame whose markers cannot be walked is recorded as a [`Damage`] and its
    /// slot shows the frame before (the sound's timing depends on the slot count).
    pub fn from_frames(
        data: &[u8],
        container: Container,
        frames: &[Range<usize>],
    ) -> Result<Index, IndexError> {
        let mut index = Index::empty(container, data.len(), frames.len());
        let mut missing = 0;
        for range in frames {
            let parsed = data
                .get(range.clone())
                .ok_or(jpeg::Error::Truncated {
                    offset: 0,
                    what: "frame",
                })
                .and_then(Header::parse);
            match parsed {
                Ok(header) => {
                    for _ in 0..=missing {
                        index.push(range.start, &header);
                    }
                    missing = 0;
                }
                Err(e) => {
                    if index.damages.last().map(|d| d.offset) != Some(range.start) {
                        index.damage(range.start, range.end, Cause::Frame(e.shifted(range.start)));
                    }
                    match index.frames.last() {
                        Some(last) => index.frames.push(last.clone()),
                        None => missing += 1,
                    }
                }
            }
        }
        index.found_frames()
    }

    /// An index of a file of `bytes` bytes with no frames yet, room for `capacity`.
    fn empty(container: Container, bytes: usize, capacity: usize) -> Index {
        Index {
            container,
            bytes,
            frames: Vec::with_capacity(capacity),
            damages: Vec::new(),
        }
    }

    /// The index, once walked: refused as [`IndexError::NoFrames`] (naming its first damage,
    /// or the whole file as junk) when it found no frame.
    fn found_frames(self) -> Result<Index, IndexError> {
        if self.frames.is_empty() {
            let first = self.damages.first().cloned().unwrap_or(Damage {
                offset: 0,
                skipped: self.bytes,
                cause: Cause::Junk,
            });
            return Err(IndexError::NoFrames { first });
        }
        Ok(self)
    }

    fn walk_plain(&mut self, data: &[u8]) -> Result<(), IndexError> {
        let mut pos = 0;
        while pos < data.len() {
            let rest = data.get(pos..).unwrap_or_default();
            if !rest.starts_with(&[0xFF, jpeg::marker::SOI]) && rest != [0xFF] {
                let next = next_soi(data, pos + 1).unwrap_or(data.len());
                self.damage(pos, next, Cause::Junk);
                pos = next;
                continue;
            }
            match Header::parse(rest) {
                Ok(header) => {
                    self.push(pos, &header);
                    pos += header.len();
                }
                Err(e) => {
                    let next = next_soi(data, pos + 2);
                    let cause = Cause::Frame(e.shifted(pos));
                    match next {
                        None if e.is_truncation() => {
                            return Err(IndexError::Truncated { offset: pos, cause });
                        }
                        _ => {
                            let next = next.unwrap_or(data.len());
                            self.damage(pos, next, cause);
                            pos = next;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn walk_course(&mut self, data: &[u8]) -> Result<(), IndexError> {
        let mut pos = 0;
        while pos < data.len() {
            let Some(declared) = data.get(pos..).and_then(course_length) else {
                let head = data.get(pos..).unwrap_or_default();
                if head.len() < COURSE_DIGITS && head.iter().all(u8::is_ascii_digit) {
                    let cause = Cause::LengthHeader(String::from_utf8_lossy(head).into_owned());
                    return Err(IndexError::Truncated { offset: pos, cause });
                }
                let next = next_course_record(data, pos + 1).unwrap_or(data.len());
                let shown = head
                    .iter()
                    .take(COURSE_DIGITS)
                    .copied()
                    .collect::<Vec<u8>>();
                let cause = Cause::LengthHeader(String::from_utf8_lossy(&shown).into_owned());
                self.damage(pos, next, cause);
                pos = next;
                continue;
            };
            let start = pos + COURSE_DIGITS;
            let available = data.len() - start;
            let Some(record) = data.get(start..start + declared) else {
                return Err(IndexError::Truncated {
                    offset: pos,
                    cause: Cause::Record {
                        declared,
                        available,
                    },
                });
            };
            match Header::parse_record(record) {
                Ok(header) => self.push(start, &header),
                Err(e) => self.damage(pos, start + declared, Cause::Frame(e.shifted(start))),
            }
            pos = start + declared;
        }
        Ok(())
    }

    fn push(&mut self, offset: usize, header: &Header<'_>) {
        self.frames.push(FrameInfo {
            offset,
            len: header.len(),
            width: header.width,
            height: header.height,
            sampling: header.sampling(),
            ready: rfc2435::layout(header),
        });
    }

    fn damage(&mut self, offset: usize, next: usize, cause: Cause) {
        self.damages.push(Damage {
            offset,
            skipped: next.saturating_sub(offset),
            cause,
        });
    }

    /// How frames are laid out.
    pub fn container(&self) -> Container {
        self.container
    }

    /// Number of indexed frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Never true for a built index (building fails without frames).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Every indexed frame, in file order.
    pub fn frames(&self) -> &[FrameInfo] {
        &self.frames
    }

    /// Frame `i`'s entry.
    pub fn get(&self, i: usize) -> Option<&FrameInfo> {
        self.frames.get(i)
    }

    /// Frame `i`'s bytes, SOI through EOI, out of the data the index was built from.
    pub fn frame<'d>(&self, data: &'d [u8], i: usize) -> Option<&'d [u8]> {
        data.get(self.frames.get(i)?.range())
    }

    /// What was skipped, in file order.
    pub fn damages(&self) -> &[Damage] {
        &self.damages
    }

    /// The first frame that cannot travel as RFC 2435 payload, and why.
    pub fn first_not_ready(&self) -> Option<(usize, NotReady)> {
        self.frames
            .iter()
            .enumerate()
            .find_map(|(i, f)| f.ready.as_ref().err().map(|r| (i, *r)))
    }

    /// Sizes across the file.
    pub fn stats(&self) -> Stats {
        let frame_bytes: usize = self.frames.iter().map(|f| f.len).sum();
        let first = self.frames.first();
        Stats {
            bytes: self.bytes,
            frame_bytes,
            mean_frame_bytes: if self.frames.is_empty() {
                0.0
            } else {
                frame_bytes as f64 / self.frames.len() as f64
            },
            width: first.map_or(0, |f| f.width),
            height: first.map_or(0, |f| f.height),
        }
    }
}

/// The length a 5-digit course header at the start of `data` declares.
fn course_length(data: &[u8]) -> Option<usize> {
    let digits = data.get(..COURSE_DIGITS)?;
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// Offset of the next `FF D8 FF` (SOI followed by a marker) at or after `from`.
fn next_soi(data: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    loop {
        let at = pos + memchr::memchr(0xFF, data.get(pos..)?)?;
        if data.get(at + 1..at + 3) == Some(&[jpeg::marker::SOI, 0xFF]) {
            return Some(at);
        }
        pos = at + 1;
    }
}

/// Offset of the next course record (5 digits then `FF D8 FF`) starting at or after `from`.
fn next_course_record(data: &[u8], from: usize) -> Option<usize> {
    let mut pos = from + COURSE_DIGITS;
    loop {
        let soi = next_soi(data, pos)?;
        if let Some(start) = soi.checked_sub(COURSE_DIGITS).filter(|&s| s >= from)
            && course_length(data.get(start..).unwrap_or_default()).is_some()
        {
            return Some(start);
        }
        pos = soi + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jpeg::tests::{parts, segment, small_jpeg};

    fn course(frames: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            out.extend_from_slice(format!("{:05}", f.len()).as_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn indexes_concatenated_frames() {
        let f = small_jpeg();
        let data = [f.clone(), f.clone(), f.clone()].concat();
        let index = Index::build(&data).unwrap();
        assert_eq!(index.container(), Container::Plain);
        assert_eq!(index.len(), 3);
        for (i, info) in index.frames().iter().enumerate() {
            assert_eq!(info.range(), i * f.len()..(i + 1) * f.len());
            assert_eq!(
                (info.width, info.height, info.sampling),
                (64, 48, Sampling::Yuv420)
            );
            assert!(info.ready.is_ok(), "{:?}", info.ready);
            assert_eq!(index.frame(&data, i), Some(&f[..]));
        }
        assert!(index.damages().is_empty());
        assert_eq!(index.frame(&data, 3), None);
        let stats = index.stats();
        assert_eq!(
            (stats.bytes, stats.frame_bytes, stats.width, stats.height),
            (data.len(), data.len(), 64, 48)
        );
        assert_eq!(stats.mean_frame_bytes, f.len() as f64);
    }

    #[test]
    fn a_thumbnail_inside_app1_does_not_end_the_frame() {
        let thumb = small_jpeg();
        let mut p = parts();
        p.insert(1, segment(0xE1, &[b"Exif\0\0".as_slice(), &thumb].concat()));
        let f = p.concat();
        let data = [f.clone(), f.clone()].concat();
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.frames()[1].offset, f.len());
    }

    #[test]
    fn a_damaged_frame_in_the_middle_is_reported_and_skipped() {
        let f = small_jpeg();
        let sof_at = parts()[..3].concat().len();
        let mut bad = f.clone();
        bad[sof_at + 3] = 0x01; // SOF length 1
        let data = [f.clone(), bad, f.clone()].concat();
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.frames()[1].offset, 2 * f.len());
        let damage = &index.damages()[0];
        assert_eq!(index.damages().len(), 1);
        assert_eq!((damage.offset, damage.skipped), (f.len(), f.len()));
        assert_eq!(
            damage.cause,
            Cause::Frame(jpeg::Error::Length {
                offset: f.len() + sof_at,
                marker: jpeg::marker::Marker(0xC0),
                length: 1
            })
        );
        assert!(damage.to_string().contains(&format!("byte {}", f.len())));
    }

    #[test]
    fn a_frame_cut_short_in_the_middle_is_skipped_at_the_next_soi() {
        let f = small_jpeg();
        let cut = &f[..f.len() - 5];
        let data = [&f[..], cut, &f[..]].concat();
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.frames()[1].offset, f.len() + cut.len());
        assert_eq!(index.damages()[0].offset, f.len());
        // A segment length running into the next frame: truncation, but not at the file's end.
        let mut long = f.clone();
        let dri_at = parts()[..5].concat().len();
        long[dri_at + 2] = 0x40;
        let data = [&f[..], &long, &f[..]].concat();
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.damages().len(), 1);
    }

    #[test]
    fn junk_between_and_after_frames_is_reported() {
        let f = small_jpeg();
        let data = [&f[..], b"junk", &f[..], b"\n"].concat();
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        let d: Vec<(usize, usize, Cause)> = index
            .damages()
            .iter()
            .map(|d| (d.offset, d.skipped, d.cause.clone()))
            .collect();
        assert_eq!(
            d,
            [(f.len(), 4, Cause::Junk), (2 * f.len() + 4, 1, Cause::Junk)]
        );
    }

    #[test]
    fn a_file_cut_in_its_last_frame_is_truncated() {
        let f = small_jpeg();
        let data = [f.clone(), f.clone()].concat();
        let err = Index::build(&data[..data.len() - 1]).unwrap_err();
        assert!(matches!(err, IndexError::Truncated { offset, .. } if offset == f.len()));
        assert!(
            err.to_string()
                .starts_with(&format!("truncated frame at byte {}: ", f.len()))
        );
    }

    #[test]
    fn truncation_at_every_byte_is_an_error_naming_an_offset() {
        let f = small_jpeg();
        assert_eq!(Index::build(&[]).unwrap_err(), IndexError::Empty);
        for cut in 1..f.len() {
            match Index::build(&f[..cut]) {
                Err(IndexError::Truncated {
                    offset: 0,
                    cause: Cause::Frame(e),
                }) => {
                    assert!(e.offset() <= cut && e.is_truncation(), "cut {cut}: {e}");
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let course_file = course(&[&f]);
        for cut in 1..course_file.len() {
            assert!(
                matches!(
                    Index::build(&course_file[..cut]),
                    Err(IndexError::Truncated { offset: 0, .. })
                ),
                "course cut {cut}"
            );
        }
    }

    #[test]
    fn garbage_and_frameless_files_are_errors() {
        let err = Index::build(b"hello world").unwrap_err();
        assert!(matches!(err, IndexError::Container { .. }));
        assert!(err.to_string().contains("at byte 0"));
        let err = Index::build(&[0xFF, 0xD8, 0xFF, 0xD9]).unwrap_err();
        assert!(matches!(
            err,
            IndexError::NoFrames {
                first: Damage { offset: 0, .. }
            }
        ));
    }

    #[test]
    fn indexes_the_course_container() {
        let f = small_jpeg();
        let data = course(&[&f, &f, &f]);
        assert!(data.starts_with(format!("{:05}", f.len()).as_bytes()));
        let index = Index::build(&data).unwrap();
        assert_eq!(index.container(), Container::Course);
        assert_eq!(index.len(), 3);
        for (i, info) in index.frames().iter().enumerate() {
            assert_eq!(info.offset, 5 + i * (5 + f.len()));
            assert_eq!(index.frame(&data, i), Some(&f[..]));
            assert!(info.ready.is_ok(), "{:?}", info.ready);
        }
    }

    #[test]
    fn course_damage_is_skipped_by_length_or_resynced() {
        let f = small_jpeg();
        let mut bad = f.clone();
        bad[2] = 0x00; // not a marker after SOI
        let data = course(&[&f, &bad, &f]);
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.damages()[0].offset, 5 + f.len());
        assert_eq!(index.frames()[1].offset, 2 * (5 + f.len()) + 5);
        // A broken length header: resynchronised at the next "ddddd FF D8 FF".
        let mut data = course(&[&f, &f, &f]);
        data[5 + f.len()] = b'x';
        let index = Index::build(&data).unwrap();
        assert_eq!(index.len(), 2);
        assert!(matches!(&index.damages()[0].cause, Cause::LengthHeader(h) if h.starts_with('x')));
        assert_eq!(index.frames()[1].offset, 2 * (5 + f.len()) + 5);
    }

    #[test]
    fn a_course_record_without_eoi_is_indexed_but_not_ready() {
        let f = small_jpeg();
        let no_eoi = &f[..f.len() - 2];
        let index = Index::build(&course(&[&f, no_eoi])).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.frames()[1].ready, Err(NotReady::MissingEoi));
        assert_eq!(index.first_not_ready(), Some((1, NotReady::MissingEoi)));
    }

    #[test]
    fn a_course_record_longer_than_the_file_is_truncated() {
        let f = small_jpeg();
        let mut data = course(&[&f, &f]);
        data.truncate(data.len() - 10);
        let err = Index::build(&data).unwrap_err();
        assert_eq!(
            err,
            IndexError::Truncated {
                offset: 5 + f.len(),
                cause: Cause::Record {
                    declared: f.len(),
                    available: f.len() - 10
                }
            }
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Damaged streams never panic, and every indexed frame parses again to what the index
        /// says about it (what the fuzz target checks, on mutations of a valid stream).
        #[test]
        fn mutated_streams_index_consistently(
            flips in proptest::collection::vec((0usize..4096, 0u8..=255), 0..6),
            cut in proptest::option::of(0usize..4096),
            course_container: bool,
        ) {
            let f = small_jpeg();
            let mut data = if course_container {
                course(&[&f, &f, &f])
            } else {
                [f.clone(), f.clone(), f].concat()
            };
            for (at, byte) in flips {
                let i = at % data.len();
                data[i] = byte;
            }
            if let Some(cut) = cut {
                data.truncate(cut % (data.len() + 1));
            }
            if let Ok(index) = Index::build(&data) {
                proptest::prop_assert!(!index.is_empty());
                for (i, info) in index.frames().iter().enumerate() {
                    let bytes = index.frame(&data, i).unwrap();
                    let header = match index.container() {
                        Container::Course => Header::parse_record(bytes),
                        _ => Header::parse(bytes),
                    }
                    .unwrap();
                    proptest::prop_assert_eq!(header.len(), info.len);
                    proptest::prop_assert_eq!(rfc2435::check(&header), info.ready.as_ref().map(|_| ()).map_err(|e| *e));
                    if let Ok(frame) = rfc2435::frame(&header) {
                        let size = (frame.width, frame.height);
                        proptest::prop_assert_eq!(size, (info.width, info.height));
                        // The stored layout gives back the same frame without parsing.
                        let stored = info.ready.as_ref().ok().and_then(|l| l.frame(bytes));
                        proptest::prop_assert_eq!(stored, Some(frame));
                    }
                }
                for d in index.damages() {
                    proptest::prop_assert!(d.offset < data.len());
                }
            }
        }
    }

    /// `cargo test --release -p hdstream-video index_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn index_speed() {
        // Busy 1080p frames (noise: many stuffed FF 00 bytes), repeated to about 400 MB.
        let mut rgb = crate::pattern::Pattern::new(1920, 1080).draw(1).to_vec();
        let mut seed = 0x2545_f491_u32;
        for v in &mut rgb {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *v = v.saturating_add((seed & 63) as u8);
        }
        let mut frame = Vec::new();
        crate::encoder::encode_rgb(&rgb, 1920, 1080, 90, &mut frame).unwrap();
        let copies = 400_000_000 / frame.len();
        let data = frame.repeat(copies);
        let start = std::time::Instant::now();
        let index = Index::build(&data).unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(index.len(), copies);
        println!(
            "indexed {} frames of {} bytes ({} MB) in {:.0} ms: {:.2} GB/s",
            copies,
            frame.len(),
            data.len() / 1_000_000,
            secs * 1000.0,
            data.len() as f64 / secs / 1e9
        );
    }
}
