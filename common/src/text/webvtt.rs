//! WebVTT caption files (W3C "WebVTT: The Web Video Text Tracks Format"), read by [`parse`].
//!
//! ```text
//! WEBVTT - optional text after a space or tab
//!
//! NOTE a comment block, skipped
//!
//! intro
//! 00:01.000 --> 00:04.000 line:0 position:20%
//! <v Roger>Never drink <b>liquid</b> nitrogen &amp; so on.
//!
//! 01:00:05.250 --> 01:00:07.000
//! Second cue
//! ```
//!
//! What is read (§4.1 file structure, §6.1 parsing): the signature line (after an optional
//! BOM), the header lines up to the first blank line, then blank-line separated blocks. A block
//! is a cue when its first line, or the line after an identifier, is a timing line (§4.3
//! "cue timings"); NOTE, STYLE and REGION blocks are skipped. Cue settings after the end time
//! are ignored, and so is the identifier. Cue text (§4.2.2, parsed as §6.4 does) loses its tags
//! (`<b>`, `<i>`, `<c.loud>`, `<v Name>`, `<00:02.000>`...) and has its character references
//! decoded (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`, `&lrm;`, `&rlm;`, `&quot;`, `&apos;`, `&#NN;`,
//! `&#xHH;`; other `&` are kept as written).
//!
//! Unlike §6.1, a timing line inside the header block starts a cue (a file whose first cue
//! follows the signature without a blank line is common), and a block with text but no timing
//! line is reported as skipped.

use std::time::Duration;

use super::lines::{is_blank, joined, numbered, strip_bom};
use super::{Captions, Defect, Error, Skipped};

/// The cues of a WebVTT file, sorted by start, as plain text; malformed cues are skipped and
/// named in [`Captions::skipped`]. The text is refused only when its first line is not the
/// `WEBVTT` signature.
pub fn parse(text: &str) -> Result<Captions, Error> {
    let lines: Vec<(usize, &str)> = numbered(strip_bom(text)).collect();
    let signature = lines.first().map_or("", |(_, l)| *l);
    let rest = signature.strip_prefix("WEBVTT");
    if !rest.is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t'])) {
        return Err(Error::Signature { line: 1 });
    }
    let mut captions = Captions::default();
    // The header: up to the first blank line, unless a timing line comes first.
    let mut at = 1;
    while at < lines.len() && !is_blank(lines[at].1) && !lines[at].1.contains("-->") {
        at += 1;
    }
    while at < lines.len() {
        let (first_no, first) = lines[at];
        if is_blank(first) {
            at += 1;
            continue;
        }
        if is_keyword_block(first) {
            while at < lines.len() && !is_blank(lines[at].1) {
                at += 1;
            }
            continue;
        }
        // The timing line: this one, or the one after an identifier.
        let timing_at = if first.contains("-->") {
            at
        } else if lines
            .get(at + 1)
            .is_some_and(|(_, l)| !is_blank(l) && l.contains("-->"))
        {
            at + 1
        } else {
            captions.skipped.push(Skipped {
                line: first_no,
                defect: Defect::Timing,
            });
            while at < lines.len() && !is_blank(lines[at].1) && !lines[at].1.contains("-->") {
                at += 1;
            }
            continue;
        };
        let (line, timing_line) = lines[timing_at];
        // The text: up to a blank line, or a line with "-->" (§6.1: it starts the next block).
        at = timing_at + 1;
        let text_start = at;
        while at < lines.len() && !is_blank(lines[at].1) && !lines[at].1.contains("-->") {
            at += 1;
        }
        captions.push_timed(line, timing(timing_line), || {
            plain(&joined(&lines[text_start..at]))
        });
    }
    Ok(captions.sorted())
}

/// Whether a block's first line makes it a NOTE (§4.1 "comment block"), STYLE or REGION
/// block: the word alone or followed by a space or tab (NOTE: or anything after one).
fn is_keyword_block(line: &str) -> bool {
    ["NOTE", "STYLE", "REGION"].iter().any(|word| {
        line.strip_prefix(word)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
    })
}

/// WebVTT whitespace (§6.1): space, tab, form feed (line ends are gone already).
fn skip_whitespace(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\x0C'])
}

/// The cue timings of a timing line (§6.1 "collect WebVTT cue timings and settings"): start,
/// `-->`, end; the settings after it are ignored.
fn timing(line: &str) -> Option<(Duration, Duration)> {
    let (start, rest) = timestamp(skip_whitespace(line))?;
    let rest = skip_whitespace(rest).strip_prefix("-->")?;
    let (end, _settings) = timestamp(skip_whitespace(rest))?;
    Some((start, end))
}

