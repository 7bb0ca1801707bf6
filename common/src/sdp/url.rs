//! Control URLs, RFC 2326 C.1.1.

/// Resolves an `a=control:` value against `base` (the Content-Base, else Content-Location,
/// else the DESCRIBE URL; RFC 2326 C.1.1):
///
/// - `*` or empty: `base` itself (aggregate control);
/// - an absolute URL (`scheme://...`): unchanged;
/// - an absolute path (`/x`): `base`'s scheme and authority with that path;
/// - anything else is appended to `base` after a `/` (added if `base` lacks one). This is what
///   live555, ffmpeg and GStreamer clients do, so `rtsp://cam/live.sdp` + `track1` gives
///   `rtsp://cam/live.sdp/track1`, where strict RFC 3986 resolution would drop `live.sdp`.
///
/// ```
/// use hdstream_common::sdp::resolve;
/// assert_eq!(resolve("rtsp://h:8554/test/", "stream=0"), "rtsp://h:8554/test/stream=0");
/// assert_eq!(resolve("rtsp://h/movie.mjpeg", "track1"), "rtsp://h/movie.mjpeg/track1");
/// assert_eq!(resolve("rtsp://h/a/", "*"), "rtsp://h/a/");
/// assert_eq!(resolve("rtsp://h/a/", "rtsp://other/b"), "rtsp://other/b");
/// assert_eq!(resolve("rtsp://h:554/a/b", "/c"), "rtsp://h:554/c");
/// ```
pub fn resolve(base: &str, control: &str) -> String {
    let control = control.trim();
    if control.is_empty() || control == "*" {
        return base.to_owned();
    }
    if has_scheme(control) {
        return control.to_owned();
    }
    if control.starts_with('/') {
        let Some(scheme_end) = base.find("://") else {
            return control.to_owned();
        };
        let authority = scheme_end + 3;
        let path = base
            .get(authority..)
            .and_then(|rest| rest.find('/'))
            .map_or(base.len(), |p| authority + p);
        return format!("{}{control}", base.get(..path).unwrap_or(base));
    }
    let sep = if base.ends_with('/') || base.is_empty() {
        ""
    } else {
        "/"
    };
    format!("{base}{sep}{control}")
}

/// `scheme "://"` with `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_controls_are_appended_with_one_slash() {
        assert_eq!(resolve("rtsp://h/a", "track1"), "rtsp://h/a/track1");
        assert_eq!(resolve("rtsp://h/a/", "track1"), "rtsp://h/a/track1");
        assert_eq!(
            resolve("rtsp://h/a/", " streamid=0 "),
            "rtsp://h/a/streamid=0"
        );
        assert_eq!(resolve("", "x"), "x");
    }

    #[test]
    fn absolute_urls_and_paths() {
        assert_eq!(
            resolve("rtsp://h/a/", "rtsp://h/a/stream=0"),
            "rtsp://h/a/stream=0"
        );
        assert_eq!(resolve("rtsp://h:1/a/b", "/x/y"), "rtsp://h:1/x/y");
        assert_eq!(resolve("rtsp://h:1", "/x"), "rtsp://h:1/x");
        assert_eq!(resolve("movie.Mjpeg", "/x"), "/x");
        assert_eq!(resolve("rtsp://h/a", "a=b://c"), "rtsp://h/a/a=b://c");
    }
}
