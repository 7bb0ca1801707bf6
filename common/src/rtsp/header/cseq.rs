//! `CSeq`, RFC 2326 §12.17.

use std::fmt;

use super::{Error, Header, number};
use crate::rtsp::grammar::trim_lws;

/// `CSeq = "Cseq" ":" 1*DIGIT` (§12.17): the sequence number that pairs a response with its
/// request. Every response carries the request's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CSeq(pub u32);

impl Header for CSeq {
    const NAME: &'static str = "CSeq";

    fn parse(value: &str) -> Result<Self, Error> {
        number(Self::NAME, "1*DIGIT", trim_lws(value)).map(CSeq)
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_digits_with_surrounding_space() {
        assert_eq!(CSeq::parse("1"), Ok(CSeq(1)));
        assert_eq!(CSeq::parse(" 312 "), Ok(CSeq(312)));
        assert_eq!(CSeq::parse("4294967295"), Ok(CSeq(u32::MAX)));
        assert_eq!(CSeq(42).to_string(), "42");
    }

    #[test]
    fn rejects_non_digits_and_overflow() {
        for bad in ["", "-1", "1a", "1 2", "0x10", "1,2"] {
            assert!(
                matches!(CSeq::parse(bad), Err(Error::Syntax { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            CSeq::parse("4294967296"),
            Err(Error::OutOfRange { .. })
        ));
    }
}
