//! Lines of a caption file, numbered, as both formats read them: ended by CR LF, LF or CR
//! (WebVTT §4.1 allows all three; SubRip files come with any of them), a leading BOM dropped.

/// The text without a leading U+FEFF BYTE ORDER MARK.
pub(super) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{FEFF}').unwrap_or(text)
}

/// The lines of `text` with their numbers (from 1), without their line terminators.
pub(super) fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    Lines { rest: Some(text) }
        .zip(1..)
        .map(|(line, n)| (n, line))
}

/// Whether a line is blank: empty, or spaces and tabs only.
pub(super) fn is_blank(line: &str) -> bool {
    line.bytes().all(|b| b == b' ' || b == b'\t')
}

/// The text of numbered lines, joined by `\n`: a cue's text as both formats keep it.
pub(super) fn joined(lines: &[(usize, &str)]) -> String {
    let mut text = String::new();
    for (i, (_, l)) in lines.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(l);
    }
    text
}

struct Lines<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.find(['\r', '\n']) {
            Some(at) => {
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                let after = &rest[at + skip..];
                // A terminator at the very end ends the last line; no empty line follows.
                self.rest = (!after.is_empty()).then_some(after);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                (!rest.is_empty()).then_some(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, &str)> {
        numbered(text).collect()
    }

    #[test]
    fn every_terminator() {
        assert_eq!(
            lines("a\r\nb\nc\rd"),
            [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
        );
        assert_eq!(lines("a\n\n\nb\n"), [(1, "a"), (2, ""), (3, ""), (4, "b")]);
        assert_eq!(lines("\r\n"), [(1, "")]);
        assert!(lines("").is_empty());
        // CR then CR LF: two terminators.
        assert_eq!(lines("a\r\r\nb"), [(1, "a"), (2, ""), (3, "b")]);
    }

    #[test]
    fn bom_and_blank() {
        assert_eq!(strip_bom("\u{FEFF}WEBVTT"), "WEBVTT");
        assert_eq!(strip_bom("WEBVTT"), "WEBVTT");
        assert!(is_blank(" \t"));
        assert!(is_blank(""));
        assert!(!is_blank(" x"));
    }
}
