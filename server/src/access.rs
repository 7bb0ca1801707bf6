//! Who may watch and who may publish (RFC 2326 §D.1 with RFC 7616 Digest, RFC 7617 Basic):
//! the users file, and the check every request goes through when one is given.
//!
//! The users file (`--users FILE`, TOML) stores Digest HA1 values, never passwords:
//!
//! ```toml
//! realm = "hdstream"            # HA1 values depend on it
//!
//! [[user]]
//! name = "alice"
//! md5 = "…"                     # H(alice:hdstream:password) — `hdstream-user add` writes these
//! sha256 = "…"
//! read = ["*"]                  # URL paths: "*" all, "dir/*" everything below dir, or a name
//! publish = ["live/*"]
//! admin = true                  # may read the HTTP port's /api/v1/... and /metrics
//!
//! [[user]]
//! name = "*"                    # anyone, without credentials
//! read = ["public/*"]
//! ```
//!
//! A request without valid credentials gets 401 with a SHA-256 and an MD5 Digest challenge
//! (and Basic over TLS only); a nonce older than [`NONCE_LIFETIME`] gets `stale=true`; a user
//! without the right gets 403. An address that fails more than [`MAX_FAILURES`] times within
//! [`FAILURE_WINDOW`] is refused (503) until it has been quiet for that long; others are not
//! affected. Credentials never reach the logs.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hdstream_common::rtsp::auth::{
    self, Algorithm, Challenge, Credentials, DigestChallenge, Freshness, Nonces,
};

/// How long a nonce stays good; older ones get `stale=true`.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Failed attempts an address may make within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 20;
/// The window failures are counted over.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(10);
/// Addresses whose failures are remembered at most (the oldest goes first).
const MAX_TRACKED: usize = 4096;

/// What a request asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Watch (DESCRIBE, SETUP, PLAY, …).
    Read,
    /// Publish (ANNOUNCE, RECORD).
    Publish,
    /// Operate: the HTTP port's `/api/v1/...` and `/metrics` ([`crate::ops`]), whatever the
    /// path.
    Admin,
}

/// One user of the users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name; `*` is anyone, without credentials.
    pub name: String,
    /// HA1 under MD5.
    pub md5: Option<String>,
    /// HA1 under SHA-256.
    pub sha256: Option<String>,
    /// Paths it may watch.
    pub read: Vec<String>,
    /// Paths it may publish to.
    pub publish: Vec<String>,
    /// Whether it may read the operations API and metrics (`admin = true`).
    pub admin: bool,
}

impl User {
    fn may(&self, right: Right, path: &str) -> bool {
        let patterns = match right {
            Right::Read => &self.read,
            Right::Publish => &self.publish,
            Right::Admin => return self.admin,
        };
        patterns.iter().any(|p| matches(p, path))
    }

    fn ha1(&self, algorithm: Algorithm) -> Option<&str> {
        match algorithm {
            Algorithm::Md5 => self.md5.as_deref(),
            Algorithm::Sha256 => self.sha256.as_deref(),
        }
    }
}

/// Whether `pattern` (`*`, `dir/*` or a name) covers `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.trim_matches('/');
    match pattern.trim_matches('/') {
        "*" => true,
        p => match p.strip_suffix("/*") {
            Some(dir) => path.strip_prefix(dir).is_some_and(|r| r.starts_with('/')),
            None => p == path,
        },
    }
}

/// The users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    /// The protection space the HA1 values were made for.
    pub realm: String,
    /// Everyone named, and `*`.
    pub users: Vec<User>,
}

/// Why a users file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// Unreadable.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Not the format above.
    #[error("{path}: {error}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong, and where.
        error: String,
    },
}

