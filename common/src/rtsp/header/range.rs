//! `Range` in Normal Play Time, RFC 2326 §12.29 and §3.6.

use std::fmt;

use super::{Error, Header, decimal, split_list, syntax};
use crate::rtsp::grammar::trim_lws;

/// `npt-time = "now" | npt-sec | npt-hhmmss` (§3.6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NptTime {
    /// `now`: the current position of a live stream.
    Now,
    /// Seconds from the start of the presentation; finite and non-negative. `npt-hhmmss`
    /// (`1:02:03.5`) is read into seconds too and written back as seconds.
    Seconds(f64),
}

impl NptTime {
    /// The time in seconds; `None` for `now`.
    pub fn seconds(self) -> Option<f64> {
        match self {
            Self::Now => None,
            Self::Seconds(s) => Some(s),
        }
    }

    /// `npt-time`, or `None` if `s` does not follow it.
    fn parse(s: &str) -> Option<Self> {
        if s == "now" {
            return Some(Self::Now);
        }
        if !s.contains(':') {
            return decimal(s).map(Self::Seconds);
        }
        // npt-hhmmss = npt-hh ":" npt-mm ":" npt-ss [ "." *DIGIT ]
        let mut parts = s.splitn(3, ':');
        let (hh, mm, ss) = (parts.next()?, parts.next()?, parts.next()?);
        let two_digits = |p: &str| (1..=2).contains(&p.len()) && !p.contains('.');
        let (ss_int, _) = ss.split_once('.').unwrap_or((ss, ""));
        if hh.contains('.') || !two_digits(mm) || !(1..=2).contains(&ss_int.len()) {
            return None;
        }
        let (h, m, sec) = (decimal(hh)?, decimal(mm)?, decimal(ss)?);
        if m >= 60.0 || sec >= 60.0 {
            return None;
        }
        let total = h * 3600.0 + m * 60.0 + sec;
        total.is_finite().then_some(Self::Seconds(total))
    }
}

impl fmt::Display for NptTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Now => f.write_str("now"),
            Self::Seconds(s) => write!(f, "{s}"),
        }
    }
}

/// `Range: npt=<start>-[<end>]` (§12.29, §3.6):
///
/// ```text
/// npt-range = ( npt-time "-" [ npt-time ] ) | ( "-" npt-time )
/// Range: npt=5-        start 5 s, to the end
/// Range: npt=0-10.5    the first 10.5 s
/// Range: npt=now-      live
/// ```
///
/// Only the `npt` unit is understood; `smpte` and `clock` ranges and a start after the end are
/// errors, which a server answers with 457 Invalid Range. A `;time=` parameter is ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Where to start; `None` only in the `-end` form.
    pub start: Option<NptTime>,
    /// Where to stop; `None` means the end of the presentation.
    pub end: Option<NptTime>,
}

impl Range {
    /// `npt=<start>-`: from `start` seconds to the end. `None` unless `start` is finite and
    /// non-negative.
    pub fn from_seconds(start: f64) -> Option<Self> {
        (start.is_finite() && start >= 0.0).then_some(Self {
            start: Some(NptTime::Seconds(start)),
            end: None,
        })
    }

    /// `npt=<start>-<end>`. `None` unless both are finite, non-negative and `start <= end`.
    pub fn between(start: f64, end: f64) -> Option<Self> {
        let ok = |s: f64| s.is_finite() && s >= 0.0;
        (ok(start) && ok(end) && start <= end).then_some(Self {
            start: Some(NptTime::Seconds(start)),
            end: Some(NptTime::Seconds(end)),
        })
    }

    /// `npt=now-`: a live stream from the current position.
    pub fn now() -> Self {
        Self {
            start: Some(NptTime::Now),
            end: None,
        }
    }

    /// The start in seconds: 0 for the `-end` form, `None` for `now`.
    pub fn start_seconds(&self) -> Option<f64> {
        match self.start {
            None => Some(0.0),
            Some(t) => t.seconds(),
        }
    }
}

