//! `Public`, RFC 2326 §12.28.

use std::fmt;

use super::{Error, Header, split_list, syntax};
use crate::rtsp::Method;

/// `Public = "Public" ":" 1#method` (§12.28, RFC 2616 §14.35): the methods a server
/// supports, sent in the OPTIONS reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Public(pub Vec<Method>);

impl Public {
    /// Whether `method` is in the list.
    pub fn contains(&self, method: &Method) -> bool {
        self.0.contains(method)
    }
}

impl Header for Public {
    const NAME: &'static str = "Public";

    fn parse(value: &str) -> Result<Self, Error> {
        let pieces = split_list(value, b',').ok_or_else(|| syntax(Self::NAME, "methods", value))?;
        if pieces.is_empty() {
            return Err(syntax(Self::NAME, "1#method", value));
        }
        pieces
            .into_iter()
            .map(|p| Method::from_token(p).ok_or_else(|| syntax(Self::NAME, "method", p)))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_method_list() {
        let p = Public::parse("OPTIONS, DESCRIBE,SETUP , PLAY, PAUSE, TEARDOWN, GET_PARAMETER")
            .unwrap();
        assert_eq!(p.0.len(), 7);
        assert!(p.contains(&Method::GetParameter));
        assert!(!p.contains(&Method::Record));
        assert_eq!(
            p.to_string(),
            "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"
        );
    }

    #[test]
    fn keeps_extensions_and_rejects_non_tokens() {
        assert_eq!(
            Public::parse("FLUSH").unwrap().0,
            [Method::Extension("FLUSH".into())]
        );
        assert!(Public::parse("").is_err());
        assert!(Public::parse("PLAY, SET UP").is_err());
    }
}