impl Users {
    /// Reads a users file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|error| UsersError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Users::parse(&text).map_err(|error| UsersError::Format {
            path: path.display().to_string(),
            error,
        })
    }

    /// Reads the text of a users file.
    pub fn parse(text: &str) -> Result<Users, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let realm = match table.get("realm") {
            None => "hdstream".to_owned(),
            Some(toml::Value::String(s)) => s.clone(),
            Some(_) => return Err("realm must be a string".into()),
        };
        let mut users = Vec::new();
        let entries = match table.get("user") {
            None => &Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => return Err("[[user]] entries expected".into()),
        };
        for (i, entry) in entries.iter().enumerate() {
            let at = |what: &str| format!("user {}: {what}", i + 1);
            let toml::Value::Table(t) = entry else {
                return Err(at("not a table"));
            };
            let text = |key: &str| -> Result<Option<String>, String> {
                match t.get(key) {
                    None => Ok(None),
                    Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(at(&format!("{key} must be a string"))),
                }
            };
            let list = |key: &str| -> Result<Vec<String>, String> {
                match t.get(key) {
                    None => Ok(Vec::new()),
                    Some(toml::Value::Array(a)) => a
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| at(&format!("{key} must list strings"))),
                    Some(_) => Err(at(&format!("{key} must be a list"))),
                }
            };
            let name = text("name")?.ok_or_else(|| at("no name"))?;
            let hex = |key: &str, len: usize| -> Result<Option<String>, String> {
                let value = text(key)?;
                if value
                    .as_ref()
                    .is_some_and(|v| v.len() != len || !v.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(at(&format!(
                        "{key} must be {len} hex digits (an HA1 value)"
                    )));
                }
                Ok(value.map(|v| v.to_ascii_lowercase()))
            };
            let user = User {
                md5: hex("md5", 32)?,
                sha256: hex("sha256", 64)?,
                read: list("read")?,
                publish: list("publish")?,
                admin: match t.get("admin") {
                    None => false,
                    Some(toml::Value::Boolean(b)) => *b,
                    Some(_) => return Err(at("admin must be true or false")),
                },
                name,
            };
            if user.name != "*" && user.md5.is_none() && user.sha256.is_none() {
                return Err(at("neither md5 nor sha256: no way to log in"));
            }
            users.push(user);
        }
        Ok(Users { realm, users })
    }

    /// Adds (or replaces) `name` with HA1 values for `password`, as the users file's text.
    pub fn with_user(
        mut self,
        name: &str,
        password: &str,
        read: Vec<String>,
        publish: Vec<String>,
    ) -> Users {
        self.users.retain(|u| u.name != name);
        self.users.push(User {
            name: name.to_owned(),
            md5: Some(auth::ha1(Algorithm::Md5, name, &self.realm, password)),
            sha256: Some(auth::ha1(Algorithm::Sha256, name, &self.realm, password)),
            read,
            publish,
            admin: false,
        });
        self
    }

    /// Gives `name` the admin right (`true`) or takes it (`false`); no-op for an unknown name.
    pub fn with_admin(mut self, name: &str, admin: bool) -> Users {
        for u in self.users.iter_mut().filter(|u| u.name == name) {
            u.admin = admin;
        }
        self
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let quote = |s: &str| {
            let mut q = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => q.push_str("\\\""),
                    '\\' => q.push_str("\\\\"),
                    c if c.is_control() => q.push_str(&format!("\\u{:04X}", u32::from(c))),
                    c => q.push(c),
                }
            }
            q.push('"');
            q
        };
        let list = |l: &[String]| {
            format!(
                "[{}]",
                l.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
            )
        };
        let mut out = format!("realm = {}\n", quote(&self.realm));
        for u in &self.users {
            out.push_str(&format!("\n[[user]]\nname = {}\n", quote(&u.name)));
            if let Some(h) = &u.md5 {
                out.push_str(&format!("md5 = {}\n", quote(h)));
            }
            if let Some(h) = &u.sha256 {
                out.push_str(&format!("sha256 = {}\n", quote(h)));
            }
            out.push_str(&format!(
                "read = {}\npublish = {}\n",
                list(&u.read),
                list(&u.publish)
            ));
            if u.admin {
                out.push_str("admin = true\n");
            }
        }
        out
    }

    fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name && name != "*")
    }

    fn anyone(&self) -> Option<&User> {
        self.users.iter().find(|u| u.name == "*")
    }
}

