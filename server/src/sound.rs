//! The sound of a file, read once when the file is opened and kept as it travels, so that a
//! packet is a slice of it with no per-packet work:
//!
//! - a WAV file beside it (`clip.wav` for `clip.mjpeg`), or a Matroska or AVI file's 16-bit PCM
//!   track: L16, big-endian 16-bit samples, channels interleaved (RFC 3551 §4.5.11), converted
//!   from the file's little-endian order once;
//! - a Matroska file's Opus track: its packets as they are, one per RTP packet (RFC 7587 §4.2),
//!   on the 48 kHz RTP clock (§4.1), each where the container times it.
//!
//! Positions are sample frames at the RTP clock rate on the video's timeline: position 0 plays
//! with the first frame. A container's sound may start before it (Opus' pre-skip: the
//! decoder's warm-up, RFC 7845 §4.2) or after it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use hdstream_common::audio::{self, Encoding, Format, OPUS_CLOCK_RATE, wav};
use hdstream_video::container;

/// Dynamic RTP payload type of L16 when the static ones (RFC 3551 §6: 10, 11 at 44.1 kHz) do
/// not fit.
pub const L16_PAYLOAD_TYPE: u8 = 96;
/// Dynamic RTP payload type of Opus (RFC 7587 §7: dynamic).
pub const OPUS_PAYLOAD_TYPE: u8 = 97;
/// The largest sound read into memory (an hour of 48 kHz stereo is 660 MiB; this is 30 min).
pub const MAX_BYTES: usize = 350 << 20;

/// A file's sound, ready to travel.
#[derive(Debug)]
pub struct Sound {
    /// How it travels: L16 at the source's rate and channels, or Opus.
    pub format: Format,
    body: Body,
}

/// The bytes as they travel.
#[derive(Debug)]
enum Body {
    /// L16 samples from position `start` on.
    L16 {
        payload: Vec<u8>,
        /// Bytes of one sample frame (every channel's sample at one instant).
        frame_bytes: usize,
        start: i64,
    },
    /// Opus packets, in time order.
    Opus {
        bytes: Vec<u8>,
        packets: Vec<OpusPacket>,
    },
}

/// One Opus packet of [`Body::Opus`].
#[derive(Debug, Clone)]
struct OpusPacket {
    bytes: Range<usize>,
    /// Position of its first decoded sample (48 kHz).
    start: i64,
    /// Samples it decodes to (48 kHz), from its TOC byte (RFC 6716 §3.1).
    samples: u32,
}

/// The next packet of a sound from some position: where it starts (at, before or after the
/// position asked), how many sample frames it covers and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'s> {
    /// Position of its first sample.
    pub start: i64,
    /// Sample frames it covers.
    pub frames: u64,
    /// The RTP payload.
    pub payload: &'s [u8],
}

impl Sound {
    /// The sound of a WAV file's bytes (16-bit PCM, any rate and channel count).
    pub fn from_wav(bytes: &[u8]) -> Result<Sound, wav::Error> {
        let wav = wav::parse(bytes)?;
        Ok(Sound::l16(
            wav.sample_rate,
            wav.channels,
            [wav.data(bytes)],
            0,
        ))
    }

