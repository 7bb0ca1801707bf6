//! Character classes and small lexical helpers from RFC 2326 §15 (which borrows them from
//! RFC 2616 §2.2), shared by the message parser and the typed headers.

/// `token = 1*<any CHAR except CTLs or tspecials>` (RFC 2326 §15, RFC 2616 §2.2).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
                | b'{'
                | b'}'
        )
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Linear white space inside a line: SP or HT.
pub(crate) fn is_lws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing SP/HT.
pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_exclude_separators_controls_and_space() {
        assert!(is_token("GET_PARAMETER"));
        assert!(is_token("x-Custom.1"));
        for bad in ["", "a b", "a:b", "a/b", "a\"b", "a\tb", "a\u{7f}", "ä"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn trim_lws_strips_only_spaces_and_tabs() {
        assert_eq!(trim_lws(" \t x y\t "), "x y");
        assert_eq!(trim_lws("\u{a0}x"), "\u{a0}x");
    }
}
