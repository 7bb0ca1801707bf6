//! Concealment of lost packets with restart intervals (RFC 2435 §3.1.7).
//!
//! When a sender aligns fragments with restart intervals (types 64..=127, a Restart Count
//! other than 0x3FFF), each run of fragments from one with F set to one with L set carries
//! whole intervals, numbered from its Restart Count, and every interval decodes on its own.
//! A frame that lost fragments can then still be shown: the intervals that arrived are its
//! own, and each lost one is taken from the frame before (same size, type, tables and restart
//! interval, so its entropy-coded bytes decode to that frame's pixels in the same place).
//!
//! - [`Chunks`]: a frame's fragments gathered into runs of whole intervals, with what was lost.
//! - [`Reference`]: the picture as last put together, by interval, to stand in for lost ones.
//! - [`Concealed`]: which intervals of a frame put out are not its own, and where they are.

use std::ops::Range;

use super::header::RestartHeader;
use super::restart;
use super::{Subsampling, jpeg::EOI};

/// What a frame's intervals depend on besides their bytes: a lost interval can be taken from
/// a frame with the same key only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    pub jpeg_type: u8,
    pub q: u8,
    pub width: u16,
    pub height: u16,
    pub restart_interval: u16,
}

/// A frame put out with some restart intervals taken from the frame before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concealed {
    /// MCUs per restart interval.
    pub restart_interval: u16,
    /// Pixel width and height of one MCU (16 × 16 for 4:2:0, 16 × 8 for 4:2:2).
    pub mcu: (u16, u16),
    /// MCUs across the frame.
    pub mcus_across: u32,
    /// The intervals taken from the frame before, in order, as ranges of interval numbers.
    pub intervals: Vec<Range<u32>>,
}

impl Concealed {
    /// Intervals taken from the frame before.
    pub fn interval_count(&self) -> u32 {
        self.intervals.iter().map(|r| r.end - r.start).sum()
    }

    /// Whether pixel (`x`, `y`) lies within `margin` pixels of a concealed interval's MCUs.
    /// (A decoder's chroma upsampling blends a pixel with its neighbours: with 4:2:0, the
    /// row or column next to an interval's edge also depends on the interval.)
    pub fn covers(&self, x: usize, y: usize, margin: usize) -> bool {
        let (mw, mh) = (usize::from(self.mcu.0), usize::from(self.mcu.1));
        let ri = self.restart_interval as usize;
        let across = self.mcus_across as usize;
        // The MCUs whose pixels lie within `margin` of (x, y).
        let (x0, x1) = (x.saturating_sub(margin) / mw, (x + margin) / mw);
        let (y0, y1) = (y.saturating_sub(margin) / mh, (y + margin) / mh);
        (y0..=y1).any(|my| {
            (x0..=x1.min(across - 1)).any(|mx| {
                let interval = ((my * across + mx) / ri) as u32;
                self.intervals.iter().any(|r| r.contains(&interval))
            })
        })
    }
}

/// What the picture last looked like, by restart interval: for each interval, the bytes of
/// the latest frame that brought it (the frame shown before, or for a band that frame lacked,
/// the one before it), all of one [`Key`] and one set of headers.
#[derive(Debug, Default)]
pub(super) struct Reference {
    key: Option<Key>,
    /// The headers (SOI .. SOS) of the latest frame that brought its own; empty if none yet.
    headers: Vec<u8>,
    /// Each interval's bytes (with its marker, but for the last); empty when never seen.
    intervals: Vec<Vec<u8>>,
}

impl Reference {
    /// Starts over unless the kept picture has `key` and `n` intervals.
    fn reset_for(&mut self, key: Key, n: usize) {
        if self.key != Some(key) || self.intervals.len() != n {
            self.key = Some(key);
            self.headers.clear();
            self.intervals.resize_with(n, Vec::new);
            self.intervals.iter_mut().for_each(Vec::clear);
        }
    }

    /// Takes a frame's own headers: intervals kept under other tables are forgotten.
    fn take_headers(&mut self, headers: &[u8]) {
        if self.headers != headers {
            self.intervals.iter_mut().for_each(Vec::clear);
            self.headers.clear();
            self.headers.extend_from_slice(headers);
        }
    }

