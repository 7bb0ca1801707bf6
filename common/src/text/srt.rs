//! SubRip (`.srt`) caption files: read ([`parse`]) and written ([`write()`]).
//!
//! SubRip has no standard; this follows what players and ffmpeg read and write:
//!
//! ```text
//! 1
//! 00:00:01,000 --> 00:00:02,500
//! First caption,
//! second line of it
//!
//! 2
//! 00:00:03,000 --> 00:00:04,000
//! Next
//! ```
//!
//! A cue is a block of lines between blank lines: an index, a timing line and its text. The
//! reader tolerates a BOM, CR LF or CR line ends, a missing index, `.` for `,`, hours left
//! out, fewer than three fraction digits and anything after the end time (the old `X1:…`
//! coordinates). Text is kept as written, markup (`<i>`, `<font …>`) included, lines joined
//! by `\n`.

use std::fmt::Write as _;
use std::time::Duration;

use super::lines::{is_blank, joined, numbered, strip_bom};
use super::{Captions, Cue, Defect, Error, Skipped};

/// The cues of an SRT file, sorted by start; malformed cues are skipped and named in
/// [`Captions::skipped`]. The text is refused only when it has lines but no block with a timing
/// line where a cue has one (first or second line): then it is not SRT. Empty text has no cues.
pub fn parse(text: &str) -> Result<Captions, Error> {
    let lines: Vec<(usize, &str)> = numbered(strip_bom(text)).collect();
    let mut captions = Captions::default();
    let mut any_timing = false;
    let mut first_line = None;
    let mut at = 0;
    while at < lines.len() {
        if is_blank(lines[at].1) {
            at += 1;
            continue;
        }
        let block_start = at;
        while at < lines.len() && !is_blank(lines[at].1) {
            at += 1;
        }
        let block = &lines[block_start..at];
        first_line.get_or_insert(block[0].0);
        // The timing line is the first (index missing) or the second (after the index).
        let Some(timing_at) = block.iter().take(2).position(|(_, l)| l.contains("-->")) else {
            captions.skipped.push(Skipped {
                line: block[0].0,
                defect: Defect::Timing,
            });
            continue;
        };
        any_timing = true;
        let (line, timing_line) = block[timing_at];
        captions.push_timed(line, timing(timing_line), || {
            joined(&block[timing_at + 1..])
        });
    }
    match first_line {
        Some(line) if !any_timing => Err(Error::Format { line }),
        _ => Ok(captions.sorted()),
    }
}

/// The SRT file of `cues`, in the order given, numbered from 1, lines ended by `\n`.
///
/// Times are written to the millisecond (truncated), hours with as many digits as they need.
/// Text is written a line at a time: CR LF and CR become `\n`, and blank lines are left out
/// (a blank line would end the cue), so [`parse`] reads back each cue with its text thus
/// tidied.
pub fn write(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{}\n{} --> {}",
            i + 1,
            Timestamp(cue.start),
            Timestamp(cue.end)
        );
        for line in numbered(&cue.text).map(|(_, l)| l) {
            if !is_blank(line) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}

/// `hh:mm:ss,mmm`, hours at least two digits.
struct Timestamp(Duration);

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        write!(
            f,
            "{:02}:{:02}:{:02},{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }
}

/// A timing line: `start --> end`, anything after the end time ignored.
fn timing(line: &str) -> Option<(Duration, Duration)> {
    let (start, rest) = line.split_once("-->")?;
    let end = rest.split_whitespace().next()?;
    Some((timestamp(start.trim())?, timestamp(end)?))
}

/// `[h:]m:s[,f]` (or `.f`): hours any number of digits, minutes and seconds one or two digits
/// below 60, fraction one to three digits (more are read and dropped: SRT counts milliseconds).
fn timestamp(s: &str) -> Option<Duration> {
    let (clock, fraction) = match s.find([',', '.']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let mut fields = clock.split(':');
    let (h, m, sec) = match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some(h), Some(m), Some(sec), None) => (number(h, 20)?, number(m, 2)?, number(sec, 2)?),
        (Some(m), Some(sec), None, None) => (0, number(m, 2)?, number(sec, 2)?),
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let ms = match fraction {
        None => 0,
        Some(f) => {
            let digits = f.get(..f.len().min(3))?;
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // "5" is 500 ms, "05" 50 ms.
            number(digits, 3)? * 10u64.pow(3 - digits.len() as u32)
        }
    };
    let total = h
        .checked_mul(3_600_000)?
        .checked_add(m * 60_000 + sec * 1000 + ms)?;
    Some(Duration::from_millis(total))
}

