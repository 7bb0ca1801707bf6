//! What an audio RTP stream carries: encoding, payload type, clock rate, channels — read from
//! and written to SDP (RFC 4566 §6 `a=rtpmap`, `a=fmtp`), with the static payload types of
//! RFC 3551 §6.

use std::fmt;

use crate::sdp::{Attribute, Media, RtpMap};

/// An audio encoding hdstream knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Linear 16-bit PCM, big-endian, interleaved channels (RFC 3551 §4.5.11).
    L16,
    /// G.711 µ-law, one byte per sample (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law, one byte per sample (RFC 3551 §4.5.14).
    Pcma,
    /// Opus (RFC 7587); carried but not coded in this crate.
    Opus,
}

impl Encoding {
    /// The encoding name as written in `a=rtpmap` (RFC 3551 §6, RFC 7587 §7).
    pub fn name(self) -> &'static str {
        match self {
            Self::L16 => "L16",
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::Opus => "opus",
        }
    }

    /// The encoding an `a=rtpmap` name means, in any case (GStreamer writes `OPUS`).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::L16, Self::Pcmu, Self::Pcma, Self::Opus]
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Bytes per sample of one channel; `None` for Opus, whose frames vary in size.
    pub fn bytes_per_sample(self) -> Option<usize> {
        match self {
            Self::L16 => Some(2),
            Self::Pcmu | Self::Pcma => Some(1),
            Self::Opus => None,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The RTP clock rate Opus always uses, whatever the audio's own rate (RFC 7587 §4.1).
pub const OPUS_CLOCK_RATE: u32 = 48_000;

/// One audio RTP payload format: what `a=rtpmap` (or a static payload type) says.
///
/// For Opus, `channels` is what the decoded output should have (1, or 2 when the fmtp says
/// `sprop-stereo=1`); the rtpmap itself always says `opus/48000/2` (RFC 7587 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    /// The encoding.
    pub encoding: Encoding,
    /// The RTP payload type (0..=127).
    pub payload_type: u8,
    /// The RTP clock rate, Hz: sample frames per second (48000 for Opus).
    pub clock_rate: u32,
    /// Interleaved channels (the rtpmap's encoding parameter; 1 when it has none).
    pub channels: u16,
}

/// RFC 3551 §6, Table 4: the static audio payload types hdstream reads and writes.
const STATIC: [Format; 4] = [
    Format {
        encoding: Encoding::Pcmu,
        payload_type: 0,
        clock_rate: 8000,
        channels: 1,
    },
    Format {
        encoding: Encoding::Pcma,
        payload_type: 8,
        clock_rate: 8000,
        channels: 1,
    },
    Format {
        encoding: Encoding::L16,
        payload_type: 10,
        clock_rate: 44_100,
        channels: 2,
    },
    Format {
        encoding: Encoding::L16,
        payload_type: 11,
        clock_rate: 44_100,
        channels: 1,
    },
];

/// Why a media section offers no audio format hdstream can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// No payload type in the `m=` line is a static one of RFC 3551 §6 (0, 8, 10, 11) or has an
    /// `a=rtpmap` naming L16, PCMU, PCMA or opus. A dynamic type without rtpmap is unknown (what
    /// ffmpeg sends for `pcm_s16le`: little-endian samples, not L16).
    #[error("no L16, PCMU, PCMA or opus payload type in the m= line: {offered}")]
    Unsupported {
        /// Each payload type offered, with its rtpmap or "no rtpmap".
        offered: String,
    },
    /// An rtpmap's encoding parameter is not a channel count of 1 or more.
    #[error("a=rtpmap for payload type {payload_type}: channels {value:?}, expected a number >= 1")]
    Channels {
        /// The payload type.
        payload_type: u8,
        /// The encoding parameter as written.
        value: String,
    },
    /// An rtpmap's clock rate is 0, or not 48000 for Opus (RFC 7587 §7).
    #[error(
        "a=rtpmap for payload type {payload_type}: clock rate {clock_rate}, expected {expected}"
    )]
    ClockRate {
        /// The payload type.
        payload_type: u8,
        /// The clock rate as written.
        clock_rate: u32,
        /// What it should be.
        expected: &'static str,
    },
}

impl Format {
    /// The static payload type `pt` of RFC 3551 §6 if it is one of PCMU/8000/1 (0),
    /// PCMA/8000/1 (8), L16/44100/2 (10) or L16/44100/1 (11).
    pub fn static_payload(pt: u8) -> Option<Format> {
        STATIC.into_iter().find(|f| f.payload_type == pt)
    }

