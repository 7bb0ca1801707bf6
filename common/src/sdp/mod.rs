//! SDP, RFC 4566: the session descriptions in DESCRIBE replies.
//!
//! [`SessionDescription::parse`] reads any RFC 4566 description (tolerating what ffmpeg,
//! GStreamer and live555 servers emit: `b=AS:`, `a=tool`, `a=type`, `a=recvonly`, several
//! `m=` lines, lines in a loose order, bare LF line ends) and keeps every line it knows, so that
//! `to_string()` gives a description that parses back to an equal value.
//! [`SessionDescription::mjpeg`] writes the one hdstream serves; [`SessionDescription::jpeg_video`]
//! picks the stream a player wants; [`resolve`] turns `a=control:` into a URL.
//!
//! ```text
//! v=0
//! o=- 1 1 IN IP4 192.0.2.1
//! s=movie.mjpeg
//! c=IN IP4 0.0.0.0
//! t=0 0
//! a=control:*
//! a=range:npt=0-12.5
//! m=video 0 RTP/AVP 26
//! a=rtpmap:26 JPEG/90000
//! a=control:track1
//! a=framerate:30
//! a=x-dimensions:3840,2160
//! ```

mod media;
mod mjpeg;
mod parse;
mod url;

use std::fmt;

pub use media::{DEFAULT_RTX_TIME_MS, Media, RtpMap, RtxFormat};
pub use mjpeg::MjpegStream;
pub use url::resolve;

use crate::rtsp::header::{Header, Range};

/// A session description (RFC 4566 §5). Field names follow the RFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` (§5.2).
    pub origin: Origin,
    /// `s=` (§5.3).
    pub session_name: String,
    /// `i=` (§5.4).
    pub information: Option<String>,
    /// `u=` (§5.5).
    pub uri: Option<String>,
    /// `e=` lines (§5.6).
    pub emails: Vec<String>,
    /// `p=` lines (§5.6).
    pub phones: Vec<String>,
    /// Session-level `c=` (§5.7).
    pub connection: Option<Connection>,
    /// Session-level `b=` lines (§5.8).
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines, each with its `r=` lines (§5.9, §5.10).
    pub times: Vec<Timing>,
    /// `z=` (§5.11).
    pub time_zones: Option<String>,
    /// Session-level `k=` (§5.12).
    pub key: Option<String>,
    /// Session-level `a=` lines (§5.13), in order.
    pub attributes: Vec<Attribute>,
    /// The `m=` sections (§5.14), in order.
    pub media: Vec<Media>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (§5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `-` when there is no user.
    pub username: String,
    /// A numeric string, kept as sent.
    pub session_id: String,
    /// A numeric string, kept as sent.
    pub session_version: String,
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The originating host.
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>` (§5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// The address, with `/ttl[/count]` for multicast.
    pub address: String,
}

/// `b=<bwtype>:<bandwidth>` (§5.8), e.g. `b=AS:3000` (kbit/s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// `AS`, `CT`, `TIAS`, ...
    pub bwtype: String,
    /// The value, in the unit `bwtype` implies.
    pub bandwidth: u64,
}

/// `t=<start-time> <stop-time>` (§5.9), NTP seconds, `0 0` for unbounded, with its `r=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Start, NTP seconds (0: now).
    pub start: u64,
    /// Stop, NTP seconds (0: unbounded).
    pub stop: u64,
    /// `r=` lines (§5.10), kept as sent.
    pub repeats: Vec<String>,
}

/// `a=<attribute>` or `a=<attribute>:<value>` (§5.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name (`control`, `rtpmap`, `recvonly`, ...).
    pub name: String,
    /// The value after the first `:`, as sent; `None` for a property attribute.
    pub value: Option<String>,
}

impl Attribute {
    /// `a=name:value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// `a=name`.
    pub fn flag(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: None,
        }
    }
}

