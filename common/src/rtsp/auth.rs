//! HTTP authentication as RTSP uses it (RFC 2326 §D.1 → RFC 2617; today RFC 7616 Digest and
//! RFC 7617 Basic): the `WWW-Authenticate` challenge and the `Authorization` credentials, parsed
//! and written; Digest's hashes (MD5 and SHA-256, `qop=auth` or none); and nonces a server can
//! check without keeping any (an HMAC over the time they were made).
//!
//! Parsing is bounded (at most [`MAX_PARAMS`] parameters of at most [`MAX_VALUE`] bytes) and
//! never panics: malformed input is an [`AuthError`].

use std::fmt;

use base64::Engine as _;
use hmac::Mac;

/// Parameters an auth header may carry.
pub const MAX_PARAMS: usize = 24;
/// Longest parameter value (a nonce, a URI...).
pub const MAX_VALUE: usize = 1024;

/// Why an auth header cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not `Basic` or `Digest`.
    #[error("unknown authentication scheme {0:?}")]
    Scheme(String),
    /// The parameter list is not `name=token` or `name="quoted"` separated by commas.
    #[error("malformed auth parameters at byte {0}")]
    Syntax(usize),
    /// More than [`MAX_PARAMS`] parameters, or a value over [`MAX_VALUE`] bytes.
    #[error("auth header too large")]
    TooLarge,
    /// A parameter the scheme requires is missing.
    #[error("missing auth parameter {0}")]
    Missing(&'static str),
    /// Basic credentials that are not base64 of `user:password`.
    #[error("malformed Basic credentials")]
    Basic,
}

/// A Digest algorithm (RFC 7616 §3.2). The `-sess` variants are not offered or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// MD5 (RFC 2617; what most RTSP clients speak).
    Md5,
    /// SHA-256 (RFC 7616).
    Sha256,
}

impl Algorithm {
    /// Its name in headers.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm a header names (case-insensitive); `None` for any other.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        if name.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if name.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// `H(a:b:…)` in lowercase hex.
    pub fn hash(self, parts: &[&[u8]]) -> String {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(part);
            }
            d.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
        match self {
            Algorithm::Md5 => run::<md5::Md5>(parts),
            Algorithm::Sha256 => run::<sha2::Sha256>(parts),
        }
    }
}

/// HA1 = H(username:realm:password) (RFC 7616 §3.4.2): what a users file stores instead of the
/// password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The `response` a client sends (RFC 7616 §3.4.1): with `qop=auth`
/// H(HA1:nonce:nc:cnonce:auth:H(method:uri)), without qop (RFC 2069) H(HA1:nonce:H(method:uri)).
pub fn response(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hash(&[method.as_bytes(), uri.as_bytes()]);
    match qop {
        Some((nc, cnonce)) => algorithm.hash(&[
            ha1.as_bytes(),
            nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            b"auth",
            ha2.as_bytes(),
        ]),
        None => algorithm.hash(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// `name=value` parameters after a scheme, values unquoted.
type Params = Vec<(String, String)>;

/// Splits `Scheme params` and reads the parameters (RFC 7235 §2.1 auth-param list).
fn split(value: &str) -> Result<(&str, Params), AuthError> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    Ok((scheme, params(rest)?))
}

/// `a=b, c="d \" e"` → [(a, b), (c, d " e)]; names lowercase.
fn params(s: &str) -> Result<Params, AuthError> {
    let bytes = s.as_bytes();
    let mut out = Params::new();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < bytes.len() && (bytes[*i] == b',' || bytes[*i].is_ascii_whitespace()) {
            *i += 1;
        }
    };
    skip(&mut i);
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && is_tchar(bytes[i]) {
            i += 1;
        }
        if i == start {
            return Err(AuthError::Syntax(i));
        }
        let name = s[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(AuthError::Syntax(i));
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(AuthError::Syntax(i)),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < bytes.len() => {
                        // A quoted-pair: the next character, whole (it may be UTF-8).
                        let ch = s[i + 1..].chars().next().ok_or(AuthError::Syntax(i))?;
                        value.push(ch);
                        i += 1 + ch.len_utf8();
                    }
                    Some(&b) if b >= 0x20 || b == b'\t' => {
                        // Keep UTF-8 intact: copy the whole character.
                        let ch = s[i..].chars().next().ok_or(AuthError::Syntax(i))?;
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                    Some(_) => return Err(AuthError::Syntax(i)),
                }
                if value.len() > MAX_VALUE {
                    return Err(AuthError::TooLarge);
                }
            }
        } else {
            let start = i;
            while i < bytes.len() && is_tchar(bytes[i]) || bytes.get(i) == Some(&b'/') {
                i += 1;
            }
            if i == start {
                return Err(AuthError::Syntax(i));
            }
            value.push_str(&s[start..i]);
        }
        if value.len() > MAX_VALUE {
            return Err(AuthError::TooLarge);
        }
        if out.len() == MAX_PARAMS {
            return Err(AuthError::TooLarge);
        }
        out.push((name, value));
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        match bytes.get(i) {
            None => break,
            Some(b',') => skip(&mut i),
            Some(_) => return Err(AuthError::Syntax(i)),
        }
    }
    Ok(out)
}