    /// Opus on payload type `payload_type` at 48 kHz, decoded as stereo or mono (RFC 7587).
    pub fn opus(payload_type: u8, stereo: bool) -> Format {
        Format {
            encoding: Encoding::Opus,
            payload_type,
            clock_rate: OPUS_CLOCK_RATE,
            channels: if stereo { 2 } else { 1 },
        }
    }

    /// Whether this format is exactly its payload type's static entry (RFC 3551 §6), so that
    /// SDP may leave out its `a=rtpmap`.
    pub fn is_static(&self) -> bool {
        Self::static_payload(self.payload_type) == Some(*self)
    }

    /// Bytes of one sample frame (one sample of every channel); `None` for Opus.
    pub fn frame_len(&self) -> Option<usize> {
        self.encoding
            .bytes_per_sample()
            .map(|b| b * usize::from(self.channels))
    }

    /// Sample frames (RTP timestamp units) in `ptime_ms` milliseconds, rounded down:
    /// 160 for PCMU/8000 at 20 ms, 882 for L16/44100, 960 for Opus.
    pub fn samples_per_packet(&self, ptime_ms: u32) -> u32 {
        let n = u64::from(self.clock_rate) * u64::from(ptime_ms) / 1000;
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The first audio format of `media` hdstream knows: the first payload type of the `m=`
    /// line that has an `a=rtpmap` naming L16, PCMU, PCMA or opus (any case; channels from the
    /// encoding parameter, 1 when absent), or that has no rtpmap and is static 0, 8, 10 or 11
    /// (RFC 3551 §6). For Opus (RFC 7587 §7.1), `sprop-stereo` in the `a=fmtp` — else
    /// `stereo` — says whether `channels` is 2; both default to mono.
    ///
    /// A payload type whose rtpmap is invalid is passed over for a later one; when none is
    /// usable, the first such problem is the error.
    pub fn from_sdp(media: &Media) -> Result<Format, FormatError> {
        let mut first_error = None;
        let mut offered = Vec::new();
        for f in &media.formats {
            let Ok(pt) = f.parse::<u8>() else {
                offered.push(format!("{f:?} (not a payload type)"));
                continue;
            };
            let map = media.rtpmap(pt);
            let found = match &map {
                Some(map) => Encoding::from_name(&map.encoding).map(|e| Self::from_rtpmap(e, map)),
                None => Self::static_payload(pt).map(Ok),
            };
            match found {
                Some(Ok(mut format)) => {
                    if format.encoding == Encoding::Opus {
                        format.channels = if opus_stereo(media, pt) { 2 } else { 1 };
                    }
                    return Ok(format);
                }
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
            offered.push(match map {
                Some(map) => format!("{pt} ({})", RtpMapText(&map)),
                None => format!("{pt} (no rtpmap)"),
            });
        }
        Err(first_error.unwrap_or_else(|| FormatError::Unsupported {
            offered: if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            },
        }))
    }

    /// The format an rtpmap naming `encoding` describes.
    fn from_rtpmap(encoding: Encoding, map: &RtpMap) -> Result<Format, FormatError> {
        let payload_type = map.payload_type;
        let channels = match map.encoding_params.as_deref() {
            None => 1,
            Some(p) => p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|&c| c >= 1)
                .ok_or_else(|| FormatError::Channels {
                    payload_type,
                    value: p.to_owned(),
                })?,
        };
        let clock_rate = map.clock_rate;
        if encoding == Encoding::Opus && clock_rate != OPUS_CLOCK_RATE {
            return Err(FormatError::ClockRate {
                payload_type,
                clock_rate,
                expected: "48000 (RFC 7587 §7)",
            });
        }
        if clock_rate == 0 {
            return Err(FormatError::ClockRate {
                payload_type,
                clock_rate,
                expected: "a rate above 0",
            });
        }
        Ok(Format {
            encoding,
            payload_type,
            clock_rate,
            channels,
        })
    }

