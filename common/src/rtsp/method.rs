//! Request methods, RFC 2326 §6.1 and §10.

use std::fmt;

use super::grammar::is_token;

/// An RTSP method (RFC 2326 §6.1, §10). Method names are case-sensitive.
///
/// Any other token becomes [`Method::Extension`], so a server can answer it with
/// 501 Not Implemented instead of rejecting the whole message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `DESCRIBE` (§10.2): fetch the presentation description (SDP).
    Describe,
    /// `ANNOUNCE` (§10.3).
    Announce,
    /// `GET_PARAMETER` (§10.8); also a keep-alive.
    GetParameter,
    /// `OPTIONS` (§10.1); also a keep-alive.
    Options,
    /// `PAUSE` (§10.6).
    Pause,
    /// `PLAY` (§10.5).
    Play,
    /// `RECORD` (§10.11).
    Record,
    /// `REDIRECT` (§10.10).
    Redirect,
    /// `SETUP` (§10.4): choose the transport of one stream.
    Setup,
    /// `SET_PARAMETER` (§10.9).
    SetParameter,
    /// `TEARDOWN` (§10.7).
    Teardown,
    /// `extension-method = token` (§6.1): any other method name, kept as sent.
    Extension(String),
}

impl Method {
    /// The methods RFC 2326 defines, in the order of §6.1.
    pub const STANDARD: [Method; 11] = [
        Method::Describe,
        Method::Announce,
        Method::GetParameter,
        Method::Options,
        Method::Pause,
        Method::Play,
        Method::Record,
        Method::Redirect,
        Method::Setup,
        Method::SetParameter,
        Method::Teardown,
    ];

    /// Parses `Method` (§6.1): a standard method, or an extension if `s` is any other token.
    /// Returns `None` if `s` is not a token, or begins with `$`: on an RTSP connection `$`
    /// starts interleaved binary data (§10.12), so such a method could never be sent back
    /// unambiguously (found by the `rtsp_parser` fuzz target).
    pub fn from_token(s: &str) -> Option<Self> {
        let standard = match s {
            "DESCRIBE" => Self::Describe,
            "ANNOUNCE" => Self::Announce,
            "GET_PARAMETER" => Self::GetParameter,
            "OPTIONS" => Self::Options,
            "PAUSE" => Self::Pause,
            "PLAY" => Self::Play,
            "RECORD" => Self::Record,
            "REDIRECT" => Self::Redirect,
            "SETUP" => Self::Setup,
            "SET_PARAMETER" => Self::SetParameter,
            "TEARDOWN" => Self::Teardown,
            _ if is_token(s) && !s.starts_with('$') => Self::Extension(s.to_owned()),
            _ => return None,
        };
        Some(standard)
    }

    /// The method name as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Describe => "DESCRIBE",
            Self::Announce => "ANNOUNCE",
            Self::GetParameter => "GET_PARAMETER",
            Self::Options => "OPTIONS",
            Self::Pause => "PAUSE",
            Self::Play => "PLAY",
            Self::Record => "RECORD",
            Self::Redirect => "REDIRECT",
            Self::Setup => "SETUP",
            Self::SetParameter => "SET_PARAMETER",
            Self::Teardown => "TEARDOWN",
            Self::Extension(name) => name,
        }
    }

    /// Whether this is an extension method (one RFC 2326 does not define).
    pub fn is_extension(&self) -> bool {
        matches!(self, Self::Extension(_))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_method_round_trips_through_its_name() {
        for m in Method::STANDARD {
            assert_eq!(Method::from_token(m.as_str()), Some(m.clone()));
            assert!(!m.is_extension());
        }
    }

    #[test]
    fn unknown_tokens_are_extensions_and_names_are_case_sensitive() {
        assert_eq!(
            Method::from_token("FLUSH"),
            Some(Method::Extension("FLUSH".into()))
        );
        let lower = Method::from_token("setup").unwrap();
        assert!(lower.is_extension());
        assert_eq!(lower.to_string(), "setup");
    }

    #[test]
    fn non_tokens_are_not_methods() {
        for bad in ["", "GET PARAMETER", "SET:UP", "P\u{e4}USE", "$SETUP"] {
            assert_eq!(Method::from_token(bad), None, "{bad:?}");
        }
    }
}