/// RFC 7230 token characters (and `=`-free token68 padding is not needed here).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn get<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Writes `value` as a quoted-string.
fn quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// A `WWW-Authenticate` challenge (RFC 7235 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Basic (RFC 7617).
    Basic {
        /// The protection space.
        realm: String,
    },
    /// Digest (RFC 7616 §3.3).
    Digest(DigestChallenge),
}

/// A Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// Echoed back by the client.
    pub opaque: Option<String>,
    /// The algorithm; `None` when the challenge names one this crate does not know (the
    /// challenge is then of no use), absent means MD5.
    pub algorithm: Option<Algorithm>,
    /// Whether `qop="auth"` is offered (else RFC 2069 style).
    pub qop_auth: bool,
    /// The nonce was stale: the credentials were right, ask again with the new nonce.
    pub stale: bool,
}

impl Challenge {
    /// Reads one challenge (a header value).
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let (scheme, params) = split(value)?;
        if scheme.eq_ignore_ascii_case("Basic") {
            let realm = get(&params, "realm").ok_or(AuthError::Missing("realm"))?;
            return Ok(Challenge::Basic {
                realm: realm.to_owned(),
            });
        }
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::Scheme(scheme.chars().take(32).collect()));
        }
        let realm = get(&params, "realm").ok_or(AuthError::Missing("realm"))?;
        let nonce = get(&params, "nonce").ok_or(AuthError::Missing("nonce"))?;
        let algorithm =
            get(&params, "algorithm").map_or(Some(Algorithm::Md5), Algorithm::from_name);
        let qop_auth = get(&params, "qop")
            .is_some_and(|q| q.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")));
        let stale = get(&params, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true"));
        Ok(Challenge::Digest(DigestChallenge {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            opaque: get(&params, "opaque").map(str::to_owned),
            algorithm,
            qop_auth,
            stale,
        }))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Challenge::Basic { realm } => {
                f.write_str("Basic realm=")?;
                quoted(f, realm)
            }
            Challenge::Digest(d) => {
                f.write_str("Digest realm=")?;
                quoted(f, &d.realm)?;
                f.write_str(", nonce=")?;
                quoted(f, &d.nonce)?;
                if let Some(opaque) = &d.opaque {
                    f.write_str(", opaque=")?;
                    quoted(f, opaque)?;
                }
                write!(
                    f,
                    ", algorithm={}",
                    d.algorithm.unwrap_or(Algorithm::Md5).name()
                )?;
                if d.qop_auth {
                    f.write_str(", qop=\"auth\"")?;
                }
                if d.stale {
                    f.write_str(", stale=true")?;
                }
                Ok(())
            }
        }
    }
}

/// `Authorization` credentials (RFC 7235 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Basic: user and password in the clear (only over TLS).
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// Digest (RFC 7616 §3.4).
    Digest(DigestCredentials),
}

/// Digest credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// The user.
    pub username: String,
    /// The protection space.
    pub realm: String,
    /// The server's nonce, echoed.
    pub nonce: String,
    /// The request URI the response covers.
    pub uri: String,
    /// The hash.
    pub response: String,
    /// `None` when the header named an unknown algorithm; absent means MD5.
    pub algorithm: Option<Algorithm>,
    /// The opaque value, echoed.
    pub opaque: Option<String>,
    /// With `qop=auth`: nonce count (8 hex digits) and client nonce.
    pub qop: Option<(String, String)>,
}

