//! The requesting side of an RTSP connection, sans I/O: what the client's session and the
//! publisher's RECORD session share (RFC 2326 §6, §7, §12.17, §12.37; RFC 7616).
//!
//! A [`Requester`] numbers each request with the next `CSeq` (§12.17), gives it the
//! `Session` header once the server named one (§12.37), the `Authorization` the
//! [`Authenticator`] answers once challenged (§D.1, RFC 7616 §3.4) and a `User-Agent`
//! (§12.41), and keeps it as pending. A reply is matched to its request by `CSeq` (a reply
//! without a readable one is taken for the oldest request; one whose `CSeq` no request has is
//! ignored, logged). A `401` is answered once by sending the request again under a new `CSeq`
//! with the challenge's answer (RFC 7616 §3.3), and once more when the new challenge says
//! `stale=true` (the credentials were right, the nonce had expired); then the `401` goes to
//! the caller like any other reply. A request not answered within the timeout is handed back
//! as [`Error::TimedOut`].
//!
//! No socket, no clock: every entry point that needs the time takes `now`, and the caller
//! writes the requests it is given (CRLF, or the course dialect's LF).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use hdstream_common::rtsp::requester::{Reply, Requester};
//! use hdstream_common::rtsp::{Method, Request, Response, StatusCode};
//!
//! let now = Instant::now();
//! let mut requester = Requester::new(Duration::from_secs(5));
//! let wire = requester.send(Request::new(Method::Options, "rtsp://h/"), "options", now);
//! assert_eq!(wire.headers.get("CSeq"), Some("1"));
//! let reply = Response::reply_to(&wire, StatusCode::OK);
//! let Reply::Answered { tag, response, .. } = requester.reply(reply, now) else {
//!     panic!("the reply to OPTIONS");
//! };
//! assert_eq!((tag, response.status), ("options", StatusCode::OK));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::authenticator::Authenticator;
use super::header::{CSeq, Session};
use super::{Method, Request, Response, StatusCode};

/// Times one request is sent again after a `401`: once with credentials, once more when the
/// new challenge says the nonce was stale (RFC 7616 §3.3).
const MAX_AUTH_RETRIES: u8 = 2;

/// Why a request came to nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No reply within the reply timeout.
    #[error("{method}: no reply from the server within {} s", after.as_secs())]
    TimedOut {
        /// The request's method.
        method: Method,
        /// The request's URI.
        uri: String,
        /// How long the reply was waited for.
        after: Duration,
    },
    /// A reply with a status other than 2xx (RFC 2326 §7.1.1).
    #[error("{method} {uri}: {status} {reason}{}", if body.is_empty() { String::new() } else { format!(" {body}") })]
    Refused {
        /// The request's method.
        method: Method,
        /// The request's URI.
        uri: String,
        /// The status code.
        status: u16,
        /// The reason phrase (the canonical one when the server sent none).
        reason: String,
        /// The reply's body as text, trimmed (servers often say why there).
        body: String,
    },
}

impl Error {
    /// `response`, not a success, to `request`, as an error.
    pub fn refused(request: &Request, response: &Response) -> Error {
        Error::Refused {
            method: request.method.clone(),
            uri: request.uri.clone(),
            status: response.status.as_u16(),
            reason: reason(response),
            body: String::from_utf8_lossy(&response.body).trim().to_owned(),
        }
    }
}

/// The reason phrase of `response`, the canonical one when the server sent none.
pub fn reason(response: &Response) -> String {
    if response.reason.is_empty() {
        response.status.canonical_reason().to_owned()
    } else {
        response.reason.clone()
    }
}

/// A request awaiting its reply.
#[derive(Debug, Clone)]
pub struct Pending<T> {
    /// Its `CSeq`.
    pub cseq: CSeq,
    /// The request as the caller made it (without `CSeq`, `Session`, `Authorization` and
    /// `User-Agent`), to send again with credentials.
    pub request: Request,
    /// What the caller sent it for.
    pub tag: T,
    /// When it was sent.
    pub sent: Instant,
    /// Times it was sent again after a `401`.
    auth_retries: u8,
}

/// What became of a reply.
#[derive(Debug)]
pub enum Reply<T> {
    /// The reply to a request in flight, whatever its status (a `401` too, once it was not
    /// sent again): what the request was sent for, the request as the caller made it, and
    /// the reply.
    Answered {
        /// What the request was sent for.
        tag: T,
        /// The request as the caller made it.
        request: Request,
        /// The reply.
        response: Response,
    },
    /// A `401` answered: the request again under a new `CSeq`, with credentials; write it.
    Resent(Request),
    /// A reply to no request in flight: ignored.
    Ignored,
}

