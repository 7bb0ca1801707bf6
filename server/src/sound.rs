//! The sound of a file: a WAV file beside it (`clip.wav` for `clip.mjpeg`), read once when the
//! file is opened and kept as it travels — L16, big-endian 16-bit samples, channels interleaved
//! (RFC 3551 §4.5.11) — so that a packet is a slice of it, cut as it leaves, with no per-packet
//! conversion.

use std::path::{Path, PathBuf};

use hdstream_common::audio::{self, Encoding, Format, wav};

/// Dynamic RTP payload type of L16 when the static ones (RFC 3551 §6: 10, 11 at 44.1 kHz) do
/// not fit.
pub const L16_PAYLOAD_TYPE: u8 = 96;
/// The largest sound read into memory (an hour of 48 kHz stereo is 660 MiB; this is 30 min).
pub const MAX_BYTES: usize = 350 << 20;

/// A file's sound, ready to travel.
#[derive(Debug)]
pub struct Sound {
    /// How it travels: L16 at the WAV's rate and channels.
    pub format: Format,
    /// The samples as they travel.
    payload: Vec<u8>,
    /// Bytes of one sample frame (every channel's sample at one instant).
    frame_bytes: usize,
}

impl Sound {
    /// The sound of a WAV file's bytes (16-bit PCM, any rate and channel count).
    pub fn from_wav(bytes: &[u8]) -> Result<Sound, wav::Error> {
        let wav = wav::parse(bytes)?;
        let data = wav.data(bytes);
        let format = l16(wav.sample_rate, wav.channels);
        let frame_bytes = 2 * usize::from(wav.channels.max(1));
        let whole = data.len() - data.len() % frame_bytes;
        // Little-endian in the file, big-endian on the wire.
        let payload = data[..whole]
            .chunks_exact(2)
            .flat_map(|s| [s[1], s[0]])
            .collect();
        Ok(Sound {
            format,
            payload,
            frame_bytes,
        })
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

    /// Sample frames it holds.
    pub fn frames(&self) -> u64 {
        (self.payload.len() / self.frame_bytes) as u64
    }

    /// Its length in seconds.
    pub fn duration(&self) -> f64 {
        self.frames() as f64 / f64::from(self.format.clock_rate.max(1))
    }

    /// The payload of `count` sample frames from frame `start` (fewer at the end).
    pub fn payload(&self, start: u64, count: usize) -> &[u8] {
        let total = self.payload.len();
        let from = usize::try_from(start)
            .ok()
            .and_then(|s| s.checked_mul(self.frame_bytes))
            .unwrap_or(total)
            .min(total);
        let to = from
            .saturating_add(count.saturating_mul(self.frame_bytes))
            .min(total);
        &self.payload[from..to]
    }

    /// Bytes of one sample frame on the wire.
    pub fn frame_bytes(&self) -> usize {
        self.frame_bytes
    }

    /// Whether it is L16 (the only encoding files are sent in today).
    pub fn is_l16(&self) -> bool {
        self.format.encoding == Encoding::L16
    }
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
        assert_eq!(sound.frames(), 480);
        assert_eq!(sound.format.clock_rate, 48_000);
        assert_eq!(sound.format.channels, 2);
        let p = sound.payload(10, 2);
        assert_eq!(p.len(), 8);
        assert_eq!(p[..2], samples[20].to_be_bytes());
        assert_eq!(sound.payload(479, 10).len(), 4, "cut at the end");
        assert!(sound.payload(u64::MAX, 10).is_empty());
    }
}