/// What [`Access::check`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (as this user, or anyone).
    Allowed(Option<String>),
    /// 401 with these `WWW-Authenticate` values.
    Challenge(Vec<String>),
    /// 403: a known user without the right.
    Forbidden(String),
    /// 503: this address failed too often; refuse and close.
    Refused,
}

/// Failed attempts of one address.
#[derive(Debug, Default)]
struct Failures {
    times: VecDeque<Instant>,
    logged: bool,
}

/// The check every request goes through (one per server core).
#[derive(Debug)]
pub struct Access {
    users: Users,
    nonces: Nonces,
    /// Nonce time is seconds since this.
    epoch: Instant,
    failures: HashMap<IpAddr, Failures>,
    nonce_lifetime: Duration,
}

/// One request, as the check sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Who asks.
    pub peer: IpAddr,
    /// The request's method, as sent.
    pub method: &'a str,
    /// The request URI, as sent.
    pub uri: &'a str,
    /// The media path it names (no track).
    pub path: &'a str,
    /// What it wants to do.
    pub right: Right,
    /// Its `Authorization` header.
    pub authorization: Option<&'a str>,
    /// Over TLS (Basic allowed).
    pub tls: bool,
}

impl Access {
    /// A check of `users`; `secret` keys the nonces (random at start-up).
    pub fn new(users: Users, secret: [u8; 32], now: Instant) -> Access {
        Access {
            users,
            nonces: Nonces::new(secret),
            epoch: now,
            failures: HashMap::new(),
            nonce_lifetime: NONCE_LIFETIME,
        }
    }

