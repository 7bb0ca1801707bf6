//! `Transport`, RFC 2326 §12.39.

use std::fmt;

use super::{Error, Header, number, split_list, split_param, syntax, unquote};
use crate::rtsp::grammar::is_token;

/// `lower-transport = "TCP" | "UDP"` (§12.39): how RTP travels, for every side that chooses
/// (the client's `--transport`, the publisher's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LowerTransport {
    /// RTP over UDP, the default when none is given.
    #[default]
    Udp,
    /// RTP interleaved on the RTSP TCP connection (§10.12).
    Tcp,
}

impl LowerTransport {
    /// `UDP` or `TCP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
}

/// `port [ "-" port ]`: the RTP port and, usually, the RTCP port after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// The first port, for RTP.
    pub rtp: u16,
    /// The second port, for RTCP (normally `rtp + 1`); absent when only one port was given.
    pub rtcp: Option<u16>,
}

impl PortRange {
    /// The pair `rtp-(rtp+1)`; `None` if `rtp` is 65535.
    pub fn pair(rtp: u16) -> Option<Self> {
        rtp.checked_add(1).map(|rtcp| Self {
            rtp,
            rtcp: Some(rtcp),
        })
    }
}

/// `channel [ "-" channel ]` of `interleaved=` (§10.12): the `$` channel numbers for RTP and RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelRange {
    /// The channel carrying RTP.
    pub rtp: u8,
    /// The channel carrying RTCP (normally `rtp + 1`).
    pub rtcp: Option<u8>,
}

/// One `parameter` of a transport spec (§12.39).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransportParam {
    /// `unicast`.
    Unicast,
    /// `multicast`.
    Multicast,
    /// `destination[=address]`: where to send the stream.
    Destination(Option<String>),
    /// `source=address`: where the stream comes from.
    Source(String),
    /// `interleaved=a[-b]`: channels on the RTSP connection.
    Interleaved(ChannelRange),
    /// `append` (RECORD).
    Append,
    /// `ttl=n`: multicast time to live.
    Ttl(u8),
    /// `layers=n`: multicast layers.
    Layers(u32),
    /// `port=a[-b]`: multicast ports.
    Port(PortRange),
    /// `client_port=a[-b]`: the client's RTP and RTCP ports.
    ClientPort(PortRange),
    /// `server_port=a[-b]`: the server's RTP and RTCP ports.
    ServerPort(PortRange),
    /// `ssrc=XXXXXXXX`: the sender's SSRC, in hexadecimal.
    Ssrc(u32),
    /// `mode=...`: `PLAY` or `RECORD`, kept without its quotes.
    Mode(String),
    /// Any other parameter, kept as sent (`value` with its quotes, if quoted).
    Other {
        /// The parameter name.
        name: String,
        /// The value after `=`, if any.
        value: Option<String>,
    },
}

/// One `transport-spec`: `transport-protocol/profile[/lower-transport] *(";" parameter)`.
///
/// The course's Python client sends `RTP/UDP; client_port= 25000`: protocol `RTP`, the
/// non-standard profile `UDP`, no lower transport; [`TransportSpec::is_course`] spots it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransportSpec {
    /// `transport-protocol`, `RTP`.
    pub protocol: String,
    /// `profile`, `AVP` (anything else is kept as sent).
    pub profile: String,
    /// `lower-transport`, if given.
    pub lower: Option<LowerTransport>,
    /// The parameters, in order.
    pub params: Vec<TransportParam>,
}

impl TransportSpec {
    /// `RTP/AVP` with the given lower transport (`None`: implied UDP) and no parameters.
    pub fn rtp_avp(lower: Option<LowerTransport>) -> Self {
        Self {
            protocol: "RTP".into(),
            profile: "AVP".into(),
            lower,
            params: Vec::new(),
        }
    }

    /// Appends a parameter (builder style).
    pub fn with(mut self, param: TransportParam) -> Self {
        self.params.push(param);
        self
    }

    /// `RTP/AVP` or its feedback extension `RTP/AVPF` (RFC 4585 §8.1: an AVPF endpoint also
    /// speaks AVP), with `/UDP`, `/TCP` or neither (case-insensitive).
    pub fn is_rtp_avp(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("RTP")
            && (self.profile.eq_ignore_ascii_case("AVP") || self.is_avpf())
    }

    /// The AVPF profile (RFC 4585): RTCP feedback, such as generic NACKs, is expected.
    pub fn is_avpf(&self) -> bool {
        self.profile.eq_ignore_ascii_case("AVPF")
    }

    /// The course client's `RTP/UDP` (no AVP profile), which means RTP over UDP.
    pub fn is_course(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("RTP")
            && self.profile.eq_ignore_ascii_case("UDP")
            && self.lower.is_none()
    }