impl Header for Range {
    const NAME: &'static str = "Range";

    fn parse(value: &str) -> Result<Self, Error> {
        let pieces = split_list(value, b';').ok_or_else(|| syntax(Self::NAME, "npt", value))?;
        let spec = pieces.first().copied().unwrap_or_default();
        let range = match spec.split_once('=') {
            Some((unit, range)) if trim_lws(unit).eq_ignore_ascii_case("npt") => trim_lws(range),
            _ => return Err(syntax(Self::NAME, "npt=<range>", spec)),
        };
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| syntax(Self::NAME, "npt-time \"-\" [npt-time]", range))?;
        let time = |s: &str| -> Result<Option<NptTime>, Error> {
            let s = trim_lws(s);
            if s.is_empty() {
                return Ok(None);
            }
            NptTime::parse(s)
                .map(Some)
                .ok_or_else(|| syntax(Self::NAME, "npt-time", s))
        };
        let (start, end) = (time(start)?, time(end)?);
        match (start, end) {
            (None, None) => Err(syntax(Self::NAME, "a start or an end", range)),
            (Some(NptTime::Seconds(s)), Some(NptTime::Seconds(e))) if s > e => {
                Err(Error::ReversedRange {
                    start: s.to_string(),
                    end: e.to_string(),
                })
            }
            _ => Ok(Self { start, end }),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("npt=")?;
        if let Some(start) = self.start {
            write!(f, "{start}")?;
        }
        f.write_str("-")?;
        if let Some(end) = self.end {
            write!(f, "{end}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::StatusCode;
    use NptTime::{Now, Seconds};

    fn range(start: Option<NptTime>, end: Option<NptTime>) -> Range {
        Range { start, end }
    }

    #[test]
    fn parses_the_npt_forms() {
        assert_eq!(Range::parse("npt=5-"), Ok(range(Some(Seconds(5.0)), None)));
        assert_eq!(
            Range::parse("npt=0-10.5"),
            Ok(range(Some(Seconds(0.0)), Some(Seconds(10.5))))
        );
        assert_eq!(Range::parse("npt=now-"), Ok(Range::now()));
        assert_eq!(
            Range::parse("npt=-20"),
            Ok(range(None, Some(Seconds(20.0))))
        );
        assert_eq!(
            Range::parse(" NPT = 1:02:03.5 - 2:00:00 ;time=19970123T143720Z"),
            Ok(range(Some(Seconds(3723.5)), Some(Seconds(7200.0))))
        );
        assert_eq!(
            Range::parse("npt=12:05:35.3-").unwrap().start_seconds(),
            Some(43535.3)
        );
    }

    #[test]
    fn displays_seconds() {
        assert_eq!(Range::from_seconds(5.0).unwrap().to_string(), "npt=5-");
        assert_eq!(Range::between(0.0, 10.5).unwrap().to_string(), "npt=0-10.5");
        assert_eq!(Range::now().to_string(), "npt=now-");
        assert_eq!(range(None, Some(Seconds(3.0))).to_string(), "npt=-3");
        assert_eq!(range(Some(Now), None).start_seconds(), None);
        assert!(Range::between(2.0, 1.0).is_none());
        assert!(Range::from_seconds(f64::NAN).is_none());
    }

    #[test]
    fn invalid_ranges_are_errors_answered_with_457() {
        for bad in [
            "npt=-",
            "npt=",
            "npt=5",
            "npt=a-",
            "npt=-1-",
            "npt=1:60:00-",
            "npt=0:00:60-",
            "npt=0:1.5:00-",
            "npt=.5-",
            "smpte=10:07:00-10:07:33:05.01",
            "clock=19961108T142300Z-",
            "",
        ] {
            let e = Range::parse(bad).unwrap_err();
            assert_eq!(e.status_code(), StatusCode::INVALID_RANGE, "{bad:?}");
        }
        assert!(matches!(
            Range::parse("npt=10-5"),
            Err(Error::ReversedRange { .. })
        ));
    }
}
