//! The client's side of RTSP authentication (RFC 2326 §D.1; RFC 7616 Digest, RFC 7617 Basic):
//! answers the server's challenge with credentials from the URL or the options, on every
//! request after it.

use super::auth::{self, Algorithm, Challenge, Credentials, DigestCredentials};

/// A user and password, and the challenge they answer.
#[derive(Clone)]
pub struct Authenticator {
    username: String,
    password: String,
    /// The challenge taken up, once the server sent one.
    challenge: Option<Challenge>,
    /// Requests answered under the current nonce (`nc`, RFC 7616 §3.4).
    count: u32,
    /// Makes client nonces.
    salt: u64,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Authenticator {
    /// Credentials for `username`.
    pub fn new(username: String, password: String) -> Authenticator {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(username.as_bytes());
        Authenticator {
            username,
            password,
            challenge: None,
            count: 0,
            salt: h.finish(),
        }
    }

    /// Takes up the best of a 401's challenges: Digest SHA-256, then Digest MD5, then Basic.
    /// Answers whether there was one to take.
    pub fn challenged<'a>(&mut self, values: impl Iterator<Item = &'a str>) -> bool {
        let rank = |c: &Challenge| match c {
            Challenge::Digest(d) => match d.algorithm {
                Some(Algorithm::Sha256) => 3,
                Some(Algorithm::Md5) => 2,
                None => 0,
            },
            Challenge::Basic { .. } => 1,
        };
        let best = values
            .filter_map(|v| Challenge::parse(v).ok())
            .filter(|c| rank(c) > 0)
            .max_by_key(rank);
        match best {
            Some(c) => {
                self.challenge = Some(c);
                self.count = 0;
                true
            }
            None => false,
        }
    }

    /// Whether the challenge taken up says the nonce was stale (RFC 7616 §3.3: the
    /// credentials were right; ask again under the new nonce).
    pub fn stale(&self) -> bool {
        matches!(&self.challenge, Some(Challenge::Digest(d)) if d.stale)
    }

    /// The `Authorization` value for `method` on `uri`, once challenged.
    pub fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let credentials = match self.challenge.as_ref()? {
            Challenge::Basic { .. } => Credentials::Basic {
                username: self.username.clone(),
                password: self.password.clone(),
            },
            Challenge::Digest(c) => {
                let algorithm = c.algorithm?;
                self.count = self.count.wrapping_add(1);
                let ha1 = auth::ha1(algorithm, &self.username, &c.realm, &self.password);
                let nc = format!("{:08x}", self.count);
                let cnonce = format!("{:016x}", self.salt ^ u64::from(self.count).rotate_left(17));
                let qop = c.qop_auth.then_some((nc.as_str(), cnonce.as_str()));
                let response = auth::response(algorithm, &ha1, &c.nonce, qop, method, uri);
                Credentials::Digest(DigestCredentials {
                    username: self.username.clone(),
                    realm: c.realm.clone(),
                    nonce: c.nonce.clone(),
                    uri: uri.to_owned(),
                    response,
                    algorithm: Some(algorithm),
                    opaque: c.opaque.clone(),
                    qop: c.qop_auth.then(|| (nc.clone(), cnonce.clone())),
                })
            }
        };
        Some(credentials.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_challenge_is_answered_and_verifies() {
        let mut a = Authenticator::new("alice".into(), "secret".into());
        assert!(
            a.authorization("DESCRIBE", "rtsp://h/c").is_none(),
            "nothing before a 401"
        );
        let md5 = r#"Digest realm="hdstream", nonce="n", algorithm=MD5, qop="auth""#;
        let sha = r#"Digest realm="hdstream", nonce="n", algorithm=SHA-256, qop="auth""#;
        assert!(a.challenged([md5, sha, "Basic realm=\"x\""].into_iter()));
        let value = a.authorization("DESCRIBE", "rtsp://h/c").unwrap();
        let Ok(Credentials::Digest(d)) = Credentials::parse(&value) else {
            panic!("Digest");
        };
        assert_eq!(d.algorithm, Some(Algorithm::Sha256));
        let (nc, cnonce) = d.qop.clone().unwrap();
        assert_eq!(nc, "00000001");
        let ha1 = auth::ha1(Algorithm::Sha256, "alice", "hdstream", "secret");
        let expected = auth::response(
            Algorithm::Sha256,
            &ha1,
            "n",
            Some((&nc, &cnonce)),
            "DESCRIBE",
            "rtsp://h/c",
        );
        assert_eq!(d.response, expected);
        let next = a.authorization("PLAY", "rtsp://h/c").unwrap();
        assert!(next.contains("nc=00000002"));
        assert!(
            !a.challenged(["Bearer x=1", "Digest realm=r, nonce=n, algorithm=SHA-512"].into_iter())
        );
    }
}
