//! `Session`, RFC 2326 §12.37.

use std::fmt;

use super::{Error, Header, number, split_list, split_param, syntax};
use crate::rtsp::grammar::trim_lws;

/// `Session = "Session" ":" session-id [ ";" "timeout" "=" delta-seconds ]` (§12.37).
///
/// ```text
/// Session: 47112344;timeout=60
///          ^^^^^^^^ id  ^^ seconds without a request before the server ends the session
/// ```
///
/// Other parameters are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Session {
    /// `session-id`, chosen by the server (§3.4). Compared byte for byte.
    pub id: String,
    /// `timeout=`: seconds of inactivity after which the server may end the session; absent
    /// means the default of 60 s.
    pub timeout: Option<u32>,
}

impl Session {
    /// A session id without a timeout.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            timeout: None,
        }
    }

    /// A session id advertising `timeout` seconds.
    pub fn with_timeout(id: impl Into<String>, timeout: u32) -> Self {
        Self {
            id: id.into(),
            timeout: Some(timeout),
        }
    }
}

/// `session-id = 1*( ALPHA | DIGIT | safe )`, read leniently as any visible ASCII except the
/// separators `;`, `,` and `"`.
fn is_session_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"'))
}

impl Header for Session {
    const NAME: &'static str = "Session";

    fn parse(value: &str) -> Result<Self, Error> {
        let (id, params) = value.split_once(';').unwrap_or((value, ""));
        let id = trim_lws(id);
        if !is_session_id(id) {
            return Err(syntax(Self::NAME, "session-id", id));
        }
        let params =
            split_list(params, b';').ok_or_else(|| syntax(Self::NAME, "closed quotes", params))?;
        let mut session = Session::new(id);
        for piece in params {
            if let (name, Some(v)) = split_param(piece)
                && name.eq_ignore_ascii_case("timeout")
            {
                session.timeout = Some(number(Self::NAME, "delta-seconds", v)?);
            }
        }
        Ok(session)
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(timeout) = self.timeout {
            write!(f, ";timeout={timeout}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_id_and_timeout() {
        assert_eq!(Session::parse("123456"), Ok(Session::new("123456")));
        assert_eq!(
            Session::parse("5C9B5A2C;timeout=65"),
            Ok(Session::with_timeout("5C9B5A2C", 65))
        );
        assert_eq!(
            Session::parse(" abc$-_.+ ; Timeout = 30 ;foo=bar"),
            Ok(Session::with_timeout("abc$-_.+", 30))
        );
    }

    #[test]
    fn displays_the_canonical_form() {
        assert_eq!(
            Session::with_timeout("47112344", 60).to_string(),
            "47112344;timeout=60"
        );
        assert_eq!(Session::new("x").to_string(), "x");
    }

    #[test]
    fn rejects_missing_id_and_bad_timeout() {
        for bad in [
            "",
            ";timeout=5",
            "a b",
            "a;timeout=x",
            "a;timeout=-1",
            "\"a",
        ] {
            assert!(Session::parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            Session::parse("a;timeout=99999999999"),
            Err(Error::OutOfRange { .. })
        ));
    }
}