/// The requests of one RTSP connection, from the side that asks.
#[derive(Debug)]
pub struct Requester<T> {
    next: CSeq,
    pending: VecDeque<Pending<T>>,
    /// The session the server named (§12.37), sent with every request after.
    session: Option<String>,
    authenticator: Option<Authenticator>,
    user_agent: Option<String>,
    timeout: Duration,
    last_sent: Option<Instant>,
}

impl<T> Requester<T> {
    /// A requester whose requests time out after `timeout`, numbered from 1, with no
    /// credentials and no `User-Agent`.
    pub fn new(timeout: Duration) -> Requester<T> {
        Requester {
            next: CSeq(1),
            pending: VecDeque::new(),
            session: None,
            authenticator: None,
            user_agent: None,
            timeout,
            last_sent: None,
        }
    }

    /// Every request after carries `User-Agent: user_agent` (RFC 2326 §12.41).
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Requester<T> {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Credentials to answer a `401`'s challenge with (RFC 7616, RFC 7617), or none.
    pub fn set_authenticator(&mut self, authenticator: Option<Authenticator>) {
        self.authenticator = authenticator;
    }

    /// Whether there are credentials to answer a challenge with.
    pub fn has_credentials(&self) -> bool {
        self.authenticator.is_some()
    }

    /// The session id sent with every request (RFC 2326 §12.37).
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Sets (or, `None`, forgets) the session id sent with every request.
    pub fn set_session(&mut self, id: Option<String>) {
        self.session = id;
    }

    /// The requests awaiting their replies, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Pending<T>> {
        self.pending.iter()
    }

    /// Forgets every request in flight: their replies will be ignored.
    pub fn forget(&mut self) {
        self.pending.clear();
    }

    /// When the last request was sent.
    pub fn last_sent(&self) -> Option<Instant> {
        self.last_sent
    }

    /// Sends `request` for `tag`: answers it as it goes on the wire, numbered, with the
    /// session, credentials and `User-Agent`; it awaits its reply from `now`.
    pub fn send(&mut self, request: Request, tag: T, now: Instant) -> Request {
        self.send_again(request, tag, 0, now)
    }

    fn send_again(&mut self, request: Request, tag: T, auth_retries: u8, now: Instant) -> Request {
        let cseq = self.next;
        self.next = CSeq(cseq.0.wrapping_add(1));
        let mut wire = Request::new(request.method.clone(), request.uri.clone());
        // CSeq first, then Session: the course server reads headers by position.
        wire.headers.set_typed(&cseq);
        if let Some(id) = &self.session {
            wire.headers.set_typed(&Session::new(id.clone()));
        }
        for (name, value) in &request.headers {
            wire.headers.append(name, value);
        }
        if let Some(value) = self
            .authenticator
            .as_mut()
            .and_then(|a| a.authorization(request.method.as_str(), &request.uri))
        {
            wire.headers.set("Authorization", value);
        }
        if let Some(user_agent) = &self.user_agent {
            wire.headers.set("User-Agent", user_agent.clone());
        }
        wire.body.clone_from(&request.body);
        self.pending.push_back(Pending {
            cseq,
            request,
            tag,
            sent: now,
            auth_retries,
        });
        self.last_sent = Some(now);
        wire
    }

    /// Takes a reply from the server: the request it answers, matched by `CSeq` (§12.17).
    pub fn reply(&mut self, response: Response, now: Instant) -> Reply<T> {
        let index = match response.cseq() {
            Some(Ok(cseq)) => self.pending.iter().position(|p| p.cseq == cseq),
            // §12.17 wants one in every reply; a server that leaves it out answers in order.
            _ => (!self.pending.is_empty()).then_some(0),
        };
        let Some(pending) = index.and_then(|i| self.pending.remove(i)) else {
            tracing::debug!(
                status = response.status.as_u16(),
                cseq = response.headers.get("CSeq").unwrap_or(""),
                "a reply to no request in flight: ignored"
            );
            return Reply::Ignored;
        };
        if response.status == StatusCode::UNAUTHORIZED && self.challenged(&pending, &response) {
            let Pending {
                request,
                tag,
                auth_retries,
                ..
            } = pending;
            return Reply::Resent(self.send_again(request, tag, auth_retries + 1, now));
        }
        Reply::Answered {
            tag: pending.tag,
            request: pending.request,
            response,
        }
    }

