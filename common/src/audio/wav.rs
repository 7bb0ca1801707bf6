//! WAV files (RIFF/WAVE, 16-bit PCM), read from and written to bytes: the caller maps or reads
//! the file and writes what [`header`] gives.
//!
//! ```text
//! offset  field                      canonical 44-byte header (what `header` writes)
//!  0      "RIFF"  size (LE u32)      size = 36 + data bytes (+1 pad if odd)
//!  8      "WAVE"
//! 12      "fmt "  16                 chunk header
//! 20      format tag 1 (PCM)         0xFFFE: WAVE_FORMAT_EXTENSIBLE, with a 22-byte extension
//! 22      channels                   whose subformat GUID (at 44) says PCM
//! 24      sample rate
//! 28      byte rate = rate × block align
//! 32      block align = channels × 2
//! 34      bits per sample = 16
//! 36      "data"  size               then the samples: little-endian i16, channels interleaved
//! ```
//!
//! Chunks are `id`, little-endian `u32` size, body, and a pad byte after an odd-sized body
//! (RIFF, Microsoft's "Multimedia Programming Interface and Data Specifications 1.0");
//! chunks other than `fmt ` and `data` (`LIST`, `fact`, `PEAK`...) are skipped.

use std::ops::Range;

use super::l16;

/// Bytes of the canonical header [`header`] writes.
pub const HEADER_LEN: usize = 44;

/// Offset of the RIFF chunk's size field.
const RIFF_SIZE_OFFSET: usize = 4;
/// Offset of the `data` chunk's size field in the canonical header.
const DATA_SIZE_OFFSET: usize = 40;

/// Format tag of integer PCM.
const WAVE_FORMAT_PCM: u16 = 1;
/// Format tag of WAVE_FORMAT_EXTENSIBLE: the subformat GUID says the format.
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// KSDATAFORMAT_SUBTYPE_PCM, {00000001-0000-0010-8000-00AA00389B71}, as stored.
const SUBTYPE_PCM: [u8; 16] = [
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// A parsed WAV file: its format and where its samples are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Sample frames per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Bits per sample: always 16 (nothing else is read).
    pub bits: u16,
    /// Where the samples are in the parsed bytes: the `data` chunk's body, clamped to the end
    /// of the file and trimmed to whole sample frames.
    pub data: Range<usize>,
}

impl Wav {
    /// Bytes of one sample frame (the block align).
    pub fn frame_len(&self) -> usize {
        usize::from(self.channels) * 2
    }

    /// Sample frames in the data.
    pub fn frames(&self) -> usize {
        self.data.len() / self.frame_len().max(1)
    }

    /// The sample bytes (little-endian i16) within `bytes`, the bytes that were parsed; empty if
    /// `bytes` is shorter than that.
    pub fn data<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        bytes.get(self.data.clone()).unwrap_or_default()
    }

    /// Appends every sample of the file to `out`, channels interleaved; returns how many.
    pub fn read_samples(&self, bytes: &[u8], out: &mut Vec<i16>) -> usize {
        l16::read_le(self.data(bytes), out)
    }
}