    /// L16 from little-endian PCM `blocks` (concatenated, whole sample frames kept), starting
    /// at position `start`.
    fn l16<'b>(
        rate: u32,
        channels: u16,
        blocks: impl IntoIterator<Item = &'b [u8]>,
        start: i64,
    ) -> Sound {
        let frame_bytes = 2 * usize::from(channels.max(1));
        // Little-endian in the file, big-endian on the wire.
        let mut payload: Vec<u8> = blocks
            .into_iter()
            .flat_map(|b| b.chunks_exact(2).flat_map(|s| [s[1], s[0]]))
            .collect();
        payload.truncate(payload.len() - payload.len() % frame_bytes);
        Sound {
            format: l16(rate, channels),
            body: Body::L16 {
                payload,
                frame_bytes,
                start,
            },
        }
    }

    /// The sound of a Matroska or AVI file (`bytes`: the file, which `sound`'s packets are
    /// ranges of): PCM converted to L16, Opus packets copied as they are.
    pub fn from_container(bytes: &[u8], sound: &container::Sound) -> Result<Sound, String> {
        let size: usize = sound.packets.iter().map(|p| p.range.len()).sum();
        if size > MAX_BYTES {
            return Err(format!(
                "{size} bytes of sound is more than the {MAX_BYTES} read"
            ));
        }
        let piece = |r: &Range<usize>| bytes.get(r.clone()).unwrap_or_default();
        match sound.codec {
            container::Codec::PcmS16le => {
                let start = sound
                    .packets
                    .first()
                    .map_or(0, |p| ns_to_samples(p.time_ns, sound.rate));
                let blocks = sound.packets.iter().map(|p| piece(&p.range));
                Ok(Sound::l16(sound.rate, sound.channels, blocks, start))
            }
            container::Codec::Opus { .. } => {
                let mut out = Vec::with_capacity(size);
                let mut packets = Vec::with_capacity(sound.packets.len());
                for p in &sound.packets {
                    let data = piece(&p.range);
                    let samples = container::opus::samples(data)
                        .ok_or_else(|| format!("a bad Opus packet at byte {}", p.range.start))?;
                    let at = out.len();
                    out.extend_from_slice(data);
                    packets.push(OpusPacket {
                        bytes: at..out.len(),
                        start: ns_to_samples(p.time_ns, OPUS_CLOCK_RATE),
                        samples,
                    });
                }
                packets.sort_by_key(|p| p.start);
                Ok(Sound {
                    format: audio::Format::opus(OPUS_PAYLOAD_TYPE, sound.channels > 1),
                    body: Body::Opus {
                        bytes: out,
                        packets,
                    },
                })
            }
        }
    }

    /// The WAV file that goes with `mjpeg` (same name, `.wav`), if there is one.
    pub fn beside(mjpeg: &Path) -> Option<PathBuf> {
        let wav = mjpeg.with_extension("wav");
        wav.is_file().then_some(wav)
    }

    /// Reads the WAV file at `path`; the error names the file.
    pub fn open(path: &Path) -> Result<Sound, String> {
        let len = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if len > MAX_BYTES as u64 {
            return Err(format!(
                "{}: {len} bytes of sound is more than the {MAX_BYTES} read",
                path.display()
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Sound::from_wav(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The position of its first sample.
    pub fn start(&self) -> i64 {
        match &self.body {
            Body::L16 { start, .. } => *start,
            Body::Opus { packets, .. } => packets.first().map_or(0, |p| p.start),
        }
    }

    /// The position just past its last sample.
    pub fn end(&self) -> i64 {
        match &self.body {
            Body::L16 {
                payload,
                frame_bytes,
                start,
            } => start + (payload.len() / frame_bytes) as i64,
            Body::Opus { packets, .. } => packets
                .iter()
                .map(|p| p.start + i64::from(p.samples))
                .max()
                .unwrap_or(0),
        }
    }

    /// Its length in seconds.
    pub fn duration(&self) -> f64 {
        (self.end() - self.start()) as f64 / f64::from(self.format.clock_rate.max(1))
    }

    /// The packet that plays at `position` (for L16, `per_packet` sample frames from there,
    /// fewer at the end), or the first one after it when nothing plays there; `None` past the
    /// end.
    pub fn piece(&self, position: i64, per_packet: usize) -> Option<Piece<'_>> {
        match &self.body {
            Body::L16 {
                payload,
                frame_bytes,
                start,
            } => {
                let at = position.max(*start);
                let from = usize::try_from(at - start)
                    .ok()?
                    .checked_mul(*frame_bytes)?;
                let to = from
                    .saturating_add(per_packet.saturating_mul(*frame_bytes))
                    .min(payload.len());
                let payload = payload.get(from..to).filter(|p| !p.is_empty())?;
                Some(Piece {
                    start: at,
                    frames: (payload.len() / frame_bytes) as u64,
                    payload,
                })
            }
            Body::Opus { bytes, packets } => {
                // The last packet starting at or before `position`, if it still plays there.
                let after = packets.partition_point(|p| p.start <= position);
                let playing = after
                    .checked_sub(1)
                    .filter(|&k| position < packets[k].start + i64::from(packets[k].samples));
                let p = packets.get(playing.unwrap_or(after))?;
                Some(Piece {
                    start: p.start,
                    frames: u64::from(p.samples),
                    payload: bytes.get(p.bytes.clone())?,
                })
            }
        }
    }

    /// Whether it is L16.
    pub fn is_l16(&self) -> bool {
        self.format.encoding == Encoding::L16
    }
}

/// Nanoseconds as sample frames at `rate`, rounded.
fn ns_to_samples(ns: i64, rate: u32) -> i64 {
    (i128::from(ns) * i128::from(rate) / 1_000_000_000)
        .try_into()
        .unwrap_or(0)
}

/// L16 at `rate` and `channels`: a static payload type of RFC 3551 §6 where one fits (10, 11 at
/// 44.1 kHz), else [`L16_PAYLOAD_TYPE`].
pub fn l16(rate: u32, channels: u16) -> Format {
    let dynamic = Format {
        encoding: Encoding::L16,
        payload_type: L16_PAYLOAD_TYPE,
        clock_rate: rate,
        channels,
    };
    [10, 11]
        .into_iter()
        .filter_map(Format::static_payload)
        .find(|f| f.clock_rate == rate && f.channels == channels)
        .unwrap_or(dynamic)
}

/// A short WAV file's bytes (16-bit PCM), for tests.
pub fn wav_bytes(sample_rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = audio::wav::header(sample_rate, channels, len).to_vec();
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_travel_big_endian_and_packets_are_slices() {
        let samples: Vec<i16> = (0..960).map(|i| (i * 37 - 9000) as i16).collect();
        let sound = Sound::from_wav(&wav_bytes(48_000, 2, &samples)).unwrap();
        assert_eq!((sound.start(), sound.end()), (0, 480));
        assert_eq!(sound.format.clock_rate, 48_000);
        assert_eq!(sound.format.channels, 2);
        let p = sound.piece(10, 2).unwrap();
        assert_eq!((p.start, p.frames, p.payload.len()), (10, 2, 8));
        assert_eq!(p.payload[..2], samples[20].to_be_bytes());
        assert_eq!(
            sound.piece(479, 10).unwrap().payload.len(),
            4,
            "cut at the end"
        );
        assert_eq!(sound.piece(480, 10), None);
        assert_eq!(sound.piece(i64::MAX, 10), None);
        assert_eq!(
            sound.piece(-5, 2).unwrap().start,
            0,
            "before the start: the first"
        );
    }

    /// A container's sound: packets of `bytes` at their times.
    fn container_sound(
        codec: container::Codec,
        packets: &[(Range<usize>, i64)],
    ) -> container::Sound {
        container::Sound {
            codec,
            rate: 48_000,
            channels: 2,
            packets: packets
                .iter()
                .map(|(range, time_ns)| container::Packet {
                    range: range.clone(),
                    time_ns: *time_ns,
                })
                .collect(),
        }
    }

    #[test]
    fn a_container_s_pcm_becomes_l16_from_its_first_time() {
        let file: Vec<u8> = (0..64u8).collect();
        let c = container_sound(
            container::Codec::PcmS16le,
            &[(8..16, 1_000_000), (16..24, 0)],
        );
        let sound = Sound::from_container(&file, &c).unwrap();
        assert!(sound.is_l16());
        assert_eq!((sound.start(), sound.end()), (48, 52), "1 ms in, 4 frames");
        let p = sound.piece(0, 960).unwrap();
        assert_eq!(p.start, 48);
        assert_eq!(
            p.payload,
            [9, 8, 11, 10, 13, 12, 15, 14, 17, 16, 19, 18, 21, 20, 23, 22]
        );
    }

    #[test]
    fn opus_packets_pass_as_they_are_at_their_48_khz_times() {
        // Three 20 ms packets (TOC 0xFC: CELT FB 20 ms, one frame), the first 6.5 ms early.
        let mut file = vec![0u8; 4];
        for k in 0..3u8 {
            file.extend_from_slice(&[0xFC, k, k]);
        }
        let c = container_sound(
            container::Codec::Opus { pre_skip: 312 },
            &[
                (4..7, -6_500_000),
                (7..10, 13_500_000),
                (10..13, 33_500_000),
            ],
        );
        let sound = Sound::from_container(&file, &c).unwrap();
        assert_eq!(sound.format, Format::opus(OPUS_PAYLOAD_TYPE, true));
        assert_eq!((sound.start(), sound.end()), (-312, 3 * 960 - 312));
        let p = sound.piece(0, 960).unwrap();
        assert_eq!(
            (p.start, p.frames, p.payload),
            (-312, 960, &[0xFC, 0, 0][..])
        );
        assert_eq!(sound.piece(648, 960).unwrap().payload, [0xFC, 1, 1]);
        assert_eq!(sound.piece(-10_000, 960).unwrap().start, -312);
        assert_eq!(sound.piece(3 * 960 - 312, 960), None);
    }
}
