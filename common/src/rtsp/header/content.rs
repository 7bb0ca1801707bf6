//! `Content-Base`, `Content-Type` and `Content-Length`, RFC 2326 §12.11, §12.16, §12.14.

use std::fmt;

use super::{Error, Header, number, syntax};
use crate::rtsp::grammar::trim_lws;

/// `Content-Base` (§12.11): the URL that relative URLs in the body (SDP `a=control:`) are
/// resolved against, see [`crate::sdp::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentBase(pub String);

impl Header for ContentBase {
    const NAME: &'static str = "Content-Base";

    fn parse(value: &str) -> Result<Self, Error> {
        let url = trim_lws(value);
        if url.is_empty() || url.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(syntax(Self::NAME, "an absolute URL", value));
        }
        Ok(Self(url.to_owned()))
    }
}

impl fmt::Display for ContentBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Content-Type` (§12.16, RFC 2616 §14.17): `type "/" subtype *( ";" parameter )`, kept as
/// sent apart from surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType(pub String);

impl ContentType {
    /// `application/sdp`, the type of a DESCRIBE reply's body.
    pub fn sdp() -> Self {
        Self("application/sdp".to_owned())
    }

    /// The `type/subtype` without parameters.
    pub fn media_type(&self) -> &str {
        trim_lws(self.0.split(';').next().unwrap_or_default())
    }

    /// Whether the media type is `application/sdp` (case-insensitive).
    pub fn is_sdp(&self) -> bool {
        self.media_type().eq_ignore_ascii_case("application/sdp")
    }
}

impl Header for ContentType {
    const NAME: &'static str = "Content-Type";

    fn parse(value: &str) -> Result<Self, Error> {
        let value = trim_lws(value);
        let ty = Self(value.to_owned());
        match ty.media_type().split_once('/') {
            Some((t, s)) if !t.is_empty() && !s.is_empty() => Ok(ty),
            _ => Err(syntax(Self::NAME, "type/subtype", value)),
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Content-Length = 1*DIGIT` (§12.14): the body's length in bytes. The message parser reads
/// it to find the body and then drops it from the headers; the serializer writes it from the
/// body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentLength(pub u64);

impl Header for ContentLength {
    const NAME: &'static str = "Content-Length";

    fn parse(value: &str) -> Result<Self, Error> {
        number(Self::NAME, "1*DIGIT", trim_lws(value)).map(Self)
    }
}

impl fmt::Display for ContentLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_base_is_one_url() {
        assert_eq!(
            ContentBase::parse(" rtsp://127.0.0.1:8554/test/ "),
            Ok(ContentBase("rtsp://127.0.0.1:8554/test/".into()))
        );
        assert!(ContentBase::parse("").is_err());
        assert!(ContentBase::parse("rtsp://a b").is_err());
    }

    #[test]
    fn content_type_recognises_sdp() {
        let ty = ContentType::parse("Application/SDP; charset=utf-8").unwrap();
        assert!(ty.is_sdp());
        assert_eq!(ty.media_type(), "Application/SDP");
        assert!(!ContentType::parse("text/parameters").unwrap().is_sdp());
        assert_eq!(ContentType::sdp().to_string(), "application/sdp");
        assert!(ContentType::parse("sdp").is_err());
        assert!(ContentType::parse("/x").is_err());
    }

    #[test]
    fn content_length_is_a_non_negative_number() {
        assert_eq!(ContentLength::parse(" 376"), Ok(ContentLength(376)));
        assert!(matches!(
            ContentLength::parse("-1"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            ContentLength::parse("99999999999999999999999"),
            Err(Error::OutOfRange { .. })
        ));
        assert_eq!(ContentLength(0).to_string(), "0");
    }
}