    /// Whether the `401` to `pending` is to be answered by sending it again: there are
    /// credentials, a challenge they answer, and it is the first time (or the nonce was stale).
    fn challenged(&mut self, pending: &Pending<T>, response: &Response) -> bool {
        let Some(authenticator) = self.authenticator.as_mut() else {
            return false;
        };
        pending.auth_retries < MAX_AUTH_RETRIES
            && authenticator.challenged(response.headers.get_all("WWW-Authenticate"))
            && (pending.auth_retries == 0 || authenticator.stale())
    }

    /// When the oldest request's reply is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.front().map(|p| p.sent + self.timeout)
    }

    /// The oldest request, when its reply is overdue at `now`: no longer awaited, handed back
    /// with what it was sent for.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<(T, Error)> {
        if self.poll_timeout().is_none_or(|due| now < due) {
            return None;
        }
        let pending = self.pending.pop_front()?;
        let error = Error::TimedOut {
            method: pending.request.method,
            uri: pending.request.uri,
            after: self.timeout,
        };
        Some((pending.tag, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::{Message, Parsed, parse};
    use proptest::prelude::*;

    const TIMEOUT: Duration = Duration::from_secs(5);
    const CHALLENGE: &str = r#"Digest realm="r", nonce="n1", algorithm=MD5, qop="auth""#;
    const STALE: &str = r#"Digest realm="r", nonce="n2", algorithm=MD5, qop="auth", stale=true"#;

    fn with_credentials() -> Requester<&'static str> {
        let mut r = Requester::new(TIMEOUT).with_user_agent("test/1");
        r.set_authenticator(Some(Authenticator::new("u".into(), "p".into())));
        r
    }

    fn reply(cseq: &str, status: StatusCode) -> Response {
        let mut response = Response::new(status);
        response.headers.set("CSeq", cseq);
        response
    }

    fn unauthorized(to: &Request, challenge: &str) -> Response {
        let mut response = Response::reply_to(to, StatusCode::UNAUTHORIZED);
        response.headers.set("WWW-Authenticate", challenge);
        response
    }

    #[test]
    fn requests_are_numbered_and_replies_matched_by_cseq_in_any_order() {
        let t0 = Instant::now();
        let mut r = Requester::new(TIMEOUT).with_user_agent("test/1");
        let a = r.send(Request::new(Method::Options, "rtsp://h/"), "a", t0);
        r.set_session(Some("s1".into()));
        let mut setup = Request::new(Method::Setup, "rtsp://h/t");
        setup
            .headers
            .set("Transport", "RTP/AVP;unicast;client_port=5000-5001");
        let b = r.send(setup, "b", t0);
        assert_eq!(a.headers.get("CSeq"), Some("1"));
        assert_eq!(a.headers.get("Session"), None);
        assert_eq!(a.headers.get("User-Agent"), Some("test/1"));
        let names: Vec<&str> = b.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["CSeq", "Session", "Transport", "User-Agent"]);
        assert_eq!(b.headers.get("Session"), Some("s1"));
        // The second answered first (§12.17: CSeq, not order, pairs them).
        let Reply::Answered { tag, request, .. } = r.reply(reply("2", StatusCode::OK), t0) else {
            panic!("the reply to CSeq 2");
        };
        assert_eq!((tag, request.method), ("b", Method::Setup));
        assert_eq!(
            request.headers.get("CSeq"),
            None,
            "the caller's request back"
        );
        let Reply::Answered { tag, .. } = r.reply(reply(" 1", StatusCode::OK), t0) else {
            panic!("the reply to CSeq 1");
        };
        assert_eq!(tag, "a");
        assert_eq!(r.pending().count(), 0);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_reply_without_cseq_answers_the_oldest_request() {
        let t0 = Instant::now();
        let mut r = Requester::new(TIMEOUT);
        r.send(Request::new(Method::Options, "*"), 1, t0);
        r.send(Request::new(Method::Describe, "rtsp://h/"), 2, t0);
        let Reply::Answered { tag, .. } = r.reply(Response::new(StatusCode::OK), t0) else {
            panic!("answered");
        };
        assert_eq!(tag, 1);
    }

    #[test]
    fn a_reply_to_an_unknown_cseq_is_ignored_and_the_request_still_awaits_its_own() {
        let t0 = Instant::now();
        let mut r = Requester::new(TIMEOUT);
        r.send(Request::new(Method::Options, "*"), (), t0);
        assert!(matches!(
            r.reply(reply("7", StatusCode::OK), t0),
            Reply::Ignored
        ));
        assert_eq!(r.pending().map(|p| p.cseq).collect::<Vec<_>>(), [CSeq(1)]);
        assert!(matches!(
            r.reply(reply("1", StatusCode::OK), t0),
            Reply::Answered { .. }
        ));
        // Nothing in flight: even a reply without CSeq is no one's.
        assert!(matches!(
            r.reply(Response::new(StatusCode::OK), t0),
            Reply::Ignored
        ));
    }

    #[test]
    fn a_401_is_answered_once_with_credentials_then_handed_back() {
        let t0 = Instant::now();
        let mut r = with_credentials();
        let mut announce = Request::new(Method::Announce, "rtsp://h/live/cam");
        announce.headers.set("Content-Type", "application/sdp");
        announce.body = b"v=0\r\n".to_vec();
        let first = r.send(announce, "announce", t0);
        assert_eq!(first.headers.get("Authorization"), None);
        let t1 = t0 + Duration::from_secs(1);
        let Reply::Resent(again) = r.reply(unauthorized(&first, CHALLENGE), t1) else {
            panic!("sent again");
        };
        assert_eq!(again.headers.get("CSeq"), Some("2"));
        assert_eq!(again.headers.get("Content-Type"), Some("application/sdp"));
        assert_eq!(again.body, b"v=0\r\n");
        let authorization = again.headers.get("Authorization").unwrap();
        assert!(authorization.starts_with("Digest "), "{authorization}");
        assert!(authorization.contains(r#"uri="rtsp://h/live/cam""#));
        assert_eq!(
            r.poll_timeout(),
            Some(t1 + TIMEOUT),
            "awaited from the resend"
        );
        // Refused again with a fresh (not stale) nonce: the credentials are wrong.
        let Reply::Answered { tag, response, .. } = r.reply(unauthorized(&again, CHALLENGE), t1)
        else {
            panic!("the 401 handed back");
        };
        assert_eq!(
            (tag, response.status),
            ("announce", StatusCode::UNAUTHORIZED)
        );
        assert_eq!(r.pending().count(), 0);
        // Every request after carries the answer.
        let next = r.send(
            Request::new(Method::Record, "rtsp://h/live/cam"),
            "record",
            t1,
        );
        assert!(next.headers.get("Authorization").is_some());
    }

    #[test]
    fn a_stale_nonce_is_answered_once_more() {
        let t0 = Instant::now();
        let mut r = with_credentials();
        let first = r.send(Request::new(Method::Describe, "rtsp://h/c"), "describe", t0);
        let Reply::Resent(again) = r.reply(unauthorized(&first, CHALLENGE), t0) else {
            panic!("sent again");
        };
        let Reply::Resent(third) = r.reply(unauthorized(&again, STALE), t0) else {
            panic!("sent again under the new nonce");
        };
        assert!(third.headers.get("Authorization").unwrap().contains("n2"));
        assert!(matches!(
            r.reply(unauthorized(&third, STALE), t0),
            Reply::Answered { .. }
        ));
    }

    #[test]
    fn a_401_without_credentials_or_a_challenge_they_answer_is_handed_back() {
        let t0 = Instant::now();
        let mut r: Requester<()> = Requester::new(TIMEOUT);
        let q = r.send(Request::new(Method::Describe, "rtsp://h/c"), (), t0);
        assert!(matches!(
            r.reply(unauthorized(&q, CHALLENGE), t0),
            Reply::Answered { .. }
        ));
        let mut r = with_credentials();
        let q = r.send(Request::new(Method::Describe, "rtsp://h/c"), "d", t0);
        let Reply::Answered {
            request, response, ..
        } = r.reply(unauthorized(&q, "Bearer realm=\"r\""), t0)
        else {
            panic!("no challenge to answer");
        };
        let error = Error::refused(&request, &response);
        assert_eq!(error.to_string(), "DESCRIBE rtsp://h/c: 401 Unauthorized");
    }

    #[test]
    fn a_missing_reply_times_out_oldest_first() {
        let t0 = Instant::now();
        let mut r = Requester::new(TIMEOUT);
        r.send(Request::new(Method::Options, "rtsp://h/"), "options", t0);
        let t1 = t0 + Duration::from_secs(2);
        r.send(Request::new(Method::Describe, "rtsp://h/"), "describe", t1);
        assert_eq!(r.poll_timeout(), Some(t0 + TIMEOUT));
        assert!(
            r.handle_timeout(t0 + TIMEOUT - Duration::from_millis(1))
                .is_none()
        );
        let (tag, error) = r.handle_timeout(t0 + TIMEOUT).unwrap();
        assert_eq!(tag, "options");
        assert_eq!(
            error.to_string(),
            "OPTIONS: no reply from the server within 5 s"
        );
        assert_eq!(r.poll_timeout(), Some(t1 + TIMEOUT));
        assert!(r.handle_timeout(t0 + TIMEOUT).is_none());
        // A late reply to the request given up is no one's.
        assert!(matches!(
            r.reply(reply("1", StatusCode::OK), t1),
            Reply::Ignored
        ));
        assert_eq!(r.last_sent(), Some(t1));
    }

    #[test]
    fn cseq_wraps_after_its_32_bits() {
        let t0 = Instant::now();
        let mut r: Requester<()> = Requester::new(TIMEOUT);
        r.next = CSeq(u32::MAX);
        let a = r.send(Request::new(Method::Options, "*"), (), t0);
        let b = r.send(Request::new(Method::Options, "*"), (), t0);
        assert_eq!(a.headers.get("CSeq"), Some("4294967295"));
        assert_eq!(b.headers.get("CSeq"), Some("0"));
    }

    fn status() -> impl Strategy<Value = StatusCode> {
        prop_oneof![
            Just(StatusCode::OK),
            Just(StatusCode::UNAUTHORIZED),
            (100u16..=999).prop_filter_map("a status code", StatusCode::new),
        ]
    }

    /// A reply of arbitrary parts: CSeq a small number, any text or none; challenges
    /// well-formed, stale, foreign or garbage.
    fn arbitrary_reply() -> impl Strategy<Value = Response> {
        let cseq = prop_oneof![
            (0u32..6).prop_map(|n| Some(n.to_string())),
            "[ -~]{0,12}".prop_map(Some),
            Just(None),
        ];
        let challenge = prop_oneof![
            Just(CHALLENGE.to_owned()),
            Just(STALE.to_owned()),
            Just("Basic realm=\"r\"".to_owned()),
            "[ -~]{0,40}",
        ];
        (status(), cseq, proptest::collection::vec(challenge, 0..3)).prop_map(
            |(status, cseq, challenges)| {
                let mut response = Response::new(status);
                if let Some(cseq) = cseq {
                    response.headers.set("CSeq", cseq);
                }
                for c in challenges {
                    response.headers.append("WWW-Authenticate", c);
                }
                response
            },
        )
    }

    proptest! {
        /// Whatever the server answers, in whatever order, nothing panics, no request is
        /// answered twice, and each reply settles or resends at most one request.
        #[test]
        fn arbitrary_replies_never_panic(
            sends in 0usize..4,
            replies in proptest::collection::vec(arbitrary_reply(), 0..12),
            credentials in any::<bool>(),
        ) {
            let t0 = Instant::now();
            let mut r = Requester::new(TIMEOUT);
            if credentials {
                r.set_authenticator(Some(Authenticator::new("u".into(), "p".into())));
            }
            for i in 0..sends {
                r.send(Request::new(Method::Options, "rtsp://h/"), i, t0);
            }
            let mut answered = Vec::new();
            for (k, response) in replies.into_iter().enumerate() {
                let before = r.pending().count();
                let now = t0 + Duration::from_millis(k as u64);
                match r.reply(response, now) {
                    Reply::Answered { tag, .. } => {
                        prop_assert!(!answered.contains(&tag));
                        answered.push(tag);
                        prop_assert_eq!(r.pending().count(), before - 1);
                    }
                    Reply::Resent(q) => {
                        prop_assert!(q.headers.get("Authorization").is_some());
                        prop_assert_eq!(r.pending().count(), before);
                    }
                    Reply::Ignored => prop_assert_eq!(r.pending().count(), before),
                }
                let _ = r.handle_timeout(now);
            }
            prop_assert_eq!(answered.len() + r.pending().count(), sends);
        }

        /// The same, the replies parsed from arbitrary bytes as they would come off the wire.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let t0 = Instant::now();
            let mut r = with_credentials();
            r.send(Request::new(Method::Setup, "rtsp://h/t"), "setup", t0);
            let mut input = b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n".to_vec();
            input.extend_from_slice(&bytes);
            while let Ok(Parsed::Complete { message, consumed }) = parse(&input) {
                if let Message::Response(response) = message {
                    let _ = r.reply(response, t0);
                }
                input.drain(..consumed.max(1));
            }
            let _ = r.handle_timeout(t0 + TIMEOUT);
        }
    }
}
