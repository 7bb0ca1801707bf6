//! What a container needs to know of Opus: its identification header (RFC 7845 §5.1,
//! `OpusHead`, Matroska's CodecPrivate for `A_OPUS`) and how long a packet plays, from its TOC
//! byte (RFC 6716 §3.1).

/// The identification header's fields a server needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Output channels (1 or 2 for mapping family 0).
    pub channels: u8,
    /// Samples at 48 kHz to discard from the decoder's output at the start.
    pub pre_skip: u16,
    /// The sample rate of the encoder's input (informational).
    pub input_rate: u32,
}

/// Why bytes are not an `OpusHead` this crate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not `OpusHead` and at least 19 bytes (RFC 7845 §5.1).
    #[error("not an OpusHead of 19 bytes or more")]
    Malformed,
    /// Major version not 0 (RFC 7845 §5.1: versions 16 and up are incompatible).
    #[error("OpusHead version {0}")]
    Version(u8),
    /// A channel mapping family other than 0 (mono or stereo, RFC 7845 §5.1.1.1).
    #[error("Opus channel mapping family {0} ({1} channels); only mono and stereo")]
    Mapping(u8, u8),
}

/// Reads an `OpusHead` (RFC 7845 §5.1).
pub fn head(bytes: &[u8]) -> Result<Head, HeadError> {
    if bytes.len() < 19 || !bytes.starts_with(b"OpusHead") {
        return Err(HeadError::Malformed);
    }
    let version = bytes[8];
    if version >> 4 != 0 {
        return Err(HeadError::Version(version));
    }
    let channels = bytes[9];
    let pre_skip = u16::from_le_bytes([bytes[10], bytes[11]]);
    let input_rate = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let family = bytes[18];
    if family != 0 || !(1..=2).contains(&channels) {
        return Err(HeadError::Mapping(family, channels));
    }
    Ok(Head {
        channels,
        pre_skip,
        input_rate,
    })
}

/// Samples at 48 kHz an Opus packet decodes to (RFC 6716 §3.1: the TOC byte's configuration
/// gives the frame size, its code the frame count); `None` for an empty or malformed packet.
pub fn samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz samples (RFC 6716 §3.1, Table 2).
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 0b11 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3F),
    };
    let total = frame * frames;
    // At most 120 ms in one packet (RFC 6716 §3.2.5: R5).
    (frames > 0 && total <= 5760).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_the_toc() {
        // CELT FB 20 ms, one frame (ffmpeg's libopus default).
        assert_eq!(samples(&[0xFC, 1, 2]), Some(960));
        // SILK NB 60 ms, two frames.
        assert_eq!(samples(&[(3 << 3) | 1]), Some(5760));
        // Code 3, 3 frames of 2.5 ms.
        assert_eq!(samples(&[16 << 3 | 3, 3]), Some(360));
        assert_eq!(samples(&[16 << 3 | 3, 0]), None, "no frames");
        assert_eq!(samples(&[3 << 3 | 3, 3]), None, "180 ms");
        assert_eq!(samples(&[0xFF]), None, "code 3 without its count");
        assert_eq!(samples(&[]), None);
    }

    #[test]
    fn reads_an_opus_head() {
        let mut h = b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0".to_vec();
        assert_eq!(
            head(&h),
            Ok(Head {
                channels: 2,
                pre_skip: 312,
                input_rate: 48_000
            })
        );
        h[18] = 1;
        assert_eq!(head(&h), Err(HeadError::Mapping(1, 2)));
        assert_eq!(head(&h[..10]), Err(HeadError::Malformed));
    }
}
