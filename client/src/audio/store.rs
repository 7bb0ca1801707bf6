//! The received samples of the audio track, keyed by RTP timestamp (extended to 64 bits) until
//! they are played: the short reorder buffer of the audio path. A packet that overtakes
//! another simply lands further along; the output reads in timestamp order and sees a hole
//! where a packet is missing (RFC 3550 §5.1: the timestamp says where the samples belong,
//! whatever order they came in). A live stream's store also keeps what was played, for a while
//! ([`Store::keep_played`]): timeshift jumps back play its sound again, as they show its
//! pictures again.

use std::collections::BTreeMap;
use std::time::Instant;

/// Samples held waiting, and samples kept played, at most each (32 MiB of i16): the bounds in
/// seconds are multiplied by the clock rate the server *says*, and a hostile one may say
/// 4 GHz. 48 kHz stereo fills it in 175 s.
pub const MAX_SAMPLES: usize = 16 << 20;

/// One packet's samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Extended sequence number of the packet (for counting what a hole lost).
    pub seq: u64,
    /// Interleaved 16-bit samples, whole sample frames.
    pub samples: Vec<i16>,
    /// When it arrived.
    pub arrival: Instant,
}

/// What the store holds at a timestamp, from [`Store::at`].
#[derive(Debug, PartialEq, Eq)]
pub enum Slot<'a> {
    /// Samples from the timestamp asked for to the end of their packet, interleaved, of the
    /// packet with this extended sequence number.
    Samples(&'a [i16], u64),
    /// Nothing there; samples resume at `next` (extended timestamp), from the packet with
    /// extended sequence number `seq` that arrived at `arrival`.
    Hole {
        /// The timestamp of the next samples held.
        next: i64,
        /// That packet's extended sequence number.
        seq: u64,
        /// When that packet arrived.
        arrival: Instant,
    },
    /// Nothing there or after it.
    Empty,
}

/// Packets of samples by extended RTP timestamp, bounded in sample frames.
#[derive(Debug)]
pub struct Store {
    chunks: BTreeMap<i64, Chunk>,
    channels: usize,
    /// Sample frames held.
    frames: usize,
    max_frames: usize,
    /// Packets played (or passed over), kept for timeshift.
    played: BTreeMap<i64, Chunk>,
    /// Sample frames in `played`.
    played_frames: usize,
    /// At most this many sample frames are kept played (0: none).
    keep_frames: usize,
}

impl Store {
    /// An empty store of `channels`-channel samples that holds at most `max_frames` sample
    /// frames (the oldest go first).
    pub fn new(channels: u16, max_frames: usize) -> Store {
        let channels = usize::from(channels.max(1));
        Store {
            chunks: BTreeMap::new(),
            channels,
            frames: 0,
            max_frames: max_frames.clamp(1, MAX_SAMPLES / channels),
            played: BTreeMap::new(),
            played_frames: 0,
            keep_frames: 0,
        }
    }

    /// Keeps up to `frames` sample frames of what was played, newest first (and holds as many
    /// waiting: a paused timeshift lets them pile up), so that a jump back finds them.
    pub fn keep_played(&mut self, frames: usize) {
        let frames = frames.min(MAX_SAMPLES / self.channels);
        self.keep_frames = frames;
        self.max_frames = self.max_frames.max(frames);
    }