/// A WebVTT timestamp (§6.1 "collect a WebVTT timestamp"): `mm:ss.ttt` or `hh:mm:ss.ttt`, the
/// hours two or more digits, the rest exactly two (three after the dot), minutes and seconds
/// below 60. Returns it and what follows it.
fn timestamp(s: &str) -> Option<(Duration, &str)> {
    let (first, rest) = digits(s)?;
    let mut hours_first = first.len() != 2;
    let value1: u64 = first.parse().ok()?;
    if value1 > 59 {
        hours_first = true;
    }
    let rest = rest.strip_prefix(':')?;
    let (second, rest) = digits(rest)?;
    if second.len() != 2 {
        return None;
    }
    let (hours, minutes, seconds, rest): (u64, u64, u64, &str) =
        if hours_first || rest.starts_with(':') {
            let (third, rest) = digits(rest.strip_prefix(':')?)?;
            if third.len() != 2 {
                return None;
            }
            (value1, second.parse().ok()?, third.parse().ok()?, rest)
        } else {
            (0, value1, second.parse().ok()?, rest)
        };
    let (fraction, rest) = digits(rest.strip_prefix('.')?)?;
    if fraction.len() != 3 || minutes > 59 || seconds > 59 {
        return None;
    }
    let ms: u64 = fraction.parse().ok()?;
    let total = hours
        .checked_mul(3_600_000)?
        .checked_add(minutes * 60_000 + seconds * 1000 + ms)?;
    Some((Duration::from_millis(total), rest))
}