/// Why a session description could not be parsed. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A line that is not `<type>=<value>`, or a field that does not follow RFC 4566 §5.
    #[error("SDP line {line}: invalid {field}, expected {expected}")]
    Syntax {
        /// The line number.
        line: usize,
        /// The line type (`o=`, `m=`, ...).
        field: &'static str,
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// The description does not start with `v=0`.
    #[error("SDP line {line}: expected v=0 first")]
    Version {
        /// The line number.
        line: usize,
    },
    /// A line that must occur (`o=`, `s=`) is missing.
    #[error("SDP has no {field} line")]
    Missing {
        /// The line type.
        field: &'static str,
    },
    /// A line that may occur only once occurs again.
    #[error("SDP line {line}: second {field} line")]
    Duplicate {
        /// The line number.
        line: usize,
        /// The line type.
        field: &'static str,
    },
}

/// The first value of attribute `name` in `attributes`, trimmed; `None` if absent or a flag.
pub(crate) fn attribute_value<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| a.value.as_deref())
        .map(str::trim)
}

impl SessionDescription {
    /// Parses a description (RFC 4566 §5). CRLF and bare LF line ends are accepted; lines of an
    /// unknown type are ignored.
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse::session(text)
    }

    /// The first session-level attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The session-level `a=control:` (RFC 2326 C.1.1): the aggregate control URL, `*` for
    /// the Content-Base itself.
    pub fn control(&self) -> Option<&str> {
        attribute_value(&self.attributes, "control")
    }

    /// The session-level `a=range:` (RFC 2326 C.1.5) in NPT; `None` if absent or not a valid
    /// NPT range.
    pub fn range(&self) -> Option<Range> {
        attribute_value(&self.attributes, "range").and_then(|v| Range::parse(v).ok())
    }

    /// The presentation's length in seconds, from `a=range:npt=0-D`.
    pub fn duration(&self) -> Option<f64> {
        let range = self.range()?;
        Some(range.end?.seconds()? - range.start_seconds()?)
    }

    /// The first `m=video` section that carries JPEG (RFC 2435), see
    /// [`Media::jpeg_payload_type`].
    pub fn jpeg_video(&self) -> Option<&Media> {
        self.media
            .iter()
            .find(|m| m.media == "video" && m.jpeg_payload_type().is_some())
    }

    /// The aggregate control URL: the session-level `a=control:` resolved against `base`
    /// (the Content-Base, else the DESCRIBE URL); `base` itself if there is none.
    pub fn aggregate_url(&self, base: &str) -> String {
        resolve(base, self.control().unwrap_or("*"))
    }
}

impl fmt::Display for SessionDescription {
    /// The description with CRLF line ends, in the order RFC 4566 §5 prescribes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        f.write_str("v=0\r\n")?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        line(f, 'i', self.information.as_deref())?;
        line(f, 'u', self.uri.as_deref())?;
        for e in &self.emails {
            line(f, 'e', Some(e))?;
        }
        for p in &self.phones {
            line(f, 'p', Some(p))?;
        }
        if let Some(c) = &self.connection {
            write!(f, "{c}")?;
        }
        for b in &self.bandwidths {
            write!(f, "{b}")?;
        }
        for t in &self.times {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                line(f, 'r', Some(r))?;
            }
        }
        line(f, 'z', self.time_zones.as_deref())?;
        line(f, 'k', self.key.as_deref())?;
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

/// `<t>=<value>\r\n` if there is a value.
pub(crate) fn line(f: &mut fmt::Formatter<'_>, t: char, value: Option<&str>) -> fmt::Result {
    match value {
        Some(v) => write!(f, "{t}={v}\r\n"),
        None => Ok(()),
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "c={} {} {}\r\n",
            self.net_type, self.addr_type, self.address
        )
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b={}:{}\r\n", self.bwtype, self.bandwidth)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{v}\r\n", self.name),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

#[cfg(test)]
mod tests;