impl Credentials {
    /// Reads an `Authorization` value.
    pub fn parse(value: &str) -> Result<Credentials, AuthError> {
        let trimmed = value.trim();
        let (scheme, rest) = trimmed
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((trimmed, ""));
        if scheme.eq_ignore_ascii_case("Basic") {
            if rest.len() > MAX_VALUE {
                return Err(AuthError::TooLarge);
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| AuthError::Basic)?;
            let text = String::from_utf8(raw).map_err(|_| AuthError::Basic)?;
            let (username, password) = text.split_once(':').ok_or(AuthError::Basic)?;
            return Ok(Credentials::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            });
        }
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::Scheme(scheme.chars().take(32).collect()));
        }
        let params = params(rest)?;
        let need = |name: &'static str| {
            get(&params, name)
                .map(str::to_owned)
                .ok_or(AuthError::Missing(name))
        };
        let qop = match get(&params, "qop") {
            Some(_) => Some((need("nc")?, need("cnonce")?)),
            None => None,
        };
        Ok(Credentials::Digest(DigestCredentials {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm: get(&params, "algorithm").map_or(Some(Algorithm::Md5), Algorithm::from_name),
            opaque: get(&params, "opaque").map(str::to_owned),
            qop,
        }))
    }

    /// The user these credentials are for.
    pub fn username(&self) -> &str {
        match self {
            Credentials::Basic { username, .. } => username,
            Credentials::Digest(d) => &d.username,
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, password } => {
                let raw = format!("{username}:{password}");
                write!(
                    f,
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            Credentials::Digest(d) => {
                f.write_str("Digest username=")?;
                quoted(f, &d.username)?;
                f.write_str(", realm=")?;
                quoted(f, &d.realm)?;
                f.write_str(", nonce=")?;
                quoted(f, &d.nonce)?;
                f.write_str(", uri=")?;
                quoted(f, &d.uri)?;
                f.write_str(", response=")?;
                quoted(f, &d.response)?;
                write!(
                    f,
                    ", algorithm={}",
                    d.algorithm.unwrap_or(Algorithm::Md5).name()
                )?;
                if let Some(opaque) = &d.opaque {
                    f.write_str(", opaque=")?;
                    quoted(f, opaque)?;
                }
                if let Some((nc, cnonce)) = &d.qop {
                    write!(f, ", qop=auth, nc={nc}, cnonce=")?;
                    quoted(f, cnonce)?;
                }
                Ok(())
            }
        }
    }
}

/// Nonces a server can check without remembering them: the time they were made and an HMAC
/// of it under a secret only the server knows (RFC 7616 §5.4 suggests as much).
#[derive(Clone)]
pub struct Nonces {
    secret: [u8; 32],
}

/// What [`Nonces::check`] says of a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Made by us, young enough.
    Fresh,
    /// Made by us, too old: answer 401 with `stale=true`.
    Stale,
    /// Not one of ours.
    Invalid,
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonces { secret: <hidden> }")
    }
}

impl Nonces {
    /// Nonces under `secret` (random, made at start-up).
    pub fn new(secret: [u8; 32]) -> Nonces {
        Nonces { secret }
    }

    fn mac(&self, time: u64, realm: &str) -> [u8; 16] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .expect("HMAC takes a key of any length");
        mac.update(&time.to_be_bytes());
        mac.update(realm.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A nonce made at `time` (seconds on any clock the server keeps) for `realm`.
    pub fn issue(&self, time: u64, realm: &str) -> String {
        let mut raw = time.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.mac(time, realm));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` is one of ours for `realm`, and younger than `max_age` seconds at `now`.
    pub fn check(&self, nonce: &str, realm: &str, now: u64, max_age: u64) -> Freshness {
        let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(nonce) else {
            return Freshness::Invalid;
        };
        let Some((time, mac)) = raw.split_first_chunk::<8>() else {
            return Freshness::Invalid;
        };
        let time = u64::from_be_bytes(*time);
        // Compared in constant time: the HMAC verifies.
        let mut check = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .expect("HMAC takes a key of any length");
        check.update(&time.to_be_bytes());
        check.update(realm.as_bytes());
        if mac.len() != 16 || check.verify_truncated_left(mac).is_err() {
            return Freshness::Invalid;
        }
        if time > now || now - time > max_age {
            Freshness::Stale
        } else {
            Freshness::Fresh
        }
    }
}

/// Compares two ASCII strings (hex digests) in time that does not depend on where they differ.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| {
            acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
        }) == 0
}

/// Splits `user:password@` off an `rtsp://` URL (percent-decoded): the URL without them, and
/// them if there were any.
pub fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let userinfo = &rest[..at];
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    (
        format!("{scheme}://{}", &rest[at + 1..]),
        Some((percent_decode(user), percent_decode(password))),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_comes_off_the_url() {
        assert_eq!(
            split_userinfo("rtsp://al%40ice:p%3Aw@host:8554/a/b.mjpeg"),
            (
                "rtsp://host:8554/a/b.mjpeg".into(),
                Some(("al@ice".into(), "p:w".into()))
            )
        );
        assert_eq!(
            split_userinfo("rtsp://host/x@y"),
            ("rtsp://host/x@y".into(), None)
        );
    }

    /// RFC 7616 §3.9.1: the same request under MD5 and SHA-256.
    #[test]
    fn rfc_7616_examples() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (algorithm, expected) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let ha1 = ha1(
                algorithm,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life",
            );
            let r = response(
                algorithm,
                &ha1,
                nonce,
                Some(("00000001", cnonce)),
                "GET",
                "/dir/index.html",
            );
            assert_eq!(r, expected, "{}", algorithm.name());
        }
    }