    /// The lower transport, UDP unless `/TCP` was given.
    pub fn lower_transport(&self) -> LowerTransport {
        self.lower.unwrap_or(LowerTransport::Udp)
    }

    /// `multicast` given (unicast is the default).
    pub fn is_multicast(&self) -> bool {
        self.params.contains(&TransportParam::Multicast)
    }

    /// `client_port`.
    pub fn client_port(&self) -> Option<PortRange> {
        self.find(|p| match p {
            TransportParam::ClientPort(r) => Some(*r),
            _ => None,
        })
    }

    /// `server_port`.
    pub fn server_port(&self) -> Option<PortRange> {
        self.find(|p| match p {
            TransportParam::ServerPort(r) => Some(*r),
            _ => None,
        })
    }

    /// `port` (multicast).
    pub fn port(&self) -> Option<PortRange> {
        self.find(|p| match p {
            TransportParam::Port(r) => Some(*r),
            _ => None,
        })
    }

    /// `interleaved`.
    pub fn interleaved(&self) -> Option<ChannelRange> {
        self.find(|p| match p {
            TransportParam::Interleaved(r) => Some(*r),
            _ => None,
        })
    }

    /// `ssrc`.
    pub fn ssrc(&self) -> Option<u32> {
        self.find(|p| match p {
            TransportParam::Ssrc(s) => Some(*s),
            _ => None,
        })
    }

    /// `ttl`.
    pub fn ttl(&self) -> Option<u8> {
        self.find(|p| match p {
            TransportParam::Ttl(t) => Some(*t),
            _ => None,
        })
    }

    /// `destination=` with an address.
    pub fn destination(&self) -> Option<&str> {
        self.find(|p| match p {
            TransportParam::Destination(Some(d)) => Some(d.as_str()),
            _ => None,
        })
    }

