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
//! - [`Reference`]: the last frame put out, by interval, kept to stand in for lost ones.
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

/// The last frame put out (intact or concealed), kept by restart interval.
#[derive(Debug, Default)]
pub(super) struct Reference {
    key: Option<Key>,
    /// Its rebuilt headers, SOI .. SOS.
    headers: Vec<u8>,
    /// Its scan data without EOI.
    scan: Vec<u8>,
    /// Where each interval ends in `scan` (after its marker, for all but the last).
    ends: Vec<usize>,
}

impl Reference {
    /// Keeps the frame `jpeg` (headers up to `scan_start`, then scan data, perhaps EOI); a
    /// frame whose interval count does not match its size and restart interval is not kept.
    pub fn keep(&mut self, key: Key, subsampling: Subsampling, jpeg: &[u8], scan_start: usize) {
        let scan = jpeg[scan_start..].strip_suffix(&EOI).unwrap_or(&jpeg[scan_start..]);
        self.key = None;
        self.ends.clear();
        let mut end = 0;
        for interval in restart::intervals(scan) {
            end += interval.len();
            self.ends.push(end);
        }
        let expected =
            restart::interval_count(subsampling, key.width, key.height, key.restart_interval);
        if self.ends.len() != expected as usize {
            return;
        }
        self.headers.clear();
        self.headers.extend_from_slice(&jpeg[..scan_start]);
        self.scan.clear();
        self.scan.extend_from_slice(scan);
        self.key = Some(key);
    }

    /// The kept frame's headers, when it has `key`.
    pub fn headers(&self, key: Key) -> Option<&[u8]> {
        (self.key == Some(key)).then_some(&self.headers[..])
    }

    /// Interval `i`'s bytes (with its marker, but for the last).
    fn interval(&self, i: usize) -> Option<&[u8]> {
        let start = if i == 0 { 0 } else { *self.ends.get(i - 1)? };
        Some(&self.scan[start..*self.ends.get(i)?])
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
        let follows = match self.next {
            Some(next) => next == (sequence_number, offset),
            None => offset == 0,
        };
        if !follows {
            self.damaged = true;
        }
        // Offsets are 24 bits; `len` is one packet's data.
        self.next = Some((sequence_number.wrapping_add(1), offset.wrapping_add(len as u32)));
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

/// Builds a concealed frame into `out`: the headers and runs of `buf` (headers up to
/// `scan_start`), each interval missing from the runs taken from `reference`, then EOI.
/// `None` when it cannot be done: no reference with the same key and headers, a run whose
/// intervals do not fit the frame, no interval of the frame's own, or more than `max_len`
/// bytes. An empty `intervals` in the answer means nothing was missing after all.
pub(super) fn splice(
    chunks: &Chunks,
    reference: &Reference,
    key: Key,
    subsampling: Subsampling,
    buf: &[u8],
    scan_start: usize,
    out: &mut Vec<u8>,
    max_len: usize,
) -> Option<Concealed> {
    let headers = reference.headers(key)?;
    if buf[..scan_start] != *headers {
        return None;
    }
    let n = reference.ends.len();
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
    if own.iter().all(Option::is_none) {
        return None;
    }
    out.clear();
    out.extend_from_slice(headers);
    let mut intervals: Vec<Range<u32>> = Vec::new();
    for (i, piece) in own.iter().enumerate() {
        let piece = match piece {
            Some(piece) => piece,
            None => {
                // At most 0x3FFF intervals.
                let i = i as u32;
                match intervals.last_mut() {
                    Some(r) if r.end == i => r.end = i + 1,
                    _ => intervals.push(i..i + 1),
                }
                reference.interval(i as usize)?
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
