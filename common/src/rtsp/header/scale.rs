//! `Scale`, RFC 2326 §12.34.

use std::fmt;

use super::{Error, Header, decimal, out_of_range, syntax};
use crate::rtsp::grammar::trim_lws;

/// `Scale = "Scale" ":" [ "-" ] 1*DIGIT [ "." *DIGIT ]` (§12.34): play at this multiple of
/// normal viewing rate (trick play); negative plays backwards. Always finite and non-zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale(f64);

impl Scale {
    /// A scale; `None` unless finite and non-zero.
    pub fn new(scale: f64) -> Option<Self> {
        (scale.is_finite() && scale != 0.0).then_some(Self(scale))
    }

    /// The multiple of the normal viewing rate.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Header for Scale {
    const NAME: &'static str = "Scale";

    fn parse(value: &str) -> Result<Self, Error> {
        let v = trim_lws(value);
        let (sign, magnitude) = match v.strip_prefix('-') {
            Some(m) => (-1.0, m),
            None => (1.0, v),
        };
        let scale =
            decimal(magnitude).ok_or_else(|| syntax(Self::NAME, "[-] 1*DIGIT [. *DIGIT]", v))?;
        Self::new(sign * scale).ok_or_else(|| out_of_range(Self::NAME, v))
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signed_decimals() {
        assert_eq!(Scale::parse("-2").unwrap().get(), -2.0);
        assert_eq!(Scale::parse("0.5").unwrap().get(), 0.5);
        assert_eq!(Scale::new(-1.5).unwrap().to_string(), "-1.5");
    }

    #[test]
    fn rejects_zero_and_non_numbers() {
        assert!(matches!(Scale::parse("0"), Err(Error::OutOfRange { .. })));
        assert!(matches!(
            Scale::parse("-0.0"),
            Err(Error::OutOfRange { .. })
        ));
        for bad in ["--1", "+1", "NaN", "-inf", "", "1,5"] {
            assert!(
                matches!(Scale::parse(bad), Err(Error::Syntax { .. })),
                "{bad:?}"
            );
        }
        assert!(Scale::new(f64::NAN).is_none());
    }
}
