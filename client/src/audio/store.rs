//! The received samples of the audio track, keyed by RTP timestamp (extended to 64 bits) until
//! they are played: the short reorder buffer of the audio path. A packet that overtakes
//! another simply lands further along; the output reads in timestamp order and sees a hole
//! where a packet is missing (RFC 3550 §5.1: the timestamp says where the samples belong,
//! whatever order they came in).

use std::collections::BTreeMap;
use std::time::Instant;

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
}

impl Store {
    /// An empty store of `channels`-channel samples that holds at most `max_frames` sample
    /// frames (the oldest go first).
    pub fn new(channels: u16, max_frames: usize) -> Store {
        Store {
            chunks: BTreeMap::new(),
            channels: usize::from(channels.max(1)),
            frames: 0,
            max_frames: max_frames.max(1),
        }
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

    /// What is held at extended timestamp `ts`.
    pub fn at(&self, ts: i64) -> Slot<'_> {
        if let Some((&start, chunk)) = self.chunks.range(..=ts).next_back()
            && ts < start + self.len_of(chunk)
        {
            let from = (ts - start) as usize * self.channels;
            return Slot::Samples(&chunk.samples[from..], chunk.seq);
        }
        match self.chunks.range(ts..).next() {
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
            if let Some((_, old)) = self.chunks.pop_first() {
                self.frames -= old.samples.len() / self.channels;
                highest = highest.max(Some(old.seq));
            }
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
