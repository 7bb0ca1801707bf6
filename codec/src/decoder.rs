//! One decoder for every audio payload hdstream receives.

use hdstream_common::audio::{Depacketizer, Encoding, Format};

use crate::error::Error;
use crate::opus_codec::OpusDecoder;

/// A decoder of one stream's payloads.
#[derive(Debug)]
pub struct Decoder {
    inner: Inner,
    format: Format,
}

#[derive(Debug)]
enum Inner {
    /// L16, PCMU or PCMA (RFC 3551), decoded in `common`.
    Pcm(Depacketizer),
    /// Opus (RFC 7587) through libopus.
    Opus(Box<OpusDecoder>),
}

impl Decoder {
    /// A decoder of `format`.
    pub fn new(format: Format) -> Result<Decoder, Error> {
        let inner = match format.encoding {
            Encoding::Opus => Inner::Opus(Box::new(OpusDecoder::new(format)?)),
            _ => Inner::Pcm(Depacketizer::new(format)?),
        };
        Ok(Decoder { inner, format })
    }

    /// The format it decodes: its sample rate and channels are those of what comes out.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Decodes one packet's `payload` onto `out` (interleaved): sample frames added.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, Error> {
        match &mut self.inner {
            Inner::Pcm(d) => Ok(d.read(payload, out)?),
            Inner::Opus(d) => d.decode(payload, out),
        }
    }

    /// Conceals a lost packet of `frames` sample frames onto `out`: silence for PCM, libopus's
    /// concealment for Opus (which picks its own length, the last packet's).
    pub fn conceal(&mut self, frames: usize, out: &mut Vec<i16>) -> Result<usize, Error> {
        match &mut self.inner {
            Inner::Pcm(_) => {
                let channels = usize::from(self.format.channels);
                out.extend(std::iter::repeat_n(0, frames * channels));
                Ok(frames)
            }
            Inner::Opus(d) => d.conceal(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpusEncoder;

    /// 440 Hz at 48 kHz, stereo (the right channel half as loud).
    fn tone(frames: usize) -> Vec<i16> {
        (0..frames)
            .flat_map(|i| {
                let v = (i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin() * 10_000.0;
                [v as i16, (v / 2.0) as i16]
            })
            .collect()
    }

    #[test]
    fn opus_round_trip_keeps_the_tone_within_codec_error() {
        let pcm = tone(48_000);
        let mut enc = OpusEncoder::new(2, 96_000).unwrap();
        let mut dec = Decoder::new(enc.format(111)).unwrap();
        let mut out = Vec::new();
        for block in pcm.chunks_exact(OpusEncoder::FRAMES * 2) {
            let packet = enc.encode(block).unwrap().to_vec();
            assert_eq!(dec.decode(&packet, &mut out).unwrap(), 960);
        }
        assert_eq!(out.len(), pcm.len());
        // Opus delays by its look-ahead (312 samples at 48 kHz): compare past it.
        let delay = (0..1000)
            .min_by_key(|&d| {
                (0..2000)
                    .map(|i| {
                        (i64::from(out[2 * (i + d + 4000)]) - i64::from(pcm[2 * (i + 4000)])).abs()
                    })
                    .sum::<i64>()
            })
            .unwrap();
        let (mut signal, mut noise) = (0f64, 0f64);
        for i in 4000..40_000 {
            let a = f64::from(pcm[2 * i]);
            let b = f64::from(out[2 * (i + delay)]);
            signal += a * a;
            noise += (a - b) * (a - b);
        }
        let snr = 10.0 * (signal / noise).log10();
        assert!(snr > 20.0, "SNR {snr:.1} dB at delay {delay}");
    }

    #[test]
    fn a_lost_opus_packet_is_concealed_at_the_last_length() {
        let pcm = tone(9600);
        let mut enc = OpusEncoder::new(2, 64_000).unwrap();
        let mut dec = Decoder::new(enc.format(111)).unwrap();
        let mut out = Vec::new();
        let packet = enc.encode(&pcm[..1920]).unwrap().to_vec();
        dec.decode(&packet, &mut out).unwrap();
        assert_eq!(dec.conceal(960, &mut out).unwrap(), 960);
        assert_eq!(out.len(), 2 * 1920);
    }

    #[test]
    fn pcm_formats_decode_in_common_and_conceal_with_silence() {
        let format = Format::static_payload(0).unwrap();
        let mut dec = Decoder::new(format).unwrap();
        let mut out = Vec::new();
        assert_eq!(dec.decode(&[0xFF; 160], &mut out).unwrap(), 160);
        assert!(out.iter().all(|&s| s == 0));
        assert_eq!(dec.conceal(160, &mut out).unwrap(), 160);
        assert_eq!(out.len(), 320);
        let l16 = Format {
            encoding: Encoding::L16,
            payload_type: 96,
            clock_rate: 48_000,
            channels: 2,
        };
        let mut dec = Decoder::new(l16).unwrap();
        assert!(
            dec.decode(&[1, 2, 3], &mut out).is_err(),
            "not whole frames"
        );
    }

    #[test]
    fn garbage_opus_is_an_error_not_a_panic() {
        let mut dec = Decoder::new(Format::opus(111, true)).unwrap();
        let mut out = Vec::new();
        for len in [1usize, 3, 17, 400, 1500] {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = dec.decode(&junk, &mut out);
        }
    }
}