/// What is wrong with a WAV file. Every variant names the byte offset of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The file ends inside a header.
    #[error("at byte {offset}: {what} needs {needed} bytes, {available} left")]
    Truncated {
        /// Where the header starts.
        offset: usize,
        /// Which header.
        what: &'static str,
        /// Its length.
        needed: usize,
        /// Bytes from `offset` to the end of the file.
        available: usize,
    },
    /// A four-character code that must be there is not (`RIFF`, `WAVE`).
    #[error("at byte {offset}: expected \"{expected}\", found \"{found}\"")]
    Signature {
        /// Where the code is.
        offset: usize,
        /// The code expected.
        expected: &'static str,
        /// The four bytes found, escaped.
        found: String,
    },
    /// An RF64 file (the WAV form for data over 4 GiB; EBU Tech 3306).
    #[error("at byte {offset}: RF64 (WAV over 4 GiB) is not read, only RIFF")]
    Rf64 {
        /// Where the code is.
        offset: usize,
    },
    /// A chunk whose size runs past the end of the file (other than `data`, which is clamped).
    #[error(
        "at byte {offset}: \"{id}\" chunk of {size} bytes runs past the end of the file ({available} bytes left)"
    )]
    Chunk {
        /// Where the chunk starts.
        offset: usize,
        /// Its four-character code, escaped.
        id: String,
        /// Its size field.
        size: u32,
        /// Bytes of body there are.
        available: usize,
    },
    /// A `fmt ` chunk too small for its format tag.
    #[error("at byte {offset}: fmt chunk of {size} bytes; its format needs {needed}")]
    FmtSize {
        /// Where the chunk's size field is.
        offset: usize,
        /// Its size.
        size: u32,
        /// The size the format tag needs (16, or 40 for WAVE_FORMAT_EXTENSIBLE).
        needed: u32,
    },
    /// A format tag other than PCM or WAVE_FORMAT_EXTENSIBLE.
    #[error(
        "at byte {offset}: format tag {tag:#06x}{}; only PCM (1) or WAVE_FORMAT_EXTENSIBLE \
         (0xfffe) with PCM subformat is read",
        tag_name(*.tag)
    )]
    FormatTag {
        /// Where the tag is.
        offset: usize,
        /// The tag.
        tag: u16,
    },
    /// A WAVE_FORMAT_EXTENSIBLE subformat other than PCM.
    #[error("at byte {offset}: WAVE_FORMAT_EXTENSIBLE subformat {subformat}; only PCM is read")]
    SubFormat {
        /// Where the GUID is.
        offset: usize,
        /// The subformat: a format tag when the GUID is one of the standard ones, else its hex.
        subformat: String,
    },
    /// A sample size other than 16 bits.
    #[error("at byte {offset}: fmt chunk says {bits} bits; only 16-bit PCM is read")]
    Bits {
        /// Where the bits per sample field is.
        offset: usize,
        /// Bits per sample.
        bits: u16,
    },
    /// Zero channels.
    #[error("at byte {offset}: fmt chunk says 0 channels")]
    Channels {
        /// Where the channel count is.
        offset: usize,
    },
    /// A sample rate of 0.
    #[error("at byte {offset}: fmt chunk says a sample rate of 0")]
    SampleRate {
        /// Where the sample rate is.
        offset: usize,
    },
    /// A block align that is not channels × 2 bytes.
    #[error("at byte {offset}: block align {block_align}, expected {expected} (channels × 2)")]
    BlockAlign {
        /// Where the block align is.
        offset: usize,
        /// The block align written.
        block_align: u16,
        /// Channels × 2.
        expected: u32,
    },
    /// A `data` chunk before any `fmt ` chunk.
    #[error("at byte {offset}: data chunk before any fmt chunk")]
    Order {
        /// Where the data chunk starts.
        offset: usize,
    },
    /// The file ends without a chunk it needs.
    #[error("at byte {offset}: end of file, and no \"{chunk}\" chunk")]
    Missing {
        /// The end of the file.
        offset: usize,
        /// The chunk missing (`fmt ` or `data`).
        chunk: &'static str,
    },
}

impl Error {
    /// The byte offset the error names.
    pub fn offset(&self) -> usize {
        match *self {
            Error::Truncated { offset, .. }
            | Error::Signature { offset, .. }
            | Error::Rf64 { offset }
            | Error::Chunk { offset, .. }
            | Error::FmtSize { offset, .. }
            | Error::FormatTag { offset, .. }
            | Error::SubFormat { offset, .. }
            | Error::Bits { offset, .. }
            | Error::Channels { offset }
            | Error::SampleRate { offset }
            | Error::BlockAlign { offset, .. }
            | Error::Order { offset }
            | Error::Missing { offset, .. } => offset,
        }
    }
}