    /// Sample frames held.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    fn len_of(&self, chunk: &Chunk) -> i64 {
        (chunk.samples.len() / self.channels) as i64
    }

    /// Adds a packet's samples at extended timestamp `ts`; returns how many packets were
    /// dropped to stay within the bound, oldest first. A packet already held at that timestamp
    /// (a duplicate) or holding no whole sample frame is handed back.
    pub fn insert(&mut self, ts: i64, chunk: Chunk) -> Result<usize, Chunk> {
        if chunk.samples.len() < self.channels || self.chunks.contains_key(&ts) {
            return Err(chunk);
        }
        self.frames += chunk.samples.len() / self.channels;
        self.chunks.insert(ts, chunk);
        let mut dropped = 0;
        while self.frames > self.max_frames && self.chunks.len() > 1 {
            if let Some((_, old)) = self.chunks.pop_first() {
                self.frames -= old.samples.len() / self.channels;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// What is held at extended timestamp `ts` (waiting, or kept played).
    pub fn at(&self, ts: i64) -> Slot<'_> {
        for held in [&self.chunks, &self.played] {
            if let Some((&start, chunk)) = held.range(..=ts).next_back()
                && ts < start + self.len_of(chunk)
            {
                let from = (ts - start) as usize * self.channels;
                return Slot::Samples(&chunk.samples[from..], chunk.seq);
            }
        }
        let waiting = self.chunks.range(ts..).next();
        let kept = self.played.range(ts..).next();
        let next = match (waiting, kept) {
            (Some(w), Some(k)) => Some(if k.0 < w.0 { k } else { w }),
            (w, k) => w.or(k),
        };
        match next {
            Some((&next, chunk)) => Slot::Hole {
                next,
                seq: chunk.seq,
                arrival: chunk.arrival,
            },
            None => Slot::Empty,
        }
    }

    /// Drops every packet that ends at or before `ts` (played, or passed over); returns the
    /// highest extended sequence number among them.
    pub fn prune(&mut self, ts: i64) -> Option<u64> {
        let mut highest = None;
        while let Some((&start, chunk)) = self.chunks.first_key_value() {
            if start + self.len_of(chunk) > ts {
                break;
            }
            if let Some((start, old)) = self.chunks.pop_first() {
                let len = old.samples.len() / self.channels;
                self.frames -= len;
                highest = highest.max(Some(old.seq));
                if self.keep_frames > 0 {
                    self.played_frames += len;
                    self.played.insert(start, old);
                }
            }
        }
        while self.played_frames > self.keep_frames {
            let Some((_, old)) = self.played.pop_first() else {
                break;
            };
            self.played_frames -= old.samples.len() / self.channels;
        }
        highest
    }

    /// The extended timestamp just after the last sample held.
    pub fn end(&self) -> Option<i64> {
        self.chunks
            .iter()
            .map(|(&start, c)| start + self.len_of(c))
            .max()
    }

    /// Forgets everything (a seek, a new source).
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.frames = 0;
        self.played.clear();
        self.played_frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u64, frames: usize, value: i16, arrival: Instant) -> Chunk {
        Chunk {
            seq,
            samples: vec![value; frames * 2],
            arrival,
        }
    }

    #[test]
    fn samples_holes_and_the_end() {
        let t = Instant::now();
        let mut s = Store::new(2, 10_000);
        assert_eq!(s.at(0), Slot::Empty);
        s.insert(1000, chunk(1, 960, 1, t)).unwrap();
        // Packet 2 lost; packet 3 came first.
        s.insert(2920, chunk(3, 960, 3, t)).unwrap();
        assert_eq!(s.frames(), 1920);
        let Slot::Samples(samples, 1) = s.at(1000 + 950) else {
            panic!()
        };
        assert_eq!(samples.len(), 20, "ten frames to the end of the packet");
        assert_eq!(
            s.at(1960),
            Slot::Hole {
                next: 2920,
                seq: 3,
                arrival: t
            }
        );
        assert_eq!(
            s.at(0),
            Slot::Hole {
                next: 1000,
                seq: 1,
                arrival: t
            },
            "before the first packet"
        );
        assert_eq!(s.at(3880), Slot::Empty);
        assert_eq!(s.end(), Some(3880));
        s.insert(1960, chunk(2, 960, 2, t)).unwrap();
        assert!(
            matches!(s.at(1960), Slot::Samples(_, 2)),
            "a late packet fills the hole"
        );
    }

    #[test]
    fn what_was_played_is_kept_for_a_jump_back_within_its_bound() {
        let t = Instant::now();
        let mut s = Store::new(2, 10_000);
        s.keep_played(2000);
        for k in 0..4 {
            s.insert(k * 960, chunk(k as u64, 960, k as i16, t))
                .unwrap();
        }
        assert_eq!(s.prune(3 * 960), Some(2), "three packets played");
        assert_eq!(s.frames(), 960, "one waits");
        // The newest 2000 frames of what was played are kept: packets 1 and 2, not 0.
        assert!(matches!(s.at(960 + 5), Slot::Samples(_, 1)));
        assert!(matches!(s.at(2 * 960), Slot::Samples(_, 2)));
        assert!(matches!(s.at(3 * 960), Slot::Samples(_, 3)));
        assert_eq!(
            s.at(5),
            Slot::Hole {
                next: 960,
                seq: 1,
                arrival: t
            },
            "packet 0 is forgotten"
        );
        s.clear();
        assert_eq!(s.at(960), Slot::Empty);
        // A rate a hostile server claims does not lift the bounds past MAX_SAMPLES.
        let mut s = Store::new(2, usize::MAX);
        s.keep_played(usize::MAX);
        assert_eq!(
            (s.max_frames, s.keep_frames),
            (MAX_SAMPLES / 2, MAX_SAMPLES / 2)
        );
        // Without keep_played nothing played stays.
        let mut s = Store::new(2, 10_000);
        s.insert(0, chunk(0, 960, 0, t)).unwrap();
        s.prune(960);
        assert_eq!(s.at(0), Slot::Empty);
    }

    #[test]
    fn duplicates_and_empty_payloads_are_refused() {
        let t = Instant::now();
        let mut s = Store::new(2, 10_000);
        assert_eq!(s.insert(0, chunk(1, 10, 0, t)), Ok(0));
        assert!(s.insert(0, chunk(1, 10, 0, t)).is_err());
        assert!(s.insert(20, chunk(2, 0, 0, t)).is_err());
        assert_eq!(s.frames(), 10);
    }

    #[test]
    fn pruning_drops_what_was_played_and_the_bound_the_oldest() {
        let t = Instant::now();
        let mut s = Store::new(2, 2000);
        for n in 0..3u64 {
            assert_eq!(
                s.insert(n as i64 * 960, chunk(n, 960, 0, t)),
                Ok(usize::from(n == 2))
            );
        }
        assert_eq!(
            s.frames(),
            1920,
            "the oldest went to stay within 2000 frames"
        );
        assert_eq!(s.prune(1919), None, "packet 1 ends at 1920");
        assert_eq!(s.prune(1920), Some(1));
        assert_eq!(s.frames(), 960);
        s.clear();
        assert!(s.is_empty());
        assert_eq!(s.end(), None);
    }
}
