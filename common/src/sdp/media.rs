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
