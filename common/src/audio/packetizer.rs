//! Interleaved 16-bit PCM → the payloads of audio RTP packets (RFC 3551 §4.5: L16, PCMU,
//! PCMA), a packet duration at a time.

use super::format::{Encoding, Format};
use super::{g711, l16};

/// The packet duration hdstream sends, ms: RFC 3551 §4.5's default for sample-based
/// encodings (and `a=ptime:20`, RFC 4566 §6).
pub const PTIME_MS: u32 = 20;

/// Why a packetizer cannot be made, or cannot write the samples it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketizeError {
    /// The encoding needs a codec this crate does not have (Opus: a libopus binding will).
    #[error("{0} needs an encoder; the packetizer writes L16, PCMU and PCMA")]
    Encoder(Encoding),
    /// The format has 0 channels.
    #[error("format with 0 channels")]
    Channels,
    /// The packet duration holds not one sample frame at the clock rate.
    #[error("packets of {ptime_ms} ms at {clock_rate} Hz hold no sample frame")]
    Duration {
        /// The packet duration asked for, ms.
        ptime_ms: u32,
        /// The format's clock rate, Hz.
        clock_rate: u32,
    },
    /// The maximum payload size cannot hold one sample frame.
    #[error("maximum payload of {max_payload} bytes cannot hold one {frame_len}-byte sample frame")]
    PayloadSize {
        /// The maximum payload size asked for.
        max_payload: usize,
        /// Bytes of one sample frame.
        frame_len: usize,
    },
    /// The PCM handed over ends in the middle of a sample frame.
    #[error("{samples} samples are not whole sample frames of {channels} channels")]
    PartialFrame {
        /// Interleaved samples handed over.
        samples: usize,
        /// Channels per frame.
        channels: u16,
    },
}

/// Cuts interleaved 16-bit PCM into RTP payloads of one format: `frames_per_packet` sample
/// frames each (the packet duration's worth, fewer if the maximum payload size says so), L16
/// as big-endian bytes (RFC 3551 §4.5.11), PCMU and PCMA as one G.711 byte per sample
/// (§4.5.14). It holds no state between packets: the caller keeps its place in the PCM and
/// advances the RTP timestamp by the frames each packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packetizer {
    format: Format,
    /// Bytes of one sample frame (cached from `format`).
    frame_len: usize,
    frames_per_packet: usize,
}

impl Packetizer {
    /// A packetizer for [`PTIME_MS`] packets of at most `max_payload` bytes.
    pub fn new(format: Format, max_payload: usize) -> Result<Packetizer, PacketizeError> {
        Self::with_ptime(format, PTIME_MS, max_payload)
    }

    /// A packetizer for packets of `ptime_ms` (rounded down to whole sample frames), fewer
    /// frames when `ptime_ms` of them would not fit `max_payload` bytes (L16 at 48 kHz stereo
    /// takes 3840 bytes in 20 ms: more than an Ethernet MTU).
    pub fn with_ptime(
        format: Format,
        ptime_ms: u32,
        max_payload: usize,
    ) -> Result<Packetizer, PacketizeError> {
        let frame_len = format
            .frame_len()
            .ok_or(PacketizeError::Encoder(format.encoding))?;
        if frame_len == 0 {
            return Err(PacketizeError::Channels);
        }
        let in_duration = format.samples_per_packet(ptime_ms) as usize;
        if in_duration == 0 {
            return Err(PacketizeError::Duration {
                ptime_ms,
                clock_rate: format.clock_rate,
            });
        }
        let fit = max_payload / frame_len;
        if fit == 0 {
            return Err(PacketizeError::PayloadSize {
                max_payload,
                frame_len,
            });
        }
        Ok(Packetizer {
            format,
            frame_len,
            frames_per_packet: in_duration.min(fit),
        })
    }

    /// The format written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Sample frames in a full packet: the RTP timestamp advance from one packet to the next.
    pub fn frames_per_packet(&self) -> usize {
        self.frames_per_packet
    }

    /// Bytes of a full packet's payload.
    pub fn payload_len(&self) -> usize {
        self.frames_per_packet * self.frame_len
    }

