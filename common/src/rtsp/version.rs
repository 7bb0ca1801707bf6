//! The protocol version, RFC 2326 §3.1.

use std::fmt;

/// `RTSP-Version = "RTSP" "/" 1*DIGIT "." 1*DIGIT` (RFC 2326 §3.1).
///
/// hdstream speaks only RTSP 1.0; the parser turns any other well-formed version into
/// [`ParseError::Version`](super::ParseError::Version), which a server answers with
/// 505 RTSP Version Not Supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// `RTSP/1.0`.
    #[default]
    V1_0,
}

impl Version {
    /// The version as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "RTSP/1.0",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a version field turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionCheck {
    /// `RTSP/1.0`.
    Supported(Version),
    /// Well-formed (`RTSP/x.y`) but not 1.0.
    Unsupported,
    /// Not an `RTSP-Version` at all.
    Malformed,
}

/// Classifies an `RTSP-Version` field.
pub(crate) fn check(s: &str) -> VersionCheck {
    if s == "RTSP/1.0" {
        return VersionCheck::Supported(Version::V1_0);
    }
    let Some(number) = s.strip_prefix("RTSP/") else {
        return VersionCheck::Malformed;
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    match number.split_once('.') {
        Some((major, minor)) if digits(major) && digits(minor) => VersionCheck::Unsupported,
        _ => VersionCheck::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1_0_is_supported() {
        assert_eq!(check("RTSP/1.0"), VersionCheck::Supported(Version::V1_0));
        assert_eq!(check("RTSP/2.0"), VersionCheck::Unsupported);
        assert_eq!(check("RTSP/1.1"), VersionCheck::Unsupported);
        for bad in ["HTTP/1.1", "RTSP/1", "RTSP/.0", "RTSP/1.x", "rtsp/1.0", ""] {
            assert_eq!(check(bad), VersionCheck::Malformed, "{bad:?}");
        }
        assert_eq!(Version::V1_0.to_string(), "RTSP/1.0");
    }
}
