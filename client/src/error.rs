//! Why a playback ended in failure.

use std::io;

/// What went wrong with a playback. Each message says what the user can act on: the request
/// and the server's answer, or the socket and the address.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered a request with an error status (RFC 2326 §7.1.1).
    #[error("{method}: {status} {reason}")]
    Status {
        /// The request's method.
        method: String,
        /// The status code.
        status: u16,
        /// The reason phrase (the canonical one if the server sent none).
        reason: String,
    },
    /// 401: the server wants credentials, and none were given or they were refused.
    #[error("{method}: 401 Unauthorized: {}", if *tried { "the server refused the user name and password" } else { "the server wants a user name and password (rtsp://user:password@host/…, or --user and --password)" })]
    Unauthorized {
        /// The request's method.
        method: String,
        /// Whether credentials were sent.
        tried: bool,
    },
    /// 403: the user may not do this.
    #[error("{method}: 403 Forbidden: this user may not watch (or publish) this path")]
    Forbidden {
        /// The request's method.
        method: String,
    },
    /// TLS (`rtsps://`) could not be set up: a certificate not trusted, a failed handshake.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server closed the RTSP connection while the session still needed it.
    #[error("server closed the connection during {during}")]
    Closed {
        /// What the session was doing: the method awaiting its reply, or `PLAY` while playing.
        during: String,
    },
    /// No reply to a request within the request timeout.
    #[error("{method}: no reply from the server within {seconds} s{hint}")]
    Timeout {
        /// The request's method.
        method: String,
        /// The timeout.
        seconds: u64,
        /// What may be wrong (empty, or starting with a separator).
        hint: &'static str,
    },
    /// PLAY was answered but no media came.
    #[error("no RTP packet arrived within {seconds} s of PLAY: {hint}")]
    NoMedia {
        /// How long the client waited.
        seconds: u64,
        /// What may be wrong.
        hint: &'static str,
    },
    /// The server sent bytes that are not RTSP (RFC 2326 §4).
    #[error("server sent an invalid RTSP message: {0}")]
    Protocol(String),
    /// The session description does not offer a stream this player can play.
    #[error("DESCRIBE: {0}")]
    Description(String),
    /// The URL or command line cannot be used.
    #[error("{0}")]
    Usage(String),
    /// A socket could not be opened, bound or connected.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the address.
        what: String,
        /// The operating system's error.
        source: io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] describing `what` was attempted.
    pub fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_request_and_the_answer() {
        let e = Error::Status {
            method: "DESCRIBE".into(),
            status: 404,
            reason: "Not Found".into(),
        };
        assert_eq!(e.to_string(), "DESCRIBE: 404 Not Found");
        let e = Error::Closed {
            during: "PLAY".into(),
        };
        assert_eq!(e.to_string(), "server closed the connection during PLAY");
    }
}
