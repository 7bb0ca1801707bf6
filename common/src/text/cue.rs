//! One caption ([`Cue`]) and the cues of a caption file ([`Captions`]).

use std::fmt;
use std::time::Duration;

use super::Defect;

/// One caption: text shown from `start` to `end`, on the media's timeline.
///
/// The text is plain UTF-8 with lines separated by `\n` (no `\r`); WebVTT markup is gone
/// (tags stripped, entities decoded), SubRip's is kept as written (`<i>`, `<font ...>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cue {
    /// When the caption appears.
    pub start: Duration,
    /// When it goes away.
    pub end: Duration,
    /// What it says.
    pub text: String,
}

impl Cue {
    /// A cue from `start` to `end` saying `text`.
    pub fn new(start: Duration, end: Duration, text: impl Into<String>) -> Cue {
        Cue {
            start,
            end,
            text: text.into(),
        }
    }

    /// How long it is shown: `end - start`, 0 if it ends before it starts.
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }

    /// Whether it is on screen at `at`: `start <= at < end`.
    pub fn covers(&self, at: Duration) -> bool {
        self.start <= at && at < self.end
    }
}

/// A cue that was skipped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// The line at fault, counted from 1: the timing line, or the block's first line when it
    /// has none.
    pub line: usize,
    /// What is wrong with it.
    pub defect: Defect,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.defect)
    }
}

/// The cues of one caption file, sorted by start (cues that start together keep the file's
/// order), and the cues skipped as malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captions {
    /// The cues, sorted by start.
    pub cues: Vec<Cue>,
    /// The malformed cues, in the file's order.
    pub skipped: Vec<Skipped>,
}

impl Captions {
    /// Sorts the cues by start, stably: what both parsers return.
    pub(crate) fn sorted(mut self) -> Captions {
        self.cues.sort_by_key(|c| c.start);
        self
    }

    /// Adds the cue of the timing line at `line` (counted from 1): its `timing` as the format
    /// read it and the `text` made only for a cue kept. A timing line that did not read is
    /// skipped as [`Defect::Timing`], one that ends before it starts as [`Defect::Order`].
    pub(super) fn push_timed(
        &mut self,
        line: usize,
        timing: Option<(Duration, Duration)>,
        text: impl FnOnce() -> String,
    ) {
        let defect = match timing {
            None => Defect::Timing,
            Some((start, end)) if end < start => Defect::Order,
            Some((start, end)) => {
                self.cues.push(Cue::new(start, end, text()));
                return;
            }
        };
        self.skipped.push(Skipped { line, defect });
    }

    /// The cues on screen at `at`, in start order.
    pub fn at(&self, at: Duration) -> impl Iterator<Item = &Cue> {
        // Cues are sorted by start: those starting after `at` end the search.
        let after = self.cues.partition_point(|c| c.start <= at);
        self.cues[..after].iter().filter(move |c| c.covers(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn duration_and_covers() {
        let c = Cue::new(ms(1000), ms(2500), "hi");
        assert_eq!(c.duration(), ms(1500));
        assert!(!c.covers(ms(999)));
        assert!(c.covers(ms(1000)));
        assert!(c.covers(ms(2499)));
        assert!(!c.covers(ms(2500)));
        assert_eq!(Cue::new(ms(5), ms(1), "").duration(), Duration::ZERO);
    }

    #[test]
    fn at_finds_overlapping_cues() {
        let captions = Captions {
            cues: vec![
                Cue::new(ms(0), ms(10_000), "long"),
                Cue::new(ms(1000), ms(2000), "a"),
                Cue::new(ms(3000), ms(4000), "b"),
            ],
            skipped: Vec::new(),
        };
        let texts = |t| {
            captions
                .at(ms(t))
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(1500), ["long", "a"]);
        assert_eq!(texts(2500), ["long"]);
        assert_eq!(texts(3000), ["long", "b"]);
        assert!(texts(10_000).is_empty());
    }

    #[test]
    fn skipped_names_its_line() {
        let s = Skipped {
            line: 7,
            defect: Defect::Timing,
        };
        assert_eq!(s.to_string(), "line 7: bad timing");
    }
}
