//! The tracks a publisher sends — JPEG video (RFC 2435), sound (RFC 3551) and captions (RFC 4103
//! T.140) — and the RTP sender of each: identity, numbering, timestamp origin and counts.

/// One of a publication's tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// JPEG video (RFC 2435), payload type 26, 90 kHz.
    Video,
    /// Sound (RFC 3551: L16, PCMU or PCMA), at its sample rate.
    Audio,
    /// Captions as real-time text (RFC 4103 `t140/1000`).
    Text,
}

/// How many kinds of track there are.
pub const TRACKS: usize = 3;

impl Track {
    /// Every track, in the order of the SDP's sections.
    pub const ALL: [Track; TRACKS] = [Track::Video, Track::Audio, Track::Text];

    /// Its place in per-track arrays.
    pub fn index(self) -> usize {
        match self {
            Track::Video => 0,
            Track::Audio => 1,
            Track::Text => 2,
        }
    }

    /// Its `a=control` in the SDP, and the last segment of its SETUP URL (RFC 2326 C.1.1).
    pub fn control(self) -> &'static str {
        match self {
            Track::Video => "trackID=0",
            Track::Audio => "trackID=1",
            Track::Text => "trackID=2",
        }
    }

    /// Its interleaved RTP channel (RFC 2326 §10.12); RTCP goes on the next one.
    pub fn channel(self) -> u8 {
        2 * self.index() as u8
    }

    /// The track interleaved `channel` (RTP or RTCP) belongs to.
    pub fn of_channel(channel: u8) -> Option<Track> {
        Track::ALL.get(usize::from(channel / 2)).copied()
    }

    /// Its name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Track::Video => "video",
            Track::Audio => "sound",
            Track::Text => "captions",
        }
    }
}

/// One track's RTP sender. It outlives a session: a publisher that connects again goes on with
/// the same SSRC, numbering and timestamp origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// SSRC (RFC 3550 §8).
    pub ssrc: u32,
    /// Next sequence number.
    pub seq: u16,
    /// RTP timestamp of media time 0 (RFC 3550 §5.1: random).
    pub base: u32,
    /// What was sent whole: frames (video), packets (sound), captions (text).
    pub units: u64,
    /// RTP packets sent.
    pub packets: u64,
    /// RTP payload bytes sent.
    pub bytes: u64,
    /// Units left out: frames that cannot travel as RFC 2435.
    pub refused: u64,
}

impl Sender {
    /// A sender with this SSRC, starting at sequence number `seq`, timestamps from `base`.
    pub fn new(ssrc: u32, seq: u16, base: u32) -> Sender {
        Sender {
            ssrc,
            seq,
            base,
            units: 0,
            packets: 0,
            bytes: 0,
            refused: 0,
        }
    }

    /// Counts one packet of `payload` bytes and moves the numbering on; answers its sequence
    /// number.
    pub(crate) fn next_packet(&mut self, payload: usize) -> u16 {
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        self.packets += 1;
        self.bytes += payload as u64;
        seq
    }
}

/// The senders of every track, indexed by [`Track`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Senders([Sender; TRACKS]);

impl Senders {
    /// One sender per track.
    pub fn new(video: Sender, audio: Sender, text: Sender) -> Senders {
        Senders([video, audio, text])
    }

    /// Senders with SSRCs, sequence numbers and timestamp origins drawn from `random`.
    pub fn random(random: &mut impl rand::RngCore) -> Senders {
        let mut one = || {
            Sender::new(
                random.next_u32(),
                random.next_u32() as u16,
                random.next_u32(),
            )
        };
        Senders([one(), one(), one()])
    }
}

impl std::ops::Index<Track> for Senders {
    type Output = Sender;

    fn index(&self, track: Track) -> &Sender {
        &self.0[track.index()]
    }
}

impl std::ops::IndexMut<Track> for Senders {
    fn index_mut(&mut self, track: Track) -> &mut Sender {
        &mut self.0[track.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_pair_up_per_track() {
        assert_eq!(
            Track::ALL.map(Track::channel),
            [0, 2, 4],
            "interleaved=0-1, 2-3, 4-5"
        );
        for track in Track::ALL {
            assert_eq!(Track::of_channel(track.channel()), Some(track));
            assert_eq!(Track::of_channel(track.channel() + 1), Some(track));
        }
        assert_eq!(Track::of_channel(6), None);
    }

    #[test]
    fn numbering_wraps() {
        let mut s = Sender::new(1, u16::MAX, 0);
        assert_eq!(s.next_packet(10), u16::MAX);
        assert_eq!(s.next_packet(5), 0);
        assert_eq!((s.seq, s.packets, s.bytes), (1, 2, 15));
    }
}