    #[test]
    fn challenges_and_credentials_round_trip() {
        let c = Challenge::Digest(DigestChallenge {
            realm: "hd \"stream\"".into(),
            nonce: "abc".into(),
            opaque: Some("xyz".into()),
            algorithm: Some(Algorithm::Sha256),
            qop_auth: true,
            stale: true,
        });
        assert_eq!(Challenge::parse(&c.to_string()), Ok(c));
        let basic = Challenge::Basic {
            realm: "hdstream".into(),
        };
        assert_eq!(Challenge::parse(&basic.to_string()), Ok(basic));
        let d = Credentials::Digest(DigestCredentials {
            username: "alice".into(),
            realm: "hdstream".into(),
            nonce: "n".into(),
            uri: "rtsp://h/clip.mjpeg".into(),
            response: "0123".into(),
            algorithm: Some(Algorithm::Md5),
            opaque: None,
            qop: Some(("00000001".into(), "c".into())),
        });
        assert_eq!(Credentials::parse(&d.to_string()), Ok(d));
        let b = Credentials::Basic {
            username: "bob".into(),
            password: "p:w".into(),
        };
        assert_eq!(b.to_string(), "Basic Ym9iOnA6dw==");
        assert_eq!(Credentials::parse(&b.to_string()), Ok(b));
    }

    #[test]
    fn what_clients_send_parses() {
        // ffmpeg's form (unquoted algorithm, qop and nc), and an RFC 2069 one.
        let ffmpeg = r#"Digest username="u", realm="hdstream", nonce="n1", uri="rtsp://127.0.0.1:8554/clip.mjpeg", response="ab", algorithm="MD5", cnonce="cc", nc=00000001, qop="auth""#;
        let Ok(Credentials::Digest(d)) = Credentials::parse(ffmpeg) else {
            panic!("parses");
        };
        assert_eq!(d.qop, Some(("00000001".into(), "cc".into())));
        assert_eq!(d.uri, "rtsp://127.0.0.1:8554/clip.mjpeg");
        let old = r#"Digest username="u", realm="r", nonce="n", uri="/a", response="ff""#;
        assert!(matches!(
            Credentials::parse(old),
            Ok(Credentials::Digest(DigestCredentials { qop: None, .. }))
        ));
    }

    #[test]
    fn hostile_headers_are_errors() {
        // Found by the fuzzer: an escaped multi-byte character in a quoted string.
        let Ok(Challenge::Digest(d)) = Challenge::parse("Digest realm=\"a\\\u{ea}b\", nonce=n")
        else {
            panic!("parses");
        };
        assert_eq!(d.realm, "a\u{ea}b");
        let long = format!(
            "Digest realm=\"{}\", nonce=\"n\"",
            "x".repeat(MAX_VALUE + 1)
        );
        assert_eq!(Challenge::parse(&long), Err(AuthError::TooLarge));
        let many = format!(
            "Digest {}",
            (0..30)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(Challenge::parse(&many), Err(AuthError::TooLarge));
        assert!(matches!(
            Challenge::parse("Digest realm=\"open"),
            Err(AuthError::Syntax(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm"),
            Err(AuthError::Syntax(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest =x"),
            Err(AuthError::Syntax(_))
        ));
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\""),
            Err(AuthError::Missing("realm"))
        );
        assert!(matches!(
            Challenge::parse("Bearer x=1"),
            Err(AuthError::Scheme(_))
        ));
        assert_eq!(
            Credentials::parse("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\""),
            Err(AuthError::Missing("response"))
        );
        assert_eq!(Credentials::parse("Basic !!!"), Err(AuthError::Basic));
        let Ok(Challenge::Digest(d)) =
            Challenge::parse("Digest realm=r, nonce=n, algorithm=SHA-512-256")
        else {
            panic!("parses");
        };
        assert_eq!(d.algorithm, None, "an unknown algorithm is no algorithm");
    }

    #[test]
    fn nonces_are_checked_without_state() {
        let nonces = Nonces::new([7; 32]);
        let n = nonces.issue(100, "hdstream");
        assert_eq!(nonces.check(&n, "hdstream", 130, 60), Freshness::Fresh);
        assert_eq!(nonces.check(&n, "hdstream", 161, 60), Freshness::Stale);
        assert_eq!(nonces.check(&n, "other", 130, 60), Freshness::Invalid);
        assert_eq!(
            Nonces::new([8; 32]).check(&n, "hdstream", 130, 60),
            Freshness::Invalid
        );
        let mut forged = n.clone();
        forged.replace_range(0..1, if n.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            nonces.check(&forged, "hdstream", 130, 60),
            Freshness::Invalid
        );
        assert_eq!(nonces.check("", "hdstream", 130, 60), Freshness::Invalid);
        assert_eq!(nonces.check("***", "hdstream", 130, 60), Freshness::Invalid);
        assert!(same_digest("abC", "ABc") && !same_digest("ab", "abc") && !same_digest("ab", "ac"));
    }
}