    /// Nonces stay good this long (at least a second) instead of [`NONCE_LIFETIME`].
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> Access {
        self.nonce_lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    fn seconds(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    /// The challenges of a 401: SHA-256 first, then MD5 (clients take the first they know),
    /// Basic only over TLS.
    fn challenges(&self, now: Instant, stale: bool, tls: bool) -> Vec<String> {
        let nonce = self.nonces.issue(self.seconds(now), &self.users.realm);
        let mut out: Vec<String> = [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .map(|algorithm| {
                Challenge::Digest(DigestChallenge {
                    realm: self.users.realm.clone(),
                    nonce: nonce.clone(),
                    opaque: None,
                    algorithm: Some(algorithm),
                    qop_auth: true,
                    stale,
                })
                .to_string()
            })
            .collect();
        if tls {
            out.push(
                Challenge::Basic {
                    realm: self.users.realm.clone(),
                }
                .to_string(),
            );
        }
        out
    }

    /// Decides about one request at `now`.
    pub fn check(&mut self, attempt: &Attempt<'_>, now: Instant) -> Verdict {
        if self.refused(attempt.peer, now) {
            return Verdict::Refused;
        }
        let Some(header) = attempt.authorization else {
            if self
                .users
                .anyone()
                .is_some_and(|u| u.may(attempt.right, attempt.path))
            {
                return Verdict::Allowed(None);
            }
            return Verdict::Challenge(self.challenges(now, false, attempt.tls));
        };
        match self.verify(attempt, header, now) {
            Ok(user) => {
                if user.may(attempt.right, attempt.path) {
                    Verdict::Allowed(Some(user.name.clone()))
                } else {
                    tracing::info!(peer = %attempt.peer, user = %user.name, path = attempt.path, "not allowed");
                    Verdict::Forbidden(user.name.clone())
                }
            }
            Err(Failure::Stale) => Verdict::Challenge(self.challenges(now, true, attempt.tls)),
            Err(Failure::Wrong(why)) => {
                tracing::info!(peer = %attempt.peer, why, "authentication failed");
                self.fail(attempt.peer, now);
                Verdict::Challenge(self.challenges(now, false, attempt.tls))
            }
        }
    }

    /// The user `header` proves, or why not.
    fn verify(&self, attempt: &Attempt<'_>, header: &str, now: Instant) -> Result<&User, Failure> {
        let credentials =
            Credentials::parse(header).map_err(|_| Failure::Wrong("malformed Authorization"))?;
        let user = self
            .users
            .user(credentials.username())
            .ok_or(Failure::Wrong("unknown user"))?;
        let d = match credentials {
            Credentials::Basic { password, .. } => {
                if !attempt.tls {
                    return Err(Failure::Wrong("Basic without TLS"));
                }
                let ha1 = auth::ha1(Algorithm::Sha256, &user.name, &self.users.realm, &password);
                let good = user
                    .ha1(Algorithm::Sha256)
                    .is_some_and(|h| auth::same_digest(h, &ha1))
                    || user.ha1(Algorithm::Md5).is_some_and(|h| {
                        auth::same_digest(
                            h,
                            &auth::ha1(Algorithm::Md5, &user.name, &self.users.realm, &password),
                        )
                    });
                return if good {
                    Ok(user)
                } else {
                    Err(Failure::Wrong("wrong password"))
                };
            }
            Credentials::Digest(d) => d,
        };
        let algorithm = d.algorithm.ok_or(Failure::Wrong("unknown algorithm"))?;
        if d.realm != self.users.realm {
            return Err(Failure::Wrong("another realm"));
        }
        // The response covers the URI it names: it must be this request's (RFC 7616 §3.4.6).
        if !same_uri(&d.uri, attempt.uri) {
            return Err(Failure::Wrong("credentials for another URI"));
        }
        let ha1 = user
            .ha1(algorithm)
            .ok_or(Failure::Wrong("no HA1 for the algorithm"))?;
        let qop = d
            .qop
            .as_ref()
            .map(|(nc, cnonce)| (nc.as_str(), cnonce.as_str()));
        let expected = auth::response(algorithm, ha1, &d.nonce, qop, attempt.method, &d.uri);
        if !auth::same_digest(&expected, &d.response) {
            return Err(Failure::Wrong("wrong response"));
        }
        match self.nonces.check(
            &d.nonce,
            &self.users.realm,
            self.seconds(now),
            self.nonce_lifetime.as_secs(),
        ) {
            Freshness::Fresh => Ok(user),
            Freshness::Stale => Err(Failure::Stale),
            Freshness::Invalid => Err(Failure::Wrong("not our nonce")),
        }
    }

    fn fail(&mut self, peer: IpAddr, now: Instant) {
        if self.failures.len() >= MAX_TRACKED && !self.failures.contains_key(&peer) {
            let oldest = self
                .failures
                .iter()
                .min_by_key(|(_, f)| f.times.back().copied())
                .map(|(ip, _)| *ip);
            if let Some(ip) = oldest {
                self.failures.remove(&ip);
            }
        }
        self.failures.entry(peer).or_default().times.push_back(now);
    }

    /// Whether `peer` failed more than [`MAX_FAILURES`] times within the window before `now`.
    fn refused(&mut self, peer: IpAddr, now: Instant) -> bool {
        let Some(f) = self.failures.get_mut(&peer) else {
            return false;
        };
        while f
            .times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) > FAILURE_WINDOW)
        {
            f.times.pop_front();
        }
        if f.times.is_empty() {
            self.failures.remove(&peer);
            return false;
        }
        let refused = f.times.len() > MAX_FAILURES;
        if refused && !f.logged {
            tracing::warn!(%peer, failures = f.times.len(), "too many failed logins: refusing this address for a while");
            f.logged = true;
        }
        if !refused {
            f.logged = false;
        }
        refused
    }
}

/// Why credentials did not do.
enum Failure {
    /// Right, but the nonce is old.
    Stale,
    /// Wrong, for this reason (logged; never the credentials themselves).
    Wrong(&'static str),
}

/// Whether the URI in credentials names what the request does: equal, or the same path (a
/// client may give the absolute URL in one and the path in the other).
fn same_uri(credentials: &str, request: &str) -> bool {
    let path = |u: &str| -> String {
        let rest = u
            .split_once("://")
            .map_or(u, |(_, r)| r.find('/').map_or("", |i| &r[i..]));
        rest.trim_end_matches('/').to_owned()
    };
    credentials == request || path(credentials) == path(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn users() -> Users {
        Users {
            realm: "hdstream".into(),
            users: vec![],
        }
        .with_user("alice", "secret", vec!["*".into()], vec![])
        .with_user("bob", "hunter2", vec!["public/*".into()], vec![])
    }

    const URI: &str = "rtsp://127.0.0.1:8554/clip.mjpeg";

    fn attempt<'a>(authorization: Option<&'a str>, method: &'a str, uri: &'a str) -> Attempt<'a> {
        Attempt {
            peer: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            method,
            uri,
            path: "clip.mjpeg",
            right: Right::Read,
            authorization,
            tls: false,
        }
    }

