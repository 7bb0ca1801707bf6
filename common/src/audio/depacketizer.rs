//! The payloads of audio RTP packets → interleaved 16-bit PCM (RFC 3551 §4.5: L16, PCMU,
//! PCMA).

use super::format::{Encoding, Format};
use super::{g711, l16};

/// Why a payload cannot be read, or a depacketizer cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DepacketizeError {
    /// The encoding needs a codec this crate does not have (Opus: a libopus binding will).
    #[error("{0} needs a decoder; the depacketizer reads L16, PCMU and PCMA")]
    Decoder(Encoding),
    /// The format has 0 channels.
    #[error("format with 0 channels")]
    Channels,
    /// The payload is not a whole number of sample frames.
    #[error(
        "{encoding} payload of {len} bytes: not a whole number of {frame_len}-byte sample \
         frames ({channels} channels)"
    )]
    Length {
        /// The encoding.
        encoding: Encoding,
        /// The payload's length.
        len: usize,
        /// Bytes of one sample frame; the length should be a multiple of it.
        frame_len: usize,
        /// Channels per frame.
        channels: u16,
    },
}

/// Reads the payloads of one format into interleaved 16-bit PCM: L16 from big-endian bytes
/// (RFC 3551 §4.5.11), PCMU and PCMA through G.711 (§4.5.14). Any number of sample frames a
/// packet is accepted (ffmpeg and GStreamer cut packets differently); an empty payload holds
/// none. It keeps no state: loss, reordering and timestamps are the RTP layer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depacketizer {
    format: Format,
    /// Bytes of one sample frame (cached from `format`).
    frame_len: usize,
}

impl Depacketizer {
    /// A depacketizer for `format`; Opus is refused (it needs a decoder).
    pub fn new(format: Format) -> Result<Depacketizer, DepacketizeError> {
        let frame_len = format
            .frame_len()
            .ok_or(DepacketizeError::Decoder(format.encoding))?;
        if frame_len == 0 {
            return Err(DepacketizeError::Channels);
        }
        Ok(Depacketizer { format, frame_len })
    }

    /// The format read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Sample frames in a payload of `payload_len` bytes: the RTP timestamp span it covers.
    pub fn samples_in(&self, payload_len: usize) -> Result<usize, DepacketizeError> {
        if !payload_len.is_multiple_of(self.frame_len) {
            return Err(DepacketizeError::Length {
                encoding: self.format.encoding,
                len: payload_len,
                frame_len: self.frame_len,
                channels: self.format.channels,
            });
        }
        Ok(payload_len / self.frame_len)
    }

