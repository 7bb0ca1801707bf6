//! `Speed`, RFC 2326 §12.35.

use std::fmt;

use super::{Error, Header, decimal, out_of_range, syntax};
use crate::rtsp::grammar::trim_lws;

/// `Speed = "Speed" ":" 1*DIGIT [ "." *DIGIT ]` (§12.35): deliver data at this multiple of the
/// normal bit rate (hdstream uses it to prefetch faster than real time). Always finite and
/// greater than zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed(f64);

impl Speed {
    /// A speed; `None` unless finite and greater than zero.
    pub fn new(speed: f64) -> Option<Self> {
        (speed.is_finite() && speed > 0.0).then_some(Self(speed))
    }

    /// The multiple of the normal rate.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Header for Speed {
    const NAME: &'static str = "Speed";

    fn parse(value: &str) -> Result<Self, Error> {
        let v = trim_lws(value);
        let speed = decimal(v).ok_or_else(|| syntax(Self::NAME, "1*DIGIT [. *DIGIT]", v))?;
        Self::new(speed).ok_or_else(|| out_of_range(Self::NAME, v))
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_decimals() {
        assert_eq!(Speed::parse("2.5").unwrap().get(), 2.5);
        assert_eq!(Speed::parse(" 1 ").unwrap().get(), 1.0);
        assert_eq!(Speed::new(4.0).unwrap().to_string(), "4");
        assert_eq!(Speed::parse("0.25").unwrap().to_string(), "0.25");
    }

    #[test]
    fn rejects_zero_negative_and_non_numbers() {
        assert!(matches!(Speed::parse("0"), Err(Error::OutOfRange { .. })));
        assert!(matches!(Speed::parse("0.0"), Err(Error::OutOfRange { .. })));
        for bad in ["-1", "NaN", "inf", "", "1e3", "fast"] {
            assert!(
                matches!(Speed::parse(bad), Err(Error::Syntax { .. })),
                "{bad:?}"
            );
        }
        assert!(Speed::new(f64::NAN).is_none());
        assert!(Speed::new(-2.0).is_none());
        assert!(Speed::new(f64::INFINITY).is_none());
    }
}