/// An unsigned decimal of 1 to `max_digits` ASCII digits.
fn number(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::testing::{ms, texts};
    use super::*;

    #[test]
    fn reads_a_plain_file() {
        let c = parse(
            "1\n00:00:01,000 --> 00:00:02,500\nFirst caption,\nsecond line\n\n\
             2\n00:00:03,000 --> 00:00:04,000\n<i>Next</i>\n",
        )
        .unwrap();
        assert_eq!(
            c.cues,
            [
                Cue::new(ms(1000), ms(2500), "First caption,\nsecond line"),
                Cue::new(ms(3000), ms(4000), "<i>Next</i>"),
            ]
        );
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn tolerates_bom_crlf_missing_index_and_dots() {
        let c = parse(
            "\u{FEFF}1\r\n00:00:01.000 --> 00:00:02.000\r\nOne\r\n\r\n\
             00:00:03,5 --> 00:00:04,25 X1:10 X2:20 Y1:5 Y2:9\r\nTwo\r\n\r\n\r\n\
             3\r00:05,000-->00:06,000\rThree",
        )
        .unwrap();
        assert_eq!(
            c.cues,
            [
                Cue::new(ms(1000), ms(2000), "One"),
                Cue::new(ms(3500), ms(4250), "Two"),
                Cue::new(ms(5000), ms(6000), "Three"),
            ]
        );
    }

    #[test]
    fn skips_and_counts_bad_cues() {
        let c = parse(
            "1\n00:00:01,000 --> 00:00:02,000\nGood\n\n\
             2\n00:00:0x,000 --> 00:00:04,000\nBad timing\n\n\
             3\n00:00:09,000 --> 00:00:08,000\nBackwards\n\n\
             just some words\n\n\
             5\n00:00:10,000 --> 00:00:11,000\nAlso good\n",
        )
        .unwrap();
        assert_eq!(texts(&c), ["Good", "Also good"]);
        assert_eq!(
            c.skipped,
            [
                Skipped {
                    line: 6,
                    defect: Defect::Timing
                },
                Skipped {
                    line: 10,
                    defect: Defect::Order
                },
                Skipped {
                    line: 13,
                    defect: Defect::Timing
                },
            ]
        );
        assert_eq!(c.skipped[0].to_string(), "line 6: bad timing");
    }

    #[test]
    fn sorts_by_start_keeping_ties_in_order() {
        let c = parse(
            "1\n00:00:05,000 --> 00:00:06,000\nlate\n\n\
             2\n00:00:01,000 --> 00:00:02,000\nearly a\n\n\
             3\n00:00:01,000 --> 00:00:03,000\nearly b\n",
        )
        .unwrap();
        assert_eq!(texts(&c), ["early a", "early b", "late"]);
    }

    #[test]
    fn not_srt() {
        assert_eq!(
            parse("\n\nHello there\nGeneral Kenobi\n"),
            Err(Error::Format { line: 3 })
        );
        assert_eq!(
            parse("WEBVTT\n\nNOTE nothing\n"),
            Err(Error::Format { line: 1 })
        );
        assert_eq!(parse(""), Ok(Captions::default()));
        assert_eq!(parse("\u{FEFF}\r\n \n"), Ok(Captions::default()));
        // A timing line makes it SRT, even a bad one.
        let c = parse("1\n00:00:01,000 --> soon\nHi\n").unwrap();
        assert!(c.cues.is_empty());
        assert_eq!(c.skipped.len(), 1);
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp("01:02:03,004"), Some(ms(3_723_004)));
        assert_eq!(timestamp("1:2:3.4"), Some(ms(3_723_400)));
        assert_eq!(timestamp("123:00:00,000"), Some(ms(123 * 3_600_000)));
        assert_eq!(timestamp("02:03,040"), Some(ms(123_040)));
        assert_eq!(timestamp("00:00:01,123456"), Some(ms(1123)));
        assert_eq!(timestamp("00:00:01"), Some(ms(1000)));
        for bad in [
            "",
            "00:60:00,000",
            "00:00:60,000",
            "00:00:01,",
            "00:00:01,x",
            "-1:00:00,000",
            "00:00:00:00,000",
            "+1:00:00,000",
            "1",
            "99999999999999999999:00:00,000",
            "00:000:01,000",
            "٣:00:00,000",
        ] {
            assert_eq!(timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn writes_what_players_read() {
        let out = write(&[
            Cue::new(ms(1000), ms(2500), "First\r\nsecond\n\n  \nthird\n"),
            Cue::new(
                Duration::from_secs(100 * 3600) + ms(61_001),
                ms(360_000_000),
                "",
            ),
        ]);
        assert_eq!(
            out,
            "1\n00:00:01,000 --> 00:00:02,500\nFirst\nsecond\nthird\n\n\
             2\n100:01:01,001 --> 100:00:00,000\n\n"
        );
    }

    #[test]
    fn write_truncates_to_milliseconds() {
        let out = write(&[Cue::new(
            Duration::from_micros(1999),
            Duration::from_nanos(2_000_999_999),
            "x",
        )]);
        assert_eq!(out, "1\n00:00:00,001 --> 00:00:02,000\nx\n\n");
    }

    /// What [`write()`] then [`parse`] make of a cue's text.
    fn tidied(text: &str) -> String {
        numbered(text)
            .map(|(_, l)| l)
            .filter(|l| !is_blank(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn cue() -> impl Strategy<Value = Cue> {
        (
            0u64..400_000_000,
            0u64..10_000_000,
            prop::collection::vec("[ \\t]{0,2}\\PC{0,20}[ \\t]{0,2}", 0..4),
        )
            .prop_map(|(start, len, lines)| Cue::new(ms(start), ms(start + len), lines.join("\n")))
    }

    proptest! {
        #[test]
        fn write_then_parse(mut cues in prop::collection::vec(cue(), 0..12)) {
            cues.sort_by_key(|c| c.start);
            let parsed = parse(&write(&cues)).unwrap();
            prop_assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
            let expected: Vec<Cue> = cues
                .iter()
                .map(|c| Cue::new(c.start, c.end, tidied(&c.text)))
                .collect();
            prop_assert_eq!(parsed.cues, expected);
        }

        #[test]
        fn never_panics(text in "\\PC{0,200}|[0-9:,.\\->\\n\\r ]{0,200}") {
            let _ = parse(&text);
        }
    }
}