    /// Answers a challenge the way a client does.
    fn answer(challenge: &str, user: &str, password: &str, method: &str, uri: &str) -> String {
        let Ok(Challenge::Digest(c)) = Challenge::parse(challenge) else {
            panic!("a Digest challenge");
        };
        let algorithm = c.algorithm.unwrap();
        let ha1 = auth::ha1(algorithm, user, &c.realm, password);
        let response = auth::response(
            algorithm,
            &ha1,
            &c.nonce,
            Some(("00000001", "xyz")),
            method,
            uri,
        );
        Credentials::Digest(auth::DigestCredentials {
            username: user.into(),
            realm: c.realm,
            nonce: c.nonce,
            uri: uri.into(),
            response,
            algorithm: Some(algorithm),
            opaque: None,
            qop: Some(("00000001".into(), "xyz".into())),
        })
        .to_string()
    }

    #[test]
    fn digest_under_both_algorithms_lets_the_right_user_in() {
        let t0 = Instant::now();
        let mut access = Access::new(users(), [1; 32], t0);
        let Verdict::Challenge(challenges) = access.check(&attempt(None, "DESCRIBE", URI), t0)
        else {
            panic!("401 first");
        };
        assert_eq!(challenges.len(), 2, "SHA-256 and MD5, no Basic without TLS");
        assert!(challenges[0].contains("SHA-256") && challenges[1].contains("MD5"));
        for c in &challenges {
            let good = answer(c, "alice", "secret", "DESCRIBE", URI);
            assert_eq!(
                access.check(&attempt(Some(&good), "DESCRIBE", URI), t0),
                Verdict::Allowed(Some("alice".into()))
            );
            // Replayed for another method or URL: 401.
            assert!(matches!(
                access.check(&attempt(Some(&good), "PLAY", URI), t0),
                Verdict::Challenge(_)
            ));
            let other = "rtsp://127.0.0.1:8554/other.mjpeg";
            assert!(matches!(
                access.check(&attempt(Some(&good), "DESCRIBE", other), t0),
                Verdict::Challenge(_)
            ));
            let wrong = answer(c, "alice", "guess", "DESCRIBE", URI);
            assert!(matches!(
                access.check(&attempt(Some(&wrong), "DESCRIBE", URI), t0),
                Verdict::Challenge(_)
            ));
            // Bob is known but may not watch clip.mjpeg: 403.
            let bob = answer(c, "bob", "hunter2", "DESCRIBE", URI);
            assert_eq!(
                access.check(&attempt(Some(&bob), "DESCRIBE", URI), t0),
                Verdict::Forbidden("bob".into())
            );
            // Right, but later than the nonce's lifetime: stale=true.
            let later = t0 + NONCE_LIFETIME + Duration::from_secs(2);
            let Verdict::Challenge(stale) =
                access.check(&attempt(Some(&good), "DESCRIBE", URI), later)
            else {
                panic!("401 stale");
            };
            assert!(stale.iter().all(|c| c.contains("stale=true")));
        }
    }