    /// Appends the samples of one packet's payload to `out`, channels interleaved; returns the
    /// sample frames appended. A payload that is not whole frames appends nothing.
    pub fn read(&self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, DepacketizeError> {
        let frames = self.samples_in(payload.len())?;
        match self.format.encoding {
            Encoding::L16 => {
                l16::read(payload, out);
            }
            Encoding::Pcmu => out.extend(payload.iter().map(|&b| g711::decode_ulaw(b))),
            Encoding::Pcma => out.extend(payload.iter().map(|&b| g711::decode_alaw(b))),
            Encoding::Opus => return Err(DepacketizeError::Decoder(Encoding::Opus)),
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::Packetizer;
    use super::*;

    fn format(encoding: Encoding, channels: u16) -> Format {
        Format {
            encoding,
            payload_type: 97,
            clock_rate: 48_000,
            channels,
        }
    }

    #[test]
    fn l16_stereo() {
        let d = Depacketizer::new(format(Encoding::L16, 2)).unwrap();
        let mut out = vec![5];
        assert_eq!(
            d.read(&[0, 1, 0xFF, 0xFF, 0x80, 0, 0x7F, 0xFF], &mut out),
            Ok(2)
        );
        assert_eq!(out, [5, 1, -1, i16::MIN, i16::MAX]);
        assert_eq!(d.samples_in(8), Ok(2));
    }

    #[test]
    fn g711() {
        let d = Depacketizer::new(Format::static_payload(0).unwrap()).unwrap();
        let mut out = Vec::new();
        assert_eq!(d.read(&[0xFF, 0x00, 0x80], &mut out), Ok(3));
        assert_eq!(out, [0, -32124, 32124]);
        let d = Depacketizer::new(Format::static_payload(8).unwrap()).unwrap();
        out.clear();
        assert_eq!(d.read(&[0xD5, 0x55], &mut out), Ok(2));
        assert_eq!(out, [8, -8]);
    }

    #[test]
    fn any_packet_duration() {
        // ffmpeg cuts L16 to its maximum payload, GStreamer to ptime multiples: both are read.
        let d = Depacketizer::new(format(Encoding::L16, 2)).unwrap();
        for frames in [1, 160, 347, 362, 960, 4000] {
            let mut out = Vec::new();
            assert_eq!(d.read(&vec![0; frames * 4], &mut out), Ok(frames));
            assert_eq!(out.len(), frames * 2);
        }
    }

    #[test]
    fn empty_payload() {
        let d = Depacketizer::new(format(Encoding::Pcma, 2)).unwrap();
        let mut out = Vec::new();
        assert_eq!(d.read(&[], &mut out), Ok(0));
        assert!(out.is_empty());
        assert_eq!(d.samples_in(0), Ok(0));
    }

    #[test]
    fn partial_frames_are_errors() {
        let d = Depacketizer::new(format(Encoding::L16, 2)).unwrap();
        let mut out = Vec::new();
        let e = d.read(&[0; 7], &mut out).unwrap_err();
        assert_eq!(
            e,
            DepacketizeError::Length {
                encoding: Encoding::L16,
                len: 7,
                frame_len: 4,
                channels: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "L16 payload of 7 bytes: not a whole number of 4-byte sample frames (2 channels)"
        );
        assert!(out.is_empty());
        let mono = Depacketizer::new(format(Encoding::L16, 1)).unwrap();
        assert!(mono.read(&[0; 3], &mut out).is_err());
        let pcmu = Depacketizer::new(format(Encoding::Pcmu, 2)).unwrap();
        assert!(pcmu.read(&[0; 3], &mut out).is_err());
        assert_eq!(
            pcmu.samples_in(3).unwrap_err(),
            pcmu.read(&[0; 3], &mut out).unwrap_err()
        );
    }

    #[test]
    fn unsupported() {
        assert_eq!(
            Depacketizer::new(Format::opus(96, false)),
            Err(DepacketizeError::Decoder(Encoding::Opus))
        );
        assert_eq!(
            DepacketizeError::Decoder(Encoding::Opus).to_string(),
            "opus needs a decoder; the depacketizer reads L16, PCMU and PCMA"
        );
        assert_eq!(
            Depacketizer::new(format(Encoding::L16, 0)),
            Err(DepacketizeError::Channels)
        );
    }

    /// Interleaved PCM of 1..=3 channels, whole frames.
    fn pcm_strategy() -> impl Strategy<Value = (u16, Vec<i16>)> {
        (1u16..=3).prop_flat_map(|channels| {
            prop::collection::vec(any::<i16>(), 0..1200).prop_map(move |mut pcm| {
                pcm.truncate(pcm.len() / usize::from(channels) * usize::from(channels));
                (channels, pcm)
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Packetizer → depacketizer, packet by packet, gives the samples back: exactly for L16,
        /// as G.711's quantiser leaves them for PCMU and PCMA; the frame counts agree.
        #[test]
        fn packetizer_round_trip(
            encoding in prop_oneof![Just(Encoding::L16), Just(Encoding::Pcmu), Just(Encoding::Pcma)],
            (channels, pcm) in pcm_strategy(),
            ptime_ms in 1u32..=40,
            max_payload in 8usize..=1500,
        ) {
            let f = Format { encoding, payload_type: 96, clock_rate: 8000, channels };
            let packetizer = Packetizer::with_ptime(f, ptime_ms, max_payload).unwrap();
            let depacketizer = Depacketizer::new(f).unwrap();
            let mut back = Vec::new();
            let mut rest = &pcm[..];
            while !rest.is_empty() {
                let mut payload = Vec::new();
                let frames = packetizer.write(rest, &mut payload).unwrap();
                prop_assert!(frames >= 1 && frames <= packetizer.frames_per_packet());
                prop_assert!(payload.len() <= max_payload);
                prop_assert_eq!(depacketizer.samples_in(payload.len()), Ok(frames));
                prop_assert_eq!(depacketizer.read(&payload, &mut back), Ok(frames));
                rest = &rest[frames * usize::from(channels)..];
            }
            let expected: Vec<i16> = match encoding {
                Encoding::L16 => pcm.clone(),
                Encoding::Pcmu => pcm.iter().map(|&s| g711::decode_ulaw(g711::encode_ulaw(s))).collect(),
                _ => pcm.iter().map(|&s| g711::decode_alaw(g711::encode_alaw(s))).collect(),
            };
            prop_assert_eq!(back, expected);
        }

        /// Arbitrary payloads never panic, and append exactly the frames reported.
        #[test]
        fn arbitrary_payloads(
            encoding in prop_oneof![Just(Encoding::L16), Just(Encoding::Pcmu), Just(Encoding::Pcma)],
            channels in 1u16..=6,
            payload in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let d = Depacketizer::new(format(encoding, channels)).unwrap();
            let mut out = Vec::new();
            match d.read(&payload, &mut out) {
                Ok(frames) => prop_assert_eq!(out.len(), frames * usize::from(channels)),
                Err(_) => prop_assert!(out.is_empty()),
            }
        }
    }
}