/// The leading ASCII digits of `s` (at least one) and what follows them.
fn digits(s: &str) -> Option<(&str, &str)> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// Cue text as plain text (§6.4, "WebVTT cue text parsing rules", keeping only the text):
/// every tag from `<` to `>` removed, character references decoded.
fn plain(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            // A tag, to its '>' or to the end of the text.
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        } else if let Some((c, len)) = reference(rest) {
            out.push(c);
            rest = &rest[len..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The character reference at the start of `s` (which starts with `&`) and its length, if it
/// is one this reader knows.
fn reference(s: &str) -> Option<(char, usize)> {
    // The ';' is looked for within 10 bytes: enough for every name below and for &#x10FFFF;.
    let end = s.bytes().take(11).position(|b| b == b';')?;
    let name = &s[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "nbsp" => '\u{A0}',
        "lrm" => '\u{200E}',
        "rlm" => '\u{200F}',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()?
                }
                None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                    number.parse().ok()?
                }
                _ => return None,
            };
            // As HTML does: NUL, surrogates and beyond U+10FFFF read as U+FFFD.
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{FFFD}')
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::Cue;
    use super::super::testing::{ms, texts};
    use super::*;

    #[test]
    fn reads_the_example() {
        let c = parse(
            "WEBVTT - optional text after a space or tab\n\
             Kind: captions\n\
             \n\
             NOTE a comment block,\n\
             skipped whole\n\
             \n\
             STYLE\n\
             ::cue { color: red }\n\
             \n\
             REGION\n\
             id:fred width:40%\n\
             \n\
             intro\n\
             00:01.000 --> 00:04.000 line:0 position:20%\n\
             <v Roger>Never drink <b>liquid</b> nitrogen &amp; so on.\n\
             \n\
             01:00:05.250 --> 01:00:07.000\n\
             Second <c.loud.red>cue</c>\n\
             <i>two lines</i>\n",
        )
        .unwrap();
        assert_eq!(
            c.cues,
            [
                Cue::new(ms(1000), ms(4000), "Never drink liquid nitrogen & so on."),
                Cue::new(ms(3_605_250), ms(3_607_000), "Second cue\ntwo lines"),
            ]
        );
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn signature() {
        for good in [
            "WEBVTT",
            "WEBVTT\n",
            "\u{FEFF}WEBVTT\r\n\r\n",
            "WEBVTT\tx",
            "WEBVTT Kind",
        ] {
            assert_eq!(parse(good), Ok(Captions::default()), "{good:?}");
        }
        for bad in [
            "",
            "WEBVTTX",
            "webvtt",
            " WEBVTT",
            "1\n00:00:01,000 --> 00:00:02,000\n",
        ] {
            assert_eq!(parse(bad), Err(Error::Signature { line: 1 }), "{bad:?}");
        }
        assert_eq!(
            Error::Signature { line: 1 }.to_string(),
            "line 1: no WEBVTT signature"
        );
    }

    #[test]
    fn cue_right_after_the_signature() {
        let c = parse("WEBVTT\n00:00.500 --> 00:01.000\nHi\n").unwrap();
        assert_eq!(c.cues, [Cue::new(ms(500), ms(1000), "Hi")]);
    }

    #[test]
    fn line_endings_and_an_arrow_line_ends_the_text() {
        let c =
            parse("WEBVTT\r\rid\r00:00.000 --> 00:01.000\rone\r00:02.000 --> 00:03.000\rtwo\r\n")
                .unwrap();
        assert_eq!(texts(&c), ["one", "two"]);
        assert_eq!(c.cues[1].start, ms(2000));
    }

    #[test]
    fn skips_and_counts_bad_cues() {
        let c = parse(
            "WEBVTT\n\n\
             00:01.000 --> 00:02.000\ngood\n\n\
             00:01,000 --> 00:02.000\ncomma\n\n\
             a\n00:05.000 --> 00:04.000\nbackwards\n\n\
             words without timing\nmore words\n\n\
             00:60.000 --> 01:00.000\nsixty seconds\n\n\
             00:03.000 --> 00:04.000\nalso good\n",
        )
        .unwrap();
        assert_eq!(texts(&c), ["good", "also good"]);
        let skipped: Vec<String> = c.skipped.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            skipped,
            [
                "line 6: bad timing",
                "line 10: end before start",
                "line 13: bad timing",
                "line 16: bad timing",
            ]
        );
    }

    #[test]
    fn sorted_by_start() {
        let c =
            parse("WEBVTT\n\n00:05.000 --> 00:06.000\nlate\n\n00:01.000 --> 00:02.000\nearly\n")
                .unwrap();
        assert_eq!(texts(&c), ["early", "late"]);
    }

    #[test]
    fn timestamps() {
        let t = |s| timestamp(s).map(|(d, rest)| (d, rest.to_owned()));
        assert_eq!(t("00:01.000"), Some((ms(1000), String::new())));
        assert_eq!(t("01:02.003 x"), Some((ms(62_003), " x".to_owned())));
        assert_eq!(t("01:02:03.004"), Some((ms(3_723_004), String::new())));
        assert_eq!(t("100:00:00.000"), Some((ms(360_000_000), String::new())));
        // Minutes first unless two digits below 60.
        assert_eq!(t("75:00:00.000"), Some((ms(270_000_000), String::new())));
        assert_eq!(t("1:00:00.000"), Some((ms(3_600_000), String::new())));
        for bad in [
            "",
            "1:00.000",
            "75:00.000",
            "00:1.000",
            "00:01.00",
            "00:01.0000",
            "00:01",
            "00:60.000",
            "00:00:60.000",
            "00:60:00.000",
            "00:01,000",
            "99999999999999999999:00:00.000",
            "a0:01.000",
            "00:01.00a",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timing_lines() {
        assert_eq!(
            timing("00:01.000 --> 00:02.000 align:start size:50%"),
            Some((ms(1000), ms(2000)))
        );
        assert_eq!(
            timing(" \t00:01.000-->00:02.000"),
            Some((ms(1000), ms(2000)))
        );
        assert_eq!(timing("00:01.000 -> 00:02.000"), None);
        assert_eq!(timing("00:01.000 -->"), None);
        assert_eq!(timing("--> 00:02.000"), None);
    }

    #[test]
    fn cue_text() {
        assert_eq!(plain("<v Roger Bingham>Hi</v>"), "Hi");
        assert_eq!(
            plain("<c.yellow.bg_blue>x</c> <ruby>漢<rt>kan</rt></ruby>"),
            "x 漢kan"
        );
        assert_eq!(
            plain("karaoke <00:00:01.000>word <00:00:02.000>word"),
            "karaoke word word"
        );
        assert_eq!(
            plain("a &lt;b&gt; &amp;&amp; c&nbsp;d"),
            "a <b> && c\u{A0}d"
        );
        assert_eq!(
            plain("&#65;&#x42;&#X43;&#0;&#xD800;&#x110000;"),
            "ABC\u{FFFD}\u{FFFD}\u{FFFD}"
        );
        assert_eq!(plain("&lrm;&rlm;&quot;&apos;"), "\u{200E}\u{200F}\"'");
        assert_eq!(
            plain("AT&T &unknown; & &#; &#x; &;"),
            "AT&T &unknown; & &#; &#x; &;"
        );
        assert_eq!(plain("unclosed <b"), "unclosed ");
        assert_eq!(plain("&amp"), "&amp");
        assert_eq!(plain("&ééééé;"), "&ééééé;");
    }

    proptest! {
        #[test]
        fn never_panics(text in "WEBVTT\n(\\PC|[0-9:.\\->\\n\\r &;<#x])*") {
            let _ = parse(&text);
        }
    }
}
