//! The HTTP port's half of RTSP tunnelled in HTTP ([`hdstream_common::http::tunnel`]): which
//! GET and which POST are joined by their `x-sessioncookie`, and what each half hands the
//! core. Sans-IO: requests and bytes in, [`Tunnelled`] out.
//!
//! - A GET with a cookie no one holds is answered `200 OK`, `Content-Type:
//!   application/x-rtsp-tunnelled`, and becomes an RTSP connection of the core under its own
//!   connection id ([`Tunnelled::Opened`]): replies and interleaved packets go down it. Its
//!   cookie waits for the POST; a tunnel with no whole request within the request timeout is
//!   closed by the core as any RTSP connection with a request not complete in time.
//! - A POST with the cookie of a waiting GET is not answered (the client's body never ends):
//!   its body is decoded ([`hdstream_common::http::tunnel::Base64`]) and handed to the core as
//!   that GET's input ([`Tunnelled::Input`]), so one RTSP conversation — sessions, Digest,
//!   limits — runs over the pair.
//! - Refused, each with 400 and the close of that connection only: a POST whose cookie no GET
//!   waits with (none, or already joined — a cookie is used once), a GET whose cookie is held,
//!   a missing, over-long or non-ASCII cookie. Bytes of a POST's body that are not base64 end
//!   that tunnel, both halves ([`Tunnelled::Broken`]). When the GET closes its POST closes too.

use std::collections::HashMap;
use std::net::SocketAddr;

use hdstream_common::http::tunnel::{Base64, CookieError, Half};
use hdstream_common::http::{Response, StatusCode, tunnel};

use crate::session::ConnId;

/// What a tunnel's half asks of the core after a request or bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Tunnelled {
    /// The connection is the GET of a new tunnel: from now on an RTSP connection of the
    /// core, its output starting with `head` (the HTTP answer).
    Opened {
        /// The client.
        peer: SocketAddr,
        /// The `200 OK` head.
        head: Vec<u8>,
    },
    /// RTSP bytes from the POST of the tunnel whose GET is `get`.
    Input {
        /// The GET's connection: the RTSP connection these bytes are input of.
        get: ConnId,
        /// Decoded bytes.
        bytes: Vec<u8>,
    },
    /// The POST of the tunnel whose GET is `get` sent what is not base64: the tunnel ends.
    Broken {
        /// The GET's connection, to close.
        get: ConnId,
    },
}

/// A POST joined to its GET: where its decoded body goes.
#[derive(Debug)]
pub struct Post {
    /// The GET's connection.
    pub get: ConnId,
    decoder: Base64,
}

impl Post {
    /// The POST's body bytes `data`: what the core is to do with them.
    pub fn receive(&mut self, data: &[u8]) -> Result<Tunnelled, tunnel::Base64Error> {
        let mut bytes = Vec::with_capacity(data.len() / 4 * 3 + 3);
        self.decoder.decode(data, &mut bytes)?;
        Ok(Tunnelled::Input {
            get: self.get,
            bytes,
        })
    }
}

/// A cookie's tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    /// A GET waits for its POST.
    Waiting(ConnId),
    /// The POST came: the cookie is used.
    Joined { get: ConnId, post: ConnId },
}

/// The cookies of the tunnels open, each until its GET closes.
#[derive(Debug, Default)]
pub struct Cookies {
    by_cookie: HashMap<String, Pair>,
    by_get: HashMap<ConnId, String>,
}

/// How a request that asks for a tunnel is answered.
#[derive(Debug)]
pub enum Verdict {
    /// A new tunnel's GET.
    Get(Tunnelled),
    /// A POST joined to its GET; its body is decoded from now on.
    Post(Post),
    /// Refused: the status and why, then the close.
    Refused(Response, String),
}

impl Cookies {
    /// A whole request head on `conn` that [`tunnel::classify`] took for a tunnel's half.
    pub fn request(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        half: Result<(Half, String), CookieError>,
    ) -> Verdict {
        let refuse = |why: String| Verdict::Refused(Response::new(StatusCode::BAD_REQUEST), why);
        let (half, cookie) = match half {
            Ok(h) => h,
            Err(e) => return refuse(format!("{e}\r\n")),
        };
        match (half, self.by_cookie.get(&cookie).copied()) {
            (Half::Get, None) => {
                self.by_cookie.insert(cookie.clone(), Pair::Waiting(conn));
                self.by_get.insert(conn, cookie);
                let mut head = Vec::new();
                Response::new(StatusCode::OK)
                    .with("Content-Type", tunnel::CONTENT_TYPE)
                    .with("Cache-Control", "no-cache, no-store")
                    .with("Pragma", "no-cache")
                    .with("Connection", "close")
                    .write_head(&mut head);
                Verdict::Get(Tunnelled::Opened { peer, head })
            }
            (Half::Get, Some(_)) => refuse("x-sessioncookie already in use\r\n".into()),
            (Half::Post, Some(Pair::Waiting(get))) => {
                self.by_cookie
                    .insert(cookie, Pair::Joined { get, post: conn });
                Verdict::Post(Post {
                    get,
                    decoder: Base64::new(),
                })
            }
            (Half::Post, Some(Pair::Joined { .. })) => {
                refuse("x-sessioncookie already used by a POST\r\n".into())
            }
            (Half::Post, None) => refuse("no tunnel GET with this x-sessioncookie\r\n".into()),
        }
    }

    /// The GET `get` closed: its cookie is free again; the answer is its POST, if one joined
    /// (to close too).
    pub fn get_closed(&mut self, get: ConnId) -> Option<ConnId> {
        let cookie = self.by_get.remove(&get)?;
        match self.by_cookie.remove(&cookie) {
            Some(Pair::Joined { post, .. }) => Some(post),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

    fn get(c: &str) -> Result<(Half, String), CookieError> {
        Ok((Half::Get, c.into()))
    }
    fn post(c: &str) -> Result<(Half, String), CookieError> {
        Ok((Half::Post, c.into()))
    }

    #[test]
    fn pairs_once_and_frees_on_close() {
        let mut cookies = Cookies::default();
        assert!(matches!(
            cookies.request(1, PEER, get("k")),
            Verdict::Get(_)
        ));
        assert!(matches!(
            cookies.request(2, PEER, get("k")),
            Verdict::Refused(..)
        ));
        let Verdict::Post(mut p) = cookies.request(3, PEER, post("k")) else {
            panic!("POST should join");
        };
        assert_eq!(p.get, 1);
        assert_eq!(
            p.receive(b"T1BUSU9OUw==").unwrap(),
            Tunnelled::Input {
                get: 1,
                bytes: b"OPTIONS".to_vec()
            }
        );
        assert!(p.receive(b"%").is_err());
        // The cookie is used: a second POST is refused.
        assert!(matches!(
            cookies.request(4, PEER, post("k")),
            Verdict::Refused(..)
        ));
        assert!(matches!(
            cookies.request(5, PEER, post("other")),
            Verdict::Refused(..)
        ));
        assert_eq!(cookies.get_closed(1), Some(3));
        assert!(matches!(
            cookies.request(6, PEER, get("k")),
            Verdict::Get(_)
        ));
        assert_eq!(cookies.get_closed(6), None);
        assert!(matches!(
            cookies.request(7, PEER, Err(CookieError::Missing)),
            Verdict::Refused(..)
        ));
    }
}