    #[test]
    fn anyone_and_basic_over_tls() {
        let t0 = Instant::now();
        let mut u = users();
        u.users.push(User {
            name: "*".into(),
            md5: None,
            sha256: None,
            read: vec!["clip.mjpeg".into()],
            publish: vec![],
            admin: false,
        });
        let mut access = Access::new(u, [2; 32], t0);
        assert_eq!(
            access.check(&attempt(None, "DESCRIBE", URI), t0),
            Verdict::Allowed(None)
        );
        let basic = Credentials::Basic {
            username: "alice".into(),
            password: "secret".into(),
        }
        .to_string();
        let mut a = attempt(Some(&basic), "DESCRIBE", URI);
        a.path = "other.mjpeg";
        assert!(
            matches!(access.check(&a, t0), Verdict::Challenge(_)),
            "no Basic in the clear"
        );
        a.tls = true;
        assert_eq!(access.check(&a, t0), Verdict::Allowed(Some("alice".into())));
    }

    #[test]
    fn an_address_that_keeps_failing_is_refused_and_no_other() {
        let t0 = Instant::now();
        let mut access = Access::new(users(), [3; 32], t0);
        let Verdict::Challenge(c) = access.check(&attempt(None, "DESCRIBE", URI), t0) else {
            panic!();
        };
        let wrong = answer(&c[1], "alice", "guess", "DESCRIBE", URI);
        for i in 0..50 {
            let at = t0 + Duration::from_millis(100 * i);
            let verdict = access.check(&attempt(Some(&wrong), "DESCRIBE", URI), at);
            assert_eq!(
                verdict == Verdict::Refused,
                i as usize > MAX_FAILURES,
                "attempt {i}"
            );
        }
        let good = answer(&c[1], "alice", "secret", "DESCRIBE", URI);
        let mut other = attempt(Some(&good), "DESCRIBE", URI);
        other.peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            access.check(&other, t0 + Duration::from_secs(5)),
            Verdict::Allowed(Some("alice".into()))
        );
        // Quiet for the window: let in again.
        let later = t0 + Duration::from_secs(5) + FAILURE_WINDOW + Duration::from_secs(1);
        let fresh = answer(&c[1], "alice", "secret", "DESCRIBE", URI);
        assert!(matches!(
            access.check(&attempt(Some(&fresh), "DESCRIBE", URI), later),
            Verdict::Allowed(_)
        ));
    }

    #[test]
    fn users_files_round_trip_and_bad_ones_say_why() {
        let u = users();
        assert_eq!(Users::parse(&u.to_toml()), Ok(u.clone()));
        // The admin right survives the round trip, and only the named user has it.
        let u = u.with_admin("bob", true);
        assert!(u.to_toml().contains("admin = true"));
        let back = Users::parse(&u.to_toml()).unwrap();
        assert_eq!(back, u);
        let may = |name: &str| {
            back.users
                .iter()
                .find(|x| x.name == name)
                .unwrap()
                .may(Right::Admin, "/metrics")
        };
        assert!(may("bob") && !may("alice"));
        assert!(
            Users::parse("[[user]]\nname = \"*\"\nadmin = \"yes\"\n")
                .unwrap_err()
                .contains("admin must be true or false")
        );
        assert!(Users::parse("realm = 3").unwrap_err().contains("realm"));
        assert!(
            Users::parse("[[user]]\nname = \"x\"\n")
                .unwrap_err()
                .contains("no way to log in")
        );
        assert!(
            Users::parse("[[user]]\nname = \"x\"\nmd5 = \"zz\"\n")
                .unwrap_err()
                .contains("hex")
        );
        assert!(Users::parse("[[user]\n").is_err());
        assert!(
            matches("*", "a/b.mjpeg") && matches("a/*", "a/b.mjpeg") && !matches("a/*", "ab.mjpeg")
        );
        assert!(matches("clip.mjpeg", "/clip.mjpeg") && !matches("clip.mjpeg", "clip.mjpeg2"));
    }
}