    /// Appends the payload of one packet to `out`: the first `frames_per_packet` sample frames
    /// of `pcm` (interleaved, `channels` samples a frame), or all of them if fewer. Returns the
    /// frames written — advance `pcm` by that many times `channels` and the RTP timestamp by
    /// that many. Empty `pcm` writes nothing and returns 0.
    pub fn write(&self, pcm: &[i16], out: &mut Vec<u8>) -> Result<usize, PacketizeError> {
        let channels = usize::from(self.format.channels);
        if !pcm.len().is_multiple_of(channels) {
            return Err(PacketizeError::PartialFrame {
                samples: pcm.len(),
                channels: self.format.channels,
            });
        }
        let frames = (pcm.len() / channels).min(self.frames_per_packet);
        let pcm = &pcm[..frames * channels];
        match self.format.encoding {
            Encoding::L16 => l16::write(pcm, out),
            Encoding::Pcmu => out.extend(pcm.iter().map(|&s| g711::encode_ulaw(s))),
            Encoding::Pcma => out.extend(pcm.iter().map(|&s| g711::encode_alaw(s))),
            Encoding::Opus => return Err(PacketizeError::Encoder(Encoding::Opus)),
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(encoding: Encoding, clock_rate: u32, channels: u16) -> Format {
        Format {
            encoding,
            payload_type: 96,
            clock_rate,
            channels,
        }
    }

    #[test]
    fn twenty_ms_packets() {
        let p = Packetizer::new(Format::static_payload(0).unwrap(), 1400).unwrap();
        assert_eq!((p.frames_per_packet(), p.payload_len()), (160, 160));
        // L16/44100 mono: 882 frames (1764 bytes) in 20 ms, more than 1400 bytes hold.
        let p = Packetizer::new(Format::static_payload(11).unwrap(), 1400).unwrap();
        assert_eq!((p.frames_per_packet(), p.payload_len()), (700, 1400));
        let p = Packetizer::new(Format::static_payload(11).unwrap(), 2000).unwrap();
        assert_eq!((p.frames_per_packet(), p.payload_len()), (882, 1764));
        let p = Packetizer::with_ptime(format(Encoding::Pcma, 8000, 2), 10, 1400).unwrap();
        assert_eq!((p.frames_per_packet(), p.payload_len()), (80, 160));
    }

    #[test]
    fn capped_by_the_maximum_payload() {
        // 48 kHz stereo L16: 960 frames of 4 bytes in 20 ms; 1400 bytes hold 350.
        let p = Packetizer::new(format(Encoding::L16, 48_000, 2), 1400).unwrap();
        assert_eq!((p.frames_per_packet(), p.payload_len()), (350, 1400));
        let p = Packetizer::new(format(Encoding::L16, 48_000, 2), 1403).unwrap();
        assert_eq!(p.payload_len(), 1400);
    }

    #[test]
    fn writes_l16_big_endian_and_g711() {
        let pcm = [0x0102, -2, 0, 1000];
        let mut out = vec![0xEE];
        let l16 = Packetizer::new(format(Encoding::L16, 8000, 2), 1400).unwrap();
        assert_eq!(l16.write(&pcm, &mut out), Ok(2));
        assert_eq!(out, [0xEE, 1, 2, 0xFF, 0xFE, 0, 0, 0x03, 0xE8]);

        let pcmu = Packetizer::new(format(Encoding::Pcmu, 8000, 1), 1400).unwrap();
        out.clear();
        assert_eq!(pcmu.write(&pcm, &mut out), Ok(4));
        let expected: Vec<u8> = pcm.iter().map(|&s| g711::encode_ulaw(s)).collect();
        assert_eq!(out, expected);

        let pcma = Packetizer::new(format(Encoding::Pcma, 8000, 4), 1400).unwrap();
        out.clear();
        assert_eq!(pcma.write(&pcm, &mut out), Ok(1));
        let expected: Vec<u8> = pcm.iter().map(|&s| g711::encode_alaw(s)).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn one_packet_at_a_time() {
        let p = Packetizer::with_ptime(format(Encoding::Pcmu, 1000, 2), 3, 1400).unwrap();
        assert_eq!(p.frames_per_packet(), 3);
        let pcm: Vec<i16> = (0..14).collect();
        let mut rest = &pcm[..];
        let mut sizes = Vec::new();
        while !rest.is_empty() {
            let mut out = Vec::new();
            let frames = p.write(rest, &mut out).unwrap();
            assert_eq!(out.len(), frames * 2);
            sizes.push(frames);
            rest = &rest[frames * 2..];
        }
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(p.write(&[], &mut Vec::new()), Ok(0));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Packetizer::new(Format::opus(96, true), 1400),
            Err(PacketizeError::Encoder(Encoding::Opus))
        );
        assert_eq!(
            PacketizeError::Encoder(Encoding::Opus).to_string(),
            "opus needs an encoder; the packetizer writes L16, PCMU and PCMA"
        );
        assert_eq!(
            Packetizer::new(format(Encoding::L16, 8000, 0), 1400),
            Err(PacketizeError::Channels)
        );
        assert_eq!(
            Packetizer::with_ptime(format(Encoding::L16, 8000, 1), 0, 1400),
            Err(PacketizeError::Duration {
                ptime_ms: 0,
                clock_rate: 8000
            })
        );
        assert_eq!(
            Packetizer::with_ptime(format(Encoding::L16, 10, 1), 20, 1400),
            Err(PacketizeError::Duration {
                ptime_ms: 20,
                clock_rate: 10
            })
        );
        assert_eq!(
            Packetizer::new(format(Encoding::L16, 8000, 2), 3),
            Err(PacketizeError::PayloadSize {
                max_payload: 3,
                frame_len: 4
            })
        );
        let p = Packetizer::new(format(Encoding::L16, 8000, 2), 1400).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            p.write(&[1, 2, 3], &mut out),
            Err(PacketizeError::PartialFrame {
                samples: 3,
                channels: 2
            })
        );
        assert!(out.is_empty());
    }
}