    /// Keeps the intact frame `jpeg` (headers up to `scan_start`, then scan data, perhaps
    /// EOI); forgets everything if its intervals do not match its size and restart interval.
    pub fn keep(&mut self, key: Key, subsampling: Subsampling, jpeg: &[u8], scan_start: usize) {
        let n = restart::interval_count(subsampling, key.width, key.height, key.restart_interval);
        if n == 0 || n >= u32::from(RestartHeader::UNALIGNED_COUNT) {
            *self = Reference::default();
            return;
        }
        self.reset_for(key, n as usize);
        self.take_headers(&jpeg[..scan_start]);
        let scan = jpeg[scan_start..]
            .strip_suffix(&EOI)
            .unwrap_or(&jpeg[scan_start..]);
        if restart::intervals(scan).count() != n as usize {
            *self = Reference::default();
            return;
        }
        for (kept, piece) in self.intervals.iter_mut().zip(restart::intervals(scan)) {
            kept.clear();
            kept.extend_from_slice(piece);
        }
    }

    /// The kept headers, when the picture has `key`.
    pub fn headers(&self, key: Key) -> Option<&[u8]> {
        (self.key == Some(key) && !self.headers.is_empty()).then_some(&self.headers[..])
    }
}

/// Where one run of whole intervals (F .. L) sits in the frame buffer.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    /// Number of its first interval (the Restart Count).
    count: u16,
    /// Its bytes in the frame's scan data (the buffer after the headers).
    start: usize,
    end: usize,
}

/// A frame's fragments gathered as runs of whole restart intervals, for a sender that aligns
/// them (§3.1.7). The data of a run that lost a fragment is dropped; the rest stays in the
/// frame buffer, run after run.
#[derive(Debug, Default)]
pub(super) struct Chunks {
    done: Vec<Chunk>,
    /// The run being received: its count, where it starts in the buffer.
    open: Option<(u16, usize)>,
    /// The sequence number and fragment offset that continue what came before.
    next: Option<(u16, u32)>,
    /// Whether anything was lost: a fragment, a run, the first fragment or the last.
    damaged: bool,
    /// Whether the first fragment (offset 0, with the frame's own tables) arrived.
    start: bool,
}

/// What to do with a fragment's data ([`Chunks::take`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Take {
    /// Cut the scan data gathered back to this length first (a run that cannot be completed).
    pub truncate: usize,
    /// Then append the data, or drop it.
    pub append: bool,
}

impl Chunks {
    /// Chunks of a frame none of whose fragments has arrived yet.
    pub fn new() -> Chunks {
        Chunks::default()
    }

    /// Whether a fragment was lost (or the frame ended without its last).
    pub fn damaged(&self) -> bool {
        self.damaged
    }

    /// Whether the first fragment (offset 0) arrived.
    pub fn has_start(&self) -> bool {
        self.start
    }

    /// The frame ended before its marker: the rest is lost.
    pub fn lose_end(&mut self) {
        self.damaged = true;
    }

    /// Takes the fragment at scan `offset` with restart `header` and `len` bytes of data, the
    /// scan data gathered so far being `buf_len` long.
    pub fn take(
        &mut self,
        sequence_number: u16,
        offset: u32,
        header: RestartHeader,
        len: usize,
        buf_len: usize,
    ) -> Take {
        self.start |= offset == 0;
        let follows = match self.next {
            Some(next) => next == (sequence_number, offset),
            None => offset == 0,
        };
        if !follows {
            self.damaged = true;
        }
        // Offsets are 24 bits; `len` is one packet's data.
        self.next = Some((
            sequence_number.wrapping_add(1),
            offset.wrapping_add(len as u32),
        ));
        // (the run's count, where it starts, where this data goes)
        let (count, start, at) = match self.open.take() {
            // A run goes on only with the next fragment of the same count.
            Some((count, start)) if follows && !header.first && count == header.restart_count => {
                (count, start, buf_len)
            }
            // A run that never saw its L is unusable: a new one takes its place.
            Some((_, start)) if header.first => {
                self.damaged = true;
                (header.restart_count, start, start)
            }
            None if header.first => (header.restart_count, buf_len, buf_len),
            // A fragment whose run lost its start.
            open => {
                self.damaged = true;
                return Take {
                    truncate: open.map_or(buf_len, |(_, start)| start),
                    append: false,
                };
            }
        };
        if header.last {
            self.done.push(Chunk {
                count,
                start,
                end: at + len,
            });
        } else {
            self.open = Some((count, start));
        }
        Take {
            truncate: at,
            append: true,
        }
    }
}