    /// The media-level attributes that describe this format: `a=rtpmap` (left out for a static
    /// payload type that matches RFC 3551 §6 exactly, as ffmpeg does; channels always written,
    /// `opus/48000/2` for Opus per RFC 7587 §7) and, for stereo Opus, `a=fmtp:PT sprop-stereo=1`
    /// (RFC 7587 §7.1). Read back by [`Format::from_sdp`].
    pub fn sdp_attributes(&self) -> Vec<Attribute> {
        let mut attributes = Vec::new();
        if self.is_static() {
            return attributes;
        }
        let channels = match self.encoding {
            Encoding::Opus => 2,
            _ => self.channels,
        };
        let map = RtpMap {
            payload_type: self.payload_type,
            encoding: self.encoding.name().to_owned(),
            clock_rate: self.clock_rate,
            encoding_params: Some(channels.to_string()),
        };
        attributes.push(Attribute::new("rtpmap", map.to_string()));
        if self.encoding == Encoding::Opus && self.channels == 2 {
            attributes.push(Attribute::new(
                "fmtp",
                format!("{} sprop-stereo=1", self.payload_type),
            ));
        }
        attributes
    }
}

/// Whether the `a=fmtp` of Opus payload type `pt` asks for stereo: `sprop-stereo` (what the
/// sender sends), else `stereo` (what the receiver prefers) (RFC 7587 §7.1).
fn opus_stereo(media: &Media, pt: u8) -> bool {
    let mut sprop = None;
    let mut stereo = None;
    for (k, v) in media.fmtp(pt) {
        let on = v == "1";
        if k.eq_ignore_ascii_case("sprop-stereo") {
            sprop.get_or_insert(on);
        } else if k.eq_ignore_ascii_case("stereo") {
            stereo.get_or_insert(on);
        }
    }
    sprop.or(stereo).unwrap_or(false)
}

/// An rtpmap as `NAME/rate[/params]`, for error messages.
struct RtpMapText<'a>(&'a RtpMap);

