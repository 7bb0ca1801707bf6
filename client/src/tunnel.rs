//! `rtsph://` and `--tunnel http`: RTSP tunnelled in HTTP to the server's HTTP port (the
//! QuickTime tunnel, [`hdstream_common::http::tunnel`]), for networks that pass only HTTP.
//!
//! [`open`] makes the pair before the event loop starts, as the TCP connect before it is made:
//! the GET (whose answer head is read here; after it the GET's body is the server's RTSP side,
//! replies and interleaved media, read by the driver as any control connection) and the POST
//! (whose head is written here; after it the driver writes the client's RTSP output base64 up
//! it: [`Post`]). Media travels interleaved, as over RTSPS.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hdstream_common::http::tunnel::{self, Answer, Half};

use crate::driver;
use crate::error::Error;

/// How long the GET's answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The POST's side in the driver: RTSP bytes encoded and waiting to be written.
#[derive(Debug)]
pub struct Post {
    /// The POST's connection.
    pub stream: mio::net::TcpStream,
    /// Base64 not yet written; `encoded[sent..]` is pending.
    encoded: Vec<u8>,
    sent: usize,
}

impl Post {
    /// The POST `stream`, its head written.
    pub fn new(stream: mio::net::TcpStream) -> Post {
        Post {
            stream,
            encoded: Vec::new(),
            sent: 0,
        }
    }

    /// Takes `rtsp` (the client's control output) as one base64 encoding.
    pub fn push(&mut self, rtsp: &[u8]) {
        tunnel::encode(rtsp, &mut self.encoded);
    }

    /// Writes what is pending until the socket would block: `Ok(true)` when all went.
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.sent < self.encoded.len() {
            match self.stream.write(&self.encoded[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.encoded.clear();
        self.sent = 0;
        Ok(true)
    }
}

/// A cookie no other client of the server is likely to hold: 32 hex digits (as ffmpeg's).
fn cookie() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut digits = String::new();
    for i in 0..2u64 {
        // RandomState is seeded from the OS's randomness once per process, then per hasher.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        digits.push_str(&format!("{:016x}", h.finish()));
    }
    digits
}

/// The path of `url` (`scheme://authority/path`): `/` when it has none.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Opens the tunnel on `get` (connected to `host:port`) for `url`: the GET's head sent and
/// its `200` read, then the POST connected and its head sent. Answers the POST.
pub fn open(get: &mut TcpStream, host: &str, port: u16, url: &str) -> Result<TcpStream, Error> {
    let path = path_of(url);
    let authority = format!("{host}:{port}");
    let cookie = cookie();
    let what = format!("RTSP-over-HTTP tunnel to {authority}");
    get.write_all(tunnel::request_head(&Half::Get, path, &authority, &cookie).as_bytes())
        .map_err(|e| Error::io(what.clone(), e))?;
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match Answer::parse(&answer) {
            Answer::Incomplete => {}
            Answer::Open { consumed } if consumed == answer.len() => break,
            Answer::Open { .. } => {
                return Err(Error::Protocol(format!(
                    "{what}: the server sent RTSP before any request"
                )));
            }
            Answer::Refused(code) => {
                return Err(Error::Protocol(format!(
                    "{what}: the HTTP port answered {code} (is it the server's --http port?)"
                )));
            }
            Answer::Invalid => {
                return Err(Error::Protocol(format!(
                    "{what}: not an HTTP answer (is it the server's --http port?)"
                )));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Protocol(format!(
                "{what}: no answer in {ANSWER_TIMEOUT:?}"
            )));
        }
        get.set_read_timeout(Some(left))
            .map_err(|e| Error::io(what.clone(), e))?;
        // One byte at a time would be exact; the server sends nothing after the head until a
        // request comes, so a whole read takes the head alone.
        match get.read(&mut buf) {
            Ok(0) => {
                return Err(Error::Protocol(format!("{what}: closed before answering")));
            }
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(what.clone(), e)),
        }
    }
    let _ = get.set_read_timeout(None);
    let mut post = driver::connect(host, port)?;
    let _ = post.set_nodelay(true);
    post.write_all(tunnel::request_head(&Half::Post, path, &authority, &cookie).as_bytes())
        .map_err(|e| Error::io(what, e))?;
    tracing::info!(%authority, "RTSP tunnelled in HTTP: GET and POST open");
    Ok(post)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_cookie() {
        assert_eq!(path_of("rtsph://h:8080/a/clip.mjpeg"), "/a/clip.mjpeg");
        assert_eq!(path_of("rtsp://h:8080"), "/");
        let (a, b) = (cookie(), cookie());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(tunnel::check_cookie(&a).is_ok());
    }
}
