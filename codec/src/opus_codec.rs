//! Opus through libopus (the `opus` crate, linked against the system's libopus): RFC 7587
//! says the RTP clock is always 48 kHz and a packet holds 2.5 to 120 ms; hdstream sends 20 ms.

use hdstream_common::audio::{Encoding, Format};

use crate::error::Error;

/// Sample frames in the longest Opus packet (120 ms at 48 kHz, RFC 6716 §3.2.5).
pub const MAX_FRAMES: usize = 5760;

fn channels(n: u16) -> Result<opus::Channels, Error> {
    match n {
        1 => Ok(opus::Channels::Mono),
        2 => Ok(opus::Channels::Stereo),
        n => Err(Error::Channels(n)),
    }
}

/// An Opus decoder for one stream.
pub(crate) struct OpusDecoder {
    inner: opus::Decoder,
    channels: usize,
    /// Sample frames in the last packet decoded: a lost one is concealed at that length.
    last_frames: usize,
    scratch: Vec<i16>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("channels", &self.channels)
            .field("last_frames", &self.last_frames)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder giving `format.channels` channels at 48 kHz.
    pub(crate) fn new(format: Format) -> Result<OpusDecoder, Error> {
        let inner = opus::Decoder::new(48_000, channels(format.channels)?)
            .map_err(|e| Error::Opus(e.to_string()))?;
        Ok(OpusDecoder {
            inner,
            channels: usize::from(format.channels),
            last_frames: 960,
            scratch: vec![0; MAX_FRAMES * usize::from(format.channels)],
        })
    }

    /// Decodes `payload` (one RTP packet's, RFC 7587 §4) onto `out`: sample frames added.
    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, Error> {
        let frames = self
            .inner
            .decode(payload, &mut self.scratch, false)
            .map_err(|e| Error::Opus(e.to_string()))?;
        self.last_frames = frames;
        out.extend_from_slice(&self.scratch[..frames * self.channels]);
        Ok(frames)
    }

    /// Conceals one lost packet (libopus's packet loss concealment) onto `out`.
    pub(crate) fn conceal(&mut self, out: &mut Vec<i16>) -> Result<usize, Error> {
        let want = self.last_frames.min(MAX_FRAMES);
        let buf = &mut self.scratch[..want * self.channels];
        let frames = self
            .inner
            .decode(&[], buf, false)
            .map_err(|e| Error::Opus(e.to_string()))?;
        out.extend_from_slice(&self.scratch[..frames * self.channels]);
        Ok(frames)
    }
}

/// An Opus encoder making 20 ms packets of 48 kHz sound.
pub struct OpusEncoder {
    inner: opus::Encoder,
    channels: usize,
    out: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("channels", &self.channels)
            .finish()
    }
}

impl OpusEncoder {
    /// Sample frames in one packet (20 ms at 48 kHz).
    pub const FRAMES: usize = 960;

    /// An encoder of `channels` (1 or 2) at 48 kHz, tuned for general audio at `bitrate` bit/s.
    pub fn new(channels_count: u16, bitrate: i32) -> Result<OpusEncoder, Error> {
        let mut inner =
            opus::Encoder::new(48_000, channels(channels_count)?, opus::Application::Audio)
                .map_err(|e| Error::Opus(e.to_string()))?;
        inner
            .set_bitrate(opus::Bitrate::Bits(bitrate))
            .map_err(|e| Error::Opus(e.to_string()))?;
        Ok(OpusEncoder {
            inner,
            channels: usize::from(channels_count),
            out: vec![0; 4000],
        })
    }

    /// The format it makes, on `payload_type` (RFC 7587 §7: `opus/48000/2`).
    pub fn format(&self, payload_type: u8) -> Format {
        Format {
            encoding: Encoding::Opus,
            payload_type,
            clock_rate: 48_000,
            channels: self.channels as u16,
        }
    }

    /// Encodes 20 ms ([`OpusEncoder::FRAMES`] sample frames, interleaved) into one packet's
    /// payload.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<&[u8], Error> {
        if pcm.len() != Self::FRAMES * self.channels {
            return Err(Error::Length {
                len: pcm.len(),
                expected: Self::FRAMES * self.channels,
            });
        }
        let n = self
            .inner
            .encode(pcm, &mut self.out)
            .map_err(|e| Error::Opus(e.to_string()))?;
        Ok(&self.out[..n])
    }
}
