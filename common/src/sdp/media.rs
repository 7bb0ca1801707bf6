//! Media descriptions (`m=` sections), RFC 4566 §5.14, and the attributes an MJPEG player
//! reads from them.

use std::fmt;

use super::{Attribute, Bandwidth, Connection, attribute_value, line, resolve};

/// An `m=` section (RFC 4566 §5.14) with its media-level lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `video`, `audio`, `application`, ...
    pub media: String,
    /// The transport port; 0 in RTSP, where SETUP chooses ports.
    pub port: u16,
    /// `/<number of ports>`, if given.
    pub num_ports: Option<u16>,
    /// `RTP/AVP`.
    pub proto: String,
    /// Format list: RTP payload types for `RTP/AVP`.
    pub formats: Vec<String>,
    /// `i=`.
    pub information: Option<String>,
    /// `c=` lines.
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=`.
    pub key: Option<String>,
    /// `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]` (§6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The RTP payload type.
    pub payload_type: u8,
    /// `JPEG`, `H264`, ...
    pub encoding: String,
    /// RTP clock rate in Hz (90000 for video).
    pub clock_rate: u32,
    /// Encoding parameters (audio channels), if any.
    pub encoding_params: Option<String>,
}

impl Media {
    /// An audio section (RFC 4566 §5.14) of one format, under `control` (RFC 2326 C.1.1).
    pub fn audio(format: &crate::audio::Format, control: &str) -> Media {
        let mut attributes = format.sdp_attributes();
        attributes.push(Attribute::new("control", control));
        Media {
            media: "audio".into(),
            port: 0,
            num_ports: None,
            proto: "RTP/AVP".into(),
            formats: vec![format.payload_type.to_string()],
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes,
        }
    }
}

impl Media {
    /// A real-time text section (RFC 4103 §6: `m=text … t140/1000`) under `control`.
    pub fn t140(payload_type: u8, control: &str) -> Media {
        let rtpmap = RtpMap {
            payload_type,
            encoding: crate::text::t140::ENCODING_NAME.into(),
            clock_rate: crate::text::t140::CLOCK_RATE,
            encoding_params: None,
        };
        Media {
            media: "text".into(),
            port: 0,
            num_ports: None,
            proto: "RTP/AVP".into(),
            formats: vec![payload_type.to_string()],
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: vec![
                Attribute::new("rtpmap", rtpmap.to_string()),
                Attribute::new("control", control),
            ],
        }
    }

    /// The payload type of its T.140 text (an `a=rtpmap` naming `t140`), if it has one.
    pub fn t140_payload_type(&self) -> Option<u8> {
        self.rtpmaps()
            .find(|m| {
                m.encoding
                    .eq_ignore_ascii_case(crate::text::t140::ENCODING_NAME)
            })
            .map(|m| m.payload_type)
    }
}

impl RtpMap {
    /// Parses the value of an `a=rtpmap:` attribute.
    pub fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.trim().split_once([' ', '\t'])?;
        let mut parts = rest.trim().splitn(3, '/');
        let encoding = parts.next().filter(|e| !e.is_empty())?;
        let clock_rate = parts.next()?.parse().ok()?;
        Some(Self {
            payload_type: pt.parse().ok().filter(|&pt: &u8| pt < 128)?,
            encoding: encoding.to_owned(),
            clock_rate,
            encoding_params: parts.next().map(str::to_owned),
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        match &self.encoding_params {
            Some(p) => write!(f, "/{p}"),
            None => Ok(()),
        }
    }
}

/// The static RTP payload type of JPEG (RFC 3551 §6, RFC 2435).
pub const JPEG_PAYLOAD_TYPE: u8 = 26;

impl Media {
    /// The first attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// `a=control:` (RFC 2326 C.1.1), as sent.
    pub fn control(&self) -> Option<&str> {
        attribute_value(&self.attributes, "control")
    }

    /// The stream's control URL: `a=control:` resolved against `base` (see [`resolve`]);
    /// `base` itself if the section has no control attribute.
    pub fn control_url(&self, base: &str) -> String {
        resolve(base, self.control().unwrap_or("*"))
    }

    /// Every readable `a=rtpmap:`.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| a.value.as_deref().and_then(RtpMap::parse))
    }

    /// The `a=rtpmap:` for payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.rtpmaps().find(|m| m.payload_type == pt)
    }

    /// The first payload type in the format list that is JPEG: one whose `a=rtpmap` names
    /// `JPEG` (any case, e.g. dynamic `96 JPEG/90000`), or the static type 26 without an
    /// rtpmap (ffmpeg writes none for static types).
    pub fn jpeg_payload_type(&self) -> Option<u8> {
        self.formats.iter().find_map(|f| {
            let pt: u8 = f.parse().ok()?;
            match self.rtpmap(pt) {
                Some(map) if map.encoding.eq_ignore_ascii_case("JPEG") => Some(pt),
                None if pt == JPEG_PAYLOAD_TYPE => Some(pt),
                _ => None,
            }
        })
    }

    /// The RTP clock rate of payload type `pt`: its rtpmap, or 90 kHz for static JPEG.
    pub fn clock_rate(&self, pt: u8) -> Option<u32> {
        match self.rtpmap(pt) {
            Some(map) => Some(map.clock_rate),
            None if pt == JPEG_PAYLOAD_TYPE => Some(90_000),
            None => None,
        }
    }

    /// `a=framerate:` (RFC 4566 §6), frames per second; finite and positive.
    pub fn framerate(&self) -> Option<f64> {
        attribute_value(&self.attributes, "framerate")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f > 0.0)
    }

    /// `a=x-dimensions:W,H`: GStreamer's way to announce a JPEG size that RFC 2435's
    /// 8-bit width/8 and height/8 fields cannot carry (over 2040 px).
    pub fn x_dimensions(&self) -> Option<(u32, u32)> {
        let (w, h) = attribute_value(&self.attributes, "x-dimensions")?.split_once(',')?;
        let w: u32 = w.trim().parse().ok()?;
        let h: u32 = h.trim().parse().ok()?;
        (w > 0 && h > 0).then_some((w, h))
    }
}

/// A retransmission payload format offered for a media payload type (RFC 4588 §8.1:
/// `a=rtpmap:<pt> rtx/<rate>` and `a=fmtp:<pt> apt=<original pt>;rtx-time=<ms>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtxFormat {
    /// The RTX payload type.
    pub payload_type: u8,
    /// The payload type it retransmits (`apt`).
    pub apt: u8,
    /// How long the sender keeps packets to send again, ms (`rtx-time`; §8.1 says 3000 when
    /// absent).
    pub rtx_time_ms: u32,
}