/// The usual name of a format tag, for error messages.
fn tag_name(tag: u16) -> &'static str {
    match tag {
        2 => " (MS ADPCM)",
        3 => " (IEEE float)",
        6 => " (A-law)",
        7 => " (µ-law)",
        0x11 => " (IMA ADPCM)",
        0x55 => " (MPEG layer 3)",
        _ => "",
    }
}

/// What the `fmt ` chunk says.
#[derive(Debug, Clone, Copy)]
struct Fmt {
    channels: u16,
    sample_rate: u32,
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    // Callers checked the length.
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    // Callers checked the length.
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Four bytes as text for an error message.
fn fourcc(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Parses a WAV file held in `bytes`: the RIFF header, chunks up to `data`, skipping the ones it
/// does not need. Only 16-bit PCM is read (format tag 1, or WAVE_FORMAT_EXTENSIBLE with the PCM
/// subformat). A `data` size past the end of the file — 0xFFFFFFFF from ffmpeg writing to a pipe
/// — is clamped to the end; so is a size of 0, as ffmpeg's reader does, for writers that never
/// came back to fill it in. The RIFF size is not relied on, for the same reason.
pub fn parse(bytes: &[u8]) -> Result<Wav, Error> {
    if bytes.len() < 12 {
        return Err(Error::Truncated {
            offset: 0,
            what: "RIFF header",
            needed: 12,
            available: bytes.len(),
        });
    }
    match &bytes[0..4] {
        b"RIFF" => {}
        b"RF64" => return Err(Error::Rf64 { offset: 0 }),
        other => {
            return Err(Error::Signature {
                offset: 0,
                expected: "RIFF",
                found: fourcc(other),
            });
        }
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(Error::Signature {
            offset: 8,
            expected: "WAVE",
            found: fourcc(&bytes[8..12]),
        });
    }
    let mut fmt: Option<Fmt> = None;
    let mut pos = 12;
    loop {
        let available = bytes.len().saturating_sub(pos);
        if available == 0 {
            return Err(Error::Missing {
                offset: bytes.len(),
                chunk: if fmt.is_none() { "fmt " } else { "data" },
            });
        }
        if available < 8 {
            return Err(Error::Truncated {
                offset: pos,
                what: "chunk header",
                needed: 8,
                available,
            });
        }
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4);
        let body = pos + 8;
        let in_file = bytes.len() - body;
        if id == b"data" {
            let Some(fmt) = fmt else {
                return Err(Error::Order { offset: pos });
            };
            let mut len = match size {
                0 => in_file,
                n => in_file.min(n as usize),
            };
            len -= len % (usize::from(fmt.channels) * 2);
            return Ok(Wav {
                sample_rate: fmt.sample_rate,
                channels: fmt.channels,
                bits: 16,
                data: body..body + len,
            });
        }
        let size_usize = usize::try_from(size).unwrap_or(usize::MAX);
        if size_usize > in_file {
            return Err(Error::Chunk {
                offset: pos,
                id: fourcc(id),
                size,
                available: in_file,
            });
        }
        if id == b"fmt " && fmt.is_none() {
            fmt = Some(parse_fmt(&bytes[body..body + size_usize], pos)?);
        }
        // The pad byte after an odd-sized chunk; a missing one at the very end is forgiven.
        pos = body + size_usize + (size_usize & 1);
    }
}

/// The `fmt ` chunk whose header is at `offset`, from its body.
fn parse_fmt(body: &[u8], offset: usize) -> Result<Fmt, Error> {
    let at = offset + 8;
    let size = body.len() as u32;
    if body.len() < 16 {
        return Err(Error::FmtSize {
            offset: offset + 4,
            size,
            needed: 16,
        });
    }
    match u16_at(body, 0) {
        WAVE_FORMAT_PCM => {}
        WAVE_FORMAT_EXTENSIBLE => {
            if body.len() < 40 {
                return Err(Error::FmtSize {
                    offset: offset + 4,
                    size,
                    needed: 40,
                });
            }
            let guid = &body[24..40];
            if guid != SUBTYPE_PCM {
                let subformat = if guid[2..] == SUBTYPE_PCM[2..] {
                    let tag = u16_at(guid, 0);
                    format!("{tag:#06x}{}", tag_name(tag))
                } else {
                    guid.iter().map(|b| format!("{b:02x}")).collect()
                };
                return Err(Error::SubFormat {
                    offset: at + 24,
                    subformat,
                });
            }
        }
        tag => return Err(Error::FormatTag { offset: at, tag }),
    }
    let channels = u16_at(body, 2);
    let sample_rate = u32_at(body, 4);
    let block_align = u16_at(body, 12);
    let bits = u16_at(body, 14);
    if bits != 16 {
        return Err(Error::Bits {
            offset: at + 14,
            bits,
        });
    }
    if channels == 0 {
        return Err(Error::Channels { offset: at + 2 });
    }
    if sample_rate == 0 {
        return Err(Error::SampleRate { offset: at + 4 });
    }
    let expected = u32::from(channels) * 2;
    if u32::from(block_align) != expected {
        return Err(Error::BlockAlign {
            offset: at + 12,
            block_align,
            expected,
        });
    }
    Ok(Fmt {
        channels,
        sample_rate,
    })
}

/// A canonical 44-byte header for `data_len` bytes of 16-bit PCM (format tag 1) at
/// `sample_rate` with `channels` interleaved (at most 32767: the block align is 16 bits).
/// The samples follow, little-endian, then a pad byte if `data_len` is odd. When the length is
/// not known yet, write 0 or `u32::MAX` (as ffmpeg does on a pipe: [`parse`] reads to the end of
/// the file) and fill in the sizes at the end with [`size_fields`] or [`patch_sizes`].
pub fn header(sample_rate: u32, channels: u16, data_len: u32) -> [u8; HEADER_LEN] {
    let block_align = channels.saturating_mul(2);
    let mut h = [0; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&WAVE_FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    let byte_rate = sample_rate.saturating_mul(u32::from(block_align));
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    patch_sizes(&mut h, data_len);
    h
}

/// The two size fields of a canonical header for `data_len` bytes of samples, as (offset,
/// bytes) to write over it: the RIFF size (36 + data + pad byte, saturating) at 4 and the
/// `data` size at 40. For a writer that seeks back once the samples are written.
pub fn size_fields(data_len: u32) -> [(usize, [u8; 4]); 2] {
    let riff = (HEADER_LEN as u32 - 8)
        .saturating_add(data_len)
        .saturating_add(data_len & 1);
    [
        (RIFF_SIZE_OFFSET, riff.to_le_bytes()),
        (DATA_SIZE_OFFSET, data_len.to_le_bytes()),
    ]
}

/// Writes the size fields for `data_len` bytes of samples into a canonical header.
pub fn patch_sizes(header: &mut [u8; HEADER_LEN], data_len: u32) {
    for (at, field) in size_fields(data_len) {
        header[at..at + 4].copy_from_slice(&field);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What `ffmpeg -f lavfi -i sine=frequency=440:duration=0.1 -ac 2 -ar 48000 x.wav` writes
    /// before the samples (libavformat wavenc + riffenc): a 16-byte PCMWAVEFORMAT, a LIST/INFO
    /// chunk naming the muxer (ISFT), and `data` at byte 70, samples from 78. 4800 frames of 4
    /// bytes: data size 19200, RIFF size 78 − 8 + 19200 = 19270. Written by hand from that
    /// layout (the build machine has no ffmpeg); the samples here are cut short.
    const FFMPEG_HEADER: [u8; 78] = [
        b'R', b'I', b'F', b'F', 0x46, 0x4B, 0x00, 0x00, b'W', b'A', b'V',
        b'E', // RIFF 19270 WAVE
        b'f', b'm', b't', b' ', 0x10, 0x00, 0x00, 0x00, // fmt, 16 bytes
        0x01, 0x00, 0x02, 0x00, // PCM, 2 channels
        0x80, 0xBB, 0x00, 0x00, // 48000 Hz
        0x00, 0xEE, 0x02, 0x00, // 192000 bytes/s
        0x04, 0x00, 0x10, 0x00, // block align 4, 16 bits
        b'L', b'I', b'S', b'T', 0x1A, 0x00, 0x00, 0x00, b'I', b'N', b'F',
        b'O', // LIST 26 INFO
        b'I', b'S', b'F', b'T', 0x0E, 0x00, 0x00, 0x00, // ISFT, 14 bytes
        b'L', b'a', b'v', b'f', b'6', b'0', b'.', b'1', b'6', b'.', b'1', b'0', b'0', 0x00, b'd',
        b'a', b't', b'a', 0x00, 0x4B, 0x00, 0x00, // data, 19200 bytes
    ];

    /// Two stereo frames and half of a third.
    const SAMPLES: [u8; 10] = [0x00, 0x00, 0x00, 0x00, 0xEC, 0x00, 0xEC, 0x00, 0xD7, 0x01];

    fn ffmpeg_file(pipe: bool) -> Vec<u8> {
        let mut file = FFMPEG_HEADER.to_vec();
        if pipe {
            // On a pipe ffmpeg cannot seek back: both sizes stay 0xFFFFFFFF.
            file[4..8].copy_from_slice(&[0xFF; 4]);
            file[74..78].copy_from_slice(&[0xFF; 4]);
        }
        file.extend_from_slice(&SAMPLES);
        file
    }

    #[test]
    fn ffmpeg_file_clamped_and_trimmed() {
        for pipe in [false, true] {
            let file = ffmpeg_file(pipe);
            let wav = parse(&file).unwrap();
            assert_eq!(
                wav,
                Wav {
                    sample_rate: 48_000,
                    channels: 2,
                    bits: 16,
                    data: 78..86,
                },
                "pipe: {pipe}"
            );
            assert_eq!(wav.frames(), 2);
            let mut samples = Vec::new();
            assert_eq!(wav.read_samples(&file, &mut samples), 4);
            assert_eq!(samples, [0, 0, 236, 236]);
        }
    }

    #[test]
    fn extensible_pcm() {
        // ffmpeg writes WAVE_FORMAT_EXTENSIBLE above 48 kHz or 2 channels.
        let mut file = b"RIFF\0\0\0\0WAVEfmt \x28\0\0\0".to_vec();
        file.extend_from_slice(&0xFFFEu16.to_le_bytes());
        file.extend_from_slice(&2u16.to_le_bytes());
        file.extend_from_slice(&96_000u32.to_le_bytes());
        file.extend_from_slice(&384_000u32.to_le_bytes());
        file.extend_from_slice(&[4, 0, 16, 0, 22, 0, 16, 0, 3, 0, 0, 0]);
        file.extend_from_slice(&SUBTYPE_PCM);
        file.extend_from_slice(b"data\x04\0\0\0\x01\x00\x02\x00");
        let wav = parse(&file).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (96_000, 2));
        assert_eq!(wav.data, 68..72);

        let mut float = file.clone();
        float[44] = 3;
        assert_eq!(
            parse(&float).unwrap_err().to_string(),
            "at byte 44: WAVE_FORMAT_EXTENSIBLE subformat 0x0003 (IEEE float); only PCM is read"
        );
        let mut odd = file.clone();
        odd[50] = 0x55;
        assert_eq!(
            parse(&odd).unwrap_err().to_string(),
            "at byte 44: WAVE_FORMAT_EXTENSIBLE subformat \
             0100000000005500800000aa00389b71; only PCM is read"
        );
        let mut short = file;
        short[16] = 18;
        short.truncate(20 + 18);
        short.extend_from_slice(b"data\0\0\0\0");
        assert_eq!(
            parse(&short),
            Err(Error::FmtSize {
                offset: 16,
                size: 18,
                needed: 40
            })
        );
    }

    #[test]
    fn unknown_chunks_skipped_with_pad_bytes() {
        let mut file = b"RIFF\0\0\0\0WAVE".to_vec();
        // An odd-sized chunk and its pad byte, before and after fmt.
        file.extend_from_slice(b"junk\x03\0\0\0abc\0");
        file.extend_from_slice(&header(8000, 1, 4)[12..36]);
        file.extend_from_slice(b"fact\x04\0\0\0\x02\0\0\0");
        file.extend_from_slice(b"data\x04\0\0\0\x01\x00\xFF\xFF");
        file.extend_from_slice(b"LIST\x04\0\0\0INFO");
        let wav = parse(&file).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (8000, 1));
        let mut samples = Vec::new();
        wav.read_samples(&file, &mut samples);
        assert_eq!(samples, [1, -1]);
    }

    #[test]
    fn data_size_zero_reads_to_the_end() {
        // A writer that never came back to fill in the size (ffmpeg's reader does the same).
        let mut file = header(8000, 1, 0).to_vec();
        file.extend_from_slice(&[1, 0, 2, 0, 3]);
        assert_eq!(parse(&file).unwrap().data, 44..48);
        assert_eq!(parse(&header(8000, 1, 0)).unwrap().data, 44..44);
    }

    #[test]
    fn odd_data_length_trimmed_to_frames() {
        let mut file = header(8000, 2, 7).to_vec();
        file.extend_from_slice(&[1, 0, 2, 0, 3, 0, 4, 0]);
        let wav = parse(&file).unwrap();
        assert_eq!(wav.data, 44..48);
        assert_eq!(wav.frames(), 1);
    }

    #[test]
    fn errors_name_the_byte() {
        let good = {
            let mut f = header(44_100, 2, 4).to_vec();
            f.extend_from_slice(&[0; 4]);
            f
        };
        parse(&good).unwrap();
        let with = |at: usize, bytes: &[u8]| {
            let mut f = good.clone();
            f[at..at + bytes.len()].copy_from_slice(bytes);
            parse(&f).unwrap_err()
        };
        assert_eq!(
            with(34, &[24, 0]).to_string(),
            "at byte 34: fmt chunk says 24 bits; only 16-bit PCM is read"
        );
        assert_eq!(
            with(20, &[3, 0]).to_string(),
            "at byte 20: format tag 0x0003 (IEEE float); only PCM (1) or \
             WAVE_FORMAT_EXTENSIBLE (0xfffe) with PCM subformat is read"
        );
        assert_eq!(
            with(20, &[0x99, 0]).to_string(),
            "at byte 20: format tag 0x0099; only PCM (1) or \
             WAVE_FORMAT_EXTENSIBLE (0xfffe) with PCM subformat is read"
        );
        assert_eq!(with(22, &[0, 0]), Error::Channels { offset: 22 });
        assert_eq!(with(24, &[0, 0, 0, 0]), Error::SampleRate { offset: 24 });
        assert_eq!(
            with(32, &[2, 0]).to_string(),
            "at byte 32: block align 2, expected 4 (channels × 2)"
        );
        assert_eq!(
            with(0, b"RIFX").to_string(),
            "at byte 0: expected \"RIFF\", found \"RIFX\""
        );
        assert_eq!(with(0, b"RF64"), Error::Rf64 { offset: 0 });
        assert_eq!(
            with(8, b"AVI\x01").to_string(),
            "at byte 8: expected \"WAVE\", found \"AVI\\x01\""
        );
        assert_eq!(
            with(16, &[0x20, 0, 0, 0]).to_string(),
            "at byte 12: \"fmt \" chunk of 32 bytes runs past the end of the file (28 bytes left)"
        );
        assert_eq!(
            with(16, &[14, 0, 0, 0]),
            Error::FmtSize {
                offset: 16,
                size: 14,
                needed: 16
            }
        );
        assert_eq!(with(12, b"data"), Error::Order { offset: 12 });
        // A chunk that is not quite `data` is skipped like any other.
        assert_eq!(
            with(36, b"dat\0").to_string(),
            "at byte 48: end of file, and no \"data\" chunk"
        );
        assert_eq!(
            parse(&good[..36]).unwrap_err().to_string(),
            "at byte 36: end of file, and no \"data\" chunk"
        );
        assert_eq!(
            parse(&good[..12]),
            Err(Error::Missing {
                offset: 12,
                chunk: "fmt "
            })
        );
        assert_eq!(
            parse(&good[..40]).unwrap_err().to_string(),
            "at byte 36: chunk header needs 8 bytes, 4 left"
        );
        assert_eq!(
            parse(b"RIFF"),
            Err(Error::Truncated {
                offset: 0,
                what: "RIFF header",
                needed: 12,
                available: 4
            })
        );
        assert_eq!(with(34, &[8, 0]).offset(), 34);
    }

    #[test]
    fn every_prefix_of_a_file() {
        let file = ffmpeg_file(false);
        for end in 0..=file.len() {
            match parse(&file[..end]) {
                Ok(wav) => {
                    assert!(end >= 78);
                    assert_eq!(wav.data, 78..78 + (end - 78) / 4 * 4);
                }
                Err(e) => {
                    assert!(end < 78, "{end}: {e}");
                    assert!(e.offset() <= end, "{end}: {e}");
                }
            }
        }
    }

    #[test]
    fn canonical_header() {
        let h = header(8000, 1, 3);
        assert_eq!(&h[..4], b"RIFF");
        assert_eq!(u32_at(&h, 4), 36 + 3 + 1);
        assert_eq!(u32_at(&h, 28), 16_000);
        assert_eq!(u16_at(&h, 32), 2);
        assert_eq!(u32_at(&h, 40), 3);
        let mut h = header(48_000, 2, u32::MAX);
        assert_eq!(u32_at(&h, 4), u32::MAX);
        patch_sizes(&mut h, 19_200);
        assert_eq!(h[..], header(48_000, 2, 19_200)[..]);
        assert_eq!(
            size_fields(19_200),
            [(4, 19_236u32.to_le_bytes()), (40, 19_200u32.to_le_bytes())]
        );
    }

    proptest! {
        /// header → parse gives the format back and the samples written, trimmed to frames.
        #[test]
        fn header_round_trip(
            sample_rate in 1u32..,
            channels in 1u16..=32_767,
            samples in prop::collection::vec(any::<i16>(), 0..256),
            extra in 0usize..4,
        ) {
            let mut file = header(sample_rate, channels, (samples.len() * 2) as u32).to_vec();
            file.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
            // Bytes after the data are not samples (but a data size of 0 reads to the end).
            if !samples.is_empty() {
                file.extend(std::iter::repeat_n(0xAB, extra));
            }
            let wav = parse(&file).unwrap();
            prop_assert_eq!((wav.sample_rate, wav.channels, wav.bits), (sample_rate, channels, 16));
            let whole = samples.len() / usize::from(channels) * usize::from(channels);
            prop_assert_eq!(wav.data.clone(), HEADER_LEN..HEADER_LEN + whole * 2);
            let mut back = Vec::new();
            prop_assert_eq!(wav.read_samples(&file, &mut back), whole);
            prop_assert_eq!(&back[..], &samples[..whole]);
        }

        /// Arbitrary bytes after a RIFF/WAVE header never panic, and a parse stays in bounds.
        #[test]
        fn arbitrary_chunks(rest in prop::collection::vec(any::<u8>(), 0..128)) {
            let mut file = b"RIFF\xFF\xFF\xFF\xFFWAVE".to_vec();
            file.extend_from_slice(&rest);
            match parse(&file) {
                Ok(wav) => prop_assert!(wav.data.end <= file.len()),
                Err(e) => prop_assert!(e.offset() <= file.len()),
            }
        }
    }
}
