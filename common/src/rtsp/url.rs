//! The host and port an `rtsp://` or `rtsps://` URL names (RFC 2326 §3.2; RFC 3986 §3.2 for
//! user information and IPv6 literals).

/// Host and port of `rtsp://host[:port][/path]` (default port 554, RFC 2326 §3.2) or
/// `rtsps://` (322); IPv6 literals in brackets, `user:password@` skipped. The error says why
/// the URL is not one.
pub fn host_port(url: &str) -> Result<(String, u16), &'static str> {
    let (scheme, rest) = url.split_once("://").ok_or("no scheme")?;
    let default_port = if scheme.eq_ignore_ascii_case("rtsp") {
        554
    } else if scheme.eq_ignore_ascii_case("rtsps") {
        322
    } else {
        return Err("only rtsp:// and rtsps:// are supported");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse()
            .map_err(|_| "the port is not a number up to 65535")?,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(host_port("rtsp://h:8554/a/b.mjpeg"), Ok(("h".into(), 8554)));
        assert_eq!(
            host_port("rtsp://127.0.0.1/x"),
            Ok(("127.0.0.1".into(), 554))
        );
        assert_eq!(host_port("rtsps://h/x"), Ok(("h".into(), 322)));
        assert_eq!(host_port("RTSP://[::1]:9/x"), Ok(("::1".into(), 9)));
        assert_eq!(
            host_port("rtsp://user:pw@cam:1554"),
            Ok(("cam".into(), 1554))
        );
        for bad in [
            "http://h/x",
            "h:554/x",
            "rtsp:///x",
            "rtsp://h:99999/x",
            "rtsp://[::1/x",
        ] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }
}