/// `rtx-time` when an `a=fmtp` leaves it out (RFC 4588 §8.1).
pub const DEFAULT_RTX_TIME_MS: u32 = 3000;

impl RtxFormat {
    /// The `a=rtpmap` and `a=fmtp` attributes that offer it, at `clock_rate`.
    pub fn attributes(&self, clock_rate: u32) -> [Attribute; 2] {
        [
            Attribute::new("rtpmap", format!("{} rtx/{clock_rate}", self.payload_type)),
            Attribute::new(
                "fmtp",
                format!(
                    "{} apt={};rtx-time={}",
                    self.payload_type, self.apt, self.rtx_time_ms
                ),
            ),
        ]
    }
}

impl Media {
    /// The `a=fmtp:` parameters of payload type `pt`, as (name, value) pairs.
    pub fn fmtp(&self, pt: u8) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.name == "fmtp")
            .filter_map(|a| a.value.as_deref())
            .filter_map(move |v| {
                let (p, params) = v.trim().split_once([' ', '\t'])?;
                (p.parse::<u8>().ok()? == pt).then_some(params)
            })
            .flat_map(|params| params.split(';'))
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.trim(), v.trim()))
            })
    }

    /// The retransmission format offered for payload type `apt` (RFC 4588 §8.1), if any: a
    /// format in the list whose rtpmap is `rtx` and whose `apt` is `apt`.
    pub fn rtx_for(&self, apt: u8) -> Option<RtxFormat> {
        self.formats.iter().find_map(|f| {
            let pt: u8 = f.parse().ok()?;
            let map = self.rtpmap(pt)?;
            if !map.encoding.eq_ignore_ascii_case("rtx") {
                return None;
            }
            let mut rtx = RtxFormat {
                payload_type: pt,
                apt: u8::MAX,
                rtx_time_ms: DEFAULT_RTX_TIME_MS,
            };
            for (k, v) in self.fmtp(pt) {
                match k {
                    "apt" => rtx.apt = v.parse().ok()?,
                    "rtx-time" => rtx.rtx_time_ms = v.parse().ok()?,
                    _ => {}
                }
            }
            (rtx.apt == apt).then_some(rtx)
        })
    }

    /// Whether `a=rtcp-fb:<pt> nack` (or `a=rtcp-fb:* nack`) asks for generic NACKs for payload
    /// type `pt` (RFC 4585 §4.2; `nack pli` and other parameters are other messages).
    pub fn accepts_nack(&self, pt: u8) -> bool {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtcp-fb")
            .filter_map(|a| a.value.as_deref())
            .any(|v| {
                let mut words = v.split_whitespace();
                let target = words.next();
                let pt_matches = target == Some("*") || target == Some(pt.to_string().as_str());
                pt_matches && words.next() == Some("nack") && words.next().is_none()
            })
    }
}

impl fmt::Display for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.num_ports {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        f.write_str("\r\n")?;
        line(f, 'i', self.information.as_deref())?;
        for c in &self.connections {
            write!(f, "{c}")?;
        }
        for b in &self.bandwidths {
            write!(f, "{b}")?;
        }
        line(f, 'k', self.key.as_deref())?;
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        Ok(())
    }
}