impl fmt::Display for RtpMapText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.encoding, self.0.clock_rate)?;
        match &self.0.encoding_params {
            Some(p) => write!(f, "/{p}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sdp::SessionDescription;

    /// The first `m=` section of a description with the given media lines.
    fn media(lines: &str) -> Media {
        let text = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=a\r\nt=0 0\r\n{lines}");
        let mut sd = SessionDescription::parse(&text).expect("test SDP parses");
        sd.media.remove(0)
    }

    /// A description with one audio section holding `format`'s attributes, written and read back.
    fn through_sdp(format: &Format) -> Media {
        let mut text = format!("m=audio 0 RTP/AVP {}\r\n", format.payload_type);
        for a in format.sdp_attributes() {
            text.push_str(&a.to_string());
        }
        text.push_str("a=control:trackID=1\r\n");
        media(&text)
    }

    #[test]
    fn static_table() {
        let pcmu = Format::static_payload(0).unwrap();
        assert_eq!(
            (pcmu.encoding, pcmu.clock_rate, pcmu.channels),
            (Encoding::Pcmu, 8000, 1)
        );
        let pcma = Format::static_payload(8).unwrap();
        assert_eq!(
            (pcma.encoding, pcma.clock_rate, pcma.channels),
            (Encoding::Pcma, 8000, 1)
        );
        let l16s = Format::static_payload(10).unwrap();
        assert_eq!(
            (l16s.encoding, l16s.clock_rate, l16s.channels),
            (Encoding::L16, 44_100, 2)
        );
        let l16m = Format::static_payload(11).unwrap();
        assert_eq!(
            (l16m.encoding, l16m.clock_rate, l16m.channels),
            (Encoding::L16, 44_100, 1)
        );
        for pt in (0..=127).filter(|pt| ![0, 8, 10, 11].contains(pt)) {
            assert_eq!(Format::static_payload(pt), None, "pt {pt}");
        }
    }

    #[test]
    fn static_payload_type_without_rtpmap() {
        // ffmpeg: `-c:a pcm_mulaw -ar 8000 -ac 1` writes no rtpmap for static 0.
        let m = media("m=audio 0 RTP/AVP 0\r\na=control:streamid=1\r\n");
        assert_eq!(Format::from_sdp(&m), Ok(Format::static_payload(0).unwrap()));
        let m = media("m=audio 0 RTP/AVP 11\r\n");
        assert_eq!(
            Format::from_sdp(&m).unwrap(),
            Format::static_payload(11).unwrap()
        );
    }

    #[test]
    fn dynamic_rtpmaps_as_ffmpeg_and_gstreamer_write_them() {
        // ffmpeg, pcm_s16be at 48 kHz stereo.
        let m = media("m=audio 0 RTP/AVP 97\r\nb=AS:1536\r\na=rtpmap:97 L16/48000/2\r\n");
        assert_eq!(
            Format::from_sdp(&m),
            Ok(Format {
                encoding: Encoding::L16,
                payload_type: 97,
                clock_rate: 48_000,
                channels: 2
            })
        );
        // GStreamer rtpL16pay, lower case is accepted too.
        let m = media("m=audio 0 RTP/AVP 96\r\na=rtpmap:96 l16/16000\r\n");
        let f = Format::from_sdp(&m).unwrap();
        assert_eq!(
            (f.encoding, f.clock_rate, f.channels),
            (Encoding::L16, 16_000, 1)
        );
        // PCMU at a rate the static type does not have.
        let m = media("m=audio 0 RTP/AVP 98\r\na=rtpmap:98 PCMU/16000/1\r\n");
        let f = Format::from_sdp(&m).unwrap();
        assert_eq!(
            (f.encoding, f.clock_rate, f.payload_type),
            (Encoding::Pcmu, 16_000, 98)
        );
        // An rtpmap on a static type wins over the table.
        let m = media("m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n");
        assert_eq!(Format::from_sdp(&m), Ok(Format::static_payload(8).unwrap()));
    }

    #[test]
    fn opus_stereo_from_fmtp() {
        // ffmpeg, stereo opus.
        let m = media(
            "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\na=fmtp:97 sprop-stereo=1\r\n",
        );
        assert_eq!(Format::from_sdp(&m), Ok(Format::opus(97, true)));
        // ffmpeg, mono opus: no fmtp.
        let m = media("m=audio 0 RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n");
        assert_eq!(Format::from_sdp(&m), Ok(Format::opus(97, false)));
        // GStreamer rtpopuspay: upper case, explicit 0.
        let m = media(
            "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 OPUS/48000/2\r\na=fmtp:96 sprop-stereo=0\r\n",
        );
        assert_eq!(Format::from_sdp(&m), Ok(Format::opus(96, false)));
        // `stereo` when `sprop-stereo` is absent; `sprop-stereo` wins when both are there.
        let m = media(
            "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 minptime=10;stereo=1\r\n",
        );
        assert_eq!(Format::from_sdp(&m), Ok(Format::opus(96, true)));
        let m = media(
            "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1; sprop-stereo=0\r\n",
        );
        assert_eq!(Format::from_sdp(&m), Ok(Format::opus(96, false)));
        // Another payload type's fmtp does not count.
        let m = media(
            "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:97 sprop-stereo=1\r\n",
        );
        assert_eq!(Format::from_sdp(&m), Ok(Format::opus(96, false)));
    }

    #[test]
    fn dynamic_payload_type_without_rtpmap_is_unknown() {
        // ffmpeg `-c:a pcm_s16le -f rtp`: little-endian samples; never to be taken for L16.
        let m = media("m=audio 0 RTP/AVP 97\r\n");
        let e = Format::from_sdp(&m).unwrap_err();
        assert_eq!(
            e,
            FormatError::Unsupported {
                offered: "97 (no rtpmap)".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "no L16, PCMU, PCMA or opus payload type in the m= line: 97 (no rtpmap)"
        );
        let m = media("m=audio 0 RTP/AVP 14 96\r\na=rtpmap:96 MPEG4-GENERIC/44100/2\r\n");
        assert_eq!(
            Format::from_sdp(&m).unwrap_err().to_string(),
            "no L16, PCMU, PCMA or opus payload type in the m= line: \
             14 (no rtpmap), 96 (MPEG4-GENERIC/44100/2)"
        );
    }

    #[test]
    fn first_known_payload_type_is_taken() {
        let m = media(
            "m=audio 0 RTP/AVP 96 97 0\r\na=rtpmap:96 MPA/90000\r\na=rtpmap:97 PCMA/8000/2\r\n",
        );
        let f = Format::from_sdp(&m).unwrap();
        assert_eq!(
            (f.payload_type, f.encoding, f.channels),
            (97, Encoding::Pcma, 2)
        );
    }

    #[test]
    fn invalid_rtpmaps() {
        let m = media("m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/48000/two\r\n");
        assert_eq!(
            Format::from_sdp(&m),
            Err(FormatError::Channels {
                payload_type: 96,
                value: "two".into()
            })
        );
        let m = media("m=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/48000/0\r\n");
        assert!(matches!(
            Format::from_sdp(&m),
            Err(FormatError::Channels { .. })
        ));
        let m = media("m=audio 0 RTP/AVP 96\r\na=rtpmap:96 opus/16000/2\r\n");
        assert!(matches!(
            Format::from_sdp(&m),
            Err(FormatError::ClockRate {
                clock_rate: 16_000,
                ..
            })
        ));
        let m = media("m=audio 0 RTP/AVP 96\r\na=rtpmap:96 PCMU/0\r\n");
        assert!(matches!(
            Format::from_sdp(&m),
            Err(FormatError::ClockRate { .. })
        ));
        // A bad one is passed over for a good one later in the list.
        let m = media("m=audio 0 RTP/AVP 96 0\r\na=rtpmap:96 L16/48000/x\r\n");
        assert_eq!(Format::from_sdp(&m), Ok(Format::static_payload(0).unwrap()));
    }

    #[test]
    fn attributes_written() {
        assert!(
            Format::static_payload(10)
                .unwrap()
                .sdp_attributes()
                .is_empty()
        );
        let l16 = Format {
            encoding: Encoding::L16,
            payload_type: 96,
            clock_rate: 48_000,
            channels: 2,
        };
        assert_eq!(
            l16.sdp_attributes(),
            vec![Attribute::new("rtpmap", "96 L16/48000/2")]
        );
        // Static number, other rate: the rtpmap is needed.
        let pcmu = Format {
            clock_rate: 16_000,
            ..Format::static_payload(0).unwrap()
        };
        assert_eq!(
            pcmu.sdp_attributes(),
            vec![Attribute::new("rtpmap", "0 PCMU/16000/1")]
        );
        assert_eq!(
            Format::opus(111, true).sdp_attributes(),
            vec![
                Attribute::new("rtpmap", "111 opus/48000/2"),
                Attribute::new("fmtp", "111 sprop-stereo=1"),
            ]
        );
        assert_eq!(
            Format::opus(111, false).sdp_attributes(),
            vec![Attribute::new("rtpmap", "111 opus/48000/2")]
        );
    }

    #[test]
    fn samples_per_packet() {
        assert_eq!(
            Format::static_payload(0).unwrap().samples_per_packet(20),
            160
        );
        assert_eq!(
            Format::static_payload(10).unwrap().samples_per_packet(20),
            882
        );
        assert_eq!(Format::opus(96, true).samples_per_packet(20), 960);
        let odd = Format {
            clock_rate: 11_025,
            ..Format::static_payload(11).unwrap()
        };
        assert_eq!(odd.samples_per_packet(20), 220);
        let huge = Format {
            clock_rate: u32::MAX,
            ..odd
        };
        assert_eq!(huge.samples_per_packet(u32::MAX), u32::MAX);
    }

    #[test]
    fn encoding_names() {
        for e in [
            Encoding::L16,
            Encoding::Pcmu,
            Encoding::Pcma,
            Encoding::Opus,
        ] {
            assert_eq!(Encoding::from_name(e.name()), Some(e));
            assert_eq!(Encoding::from_name(&e.name().to_lowercase()), Some(e));
            assert_eq!(Encoding::from_name(&e.name().to_uppercase()), Some(e));
        }
        assert_eq!(Encoding::from_name("L8"), None);
        assert_eq!(Encoding::from_name(""), None);
    }

    fn format_strategy() -> impl Strategy<Value = Format> {
        prop_oneof![
            (0..4usize).prop_map(|i| STATIC[i]),
            (
                prop_oneof![
                    Just(Encoding::L16),
                    Just(Encoding::Pcmu),
                    Just(Encoding::Pcma)
                ],
                0u8..128,
                1u32..=192_000,
                1u16..=8,
            )
                .prop_map(|(encoding, payload_type, clock_rate, channels)| Format {
                    encoding,
                    payload_type,
                    clock_rate,
                    channels,
                }),
            (0u8..128, any::<bool>()).prop_map(|(pt, stereo)| Format::opus(pt, stereo)),
        ]
    }

    proptest! {
        /// `sdp_attributes` → SDP text → `SessionDescription::parse` → `from_sdp` gives the format.
        #[test]
        fn sdp_round_trip(format in format_strategy()) {
            let m = through_sdp(&format);
            prop_assert_eq!(Format::from_sdp(&m), Ok(format));
        }
    }
}
