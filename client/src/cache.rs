//! The frame cache: complete JPEG frames keyed by their RTP timestamp extended to 64 bits
//! (RFC 3550 §5.1: the timestamp is the frame's sampling instant), bounded in frames and bytes.

use std::collections::BTreeMap;
use std::time::Instant;

use hdstream_common::rfc2435::Concealed;

/// One complete frame waiting for its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// RTP timestamp extended to 64 bits.
    pub timestamp: i64,
    /// Where the frame sits in the presentation, seconds (RFC 2326 §3.6 NPT).
    pub npt: f64,
    /// SOI .. EOI.
    pub jpeg: Vec<u8>,
    /// When its last packet arrived.
    pub arrival: Instant,
    /// When the sender captured it, on our clock (its sender reports' NTP time, RFC 3550
    /// §6.4.1), if known.
    pub captured: Option<Instant>,
    /// Set when it lost packets and its lost restart intervals are the frame before's.
    pub concealed: Option<Concealed>,
}

/// Why [`Cache::insert`] refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The cache holds its limit of frames or bytes.
    Full,
    /// A frame with this timestamp is already held.
    Duplicate,
}

/// Frames in timestamp order, at most `max_frames` of them and `max_bytes` of JPEG data.
#[derive(Debug)]
pub struct Cache {
    frames: BTreeMap<i64, Frame>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl Cache {
    /// An empty cache with the given bounds.
    pub fn new(max_frames: usize, max_bytes: usize) -> Cache {
        Cache {
            frames: BTreeMap::new(),
            bytes: 0,
            max_frames: max_frames.max(1),
            max_bytes,
        }
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// JPEG bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a frame, unless the cache is full or holds its timestamp already (the frame is
    /// handed back).
    pub fn insert(&mut self, frame: Frame) -> Result<(), (Refused, Frame)> {
        if self.frames.contains_key(&frame.timestamp) {
            return Err((Refused::Duplicate, frame));
        }
        let full = self.frames.len() >= self.max_frames
            || self.bytes.saturating_add(frame.jpeg.len()) > self.max_bytes;
        if full && !self.frames.is_empty() {
            return Err((Refused::Full, frame));
        }
        self.bytes += frame.jpeg.len();
        self.frames.insert(frame.timestamp, frame);
        Ok(())
    }

    /// The earliest frame.
    pub fn first(&self) -> Option<&Frame> {
        self.frames.first_key_value().map(|(_, f)| f)
    }

    /// The latest frame.
    pub fn last(&self) -> Option<&Frame> {
        self.frames.last_key_value().map(|(_, f)| f)
    }

    /// The latest frame's timestamp.
    pub fn last_timestamp(&self) -> Option<i64> {
        self.frames.last_key_value().map(|(&t, _)| t)
    }

    /// Takes the earliest frame.
    pub fn pop_first(&mut self) -> Option<Frame> {
        let (_, frame) = self.frames.pop_first()?;
        self.bytes -= frame.jpeg.len();
        Some(frame)
    }

    /// Takes the latest frame.
    pub fn pop_last(&mut self) -> Option<Frame> {
        let (_, frame) = self.frames.pop_last()?;
        self.bytes -= frame.jpeg.len();
        Some(frame)
    }

    /// Timestamps from the earliest to the latest frame held (0 for one frame).
    pub fn span(&self) -> Option<i64> {
        let first = self.frames.first_key_value()?.0;
        let last = self.frames.last_key_value()?.0;
        Some(last - first)
    }

    /// Drops every frame, handing each to `recycle`.
    pub fn clear(&mut self, mut recycle: impl FnMut(Frame)) {
        while let Some(frame) = self.pop_first() {
            recycle(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(timestamp: i64, len: usize) -> Frame {
        Frame {
            timestamp,
            npt: 0.0,
            jpeg: vec![0; len],
            arrival: Instant::now(),
            captured: None,
            concealed: None,
        }
    }

    #[test]
    fn frames_come_out_in_timestamp_order() {
        let mut c = Cache::new(10, 1000);
        for t in [6000, 0, 3000] {
            c.insert(frame(t, 10)).unwrap();
        }
        assert_eq!(c.span(), Some(6000));
        assert_eq!(c.bytes(), 30);
        let order: Vec<i64> = std::iter::from_fn(|| c.pop_first().map(|f| f.timestamp)).collect();
        assert_eq!(order, [0, 3000, 6000]);
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn the_bounds_hold_in_frames_and_bytes() {
        let mut c = Cache::new(2, 1000);
        c.insert(frame(0, 10)).unwrap();
        c.insert(frame(1, 10)).unwrap();
        assert_eq!(c.insert(frame(2, 10)).unwrap_err().0, Refused::Full);
        let mut c = Cache::new(100, 25);
        c.insert(frame(0, 10)).unwrap();
        c.insert(frame(1, 10)).unwrap();
        assert_eq!(c.insert(frame(2, 10)).unwrap_err().0, Refused::Full);
        assert_eq!(c.insert(frame(1, 1)).unwrap_err().0, Refused::Duplicate);
        let mut c = Cache::new(100, 5);
        c.insert(frame(0, 10))
            .expect("one frame always fits, however large");
    }
}