    /// `source=`.
    pub fn source(&self) -> Option<&str> {
        self.find(|p| match p {
            TransportParam::Source(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// `mode=`, without quotes.
    pub fn mode(&self) -> Option<&str> {
        self.find(|p| match p {
            TransportParam::Mode(m) => Some(m.as_str()),
            _ => None,
        })
    }

    fn find<'a, T>(&'a self, f: impl FnMut(&'a TransportParam) -> Option<T>) -> Option<T> {
        self.params.iter().find_map(f)
    }
}

/// `Transport = "Transport" ":" 1#transport-spec` (§12.39): in a SETUP request the transports
/// the client accepts, in order of preference; in the reply the one the server chose.
///
/// ```text
/// Transport: RTP/AVP;unicast;client_port=4588-4589;server_port=6256-6257
/// Transport: RTP/AVP/TCP;interleaved=0-1
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transport(pub Vec<TransportSpec>);

const NAME: &str = "Transport";

fn port_range(value: &str) -> Result<PortRange, Error> {
    let (rtp, rtcp) = pair(value, "port [- port]")?;
    Ok(PortRange { rtp, rtcp })
}

fn pair<T: std::str::FromStr>(
    value: &str,
    expected: &'static str,
) -> Result<(T, Option<T>), Error> {
    match value.split_once('-') {
        Some((a, b)) => Ok((
            number(NAME, expected, a.trim())?,
            Some(number(NAME, expected, b.trim())?),
        )),
        None => Ok((number(NAME, expected, value)?, None)),
    }
}

/// An address parameter value: unquoted, non-empty, without white space.
fn address(value: &str) -> Result<String, Error> {
    if value.is_empty() || value.bytes().any(|b| b == b'"' || b.is_ascii_whitespace()) {
        return Err(syntax(NAME, "an address", value));
    }
    Ok(value.to_owned())
}

fn parse_param(piece: &str) -> Result<TransportParam, Error> {
    use TransportParam as P;
    let (name, value) = split_param(piece);
    let required = || value.ok_or_else(|| syntax(NAME, "name=value", piece));
    let lower = name.to_ascii_lowercase();
    Ok(match (lower.as_str(), value) {
        ("unicast", None) => P::Unicast,
        ("multicast", None) => P::Multicast,
        ("append", None) => P::Append,
        ("destination", None) => P::Destination(None),
        ("destination", Some(v)) => P::Destination(Some(address(v)?)),
        ("source", _) => P::Source(address(required()?)?),
        ("interleaved", _) => {
            let (rtp, rtcp) = pair(required()?, "channel [- channel]")?;
            P::Interleaved(ChannelRange { rtp, rtcp })
        }
        ("ttl", _) => P::Ttl(number(NAME, "ttl=1*3DIGIT", required()?)?),
        ("layers", _) => P::Layers(number(NAME, "layers=1*DIGIT", required()?)?),
        ("port", _) => P::Port(port_range(required()?)?),
        ("client_port", _) => P::ClientPort(port_range(required()?)?),
        ("server_port", _) => P::ServerPort(port_range(required()?)?),
        ("ssrc", _) => {
            let v = required()?;
            if v.is_empty() || v.len() > 8 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(syntax(NAME, "ssrc=8*HEX", v));
            }
            P::Ssrc(u32::from_str_radix(v, 16).map_err(|_| syntax(NAME, "ssrc=8*HEX", v))?)
        }
        ("mode", _) => {
            let v = required()?;
            P::Mode(
                unquote(v)
                    .ok_or_else(|| syntax(NAME, "mode=\"...\"", v))?
                    .to_owned(),
            )
        }
        _ => {
            if !is_token(name) {
                return Err(syntax(NAME, "a parameter name", name));
            }
            if let Some(v) = value
                && unquote(v).is_none()
            {
                return Err(syntax(NAME, "a value or a quoted string", v));
            }
            P::Other {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            }
        }
    })
}

fn parse_spec(spec: &str) -> Result<TransportSpec, Error> {
    let pieces = split_list(spec, b';').ok_or_else(|| syntax(NAME, "closed quotes", spec))?;
    let mut pieces = pieces.into_iter();
    let head = pieces.next().unwrap_or_default();
    let mut parts = head.split('/').map(str::trim);
    let protocol = parts.next().unwrap_or_default();
    let profile = parts.next().unwrap_or_default();
    let lower = match parts.next() {
        None => None,
        Some(l) if l.eq_ignore_ascii_case("UDP") => Some(LowerTransport::Udp),
        Some(l) if l.eq_ignore_ascii_case("TCP") => Some(LowerTransport::Tcp),
        Some(l) => return Err(syntax(NAME, "lower-transport TCP or UDP", l)),
    };
    if !is_token(protocol) || !is_token(profile) || parts.next().is_some() {
        return Err(syntax(
            NAME,
            "transport-protocol/profile[/lower-transport]",
            head,
        ));
    }
    Ok(TransportSpec {
        protocol: protocol.to_owned(),
        profile: profile.to_owned(),
        lower,
        params: pieces.map(parse_param).collect::<Result<_, _>>()?,
    })
}

impl Header for Transport {
    const NAME: &'static str = NAME;

    fn parse(value: &str) -> Result<Self, Error> {
        let specs = split_list(value, b',').ok_or_else(|| syntax(NAME, "closed quotes", value))?;
        if specs.is_empty() {
            return Err(syntax(NAME, "1#transport-spec", value));
        }
        specs
            .into_iter()
            .map(parse_spec)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rtp)?;
        match self.rtcp {
            Some(rtcp) => write!(f, "-{rtcp}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for ChannelRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rtp)?;
        match self.rtcp {
            Some(rtcp) => write!(f, "-{rtcp}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for TransportParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unicast => f.write_str("unicast"),
            Self::Multicast => f.write_str("multicast"),
            Self::Append => f.write_str("append"),
            Self::Destination(None) => f.write_str("destination"),
            Self::Destination(Some(d)) => write!(f, "destination={d}"),
            Self::Source(s) => write!(f, "source={s}"),
            Self::Interleaved(c) => write!(f, "interleaved={c}"),
            Self::Ttl(t) => write!(f, "ttl={t}"),
            Self::Layers(l) => write!(f, "layers={l}"),
            Self::Port(p) => write!(f, "port={p}"),
            Self::ClientPort(p) => write!(f, "client_port={p}"),
            Self::ServerPort(p) => write!(f, "server_port={p}"),
            Self::Ssrc(s) => write!(f, "ssrc={s:08X}"),
            Self::Mode(m) if is_token(m) => write!(f, "mode={m}"),
            Self::Mode(m) => write!(f, "mode=\"{m}\""),
            Self::Other { name, value: None } => f.write_str(name),
            Self::Other {
                name,
                value: Some(v),
            } => write!(f, "{name}={v}"),
        }
    }
}

impl fmt::Display for TransportSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.profile)?;
        if let Some(lower) = self.lower {
            write!(f, "/{}", lower.as_str())?;
        }
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, spec) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{spec}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransportParam as P;

    #[test]
    fn parses_a_udp_unicast_request() {
        let t = Transport::parse("RTP/AVP;unicast;client_port=4588-4589").unwrap();
        let [spec] = &t.0[..] else { panic!("{t:?}") };
        assert!(spec.is_rtp_avp() && !spec.is_course() && !spec.is_multicast());
        assert!(!spec.is_avpf());
        // What GStreamer's rtspsrc sends for an AVPF offer.
        let avpf = Transport::parse("RTP/AVPF;unicast;client_port=43780-43781").unwrap();
        assert!(avpf.0[0].is_rtp_avp() && avpf.0[0].is_avpf());
        assert_eq!(avpf.to_string(), "RTP/AVPF;unicast;client_port=43780-43781");
        assert_eq!(spec.lower_transport(), LowerTransport::Udp);
        assert_eq!(spec.client_port(), PortRange::pair(4588));
        assert_eq!(t.to_string(), "RTP/AVP;unicast;client_port=4588-4589");
    }

    #[test]
    fn parses_a_live555_setup_reply() {
        let t = Transport::parse(
            "RTP/AVP;unicast;destination=192.168.1.10;source=192.168.1.2;\
             client_port=50000-50001;server_port=6970-6971;ssrc=0A1b2C3d;mode=\"PLAY\"",
        )
        .unwrap();
        let spec = &t.0[0];
        assert_eq!(spec.destination(), Some("192.168.1.10"));
        assert_eq!(spec.source(), Some("192.168.1.2"));
        assert_eq!(spec.server_port(), PortRange::pair(6970));
        assert_eq!(spec.ssrc(), Some(0x0A1B2C3D));
        assert_eq!(spec.mode(), Some("PLAY"));
        assert_eq!(
            t.to_string(),
            "RTP/AVP;unicast;destination=192.168.1.10;source=192.168.1.2;\
             client_port=50000-50001;server_port=6970-6971;ssrc=0A1B2C3D;mode=PLAY"
        );
    }

    #[test]
    fn parses_a_list_of_alternatives_with_tcp_and_multicast() {
        let t = Transport::parse(
            "RTP/AVP/UDP;unicast;client_port=5000-5001, RTP/AVP/UDP;multicast;ttl=127;port=3456-3457;layers=2,\
             RTP/AVP/TCP;interleaved=0-1;mode=\"PLAY,RECORD\"",
        )
        .unwrap();
        assert_eq!(t.0.len(), 3);
        assert_eq!(t.0[0].lower, Some(LowerTransport::Udp));
        assert!(t.0[1].is_multicast());
        assert_eq!(t.0[1].ttl(), Some(127));
        assert_eq!(t.0[1].port(), PortRange::pair(3456));
        assert_eq!(t.0[2].lower_transport(), LowerTransport::Tcp);
        assert_eq!(
            t.0[2].interleaved(),
            Some(ChannelRange {
                rtp: 0,
                rtcp: Some(1)
            })
        );
        assert_eq!(t.0[2].mode(), Some("PLAY,RECORD"));
        assert_eq!(Transport::parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn recognises_the_course_client() {
        let t = Transport::parse("RTP/UDP; client_port= 25000").unwrap();
        let spec = &t.0[0];
        assert!(spec.is_course() && !spec.is_rtp_avp());
        assert_eq!(spec.lower_transport(), LowerTransport::Udp);
        assert_eq!(
            spec.client_port(),
            Some(PortRange {
                rtp: 25000,
                rtcp: None
            })
        );
    }

    #[test]
    fn keeps_unknown_parameters() {
        let t = Transport::parse("RTP/AVP;unicast;x-foo=\"a b\";x-bar;destination").unwrap();
        assert_eq!(
            t.0[0].params[1..],
            [
                P::Other {
                    name: "x-foo".into(),
                    value: Some("\"a b\"".into())
                },
                P::Other {
                    name: "x-bar".into(),
                    value: None
                },
                P::Destination(None),
            ]
        );
        assert_eq!(Transport::parse(&t.to_string()), Ok(t));
    }

    #[test]
    fn builds_a_reply() {
        let spec = TransportSpec::rtp_avp(None)
            .with(P::Unicast)
            .with(P::ClientPort(PortRange::pair(25000).unwrap()))
            .with(P::ServerPort(PortRange::pair(6970).unwrap()))
            .with(P::Ssrc(0xdead_beef));
        assert_eq!(
            spec.to_string(),
            "RTP/AVP;unicast;client_port=25000-25001;server_port=6970-6971;ssrc=DEADBEEF"
        );
        assert_eq!(PortRange::pair(u16::MAX), None);
    }

    #[test]
    fn malformed_values_are_errors() {
        for bad in [
            "",
            "RTP",
            "RTP/",
            "RTP/AVP/SCTP",
            "RTP/AVP/UDP/X",
            "RTP/AVP;client_port=a-b",
            "RTP/AVP;client_port=70000",
            "RTP/AVP;client_port=-1",
            "RTP/AVP;client_port",
            "RTP/AVP;interleaved=256",
            "RTP/AVP;ttl=1000",
            "RTP/AVP;ssrc=123456789",
            "RTP/AVP;ssrc=xyz",
            "RTP/AVP;ssrc=",
            "RTP/AVP;mode=\"PLAY",
            "RTP/AVP;destination=\"1.2.3.4\"",
            "RTP/AVP;source",
            "RTP/AVP;x y=1",
            "RTP/AVP;x=a\"b\"",
        ] {
            assert!(Transport::parse(bad).is_err(), "{bad:?}");
        }
    }
}