/// A frame that lost fragments: builds it into `out` from the headers and runs of `buf`
/// (headers up to `scan_start`, `own_headers` when they are the frame's own rather than the
/// reference's), each interval missing from the runs taken from `reference`, then EOI; and
/// keeps the intervals that arrived in `reference` either way.
///
/// `None` when it cannot be shown: an interval missing that the reference does not have
/// (another size, type, tables or restart interval, or never seen), a run whose intervals do
/// not fit the frame, no interval of the frame's own, or more than `max_len` bytes. An empty
/// `intervals` in the answer means nothing was missing after all.
#[allow(clippy::too_many_arguments)]
pub(super) fn conceal(
    chunks: &Chunks,
    reference: &mut Reference,
    key: Key,
    subsampling: Subsampling,
    buf: &[u8],
    scan_start: usize,
    own_headers: bool,
    out: &mut Vec<u8>,
    max_len: usize,
) -> Option<Concealed> {
    let n = restart::interval_count(subsampling, key.width, key.height, key.restart_interval);
    let n = n as usize;
    if n == 0 || n >= usize::from(RestartHeader::UNALIGNED_COUNT) {
        // No restart markers, or more intervals than an aligned sender can count: a header
        // that says otherwise is not to be believed (nor allocated for).
        return None;
    }
    reference.reset_for(key, n);
    if own_headers {
        reference.take_headers(&buf[..scan_start]);
    }
    let scan = &buf[scan_start..];
    let mut own: Vec<Option<&[u8]>> = vec![None; n];
    for chunk in &chunks.done {
        for (k, piece) in restart::intervals(&scan[chunk.start..chunk.end]).enumerate() {
            let i = usize::from(chunk.count) + k;
            if i >= n {
                return None;
            }
            // Every interval but the last ends in its marker, RST(i mod 8).
            let last = i + 1 == n;
            let fits = match restart::trailing_marker(piece) {
                Some(m) => !last && usize::from(m) == i % 8,
                None => last,
            };
            if !fits {
                return None;
            }
            own[i] = Some(if last {
                piece.strip_suffix(&EOI).unwrap_or(piece)
            } else {
                piece
            });
        }
    }
    let shown = build(&own, reference, key, subsampling, out, max_len);
    for (kept, piece) in reference.intervals.iter_mut().zip(&own) {
        if let Some(piece) = piece {
            kept.clear();
            kept.extend_from_slice(piece);
        }
    }
    shown
}

/// The frame of `own` intervals and the reference's for the rest, into `out`.
fn build(
    own: &[Option<&[u8]>],
    reference: &Reference,
    key: Key,
    subsampling: Subsampling,
    out: &mut Vec<u8>,
    max_len: usize,
) -> Option<Concealed> {
    let headers = reference.headers(key)?;
    if own.iter().all(Option::is_none) {
        return None;
    }
    out.clear();
    out.extend_from_slice(headers);
    let mut intervals: Vec<Range<u32>> = Vec::new();
    for (i, piece) in own.iter().enumerate() {
        let piece = match piece {
            Some(piece) => *piece,
            None => {
                let kept = &reference.intervals[i][..];
                if kept.is_empty() {
                    return None;
                }
                // At most 0x3FFF intervals.
                let i = i as u32;
                match intervals.last_mut() {
                    Some(r) if r.end == i => r.end = i + 1,
                    _ => intervals.push(i..i + 1),
                }
                kept
            }
        };
        if out.len() + piece.len() + EOI.len() > max_len {
            return None;
        }
        out.extend_from_slice(piece);
    }
    out.extend_from_slice(&EOI);
    let (mcus_across, _) = restart::mcu_grid(subsampling, key.width, key.height);
    Some(Concealed {
        restart_interval: key.restart_interval,
        mcu: restart::mcu_size(subsampling),
        mcus_across,
        intervals,
    })
}
